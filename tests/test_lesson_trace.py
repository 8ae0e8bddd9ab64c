"""The step-through lesson of an explanation (``ex.steps(html=DIR)``, ``lrpref explain --steps --html DIR``): every
number on the page is a number of the text trace of the same step, and a browser can click through every step."""

import html
import re

import numpy as np
import pytest
from test_graph import residual_mlp
from test_lesson import CLICK_THROUGH, Cells, _browse, _record

import lrpref as lr
from lrpref.cli import main


def _text_steps(text: str) -> dict:
    """``{title: numbers}`` of the text trace: every number printed in brackets, step by step (sums left out)."""
    found, title = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            title = line[3:]
            found[title] = []
        elif not line.strip():
            title = None  # a step ends at a blank line
        elif title is not None and "[" in line and not line.strip().startswith(("rule:", "group")):
            inside = line[line.index("["):line.rindex("]") + 1]
            found[title] += [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", inside)]
    return found


def _page_steps(path) -> dict:
    """``{title: values}`` of the page: the exact value of every number cell that is not a sum."""
    text = path.read_text(encoding="utf-8")
    titles = re.findall(r"<h2>(.*?)</h2>", text)
    parser = Cells()
    parser.feed(text)
    return {html.unescape(titles[k]): [c[2] for c in parser.cells if c[0] == k and not c[4]] for k in range(len(titles))}


@pytest.mark.parametrize("method", ["lrp", "deeplift"])
def test_every_number_on_the_page_is_a_number_of_the_trace(tmp_path, method):
    net, x = residual_mlp()
    options = {"rule": lr.Epsilon(0.1), "keep_messages": True} if method == "lrp" else {"reference": 0.0}
    ex = lr.explain(net, x, method=method, **options)
    path = ex.steps(html=tmp_path / "lesson")
    page = _page_steps(path)
    printed = _text_steps(lr.trace.trace(ex))
    assert set(printed) <= set(page) and len(printed) > len(net)   # every node, and the fan-in at the input
    assert any(title.startswith("fan-in at input") for title in printed)
    for title, values in printed.items():  # the same numbers, in the same order (the text rounds to 6 decimals)
        assert np.allclose(np.round(page[title], 6) + 0.0, values, rtol=0, atol=1e-12), title


def test_a_browser_clicks_through_the_lesson_of_a_graph(tmp_path):
    net, x = residual_mlp()
    ex = lr.explain(net, x, rule=lr.Epsilon(0.1), keep_messages=True)
    path = ex.steps(html=tmp_path / "lesson")
    probe = path.with_name("probe.html")
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", CLICK_THROUGH + "</body>"), encoding="utf-8")
    record = _record(_browse(probe.as_uri(), tmp_path))
    steps = len(re.findall(r"<h2>", path.read_text(encoding="utf-8")))
    assert [r["visible"] for r in record[:steps]] == [[k] for k in range(steps)]   # next, next, ... one step at a time
    assert record[0]["previous"] and record[steps - 1]["next"]


def test_the_command_line_writes_the_lesson(tmp_path, capsys):
    assert main(["explain", "--model", "digits_mlp", "--digit", "3", "--steps", "--html", str(tmp_path / "lesson")]) == 0
    assert f"lesson written to {tmp_path / 'lesson' / 'index.html'}" in capsys.readouterr().out
    assert "fan-in" not in (tmp_path / "lesson" / "index.html").read_text(encoding="utf-8")  # a chain has none
    assert main(["explain", "--model", "digits_mlp", "--digit", "3", "--html", str(tmp_path / "x")]) == 2
