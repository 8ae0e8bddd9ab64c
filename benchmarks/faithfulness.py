"""Faithfulness of the explanations of the bundled digits CNN (issue 6): AOPC and the PC curve.

* Region perturbation (Samek et al. 2017, math.md §14.4): MoRF order, the 16
  non-overlapping 2×2 regions of an 8×8 digit, the logit of the predicted class after each
  step, AOPC = mean over k = 0..L of f(x) − f(x⁽ᵏ⁾); two replacement strategies: uniform
  noise (the paper's) and the per-channel mean of the image.
* The Probability Change curve of Chen et al. 2024 (math.md §14.1): the fraction ρ = 0.1 … 0.9 of the
  *lowest*-ranked pixels removed (set to 0), P_c(X_ρ) − P_c(X); higher is better.

Methods: the LRP composite EpsilonGammaBox, LRP-ε, IG (n = 10), gradient × input,
sensitivity, LID-IG and SIG-LID-IG (n = 10), LID-Taylor, and random maps. All test digits
(450), fixed random states.

    python benchmarks/faithfulness.py
"""

from __future__ import annotations

import numpy as np

import lrpref as lr
from lrpref import evaluate
from lrpref.datasets import digits_split, load_network

METHODS = {
    "LRP composite (EpsilonGammaBox)": dict(rule=lr.presets.EpsilonGammaBox(low=0.0, high=1.0)),
    "LRP-ε (0.25)": dict(rule=lr.Epsilon(0.25)),
    "IG (n=10)": dict(method="ig", steps=10),
    "gradient × input": dict(method="gradient-x-input"),
    "sensitivity": dict(method="gradient"),
    "LID-Taylor": dict(method="lid-taylor"),
    "LID-IG (n=10)": dict(method="lid-ig", steps=10),
    "SIG-LID-IG (n=10)": dict(method="sig-lid-ig", steps=10),
}


def main(seed: int = 0):
    net, meta = load_network("digits_cnn")
    x = digits_split()[1].reshape(-1, 1, 8, 8)
    maps = {name: lr.explain(net, x, **kwargs).relevance for name, kwargs in METHODS.items()}
    maps["random"] = np.random.default_rng(seed).uniform(-1, 1, size=x.shape)
    print(f"{meta['name']}: {len(x)} test digits\n")
    print(f"{'method':32} {'AOPC uniform':>13} {'AOPC mean':>10} {'PC mean':>8}  PC(ρ = 0.1 … 0.9)")
    for name, relevance in maps.items():
        noise = evaluate.region_perturbation(net, x, relevance, region_size=2, replacement="uniform", random_state=seed)
        mean = evaluate.region_perturbation(net, x, relevance, region_size=2, replacement="mean", random_state=seed)
        pc = evaluate.probability_change(net, x, relevance, random_state=seed)
        curve = " ".join(f"{v:+.3f}" for v in pc.curve)
        print(f"{name:32} {noise.aopc:13.3f} {mean.aopc:10.3f} {pc.curve.mean():8.3f}  {curve}")


if __name__ == "__main__":
    main()
