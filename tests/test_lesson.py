"""The step-through lesson page (lrpref.lesson): every number on the page is the data's, navigation works
in headless Chromium (a script clicks through every step and back), bad steps are refused."""

import json
import re
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from browser import CHROMIUM_FLAGS
from optional import require_program

from lrpref import lesson


def example_a_steps():
    """LRP-0 on the one-layer Example A (math.md §12.1), step by step, every number computed by hand:
    a = (1, 2, 0.5), W = [[1, -0.5, 2], [-1, 1, 0.5]], b = (0.5, -0.25), R = (1, 0.5)."""
    a = np.array([1.0, 2.0, 0.5])
    W = np.array([[1.0, -0.5, 2.0], [-1.0, 1.0, 0.5]])
    return [
        {"title": "step 1 · forward", "formulas": ["z_j = Σ_i w_ji a_i + b_j"],
         "arrays": [("input a", a), ("weights W", W), ("bias b", [0.5, -0.25]), ("output z", [1.5, 1.0])]},
        {"title": "step 2 · divide", "formulas": ["s_j = R_j / z_j"],
         "arrays": [("R from above", [1.0, 0.5]), ("s", [1 / 1.5, 0.5])]},
        {"title": "step 3 · backward", "formulas": ["c_i = Σ_j w_ji s_j"],
         "arrays": [("c", [1 / 1.5 - 0.5, -0.5 / 1.5 + 0.5, 2 / 1.5 + 0.25])]},
        {"title": "step 4 · multiply, and the messages", "formulas": ["R_i = a_i c_i", "M[j, i] = a_i w_ji s_j"],
         "arrays": [("R_in", [1 / 6, 1 / 3, 0.791666666666667]),
                    ("messages M[j, i] = R(i ← j)", [[2 / 3, -2 / 3, 2 / 3], [-0.5, 1.0, 0.125]], {"sums": True})],
         "text": "Row sums 0.666667 and 0.625: the bias absorbs 1.5 − 1.291667 = 0.208333."},
    ]


