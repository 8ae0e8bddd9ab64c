"""The README's main job: ``lrpref demo`` runs on the bundled model and prints a balanced ledger."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lrpref.cli import main


def test_demo_prints_the_conservation_ledger(capsys):
    assert main(["demo", "--sample", "3"]) == 0
    out = capsys.readouterr().out
    assert "digits-mlp" in out and "test sample 3" in out
    assert out.count("residual") == 2
    residuals = [float(line.split()[-1]) for line in out.splitlines() if re.match(r"^\s*\d+ (Dense|ReLU)", line)]
    assert len(residuals) == 6 and max(abs(r) for r in residuals) < 1e-12


def test_demo_rejects_a_bad_sample(capsys):
    assert main(["demo", "--sample", "100000"]) == 2
    assert "--sample must be between" in capsys.readouterr().err


def test_installed_console_script(tmp_path):
    """The console script of the installed package (run away from the checkout) finds its bundled data."""
    script = Path(sys.executable).with_name("lrpref")
    if not script.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no lrpref console script next to {sys.executable}: the package is not installed")
        pytest.skip("lrpref is not installed in this environment")
    result = subprocess.run([str(script), "demo"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Montavon2019" in result.stdout
