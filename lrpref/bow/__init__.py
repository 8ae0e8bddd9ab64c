"""Pixel-wise explanations of bag-of-words + kernel-SVM image classifiers (Bach et al. 2015).

Spec: ``bow.md``. The pipeline is images -> local features with pixel supports
(:mod:`.features`) -> codes (:mod:`.coding`) -> pooled, normalised BoW vector
(:mod:`.pooling`, :class:`BagOfWords`) -> optional steps (:mod:`.steps`) -> kernel classifier (:mod:`.kernels`,
:mod:`.models`). :func:`explain` decomposes the decision value back through the same steps
(:mod:`.decompose`, :mod:`.taylor`); :func:`save` / :func:`load` store a fitted pipeline as
``.npz`` arrays plus JSON.
"""

from . import kernels
from .coding import FisherCoding, HardCoding, LLCCoding, PosteriorCoding, SoftCoding
from .explain import ChannelRelevance, Explanation, Tiling, explain, explain_histogram
from .features import DenseFeatures, FunctionFeatures, KeypointFeatures, LocalFeatures, Supports
from .io import load, save
from .models import KernelExpansion, read_classifier
from .pipeline import BagOfWords, KernelMatrix
from .steps import PowerNormalizer

__all__ = [
    "kernels", "BagOfWords", "KernelMatrix", "DenseFeatures", "KeypointFeatures", "FunctionFeatures", "LocalFeatures",
    "Supports", "HardCoding", "SoftCoding", "LLCCoding", "FisherCoding", "PosteriorCoding", "PowerNormalizer",
    "explain", "explain_histogram", "Explanation", "ChannelRelevance", "Tiling", "KernelExpansion",
    "read_classifier", "save", "load",
]
