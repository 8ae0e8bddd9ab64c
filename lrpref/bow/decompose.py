"""The three decomposition steps f -> BoW dimensions -> local features -> pixels (math.md §B3-§B5).

Each step returns the relevance it passes down and a :class:`lrpref.ledger.LedgerRow`
(one sample) saying what it received, passed and absorbed, with every absorbed amount
computed from its own formula, so the ledger residual is a real round-off check:

* :func:`words_relevance` — layer 3 of a sum-decomposable kernel (S14, exact but for the
  unassigned bias); the Taylor rule of differentiable kernels lives in :mod:`.taylor`;
* :func:`features_relevance` — layer 2 (S19-S23);
* :func:`pixels_relevance` — layer 1 (S24/S25).
"""

from __future__ import annotations

import numpy as np

from ..ledger import LedgerRow
from .taylor import taylor

__all__ = ["BIAS_POLICIES", "DEFAULT_BIAS", "ledger_row", "bias_shares", "words_relevance", "words_relevance_taylor",
           "default_epsilon", "features_relevance", "pixels_relevance"]

BIAS_POLICIES = ("histogram", "active", "uniform", "proportional", "none")
#: The bias share policy used by default, chosen by the localisation benchmark
#: (benchmarks/bow_localisation.py, docs/bow.md): every local feature gets the same share.
DEFAULT_BIAS = "histogram"
ZERO_DIM_POLICIES = ("drop", "uniform")


def ledger_row(name, received, passed, **absorbed) -> LedgerRow:
    """A one-sample ledger row."""
    return LedgerRow(name, np.array([float(received)]), np.array([float(passed)]),
                     {kind: np.array([float(v)]) for kind, v in absorbed.items()})


def bias_shares(bias, x, contributions, policy=DEFAULT_BIAS) -> np.ndarray:
    """Bias shares :math:`\\beta_d(b)` of math.md §B3.1 (S14), summing to ``bias`` or to 0.

    * ``"histogram"``: :math:`b\\,|x_{(d)}|/\\sum_{d'}|x_{(d')}|`, in proportion to the histogram.
      With sum or mean pooling (``pooling="sum"`` or ``1.0``) of codes that sum to 1 (hard or
      soft coding), layer 2 then gives every local feature the same share :math:`b/M`: the bias,
      which says nothing about where, lands evenly on the image;
    * ``"active"``: :math:`b\\,\\mathbb 1[x_{(d)}\\ne0]/|A|`, :math:`A=\\{d: x_{(d)}\\ne0\\}`;
      a word used by few local features gives each of them a large share;
    * ``"uniform"``: :math:`b/V`;
    * ``"proportional"``: :math:`b\\,|c_d|/\\sum_{d'}|c_{d'}|`;
    * ``"none"``: 0.

    When the policy has nothing to share over (empty histogram, all :math:`c_d=0`) the
    shares are 0 and the bias stays unexplained.
    """
    if policy not in BIAS_POLICIES:
        raise ValueError(f"bias must be one of {BIAS_POLICIES}, got {policy!r}")
    if policy == "uniform":
        return np.full(len(x), bias / len(x))
    if policy == "none":
        return np.zeros(len(x))
    if policy == "histogram":
        mass = np.abs(np.asarray(x, dtype=np.float64))
    elif policy == "active":
        mass = (np.asarray(x) != 0).astype(np.float64)
    else:
        mass = np.abs(contributions)
    total = mass.sum()
    return bias * mass / total if total > 0 else np.zeros(len(x))


def words_relevance(expansion, x, fx, bias=DEFAULT_BIAS, reference=0.0, histogram=None):
    """Layer 3 of a sum-decomposable kernel (math.md §B3.1, S14):

    .. math:: R^{(3)}_d = \\beta_d(b') + \\sum_{i=1}^{S} a_i\\,[\\kappa_d(x_{i(d)}, x_{(d)}) - \\kappa_d(x_{i(d)}, 0)],
              \\qquad b' = b + \\sum_d\\sum_i a_i\\,\\kappa_d(x_{i(d)}, 0)

    (:math:`b' = b` for every kernel with :math:`\\kappa(\\cdot, 0) = 0`; the constant part of
    scikit-learn's ``additive_chi2_kernel`` joins the bias, math.md §B3.1). With steps between
    the histogram and the classifier, 0 is replaced by ``reference``, the image of the empty
    histogram, so every relevance is relative to the absence of the word and passes the steps
    unchanged; the ``"histogram"`` and ``"active"`` bias policies then read ``histogram``.

    Parameters
    ----------
    expansion : KernelExpansion with a decomposable kernel
    x : (V,) BoW vector
    fx : float
        :math:`f(x)` computed from the Gram matrix (the ledger checks the sum against it).
    bias : {"histogram", "active", "uniform", "proportional", "none"}
        See :func:`bias_shares`.

    Returns
    -------
    relevance : (V,) ndarray
    row : LedgerRow, absorbed ``bias`` = the part of :math:`b'` no dimension received.
    """
    contributions = expansion.contributions(x, reference)
    intercept = expansion.intercept + expansion.offset(reference)
    shares = bias_shares(intercept, x if histogram is None else histogram, contributions, bias)
    relevance = shares + contributions
    row = ledger_row("layer 3: f -> words", fx, relevance.sum(), bias=intercept - shares.sum())
    return relevance, row


