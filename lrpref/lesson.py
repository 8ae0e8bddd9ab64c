"""A step-through lesson in the browser: one self-contained HTML page that walks through steps.

The page shows one step at a time — its title, its formulas beside its numbers — with
previous / next buttons (and the arrow keys; ``#step-3`` in the address opens step 3). It
needs nothing but the file: no network, no external script or style.

What a step is (the interface; it does not depend on how the numbers were computed)::

    {
        "title": "layer 2 · Dense(3→2) · LRP-0",            # required, text
        "formulas": ["z_j = Σ_i w_ji a_i + b_j", "s_j = R_j / z_j"],   # optional, text shown as is
        "arrays": [                                          # optional, shown in this order
            ("input a", a),                                  # 1-D: a row of numbers
            ("messages M[j, i] = R(i ← j)", M, {"sums": True}),   # 2-D: a matrix; "sums" adds
        ],                                                   #   row sums (Σ_i) and column sums (Σ_j)
        "text": "The bias absorbs s_0 b_0 = 1.",             # optional, a sentence
    }

``arrays`` items are ``(name, array)`` or ``(name, array, options)``, arrays real, finite and
at most 2-D (a scalar is shown as one number). Every number is printed with 6 significant
digits (``-0`` as ``0``) and carries its exact value in a ``data-value`` attribute, so a test
can check the page against the data; sums are computed here, in float64.

:func:`write` writes ``DIR/index.html``; :func:`page` returns the HTML text.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

__all__ = ["write", "page", "format_number", "MAX_NUMBERS"]

MAX_NUMBERS = 200_000  # a page with more numbers than this is refused (summarise the steps first)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
nav { display: flex; gap: 1em; align-items: center; margin: 1em 0; }
button { font-size: 1em; padding: 0.3em 0.9em; }
.step { display: grid; grid-template-columns: minmax(14em, 1fr) 3fr; gap: 1.5em; }
.step[hidden] { display: none; }
.formulas { background: #f6f6f6; padding: 0.6em 0.9em; font-family: ui-monospace, monospace; white-space: pre-wrap; }
.formulas p { margin: 0.3em 0; }
h2 { grid-column: 1 / -1; margin: 0; font-size: 1.25em; }
.text { grid-column: 1 / -1; margin: 0; }
table { border-collapse: collapse; margin: 0.2em 0 1em; font-size: 0.9em; font-variant-numeric: tabular-nums; }
td, th { border: 1px solid #ddd; padding: 0.15em 0.45em; text-align: right; }
th { background: #fafafa; font-weight: normal; color: #555; }
td.sum { background: #eef4ff; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.2em; white-space: nowrap; }
"""

_SCRIPT = """
const steps = Array.from(document.querySelectorAll(".step"));
const previous = document.getElementById("previous"), next = document.getElementById("next");
const counter = document.getElementById("counter");
function show(k) {
  k = Math.max(0, Math.min(steps.length - 1, k));
  steps.forEach((step, i) => { step.hidden = i !== k; });
  previous.disabled = k === 0;
  next.disabled = k === steps.length - 1;
  counter.textContent = `step ${k + 1} of ${steps.length}`;
  document.body.dataset.step = k;
  if (location.hash !== `#step-${k + 1}`) history.replaceState(null, "", `#step-${k + 1}`);
}
const current = () => Number(document.body.dataset.step);
previous.addEventListener("click", () => show(current() - 1));
next.addEventListener("click", () => show(current() + 1));
document.addEventListener("keydown", (event) => {
  if (event.key === "ArrowLeft") show(current() - 1);
  if (event.key === "ArrowRight") show(current() + 1);
});
const asked = /^#step-(\\d+)$/.exec(location.hash);
show(asked ? Number(asked[1]) - 1 : 0);
"""


def format_number(value: float) -> str:
    """``value`` with 6 significant digits, without a negative zero (``-0.0`` and ``-1e-9`` rounded show as ``0``)."""
    text = f"{value:.6g}"
    return "0" if float(text) == 0 else text


def _cell(value: float, kind: str = "value") -> str:
    css = ' class="sum"' if kind == "sum" else ""
    return f'<td{css} data-value="{float(value)!r}">{format_number(value)}</td>'


