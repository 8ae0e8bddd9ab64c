"""Pixel-wise explanation of a bag-of-words classifier (math.md §B9).

:func:`explain` takes a fitted model — a :class:`~sklearn.pipeline.Pipeline` or a tuple of
its steps: a :class:`BagOfWords` (or a :class:`~sklearn.pipeline.FeatureUnion` of them, one
per channel, for multiple kernels), optionally steps such as ``Normalizer`` or
``TfidfTransformer`` (:mod:`.steps`) and a :class:`KernelMatrix`, then the classifier — and
one image, and runs the decomposition of math.md §B9:

1. local features, codes, pooled and normalised BoW vector :math:`x` (per channel), then
   the steps: :math:`y = T(x)`;
2. :math:`f(y) = b + \\sum_i a_i k(y_i, y)`, checked against the classifier's own
   ``decision_function`` (after the steps' own ``transform``);
3. layer 3 on :math:`y` (S14 for decomposable kernels; for the others an expansion at a
   root, :mod:`.taylor`), then each step as a layer with its ledger row (:mod:`.steps`), then
   the bag's normalisation (passed unchanged, §B3.4);
4. layer 2 per channel (S19-S23), layer 1 per channel (S24/S25); pixel maps of the channels add.

:func:`explain_histogram` starts at step 2 for histograms computed outside lrpref: the
caller gives the codes and the supports of the local features.

Optional tiling (math.md §B5, Bach et al. 2015 Fig 6): the same on the features of each tile,
averaged over the tiles covering each pixel.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

from ..ledger import Ledger
from .decompose import (
    BIAS_POLICIES,
    DEFAULT_BIAS,
    default_epsilon,
    features_relevance,
    ledger_row,
    pixels_relevance,
    words_relevance,
    words_relevance_taylor,
)
from .coding import prefit_coder
from .features import LocalFeatures, Supports, as_grey_image
from .models import read_classifier
from .pipeline import BagOfWords, KernelMatrix
from .pooling import check_pooling, pool, share_weights
from .steps import read_step
from .taylor import EXPANSIONS, ROOTS

__all__ = ["explain", "explain_histogram", "Explanation", "ChannelRelevance", "Tiling", "PAPER_TILES",
           "DEFAULT_EXPANSION", "DEFAULT_ROOT"]

PAPER_TILES = (102, 34)
LAYER3_METHODS = ("auto", "decompose", *EXPANSIONS)
#: The expansion and root search used for non-decomposable kernels by default, chosen by the
#: localisation benchmark (benchmarks/bow_localisation.py, docs/bow.md).
DEFAULT_EXPANSION = "integrated"
DEFAULT_ROOT = "empty"


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
    number of tiles covering each pixel, ``coverage`` :math:`N(q)` (math.md §B5)."""

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
        Reference point, :math:`f(x_0)`, its status, the expansion and its remainder when layer 3
        used an expansion (non-decomposable kernels).
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
class _Channel:
    """One feature channel: its name, weight :math:`\\beta_u`, pooling, whether codes are signed,
    and the BagOfWords that makes its vector (None for codes given by the caller)."""

    name: str
    weight: float
    pooling: object
    signed: bool
    bag: BagOfWords | None = None
    width: int = 0

    def vector(self, codes):
        """:math:`\\beta_u x^{(u)}` from the codes of the channel."""
        if self.bag is not None:
            return self.weight * self.bag.bow_vector(codes)[1]
        return self.weight * pool(codes, self.pooling)


@dataclass(frozen=True)
class _Model:
    channels: list  # of _Channel
    steps: list  # fitted scikit-learn steps between the histograms and the classifier (KernelMatrix excluded)
    layers: list  # the steps read as layers (lrpref.bow.steps.Step), forward order
    kernel_matrix: KernelMatrix | None
    classifier: object
    training_x: np.ndarray | None  # histograms of the training set, before the steps
    training_labels: np.ndarray | None

    @property
    def width(self):
        return sum(c.width for c in self.channels)

    def transform(self, X):
        """The steps' own ``transform`` (scikit-learn's numbers), before any KernelMatrix."""
        for step in self.steps:
            X = step.transform(X)
        return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)

    @property
    def training_inputs(self):
        """The classifier's training inputs in the space the kernel acts on (after the steps)."""
        if self.kernel_matrix is not None:
            return self.kernel_matrix.X_fit_
        return None if self.training_x is None else self.transform(self.training_x)

    def classifier_input(self, x):
        X = self.transform(x[None, :])
        return X if self.kernel_matrix is None else self.kernel_matrix.transform(X)

    def forward(self, x):
        """The inputs of every layer and the classifier's input: ``[x, T_1(x), ..., y]``."""
        values = [x]
        for layer in self.layers:
            values.append(layer.forward(values[-1]))
        return values


