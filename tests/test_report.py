"""The HTML report: self-contained, every figure shown in a real (headless) browser, no broken link."""

import re
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from optional import require_program

from lrpref.report import Report

matplotlib.use("Agg")

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=10000", "--dump-dom"]


def rendered_dom(page: Path, tmp_path: Path) -> str:
    """The page's DOM after it loaded in headless Chromium (Debian's package)."""
    chromium = require_program("chromium")
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def check_report_in_browser(page: Path, tmp_path: Path, figures: int) -> None:
    """Every figure loads in the browser, and every link points to a file in the folder or an anchor on the page."""
    dom = rendered_dom(page, tmp_path)
    loaded = re.search(r'<body[^>]*data-figures="(\d+)"[^>]*data-broken="(\d+)"', dom)
    assert loaded, "the page did not finish loading (no data-figures mark)"
    assert (int(loaded.group(1)), int(loaded.group(2))) == (figures, 0)
    html = page.read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', html))
    for href in re.findall(r'href="([^"]+)"', html):
        if href.startswith("#"):
            assert href[1:] in anchors, f"broken anchor {href}"
        else:
            assert (page.parent / href).is_file(), f"broken link {href}"


def test_a_report_with_figures_tables_and_text(tmp_path):
    import matplotlib.pyplot as plt

    report = Report("A test report")
    report.section("Figures")
    for k in range(2):
        fig, ax = plt.subplots()
        ax.imshow(np.random.default_rng(k).normal(size=(8, 8)), cmap="bwr")
        report.figure(fig, f"map-{k}.png", f"map <{k}>")
    report.section("Numbers")
    report.table(["method", "AOPC"], [["LRP-ε", 0.123456], ["random", 0.01]])
    report.text("A & B < C")
    page = report.write(tmp_path / "out")
    assert sorted(p.name for p in page.parent.iterdir()) == ["index.html", "map-0.png", "map-1.png"]
    html = page.read_text(encoding="utf-8")
    assert "A &amp; B &lt; C" in html and "0.1235" in html and "data:image/png;base64," in html
    check_report_in_browser(page, tmp_path, figures=2)


def test_figure_names_are_checked(tmp_path):
    import matplotlib.pyplot as plt

    report = Report("r")
    with pytest.raises(ValueError, match="must be a new file name ending in .png"):
        report.figure(plt.figure(), "../escape.png", "x")
    report.figure(plt.figure(), "a.png", "x")
    with pytest.raises(ValueError, match="new file name"):
        report.figure(plt.figure(), "a.png", "again")


def test_a_broken_image_is_detected(tmp_path):
    page = tmp_path / "index.html"
    page.write_text('<html><body><img src="missing.png"><script>window.addEventListener("load", () => {'
                    'const i = Array.from(document.images); const b = i.filter(x => !(x.complete && x.naturalWidth > 0)).length;'
                    'document.body.setAttribute("data-figures", i.length - b); document.body.setAttribute("data-broken", b);});'
                    '</script></body></html>')
    with pytest.raises(AssertionError):
        check_report_in_browser(page, tmp_path, figures=1)
