"""Pixel-wise explanation of a bag-of-words classifier (bow.md §9).

:func:`explain` takes a fitted model — a :class:`~sklearn.pipeline.Pipeline` or a tuple of
its steps: a :class:`BagOfWords` (or a :class:`~sklearn.pipeline.FeatureUnion` of them, one
per channel, for multiple kernels), optionally a :class:`KernelMatrix`, then the classifier —
and one image, and runs the decomposition of bow.md §9:

1. local features, codes, pooled and normalised BoW vector :math:`x` (per channel);
2. :math:`f(x) = b + \\sum_i a_i k(x_i, x)`, checked against the classifier's own
   ``decision_function``;
3. layer 3 (S14 for decomposable kernels, S15 Taylor otherwise), passed unchanged through
   the normalisation (§3.4);
4. layer 2 per channel (S19-S23), layer 1 per channel (S24/S25); pixel maps of the channels add.

Optional tiling (bow.md §5, [BACH15] Fig 6): the same on the features of each tile,
averaged over the tiles covering each pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

from ..ledger import Ledger
from .decompose import (
    BIAS_POLICIES,
    default_epsilon,
    features_relevance,
    ledger_row,
    pixels_relevance,
    words_relevance,
    words_relevance_taylor,
)
from .features import LocalFeatures, Supports, as_grey_image
from .models import read_classifier
from .pipeline import BagOfWords, KernelMatrix
from .pooling import share_weights

__all__ = ["explain", "Explanation", "ChannelRelevance", "Tiling", "PAPER_TILES"]

PAPER_TILES = (102, 34)
LAYER3_METHODS = ("auto", "decompose", "taylor")


@dataclass(frozen=True)
class ChannelRelevance:
    """Relevance of one feature channel: its BoW slice ``bow``, ``words`` (V_u,), ``features`` (M_u,), ``pixels`` (H, W)."""

    name: str
    local_features: LocalFeatures
    bow: np.ndarray
    words: np.ndarray
    features: np.ndarray
    pixels: np.ndarray


@dataclass(frozen=True)
class Tiling:
    """Tiles ``boxes`` (n, 4) as (row0, row1, col0, col1), their decision values ``f`` and the
    number of tiles covering each pixel, ``coverage`` :math:`N(q)` (bow.md §5)."""

    boxes: np.ndarray
    f: np.ndarray
    coverage: np.ndarray


@dataclass(frozen=True)
class Explanation:
    """The result of :func:`explain`.

    Attributes
    ----------
    pixels : (H, W) ndarray
        Layer-1 relevance :math:`R^{(1)}_q` (channels added; tiles averaged in tiling mode).
    features : (M,) ndarray
        Layer-2 relevance of the local features, channels concatenated in order (tiling
        mode: averaged over the tiles that hold the feature).
    words : (V,) ndarray
        Layer-3 relevance of the BoW dimensions (tiling mode: averaged over the tiles).
    f : float
        The decision value explained (negated when explaining ``classes_[0]`` of a binary model).
    ledger : lrpref.ledger.Ledger
        One row per step; amounts per sample (one sample).
    bow : (V,) ndarray
        The BoW vector :math:`x`.
    target : the explained class
    channels : list of ChannelRelevance
    taylor : TaylorResult or None
        Root, :math:`f(x_0)`, root status and remainder when layer 3 used the Taylor rule.
    tiling : Tiling or None
    """

    pixels: np.ndarray
    features: np.ndarray
    words: np.ndarray
    f: float
    ledger: Ledger
    bow: np.ndarray
    target: object
    channels: list
    taylor: object = None
    tiling: Tiling | None = None

    @property
    def supports(self) -> Supports:
        """Supports of all local features, in the order of ``features``."""
        return Supports.concatenate([c.local_features.supports for c in self.channels], self.pixels.shape)


@dataclass(frozen=True)
class _Model:
    channels: list  # (name, BagOfWords, weight)
    kernel_matrix: KernelMatrix | None
    classifier: object

    @property
    def training_bow(self):
        if self.kernel_matrix is not None:
            return self.kernel_matrix.X_fit_
        return np.concatenate([w * bag.training_bow_ for _, bag, w in self.channels], axis=1)

    def bow_vectors(self, codes):
        """The weighted BoW vector of each channel, :math:`\\beta_u x^{(u)}`, from its codes."""
        return [weight * bag.bow_vector(c)[1] for (_, bag, weight), c in zip(self.channels, codes)]

    def classifier_input(self, x):
        X = x[None, :]
        return X if self.kernel_matrix is None else self.kernel_matrix.transform(X)


def _resolve(model) -> _Model:
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps if step not in (None, "passthrough")]
    elif isinstance(model, (tuple, list)):
        steps = list(model)
    else:
        raise TypeError(f"explain needs a Pipeline or a tuple (bag, [kernel_matrix,] classifier), got "
                        f"{type(model).__name__}")
    if len(steps) < 2:
        raise ValueError(f"the model needs a BagOfWords step and a classifier, got {len(steps)} step(s)")
    front, middle, classifier = steps[0], steps[1:-1], steps[-1]
    if isinstance(front, BagOfWords):
        channels = [("bow", front, 1.0)]
    elif isinstance(front, FeatureUnion):
        weights = front.transformer_weights or {}
        channels = [(name, bag, float(weights.get(name, 1.0))) for name, bag in front.transformer_list
                    if bag != "drop"]
        for name, bag, weight in channels:
            if not isinstance(bag, BagOfWords):
                raise TypeError(f"FeatureUnion channel {name!r} is {type(bag).__name__}, not a BagOfWords")
            if not weight > 0:
                raise ValueError(f"FeatureUnion weight of channel {name!r} must be positive, got {weight}")
    else:
        raise TypeError(f"the first step must be a BagOfWords or a FeatureUnion of BagOfWords, got "
                        f"{type(front).__name__}")
    if len(middle) > 1 or (middle and not isinstance(middle[0], KernelMatrix)):
        names = [type(step).__name__ for step in middle]
        raise TypeError(f"between the bag of words and the classifier only a KernelMatrix step is allowed, got {names}")
    kernel_matrix = middle[0] if middle else None
    for step, attribute in [(bag, "coder_") for _, bag, _ in channels] + [(kernel_matrix, "X_fit_"), (classifier, None)]:
        if step is None:
            continue
        try:
            check_is_fitted(step, attribute)
        except NotFittedError as error:
            raise NotFittedError(f"the model is not fitted ({type(step).__name__} is not): call fit(images, labels) "
                                 "before explain") from error
    return _Model(channels, kernel_matrix, classifier)


@dataclass(frozen=True)
class _Options:
    bias: str
    layer3: str
    epsilon: float | None
    zero_dim: str
    projection: str
    clip: bool
    root: str
    refine: int
    taylor_residual: str


def _layer3_method(kernel, layer3):
    """``"decompose"`` (S14) or ``"taylor"`` (S15) for this kernel and the ``layer3`` option."""
    if layer3 not in LAYER3_METHODS:
        raise ValueError(f"layer3 must be one of {LAYER3_METHODS}, got {layer3!r}")
    if layer3 == "auto":
        if kernel.decomposable:
            return "decompose"
        if kernel.differentiable:
            return "taylor"
        raise TypeError(f"kernel {kernel!r} has neither a sum decomposition nor a gradient")
    if layer3 == "decompose" and not kernel.decomposable:
        raise TypeError(f"layer3='decompose' needs a sum-decomposable kernel; {kernel!r} has no sum decomposition")
    if layer3 == "taylor" and not kernel.differentiable:
        raise TypeError(f"layer3='taylor' needs a differentiable kernel; {kernel!r} has no gradient")
    return layer3


def _decompose(expansion, model, local, codes, options):
    """Layers 3 -> 2 -> 1 of one image (or tile) given each channel's features and codes."""
    vectors = model.bow_vectors(codes)
    x = np.concatenate(vectors)
    fx = float(expansion(x[None, :])[0])
    taylor_result = None
    if _layer3_method(expansion.kernel, options.layer3) == "decompose":
        words, top = words_relevance(expansion, x, fx, options.bias)
    else:
        words, taylor_result, top = words_relevance_taylor(expansion, x, fx, options.refine, options.root,
                                                            options.taylor_residual)
    rows = [top, ledger_row("normalisation: words -> pooled words", words.sum(), words.sum())]
    channels, start = [], 0
    single = len(model.channels) == 1
    for (name, bag, _), features_u, codes_u, x_u in zip(model.channels, local, codes, vectors):
        words_u = words[start:start + len(x_u)]
        start += len(x_u)
        tag = "" if single else f" [{name}]"
        weights = share_weights(codes_u, float(bag.pooling))
        epsilon = default_epsilon(weights, bag.coder_.signed) if options.epsilon is None else float(options.epsilon)
        features, row2 = features_relevance(weights, words_u, epsilon, options.zero_dim,
                                            f"layer 2{tag}: words -> local features")
        pixels, row1 = pixels_relevance(features_u.supports, features, options.projection, options.clip,
                                        f"layer 1{tag}: local features -> pixels")
        rows += [row2, row1]
        channels.append(ChannelRelevance(name, features_u, x_u, words_u, features, pixels))
    return x, fx, words, channels, rows, taylor_result