def _check_fitted(step):
    try:
        check_is_fitted(step)
    except NotFittedError as error:
        raise NotFittedError(f"the model is not fitted ({type(step).__name__} is not): fit it before explain") from error


def _bag_channels(front):
    if isinstance(front, BagOfWords):
        named = [("bow", front, 1.0)]
    elif isinstance(front, FeatureUnion):
        weights = front.transformer_weights or {}
        named = [(name, bag, float(weights.get(name, 1.0))) for name, bag in front.transformer_list if bag != "drop"]
        for name, bag, weight in named:
            if not isinstance(bag, BagOfWords):
                raise TypeError(f"FeatureUnion channel {name!r} is {type(bag).__name__}, not a BagOfWords: each channel "
                                "of a multiple-kernel model is a BagOfWords (its features may be your own function)")
            if not weight > 0:
                raise ValueError(f"FeatureUnion weight of channel {name!r} must be positive, got {weight}")
    else:
        raise TypeError(f"the first step must be a BagOfWords or a FeatureUnion of BagOfWords, got "
                        f"{type(front).__name__}; to explain a classifier on histograms you computed yourself, "
                        "use bow.explain_histogram(classifier, codes, supports)")
    channels = []
    for name, bag, weight in named:
        if not hasattr(bag, "coder_"):
            if bag.coder is None or prefit_coder(bag.coder) is None:
                raise NotFittedError(f"the model is not fitted (BagOfWords {name!r} is not): call fit(images, labels) "
                                     "before explain, or give it a codebook fitted elsewhere (KMeans, "
                                     "GaussianMixture, centres)")
            bag = copy.copy(bag).fit()  # prefit parts only, nothing to learn (a clone would unfit them)
        channels.append(_Channel(name, weight, check_pooling(bag.pooling, bag.coder_.signed), bag.coder_.signed, bag,
                                 bag.n_features_out_))
    return channels


def _split_steps(model):
    """The steps of a Pipeline or tuple, nested Pipelines flattened ("passthrough" and None dropped)."""
    if isinstance(model, Pipeline):
        parts = [step for _, step in model.steps]
    elif isinstance(model, (tuple, list)):
        parts = list(model)
    else:
        return [model]
    return [step for part in parts if part not in (None, "passthrough")
            for step in (_split_steps(part) if isinstance(part, Pipeline) else [part])]


def _middle(middle, classifier):
    """The steps between histograms and classifier: (sklearn steps, their layers, KernelMatrix or None)."""
    kernel_matrix = None
    if middle and isinstance(middle[-1], KernelMatrix):
        kernel_matrix, middle = middle[-1], middle[:-1]
    if any(isinstance(step, KernelMatrix) for step in middle):
        raise TypeError("a KernelMatrix step must come right before SVC(kernel='precomputed')")
    for step in middle + ([kernel_matrix] if kernel_matrix is not None else []) + [classifier]:
        _check_fitted(step)
    layers = [layer for step in middle for layer in read_step(step)]
    return list(middle), layers, kernel_matrix


def _training(channels, training_bow, training_labels):
    if training_bow is not None:
        training_bow = np.asarray(training_bow, dtype=np.float64)
        width = sum(c.width for c in channels)
        if training_bow.ndim != 2 or training_bow.shape[1] != width:
            raise ValueError(f"training_bow must be (n_train, {width}) histograms as fed to the step after the bag "
                             f"of words, got shape {training_bow.shape}")
    elif all(c.bag is not None and hasattr(c.bag, "training_bow_") for c in channels):
        training_bow = np.concatenate([c.weight * c.bag.training_bow_ for c in channels], axis=1)
    if training_labels is None and channels and channels[0].bag is not None:
        training_labels = getattr(channels[0].bag, "training_labels_", None)
    return training_bow, training_labels


