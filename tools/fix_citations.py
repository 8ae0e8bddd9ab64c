"""Rewrite citations of the research notes into citations that resolve inside the repository.

The notes the code was written from are not part of the repository; their content is
``docs/math.md``, whose sections keep the notes' numbers:

========================================  ==========================================
cited as                                  becomes
========================================  ==========================================
``spec `neural.md` §3.2``, ``neural §3.2``  ``math.md §3.2``   (sections 1–15)
``spec §3.2`` (the neural notes)          ``math.md §3.2``
``bow.md §2.3``, ``bow §2.3``              ``math.md §B2.3``  (part B, bag of words)
``peers.md §1.1``, ``peers §1.1``          ``math.md §P1.1``  (part P, the peers)
a bare ``§2.3`` after one of the above    the same part (``§B2.3`` after ``bow.md``)
a bare ``§2.3`` in a bag-of-words file    ``§B2.3`` (files whose path contains ``bow``)
``seed 001 §4.2``, ``[SEED-001 §4.2]``    ``Chen et al. 2024, Sec. 4.2`` (papers by authors and year)
``seed 004``                              ``Montavon et al. 2019``
``[BACH15]``, ``[LAP16]``                 ``Bach et al. 2015``, ``Lapuschkin et al. 2016``
``spec Example B``                        ``Example B``
``seed §4.3``, ``the seed's``             ``Chen et al. 2024, Sec. 4.3``, ``Chen et al.'s``
``[D]``, ``[R]``, ``[V]``, ``[S]``        removed (the notes' provenance tags)
========================================  ==========================================

Usage: ``python tools/fix_citations.py FILE...`` rewrites the files in place and prints what
changed; ``--check`` only prints and exits 1 when something would change.
``tests/test_citations.py`` fails on any citation that does not resolve.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

PARTS = {"neural": "", "bow": "B", "peers": "P"}  # notes file -> section prefix in docs/math.md
SEEDS = {"000": "Bach et al. 2015", "001": "Chen et al. 2024", "003": "Bach et al. 2015",
         "004": "Montavon et al. 2019"}
TAGS = {"BACH15": "Bach et al. 2015", "LAP16": "Lapuschkin et al. 2016"}

SECTION = r"[A-Z]?\d+(?:\.\d+)*"
QUOTE = r"(?:``|`)?"
SEPARATOR = r"(?:\s*(?:,|;|–|-|and|or|/)\s*|\s+)"
# a chain of sections, optionally qualified by a notes file ("spec ``neural.md`` §3.2, §3.4", "bow.md §2.3",
# "peers §1.1"), by "spec" (the neural notes) or by "math.md" (already converted)
CITATION = re.compile(
    rf"(?P<qualifier>(?:the\s+)?(?:spec\s+)?{QUOTE}(?P<file>neural|bow|peers)(?:\.md)?{QUOTE}\s*|\bspec\s+|math\.md\s+)?"
    rf"(?P<chain>§\s*{SECTION}(?:\s*[–-]\s*§?{SECTION})?(?:{SEPARATOR}§\s*{SECTION}(?:\s*[–-]\s*§?{SECTION})?)*)")
SEED = re.compile(r"\[?\bSEED-(?P<n>\d{3})(?:\s*(?P<sec>§[^\]]*))?\]|\bseed\s+(?P<m>\d{3})(?:\s+§\s*(?P<sec2>\d+(?:\.\d+)*))?",
                  re.IGNORECASE)
TAG = re.compile(r"\[(?P<tag>" + "|".join(TAGS) + r")\]")
PHRASES = [  # (pattern, replacement): wordings of the notes that mean nothing without them
    (r"\bseed\s+§\s*(\d+(?:\.\d+)*)", r"Chen et al. 2024, Sec. \1"),   # "the seed" is Chen et al. 2024 in the notes
    (r"\bthe seed's\b", "Chen et al.'s"),
    (r"\bof the seed\b", "of Chen et al. 2024"),
    (r"\b[Ss]pec\s+(Example\s+[A-Z])", r"\1"),
    (r"\bSpec\s+(?=§)", "math.md "),
    (r"\bspec identity (\d+)", r"math.md §9 identity \1"),
    (r"\bthe spec's default\b", "lrpref's default"),
    (r"(?<!return)(?<![=(,\[]) \[[DRVS]\](?!\w)", ""),                   # the notes' provenance tags (not code: return [R])
]
NEURAL_NOTES = re.compile(rf"(?:the\s+)?(?:spec\s+)?{QUOTE}neural\.md{QUOTE}(?!\s*§)")


def _seed(match) -> str:
    number = match["n"] or match["m"]
    name = SEEDS.get(number, f"seed {number}")
    section = (match["sec"] or match["sec2"] or "").strip().lstrip("§").strip()
    return f"{name}, Sec. {section}" if section else name


def _citation(match, bow_file: bool) -> str:
    """One chain of sections, every number given its part's prefix; qualified chains become ``math.md §…``."""
    qualifier = match["qualifier"]
    if match["file"]:
        prefix = PARTS[match["file"]]
    elif qualifier:  # "spec §…" (the neural notes) or "math.md §…" (converted already: numbers are part 1-15)
        prefix = ""
    else:  # a bare "§…": the bag-of-words notes in a bag-of-words file, else sections 1-15
        prefix = "B" if bow_file else ""
    chain = re.sub(rf"§\s*(?P<id>{SECTION})",
                   lambda m: "§" + (m["id"] if m["id"][0].isalpha() else prefix + m["id"]), match["chain"])
    return ("math.md " if qualifier else "") + chain


def rewrite(text: str, bow_file: bool = False) -> str:
    """``text`` with every notes citation pointing into docs/math.md and seeds named by authors and year."""
    text = SEED.sub(_seed, text)
    for name in set(SEEDS.values()):  # "Chen et al. 2024 (Chen et al. 2024, Sec. 4.2" -> "Chen et al. 2024 (Sec. 4.2"
        text = text.replace(f"{name} ({name}, ", f"{name} (").replace(f"{name} ({name})", name)
    text = TAG.sub(lambda m: TAGS[m["tag"]], text)
    for pattern, replacement in PHRASES:
        text = re.sub(pattern, replacement, text)
    text = CITATION.sub(lambda m: _citation(m, bow_file), text)
    return NEURAL_NOTES.sub("docs/math.md", text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="print what would change, exit 1 if anything would")
    args = parser.parse_args(argv)
    changed = 0
    for path in args.files:
        old = path.read_text(encoding="utf-8")
        new = rewrite(old, bow_file="bow" in path.as_posix())
        if new != old:
            changed += 1
            print(f"{path}: {sum(a != b for a, b in zip(old.splitlines(), new.splitlines()))} line(s) rewritten")
            if not args.check:
                path.write_text(new, encoding="utf-8")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
