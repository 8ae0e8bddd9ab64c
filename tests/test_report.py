"""The HTML report: self-contained, every figure shown in a real (headless) browser, no broken link."""

import matplotlib
import numpy as np
import pytest
from browser import check_report_in_browser

from lrpref.report import Report

matplotlib.use("Agg")


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