def _resolve(model, training_bow=None, training_labels=None) -> _Model:
    steps = _split_steps(model)
    if not isinstance(model, (Pipeline, tuple, list)):
        raise TypeError(f"explain needs a Pipeline or a tuple (bag, [steps...,] classifier), got "
                        f"{type(model).__name__}; to explain a classifier on histograms you computed yourself, use "
                        "bow.explain_histogram(classifier, codes, supports)")
    if len(steps) < 2:
        raise ValueError(f"the model needs a BagOfWords step and a classifier, got {len(steps)} step(s)")
    channels = _bag_channels(steps[0])
    middle, layers, kernel_matrix = _middle(steps[1:-1], steps[-1])
    training_bow, training_labels = _training(channels, training_bow, training_labels)
    return _Model(channels, middle, layers, kernel_matrix, steps[-1], training_bow, training_labels)


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
    """``"decompose"`` (S14), ``"taylor"`` (S15) or ``"integrated"`` for this kernel and the ``layer3`` option."""
    if layer3 not in LAYER3_METHODS:
        raise ValueError(f"layer3 must be one of {LAYER3_METHODS}, got {layer3!r}")
    if layer3 == "auto":
        if kernel.decomposable:
            return "decompose"
        if kernel.differentiable:
            return DEFAULT_EXPANSION
        raise TypeError(f"kernel {kernel!r} has neither a sum decomposition nor a gradient: a Sum is explained when "
                        "all its parts are decomposable (exact rule) or all are differentiable (expansions); "
                        "the nearest alternative to hellinger in a Sum with RBF / ExpChi2 is chi2 (both)")
    if layer3 == "decompose" and not kernel.decomposable:
        raise TypeError(f"layer3='decompose' needs a sum-decomposable kernel; {kernel!r} has no sum decomposition: "
                        f"use layer3='integrated' (exact path decomposition) or 'taylor'")
    if layer3 in EXPANSIONS and not kernel.differentiable:
        raise TypeError(f"layer3={layer3!r} needs a differentiable kernel; {kernel!r} has no gradient: use "
                        "layer3='decompose'")
    return layer3


def _decompose(expansion, model, local, codes, options):
    """Layers 3 -> steps -> 2 -> 1 of one image (or tile) given each channel's features and codes."""
    vectors = [channel.vector(c) for channel, c in zip(model.channels, codes)]
    values = model.forward(np.concatenate(vectors))
    x, y = values[0], values[-1]
    fx = float(expansion(y[None, :])[0])
    taylor_result = None
    method = _layer3_method(expansion.kernel, options.layer3)
    empty = model.forward(np.zeros(len(x)))[-1]  # the image of the empty histogram: the reference
    if method == "decompose":
        relevance, top = words_relevance(expansion, y, fx, options.bias, empty, x)
    else:
        relevance, taylor_result, top = words_relevance_taylor(expansion, y, fx, options.refine, options.root,
                                                               options.taylor_residual, method, options.bias, empty, x)
    rows = [top]
    for layer, layer_input in reversed(list(zip(model.layers, values[:-1]))):
        relevance, row = layer.relevance(layer_input, relevance)
        rows.append(row)
    words = relevance
    rows.append(ledger_row("normalisation: words -> pooled words", words.sum(), words.sum()))
    channels, start = [], 0
    single = len(model.channels) == 1
    for channel, features_u, codes_u, x_u in zip(model.channels, local, codes, vectors):
        words_u = words[start:start + len(x_u)]
        start += len(x_u)
        tag = "" if single else f" [{channel.name}]"
        weights = share_weights(codes_u, channel.pooling)
        epsilon = default_epsilon(weights, channel.signed) if options.epsilon is None else float(options.epsilon)
        features, row2 = features_relevance(weights, words_u, epsilon, options.zero_dim,
                                            f"layer 2{tag}: words -> local features")
        pixels, row1 = pixels_relevance(features_u.supports, features, options.projection, options.clip,
                                        f"layer 1{tag}: local features -> pixels")
        rows += [row2, row1]
        channels.append(ChannelRelevance(channel.name, features_u, x_u, words_u, features, pixels))
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


def _explained(model, target, codes):
    """The classifier read for ``target`` (default: the predicted class), and ``target``."""
    training = model.training_inputs
    width = training.shape[1] if model.kernel_matrix is not None else None
    if width is None:
        width = len(model.forward(np.zeros(model.width))[-1])
    kernel = None if model.kernel_matrix is None else model.kernel_matrix.kernel
    labels = model.training_labels

    def read(label):
        return read_classifier(model.classifier, label, width, training, kernel, labels)

    if target is None:
        read(model.classifier.classes_[0])  # checks the model before predict uses it
        x = np.concatenate([channel.vector(c) for channel, c in zip(model.channels, codes)])
        target = model.classifier.predict(model.classifier_input(x))[0]
    return read(target), target


