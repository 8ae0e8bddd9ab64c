"""Every citation in the package, the docs and the README resolves inside the repository.

Citations looked for (in the whole text of every ``lrpref/**/*.py``, ``docs/*.md`` and
``README.md``):

* section citations ``§3.2``, chains ``§14.1, §14.2``, qualified by a file (``math.md §3.2``,
  ``spec `neural.md` §3.2``, ``bow.md §2.3``, ``peers §1.1``) or bare (then they mean
  ``docs/math.md``) — a section resolves when the file is a page of ``docs/`` with a heading
  numbered so (``### 3.2 LRP-ε``, ``#### B2.3 Coding``); ``spec §x`` never resolves (the notes
  are not in the repository);
* links to anchors ``math.md#lrp-epsilon`` — the page must have that anchor (an explicit
  ``<a id>`` or a heading's GitHub slug);
* the research notes' own references — ``seed 001``, ``[SEED-004]``, ``[BACH15]`` — never
  resolve: papers are cited by authors and year.

Every file fails on its first unresolved citation, so no new one can come in
(``tools/fix_citations.py`` converts the old forms).
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


SECTION = r"[A-Z]?\d+(?:\.\d+)*"
# a chain of sections with an optional qualifier: "spec ``neural.md`` §3.2, §3.4", "math.md §B2.3", "§14.4"
CHAIN = re.compile(
    rf"(?:(?P<bare_spec>\bspec\s+)(?=§)|(?P<spec>\bspec\s+)?(?:``|`)?(?P<file>[\w/.-]+?)(?:\.md)?(?:``|`)?\s*(?=§))?"
    rf"(?P<chain>§\s*{SECTION}(?:\s*[–-]\s*§?{SECTION})?(?:(?:\s*(?:,|;|–|-|and|or|/)\s*|\s+)§\s*{SECTION}"
    rf"(?:\s*[–-]\s*§?{SECTION})?)*)")
ANCHOR = re.compile(r"(?P<file>[\w/.-]+\.md)#(?P<anchor>[\w-]+)")
NOTES = re.compile(r"\bseed\s+0\d\d\b|\bSEED-\d+|\[(?:BACH15|LAP16|[A-Z]{3,}\d\d)\]|\bseed\s+§", re.IGNORECASE)
FILES_WITH_SECTIONS = {"neural", "bow", "peers", "math"}  # words that qualify a section number


def scanned_files() -> list[str]:
    files = sorted(p for p in (ROOT / "lrpref").rglob("*.py")) + sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
    return [p.relative_to(ROOT).as_posix() for p in files]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", heading.strip().lower()))


@cache
def page(name: str) -> tuple[frozenset, frozenset] | None:
    """``(section numbers, anchors)`` of ``docs/<name>.md``, None if there is no such page."""
    path = DOCS / f"{Path(name).stem}.md"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M)
    numbers = {m.group(1).rstrip(".") for h in headings if (m := re.match(rf"({SECTION}\.?)(?:\s|$)", h))}
    numbers |= {h.split(".")[0] for h in headings if re.match(r"[A-Z]\.\s", h)}  # "## B. Bag of words" is part B
    anchors = set(re.findall(r'<a id="([^"]+)"', text)) | {_slug(h) for h in headings}
    return frozenset(numbers), frozenset(anchors)


def unresolved(path: str) -> list[str]:
    """The citations of one file that do not resolve, as ``line: citation (why)``."""
    text = (ROOT / path).read_text(encoding="utf-8")
    problems = []

    def report(position, citation, why):
        problems.append(f"{path}:{text.count(chr(10), 0, position) + 1}: {citation!r} ({why})")

    for match in NOTES.finditer(text):
        report(match.start(), match.group(), "the research notes' own reference: cite the paper by authors and year")
    for match in CHAIN.finditer(text):
        qualifier = match["file"]
        if qualifier is not None and Path(qualifier).stem.lower() not in FILES_WITH_SECTIONS and \
                not qualifier.lower().endswith(".md"):
            qualifier = None  # an ordinary word before a bare "§"
        if match["spec"] or match["bare_spec"]:
            report(match.start(), match.group(), "the notes are not in the repository: cite docs/math.md")
            continue
        target = Path(qualifier).stem if qualifier else "math"
        sections = page(target)
        if sections is None:
            report(match.start(), match.group(), f"no page docs/{target}.md")
            continue
        for number in re.findall(rf"§\s*({SECTION})", match["chain"]):
            if number not in sections[0]:
                report(match.start(), match.group(), f"docs/{target}.md has no section {number}")
    for match in ANCHOR.finditer(text):
        target = page(match["file"])
        if target is None or match["anchor"] not in target[1]:
            report(match.start(), match.group(), f"no anchor #{match['anchor']} in docs/{Path(match['file']).name}")
    return problems


@pytest.mark.parametrize("path", scanned_files())
def test_every_citation_resolves(path):
    problems = unresolved(path)
    assert not problems, "unresolved citations (tools/fix_citations.py converts most):\n" + "\n".join(problems)


def test_the_checker_and_the_converter_agree_on_examples():
    """A citation of each kind fails the check, and resolves once tools/fix_citations.py has rewritten it."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from fix_citations import rewrite
    finally:
        sys.path.remove(str(ROOT / "tools"))
    examples = ["spec ``neural.md`` §3.2, §3.4", "spec §14.4", "seed 001 §4.2", "[SEED-004]", "peers.md §1.1–1.4, §2.1",
                "bow.md §2.3", "(spec neural.md §6.1(d))", "[BACH15] Fig 6", "Table 4 of the seed (spec §14.6)"]
    bow_examples = ["(§4.5)", "bow.md §3.1 S14 and spec ``neural.md`` §3.2"]
    for text, bow_file in [(e, False) for e in examples] + [(e, True) for e in bow_examples]:
        before, after = _problems_of(text), _problems_of(rewrite(text, bow_file=bow_file))
        assert before or text.startswith("(§"), f"{text!r} should not resolve as it is"
        assert not after, f"{text!r} -> {rewrite(text, bow_file=bow_file)!r}: {after}"
    assert rewrite("(§4.5)", bow_file=True) == "(§B4.5)"
    assert rewrite("seed 001 §4.2") == "Chen et al. 2024, Sec. 4.2"
    assert rewrite("peers.md §1.1") == "math.md §P1.1"
    assert rewrite("the γ rule [V].") == "the γ rule."
    for code in ("        return [R]\n", "edges = [R]", "f(a, [D])"):  # code that looks like a provenance tag stays
        assert rewrite(code) == code
    assert _problems_of("math.md §3.99") and _problems_of("docs/math.md#no-such-anchor")
    assert not _problems_of("docs/math.md#lrp-epsilon and math.md §15.18")


def _problems_of(text: str) -> list[str]:
    scratch = ROOT / "docs" / ".citation-probe.md"  # a scratch file read like any other
    scratch.write_text(text, encoding="utf-8")
    try:
        return unresolved(scratch.relative_to(ROOT).as_posix())
    finally:
        scratch.unlink()
