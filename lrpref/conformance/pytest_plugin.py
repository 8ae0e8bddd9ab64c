"""A pytest plugin that runs a maintainer's own test on every case of a conformance kit (``docs/conformance.md``).

Enable it with ``pytest -p lrpref.conformance.pytest_plugin --lrpref-kit KIT`` (or
``pytest_plugins = ["lrpref.conformance.pytest_plugin"]`` in the top ``conftest.py``). A test that
asks for the ``lrpref_case`` fixture runs once per case; it computes the relevance with the
implementation under test and calls ``lrpref_case.check({k: R(Y^k)})``, which fails with the
report and its diagnosis (the first disagreeing layer, its rule and formula, the known variant
the results match)::

    def test_my_lrp(lrpref_case):
        model = lrpref_case.torch_model()          # or build it from lrpref_case.entry / .network
        relevance = my_lrp(model, lrpref_case.input, lrpref_case.entry)
        lrpref_case.check({0: relevance})

Options:

* ``--lrpref-kit DIR`` (or the ini option ``lrpref_kit``): the kit; without it the tests are skipped.
* ``--lrpref-peer NAME``: the implementation follows peer ``NAME``'s conventions (``zennit``,
  ``captum``, ``innvestigate``, ``lrp_toolbox``): every case whose label says that peer differs is
  an expected failure (strict: an unexpected pass fails, so a stale label shows).
* ``--lrpref-expected FILE``: a JSON object ``{case id: reason}`` of pinned expected failures. Pins
  are keyed by case id and follow the kit's changelog when a case is renamed, so they survive a
  re-export; a pin naming no case of the kit is an error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

__all__ = ["KitCase", "ConformanceFailure"]


class ConformanceFailure(AssertionError):
    """A case the implementation under test does not pass; the message is the report with its diagnosis."""


def pytest_addoption(parser):
    group = parser.getgroup("lrpref", "lrpref conformance kit")
    group.addoption("--lrpref-kit", metavar="DIR", help="run tests using the lrpref_case fixture on every case of this kit")
    group.addoption("--lrpref-peer", metavar="NAME", help="expect the cases this peer's labels say differ to fail")
    group.addoption("--lrpref-expected", metavar="FILE", help="a JSON object {case id: reason} of pinned expected failures")
    parser.addini("lrpref_kit", "the conformance kit the lrpref_case fixture runs over", default="")


class KitCase:
    """One case for a maintainer's test: ``id``, ``entry`` (its manifest entry), ``input``, ``target``,
    ``arrays``, ``network`` (lrpref), ``rules``, ``expected``, ``peers`` (the labels); :meth:`torch_model`
    builds the network in PyTorch; :meth:`check` scores the implementation's levels."""

    def __init__(self, directory: Path, manifest: dict, case_id: str):
        from . import load_case

        self.directory, self.manifest = directory, manifest
        self.case = load_case(directory, case_id, manifest)
        self.id, self.entry = case_id, self.case.entry
        self.peers = self.entry.get("peers", {})

    input = property(lambda self: self.case.input)
    target = property(lambda self: self.case.target)
    arrays = property(lambda self: self.case.arrays)
    network = property(lambda self: self.case.network)
    rules = property(lambda self: self.case.rules)
    expected = property(lambda self: self.case.expected)

    def torch_model(self):
        """The case's network as a float64 ``torch.nn.Module`` (:func:`lrpref.conformance.graph.torch_module`)."""
        from .clients import network_parameters
        from .graph import torch_module

        network = self.manifest["networks"][self.entry["network"]]
        return torch_module(network["graph"], network_parameters(self.directory, self.manifest, self.entry["network"]))

    def check(self, levels: dict, rtol: float | None = None, atol: float | None = None):
        """Score ``{k: R(Y^k)}`` (level 0 required) against the case; raise :class:`ConformanceFailure` with the
        report and its diagnosis when it does not pass (or cannot be compared)."""
        from .diagnose import diagnose
        from .kit import check_tolerance
        from .score import _score_case

        tolerance = dict(self.entry["tolerance"])
        tolerance.update({key: value for key, value in (("rtol", rtol), ("atol", atol)) if value is not None})
        check_tolerance(tolerance, f"check of case {self.id!r}")
        found = {int(k): _numpy(value) for k, value in levels.items()}
        layers = tuple(layer.describe() for layer in self.network)
        result = _score_case(self.entry, self.expected, {f"relevance.{k}": value for k, value in found.items()}, layers,
                             tolerance["rtol"], tolerance["atol"])
        if result.status == "fail":
            result.diagnosis = diagnose(self.case, found, max(tolerance["rtol"], 1e-9))
        if result.status != "pass":
            raise ConformanceFailure(f"{self.id}: {result.status.upper()}: {result.describe()}")
        return result

    def __repr__(self):
        return f"<lrpref KitCase {self.id}>"