def _options(bias, layer3, epsilon, zero_dim, projection, clip, root, refine, taylor_residual):
    if bias not in BIAS_POLICIES:
        raise ValueError(f"bias must be one of {BIAS_POLICIES}, got {bias!r}")
    if root not in ROOTS:  # checked here too: a decomposable kernel never reaches the root search
        raise ValueError(f"root must be one of {ROOTS}, got {root!r}")
    return _Options(bias, layer3, epsilon, zero_dim, projection, clip, root, refine, taylor_residual)


def _run(model, local, codes, shape, target, options, tiles):
    explained, target = _explained(model, target, codes)
    expansion = explained.expansion
    x, fx, words, channels, rows, taylor_result = _decompose(expansion, model, local, codes, options)
    reference = float(np.ravel(explained.reference(model.classifier_input(x)))[0])
    if not abs(reference - fx) <= 1e-8 * max(1.0, abs(reference)):
        raise ValueError(f"the classifier's decision_function gives {reference!r} but b + sum_i a_i k(x_i, x) gives "
                         f"{fx!r}: the support vectors read from the model do not match it (was the classifier "
                         "trained on these histograms? give training_bow=... as fed to the step after the bag of words)")
    if tiles is None:
        return Explanation(sum(c.pixels for c in channels), np.concatenate([c.features for c in channels]), words,
                           fx, Ledger(rows), x, target, channels, taylor_result)
    pixels, features, words_tiled, tile_rows, tiling = _tiled(expansion, model, local, codes, options, tiles, shape)
    return Explanation(pixels, np.concatenate(features), words_tiled, fx, Ledger(tile_rows), x, target, channels,
                       None, tiling)


def explain(model, image, target=None, *, bias=DEFAULT_BIAS, layer3="auto", epsilon=None, zero_dim="drop",
            projection="uniform", clip=True, root=DEFAULT_ROOT, refine=0, taylor_residual="none", tiles=None,
            training_bow=None, training_labels=None):
    """Explain the decision of a fitted bag-of-words classifier on one image (math.md §B9).

    Parameters
    ----------
    model : Pipeline or tuple
        ``(BagOfWords | FeatureUnion of BagOfWords, [steps...,] [KernelMatrix,] classifier)``.
        The classifier is an ``SVC`` (``kernel="linear"``, ``"rbf"``, ``"poly"``,
        ``"sigmoid"``, ``"precomputed"``, a :mod:`lrpref.bow.kernels` kernel or a
        :mod:`sklearn.metrics.pairwise` kernel function, binary or one-vs-one multi-class),
        a linear model with ``coef_`` (``LinearSVC``, ``LogisticRegression``), or a
        ``OneVsRestClassifier`` / ``OneVsOneClassifier`` of those. Steps between the
        histograms and the classifier: :data:`lrpref.bow.steps.SUPPORTED_STEPS`.
    image : (H, W) or (H, W, 3) array
    target : a label of ``classes_``, a pair ``(a, b)``, or None (the predicted class)
        Explaining ``classes_[0]`` of a binary model explains :math:`-f` (math.md §B2.6). With a
        one-vs-one classifier, ``(a, b)`` explains the pairwise decision :math:`f_{ab}` and a
        class ``k`` its one-vs-rest confidence :math:`\\sum_{j\\ne k} f_{kj}`
        (:mod:`lrpref.bow.models`).
    bias : {"histogram", "active", "uniform", "proportional", "none"}
        How layer 3 shares the bias (and :math:`f(0)` with ``root="empty"``) over the words
        (§B3.1, :func:`lrpref.bow.decompose.bias_shares`). ``"histogram"`` (default,
        :data:`~lrpref.bow.decompose.DEFAULT_BIAS`): in proportion to the histogram, so that
        with sum or mean pooling every local feature gets the same share; ``"active"``: equally
        over the words present. Both make the explanation exact end to end (§B6.1).
    layer3 : {"auto", "decompose", "taylor", "integrated"}
        ``"auto"``: the exact rule S14 when the kernel is sum-decomposable, else
        :data:`DEFAULT_EXPANSION`. ``"taylor"``: first-order Taylor at a root (S15);
        ``"integrated"``: the exact path decomposition from a root (:mod:`lrpref.bow.taylor`).
    epsilon : float or None
        Layer-2 stabiliser (S22); None = 0 for non-negative codes, :math:`10^{-9}\\,\\mathrm{mean}|z|` for signed.
    zero_dim : {"drop", "uniform"}
        What layer 2 does with relevance on a dimension no feature reaches (§B4.5).
    projection : {"uniform", "gaussian"}
        Layer 1 rule (S24 / S25).
    clip : bool
        Divide by the clipped support (default) or by the nominal one (losing the outside part).
    root : {"empty", "line", "gradient", "strict"}; refine : int; taylor_residual : {"none", "uniform", "rescale"}
        Reference point of the expansions (§B3.2): the empty histogram (default
        :data:`DEFAULT_ROOT`; :math:`f(0)` is shared like the bias), Bach et al. 2015's line
        search, the nearest root along the gradient, or the line search that raises when it
        finds no root; refinement steps of the line search and remainder policy.
    tiles : None, True or (size, offset)
        Tiling mode; True = (102, 34) as in Bach et al. 2015 Fig 6.
    training_bow : (n_train, V) array or None
        The training histograms as fed to the step after the bag of words; needed for
        callable and precomputed kernels when the BagOfWords was not fitted on the training
        images (prefit parts). Default: the BagOfWords' ``training_bow_``.
    training_labels : (n_train,) array or None
        Needed only for a OneVsOneClassifier of callable-kernel SVCs. Default: the BagOfWords'
        ``training_labels_``.

    Returns
    -------
    Explanation
    """
    options = _options(bias, layer3, epsilon, zero_dim, projection, clip, root, refine, taylor_residual)
    model = _resolve(model, training_bow, training_labels)
    grey = as_grey_image(image)
    local = [channel.bag.features_.extract(grey) for channel in model.channels]
    codes = [channel.bag.encode(features_u) for channel, features_u in zip(model.channels, local)]
    return _run(model, local, codes, grey.shape, target, options, tiles)