def _tile_starts(length, size, offset):
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, offset))
    return starts if starts[-1] == length - size else starts + [length - size]


def _tiled(expansion, model, local, codes, options, tiles, shape):
    size, offset = (PAPER_TILES if tiles is True else tuple(int(t) for t in tiles))
    if not (size > 0 and offset > 0):
        raise ValueError(f"tiles must be True or (size, offset) with positive entries, got {tiles!r}")
    height, width = shape
    boxes = np.array([(r, min(r + size, height), c, min(c + size, width))
                      for r in _tile_starts(height, size, offset) for c in _tile_starts(width, size, offset)])
    total = np.zeros(shape)
    coverage = np.zeros(shape)
    words_sum = 0.0
    features_sum = [np.zeros(len(f)) for f in local]
    features_count = [np.zeros(len(f)) for f in local]
    f_tiles, rows_by_tile = [], []
    for r0, r1, c0, c1 in boxes:
        masks = []
        for features_u in local:
            clipped = features_u.supports.clipped_boxes()
            masks.append((clipped[:, 0] >= r0) & (clipped[:, 1] <= r1) & (clipped[:, 2] >= c0) & (clipped[:, 3] <= c1))
        _, f_t, words_t, channels_t, rows_t, _ = _decompose(
            expansion, model, [f.subset(m) for f, m in zip(local, masks)],
            [c[m] for c, m in zip(codes, masks)], options)
        for k, (mask, channel) in enumerate(zip(masks, channels_t)):
            total += channel.pixels
            features_sum[k][mask] += channel.features
            features_count[k][mask] += 1
        coverage[r0:r1, c0:c1] += 1
        words_sum = words_sum + words_t
        f_tiles.append(f_t)
        rows_by_tile.append(rows_t)
    pixels = np.where(coverage > 0, total / np.maximum(coverage, 1), 0.0)
    rows = [_sum_rows(same) for same in zip(*rows_by_tile)]
    rows.append(ledger_row("tiling: tiles -> averaged pixels", total.sum(), (coverage * pixels).sum()))
    features = [np.where(n > 0, s / np.maximum(n, 1), 0.0) for s, n in zip(features_sum, features_count)]
    return pixels, features, words_sum / len(boxes), rows, Tiling(boxes, np.array(f_tiles), coverage)


