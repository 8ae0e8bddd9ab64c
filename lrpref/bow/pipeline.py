"""The bag-of-words transformer: images -> BoW vectors (math.md §B2, §B9 steps 1-2).

:class:`BagOfWords` is a scikit-learn transformer: ``fit`` learns the codebook from the
local features of the training images, ``transform`` maps each image to

.. math:: x = \\mathrm{normalise}\\Big(\\big(M^{-1}\\textstyle\\sum_j m(l_j)^p\\big)^{1/p}\\Big).

It keeps the BoW vectors of its training images (``training_bow_``): an SVC with a callable
or precomputed kernel does not keep its support vectors (``support_vectors_`` is empty,
math.md §B2.6), and the root search of the Taylor rule starts from training points (§B3.2).

:class:`KernelMatrix` turns BoW vectors into the kernel matrix against the training BoW, for
``SVC(kernel="precomputed")``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .coding import SoftCoding, prefit_coder
from .features import DenseFeatures, LocalFeatures, as_features, as_grey_image
from .kernels import as_kernel
from .pooling import check_normalization, check_pooling, normalize, pool

__all__ = ["BagOfWords", "KernelMatrix", "as_image_list"]


def as_image_list(images) -> list:
    """A list of images from a list/tuple of arrays, an (N, H, W) grey stack or an (N, H, W, 3) colour stack."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"an array of images must be (N, H, W) or (N, H, W, 3), got shape {images.shape}")
        if images.ndim == 3 and images.shape[2] == 3:
            raise ValueError(f"got an array of shape {images.shape}, which looks like one colour image: pass a list "
                             "[image] (a stack of grey images 3 pixels wide is not supported)")
        images = list(images)
    elif not isinstance(images, (list, tuple)):
        raise TypeError(f"images must be a list of arrays or an array of images, got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError("no images given")
    return list(images)


class BagOfWords(TransformerMixin, BaseEstimator):
    """Images -> bag-of-words vectors (math.md §B2.2-§B2.5).

    Parameters
    ----------
    features : DenseFeatures, KeypointFeatures, FunctionFeatures, a callable or an object with ``extract``
        Local features and their pixel supports (§B2.2). A callable ``image -> (descriptors,
        positions, scales)`` is wrapped in :class:`~lrpref.bow.FunctionFeatures`; an object
        with ``extract(grey image) -> LocalFeatures`` is used as is. Default ``DenseFeatures()``.
    coder : an lrpref coder, or a codebook fitted elsewhere
        The mapping :math:`m` and its codebook (§B2.3). An lrpref coder (``HardCoding``,
        ``SoftCoding``, ``LLCCoding``, ``FisherCoding``; default ``SoftCoding()``) is fitted by
        ``fit``. A fitted ``KMeans`` / ``MiniBatchKMeans`` / ``GaussianMixture`` or an array of
        centres is used as given, never refitted (:func:`lrpref.bow.coding.prefit_coder`).
    pooling : float or "sum"
        :math:`p \\ge 1` of the p-means, ``float("inf")`` for max pooling, ``"sum"`` for the
        sum (a histogram of counts) (§B2.4).
    normalize : {"l1", "l2", "power", "improved", "none"}
        Normalisation of the pooled vector (§B2.5).
    power : float
        :math:`\\rho` of the power normalisation.
    max_descriptors : int
        At most this many descriptors (a random subset, equal per image) fit the codebook.
    random_state : int or None
        Seed of that subset.

    Attributes
    ----------
    features_, coder_ : the fitted extractor and coder (clones of the parameters)
    training_bow_ : (n_images, V) ndarray, the BoW vectors of the training images (absent
        when ``fit()`` was called without images on prefit parts)
    training_labels_ : (n_images,) ndarray or None, the labels ``y`` given to ``fit``
    n_features_out_ : int, V
    """

    def __init__(self, features=None, coder=None, pooling=1.0, normalize="l1", power=0.5,
                 max_descriptors=50_000, random_state=None):
        self.features = features
        self.coder = coder
        self.pooling = pooling
        self.normalize = normalize
        self.power = power
        self.max_descriptors = max_descriptors
        self.random_state = random_state

    def fit(self, X=None, y=None):
        """Learn the codebook from the local features of the images ``X``; keep their BoW vectors (and ``y``).

        With a codebook fitted elsewhere nothing is learnt; ``X`` may then be None (no
        ``training_bow_`` is kept).
        """
        features = as_features(self.features) if self.features is not None else DenseFeatures()
        features = clone(features) if hasattr(features, "get_params") else features
        prefit = prefit_coder(self.coder) if self.coder is not None else None
        coder = prefit if prefit is not None else (clone(self.coder) if self.coder is not None else SoftCoding())
        check_pooling(self.pooling, coder.signed)
        check_normalization(self.normalize)
        self.training_labels_ = None if y is None else np.asarray(y)
        if prefit is not None:
            self.features_, self.coder_, self.n_features_out_ = features, coder, int(coder.n_dimensions_)
            if X is not None:
                self.training_bow_ = self._transform(as_image_list(X))
            return self
        images = as_image_list(X)
        rng = np.random.default_rng(self.random_state)
        per_image = -(-int(self.max_descriptors) // len(images))
        sample = []
        for index, image in enumerate(images):
            descriptors = features.extract(as_grey_image(image, index)).descriptors
            if len(descriptors) > per_image:
                descriptors = descriptors[rng.choice(len(descriptors), per_image, replace=False)]
            sample.append(descriptors)
        sample = np.concatenate(sample)
        if len(sample) == 0:
            raise ValueError("no local features found in the training images (are they smaller than a patch?)")
        self.features_ = features
        self.coder_ = coder.fit(sample)
        self.n_features_out_ = int(coder.n_dimensions_)
        self.training_bow_ = self._transform(images)
        return self

    def fit_transform(self, X, y=None):
        """``fit(X, y)`` and the BoW vectors of ``X`` (computed once)."""
        return self.fit(X, y).training_bow_.copy()

    def transform(self, X):
        """BoW vectors (n_images, V) of the images ``X``."""
        check_is_fitted(self, "coder_")
        return self._transform(as_image_list(X))

    def _transform(self, images):
        return np.stack([self.bow_vector(self.encode(self.local_features(image, index)))[1]
                         for index, image in enumerate(images)])

    def local_features(self, image, index=None) -> LocalFeatures:
        """Local features and supports of one image (validated: not empty, no NaN)."""
        return self.features_.extract(as_grey_image(image, index))

    def encode(self, local: LocalFeatures) -> np.ndarray:
        """The code matrix ``m[j, d]`` (M, V) of the local features (math.md §B2.3)."""
        if len(local) == 0:
            return np.zeros((0, self.n_features_out_))
        return self.coder_.encode(local.descriptors)

    def bow_vector(self, codes):
        """Pooled vector :math:`\\bar x` and normalised BoW vector :math:`x` of one image (math.md §B2.4-§B2.5)."""
        pooled = pool(codes, check_pooling(self.pooling, self.coder_.signed))
        return pooled, normalize(pooled, self.normalize, self.power)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "coder_")
        return np.array([f"word{d}" for d in range(self.n_features_out_)], dtype=object)


class KernelMatrix(TransformerMixin, BaseEstimator):
    """BoW vectors -> kernel matrix against the training BoW, for ``SVC(kernel="precomputed")``.

    ``fit(X)`` keeps ``X_fit_``; ``transform(Z)`` returns ``kernel(Z, X_fit_)`` (n, n_train).
    ``kernel`` is a :mod:`lrpref.bow.kernels` kernel or a scikit-learn kernel function
    (:func:`lrpref.bow.kernels.as_kernel`). Explanations read the support vectors as
    ``X_fit_[svc.support_]`` (math.md §B2.6).
    """

    def __init__(self, kernel=None):
        self.kernel = kernel

    def fit(self, X, y=None):
        X = np.array(X, dtype=np.float64)
        as_kernel(self.kernel, X.shape[1])  # refuses what cannot be explained, naming what can
        self.X_fit_ = X
        return self

    def transform(self, X):
        check_is_fitted(self, "X_fit_")
        return self.kernel(np.asarray(X, dtype=np.float64), self.X_fit_)
