"""The README's main job: ``lrpref demo`` runs on the bundled model and prints a balanced ledger."""

import re
import subprocess
import sys

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


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "lrpref.cli", "demo"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Montavon2019" in result.stdout
