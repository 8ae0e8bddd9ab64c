"""The command line: ``lrpref demo`` (the README's main job), ``lrpref explain [--steps]``, ``verify``,
``conformance``: outputs compared with hand-checked texts, and a table of bad invocations."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import check_report_in_browser

from lrpref.cli import main


def test_demo_writes_a_report_that_a_browser_shows(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "report"), "--count", "12"]) == 0
    out = capsys.readouterr().out
    page = tmp_path / "report" / "index.html"
    assert f"report written to {page}" in out
    assert sorted(p.name for p in page.parent.glob("*.png")) == [
        "bow-face.png", "bow-texture.png", "digits.png", "ledger.png", "localisation.png", "perturbation.png",
        "textures.png"]
    html = page.read_text(encoding="utf-8")
    for method in ("LRP-ε (0.25)", "EpsilonGammaBox", "EpsilonPlus", "DeepLIFT", "LID-IG (n=10)", "SIG-LID-IG (n=10)",
                   "gradient × input", "sensitivity", "random", "AOPC (MoRF)", "relevance mass in the patch",
                   "rank accuracy in the patch", "95% interval", "significant at the 5% level"):
        assert method in html
    text = re.sub(r"<[^>]+>", "", re.sub(r'src="[^"]*"', "", html))
    assert "`" not in text  # no literal Markdown backticks
    check_report_in_browser(page, tmp_path, figures=7)


def test_demo_rejects_a_bad_count_before_any_work(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path / "report"), "--count", "0"]) == 2
    assert capsys.readouterr().err == ("lrpref demo: --count must be between 2 and 450 (a confidence interval needs two "
                                       "images; there are 450 test digits), got 0\n")
    assert not (tmp_path / "report").exists()


def test_explain_steps_prints_the_trace(capsys):
    assert main(["explain", "--model", "digits_mlp", "--digit", "3", "--rule", "epsilon:0.25", "--steps"]) == 0
    out = capsys.readouterr().out
    assert out.count("step 2  s = c·R / S") == 2 and "stabiliser S − D" in out and "input relevance R(x)" in out


def test_explain_a_saved_input_with_a_method(tmp_path, capsys):
    from lrpref.datasets import digits_split

    x = digits_split()[1][:2].reshape(2, 1, 8, 8)
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", "--model", "digits_cnn", "--input", str(tmp_path / "x.npy"), "--method", "deeplift",
                 "--save", str(tmp_path / "r.npy")]) == 0
    assert "remainder" in capsys.readouterr().out
    relevance = np.load(tmp_path / "r.npy", allow_pickle=False)
    assert relevance.shape == x.shape


def test_installed_console_script(tmp_path):
    """The console script of the installed package (run away from the checkout) finds its bundled data."""
    script = Path(sys.executable).with_name("lrpref")
    if not script.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no lrpref console script next to {sys.executable}: the package is not installed")
        pytest.skip("lrpref is not installed in this environment")
    result = subprocess.run([str(script), "demo", "--count", "8"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lrpref-demo" / "index.html").is_file()


# --------------------------------------------------------------------------- outputs against expected texts
#
# The expected texts in tests/cli_expected/ were checked by hand, number by number, not copied from the
# output. The network is one Dense layer, W = [[1, 2], [3, -1]], b = [1, 0], and x = [1, 1]:
#   z = W x + b = [1 + 2 + 1, 3 - 1 + 0] = [4, 2]; the arg-max is class 0, so R(Y) = [4, 0].
#   LRP-0: s = R / z = [1, 0]; c = Wᵀ s = [1, 2]; R(x) = x ⊙ c = [1, 2] (sum 3); the bias absorbs
#   s_0 b_0 = 1, so the ledger reads received 4 = passed 3 + bias 1, residual 0; M = [[1, 2], [0, 0]].
#   verify: the candidate [1, 2] agrees exactly with lrpref, zennit, iNNvestigate and the toolbox;
#   captum adds ε = 1e-9 to z_0 = 4, a relative error 1e-9 / 4 = 2.5e-10; from a one-hot top
#   (R = 1) the reference is [0.25, 0.5], so the error is |2 - 0.5| / 0.5 = 3 relative to the largest
#   reference value. The candidate [2, 1] differs from [1, 2] by 1 everywhere: 1 / 2 = 0.5 relative;
#   against [0.25, 0.5]: |2 - 0.25| / 0.5 = 3.5.
#   conformance: a kit of one case scored against its own expected relevance: 1 passed, errors 0 at its
#   6 levels (the MLP of the catalogue has 6 layers).

EXPECTED = Path(__file__).parent / "cli_expected"


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    """The hand-checked one-layer network and its files, in the current folder (paths print as given)."""
    import lrpref as lr

    monkeypatch.chdir(tmp_path)
    lr.serialize.save(lr.Sequential([lr.Dense(np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([1.0, 0.0]))]), "tiny.npz")
    np.save("x.npy", np.array([[1.0, 1.0]]))
    np.save("r.npy", np.array([[1.0, 2.0]]))
    np.save("wrong.npy", np.array([[2.0, 1.0]]))
    return tmp_path


@pytest.mark.parametrize("name, argv, code", [
    ("explain", ["explain", "--model", "tiny.npz", "--input", "x.npy", "--rule", "lrp0"], 0),
    ("explain-steps", ["explain", "--model", "tiny.npz", "--input", "x.npy", "--rule", "lrp0", "--steps"], 0),
    ("verify-agrees", ["verify", "--model", "tiny.npz", "--input", "x.npy", "--candidate", "r.npy", "--rule", "lrp0"], 0),
    ("verify-differs", ["verify", "--model", "tiny.npz", "--input", "x.npy", "--candidate", "wrong.npy", "--rule", "lrp0"], 1),
])
def test_output_equals_the_hand_checked_text(tiny, capsys, name, argv, code):
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == (EXPECTED / f"{name}.txt").read_text(encoding="utf-8")


def test_conformance_output_equals_the_hand_checked_text(tiny, capsys):
    from lrpref import conformance as kit

    assert main(["conformance", "export", "kit", "--case", "lrp.lrp0.mlp"]) == 0
    expected = kit.load_case("kit", "lrp.lrp0.mlp").expected
    np.savez("results.npz", **{f"lrp.lrp0.mlp/relevance.{k}": v for k, v in expected.items()})
    assert main(["conformance", "check", "kit", "--results", "results.npz"]) == 0
    assert capsys.readouterr().out == (EXPECTED / "conformance.txt").read_text(encoding="utf-8")


def test_explain_a_bundled_digit_and_texture(capsys):
    from lrpref.datasets import digits_split

    assert main(["explain", "--model", "digits_mlp", "--digit", "3"]) == 0
    first = capsys.readouterr().out.splitlines()[1]
    _, x_test, _, y_test = digits_split()
    assert first.startswith("sample 0: target 3, predicted 3; scores 0: ")  # the digit 3, not test image 3
    assert y_test[3] != 3
    assert main(["explain", "--model", "texture_cnn", "--index", "40"]) == 0
    assert "target 1 (grass), predicted 1 (grass); scores brick: " in capsys.readouterr().out


def test_explain_accepts_an_npz_input_and_prints_every_number(tiny, capsys):
    np.savez("x.npz", x=np.array([[1.0, 1.0]]))
    assert main(["explain", "--model", "tiny.npz", "--input", "x.npz", "--rule", "lrp0"]) == 0
    assert capsys.readouterr().out == (EXPECTED / "explain.txt").read_text(encoding="utf-8")
    assert main(["explain", "--model", "digits_mlp", "--digit", "0", "--steps"]) == 0
    out = capsys.readouterr().out
    assert "values: sum" not in out and "-0. " not in out  # no summaries by default, no negative zeros
    assert main(["explain", "--model", "digits_mlp", "--digit", "0", "--steps", "--max-size", "16"]) == 0
    assert "(64 values: sum" in capsys.readouterr().out


# --------------------------------------------------------------------------- bad invocations


def _files(folder):
    """Bad files for the table below, written into ``folder``."""
    tiny = (folder / "tiny.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(tiny[: len(tiny) // 2])
    (folder / "random.npz").write_bytes(np.random.default_rng(0).bytes(300))
    (folder / "text.npy").write_text("1, 2, 3\n")
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(folder / "two.npz", a=np.zeros((1, 2)), b=np.ones((1, 2)))
    np.savez(folder / "layers.npz", first=np.zeros((1, 2)))
    np.save(folder / "x3.npy", np.ones((1, 3)))
    np.save(folder / "r3.npy", np.ones((1, 3)))
    (folder / "afile").write_text("")


TINY = ["--model", "tiny.npz", "--input", "x.npy"]
VERIFY = ["verify", "--model", "tiny.npz", "--input", "x.npy", "--candidate", "r.npy", "--rule", "lrp0"]


@pytest.mark.parametrize("argv, message", [
    (["explain"], "lrpref explain: the following arguments are required: --model"),
    (["explain", "--model", "digits_mlp"], "give exactly one of --input x.npy, --digit D"),
    (["explain", "--model", "digits_mlp", "--digit", "3", "--index", "3"], "give exactly one of"),
    (["explain", "--model", "resnet", "--digit", "0"], "unknown model 'resnet': give a bundled model (digits_mlp, digits_cnn, texture_cnn)"),
    (["explain", "--model", "nowhere.npz", "--digit", "0"], "model nowhere.npz: no such file"),
    (["explain", "--model", "truncated.npz", "--input", "x.npy"], "truncated.npz"),
    (["explain", "--model", "random.npz", "--input", "x.npy"], "random.npz"),
    (["explain", "--model", "x.npy.npz", "--input", "x.npy"], "no such file"),
    (["explain", *TINY[:2], "--input", "missing.npy"], "--input missing.npy: no such file"),
    (["explain", *TINY[:2], "--input", "text.npy"], "--input text.npy: not a numeric NumPy"),
    (["explain", *TINY[:2], "--input", "objects.npy"], "--input objects.npy: not a numeric NumPy"),
    (["explain", *TINY[:2], "--input", "two.npz"], "an .npz must hold one array (or one named 'x'); it holds a, b"),
    (["explain", *TINY[:2], "--input", "x3.npy"], "Dense(2→2)"),
    (["explain", *TINY, "--steps", "--sample", "5"], "--sample 5 is out of range: the batch holds 1 sample(s)"),
    (["explain", *TINY, "--sample", "-2"], "--sample -2 is out of range"),
    (["explain", *TINY, "--save", "no/such/folder/r.npy"], "--save no/such/folder/r.npy: the folder no/such/folder does not exist"),
    (["explain", *TINY, "--save", "afile/r.npy"], "the folder afile does not exist"),
    (["explain", *TINY, "--max-size", "-1"], "--max-size must be 0 (no limit) or positive"),
    (["explain", *TINY, "--target", "2"], "target 2 is out of range"),
    (["explain", *TINY, "--rule", "nonsense"], "unknown rule"),
    (["explain", *TINY, "--method", "nonsense"], "nonsense"),
    (["explain", *TINY, "--digit", "3"], "give exactly one of"),
    (["explain", "--model", "tiny.npz", "--digit", "3"], "--digit needs a bundled model"),
    (["explain", "--model", "digits_mlp", "--digit", "12"], "--digit must be a digit 0..9, got 12"),
    (["explain", "--model", "digits_cnn", "--index", "450"], "--index must be between 0 and 449"),
    (["explain", "--model", "texture_cnn", "--digit", "3"], "--digit is for the digits models"),
    (["explain", "--model", "digits_mlp", "--digit", "three"], "argument --digit: invalid int value: 'three'"),
    (["verify"], "lrpref verify: the following arguments are required"),
    (["verify", *VERIFY[1:2], "imagenet", *VERIFY[3:]], "unknown model 'imagenet': give a bundled model"),
    (["verify", *VERIFY[1:5], "--candidate", "two.npz", "--rule", "lrp0"], "array 'a' is not named k or layer<k>"),
    (["verify", *VERIFY[1:5], "--candidate", "layers.npz", "--rule", "lrp0"], "array 'first' is not named k"),
    (["verify", *VERIFY[1:5], "--candidate", "missing.npy", "--rule", "lrp0"], "--candidate missing.npy: no such file"),
    (["verify", *VERIFY[1:5], "--candidate", "r3.npy", "--rule", "lrp0"], "shape"),
    (["verify", *VERIFY[1:3], "--input", "two.npz", *VERIFY[5:]], "an .npz must hold one array"),
    (VERIFY + ["--target", "a,b"], "--target must be a class index or indices separated by commas, got 'a,b'"),
    (VERIFY + ["--convention", "keras"], "argument --convention: invalid choice: 'keras'"),
    (["verify", *VERIFY[1:7], "--rule", "nonsense"], "unknown rule"),
    (["demo", "--count", "0"], "lrpref demo: --count must be between 2 and 450"),
    (["demo", "--count", "1"], "--count must be between 2 and 450"),
    (["demo", "--count", "451"], "--count must be between 2 and 450"),
    (["demo", "--out", "afile"], "--out afile: cannot write there (afile is not a writable folder)"),
    (["demo", "--out", "afile/report"], "cannot write there"),
    (["conformance"], "lrpref conformance: the following arguments are required: action"),
    (["conformance", "check", "nokit", "--results", "r.npy"], "lrpref conformance check: "),
    (["conformance", "export", "afile"], "lrpref conformance export: "),
    (["conformance", "export", "kit", "--case", "no.such.case"], "no.such.case"),
    (["nonsense"], "lrpref: argument command: invalid choice: 'nonsense'"),
])
def test_a_bad_invocation_is_one_line_on_stderr(tiny, capsys, argv, message):
    _files(tiny)
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's usage errors
        code = exit.code
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert lines[0].startswith("lrpref")
    assert "Traceback" not in captured.err


def test_the_console_prints_no_traceback_and_refuses_count_0_at_once(tiny):
    _files(tiny)
    for argv in (["explain", "--model", "truncated.npz", "--input", "x.npy"], ["demo", "--count", "0"]):
        result = subprocess.run([sys.executable, "-m", "lrpref.cli", *argv], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_a_closed_pipe_ends_the_output_quietly():
    """``lrpref explain ... --steps | head -3``: no error message when the reader stops early."""
    result = subprocess.run(f"{sys.executable} -m lrpref.cli explain --model digits_cnn --digit 3 --steps | head -3",
                            shell=True, capture_output=True, text=True, timeout=120)
    assert len(result.stdout.splitlines()) == 3 and result.stderr == ""


def test_verify_help_lists_the_bundled_models(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    assert "digits_mlp, digits_cnn, texture_cnn" in " ".join(capsys.readouterr().out.split())