class Cells(HTMLParser):
    """Every number cell of the page: (step index, table name, data-value, shown text, is a sum)."""

    def __init__(self):
        super().__init__()
        self.cells, self.step, self.table, self.open = [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.step = int(attrs["data-index"])
        elif tag == "table":
            self.table = attrs["data-name"]
        elif tag == "td" and "data-value" in attrs:
            self.open = [self.step, self.table, float(attrs["data-value"]), "", attrs.get("class") == "sum"]

    def handle_data(self, data):
        if self.open is not None:
            self.open[3] += data

    def handle_endtag(self, tag):
        if tag == "td" and self.open is not None:
            self.cells.append(tuple(self.open))
            self.open = None


def test_every_number_on_the_page_is_the_data(tmp_path):
    steps = example_a_steps()
    path = lesson.write(steps, tmp_path / "lesson", title="LRP-0, Example A")
    parser = Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    expected = []
    for k, step in enumerate(steps):
        for item in step["arrays"]:
            values = np.asarray(item[1], dtype=float)
            sums = len(item) == 3 and item[2]["sums"]
            if values.ndim == 1:
                expected += [(k, item[0], v, False) for v in values]
            else:
                for row in values:
                    expected += [(k, item[0], v, False) for v in row] + ([(k, item[0], row.sum(), True)] if sums else [])
                if sums:
                    expected += [(k, item[0], s, True) for s in values.sum(axis=0)]
    assert [(c[0], c[1], c[4]) for c in parser.cells] == [(e[0], e[1], e[3]) for e in expected]
    for (step, name, value, shown, _), (_, _, wanted, _) in zip(parser.cells, expected):
        assert value == wanted, (step, name)  # the exact value, in data-value
        assert float(shown) == pytest.approx(wanted, rel=5e-6, abs=1e-300), (step, name, shown)
    messages = [c for c in parser.cells if c[1].startswith("messages") and c[4]]
    assert [c[3] for c in messages] == ["0.666667", "0.625", "0.166667", "0.333333", "0.791667"]  # by hand
    text = path.read_text(encoding="utf-8")
    assert "z_j = Σ_i w_ji a_i + b_j" in text and "the bias absorbs" in text
    assert "http" not in text.replace('lang="en"', "")  # self-contained: nothing fetched


def test_numbers_are_printed_with_six_digits_and_no_negative_zero():
    assert lesson.format_number(-0.0) == "0" and lesson.format_number(-1e-12) == "-1e-12"
    assert lesson.format_number(2 / 3) == "0.666667" and lesson.format_number(-1234567.0) == "-1.23457e+06"


def _browse(url: str, tmp_path) -> str:
    chromium = require_program("chromium")
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# Appended to a copy of the page: clicks through every step and back, with the buttons and the arrow keys,
# and records after each action which step is visible, whether the others are hidden, what the buttons and
# the counter say, and the numbers the visible step shows.
CLICK_THROUGH = """<script>
window.addEventListener("load", () => {
  const record = [];
  const steps = Array.from(document.querySelectorAll(".step"));
  const note = () => {
    const visible = steps.filter((s) => getComputedStyle(s).display !== "none");
    record.push({visible: visible.map((s) => Number(s.dataset.index)),
                 counter: document.getElementById("counter").textContent,
                 previous: document.getElementById("previous").disabled,
                 next: document.getElementById("next").disabled,
                 numbers: visible.length ? Array.from(visible[0].querySelectorAll("td[data-value]"),
                                                      (td) => td.textContent) : []});
  };
  note();
  for (let k = 0; k < steps.length + 1; k++) { document.getElementById("next").click(); note(); }
  for (let k = 0; k < steps.length + 1; k++) { document.getElementById("previous").click(); note(); }
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowRight"})); note();
  const out = document.createElement("pre");
  out.id = "click-through";
  out.textContent = JSON.stringify(record);
  document.body.appendChild(out);
});
</script>"""


def _record(dom: str):
    found = re.search(r'<pre id="click-through">(.*?)</pre>', dom, re.S)
    assert found, "the click-through script did not run"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_navigation_in_headless_chromium(tmp_path):
    steps = example_a_steps()
    path = lesson.write(steps, tmp_path / "lesson")
    probe = path.with_name("probe.html")
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", CLICK_THROUGH + "</body>"), encoding="utf-8")
    record = _record(_browse(probe.as_uri(), tmp_path))
    n = len(steps)
    shown = [r["visible"] for r in record]
    forward, backward = list(range(n)) + [n - 1, n - 1], list(range(n - 2, -1, -1)) + [0, 0]
    assert shown == [[k] for k in forward + backward] + [[1]]  # one step at a time; clicks past the ends do nothing
    assert record[0]["previous"] and not record[0]["next"] and record[0]["counter"] == f"step 1 of {n}"
    assert record[n - 1]["next"] and record[n - 1]["counter"] == f"step {n} of {n}"
    parser = Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    for entry in record:  # the numbers the browser shows are the page's numbers of that step
        k = entry["visible"][0]
        assert entry["numbers"] == [c[3] for c in parser.cells if c[0] == k]


def test_an_address_opens_a_step(tmp_path):
    path = lesson.write(example_a_steps(), tmp_path / "lesson")
    probe = path.with_name("probe.html")
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", CLICK_THROUGH + "</body>"), encoding="utf-8")
    record = _record(_browse(probe.as_uri() + "#step-3", tmp_path))
    assert record[0]["visible"] == [2] and record[0]["counter"] == "step 3 of 4"


@pytest.mark.parametrize("steps, error, message", [
    ([], ValueError, "steps is empty"),
    ({"title": "x"}, TypeError, "list of dicts"),
    (["x"], TypeError, "step 0 must be a dict"),
    ([{"formulas": []}], ValueError, "step 0 needs a non-empty text 'title'"),
    ([{"title": "t", "formula": []}], ValueError, "unknown key"),
    ([{"title": "t", "formulas": "z = Wa"}], TypeError, "'formulas' must be a list of strings"),
    ([{"title": "t", "arrays": [np.zeros(3)]}], TypeError, "(name, array)"),
    ([{"title": "t", "arrays": [("a", np.zeros((2, 2, 2)))]}], ValueError, "at most 2-D"),
    ([{"title": "t", "arrays": [("a", [1.0, np.nan])]}], ValueError, "NaN"),
    ([{"title": "t", "arrays": [("a", ["x"])]}], TypeError, "real numeric"),
    ([{"title": "t", "arrays": [("a", [1.0], {"total": True})]}], ValueError, "unknown option"),
    ([{"title": "t", "text": 3}], TypeError, "'text' must be a string"),
    ([{"title": "t", "arrays": [("a", np.zeros(lesson.MAX_NUMBERS + 1))]}], ValueError, "MAX_NUMBERS"),
])
def test_bad_steps_are_refused(steps, error, message):
    with pytest.raises(error, match=re.escape(message)):
        lesson.page(steps)
