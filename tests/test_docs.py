"""Every ```python block of every page in docs/ and of README.md runs, in order, in one namespace per page.

A block fenced as ```python runs; ```text / ```console blocks are shown, not run. A page
whose blocks need a temporary folder gets ``tmp_path`` (a pathlib.Path) in its namespace.
Matplotlib uses the non-interactive Agg backend.

A block that needs an optional package names it in the fence: ```python requires=torch (or
requires=torch,onnx). Where one is missing the block is left out and the page's other blocks
still run; the page is then skipped locally and fails under CI=true (:func:`optional.require`).
So a guarded block must not define what an unguarded block after it uses.
"""

import importlib.util
import re
from pathlib import Path

import pytest
from optional import require

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)
REQUIRES = re.compile(r"requires=([\w.,]+)")
PAGES = [*sorted(DOCS.glob("**/*.md")), ROOT / "README.md"]


def code_blocks(page: Path) -> list[tuple[list[str], str]]:
    """``(required packages, code)`` of every python block of ``page``."""
    blocks = []
    for info, code in FENCE.findall(page.read_text(encoding="utf-8")):
        required = REQUIRES.search(info)
        blocks.append((required.group(1).split(",") if required else [], code))
    return blocks


def test_docs_folder_has_pages():
    assert len(PAGES) > 1, f"no Markdown pages under {DOCS}"
    assert code_blocks(ROOT / "README.md"), "README.md has no python block to run"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_runs(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}", "tmp_path": tmp_path}
    missing = []
    for number, (required, block) in enumerate(code_blocks(page), start=1):
        absent = [package for package in required if importlib.util.find_spec(package) is None]
        if absent:
            missing.extend(absent)
            continue
        try:
            exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name}: code block {number} failed: {error!r}\n{block}") from error
    for package in missing:
        require(package)  # skips the page locally, fails under CI=true
