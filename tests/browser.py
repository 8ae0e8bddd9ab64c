"""Check an HTML report in Debian's headless Chromium: every figure loads, no link is broken."""

import re
import subprocess
from pathlib import Path

from optional import require_program

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
