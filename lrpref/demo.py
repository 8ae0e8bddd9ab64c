"""``lrpref demo``: the bundled models explained, scored and written up as an HTML report.

1. Digits (the bundled 8×8 CNN, 98.4 % test accuracy): a few test digits explained with
   LRP-ε, the EpsilonGammaBox composite, DeepLIFT, LID-IG and SIG-LID-IG (n = 10); the
   conservation ledger of one explanation as bars and as a table.
2. Evaluation: region perturbation (MoRF, 2×2 regions, uniform noise, a fixed random state)
   on test digits, AOPC of every method against gradient baselines (sensitivity, gradient ×
   input) and random maps.
3. Bag of words (Bach et al. 2015): a brick patch pasted into grass under the texture SVM,
   and a face under the face/non-face SVM, explained pixel by pixel.

Everything is offline and runs in well under a minute on two cores; the report is
``OUT/index.html`` with the figures embedded and saved next to it as PNG files.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import presets, viz
from .datasets import digits_split, faces_split, load_bow, load_network
from .evaluate import region_perturbation
from .explain import explain
from .report import Report
from .rules import Epsilon

__all__ = ["run", "DIGIT_METHODS", "MAX_COUNT"]

MAX_COUNT = 450  # the test digits of digits_split()

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


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _digits(report, net, x, y, log):
    shown = np.array([np.flatnonzero(y == digit)[0] for digit in range(6)])
    explanations = {name: explain(net, x[shown], **kwargs) for name, kwargs in DIGIT_METHODS.items()}
    figure = _figure(1.6 * (len(DIGIT_METHODS) + 1), 1.7 * len(shown))
    axes = figure.subplots(len(shown), len(DIGIT_METHODS) + 1)
    for row, n in enumerate(shown):
        axes[row, 0].imshow(x[n, 0], cmap="gray_r")
        axes[row, 0].set_axis_off()
        axes[row, 0].set_title(f"label {y[n]}", fontsize=8)
        for col, (name, ex) in enumerate(explanations.items(), start=1):
            viz.heatmap(ex.relevance, axes[row, col], sample=row, title=name if row == 0 else None)
            axes[row, col].title.set_fontsize(8)
    report.section("Digits: five explanations of the bundled CNN")
    report.text("Each row is a test digit, each column a method; red is relevance for the predicted class, blue "
                "against it, white none (each map scaled to its own maximum). LRP-ε and the EpsilonGammaBox composite "
                "explain the logit; DeepLIFT, LID-IG and SIG-LID-IG explain its increment over the all-zero reference "
                "(SIG-LID-IG: the increment of the class probability).")
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
    report.text("Per layer, for the first digit: the relevance received from above, passed down, and absorbed by the "
                "bias and the ε stabiliser. Received = passed + absorbed + residual, the residual at round-off.")
    report.figure(viz.conservation_bars(ex, sample=0), "ledger.png", "LRP-ε: the conservation ledger of the first digit.")
    report.code(ex.conservation.sample(0))
    log(f"digits: {len(DIGIT_METHODS)} methods on {len(shown)} test digits")


def _evaluation(report, net, x, log, count=120, seed=0):
    x = x[:count]
    maps = {name: explain(net, x, **kwargs).relevance for name, kwargs in {**DIGIT_METHODS, **BASELINES}.items()}
    maps["random"] = np.random.default_rng(seed).uniform(-1, 1, size=x.shape)
    results = {name: region_perturbation(net, x, relevance, region_size=2, replacement="uniform", random_state=seed)
               for name, relevance in maps.items()}
    ranked = sorted(results.items(), key=lambda item: -item[1].aopc)
    report.section("Evaluation: region perturbation (AOPC)")
    report.text(f"The {count} first test digits; the 16 non-overlapping 2×2 regions are replaced by uniform noise in "
                "order of decreasing relevance (MoRF) and the logit of the predicted class is recorded after each "
                "step. AOPC = mean over steps k = 0..L of f(x) − f(x⁽ᵏ⁾): higher means the map found what the "
                "model uses. Gradient baselines and random maps for comparison (Samek et al. 2017).")
    report.table(["method", "AOPC (MoRF)", "std over digits"],
                 [[name, result.aopc, float(np.std(result.aopc_per_sample))] for name, result in ranked])
    ax = viz.perturbation_curve({name: result.scores for name, result in results.items()}, band=False,
                                ax=_figure(6, 4).add_subplot())
    report.figure(ax.figure, "perturbation.png", "Mean logit after removing the k most relevant regions (MoRF).")
    log("evaluation: " + ", ".join(f"{name} {result.aopc:.3f}" for name, result in ranked))
    return {name: result.aopc for name, result in results.items()}


def _bag_of_words(report, log):
    from skimage import data
    from skimage.util import img_as_float

    from . import bow

    report.section("Bag of words: a texture and a face, pixel by pixel")
    report.text("Bach et al. 2015: dense HOG features, soft coding on a visual vocabulary, a histogram-intersection "
                "SVM; the decision is decomposed onto the histogram dimensions, the local features and the pixels. "
                "Each panel title gives the layer's total: they agree with the decision value f(x).")
    model, _ = load_bow("texture")
    image = img_as_float(data.grass())[300:428, 300:428].copy()
    image[32:96, 40:104] = img_as_float(data.brick())[300:364, 300:364]
    ex = bow.explain(model, image, target="brick")
    report.figure(viz.bow_maps(ex, image), "bow-texture.png",
                  f"Texture SVM, class 'brick' for a brick patch pasted into grass (f = {ex.f:.3f}).")
    faces, _ = load_bow("faces")
    _, images, _, labels = faces_split()
    face = images[int(np.flatnonzero(labels == 1)[0])]
    ex_face = bow.explain(faces, face, target=1)
    report.figure(viz.bow_maps(ex_face, face), "bow-face.png", f"Face SVM, class 'face' (f = {ex_face.f:.3f}).")
    log(f"bag of words: texture f = {ex.f:.3f}, face f = {ex_face.f:.3f}")


def run(out, count: int = 120, log=print) -> Path:
    """Write the demo report into the folder ``out``; returns the path of its ``index.html``."""
    start = time.perf_counter()
    net, meta = load_network("digits_cnn")
    _, x_test, _, y_test = digits_split()
    x = x_test.reshape(-1, 1, 8, 8)
    report = Report("lrpref demo: LRP and friends on bundled models")
    report.text(f"Bundled models: {meta['name']} (test accuracy {meta['test_accuracy']:.1%}), the texture and face "
                "bag-of-words SVMs. Made by `lrpref demo`, offline.")
    _digits(report, net, x, y_test, log)
    _evaluation(report, net, x, log, count=count)
    _bag_of_words(report, log)
    page = report.write(out)
    log(f"report written to {page} ({time.perf_counter() - start:.1f} s)")
    return page