def words_relevance_taylor(expansion, x, fx, refine=0, root="line", residual="none", method="taylor", bias=DEFAULT_BIAS,
                           empty=None, histogram=None):
    """Layer 3 of a differentiable kernel by an expansion at a root (math.md §B3.2; :mod:`.taylor`).

    Returns the relevance, the :class:`~lrpref.bow.taylor.TaylorResult` and a ledger row
    whose absorbed ``root_value`` is the part of :math:`f(x_0)` not shared out and
    ``taylor_remainder`` (first order: second order in :math:`\\lVert x - x_0\\rVert`) or
    ``quadrature`` (integrated gradients: the quadrature error) the rest of
    :math:`f(x) - \\sum_d R_d`. With ``root="empty"`` the reference value :math:`f(0)` is shared
    by the ``bias`` policy (:func:`bias_shares`) and what is not shared is absorbed as ``bias``.
    """
    result = taylor(expansion, x, fx, refine=refine, root=root, residual=residual, method=method, empty=empty,
                    share=lambda amount, relevance: bias_shares(amount, x if histogram is None else histogram,
                                                                relevance, bias))
    root_value = result.f_root - result.root_share
    remainder = {"taylor": "taylor_remainder", "integrated": "quadrature"}[method]
    start = {"bias": root_value} if result.status == "empty" else {"root_value": root_value}
    row = ledger_row(f"layer 3: f -> words ({'Taylor' if method == 'taylor' else 'integrated gradients'})", fx,
                     result.relevance.sum(), **start, **{remainder: result.residual - root_value})
    return result.relevance, result, row


def default_epsilon(weights, signed) -> float:
    """Default stabiliser of math.md §B4.5: 0 for non-negative codes, :math:`10^{-9}\\,\\mathrm{mean}_d|z_d|` for signed ones."""
    if not signed:
        return 0.0
    return 1e-9 * float(np.mean(np.abs(weights.sum(axis=0)))) if weights.size else 0.0


def features_relevance(weights, relevance, epsilon=0.0, zero_dim="drop", name="layer 2: words -> local features"):
    """Layer 2 (math.md §B4, S19-S23): split each dimension's relevance over the local features.

    .. math:: R^{(2)}_j = \\sum_d R^{(3)}_d\\,\\frac{w_{jd}}{z_d + \\epsilon\\,\\mathrm{sign}(z_d)},
              \\qquad z_d = \\sum_j w_{jd},\\ \\mathrm{sign}(0) := +1,

    with ``weights`` :math:`w` from :func:`lrpref.bow.pooling.share_weights` (codes, powers or
    arg-max indicators). A dimension with a zero denominator (no feature reaches it, or
    :math:`\\epsilon=0` and :math:`z_d = 0`) cannot pass its relevance: ``zero_dim="drop"``
    loses it (absorbed ``dropped``), ``"uniform"`` gives :math:`R_d/M` to every feature.
    The stabiliser absorbs :math:`\\sum_d R_d\\,(1 - z_d/(z_d+\\epsilon\\,\\mathrm{sign}\\,z_d))` (S23).

    Returns
    -------
    relevance : (M,) ndarray
    row : LedgerRow with absorbed ``dropped`` and ``stabiliser``.
    """
    if zero_dim not in ZERO_DIM_POLICIES:
        raise ValueError(f"zero_dim must be one of {ZERO_DIM_POLICIES}, got {zero_dim!r}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    weights = np.asarray(weights, dtype=np.float64)
    n_features = weights.shape[0]
    z = weights.sum(axis=0)
    denominator = z + epsilon * np.where(z >= 0, 1.0, -1.0)
    blocked = (denominator == 0) | ~np.any(weights != 0, axis=0)
    scaled = np.where(blocked, 0.0, relevance / np.where(blocked, 1.0, denominator))
    passed = weights @ scaled
    blocked_total = relevance[blocked].sum()
    if zero_dim == "uniform" and n_features > 0:
        passed = passed + blocked_total / n_features
        blocked_total = 0.0
    kept = ~blocked
    stabiliser = np.sum(relevance[kept] * (1.0 - z[kept] / denominator[kept]))
    row = ledger_row(name, relevance.sum(), passed.sum(), dropped=blocked_total, stabiliser=stabiliser)
    return passed, row


def pixels_relevance(supports, relevance, projection="uniform", clip=True, name="layer 1: local features -> pixels"):
    """Layer 1 (math.md §B5, S24/S25): spread each feature's relevance over its support.

    .. math:: R^{(1)}_q = \\sum_{j:\\,q\\in\\mathrm{area}(l_j)} R^{(2)}_j\\,\\frac{w_j(q)}{\\sum_{q'}w_j(q')},

    :math:`w_j \\equiv 1` for ``projection="uniform"`` (S24) and a Gaussian window for
    ``"gaussian"`` (S25). With ``clip=True`` (default) the supports are clipped to the image
    and nothing is lost; with ``clip=False`` the share of the nominal support outside the
    image is absorbed as ``outside_image``.

    Returns
    -------
    pixels : (H, W) ndarray
    row : LedgerRow with absorbed ``outside_image``.
    """
    if projection not in ("uniform", "gaussian"):
        raise ValueError(f"projection must be 'uniform' or 'gaussian', got {projection!r}")
    pixels, weight, inside = supports.spread(relevance, gaussian=(projection == "gaussian"), clip=clip)
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(weight > 0, inside / np.where(weight > 0, weight, 1.0), 0.0)
    outside = np.sum(relevance * (1.0 - kept))
    return pixels, ledger_row(name, relevance.sum(), pixels.sum(), outside_image=outside)
