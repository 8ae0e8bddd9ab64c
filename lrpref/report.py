"""A self-contained HTML report: headings, text, tables and figures in one ``index.html``.

Figures are saved as PNG files next to the report *and* embedded in it as ``data:`` URIs, so
``index.html`` shows everything on its own (copied, mailed, opened offline) and every figure
also links to its PNG file. A small script marks the page once it has loaded:
``<body data-figures="n" data-broken="k">`` counts the images shown and those that failed,
which is how the tests check the report in a headless browser.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

__all__ = ["Report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
figure { display: block; margin: 0.5em 0 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; max-width: 900px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
code { background: #f2f2f2; padding: 0 0.2em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
"""

_LOADED = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter((img) => !(img.complete && img.naturalWidth > 0)).length;
  document.body.setAttribute("data-figures", images.length - broken);
  document.body.setAttribute("data-broken", broken);
});
</script>"""


def _inline_code(escaped: str) -> str:
    """``code`` spans of (already escaped) text as ``<code>`` elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


class Report:
    """Build a report piece by piece, then :meth:`write` it into a folder."""

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []
        self._sections: list[tuple[str, str]] = []
        self._files: dict[str, bytes] = {}

    def section(self, title: str) -> None:
        anchor = _slug(title)
        while anchor in {a for a, _ in self._sections}:
            anchor += "-2"
        self._sections.append((anchor, title))
        self._parts.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>')

    def text(self, text: str) -> None:
        """A paragraph; ``code`` in backticks is shown as code (the backticks are not printed)."""
        self._parts.append(f"<p>{_inline_code(html.escape(text))}</p>")

    def code(self, text: str) -> None:
        self._parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, header, rows, caption: str | None = None) -> None:
        """Cells are strings or numbers (numbers printed with 4 significant digits)."""
        def cell(value, tag):
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            return f"<{tag}>{html.escape(shown)}</{tag}>"

        lines = ["<table>"]
        if caption:
            lines.append(f"<caption>{html.escape(caption)}</caption>")
        lines.append("<tr>" + "".join(cell(h, "th") for h in header) + "</tr>")
        for row in rows:
            lines.append("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>")
        lines.append("</table>")
        self._parts.append("\n".join(lines))

    def figure(self, figure, name: str, caption: str) -> str:
        """Add a matplotlib figure, saved as ``name`` (a ``.png`` file name); returns the file name."""
        import io

        import matplotlib.pyplot as plt

        if not re.fullmatch(r"[A-Za-z0-9_.-]+\.png", name) or name in self._files:
            raise ValueError(f"figure name {name!r} must be a new file name ending in .png (letters, digits, _ . -)")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(figure)
        data = buffer.getvalue()
        self._files[name] = data
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        self._parts.append(f'<figure><a href="{name}"><img src="{uri}" alt="{html.escape(caption)}"></a>'
                           f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return name

    def write(self, directory) -> Path:
        """Write ``index.html`` and the PNG files into ``directory`` (created); returns the path of ``index.html``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self._files.items():
            (directory / name).write_bytes(data)
        nav = " ".join(f'<a href="#{anchor}">{html.escape(title)}</a>' for anchor, title in self._sections)
        page = "\n".join([
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
            f"<h1>{html.escape(self.title)}</h1>", f"<nav>{nav}</nav>", *self._parts, _LOADED, "</body>", "</html>",
        ])
        path = directory / "index.html"
        path.write_text(page, encoding="utf-8")
        return path
