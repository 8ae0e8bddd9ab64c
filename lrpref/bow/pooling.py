"""Pooling of the codes of one image into one BoW vector, its relevance shares, and normalisation.

Forward (math.md §B2.4, S8/S9): :math:`\\bar x_{(d)} = (M^{-1}\\sum_j m_{jd}^p)^{1/p}`, with
``p = inf`` for max pooling. Normalisation (math.md §B2.5, S10): L1, L2, power, improved
(power 1/2 then L2).

Backward (math.md §B4.1-§B4.3): the *share weights* ``w[j, d]`` whose column-normalised form
:math:`w_{jd}/\\sum_{j'} w_{j'd}` splits the relevance of dimension ``d`` over the features:
:math:`m_{jd}` for ``p = 1`` (S19), :math:`m_{jd}^p` for ``1 < p < inf`` (S20), the arg-max
indicator for ``p = inf`` (S21). Normalisation is passed through unchanged (math.md §B3.4).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pool", "share_weights", "normalize", "NORMALIZATIONS", "check_pooling", "check_normalization"]

NORMALIZATIONS = ("none", "l1", "l2", "power", "improved")


def check_pooling(p, signed: bool):
    """Validate the pooling: ``"sum"`` (the histogram of counts, :math:`\\sum_j m_{jd}`) or the
    exponent ``p`` (a float in [1, inf]) of the p-means; signed codes allow "sum", 1 and inf only."""
    if isinstance(p, str) and p == "sum":
        return p
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"pooling must be 'sum' or a number p >= 1 or inf (max pooling), got {p!r}") from None
    if not p >= 1.0:
        raise ValueError(f"pooling must be 'sum' or a number p >= 1 or inf (max pooling), got {p!r}")
    if signed and p not in (1.0, np.inf):
        raise ValueError(f"signed codes allow pooling=1 (sum) or inf (max) only, got {p!r} (math.md §B2.4)")
    return p


def check_normalization(kind) -> str:
    """Validate the name of a normalisation (one of :data:`NORMALIZATIONS`)."""
    if kind not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {kind!r}")
    return kind


def _scaled_powers(codes, p):
    """``(m / max_j m)^p`` per column, computed as ``exp(p (log m - log max))``; 0 where m = 0 (S20)."""
    top = codes.max(axis=0, initial=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(codes > 0, codes / np.where(top > 0, top, 1.0), 0.0)
        weights = np.where(ratio > 0, np.exp(p * np.log(ratio)), 0.0)
    return weights, top


def pool(codes, p) -> np.ndarray:
    """p-means pooling over the features (rows) of ``codes`` (M, V) (math.md §B2.4, S8/S9).

    .. math:: \\bar x_{(d)} = \\Big(M^{-1}\\sum_{j=1}^M m_{jd}^{\\,p}\\Big)^{1/p},\\qquad
              \\bar x_{(d)} = \\max_j m_{jd}\\ \\ (p=\\infty).

    ``p = 1`` is the mean (valid for signed codes), ``p = "sum"`` the sum :math:`\\sum_j m_{jd}`
    (a histogram of counts for hard codes). For ``1 < p < inf`` the codes must be
    non-negative; the mean is computed relative to the column maximum so large ``p`` does
    not overflow. An image with no feature pools to the zero vector.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if len(codes) == 0:
        return np.zeros(codes.shape[1])
    if p == "sum":
        return codes.sum(axis=0)
    if p == np.inf:
        return codes.max(axis=0)
    if p == 1.0:
        return codes.mean(axis=0)
    weights, top = _scaled_powers(codes, p)
    return top * weights.mean(axis=0) ** (1.0 / p)


def share_weights(codes, p) -> np.ndarray:
    """Weights ``w[j, d]`` of the layer-2 rule (math.md §B4.1-§B4.3, S19-S21), shape (M, V).

    * ``p = 1`` or ``"sum"``: :math:`w_{jd} = m_{jd}` (signed codes allowed);
    * ``1 < p < inf``: :math:`w_{jd} = (m_{jd}/\\max_{j'} m_{j'd})^p` (the common factor
      cancels in the share :math:`w_{jd}/\\sum_{j'}w_{j'd} = m_{jd}^p/\\sum_{j'}m_{j'd}^p`);
    * ``p = inf``: :math:`w_{jd} = \\mathbb 1[m_{jd} = \\max_{j'} m_{j'd}]`, so ties split
      equally. A zero code is never a winner: a dimension no feature reaches keeps an empty
      column, exactly as for finite ``p``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if p == "sum" or p == 1.0:
        return codes
    if p == np.inf:
        top = codes.max(axis=0, initial=-np.inf)
        return ((codes == top) & (codes != 0)).astype(np.float64)
    return _scaled_powers(codes, p)[0]


def normalize(pooled, kind="l1", power=0.5) -> np.ndarray:
    """Normalise a pooled BoW vector (math.md §B2.5, S10a-c).

    * ``"l1"``: :math:`x = \\bar x/\\lVert\\bar x\\rVert_1`; ``"l2"``: :math:`x = \\bar x/\\lVert\\bar x\\rVert_2`;
    * ``"power"``: :math:`x_{(d)} = \\mathrm{sign}(\\bar x_{(d)})\\,\\lvert\\bar x_{(d)}\\rvert^{\\rho}`;
    * ``"improved"``: power with :math:`\\rho` = ``power`` then L2 (improved Fisher vector);
    * ``"none"``: unchanged.

    The zero vector stays zero. Relevance passes through all of them unchanged (math.md §B3.4).
    """
    check_normalization(kind)
    x = np.asarray(pooled, dtype=np.float64)
    if kind in ("power", "improved"):
        x = np.sign(x) * np.abs(x) ** power
    if kind in ("l1", "l2", "improved"):
        norm = np.sum(np.abs(x)) if kind == "l1" else np.sqrt(np.sum(x * x))
        if norm > 0:
            x = x / norm
    return x
