"""Evaluation of explanations (math.md §14): perturbation curves, localisation, sanity checks.

Every metric takes a model as any callable ``f(x_batch) -> scores (N, K)`` (an
``lrpref.Sequential``, or a function wrapping e.g. a scikit-learn / BoW pipeline), images
``(N, H, W)`` or ``(N, C, H, W)`` and relevance maps of the images' size, works on batches,
takes its random state explicitly, and accepts dask arrays for data larger than memory
(:mod:`lrpref.evaluate.chunks`).

* :func:`region_perturbation`, :func:`pixel_flipping` — MoRF / LeRF / random curves and AOPC (§14.4).
* :func:`probability_change` — the PC curve of Chen et al. 2024 (§14.1).
* :func:`minimal_patch`, :func:`maximal_patch` — squares around the heatmap's arg-min / arg-max (§14.2).
* :func:`relevance_mass_accuracy`, :func:`relevance_rank_accuracy` — relevance inside a ground-truth mask.
* :func:`mean_interval`, :func:`paired_difference` — confidence intervals for a mean over images and for
  the difference of two methods on the same images.
* :func:`model_randomisation`, :func:`reinitialise`, :func:`similarity` — sanity checks (§14.5).
"""

from .localisation import Localisation, relevance_mass_accuracy, relevance_rank_accuracy
from .patches import PatchChange, maximal_patch, minimal_patch
from .probability_change import ProbabilityChange, probability_change
from .randomisation import Randomisation, model_randomisation, reinitialise, weight_layers
from .region import RegionPerturbation, pixel_flipping, region_perturbation
from .result import ChangeCurve, Result
from .similarity import MEASURES, similarity
from .statistics import Interval, mean_interval, paired_difference

__all__ = [
    "region_perturbation", "pixel_flipping", "RegionPerturbation",
    "probability_change", "ProbabilityChange",
    "minimal_patch", "maximal_patch", "PatchChange", "ChangeCurve",
    "relevance_mass_accuracy", "relevance_rank_accuracy", "Localisation",
    "model_randomisation", "reinitialise", "weight_layers", "Randomisation", "similarity", "MEASURES",
    "Result", "mean_interval", "paired_difference", "Interval",
]
