"""Local feature extractors, supports and image validation (bow.md §2.2, §8)."""

import numpy as np
import pytest
from skimage import data
from skimage.color import rgb2gray

from lrpref import bow
from lrpref.bow.features import ROTATED_SQUARE, as_grey_image


def test_colour_and_uint8_images_become_grey_floats():
    colour = data.astronaut()[:40, :50]
    grey = as_grey_image(colour)
    assert grey.shape == (40, 50) and grey.dtype == np.float64
    assert np.allclose(grey, rgb2gray(colour))
    assert np.allclose(as_grey_image(np.full((3, 3), 255, np.uint8)), 1.0)


@pytest.mark.parametrize("image, message", [
    (np.zeros((0, 5)), "empty"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.full((4, 4), np.inf), "infinite"),
    (np.zeros((4, 4, 2)), "expected a 2-D grey image"),
    (np.zeros(5), "expected a 2-D grey image"),
    (np.array([["a"]]), "not a numeric array"),
])
def test_bad_images_are_named(image, message):
    with pytest.raises(ValueError, match=message):
        as_grey_image(image, index=3)


def test_dense_features_at_two_scales_on_any_size():
    features = bow.DenseFeatures("hog", patch=8, step=4, scales=(1, 2))
    for shape in [(16, 16), (23, 31), (40, 17)]:
        image = np.random.default_rng(0).random(shape)
        local = features.extract(image)
        clipped = local.supports.clipped_boxes()
        assert np.array_equal(clipped, local.supports.box)  # dense patches lie inside the image
        sides = set((local.supports.box[:, 1] - local.supports.box[:, 0]).tolist())
        assert sides <= {8, 16}
        assert local.descriptors.shape[1] == features.dimension


def test_image_smaller_than_a_patch_has_no_features():
    local = bow.DenseFeatures("raw", patch=8, step=2, scales=(1,)).extract(np.zeros((5, 20)))
    assert len(local) == 0 and local.descriptors.shape == (0, 64)


@pytest.mark.parametrize("params, message", [
    (dict(descriptor="sift"), "descriptor must be one of"),
    (dict(descriptor="hog", patch=10, step=4), "multiple of step"),
    (dict(patch=0), "patch must be a positive integer"),
    (dict(scales=()), "scales must be"),
])
def test_dense_features_validate_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        bow.DenseFeatures(**params).extract(np.zeros((32, 32)))


def test_sift_supports_follow_skimage_patches():
    image = rgb2gray(data.astronaut())[100:196, 180:276]
    local = bow.KeypointFeatures().extract(image)
    supports = local.supports
    assert len(local) > 10 and local.descriptors.shape[1] == 128
    assert np.all(supports.shape == ROTATED_SQUARE)
    # half-side 7.5 sigma, Gaussian std 6 sigma (lambda_descr = 6, n_hist = 4)
    assert np.allclose(supports.half / supports.sigma, 7.5 / 6)
    nominal, clipped = supports.areas(clip=False), supports.areas()
    assert np.all(clipped <= nominal) and np.all(clipped > 0)
    assert np.any(clipped < nominal)  # some keypoint patches reach over the border: they are clipped


def test_sift_on_a_flat_image_finds_nothing():
    local = bow.KeypointFeatures().extract(np.full((40, 40), 0.5))
    assert len(local) == 0