def _numpy(value):
    import numpy as np

    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _kit(config):
    directory = config.getoption("lrpref_kit") or config.getini("lrpref_kit")
    return Path(directory) if directory else None


def _renames(manifest) -> dict:
    renamed = {}
    for revision in manifest.get("changelog", []):
        renamed.update(revision.get("renamed", {}))
    return renamed


def _pins(config, manifest) -> dict:
    path = config.getoption("lrpref_expected")
    if not path:
        return {}
    try:
        pins = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise pytest.UsageError(f"--lrpref-expected {path}: not a readable JSON file ({error})") from None
    if not isinstance(pins, dict):
        raise pytest.UsageError(f"--lrpref-expected {path}: must be a JSON object {{case id: reason}}")
    renamed, known = _renames(manifest), {entry["id"] for entry in manifest["cases"]}
    resolved = {}
    for case_id, reason in pins.items():
        while case_id in renamed:
            case_id = renamed[case_id]
        if case_id not in known:
            raise pytest.UsageError(f"--lrpref-expected {path}: no case {case_id!r} in the kit (removed? see its changelog)")
        resolved[case_id] = str(reason)
    return resolved


def pytest_configure(config):
    """Read the kit and the pins once; a bad kit or pin file is a usage error."""
    directory = _kit(config)
    config._lrpref_manifest, config._lrpref_pins = None, {}
    if directory is None:
        return
    from . import ConformanceError, read_manifest

    try:
        config._lrpref_manifest = read_manifest(directory)
    except (ConformanceError, ValueError) as error:
        raise pytest.UsageError(f"--lrpref-kit {directory}: {error}") from None
    config._lrpref_pins = _pins(config, config._lrpref_manifest)


def pytest_generate_tests(metafunc):
    if "lrpref_case" not in metafunc.fixturenames:
        return
    manifest = metafunc.config._lrpref_manifest
    if manifest is None:
        metafunc.parametrize("lrpref_case", [pytest.param(None, marks=pytest.mark.skip(
            reason="no conformance kit: pass --lrpref-kit DIR (lrpref conformance export DIR writes one)"))],
            ids=["no-kit"], indirect=True)
        return
    peer = metafunc.config.getoption("lrpref_peer")
    pins = metafunc.config._lrpref_pins
    params = []
    for entry in manifest["cases"]:
        marks = []
        label = entry.get("peers", {}).get(peer) if peer else None
        if entry["id"] in pins:
            marks.append(pytest.mark.xfail(reason=f"pinned: {pins[entry['id']]}", raises=ConformanceFailure, strict=True))
        elif label is not None and label.get("matches") is False:
            marks.append(pytest.mark.xfail(reason=f"{peer} differs here: {label.get('why')}", raises=ConformanceFailure,
                                           strict=True))
        params.append(pytest.param(entry["id"], marks=marks, id=entry["id"]))
    metafunc.parametrize("lrpref_case", params, indirect=True)


@pytest.fixture
def lrpref_case(request):
    """The conformance case of this test run (a :class:`KitCase`)."""
    if request.param is None:
        pytest.skip("no conformance kit")
    return KitCase(_kit(request.config), request.config._lrpref_manifest, request.param)
