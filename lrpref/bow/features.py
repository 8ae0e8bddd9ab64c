"""Local features of an image and their pixel supports (math.md §B2.2, §B5, §B8).

A local feature is a descriptor :math:`l_j \\in \\mathbb R^D` together with its support
:math:`\\mathrm{area}(l_j)`, the set of pixels it describes. Layer 1 of the decomposition
(math.md §B5) spreads the relevance of each feature over its support, so the support is part
of the feature record (:class:`Supports`).

Three support shapes cover the extractors of math.md §B8:

* ``box``: an axis-aligned rectangle of pixels (dense raw patches, HOG blocks);
* ``disc``: the pixels within a radius of a centre (DAISY);
* ``rotated square``: the pixels of a square of half-side ``half`` turned by ``angle``
  (SIFT keypoints, skimage's own patch convention).

Every support also carries the standard deviation of a Gaussian window centred on it, used
by the weighted projection (math.md §B5, S25).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from skimage.color import rgb2gray
from skimage.feature import SIFT, daisy, hog
from skimage.transform import downscale_local_mean
from skimage.util import view_as_windows
from sklearn.base import BaseEstimator

__all__ = ["Supports", "LocalFeatures", "DenseFeatures", "KeypointFeatures", "FunctionFeatures", "as_features",
           "as_grey_image"]

BOX, DISC, ROTATED_SQUARE = 0, 1, 2


def as_grey_image(image, index=None) -> np.ndarray:
    """Validate one image and return it as a float64 grey image in [0, 1] for uint8 input.

    Colour images (H, W, 3) are converted with :func:`skimage.color.rgb2gray`. Raises a
    ``ValueError`` naming the problem for an empty image, a wrong shape or non-finite pixels.
    """
    where = "image" if index is None else f"image {index}"
    array = np.asarray(image)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{where} is not a numeric array (dtype {array.dtype})")
    if array.size == 0:
        raise ValueError(f"{where} is empty (shape {array.shape})")
    if array.ndim == 3 and array.shape[2] == 3:
        array = rgb2gray(array)
    elif array.ndim != 2:
        raise ValueError(
            f"{where} has shape {array.shape}: expected a 2-D grey image (H, W) or a colour image (H, W, 3)"
        )
    if array.dtype == np.uint8:
        array = array / 255.0
    array = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "infinite"
        raise ValueError(f"{where} has {bad} pixels")
    return array


@dataclass(frozen=True)
class Supports:
    """Pixel supports of ``M`` local features in an image of shape ``image_shape``.

    Attributes
    ----------
    shape : (M,) int8
        0 = box, 1 = disc, 2 = rotated square.
    box : (M, 4) int64
        Nominal bounding box ``(row0, row1, col0, col1)``, half-open, *not* clipped; for a
        box support it is the support itself.
    center : (M, 2) float
        Centre (row, col) in pixel coordinates (pixel ``(r, c)`` sits at ``(r, c)``).
    half : (M,) float
        Radius of a disc, half-side of a rotated square; unused for boxes.
    angle : (M,) float
        Rotation of a rotated square in radians (skimage SIFT convention).
    sigma : (M,) float
        Standard deviation of the Gaussian window of the weighted projection (S25).
    image_shape : (int, int)
    """

    shape: np.ndarray
    box: np.ndarray
    center: np.ndarray
    half: np.ndarray
    angle: np.ndarray
    sigma: np.ndarray
    image_shape: tuple

    def __len__(self):
        return len(self.shape)

    @classmethod
    def concatenate(cls, parts, image_shape) -> "Supports":
        """The supports of several groups of features, in order."""
        parts = list(parts)
        if not parts:
            return cls.empty(image_shape)
        fields = ("shape", "box", "center", "half", "angle", "sigma")
        joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in fields}
        return cls(**joined, image_shape=tuple(image_shape))

    @classmethod
    def empty(cls, image_shape) -> "Supports":
        return cls.boxes(np.zeros((0, 4), dtype=np.int64), np.zeros(0), image_shape)

    @classmethod
    def boxes(cls, box, sigma, image_shape) -> "Supports":
        """Axis-aligned rectangles ``box[j] = (row0, row1, col0, col1)`` (half-open)."""
        box = np.asarray(box, dtype=np.int64).reshape(-1, 4)
        center = np.stack([(box[:, 0] + box[:, 1] - 1) / 2.0, (box[:, 2] + box[:, 3] - 1) / 2.0], axis=1)
        n = len(box)
        return cls(np.full(n, BOX, np.int8), box, center, np.zeros(n), np.zeros(n),
                   np.broadcast_to(np.asarray(sigma, float), (n,)).copy(), tuple(image_shape))

    @classmethod
    def discs(cls, center, radius, sigma, image_shape) -> "Supports":
        """Pixels ``q`` with ``|q - center| <= radius``."""
        center = np.asarray(center, dtype=float).reshape(-1, 2)
        n = len(center)
        radius = np.broadcast_to(np.asarray(radius, float), (n,)).copy()
        return cls(np.full(n, DISC, np.int8), _bounding_boxes(center, radius), center, radius,
                   np.zeros(n), np.broadcast_to(np.asarray(sigma, float), (n,)).copy(), tuple(image_shape))

    @classmethod
    def rotated_squares(cls, center, half, angle, sigma, image_shape) -> "Supports":
        """Pixels ``q`` with ``max(|u|, |v|) < half``, ``(u, v)`` = ``q - center`` turned by ``angle``."""
        center = np.asarray(center, dtype=float).reshape(-1, 2)
        n = len(center)
        half = np.broadcast_to(np.asarray(half, float), (n,)).copy()
        return cls(np.full(n, ROTATED_SQUARE, np.int8), _bounding_boxes(center, math.sqrt(2) * half),
                   center, half, np.broadcast_to(np.asarray(angle, float), (n,)).copy(),
                   np.broadcast_to(np.asarray(sigma, float), (n,)).copy(), tuple(image_shape))

    def subset(self, index) -> "Supports":
        """The supports of the features selected by ``index`` (mask or integer array)."""
        return Supports(self.shape[index], self.box[index], self.center[index], self.half[index],
                        self.angle[index], self.sigma[index], self.image_shape)

    def clipped_boxes(self) -> np.ndarray:
        """Bounding boxes clipped to the image."""
        height, width = self.image_shape
        return np.clip(self.box, 0, [height, height, width, width])

    def spread(self, values, gaussian=False, clip=True):
        """Spread ``values[j]`` over the pixels of support ``j`` (math.md §B5, S24/S25).

        .. math:: R_q = \\sum_{j:\\,q\\in\\mathrm{area}(l_j)} R_j\\,\\frac{w_j(q)}{\\sum_{q'} w_j(q')}

        with :math:`w_j(q)=1` (uniform, S24) or a Gaussian window of std ``sigma[j]`` centred
        on the support (S25). With ``clip=True`` the denominator runs over the pixels of the
        support inside the image (nothing is lost); with ``clip=False`` over the nominal
        support, so the share of pixels outside the image is lost. Overlaps add.

        Returns
        -------
        pixels : (H, W) ndarray
        weight : (M,) ndarray
            The denominators :math:`\\sum_{q'} w_j(q')`; with uniform weights, the number of
            pixels of each support (clipped or nominal).
        inside : (M,) ndarray
            The part of each denominator inside the image (equal to ``weight`` when clipped).
        """
        values = np.ascontiguousarray(values, dtype=np.float64)
        if values.shape != (len(self),):
            raise ValueError(f"expected {len(self)} values, one per support, got shape {values.shape}")
        pixels = np.zeros(self.image_shape, dtype=np.float64)
        weight, inside = _spread(values, self.shape, self.box, self.center, self.half, self.angle,
                                 self.sigma, bool(gaussian), bool(clip), pixels)
        return pixels, weight, inside

    def areas(self, clip=True) -> np.ndarray:
        """Number of pixels of each support, :math:`|\\mathrm{area}(l_j)|` (clipped by default)."""
        return self.spread(np.zeros(len(self)), clip=clip)[1]


def _bounding_boxes(center, reach):
    low = np.floor(center - np.asarray(reach)[:, None]).astype(np.int64)
    high = np.ceil(center + np.asarray(reach)[:, None]).astype(np.int64) + 1
    return np.stack([low[:, 0], high[:, 0], low[:, 1], high[:, 1]], axis=1)


@numba.njit(cache=True)
def _weight(kind, r, c, center_r, center_c, half, cos_a, sin_a, sigma, gaussian):
    dr = r - center_r
    dc = c - center_c
    if kind == DISC:
        if dr * dr + dc * dc > half * half:
            return 0.0
    elif kind == ROTATED_SQUARE:
        u = cos_a * dr + sin_a * dc
        v = -sin_a * dr + cos_a * dc
        if max(abs(u), abs(v)) >= half:
            return 0.0
    if gaussian:
        return math.exp(-(dr * dr + dc * dc) / (2.0 * sigma * sigma))
    return 1.0


@numba.njit(cache=True)
def _spread(values, shape, box, center, half, angle, sigma, gaussian, clip, pixels):
    height, width = pixels.shape
    weight = np.zeros(values.shape[0])
    inside = np.zeros(values.shape[0])
    for j in range(values.shape[0]):
        r0, r1, c0, c1 = box[j, 0], box[j, 1], box[j, 2], box[j, 3]
        cos_a, sin_a = math.cos(angle[j]), math.sin(angle[j])
        total = 0.0
        total_inside = 0.0
        for r in range(r0, r1):
            for c in range(c0, c1):
                w = _weight(shape[j], r, c, center[j, 0], center[j, 1], half[j], cos_a, sin_a, sigma[j], gaussian)
                total += w
                if 0 <= r < height and 0 <= c < width:
                    total_inside += w
        weight[j] = total_inside if clip else total
        inside[j] = total_inside
        if weight[j] == 0.0 or values[j] == 0.0:
            continue
        scale = values[j] / weight[j]
        for r in range(max(r0, 0), min(r1, height)):
            for c in range(max(c0, 0), min(c1, width)):
                pixels[r, c] += scale * _weight(shape[j], r, c, center[j, 0], center[j, 1], half[j],
                                                cos_a, sin_a, sigma[j], gaussian)
    return weight, inside


@dataclass(frozen=True)
class LocalFeatures:
    """The ``M`` local features of one image: ``descriptors`` (M, D) and their ``supports``."""

    descriptors: np.ndarray
    supports: Supports

    def __len__(self):
        return len(self.descriptors)

    def subset(self, index) -> "LocalFeatures":
        return LocalFeatures(self.descriptors[index], self.supports.subset(index))


DESCRIPTORS = ("raw", "hog", "daisy")


class DenseFeatures(BaseEstimator):
    """Descriptors on a dense grid of square patches at several scales (math.md §B2.2, §B8).

    At scale ``s`` the image is reduced by ``s`` with a block mean
    (:func:`skimage.transform.downscale_local_mean`, image cropped to a multiple of ``s``)
    and patches of ``patch x patch`` pixels are taken every ``step`` pixels. In the original
    image the patch of grid position ``(i, j)`` therefore covers rows
    ``[s*i*step, s*(i*step + patch))`` and the same columns: ``patch*s`` pixels on a side,
    every ``step*s`` pixels.

    Parameters
    ----------
    descriptor : {"raw", "hog", "daisy"}
        ``raw``: the ``patch*patch`` grey values. ``hog``: one block of
        :func:`skimage.feature.hog` with ``pixels_per_cell=step`` and
        ``cells_per_block=patch/step`` (``patch`` must be a multiple of ``step``); support =
        the block (a box). ``daisy``: :func:`skimage.feature.daisy` with ``radius=patch//2``,
        centred at ``radius + i*step``; support = the disc of that radius.
    patch, step : int
        Patch side and grid step in pixels at scale 1.
    scales : tuple of int
        Integer reduction factors.
    orientations : int
        Orientation bins of HOG and DAISY.
    """

    def __init__(self, descriptor="hog", patch=16, step=4, scales=(1, 2), orientations=9):
        self.descriptor = descriptor
        self.patch = patch
        self.step = step
        self.scales = scales
        self.orientations = orientations

    def validate(self):
        """Check the parameters; raise ``ValueError`` naming the first bad one."""
        if self.descriptor not in DESCRIPTORS:
            raise ValueError(f"descriptor must be one of {DESCRIPTORS}, got {self.descriptor!r}")
        for name in ("patch", "step", "orientations"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.scales or any(not (isinstance(s, (int, np.integer)) and s >= 1) for s in self.scales):
            raise ValueError(f"scales must be a non-empty sequence of positive integers, got {self.scales!r}")
        if self.descriptor == "hog" and self.patch % self.step:
            raise ValueError(f"hog needs patch to be a multiple of step, got patch={self.patch}, step={self.step}")
        if self.descriptor == "daisy" and self.patch < 4:
            raise ValueError(f"daisy needs patch >= 4 (radius patch//2 >= 2), got {self.patch}")

    def extract(self, image) -> LocalFeatures:
        """All local features of a grey float image (see :func:`as_grey_image`)."""
        self.validate()
        parts = [self._extract_scale(image, int(s)) for s in self.scales]
        parts = [p for p in parts if p is not None]
        if not parts:
            return LocalFeatures(np.zeros((0, self.dimension)), Supports.empty(image.shape))
        return LocalFeatures(np.concatenate([p[0] for p in parts]),
                             Supports.concatenate([p[1] for p in parts], image.shape))

    @property
    def dimension(self) -> int:
        """Descriptor length D."""
        if self.descriptor == "raw":
            return self.patch * self.patch
        if self.descriptor == "hog":
            return (self.patch // self.step) ** 2 * self.orientations
        return (2 * 6 + 1) * self.orientations  # daisy: rings=2, histograms=6

    def _extract_scale(self, image, s):
        height, width = image.shape[0] // s * s, image.shape[1] // s * s
        small = image[:height, :width]
        if s > 1:
            small = downscale_local_mean(small, (s, s))
        if min(small.shape) < self.patch + (self.descriptor == "daisy"):
            return None
        if self.descriptor == "daisy":
            radius = self.patch // 2
            grid = daisy(small, step=self.step, radius=radius, rings=2, histograms=6,
                         orientations=self.orientations)
            rows = radius + self.step * np.arange(grid.shape[0])
            cols = radius + self.step * np.arange(grid.shape[1])
            rr, cc = np.meshgrid(rows, cols, indexing="ij")
            center = np.stack([rr.ravel(), cc.ravel()], axis=1) * s + (s - 1) / 2.0
            supports = Supports.discs(center, radius * s, radius * s / 2.0, image.shape)
            return grid.reshape(-1, grid.shape[2]), supports
        if self.descriptor == "hog":
            cells = self.patch // self.step
            grid = hog(small, orientations=self.orientations, pixels_per_cell=(self.step, self.step),
                       cells_per_block=(cells, cells), feature_vector=False)
        else:
            grid = view_as_windows(small, (self.patch, self.patch), self.step)
        n_rows, n_cols = grid.shape[:2]
        r0 = np.repeat(np.arange(n_rows) * self.step, n_cols)
        c0 = np.tile(np.arange(n_cols) * self.step, n_rows)
        box = np.stack([r0, r0 + self.patch, c0, c0 + self.patch], axis=1) * s
        supports = Supports.boxes(box, self.patch * s / 4.0, image.shape)
        return grid.reshape(n_rows * n_cols, -1), supports


class KeypointFeatures(BaseEstimator):
    """SIFT keypoints and descriptors from :class:`skimage.feature.SIFT` (math.md §B8).

    The support of keypoint ``j`` is skimage's own descriptor patch: the square of
    half-side :math:`\\lambda_{descr}(1+1/n_{hist})\\sigma_j` (7.5 sigma with the defaults)
    turned by the keypoint orientation, with the Gaussian window of std
    :math:`\\lambda_{descr}\\sigma_j` that SIFT applies to it. Descriptors are uint8 in
    skimage and are returned as float.

    Parameters
    ----------
    upsampling : {1, 2, 4}
    n_octaves, n_scales : int
    c_dog : float
        Threshold on the difference-of-Gaussians response (lower finds more keypoints).
    """

    LAMBDA_DESCR = 6.0
    N_HIST = 4
    N_ORI = 8

    def __init__(self, upsampling=2, n_octaves=8, n_scales=3, c_dog=0.04 / 3):
        self.upsampling = upsampling
        self.n_octaves = n_octaves
        self.n_scales = n_scales
        self.c_dog = c_dog

    dimension = N_HIST * N_HIST * N_ORI

    def validate(self):
        if self.upsampling not in (1, 2, 4):
            raise ValueError(f"upsampling must be 1, 2 or 4, got {self.upsampling!r}")

    def extract(self, image) -> LocalFeatures:
        self.validate()
        sift = SIFT(upsampling=self.upsampling, n_octaves=self.n_octaves, n_scales=self.n_scales,
                    c_dog=self.c_dog, lambda_descr=self.LAMBDA_DESCR, n_hist=self.N_HIST, n_ori=self.N_ORI)
        try:
            sift.detect_and_extract(image)
        except RuntimeError:  # skimage raises when it finds no keypoint
            return LocalFeatures(np.zeros((0, self.dimension)), Supports.empty(image.shape))
        sigma = np.asarray(sift.sigmas, dtype=float)
        supports = Supports.rotated_squares(
            sift.positions, self.LAMBDA_DESCR * (1 + 1 / self.N_HIST) * sigma, sift.orientations,
            self.LAMBDA_DESCR * sigma, image.shape)
        return LocalFeatures(np.asarray(sift.descriptors, dtype=np.float64), supports)


SUPPORT_SHAPES = ("disc", "square")


class FunctionFeatures(BaseEstimator):
    """Local features computed by the user's function (the features protocol of ``BagOfWords``).

    ``function(image) -> (descriptors, positions, scales)`` receives the grey float image
    (:func:`as_grey_image`) and returns ``descriptors`` (M, D), ``positions`` (M, 2) the
    centres as (row, col) in pixels and ``scales`` (M,) or one number: the radius of each
    feature's support in pixels. The support is the disc of that radius (``support="disc"``)
    or the square of that half-side (``"square"``), with a Gaussian window of std
    ``scale / 2`` for ``projection="gaussian"``.

    A ``function`` is code: :func:`lrpref.bow.save` refuses it (save the classifier and rebuild
    the ``BagOfWords`` around the function after loading).
    """

    def __init__(self, function=None, support="disc"):
        self.function = function
        self.support = support

    def extract(self, image) -> LocalFeatures:
        if not callable(self.function):
            raise TypeError(f"FunctionFeatures needs a callable image -> (descriptors, positions, scales), got "
                            f"{self.function!r}")
        if self.support not in SUPPORT_SHAPES:
            raise ValueError(f"support must be one of {SUPPORT_SHAPES}, got {self.support!r}")
        output = self.function(image)
        if not (isinstance(output, tuple) and len(output) == 3):
            raise ValueError(f"the features function must return (descriptors, positions, scales), got "
                             f"{type(output).__name__}{'' if not isinstance(output, tuple) else f' of {len(output)}'}")
        descriptors = np.asarray(output[0], dtype=np.float64)
        if descriptors.ndim == 1 and descriptors.size == 0:
            descriptors = descriptors.reshape(0, 0)
        if descriptors.ndim != 2:
            raise ValueError(f"descriptors must be a 2-D array (M, D), got shape {descriptors.shape}")
        n = len(descriptors)
        positions = np.asarray(output[1], dtype=np.float64).reshape(-1, 2) if n else np.zeros((0, 2))
        scales = np.broadcast_to(np.asarray(output[2], dtype=np.float64), (n,)).copy() if n else np.zeros(0)
        if len(positions) != n:
            raise ValueError(f"the features function gave {n} descriptors but {len(positions)} positions")
        for name, values in (("descriptors", descriptors), ("positions", positions), ("scales", scales)):
            if not np.all(np.isfinite(values)):
                raise ValueError(f"the features function returned non-finite {name}")
        if np.any(scales <= 0):
            raise ValueError("scales (support radii in pixels) must be positive")
        if self.support == "disc":
            supports = Supports.discs(positions, scales, scales / 2.0, image.shape)
        else:
            low = np.floor(positions - scales[:, None] + 0.5).astype(np.int64)
            high = np.floor(positions + scales[:, None] + 0.5).astype(np.int64)
            supports = Supports.boxes(np.stack([low[:, 0], high[:, 0], low[:, 1], high[:, 1]], axis=1), scales / 2.0,
                                      image.shape)
        return LocalFeatures(descriptors, supports)


def as_features(features):
    """The features step of a ``BagOfWords``: an lrpref extractor, any object with
    ``extract(image) -> LocalFeatures``, or a callable wrapped in :class:`FunctionFeatures`."""
    if hasattr(features, "extract"):
        return features
    if callable(features):
        return FunctionFeatures(features)
    raise TypeError(f"features must be DenseFeatures, KeypointFeatures, an object with extract(image) -> "
                    f"LocalFeatures or a callable image -> (descriptors, positions, scales); got {features!r}")
