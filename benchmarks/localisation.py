"""Localisation with a known answer: does the relevance land on a pasted texture patch? (issue 13)

The bundled texture CNN (``data/scripts/make_texture_cnn.py``) sees ``COUNT`` composites of
``lrpref.datasets.texture_composites`` (seed 0): a 32×32 patch of one of brick / grass /
gravel pasted at a random place into a 64×64 crop of another, all from test pixels. Every
method of ``lrpref.demo.TEXTURE_METHODS`` and random maps explain the patch's class; per
composite, the relevance mass accuracy (share of positive relevance inside the patch) and the
relevance rank accuracy (share of the 32² highest-ranked pixels inside it; Arras et al. 2022).
The table gives means with 95 % Student-t intervals, best first; below it, paired comparisons
(same composites) of each method with the next one and with random maps. Accuracy-type
numbers only: the run takes about a minute and is not timed.

    python benchmarks/localisation.py [COUNT]
"""

from __future__ import annotations

import sys

from lrpref.demo import LEVEL, localisation, significance
from lrpref.evaluate import mean_interval, paired_difference

COUNT = 300


def table(scores) -> str:
    """The Markdown table: method, mass and rank accuracy with their intervals, best mass first."""
    intervals = {name: {metric: mean_interval(values[metric], LEVEL) for metric in ("mass", "rank")}
                 for name, values in scores.items()}
    order = sorted(scores, key=lambda name: -intervals[name]["mass"].mean)
    lines = [f"| method | relevance mass in the patch ({LEVEL:.0%} CI) | rank accuracy in the patch ({LEVEL:.0%} CI) |",
             "|---|---|---|"]
    lines += [f"| {name} | {intervals[name]['mass']} | {intervals[name]['rank']} |" for name in order]
    return "\n".join(lines)


def comparisons(scores, metric) -> str:
    """Paired differences of consecutive methods (ranked by ``metric``) and of each method with random maps."""
    means = {name: mean_interval(values[metric], LEVEL).mean for name, values in scores.items()}
    order = sorted(scores, key=lambda name: -means[name])
    lines = []
    for better, worse in zip(order, order[1:]):
        gap = paired_difference(scores[better][metric], scores[worse][metric], LEVEL)
        lines.append(f"  {better} − {worse}: {gap} {'significant' if gap.excludes(0) else 'not significant'}")
    return "\n".join(lines)


def main(count: int = COUNT) -> None:
    scores, _ = localisation(count)
    print(f"{count} composites, target = the patch's class\n")
    print(table(scores))
    for metric, what in (("mass", "relevance mass"), ("rank", "rank accuracy")):
        print(f"\n{what}, paired differences of neighbours in the ranking ({LEVEL:.0%} CI):")
        print(comparisons(scores, metric))
        print(significance({name: values[metric] for name, values in scores.items()}, what, chance=0.25))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else COUNT)