def explain_histogram(model, codes, supports, target=None, *, pooling="sum", histogram=None, training_bow=None,
                      training_labels=None, bias=DEFAULT_BIAS, layer3="auto", epsilon=None, zero_dim="drop",
                      projection="uniform", clip=True, root=DEFAULT_ROOT, refine=0, taylor_residual="none",
                      tiles=None):
    """Explain a fitted classifier on histograms computed outside lrpref (math.md §B9 from step 2).

    Parameters
    ----------
    model : classifier, Pipeline or tuple ``([steps...,] [KernelMatrix,] classifier)``
        Everything after the histogram, exactly as fitted (see :func:`explain`).
    codes : (M, V) array
        The code of each local feature of the image, :math:`m_{jd}` (one-hot rows for hard
        assignment).
    supports : Supports
        The pixel support of each local feature (:class:`~lrpref.bow.Supports`, e.g.
        ``Supports.discs(centres, radii, sigma, image_shape)``).
    pooling : "sum", float or inf
        How the histogram pools the codes: ``"sum"`` (counts, default), ``1.0`` (mean),
        p-means, ``inf`` (max) (§B2.4).
    histogram : (V,) array, optional
        The histogram the caller computed; checked against the pooled codes.
    training_bow, training_labels :
        The training histograms (and labels) the classifier was fitted on; needed for
        callable and precomputed kernels (their SVC keeps no support vectors).
    Other parameters as in :func:`explain`.
    """
    options = _options(bias, layer3, epsilon, zero_dim, projection, clip, root, refine, taylor_residual)
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or not np.all(np.isfinite(codes)):
        raise ValueError(f"codes must be a finite 2-D array (M local features, V words), got shape {codes.shape}")
    if not isinstance(supports, Supports) or len(supports) != len(codes):
        raise ValueError(f"supports must be a bow.Supports with one support per code row ({len(codes)})")
    signed = bool(np.any(codes < 0))
    channel = _Channel("bow", 1.0, check_pooling(pooling, signed), signed, None, codes.shape[1])
    if histogram is not None:
        histogram = np.asarray(histogram, dtype=np.float64)
        pooled = channel.vector(codes)
        if histogram.shape != pooled.shape or not np.allclose(histogram, pooled, rtol=1e-10, atol=1e-12):
            raise ValueError(f"the histogram given is not the {pooling!r} pooling of the codes (largest difference "
                             f"{np.max(np.abs(histogram - pooled)) if histogram.shape == pooled.shape else 'shape'}); "
                             "check pooling=")
    steps = _split_steps(model)
    middle, layers, kernel_matrix = _middle(steps[:-1], steps[-1])
    training_bow, training_labels = _training([channel], training_bow, training_labels)
    resolved = _Model([channel], middle, layers, kernel_matrix, steps[-1], training_bow, training_labels)
    local = [LocalFeatures(np.zeros((len(codes), 0)), supports)]
    return _run(resolved, local, [codes], supports.image_shape, target, options, tiles)
