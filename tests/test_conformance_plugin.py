"""The pytest plugin (``-p lrpref.conformance.pytest_plugin --lrpref-kit KIT``), run in pytest's own ``pytester``.

The implementation under test in these runs is lrpref itself with a convention changed on one case: zennit's
generalised γ on the top layer of ``lrp.gamma.cnn`` (what zennit does; its label says so), or a planted bug.
"""

import hashlib
import json
import shutil

import pytest
from optional import require

from lrpref import conformance as C

pytest_plugins = ["pytester"]

CASES = ["lrp.epsilon.mlp", "lrp.gamma.cnn", "lrp.gamma-plain-bias.mlp"]

MAINTAINER_TEST = '''
import lrpref as lr
from lrpref import conformance as C

def my_relevance(case):
    """The implementation under test: {behaviour}."""
    rules = case.rules
    {change}
    return C.levels(case.case.explain(rule=rules))

def test_my_lrp(lrpref_case):
    lrpref_case.check(my_relevance(lrpref_case))
'''


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A three-case kit with zennit's labels (lrp.gamma.cnn: zennit differs; lrp.gamma-plain-bias.mlp: not expressible)."""
    directory = tmp_path_factory.mktemp("plugin-kit")
    C.export(directory, cases=CASES, peers=_installed_peers())
    return directory


def _installed_peers():
    from importlib.util import find_spec

    return ("zennit",) if find_spec("zennit") and find_spec("torch") else ()


def _run(pytester, kit, behaviour, change, *options):
    pytester.makepyfile(test_maintainer=MAINTAINER_TEST.format(behaviour=behaviour, change=change))
    return pytester.runpytest("-p", "lrpref.conformance.pytest_plugin", "--lrpref-kit", str(kit), *options)


def test_every_case_runs_and_passes(pytester, kit):
    result = _run(pytester, kit, "lrpref itself", "pass")
    result.assert_outcomes(passed=len(CASES))


def test_a_planted_bug_fails_with_the_diagnosis(pytester, kit):
    result = _run(pytester, kit, "ε without the bias on layer 2", "if case.id == 'lrp.epsilon.mlp': rules[2] = lr.Epsilon(0.25, bias=False)")
    result.assert_outcomes(passed=len(CASES) - 1, failed=1)
    result.stdout.fnmatch_lines(["*ConformanceFailure: lrp.epsilon.mlp: FAIL*", "*first disagreement at layer 2 (Dense(5→4))*",
                                 "*rule: Epsilon(0.25)*", "*the candidate matches: the bias left out of z*bias-dropped, layer 2*"])


def test_a_peers_labelled_differences_are_expected_failures(pytester, kit):
    require("torch")  # the kit has zennit labels only with zennit and torch: skipped locally without, a failure in CI
    require("zennit")
    zennit = "if case.id == 'lrp.gamma.cnn': rules[7] = lr.Gamma(0.25, mode='generalised', check_inputs=False)"
    result = _run(pytester, kit, "zennit's generalised γ", zennit, "--lrpref-peer", "zennit")
    result.assert_outcomes(passed=len(CASES) - 1, xfailed=1)
    without = _run(pytester, kit, "zennit's generalised γ", zennit)
    without.assert_outcomes(passed=len(CASES) - 1, failed=1)
    # an implementation that does not differ where zennit does: the strict expected failure shows the stale label
    stale = _run(pytester, kit, "lrpref itself", "pass", "--lrpref-peer", "zennit")
    stale.assert_outcomes(passed=len(CASES) - 1, failed=1)
    stale.stdout.fnmatch_lines(["*XPASS(strict)*zennit differs here: zennit's Gamma is the generalised*"])


def test_pinned_expected_failures_follow_renames_and_refuse_unknown_ids(pytester, kit, tmp_path):
    bug = "if case.id == 'lrp.epsilon.mlp': rules[2] = lr.Epsilon(0.25, bias=False)"
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps({"lrp.epsilon.mlp": "our ε leaves the bias out on purpose"}))
    result = _run(pytester, kit, "ε without the bias on layer 2", bug, "--lrpref-expected", str(pins))
    result.assert_outcomes(passed=len(CASES) - 1, xfailed=1)
    renamed = tmp_path / "renamed"  # a later kit renames the case: the old pin still applies
    shutil.copytree(kit, renamed)
    document = json.loads((renamed / "manifest.json").read_text())
    document["changelog"].append({"revision": 3, "note": "a rename", "added": [], "removed": [], "changed": [],
                                  "renamed": {"lrp.epsilon-old.mlp": "lrp.epsilon.mlp"}})
    text = json.dumps(document)
    (renamed / "manifest.json").write_text(text)
    (renamed / "manifest.sha256").write_text(hashlib.sha256(text.encode()).hexdigest())
    pins.write_text(json.dumps({"lrp.epsilon-old.mlp": "pinned before the rename"}))
    _run(pytester, renamed, "ε without the bias on layer 2", bug, "--lrpref-expected", str(pins)).assert_outcomes(
        passed=len(CASES) - 1, xfailed=1)
    pins.write_text(json.dumps({"lrp.no-such.mlp": "gone"}))
    refused = _run(pytester, kit, "lrpref itself", "pass", "--lrpref-expected", str(pins))
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*no case 'lrp.no-such.mlp' in the kit*"])


def test_the_kit_can_come_from_the_ini_file(pytester, kit):
    pytester.makeini(f"[pytest]\nlrpref_kit = {kit}\n")
    pytester.makepyfile(test_maintainer=MAINTAINER_TEST.format(behaviour="lrpref itself", change="pass"))
    pytester.runpytest("-p", "lrpref.conformance.pytest_plugin").assert_outcomes(passed=len(CASES))


def test_without_a_kit_the_tests_are_skipped(pytester):
    pytester.makepyfile(test_maintainer="def test_my_lrp(lrpref_case):\n    raise AssertionError('never runs')\n")
    result = pytester.runpytest("-p", "lrpref.conformance.pytest_plugin")
    result.assert_outcomes(skipped=1)
