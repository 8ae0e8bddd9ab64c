"""The command line: ``lrpref demo`` (the README's main job), ``lrpref explain [--steps]``."""

import os
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
    assert sorted(p.name for p in page.parent.glob("*.png")) == ["bow-face.png", "bow-texture.png", "digits.png",
                                                                  "ledger.png", "perturbation.png"]
    html = page.read_text(encoding="utf-8")
    for method in ("LRP-ε (0.25)", "EpsilonGammaBox", "DeepLIFT", "LID-IG (n=10)", "SIG-LID-IG (n=10)",
                   "gradient × input", "sensitivity", "random", "AOPC (MoRF)"):
        assert method in html
    check_report_in_browser(page, tmp_path, figures=5)


def test_demo_rejects_a_bad_count(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--count", "0"]) == 2
    assert "--count must be at least 1" in capsys.readouterr().err


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


@pytest.mark.parametrize("argv, message", [
    (["--model", "digits_mlp"], "give exactly one of --input"),
    (["--model", "digits_mlp", "--digit", "100000"], "--digit must be between"),
    (["--model", "digits_mlp", "--digit", "0", "--rule", "nonsense"], "unknown rule"),
    (["--model", "digits_mlp", "--digit", "0", "--target", "12"], "target 12 is out of range"),
    (["--model", "nowhere.npz", "--digit", "0"], "nowhere.npz"),
])
def test_explain_bad_input(argv, message, capsys):
    assert main(["explain", *argv]) == 2
    assert message in capsys.readouterr().err


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
