"""Codings ``m``: one local feature -> one vector in BoW space (math.md §B2.3).

Each coder learns a codebook from descriptors (``fit``) and maps the ``M`` descriptors of
an image to the code matrix ``m[j, d] = m_(d)(l_j)`` of shape (M, V) (``encode``).
``signed`` says whether codes can be negative: it decides the pooling allowed (math.md §B2.4)
and the default stabiliser of layer 2 (math.md §B4.5).

Codebooks (math.md §B8): ``"kmeans"`` (:class:`sklearn.cluster.KMeans` centres),
``"minibatch"`` (:class:`sklearn.cluster.MiniBatchKMeans`) or ``"gmm"``
(:class:`sklearn.mixture.GaussianMixture` means, diagonal covariances).

A codebook fitted elsewhere is used as it is, without refitting (:func:`prefit_coder`): a
fitted ``KMeans`` / ``MiniBatchKMeans`` or an array of centres gives hard coding (S4) on its
centres, a fitted ``GaussianMixture`` (any covariance type) gives its posteriors
:math:`m_{(d)}(l) = q_d(l)` (``predict_proba``, :class:`PosteriorCoding`); either may be
wrapped in ``sklearn.frozen.FrozenEstimator``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted

__all__ = ["HardCoding", "SoftCoding", "LLCCoding", "FisherCoding", "PosteriorCoding", "prefit_coder", "CODERS"]

CODEBOOKS = ("kmeans", "minibatch", "gmm")


def squared_distances(descriptors, centers) -> np.ndarray:
    """``D2[j, k] = ||l_j - c_k||^2`` (M, K), computed as ``|l|^2 - 2 l.c + |c|^2`` and clipped at 0."""
    d2 = (np.einsum("ij,ij->i", descriptors, descriptors)[:, None] - 2.0 * descriptors @ centers.T
          + np.einsum("ij,ij->i", centers, centers)[None, :])
    return np.maximum(d2, 0.0)


def _check_descriptors(descriptors, n_needed, what):
    descriptors = np.asarray(descriptors, dtype=np.float64)
    if descriptors.ndim != 2:
        raise ValueError(f"descriptors must be a 2-D array (M, D), got shape {descriptors.shape}")
    if len(descriptors) < n_needed:
        raise ValueError(f"{what} needs at least {n_needed} descriptors to fit, got {len(descriptors)}")
    return descriptors


def _nearest(d2, k):
    """Indices of the ``k`` nearest codewords of every row of ``d2`` (unordered)."""
    if k >= d2.shape[1]:
        return np.broadcast_to(np.arange(d2.shape[1]), d2.shape)
    return np.argpartition(d2, k - 1, axis=1)[:, :k]


class _CodebookCoder(BaseEstimator):
    """A coder whose codebook is a set of centres ``centers_`` (K, D)."""

    signed = False

    def fit(self, descriptors):
        """Learn the ``n_words`` centres from descriptors (M, D)."""
        if self.codebook not in CODEBOOKS:
            raise ValueError(f"codebook must be one of {CODEBOOKS}, got {self.codebook!r}")
        descriptors = _check_descriptors(descriptors, self.n_words, type(self).__name__)
        if self.codebook == "kmeans":
            model = KMeans(self.n_words, n_init="auto", random_state=self.random_state)
            self.centers_ = model.fit(descriptors).cluster_centers_
        elif self.codebook == "minibatch":
            model = MiniBatchKMeans(self.n_words, n_init="auto", random_state=self.random_state)
            self.centers_ = model.fit(descriptors).cluster_centers_
        else:
            model = GaussianMixture(self.n_words, covariance_type="diag", random_state=self.random_state)
            self.centers_ = model.fit(descriptors).means_
        self._fit_extra(descriptors)
        return self

    def _fit_extra(self, descriptors):
        """Parameters learnt after the centres (none by default)."""

    @property
    def n_dimensions_(self):
        return len(self.centers_)


class HardCoding(_CodebookCoder):
    """Hard vector quantisation (math.md §B2.3, S4).

    .. math:: m_{(d)}(l) = \\mathbb 1[d = \\arg\\min_k \\lVert l - c_k\\rVert_2]

    Ties go to the lowest index (``numpy.argmin``).
    """

    def __init__(self, n_words=128, codebook="kmeans", random_state=None):
        self.n_words = n_words
        self.codebook = codebook
        self.random_state = random_state

    def encode(self, descriptors) -> np.ndarray:
        descriptors = _check_width(descriptors, self.centers_.shape[1], "the codebook")
        nearest = np.argmin(squared_distances(descriptors, self.centers_), axis=1)
        codes = np.zeros((len(descriptors), len(self.centers_)))
        codes[np.arange(len(descriptors)), nearest] = 1.0
        return codes


class SoftCoding(_CodebookCoder):
    """Gaussian kernel-codebook soft assignment (math.md §B2.3, S5).

    .. math:: m_{(d)}(l) = \\frac{\\exp(-\\lVert l-c_d\\rVert^2/2\\sigma^2)}
                              {\\sum_{k} \\exp(-\\lVert l-c_k\\rVert^2/2\\sigma^2)}

    With ``k_nearest`` set, only the ``k_nearest`` nearest words keep a weight and the sum in
    the denominator runs over them, so every code still sums to 1. Codes are non-negative.

    Parameters
    ----------
    n_words : int
    sigma : float or "auto"
        ``"auto"``: the mean distance of the fit descriptors to their nearest centre.
    k_nearest : int or None
    codebook : {"kmeans", "minibatch", "gmm"}
    random_state : int or None
    """

    def __init__(self, n_words=128, sigma="auto", k_nearest=None, codebook="kmeans", random_state=None):
        self.n_words = n_words
        self.sigma = sigma
        self.k_nearest = k_nearest
        self.codebook = codebook
        self.random_state = random_state

    def _fit_extra(self, descriptors):
        if self.sigma == "auto":
            sigma = float(np.mean(np.sqrt(squared_distances(descriptors, self.centers_).min(axis=1))))
            if sigma == 0.0:
                raise ValueError("sigma='auto' found every fit descriptor on a centre; give sigma explicitly")
        else:
            sigma = float(self.sigma)
            if not sigma > 0:
                raise ValueError(f"sigma must be positive or 'auto', got {self.sigma!r}")
        self.sigma_ = sigma

    def encode(self, descriptors) -> np.ndarray:
        d2 = squared_distances(descriptors, self.centers_)
        logits = -(d2 - d2.min(axis=1, keepdims=True)) / (2.0 * self.sigma_ ** 2)
        if self.k_nearest is not None:
            keep = np.zeros(d2.shape, dtype=bool)
            np.put_along_axis(keep, _nearest(d2, int(self.k_nearest)), True, axis=1)
            logits[~keep] = -np.inf
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)


class LLCCoding(_CodebookCoder):
    """Locality-constrained linear coding, approximated form (math.md §B2.3, S6). Signed.

    With :math:`N(l)` the ``k_nearest`` nearest words and :math:`Z = C_{N(l)} - \\mathbf 1 l^\\top`:

    .. math:: G = ZZ^\\top + \\lambda\\,\\mathrm{tr}(ZZ^\\top) I,\\quad
              \\tilde c = G^{-1}\\mathbf 1,\\quad c = \\tilde c / \\mathbf 1^\\top\\tilde c,

    :math:`m_{(d)}(l) = c_d` for :math:`d\\in N(l)`, 0 otherwise. Each code sums to 1.
    """

    signed = True

    def __init__(self, n_words=128, k_nearest=5, regularization=1e-4, codebook="kmeans", random_state=None):
        self.n_words = n_words
        self.k_nearest = k_nearest
        self.regularization = regularization
        self.codebook = codebook
        self.random_state = random_state

    def encode(self, descriptors) -> np.ndarray:
        descriptors = np.asarray(descriptors, dtype=np.float64)
        neighbours = _nearest(squared_distances(descriptors, self.centers_), int(self.k_nearest))
        z = self.centers_[neighbours] - descriptors[:, None, :]  # (M, k, D)
        gram = z @ z.transpose(0, 2, 1)
        trace = np.trace(gram, axis1=1, axis2=2)
        k = gram.shape[1]
        gram = gram + self.regularization * np.maximum(trace, np.finfo(float).tiny)[:, None, None] * np.eye(k)
        weights = np.linalg.solve(gram, np.ones((len(descriptors), k, 1)))[..., 0]
        codes = np.zeros((len(descriptors), len(self.centers_)))
        np.put_along_axis(codes, neighbours, weights / weights.sum(axis=1, keepdims=True), axis=1)
        return codes


class FisherCoding(BaseEstimator):
    """Fisher-vector coding on a diagonal Gaussian mixture (math.md §B2.3, S7). Signed.

    With posteriors :math:`q_k(l)` (exactly ``GaussianMixture.predict_proba``) and
    :math:`u_{k} = (l - \\mu_k)/\\sigma_k`:

    .. math:: \\psi^{\\mu}_{k,u} = \\frac{q_k}{\\sqrt{\\pi_k}}\\,u_{k,u},\\qquad
              \\psi^{\\sigma}_{k,u} = \\frac{q_k}{\\sqrt{2\\pi_k}}\\,(u_{k,u}^2 - 1),\\qquad
              \\psi^{\\pi}_k = \\frac{q_k - \\pi_k}{\\sqrt{\\pi_k}}\\ (\\text{if } \\texttt{weights\\_part}).

    Layout of the code: ``[psi_pi (K) if weights_part] + psi_mu (K*D, k-major) + psi_sigma (K*D)``,
    so V = 2KD (+K). Improved FV = this coding with ``normalize="improved"`` (power 1/2 then L2).
    """

    signed = True

    def __init__(self, n_components=16, weights_part=False, random_state=None):
        self.n_components = n_components
        self.weights_part = weights_part
        self.random_state = random_state

    def fit(self, descriptors):
        descriptors = _check_descriptors(descriptors, self.n_components, "FisherCoding")
        gmm = GaussianMixture(self.n_components, covariance_type="diag", random_state=self.random_state)
        gmm.fit(descriptors)
        self.weights_, self.means_, self.variances_ = gmm.weights_, gmm.means_, gmm.covariances_
        return self

    @property
    def n_dimensions_(self):
        n, dim = self.means_.shape
        return 2 * n * dim + (n if self.weights_part else 0)

    def posteriors(self, descriptors) -> np.ndarray:
        """:math:`q_k(l_j) = \\pi_k N(l_j;\\mu_k,\\sigma_k^2) / \\sum_t \\pi_t N(l_j;\\mu_t,\\sigma_t^2)`, (M, K)."""
        descriptors = np.asarray(descriptors, dtype=np.float64)
        precision = 1.0 / self.variances_
        log_density = -0.5 * (np.sum(np.log(2 * np.pi * self.variances_), axis=1)[None, :]
                              + (descriptors ** 2) @ precision.T - 2.0 * descriptors @ (self.means_ * precision).T
                              + np.sum(self.means_ ** 2 * precision, axis=1)[None, :])
        log_joint = np.log(self.weights_)[None, :] + log_density
        log_joint -= log_joint.max(axis=1, keepdims=True)
        joint = np.exp(log_joint)
        return joint / joint.sum(axis=1, keepdims=True)

    def encode(self, descriptors) -> np.ndarray:
        descriptors = np.asarray(descriptors, dtype=np.float64)
        q = self.posteriors(descriptors)  # (M, K)
        u = (descriptors[:, None, :] - self.means_[None]) / np.sqrt(self.variances_)[None]  # (M, K, D)
        psi_mu = (q / np.sqrt(self.weights_))[:, :, None] * u
        psi_sigma = (q / np.sqrt(2 * self.weights_))[:, :, None] * (u * u - 1.0)
        parts = [psi_mu.reshape(len(descriptors), -1), psi_sigma.reshape(len(descriptors), -1)]
        if self.weights_part:
            parts.insert(0, (q - self.weights_) / np.sqrt(self.weights_))
        return np.concatenate(parts, axis=1)


class PosteriorCoding(BaseEstimator):
    """Soft coding by the posteriors of a fitted :class:`~sklearn.mixture.GaussianMixture`,
    :math:`m_{(d)}(l) = q_d(l) = \\pi_d N(l;\\mu_d,\\Sigma_d)/\\sum_t \\pi_t N(l;\\mu_t,\\Sigma_t)`
    (``mixture.predict_proba``). The mixture is used as given: ``fit`` does not refit it.
    Codes are non-negative and sum to 1."""

    signed = False

    def __init__(self, mixture=None):
        self.mixture = mixture

    def fit(self, descriptors=None):
        check_is_fitted(self.mixture)
        self.n_words_ = int(len(self.mixture.weights_))
        return self

    @property
    def n_dimensions_(self):
        return self.n_words_

    def encode(self, descriptors) -> np.ndarray:
        descriptors = _check_width(descriptors, self.mixture.n_features_in_, "the GaussianMixture")
        return self.mixture.predict_proba(descriptors)


def _check_width(descriptors, width, what):
    descriptors = np.asarray(descriptors, dtype=np.float64)
    if descriptors.ndim != 2 or descriptors.shape[1] != width:
        raise ValueError(f"the descriptors have shape {descriptors.shape} but {what} was fitted on {width} dimensions")
    return descriptors


def _unfrozen(coder):
    return coder.estimator if type(coder).__name__ == "FrozenEstimator" else coder


def prefit_coder(coder):
    """The fitted lrpref coder for a codebook fitted elsewhere, or None for an lrpref coder (fitted by ``BagOfWords.fit``).

    * an array of centres (K, D), a fitted ``KMeans`` / ``MiniBatchKMeans``: :class:`HardCoding`
      on those centres (its ``encode`` is the clusterer's ``predict`` as a one-hot code);
    * a fitted ``GaussianMixture``: :class:`PosteriorCoding`;
    * any of these inside ``sklearn.frozen.FrozenEstimator``.
    """
    inner = _unfrozen(coder)
    if isinstance(inner, np.ndarray) or isinstance(inner, (list, tuple)):
        centers = np.asarray(inner, dtype=np.float64)
        if centers.ndim != 2 or len(centers) == 0 or not np.all(np.isfinite(centers)):
            raise ValueError(f"an array of centres must be a finite 2-D array (K, D), got shape {centers.shape}")
        hard = HardCoding(n_words=len(centers))
        hard.centers_ = centers
        return hard
    if isinstance(inner, (KMeans, MiniBatchKMeans, GaussianMixture)):
        try:
            check_is_fitted(inner)
        except NotFittedError:
            raise NotFittedError(f"the {type(inner).__name__} given as coder is not fitted: a scikit-learn codebook is "
                                 "used as given (never refitted), so fit it first; a clone (GridSearchCV, "
                                 "sklearn.base.clone) is unfitted: wrap it in sklearn.frozen.FrozenEstimator") from None
        if isinstance(inner, GaussianMixture):
            return PosteriorCoding(inner).fit()
        hard = HardCoding(n_words=len(inner.cluster_centers_))
        hard.centers_ = np.asarray(inner.cluster_centers_, dtype=np.float64)
        return hard
    if isinstance(inner, tuple(CODERS.values())):
        return None
    raise TypeError(f"coder must be an lrpref coder ({', '.join(CODERS)}), a fitted KMeans / MiniBatchKMeans / "
                    f"GaussianMixture or an array of centres (K, D); got {type(inner).__name__}")


CODERS = {cls.__name__: cls for cls in (HardCoding, SoftCoding, LLCCoding, FisherCoding)}