def _sum_rows(rows):
    first = rows[0]
    return ledger_row(first.name, sum(r.received[0] for r in rows), sum(r.passed[0] for r in rows),
                      **{kind: sum(r.absorbed[kind][0] for r in rows) for kind in first.absorbed})


def explain(model, image, target=None, *, bias="active", layer3="auto", epsilon=None, zero_dim="drop",
            projection="uniform", clip=True, root="line", refine=0, taylor_residual="none", tiles=None):
    """Explain the decision of a fitted bag-of-words classifier on one image (bow.md §9).

    Parameters
    ----------
    model : Pipeline or tuple
        ``(BagOfWords | FeatureUnion of BagOfWords, [KernelMatrix,] classifier)``; the
        classifier is a binary ``SVC`` (``kernel="linear"``, ``"rbf"``, ``"precomputed"`` or a
        :mod:`lrpref.bow.kernels` kernel), a linear model with ``coef_`` (``LinearSVC``,
        ``LogisticRegression``) or a ``OneVsRestClassifier`` of those.
    image : (H, W) or (H, W, 3) array
    target : a label of ``classes_``, default the predicted class
        Explaining ``classes_[0]`` of a binary model explains :math:`-f` (bow.md §2.6).
    bias : {"active", "uniform", "proportional", "none"}
        Bias share policy of layer 3 for decomposable kernels (§3.1). ``"active"`` (default)
        makes the explanation exact end to end (§6.1).
    layer3 : {"auto", "decompose", "taylor"}
        ``"auto"``: the exact rule S14 when the kernel is sum-decomposable, else Taylor (S15).
    epsilon : float or None
        Layer-2 stabiliser (S22); None = 0 for non-negative codes, :math:`10^{-9}\\,\\mathrm{mean}|z|` for signed.
    zero_dim : {"drop", "uniform"}
        What layer 2 does with relevance on a dimension no feature reaches (§4.5).
    projection : {"uniform", "gaussian"}
        Layer 1 rule (S24 / S25).
    clip : bool
        Divide by the clipped support (default) or by the nominal one (losing the outside part).
    root : {"line", "strict"}; refine : int; taylor_residual : {"none", "uniform", "rescale"}
        Root search, refinement steps and remainder policy of the Taylor rule (§3.2).
    tiles : None, True or (size, offset)
        Tiling mode; True = (102, 34) as in [BACH15] Fig 6.

    Returns
    -------
    Explanation
    """
    if bias not in BIAS_POLICIES:
        raise ValueError(f"bias must be one of {BIAS_POLICIES}, got {bias!r}")
    options = _Options(bias, layer3, epsilon, zero_dim, projection, clip, root, refine, taylor_residual)
    model = _resolve(model)
    grey = as_grey_image(image)
    local = [bag.features_.extract(grey) for _, bag, _ in model.channels]
    codes = [bag.encode(features_u) for (_, bag, _), features_u in zip(model.channels, local)]
    width = sum(bag.n_features_out_ for _, bag, _ in model.channels)
    kernel = None if model.kernel_matrix is None else model.kernel_matrix.kernel
    classes = model.classifier.classes_
    explained = read_classifier(model.classifier, classes[0] if target is None else target, width,
                                model.training_bow, kernel)  # checks the model before predict uses it
    if target is None:
        target = model.classifier.predict(model.classifier_input(np.concatenate(model.bow_vectors(codes))))[0]
        explained = read_classifier(model.classifier, target, width, model.training_bow, kernel)
    expansion = explained.expansion
    x, fx, words, channels, rows, taylor_result = _decompose(expansion, model, local, codes, options)
    reference = model.classifier.decision_function(model.classifier_input(x))
    reference = explained.sign * float(np.ravel(reference)[0] if explained.column is None else reference[0, explained.column])
    if not abs(reference - fx) <= 1e-8 * max(1.0, abs(reference)):
        raise ValueError(f"the classifier's decision_function gives {reference!r} but b + sum_i a_i k(x_i, x) gives "
                         f"{fx!r}: the support vectors read from the model do not match it (was the classifier "
                         "trained on this bag of words' training BoW?)")
    if tiles is None:
        return Explanation(sum(c.pixels for c in channels), np.concatenate([c.features for c in channels]), words,
                           fx, Ledger(rows), x, target, channels, taylor_result)
    pixels, features, words_tiled, tile_rows, tiling = _tiled(expansion, model, local, codes, options, tiles,
                                                              grey.shape)
    return Explanation(pixels, np.concatenate(features), words_tiled, fx, Ledger(tile_rows), x, target, channels,
                       None, tiling)

