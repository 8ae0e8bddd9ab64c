"""Every ```python block of every page in docs/ runs, in order, in one namespace per page.

A block fenced as ```python runs; ```text / ```console blocks are shown, not run. A page
whose blocks need a temporary folder gets ``tmp_path`` (a pathlib.Path) in its namespace.
Matplotlib uses the non-interactive Agg backend.
"""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
PAGES = sorted(DOCS.glob("**/*.md"))


def code_blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


def test_docs_folder_has_pages():
    assert PAGES, f"no Markdown pages under {DOCS}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_runs(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}", "tmp_path": tmp_path}
    for number, block in enumerate(code_blocks(page), start=1):
        try:
            exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name}: code block {number} failed: {error!r}\n{block}") from error
