"""Scoring another implementation's relevance against a kit: :func:`check` and its :class:`Report`.

Results are a folder with one ``<case id>.npz`` per case holding ``relevance.{k}`` arrays, or
one ``.npz`` whose keys are ``<case id>/relevance.{k}``. ``relevance.0`` (the input relevance)
is required, the other levels are optional. Level ``k`` of a case passes when, for every
sample ``n``, ``max |candidate - expected| <= atol + rtol * max |expected|`` over the entries
of sample ``n`` at that level (tolerances from the manifest, or given to :func:`check`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .diagnose import diagnose as diagnose_case
from .kit import ConformanceError, case_arrays, check_tolerance, load_case, read_manifest, read_npz
from .labels import known_differences

__all__ = ["check", "Report", "CaseResult", "LevelScore"]

_LEVEL_KEY = re.compile(r"^relevance\.(\d+)$")


@dataclass
class LevelScore:
    """How one level ``R(Y^k)`` of a case compares: errors, the worst entry ``(sample, *index)`` and the verdict.

    ``ratio`` is the worst error over its allowance (``atol + rtol * max|expected|`` of the sample):
    the level passes when it is at most 1.
    """

    level: int
    max_abs_error: float
    max_rel_error: float
    ratio: float
    worst_index: tuple
    passed: bool


@dataclass
class CaseResult:
    """The verdict on one case: ``status`` is ``"pass"``, ``"fail"``, ``"missing"`` (no results) or ``"invalid"``
    (results that cannot be compared: a wrong shape, a non-numeric array, no ``relevance.0``)."""

    id: str
    status: str
    levels: list = field(default_factory=list)
    message: str = ""
    layers: tuple = ()  # the network's layer descriptions, to name where a case diverges
    diagnosis: object = None  # a conformance.diagnose.Diagnosis for a failing case

    @property
    def max_abs_error(self) -> float:
        return max((s.max_abs_error for s in self.levels), default=float("nan"))

    @property
    def max_rel_error(self) -> float:
        return max((s.max_rel_error for s in self.levels), default=float("nan"))

    @property
    def worst(self) -> LevelScore | None:
        """The level with the largest error relative to its tolerance."""
        return max(self.levels, key=lambda s: s.ratio, default=None)

    @property
    def diverges_at(self) -> int | None:
        """The highest failing level ``k``: relevance flows down, so layer ``k`` is where the disagreement starts
        (when level ``k + 1`` was given and passed; ``k = L`` means the top relevance differs)."""
        failing = [s.level for s in self.levels if not s.passed]
        return max(failing) if failing else None

    def _where(self, level: int) -> str:
        if level == len(self.layers):
            return f"level {level} (the network output)"
        return f"level {level} (input of layer {level}, {self.layers[level]})"

    def describe(self) -> str:
        """One sentence on what went wrong (empty for a pass)."""
        if self.status != "fail":
            return self.message
        worst = self.worst
        text = (f"max abs error {worst.max_abs_error:.3g}, rel {worst.max_rel_error:.3g} at {self._where(worst.level)}, "
                f"sample {worst.worst_index[0]}, index {worst.worst_index[1:]}")
        k = self.diverges_at
        given = {s.level: s for s in self.levels}
        if k == len(self.layers):
            text += "; the top relevance R(Y^L) itself differs"
        elif k + 1 in given:
            text += f"; layer {k} ({self.layers[k]}) is the first to disagree: R(Y^{k + 1}) matches, R(Y^{k}) does not"
        else:
            text += f"; the highest failing level given is {k} (give more levels to locate the layer)"
        text += f" [{self.message}]" if self.message else ""
        if self.diagnosis is not None:
            text += "\n" + "\n".join("    " + line for line in str(self.diagnosis).splitlines())
        return text


class Report:
    """The result of :func:`check`: one :class:`CaseResult` per case of the kit.

    ``passed``, ``failed``, ``missing`` and ``invalid`` list the case ids by verdict; ``ok`` is
    True when nothing failed or was invalid and nothing is missing (unless ``allow_missing``).
    """

    def __init__(self, cases: list, tolerance: str, allow_missing: bool = False):
        self.cases = cases
        self.tolerance = tolerance
        self.allow_missing = allow_missing

    def _ids(self, status):
        return [case.id for case in self.cases if case.status == status]

    passed = property(lambda self: self._ids("pass"))
    failed = property(lambda self: self._ids("fail"))
    missing = property(lambda self: self._ids("missing"))
    invalid = property(lambda self: self._ids("invalid"))

    @property
    def ok(self) -> bool:
        return not self.failed and not self.invalid and (self.allow_missing or not self.missing)

    def __getitem__(self, case_id) -> CaseResult:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(f"no case {case_id!r} in this report")

    def summary(self) -> str:
        return (f"{len(self.cases)} cases: {len(self.passed)} passed, {len(self.failed)} failed, "
                f"{len(self.missing)} missing, {len(self.invalid)} invalid — {'OK' if self.ok else 'NOT CONFORMANT'}")

    def __str__(self):
        width = max(len(case.id) for case in self.cases)
        lines = [f"lrpref conformance: {self.summary()}", f"tolerance: {self.tolerance}", ""]
        order = {"fail": 0, "invalid": 1, "missing": 2, "pass": 3}
        for case in sorted(self.cases, key=lambda c: order[c.status]):
            if case.status == "pass":
                detail = (f"max abs error {case.max_abs_error:.2g}, max rel error {case.max_rel_error:.2g} "
                          f"over {len(case.levels)} level(s)")
            else:
                detail = case.describe()
            lines.append(f"{case.status.upper():<8} {case.id:<{width}}  {detail}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<conformance Report: {self.summary()}>"


def _score_level(level, candidate, expected, rtol, atol) -> LevelScore:
    n = expected.shape[0]
    error = np.abs(candidate - expected).reshape(n, -1)
    scale = np.abs(expected).reshape(n, -1).max(axis=1)
    allowance = atol + rtol * scale
    error = np.where(np.isnan(error), np.inf, error)  # NaN never passes
    worst_per_sample = error.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(error == 0, 0.0, error / allowance[:, None])
        rel = np.where(worst_per_sample == 0, 0.0, worst_per_sample / scale)
    flat = int(np.argmax(ratios))
    sample, entry = divmod(flat, error.shape[1])
    index = (sample, *np.unravel_index(entry, expected.shape[1:]))
    ratio = float(ratios.reshape(-1)[flat])
    return LevelScore(level, float(worst_per_sample.max()), float(rel.max()), ratio, tuple(int(i) for i in index),
                      bool(ratio <= 1.0))


def _score_case(entry, expected, candidate, layers, rtol, atol) -> CaseResult:
    case_id = entry["id"]
    if candidate is None:
        return CaseResult(case_id, "missing", message="no results for this case", layers=layers)
    given = {}
    for key, array in candidate.items():
        match = _LEVEL_KEY.match(key)
        if not match or int(match.group(1)) not in expected:
            return CaseResult(case_id, "invalid", message=f"unexpected key {key!r}: this case has relevance.k for k in "
                                                          f"{sorted(expected)}", layers=layers)
        given[int(match.group(1))] = array
    if 0 not in given:
        return CaseResult(case_id, "invalid", message="relevance.0 (the input relevance) is required", layers=layers)
    scores = []
    for k in sorted(given):
        array, want = np.asarray(given[k]), expected[k]
        if array.dtype.kind not in "fiu":
            return CaseResult(case_id, "invalid", message=f"relevance.{k} has dtype {array.dtype}, not a real number type",
                              layers=layers)
        if array.shape != want.shape:
            return CaseResult(case_id, "invalid", message=f"relevance.{k} has shape {array.shape}, expected {want.shape} "
                                                          f"(batch first, NCHW, as the case's input)", layers=layers)
        scores.append(_score_level(k, array.astype(np.float64), want, rtol, atol))
    nonfinite = [f"relevance.{k}" for k in sorted(given) if not np.all(np.isfinite(np.asarray(given[k], dtype=np.float64)))]
    message = f"non-finite values (NaN/inf) in {', '.join(nonfinite)}" if nonfinite else ""
    status = "pass" if all(s.passed for s in scores) else "fail"
    return CaseResult(case_id, status, scores, message, layers)


def _split_key(key, path):
    case_id, slash, level = key.rpartition("/")
    if not slash or not case_id:
        raise ConformanceError(f"results {path}: key {key!r} is not '<case id>/relevance.<k>'")
    return case_id, level


def _read_results(results, known: set) -> dict:
    """``{case id: {"relevance.k": array}}`` from a folder of ``<id>.npz`` files or one ``.npz`` of ``<id>/relevance.k``."""
    path = Path(results)
    found = {}
    if path.is_dir():
        for file in sorted(path.glob("*.npz")):
            found[file.name[:-4]] = read_npz(file, "results")
    elif path.is_file():
        for key, array in read_npz(path, "results").items():
            case_id, level = _split_key(key, path)
            found.setdefault(case_id, {})[level] = array
    else:
        raise ConformanceError(f"results {path}: no such file or folder")
    unknown = sorted(set(found) - known)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ConformanceError(f"results {path}: {len(unknown)} case id(s) not in the kit ({shown}); "
                               f"results from another kit version?")
    return found


def check(directory, results, *, rtol: float | None = None, atol: float | None = None,
          allow_missing: bool = False, diagnose: bool = True) -> Report:
    """Score the relevance in ``results`` against the kit in ``directory`` (see the module docstring).

    ``rtol`` / ``atol`` replace every case's tolerance (e.g. ``rtol=1e-4`` for a float32
    implementation). ``allow_missing``: cases without results do not make the report fail.
    ``diagnose``: give every failing case a :class:`~lrpref.conformance.diagnose.Diagnosis` (the rule
    and formula where it starts, the known variant the results match). Raises :class:`ConformanceError`
    for a malformed kit or results file, or a tolerance that is negative, NaN or infinite.
    """
    check_tolerance({"rtol": 0.0 if rtol is None else rtol, "atol": 0.0 if atol is None else atol}, "check")
    directory = Path(directory)
    manifest = read_manifest(directory)
    found = _read_results(results, {entry["id"] for entry in manifest["cases"]})
    scored = []
    for entry in manifest["cases"]:
        arrays = case_arrays(directory, entry)
        expected = {k: arrays[f"relevance.{k}"] for k in entry["levels"]}
        tolerance = entry["tolerance"]
        case_rtol = tolerance["rtol"] if rtol is None else rtol
        case_atol = tolerance["atol"] if atol is None else atol
        layers = tuple(manifest["networks"][entry["network"]]["layers"])
        result = _score_case(entry, expected, found.get(entry["id"]), layers, case_rtol, case_atol)
        if diagnose and result.status == "fail":
            candidate = {int(key.split(".")[1]): value for key, value in found[entry["id"]].items()}
            case = load_case(directory, entry["id"], manifest)
            result.diagnosis = diagnose_case(case, candidate, max(case_rtol, 1e-9))
            result.diagnosis.known = known_differences(result.diagnosis, case)
        scored.append(result)
    default = manifest["tolerance"]
    if rtol is None and atol is None:
        tolerance = f"per case from the manifest (default rtol {default['rtol']:g}, atol {default['atol']:g}); {manifest['comparison']}"
    else:
        tolerance = f"rtol {rtol if rtol is not None else 'per case'}, atol {atol if atol is not None else 'per case'} (given)"
    return Report(scored, tolerance, allow_missing)
