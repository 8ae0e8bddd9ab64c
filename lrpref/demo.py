"""``lrpref demo``: the bundled models explained, scored and written up as an HTML report.

1. Textures, a question with a known answer (the bundled texture CNN, 64×64 grey crops of
   brick, grass and gravel): a 32×32 patch of one texture pasted into another, explained for
   the patch's class by LRP-ε, the EpsilonGammaBox and EpsilonPlus composites, DeepLIFT,
   LID-IG, SIG-LID-IG and the gradient baselines. Over ``count`` composites: the relevance
   mass and the rank accuracy inside the patch (Arras et al. 2022), with 95 % confidence
   intervals and paired comparisons (:func:`localisation`, also ``benchmarks/localisation.py``).
2. Digits (the bundled 8×8 CNN): a few test digits explained by five methods, and the
   conservation ledger of one explanation as bars and as a table.
3. Evaluation: region perturbation (MoRF, 2×2 regions, uniform noise, a fixed random state)
   on ``count`` test digits, the AOPC of every method against gradient baselines and random
   maps, with confidence intervals.
4. Bag of words (Bach et al. 2015): a brick patch pasted into grass under the texture SVM,
   and a face under the face/non-face SVM, explained pixel by pixel.

Everything is offline and runs in well under a minute on two cores; the report is
``OUT/index.html`` with the figures embedded and saved next to it as PNG files. A progress bar
shows on a terminal (stderr).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import presets, viz
from ._progress import progress
from .datasets import TEXTURES, digits_split, faces_split, load_bow, load_network, texture_composites
from .evaluate import mean_interval, paired_difference, region_perturbation, relevance_mass_accuracy, \
    relevance_rank_accuracy
from .explain import explain
from .report import Report
from .rules import Epsilon

__all__ = ["run", "localisation", "significance", "DIGIT_METHODS", "TEXTURE_METHODS", "MIN_COUNT", "MAX_COUNT"]

MIN_COUNT, MAX_COUNT = 2, 450  # a confidence interval needs two values; digits_split() has 450 test digits
LEVEL = 0.95

# name -> keyword arguments of lrpref.explain
DIGIT_METHODS = {
    "LRP-ε (0.25)": dict(rule=Epsilon(0.25)),
    "EpsilonGammaBox": dict(rule=presets.EpsilonGammaBox(low=0.0, high=1.0)),
    "DeepLIFT": dict(method="deeplift"),
    "LID-IG (n=10)": dict(method="lid-ig", steps=10),
    "SIG-LID-IG (n=10)": dict(method="sig-lid-ig", steps=10),
}
BASELINES = {
    "gradient × input": dict(method="gradient-x-input"),
    "sensitivity": dict(method="gradient"),
}
TEXTURE_METHODS = {
    "LRP-ε (0.25)": dict(rule=Epsilon(0.25)),
    "EpsilonGammaBox": dict(rule=presets.EpsilonGammaBox(low=0.0, high=1.0)),
    "EpsilonPlus": dict(rule=presets.EpsilonPlus()),
    "DeepLIFT": dict(method="deeplift"),
    "LID-IG (n=10)": dict(method="lid-ig", steps=10),
    "SIG-LID-IG (n=10)": dict(method="sig-lid-ig", steps=10),
    **BASELINES,
}
RANDOM = "random maps"
PATCH = 32  # side of the pasted patch in the 64×64 composites: a quarter of the image


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _normalised(relevance):
    """Each map of a batch divided by its own ``max |R|`` (channels summed), so one colour scale ±1 fits all."""
    maps = relevance.sum(axis=1) if relevance.ndim == 4 else relevance
    scale = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    return maps / np.where(scale > 0, scale, 1.0)[:, None, None]


SHARED_SCALE = "relevance ÷ max |R| of its map"


# --------------------------------------------------------------------------- statistics in words


def significance(per_sample: dict, what: str, chance: float | None = None, level: float = LEVEL) -> str:
    """A sentence on what the means of ``per_sample`` (``{method: values on the same samples}``) do and do not show.

    The best method is compared with the runner-up by the paired difference (same samples);
    methods whose paired difference with ``RANDOM`` (when present) has an interval containing
    0 are named as not distinguishable from random maps; ``chance`` is the value of a map that
    knows nothing, for the record.
    """
    means = {name: mean_interval(values, level) for name, values in per_sample.items()}
    ranked = sorted(means, key=lambda name: -means[name].mean)
    best, second = ranked[0], ranked[1]
    gap = paired_difference(per_sample[best], per_sample[second], level)
    verdict = "significant" if gap.excludes(0) else "not significant"
    sentence = (f"Highest {what}: {best} ({means[best]}). Its lead over {second} is {gap.mean:.3f} "
                f"(paired {level:.0%} interval [{gap.low:.3f}, {gap.high:.3f}]): {verdict} at the "
                f"{1 - level:.0%} level.")
    if RANDOM in per_sample:
        tied = [name for name in ranked if name != RANDOM
                and not paired_difference(per_sample[name], per_sample[RANDOM], level).excludes(0)]
        below = [name for name in ranked if name != RANDOM and means[name].high < means[RANDOM].low]
        sentence += (" Not distinguishable from random maps: " + (", ".join(tied) if tied else "none") + ".")
        if below:
            sentence += " Worse than random maps: " + ", ".join(below) + "."
    if chance is not None:
        sentence += f" A map that knows nothing scores about {chance:.2f}."
    return sentence + (" Intervals are per comparison; with many comparisons a few may exclude 0 by chance.")


def _interval_table(report, per_sample: dict, columns: dict, caption: str) -> None:
    """A table: method, then per metric its mean and confidence interval, best first (by the first metric)."""
    first = next(iter(columns))
    intervals = {metric: {name: mean_interval(values[metric], LEVEL) for name, values in per_sample.items()}
                 for metric in columns}
    order = sorted(per_sample, key=lambda name: -intervals[first][name].mean)
    header = ["method"] + [f"{label} (mean, {LEVEL:.0%} interval)" for label in columns.values()]
    rows = [[name] + [str(intervals[metric][name]) for metric in columns] for name in order]
    report.table(header, rows, caption=caption)


# --------------------------------------------------------------------------- textures


def localisation(count: int = 120, seed: int = 0, log=None) -> tuple[dict, object]:
    """``({method: {"mass": (count,), "rank": (count,)}}, composites)``: the texture CNN's localisation test.

    ``count`` composites of :func:`lrpref.datasets.texture_composites` (seed ``seed``) are
    explained for the **patch's** class by every method of :data:`TEXTURE_METHODS` and by
    random maps (uniform in [−1, 1], seed ``seed``). ``mass`` is the relevance mass accuracy
    (the share of positive relevance inside the patch), ``rank`` the relevance rank accuracy
    (the share of the ``32²`` highest-ranked pixels inside the patch). A map that knows
    nothing scores about the patch's share of the image, 1/4, on both.
    """
    net, _ = load_network("texture_cnn")
    composites = texture_composites(count, patch_size=PATCH, seed=seed)
    maps = {}
    for name, kwargs in progress(TEXTURE_METHODS.items(), "explaining composites", total=len(TEXTURE_METHODS)):
        maps[name] = explain(net, composites.images, target=composites.patch, **kwargs).relevance
    maps[RANDOM] = np.random.default_rng(seed).uniform(-1, 1, size=composites.images.shape)
    scores = {name: {"mass": relevance_mass_accuracy(relevance, composites.masks).values,
                     "rank": relevance_rank_accuracy(relevance, composites.masks).values}
              for name, relevance in maps.items()}
    if log is not None:
        log(f"textures: {len(maps)} methods localised on {count} composites")
    return scores, composites


def _texture_figure(net):
    """Rows: four composites (each texture as the patch once); columns: the input alone, then the maps of a few
    methods over it, the patch outlined. The composites are a fixed set, whatever the demo's count."""
    methods = ["EpsilonPlus", "EpsilonGammaBox", "LRP-ε (0.25)", "DeepLIFT", "gradient × input"]
    composites = texture_composites(24, patch_size=PATCH, seed=0)
    shown = [int(np.flatnonzero(composites.patch == k)[0]) for k in range(len(TEXTURES))]
    shown.append(next(n for n in range(24) if n not in shown))
    images, masks, patch = composites.images[shown], composites.masks[shown], composites.patch[shown]
    scores = net(images)
    figure = _figure(1.75 * (len(methods) + 1) + 0.6, 1.95 * len(shown))
    axes = figure.subplots(len(shown), len(methods) + 1)
    for col, name in enumerate(methods, start=1):
        maps = _normalised(explain(net, images, target=patch, **TEXTURE_METHODS[name]).relevance)
        for row in range(len(shown)):
            viz.overlay(images[row, 0], maps[row], axes[row, col], limit=1.0, image_alpha=0.6,
                        title=name if row == 0 else None)
            axes[row, col].contour(masks[row], [0.5], colors="black", linewidths=0.8, linestyles="--")
    for row in range(len(shown)):
        predicted = int(np.argmax(scores[row]))
        target = TEXTURES[patch[row]]
        ax = axes[row, 0]
        ax.imshow(images[row, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(("input\n" if row == 0 else "") + f"{target} patch in {TEXTURES[composites.background[shown[row]]]}",
                     fontsize=8)
        ax.set_xlabel(f"predicted {TEXTURES[predicted]} ({scores[row, predicted]:.1f})", fontsize=7)
        for col in range(1, len(methods) + 1):
            axes[row, col].set_xlabel(f"explains {target} ({scores[row, patch[row]]:.1f})", fontsize=7)
        for ax in axes[row]:
            ax.title.set_fontsize(8)
    viz.colorbar(figure, axes, 1.0, label=SHARED_SCALE, shrink=0.5)
    return figure


def _textures(report, count, log):
    net, meta = load_network("texture_cnn")
    scores, _ = localisation(count, log=log)
    report.section("Textures: does the relevance land on the pasted patch?")
    report.text(f"The bundled texture CNN (test accuracy {meta['test_accuracy']:.1%} on 64×64 crops of brick, grass and "
                f"gravel) sees composites with a known answer: a {PATCH}×{PATCH} patch of one texture pasted at a random "
                "place into a 64×64 crop of another, all from test pixels. Each method explains the score of the "
                "patch's class (the label under each map: the class explained and its score), so the evidence for it "
                "should lie inside the patch (dashed square). The maps are drawn over the faded input; red is evidence "
                "for the class, blue against it, each map divided by its own largest |R| (one colour bar for all).")
    report.figure(_texture_figure(net), "textures.png",
                  "Texture composites: the input alone (left; its predicted class and score below), then where five "
                  "methods find evidence for the patch's class.")
    report.text(f"Over {count} composites: relevance mass accuracy = the share of the positive relevance inside the "
                "patch; rank accuracy = the share of the patch-sized set of highest-ranked pixels inside the patch "
                "(Arras et al. 2022). The patch covers a quarter of the image, so a map that knows nothing scores "
                "about 0.25 on both.")
    per_sample = {name: values for name, values in scores.items()}
    _interval_table(report, per_sample, {"mass": "relevance mass in the patch", "rank": "rank accuracy in the patch"},
                    caption=f"Localisation of the patch over {count} composites, best relevance mass first.")
    figure = _figure(9.5, 0.9 + 0.3 * len(scores))
    mass_ax, rank_ax = figure.subplots(1, 2, sharey=False)
    viz.interval_plot({name: mean_interval(v["mass"], LEVEL) for name, v in scores.items()}, mass_ax,
                      xlabel="relevance mass in the patch", reference=0.25)
    viz.interval_plot({name: mean_interval(v["rank"], LEVEL) for name, v in scores.items()}, rank_ax,
                      xlabel="rank accuracy in the patch", reference=0.25)
    report.figure(figure, "localisation.png", f"Means over {count} composites with {LEVEL:.0%} confidence intervals; "
                                              "the dotted line is chance (0.25).")
    for metric, what in (("mass", "relevance mass"), ("rank", "rank accuracy")):
        report.text(significance({name: v[metric] for name, v in scores.items()}, what, chance=0.25))


# --------------------------------------------------------------------------- digits


def _digits(report, net, x, y, log):
    shown = np.array([np.flatnonzero(y == digit)[0] for digit in range(6)])
    explanations = {name: explain(net, x[shown], **kwargs) for name, kwargs in DIGIT_METHODS.items()}
    logits = net(x[shown])
    figure = _figure(1.55 * (len(DIGIT_METHODS) + 1) + 0.7, 1.75 * len(shown))
    axes = figure.subplots(len(shown), len(DIGIT_METHODS) + 1)
    for row, n in enumerate(shown):
        predicted = int(np.argmax(logits[row]))
        axes[row, 0].imshow(x[n, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_title(("input\n" if row == 0 else "") + f"label {y[n]}", fontsize=8)
        axes[row, 0].set_xlabel(f"predicted {predicted} ({logits[row, predicted]:.1f})", fontsize=7)
        for col, (name, ex) in enumerate(explanations.items(), start=1):
            ax = viz.heatmap(_normalised(ex.relevance), axes[row, col], sample=row, limit=1.0,
                             title=name if row == 0 else None)
            ax.title.set_fontsize(8)
            explained = int(ex.target[row])
            ax.set_xlabel(f"class {explained} ({logits[row, explained]:.1f}) · ΣR {ex.relevance[row].sum():.1f}",
                          fontsize=7)
    viz.colorbar(figure, axes, 1.0, label=SHARED_SCALE, shrink=0.5)
    report.section("Digits: five explanations of the bundled CNN")
    report.text("Each row is a test digit (left: the input alone, its label, and the class the CNN predicts with its "
                "logit), each column a method explaining the predicted class (under each map: that class, its logit, "
                "and ΣR, what the method distributed); red is relevance for it, blue against it, white none. Each map "
                "is divided by its own largest |R| (one colour bar for all). LRP-ε and the EpsilonGammaBox composite explain the logit; "
                "DeepLIFT, LID-IG and SIG-LID-IG explain its increment over the all-zero reference (SIG-LID-IG: the "
                "increment of the class probability).")
    report.figure(figure, "digits.png", "Relevance of six test digits under five methods (columns).")
    rows = []
    for name, ex in explanations.items():
        total = ex.relevance.reshape(len(shown), -1).sum(1)
        top = ex.top.reshape(len(shown), -1).sum(1)
        rows.append([name, float(np.mean(top)), float(np.mean(total)), float(np.max(np.abs(ex.conservation.as_dict()["residual"])))])
    report.table(["method", "mean Σ top relevance", "mean Σ input relevance", "max |residual| of the ledger"], rows,
                 caption="What each method distributes, and how well the books balance (absorbed relevance is reported "
                         "by kind in the ledger, not counted as residual).")
    ex = explanations["LRP-ε (0.25)"]
    report.section("The conservation ledger")
    report.text(f"Per layer, for the first digit (label {y[shown[0]]}) under LRP-ε: the relevance received from above, "
                "passed down, and absorbed by the bias and the ε stabiliser. Received = passed + absorbed + residual, "
                "the residual at round-off.")
    report.figure(viz.conservation_bars(ex, sample=0, title=f"LRP-ε (0.25), digit {y[shown[0]]}"), "ledger.png",
                  "LRP-ε: the conservation ledger of the first digit.")
    report.code(ex.conservation.sample(0))
    log(f"digits: {len(DIGIT_METHODS)} methods on {len(shown)} test digits")


def _evaluation(report, net, x, log, count=120, seed=0):
    x = x[:count]
    maps = {name: explain(net, x, **kwargs).relevance for name, kwargs in {**DIGIT_METHODS, **BASELINES}.items()}
    maps[RANDOM] = np.random.default_rng(seed).uniform(-1, 1, size=x.shape)
    results = {name: region_perturbation(net, x, relevance, region_size=2, replacement="uniform", random_state=seed)
               for name, relevance in maps.items()}
    per_sample = {name: {"aopc": result.aopc_per_sample} for name, result in results.items()}
    report.section("Evaluation: region perturbation (AOPC)")
    report.text(f"The {count} first test digits; the 16 non-overlapping 2×2 regions are replaced by uniform noise in "
                "order of decreasing relevance (MoRF) and the logit of the predicted class is recorded after each "
                "step. AOPC = mean over steps k = 0..L of f(x) − f(x⁽ᵏ⁾): higher means the map found what the "
                "model uses. Gradient baselines and random maps for comparison (Samek et al. 2017).")
    _interval_table(report, per_sample, {"aopc": "AOPC (MoRF)"},
                    caption=f"AOPC over {count} test digits, best first.")
    figure = _figure(11, 3.6)
    curves_ax, intervals_ax = figure.subplots(1, 2, width_ratios=(1.25, 1))
    viz.perturbation_curve({name: result.scores for name, result in results.items()}, band=False, ax=curves_ax,
                           ylabel="logit f(x⁽ᵏ⁾)")
    viz.interval_plot({name: mean_interval(result.aopc_per_sample, LEVEL) for name, result in results.items()},
                      intervals_ax, xlabel="AOPC", title="AOPC")
    report.figure(figure, "perturbation.png", "Left: mean logit after removing the k most relevant regions (MoRF). "
                                              f"Right: the AOPC of each method with its {LEVEL:.0%} confidence interval.")
    report.text(significance({name: v["aopc"] for name, v in per_sample.items()}, "AOPC"))
    log("evaluation: " + ", ".join(f"{name} {result.aopc:.3f}" for name, result in results.items()))
    return {name: result.aopc for name, result in results.items()}


def _bag_of_words(report, log):
    from skimage import data
    from skimage.util import img_as_float

    from . import bow

    report.section("Bag of words: a texture and a face, pixel by pixel")
    report.text("Bach et al. 2015: dense HOG features, soft coding on a visual vocabulary, a histogram-intersection "
                "SVM; the decision f(x) is decomposed onto the histogram dimensions, the local features and the "
                "pixels. f > 0 is a vote for the class, f < 0 a vote against it; in both cases red marks what speaks "
                "for the class and blue what speaks against it. Each panel title gives the layer's total: they agree "
                "with f(x).")
    model, _ = load_bow("texture")
    image = img_as_float(data.grass())[300:428, 300:428].copy()
    image[32:96, 40:104] = img_as_float(data.brick())[300:364, 300:364]
    ex = bow.explain(model, image, target="brick")
    vote = "for" if ex.f > 0 else "against"
    report.figure(viz.bow_maps(ex, image, target_name="brick"), "bow-texture.png",
                  f"Texture SVM, a brick patch pasted into grass, explained for the class 'brick': f = {ex.f:.3f}, a vote "
                  f"{vote} 'brick' (the one-vs-rest SVM scores the whole image, mostly grass); the red pixels sit on the "
                  "patch.")
    faces, _ = load_bow("faces")
    _, images, _, labels = faces_split()
    face = images[int(np.flatnonzero(labels == 1)[0])]
    ex_face = bow.explain(faces, face, target=1)
    report.figure(viz.bow_maps(ex_face, face, target_name="face"), "bow-face.png",
                  f"Face SVM, a test face explained for the class 'face' (label 1): f = {ex_face.f:.3f}.")
    log(f"bag of words: texture f = {ex.f:.3f}, face f = {ex_face.f:.3f}")


def run(out, count: int = 120, log=print) -> Path:
    """Write the demo report into the folder ``out``; returns the path of its ``index.html``.

    ``count``: the test digits scored by region perturbation and the texture composites
    localised (2 .. :data:`MAX_COUNT`; a confidence interval needs two values).
    """
    if not MIN_COUNT <= count <= MAX_COUNT:
        raise ValueError(f"count must be between {MIN_COUNT} and {MAX_COUNT}, got {count}")
    start = time.perf_counter()
    net, meta = load_network("digits_cnn")
    _, x_test, _, y_test = digits_split()
    x = x_test.reshape(-1, 1, 8, 8)
    report = Report("lrpref demo: LRP and friends on bundled models")
    report.text(f"Bundled models: the texture CNN, {meta['name']} (test accuracy {meta['test_accuracy']:.1%}), the "
                "texture and face bag-of-words SVMs. Made by lrpref demo, offline.")
    stages = [lambda: _textures(report, count, log), lambda: _digits(report, net, x, y_test, log),
              lambda: _evaluation(report, net, x, log, count=count), lambda: _bag_of_words(report, log)]
    for stage in progress(stages, "lrpref demo"):
        stage()
    page = report.write(out)
    log(f"report written to {page} ({time.perf_counter() - start:.1f} s)")
    return page
