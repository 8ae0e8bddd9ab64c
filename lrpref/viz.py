"""Figures with matplotlib: heatmaps, overlays, per-layer and multi-scale panels, BoW maps, curves, the ledger.

Colours (math.md §13, "red = positive, blue = negative, white = 0"): relevance is
drawn with matplotlib's ``"bwr"`` map resampled to 257 colours, so that 0 is exactly white,
between the **symmetric** limits ``±L``: ``L = max |R|`` by default, the ``percentile`` of
``|R|`` when one is given (values beyond saturate), or a given ``limit``.

Library code never shows a figure and never touches pyplot's global state: every function
draws into the ``ax`` / ``axes`` it is given, or into a new :class:`matplotlib.figure.Figure`,
and returns what it drew on (single plots: the Axes, ``ax.figure`` is the figure; panels: the
Figure). Save with ``fig.savefig(path)``; it works with any backend, Agg included.

What is drawn:

* :func:`heatmap` — one relevance map; batches take a ``sample`` index, ``(N, C, H, W)``
  relevance is summed over channels (:func:`lrpref.heatmaps.channel_sum`), a flat ``(N, D)``
  batch is reshaped with ``shape=(H, W)``.
* :func:`overlay` — the map over the image: the relevance colour with opacity
  ``alpha * min(1, |R| / L)``, so zero relevance leaves the image visible.
* :func:`layer_panel` — the channel-summed relevance at the output of several layers of an
  :class:`lrpref.Explanation` (bar charts for vector-shaped layers).
* :func:`multiscale_panel` — the up-sampled stage maps and their sum
  (:func:`lrpref.heatmaps.multiscale`).
* :func:`bow_maps` — an :mod:`lrpref.bow` explanation: BoW dimensions, local features at
  their support centres, pixels.
* :func:`perturbation_curve`, :func:`pc_curve` — curves given as arrays or as a dict
  ``{method: curve}``; a 2-D curve ``(samples, steps)`` is drawn as its mean with a ±1
  standard deviation band.
* :func:`conservation_bars` — the conservation ledger of one sample: per layer, relevance
  received, passed down and absorbed by kind.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure

from ._validate import check_finite
from .heatmaps import channel_sum, multiscale
from .ledger import Ledger

__all__ = ["heatmap", "overlay", "layer_panel", "multiscale_panel", "bow_maps", "perturbation_curve", "pc_curve",
           "conservation_bars", "interval_plot", "colorbar", "symmetric_limit", "relevance_colormap", "PC_RATIOS"]

PC_RATIOS = tuple(np.round(np.arange(1, 10) / 10, 1))  # math.md §14.1
PANEL_INCHES = 2.6


# --------------------------------------------------------------------------- colours and limits


def relevance_colormap(cmap="bwr") -> Colormap:
    """The diverging map for relevance: a Colormap as given, or a matplotlib name resampled to 257 colours.

    With an odd number of colours the middle one (white for ``"bwr"``) is the colour of 0 exactly.
    """
    if isinstance(cmap, Colormap):
        return cmap
    return colormaps[cmap].resampled(257)


def symmetric_limit(relevance, percentile: float | None = None) -> float:
    """``L`` of the colour limits ``±L``: ``max |R|``, or the ``percentile`` (0 < p <= 100) of ``|R|``.

    A map that is zero everywhere (or whose percentile is 0) gets ``max |R|``, and 1 when that is 0 too.
    """
    magnitude = np.abs(np.asarray(relevance, dtype=float))
    check_finite(magnitude, "relevance")
    if percentile is not None:
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        limit = float(np.percentile(magnitude, percentile))
        if limit > 0:
            return limit
    limit = float(magnitude.max(initial=0.0))
    return limit if limit > 0 else 1.0


def _norm(values, limit, percentile) -> Normalize:
    if limit is None:
        limit = symmetric_limit(values, percentile)
    elif not (np.isfinite(limit) and limit > 0):
        raise ValueError(f"limit must be a positive number, got {limit}")
    return Normalize(-float(limit), float(limit), clip=True)


def colorbar(figure, axes, limit: float = 1.0, *, label: str = "relevance", cmap="bwr", **options):
    """One colour bar for ``axes`` (an Axes or several) drawn with the symmetric limits ``±limit``; returns it.

    Use it when several panels share one stated scale (e.g. maps divided by their own
    ``max |R|`` and drawn with ``limit=1``); ``options`` go to ``Figure.colorbar``.
    """
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=_norm(np.zeros(1), limit, None), cmap=relevance_colormap(cmap))
    return figure.colorbar(mappable, ax=axes, label=label, **{"shrink": 0.8, **options})


# --------------------------------------------------------------------------- picking one map


def _numeric(array, what) -> np.ndarray:
    array = np.asarray(array)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise TypeError(f"{what} must be a real numeric array, got dtype {array.dtype}")
    return array


def _pick(array, sample, what):
    if not -len(array) <= sample < len(array):
        raise IndexError(f"sample {sample} out of range: {what} holds a batch of {len(array)}")
    return array[sample]


def _one_map(relevance, sample=0, shape=None, what="relevance") -> np.ndarray:
    """The 2-D map of one sample (see :func:`heatmap` for the accepted shapes), finite, as float64."""
    array = _numeric(relevance, what)
    if shape is not None:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        size = math.prod(shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (H, W) or (C, H, W), got {shape}")
        if array.size != size and array.ndim >= 2 and math.prod(array.shape[1:]) == size:
            array, what = _pick(array, sample, what), f"{what} (sample {sample})"
        elif array.size != size:
            raise ValueError(f"{what} of shape {array.shape} is neither one map nor a batch of maps of shape {shape}")
        array = array.reshape(shape)
        single = array if len(shape) == 2 else array.sum(axis=0)
    elif array.ndim == 2:
        single = array
    elif array.ndim in (3, 4):
        single, what = _pick(channel_sum(array), sample, what), f"{what} (sample {sample})"
    else:
        raise ValueError(f"{what} must be a map (H, W), a batch of maps (N, H, W) or relevance (N, C, H, W); got "
                         f"shape {array.shape} (a flat batch (N, D) needs shape=(H, W))")
    single = np.asarray(single, dtype=float)
    check_finite(single, what)
    return single


def _one_image(image, sample=0, shape=None) -> tuple[np.ndarray, bool]:
    """``(picture, grey)``: one image as (H, W) grey or (H, W, 3|4) colour in [0, 1] for display.

    A single 3-D image is (H, W, C) when its last axis is 3 or 4, else (C, H, W) with C in (1, 3).
    """
    array = _numeric(image, "image")
    channels_first = False  # an image taken from a batch (N, C, H, W) or reshaped to (C, H, W) is channels-first
    if shape is not None:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if array.size != math.prod(shape) and array.ndim >= 2 and math.prod(array.shape[1:]) == math.prod(shape):
            array = _pick(array, sample, "image")
        elif array.size != math.prod(shape):
            raise ValueError(f"image of shape {array.shape} is neither one image nor a batch of images of shape {shape}")
        array, channels_first = array.reshape(shape), len(shape) == 3
    elif array.ndim == 4:
        array, channels_first = _pick(array, sample, "image"), True
    if array.ndim == 3 and array.shape[0] in (1, 3) and (channels_first or array.shape[-1] not in (3, 4)):
        array = np.moveaxis(array, 0, -1)  # (C, H, W) as lrpref inputs -> (H, W, C)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ValueError(f"image must be (H, W), (H, W, 3), (C, H, W) with C in (1, 3) or a batch (N, C, H, W); "
                         f"got shape {np.shape(image)}")
    array = np.asarray(array, dtype=float)
    check_finite(array, "image")
    low, high = array.min(), array.max()
    if low < 0 or high > 1:  # min-max to [0, 1] (e.g. a normalised network input)
        array = (array - low) / (high - low if high > low else 1.0)
    return array, array.ndim == 2


# --------------------------------------------------------------------------- single plots


def _axes(ax, inches=(PANEL_INCHES, PANEL_INCHES)):
    if ax is not None:
        return ax
    return Figure(figsize=inches, layout="constrained").add_subplot()


def _image_axes(ax, title):
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize="medium")


def heatmap(relevance, ax=None, *, sample: int = 0, shape=None, limit: float | None = None,
            percentile: float | None = None, cmap="bwr", colorbar: bool = False, title: str | None = None,
            interpolation: str = "nearest"):
    """Draw one relevance map: red positive, blue negative, white zero, limits ``±L``; returns the Axes.

    ``relevance``: a map (H, W); a batch of maps (N, H, W) or relevance (N, C, H, W), of
    which sample ``sample`` is drawn (channels summed); with ``shape=(H, W)`` (or
    ``(C, H, W)``) one flat map or a flat batch (N, D), e.g. a digits MLP's (N, 64) with
    ``shape=(8, 8)``. ``L`` is ``limit`` if given, else :func:`symmetric_limit` (``max |R|``
    or the ``percentile`` of ``|R|``). NaN / inf raise a ValueError naming the first position.
    """
    values = _one_map(relevance, sample, shape)
    ax = _axes(ax)
    shown = ax.imshow(values, cmap=relevance_colormap(cmap), norm=_norm(values, limit, percentile),
                      interpolation=interpolation)
    _image_axes(ax, title)
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, shrink=0.7, label="relevance")
    return ax


def overlay(image, relevance, ax=None, *, sample: int = 0, shape=None, limit: float | None = None,
            percentile: float | None = None, cmap="bwr", alpha: float = 0.85, image_alpha: float = 0.45,
            image_cmap: str = "gray", title: str | None = None):
    """Draw ``relevance`` over ``image``: colour as :func:`heatmap`, opacity ``alpha * min(1, |R| / L)``; returns the Axes.

    ``image``: (H, W) grey, (H, W, 3) colour, (C, H, W) with C in (1, 3) as a network input,
    or a batch (N, C, H, W) (``sample`` picks one); ``shape`` reshapes flat images and
    relevance alike. The image is drawn faded (opacity ``image_alpha`` over white) so that
    the colours stay readable; its values are taken as they are when in [0, 1], min-max
    scaled otherwise; grey images use ``image_cmap`` (``"gray_r"`` for dark ink on white, as
    the digits). A map of lower resolution than the image (a stage) is stretched over it,
    each of its cells a block.
    """
    for name, value in (("alpha", alpha), ("image_alpha", image_alpha)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    picture, grey = _one_image(image, sample, shape)
    values = _one_map(relevance, sample, shape)
    norm = _norm(values, limit, percentile)
    colours = relevance_colormap(cmap)(norm(values))
    colours[..., 3] = alpha * np.minimum(1.0, np.abs(values) / norm.vmax)
    height, width = picture.shape[:2]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    ax = _axes(ax)
    ax.set_facecolor("white")
    ax.imshow(picture, cmap=image_cmap if grey else None, vmin=0, vmax=1, interpolation="nearest", extent=extent,
              alpha=image_alpha)
    ax.imshow(colours, interpolation="nearest", extent=extent)
    _image_axes(ax, title)
    return ax


def _bars(ax, values, cmap="bwr", limit=None, percentile=None, title=None, xlabel="index"):
    """Relevance of a vector as bars coloured like a heatmap."""
    values = np.asarray(values, dtype=float).ravel()
    check_finite(values, title.splitlines()[0] if title else "relevance")
    norm = _norm(values, limit, percentile)
    ax.bar(np.arange(len(values)), values, width=1.0, color=relevance_colormap(cmap)(norm(values)),
           edgecolor="0.4", linewidth=0.3)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(xlabel)
    if title is not None:
        ax.set_title(title, fontsize="medium")
    return ax


def _grid(n, ncols=None, axes=None, inches=PANEL_INCHES):
    """``(figure, axes)`` with ``n`` panels: the given ones, or a new figure of ``ncols`` columns."""
    if axes is not None:
        axes = list(np.ravel(axes))
        if len(axes) < n:
            raise ValueError(f"{n} panels need {n} axes, got {len(axes)}")
        return axes[0].figure, axes[:n]
    ncols = min(n, ncols or 4)
    nrows = -(-n // ncols)
    figure = Figure(figsize=(inches * ncols, inches * nrows), layout="constrained")
    grid = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for extra in grid[n:]:
        extra.set_visible(False)
    return figure, list(grid[:n])


# --------------------------------------------------------------------------- explanations


def _neural(ex):
    if not (hasattr(ex, "layers") and hasattr(ex, "relevance") and hasattr(ex, "top")):
        raise TypeError(f"expected an lrpref.Explanation (from lrpref.explain), got {type(ex).__name__}"
                        + ("; draw a bag-of-words explanation with bow_maps" if hasattr(ex, "pixels") else ""))
    return ex


def _default_layers(ex):
    """The input, every layer that changes the spatial size (pooling, strided convolution), and the top."""
    chosen = ["input"]
    for record in ex.layers[:-1]:
        before, after = record.relevance_in.shape, record.relevance_out.shape
        if len(after) == 4 and before[2:] != after[2:]:
            chosen.append(record.index)
    return chosen + [len(ex.layers) - 1]


def _layer_relevance(ex, which):
    """``(relevance, label)`` at the output of layer ``which`` (an index) or of the input (``"input"``)."""
    if isinstance(which, str):
        if which != "input":
            raise ValueError(f"a layer is an index or 'input', got {which!r}")
        return ex.relevance, "input"
    if not -len(ex.layers) <= which < len(ex.layers):
        raise IndexError(f"layer {which} out of range: the network has {len(ex.layers)} layers")
    record = ex.layers[which]
    return record.relevance_out, f"layer {record.index} {record.layer.describe()}"


def layer_panel(ex, layers=None, *, sample: int = 0, input_shape=None, percentile: float | None = None,
                cmap="bwr", ncols: int | None = None, axes=None) -> Figure:
    """Relevance at the output of several layers of an :class:`lrpref.Explanation`, one panel each; returns the Figure.

    ``layers``: indices ``k`` (the relevance at the output of layer ``k``, summed over
    channels: :func:`lrpref.heatmaps.stage`) and/or ``"input"``; by default the input, every
    layer that changes the spatial size and the last layer (the top relevance). Spatial
    relevance is drawn as a heatmap, vectors (after Flatten / Dense) as bars;
    ``input_shape=(H, W)`` shows a flat input as an image. Each panel has its own limits
    ``±L`` and gives ``ΣR``, the relevance it holds.
    """
    ex = _neural(ex)
    chosen = _default_layers(ex) if layers is None else list(layers)
    if not chosen:
        raise ValueError("layers is empty")
    figure, panels = _grid(len(chosen), ncols, axes)
    for ax, which in zip(panels, chosen):
        relevance, label = _layer_relevance(ex, which)
        sample_values = _pick(relevance, sample, "the explanation")
        title = f"{label}\nΣR = {float(np.sum(sample_values)):.4g}"
        if relevance.ndim == 4 or (which == "input" and input_shape is not None):
            heatmap(relevance, ax, sample=sample, shape=input_shape if which == "input" else None,
                    percentile=percentile, cmap=cmap, title=title)
        elif relevance.ndim == 2:
            _bars(ax, sample_values, cmap, percentile=percentile, title=title, xlabel="neuron")
        else:
            raise ValueError(f"{label}: relevance of shape {relevance.shape[1:]} is neither (C, H, W) nor a vector")
    return figure


def multiscale_panel(ex, layers, *, sample: int = 0, size=None, norm: str = "none", image=None, image_cmap="gray",
                     percentile: float | None = None, cmap="bwr", ncols: int | None = None, axes=None) -> Figure:
    """The stage maps ``Up(H_s)`` of ``layers`` and their sum ``Σ_s Up(H_s)``, one panel each; returns the Figure.

    The maps are :func:`lrpref.heatmaps.multiscale` of each layer alone and of all of them
    (``norm`` as there: ``"none"``, ``"maxabs"``, ``"mass"``; ``size`` defaults to the
    input's). With ``image`` (the input, e.g. the explained batch) the sum is drawn over it
    (:func:`overlay`, grey images with ``image_cmap``).
    """
    ex = _neural(ex)
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty")
    figure, panels = _grid(len(layers) + 1, ncols, axes)
    for ax, layer in zip(panels, layers):
        _, label = _layer_relevance(ex, layer)
        heatmap(multiscale(ex, [layer], size, norm), ax, sample=sample, percentile=percentile, cmap=cmap,
                title=f"up-sampled output of\n{label}")
    total = multiscale(ex, layers, size, norm)
    title = f"sum of {len(layers)} stages\n(norm {norm!r})"
    if image is None:
        heatmap(total, panels[-1], sample=sample, percentile=percentile, cmap=cmap, title=title)
    else:
        overlay(image, total, panels[-1], sample=sample, percentile=percentile, cmap=cmap, image_cmap=image_cmap,
                title=title)
    return figure


def bow_maps(ex, image=None, *, target_name: str | None = None, image_cmap="gray", percentile: float | None = None,
             cmap="bwr", axes=None) -> Figure:
    """An :mod:`lrpref.bow` explanation in three panels (five with ``image``); returns the Figure.

    With ``image``, first the image by itself; then

    1. ``ex.words``, the relevance :math:`R^{(3)}_d` of each BoW dimension (bars);
    2. ``ex.features``, the relevance :math:`R^{(2)}_j` of each local feature as a dot at the
       centre of its support (over a faded ``image`` when given, grey images with
       ``image_cmap``; strongest drawn last), with a colour bar;
    3. ``ex.pixels``, the pixel map :math:`R^{(1)}` (heatmap with a colour bar);

    and with ``image`` the pixel map over the image. Titles give each layer's total, so the
    conservation ``f ≈ ΣR^{(3)} ≈ ΣR^{(2)} ≈ ΣR^{(1)}`` can be read off, and the decision:
    ``f > 0`` votes for the target class (``target_name``, default the target as given),
    ``f < 0`` against it — then red marks what speaks for the class all the same, blue what
    speaks against it.
    """
    if not all(hasattr(ex, name) for name in ("pixels", "features", "words", "supports")):
        raise TypeError(f"expected an lrpref.bow Explanation (from lrpref.bow.explain), got {type(ex).__name__}")
    pixels = _one_map(ex.pixels, what="ex.pixels")
    features = np.asarray(ex.features, dtype=float)
    check_finite(features, "ex.features")
    picture = None
    if image is not None:
        picture, grey = _one_image(image)
        if picture.shape[:2] != pixels.shape:
            raise ValueError(f"image of shape {picture.shape[:2]} does not match the explanation's {pixels.shape}")
    figure, panels = _grid(3 if image is None else 5, 5, axes)
    name = str(ex.target) if target_name is None else target_name
    verdict = "for" if ex.f > 0 else "against"
    if picture is not None:
        panels[0].imshow(picture, cmap=image_cmap if grey else None, vmin=0, vmax=1, interpolation="nearest")
        _image_axes(panels[0], f"input\nf = {ex.f:.3g}: {verdict} {name!r}")
        panels = panels[1:]
    _bars(panels[0], ex.words, cmap, percentile=percentile, xlabel="BoW dimension d",
          title=f"words, ΣR = {np.sum(ex.words):.4g}\n(target {name!r}, f = {ex.f:.4g})")

    ax = panels[1]
    height, width = pixels.shape
    if picture is not None:
        ax.imshow(picture, cmap=image_cmap if grey else None, vmin=0, vmax=1, interpolation="nearest", alpha=0.45)
    order = np.argsort(np.abs(features), kind="stable")
    centres = ex.supports.center[order]
    dots = ax.scatter(centres[:, 1], centres[:, 0], c=features[order], cmap=relevance_colormap(cmap),
                      norm=_norm(features, None, percentile), s=14, edgecolors="0.3", linewidths=0.3)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_aspect("equal")
    _image_axes(ax, f"{len(features)} local features\nΣR = {features.sum():.4g}")
    figure.colorbar(dots, ax=ax, shrink=0.7, label="feature relevance")

    heatmap(pixels, panels[2], percentile=percentile, cmap=cmap, title=f"pixels\nΣR = {pixels.sum():.4g}",
            colorbar=True)
    if image is not None:
        overlay(image, pixels, panels[3], percentile=percentile, cmap=cmap, image_cmap=image_cmap,
                title="pixels over the image\n(same colours, faded input)")
    return figure


# --------------------------------------------------------------------------- curves


_MARKERS = ("o", "s", "^", "v", "D", "x", "P", "*", "<", ">")
_STYLES = ("-", "--", "-.", ":")


def _curves(ax, curves, x, default_x, band):
    """Draw each curve of ``curves`` (array or dict name -> array) against ``x``; a 2-D curve as mean ± std.

    Each curve has its own marker and line style (curves that overlap stay distinguishable); the
    legend sits outside the axes, right of them, so that it covers no curve. Returns the numbers of
    samples averaged (one per 2-D curve)."""
    named = list(curves.items()) if isinstance(curves, dict) else [(None, curves)]
    if not named:
        raise ValueError("no curves to draw")
    averaged = []
    for index, (name, curve) in enumerate(named):
        what = "curve" if name is None else f"curve {name!r}"
        values = np.asarray(_numeric(curve, what), dtype=float)
        if values.ndim not in (1, 2) or values.shape[-1] == 0:
            raise ValueError(f"{what} must be (steps,) or (samples, steps), got shape {values.shape}")
        check_finite(values, what)
        steps = np.asarray(default_x(values.shape[-1]) if x is None else x, dtype=float)
        if steps.shape != (values.shape[-1],):
            raise ValueError(f"{what} has {values.shape[-1]} points but the x values are {steps.shape[0]}; "
                             f"give them explicitly")
        mean = values if values.ndim == 1 else values.mean(axis=0)
        if values.ndim == 2:
            averaged.append(len(values))
        line, = ax.plot(steps, mean, marker=_MARKERS[index % len(_MARKERS)], markersize=3.5,
                        linestyle=_STYLES[index % len(_STYLES)], label=name)
        if values.ndim == 2 and band:
            spread = values.std(axis=0)
            ax.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.15, linewidth=0)
    if isinstance(curves, dict):
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize="small")
    ax.grid(alpha=0.3)
    return averaged


def _mean_label(label, averaged):
    """The y label, saying once how many samples the 2-D curves average (``mean over n samples``)."""
    counts = sorted(set(averaged))
    if not counts:
        return label
    return f"{label}, mean over {counts[0] if len(counts) == 1 else '/'.join(map(str, counts))} samples"


def perturbation_curve(curves, steps=None, ax=None, *, band: bool = True, xlabel: str = "perturbation step k",
                       ylabel: str = "f(x⁽ᵏ⁾)", title: str | None = "region perturbation (MoRF)"):
    """Perturbation curves ``f(x^(k))``, ``k = 0 .. L`` (math.md §14.4); returns the Axes.

    ``curves``: an array (L+1,) or (samples, L+1), or a dict ``{method: such an array}``;
    ``steps`` the x values (default ``0 .. L``). The area over a MoRF curve is the AOPC. The
    y label says over how many samples 2-D curves are averaged; the legend is outside, right.
    """
    ax = _axes(ax, (5.5, 3.2))
    averaged = _curves(ax, curves, steps, np.arange, band)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_mean_label(ylabel, averaged))
    if title is not None:
        ax.set_title(title)
    return ax


def pc_curve(curves, ratios=None, ax=None, *, band: bool = True, xlabel: str = "fraction of pixels removed ρ",
             ylabel: str = "P_c(X_ρ) − P_c(X)", title: str | None = "probability change"):
    """Probability-change curves ``PC(ρ)`` (math.md §14.1); higher is better; returns the Axes.

    ``curves``: an array (R,) or (samples, R), or a dict ``{method: such an array}``;
    ``ratios`` the removed fractions (default :data:`PC_RATIOS`, 0.1 .. 0.9, for curves of 9
    points). A line marks 0.
    """
    ax = _axes(ax, (5.5, 3.2))
    averaged = _curves(ax, curves, ratios, lambda n: PC_RATIOS, band)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_mean_label(ylabel, averaged))
    if title is not None:
        ax.set_title(title)
    return ax


def interval_plot(intervals, ax=None, *, xlabel: str = "mean", title: str | None = None, reference=None):
    """Means with their confidence intervals, one row per name, best (largest mean) on top; returns the Axes.

    ``intervals``: a dict ``{name: Interval}`` (:func:`lrpref.evaluate.mean_interval`);
    ``reference``: an x value drawn as a dotted line (e.g. the chance level). Rows whose
    intervals overlap cannot be told apart at that level; a paired comparison
    (:func:`lrpref.evaluate.paired_difference`) is the sharper test for two methods on the same
    samples.
    """
    if not intervals:
        raise ValueError("no intervals to draw")
    ranked = sorted(intervals.items(), key=lambda item: -item[1].mean)
    ax = _axes(ax, (5.0, 0.9 + 0.32 * len(ranked)))
    y = np.arange(len(ranked))
    means = np.array([interval.mean for _, interval in ranked])
    errors = np.array([[interval.mean - interval.low, interval.high - interval.mean] for _, interval in ranked]).T
    ax.errorbar(means, y, xerr=errors, fmt="o", color="black", ecolor="0.4", capsize=3, markersize=4)
    if reference is not None:
        ax.axvline(reference, color="0.5", linestyle=":", linewidth=1)
    ax.set_yticks(y, [name for name, _ in ranked])
    ax.set_ylim(len(ranked) - 0.5, -0.5)
    level = ranked[0][1].level
    ax.set_xlabel(f"{xlabel} ({level:.0%} confidence interval)")
    ax.grid(axis="x", alpha=0.3)
    if title is not None:
        ax.set_title(title, fontsize="medium")
    return ax


# --------------------------------------------------------------------------- the ledger


def _ledger(ex) -> Ledger:
    if isinstance(ex, Ledger):
        return ex
    for name in ("conservation", "ledger"):  # lrpref.Explanation / lrpref.bow Explanation
        ledger = getattr(ex, name, None)
        if isinstance(ledger, Ledger):
            return ledger
    raise TypeError(f"expected an explanation with a conservation ledger or a Ledger, got {type(ex).__name__}")


def conservation_bars(ex, *, sample: int = 0, axes=None, bar_height: float = 0.38, title: str | None = None) -> Figure:
    """The conservation ledger of one sample as bars per layer (top first), in two panels; returns the Figure.

    Left: relevance each step received from above and passed down. Right, on its own scale
    (absorbed amounts are often small next to what flows through): what the step absorbed, by
    kind (``bias``, ``stabiliser``, ``dropped``, ...; kinds that absorb nothing in this sample
    are left out), stacked with positive amounts right of 0 and negative ones left, and the
    residual ``received - passed - absorbed`` as a black tick. ``ex``: an
    :class:`lrpref.Explanation` (``ex.conservation``), an :mod:`lrpref.bow` explanation
    (``ex.ledger``) or a :class:`~lrpref.ledger.Ledger`; ``axes``: two Axes to draw into.
    ``title`` (default: the explanation's ``description``, e.g. the rule) heads the figure; the
    legends sit below the panels, where they cover no bar.
    """
    ledger = _ledger(ex)
    if not 0 <= sample < ledger.n_samples:
        raise IndexError(f"sample {sample} out of range: the ledger holds {ledger.n_samples} samples")
    rows = ledger.rows
    y = np.arange(len(rows))
    if axes is None:
        figure = Figure(figsize=(10.0, 1.4 + 0.4 * len(rows)), layout="constrained")
        flow, absorbed = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    else:
        figure, (flow, absorbed) = _grid(2, axes=axes)
    flow.barh(y - bar_height / 2, [row.received[sample] for row in rows], bar_height, color="0.6", label="received")
    flow.barh(y + bar_height / 2, [row.passed[sample] for row in rows], bar_height, color="0.15", label="passed")
    right, left = np.zeros(len(rows)), np.zeros(len(rows))
    for colour, kind in enumerate(ledger.kinds):
        amount = np.array([row.absorbed[kind][sample] if kind in row.absorbed else 0.0 for row in rows], dtype=float)
        if amount.any():
            absorbed.barh(y, amount, 2 * bar_height, left=np.where(amount >= 0, right, left), color=f"C{colour}",
                          label=kind)
            right += np.maximum(amount, 0)
            left += np.minimum(amount, 0)
    residual = np.array([row.residual[sample] for row in rows], dtype=float)
    absorbed.scatter(residual, y, marker="|", s=200, color="black", label="residual", zorder=3)
    for ax, heading in ((flow, f"sample {sample}: relevance received and passed"),
                        (absorbed, f"absorbed by kind (max |residual| {np.abs(residual).max(initial=0):.1e})")):
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(heading, fontsize="medium")
        ax.set_xlabel("relevance")
    flow_handles, flow_labels = flow.get_legend_handles_labels()
    absorbed_handles, absorbed_labels = absorbed.get_legend_handles_labels()
    handles, labels = flow_handles + absorbed_handles, flow_labels + absorbed_labels
    figure.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize="small", frameon=False)
    title = getattr(ex, "description", None) if title is None else title
    if title:
        figure.suptitle(f"conservation ledger: {title}", fontsize="medium")
    flow.set_yticks(y, [row.name for row in rows], fontsize="small")
    for ax in (flow, absorbed):  # top step first (shared axes invert together)
        if not ax.yaxis_inverted():
            ax.invert_yaxis()
    return figure
