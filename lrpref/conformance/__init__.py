"""The conformance kit: reference cases for other LRP implementations, and a scorer (``docs/conformance.md``).

* :func:`export` writes the kit: small float64 networks (the :mod:`lrpref.serialize` format),
  inputs, targets, the rule of every layer or the method, and the expected relevance at every
  layer, as ``.npz`` files and a JSON ``manifest.json`` (schema: :data:`MANIFEST_SCHEMA`,
  also written as ``manifest.schema.json``). It covers every rule of :mod:`lrpref.rules` with
  its conventions, every layer type, the presets, the edge cases (zero denominators, dead
  ReLUs, max-pool ties, signed inputs, an explicit top relevance) and every method with
  layer-wise relevance (all of ``lrpref.methods.METHODS`` but the CAMs).
* :func:`check` scores another implementation's results and returns a :class:`Report`
  (per case: pass/fail, max abs/rel error, the worst level and entry, the layer where the
  disagreement starts).
* :func:`load_case` reads a case back (network, arrays, lrpref rules, ``explain`` arguments);
  :func:`levels` gives an explanation's relevance at every level, as the results want it.

Command line: ``lrpref conformance export DIR`` and ``lrpref conformance check DIR --results RESULTS``.
"""

from .catalogue import CASES
from .describe import RULE_CLASSES, composite_to_json, method_to_json, rule_from_json, rule_to_json
from .kit import (DEFAULT_TOLERANCE, FORMAT, MANIFEST_SCHEMA, VERSION, Case, ConformanceError, export, levels, load_case,
                  read_manifest)
from .score import CaseResult, LevelScore, Report, check

CASE_IDS = tuple(spec.id for spec in CASES)

__all__ = ["export", "check", "load_case", "read_manifest", "levels", "Report", "CaseResult", "LevelScore", "Case",
           "ConformanceError", "rule_to_json", "rule_from_json", "composite_to_json", "method_to_json", "RULE_CLASSES",
           "FORMAT", "VERSION", "DEFAULT_TOLERANCE", "MANIFEST_SCHEMA", "CASE_IDS"]