def _array_html(name: str, values: np.ndarray, sums: bool) -> str:
    caption = f"<caption>{html.escape(name)}</caption>"
    if values.ndim <= 1:
        row = "".join(_cell(v) for v in np.atleast_1d(values))
        header = "".join(f"<th>{i}</th>" for i in range(np.atleast_1d(values).size))
        total = _cell(values.sum(), "sum") if sums else ""
        header += "<th>Σ</th>" if sums else ""
        return f'<table data-name="{html.escape(name)}">{caption}<tr>{header}</tr><tr>{row}{total}</tr></table>'
    rows, columns = values.shape
    lines = ["<tr><th></th>" + "".join(f"<th>{i}</th>" for i in range(columns)) + ("<th>Σ row</th>" if sums else "")
             + "</tr>"]
    for j in range(rows):
        cells = "".join(_cell(v) for v in values[j])
        lines.append(f"<tr><th>{j}</th>{cells}{_cell(values[j].sum(), 'sum') if sums else ''}</tr>")
    if sums:
        lines.append("<tr><th>Σ column</th>" + "".join(_cell(s, "sum") for s in values.sum(axis=0)) + "<td></td></tr>")
    return f'<table data-name="{html.escape(name)}">{caption}{"".join(lines)}</table>'


def _checked_steps(steps) -> list[dict]:
    """The steps as given, checked: a non-empty list of dicts with a title, formulas and real finite arrays."""
    if isinstance(steps, dict) or not hasattr(steps, "__iter__"):
        raise TypeError(f"steps must be a list of dicts, got {type(steps).__name__}")
    steps = list(steps)
    if not steps:
        raise ValueError("steps is empty: a lesson needs at least one step")
    numbers = 0
    checked = []
    for k, step in enumerate(steps):
        where = f"step {k}"
        if not isinstance(step, dict):
            raise TypeError(f"{where} must be a dict, got {type(step).__name__}")
        unknown = set(step) - {"title", "formulas", "arrays", "text"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; a step has title, formulas, arrays, text")
        if not isinstance(step.get("title"), str) or not step["title"].strip():
            raise ValueError(f"{where} needs a non-empty text 'title'")
        formulas = step.get("formulas", [])
        if isinstance(formulas, str) or not all(isinstance(f, str) for f in formulas):
            raise TypeError(f"{where}: 'formulas' must be a list of strings")
        arrays = []
        for item in step.get("arrays", []):
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3) or not isinstance(item[0], str):
                raise TypeError(f"{where}: each of 'arrays' is (name, array) or (name, array, options)")
            name, values = item[0], np.asarray(item[1])
            options = dict(item[2]) if len(item) == 3 else {}
            if set(options) - {"sums"}:
                raise ValueError(f"{where}, {name!r}: unknown option(s) {sorted(set(options) - {'sums'})}; only 'sums'")
            if values.dtype.kind not in "biuf":
                raise TypeError(f"{where}, {name!r}: a real numeric array is needed, got dtype {values.dtype}")
            if values.ndim > 2:
                raise ValueError(f"{where}, {name!r}: at most 2-D (a vector or a matrix), got shape {values.shape}")
            values = values.astype(np.float64)
            if not np.isfinite(values).all():
                raise ValueError(f"{where}, {name!r}: contains NaN or ±inf")
            numbers += values.size
            arrays.append((name, values, bool(options.get("sums", False))))
        text = step.get("text")
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{where}: 'text' must be a string")
        checked.append({"title": step["title"], "formulas": list(formulas), "arrays": arrays, "text": text})
    if numbers > MAX_NUMBERS:
        raise ValueError(f"the lesson holds {numbers} numbers, more than MAX_NUMBERS = {MAX_NUMBERS}; "
                         f"leave large arrays out or summarise them")
    return checked


def page(steps, title: str = "lrpref lesson") -> str:
    """The lesson as one self-contained HTML page (see the module docstring for ``steps``)."""
    sections = []
    for k, step in enumerate(_checked_steps(steps)):
        formulas = "".join(f"<p>{html.escape(f)}</p>" for f in step["formulas"])
        tables = "".join(_array_html(name, values, sums) for name, values, sums in step["arrays"])
        text = f'<p class="text">{html.escape(step["text"])}</p>' if step["text"] else ""
        sections.append(f'<section class="step" id="step-{k + 1}" data-index="{k}">'
                        f'<h2>{html.escape(step["title"])}</h2>{text}'
                        f'<div class="formulas">{formulas}</div><div class="numbers">{tables}</div></section>')
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{html.escape(title)}</h1>",
        '<nav><button id="previous" type="button">◀ previous</button><span id="counter"></span>'
        '<button id="next" type="button">next ▶</button><span>(or the arrow keys)</span></nav>',
        *sections, f"<script>{_SCRIPT}</script>", "</body>", "</html>"])


def write(steps, directory, title: str = "lrpref lesson") -> Path:
    """Write the lesson to ``directory/index.html`` (the folder is created); returns the path of the page."""
    text = page(steps, title)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    path.write_text(text, encoding="utf-8")
    return path

