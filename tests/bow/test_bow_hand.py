"""Hand-computed examples: every expected number below is worked out in the comments."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel
from sklearn.mixture import GaussianMixture

from lrpref import bow
from lrpref.bow import kernels as K
from lrpref.bow.decompose import features_relevance, pixels_relevance, words_relevance
from lrpref.bow.models import KernelExpansion
from lrpref.bow.pooling import normalize, pool, share_weights

A = np.array([[0.2, 0.8]])
B = np.array([[0.5, 0.5]])


@pytest.mark.parametrize("kernel, expected", [
    (K.linear, 0.2 * 0.5 + 0.8 * 0.5),                          # 0.5
    (K.histogram_intersection, 0.2 + 0.5),                     # min per dim
    (K.chi2, 2 * 0.1 / 0.7 + 2 * 0.4 / 1.3),                   # 2/7 + 8/13 = 82/91
    (K.hellinger, 3 * np.sqrt(0.1)),                           # sqrt(.1) + sqrt(.4)
    (K.RBF(2.0), np.exp(-2.0 * 0.18)),                         # |a-b|^2 = .09 + .09
    (K.ExpChi2(1.0), np.exp(-0.18 / 0.91)),                    # .09/.7 + .09/1.3 = .18/.91
])
def test_kernel_values(kernel, expected):
    assert kernel(A, B)[0, 0] == pytest.approx(expected, rel=1e-14)


def test_kernel_relations_to_sklearn():
    rng = np.random.default_rng(0)
    X, Y = rng.random((4, 6)), rng.random((3, 6))
    # 2ab/(a+b) = ((a+b) - (a-b)^2/(a+b)) / 2  summed over d
    assert np.allclose(K.chi2(X, Y), 0.5 * (X.sum(1)[:, None] + Y.sum(1)[None] + additive_chi2_kernel(X, Y)))
    brute = np.array([[np.sum(2 * x * y / (x + y)) for y in Y] for x in X])
    assert np.allclose(K.chi2(X, Y), brute, rtol=1e-13)
    assert np.allclose(K.ExpChi2(0.3)(X, Y), chi2_kernel(X, Y, gamma=0.3))


def test_sum_kernel_is_the_weighted_sum_of_channel_kernels():
    rng = np.random.default_rng(1)
    X, Y = rng.random((3, 5)), rng.random((2, 5))
    kernel = K.Sum([(K.histogram_intersection, 2.0), (K.linear, 0.5)], [2, 3])
    expected = 2.0 * np.minimum(X[:, None, :2], Y[None, :, :2]).sum(-1) + 0.5 * X[:, 2:] @ Y[:, 2:].T
    assert np.allclose(kernel(X, Y), expected, rtol=1e-14)


def test_layer3_two_support_vectors_by_hand():
    # x1 = [.5, .5, 0], x2 = [0, .25, .75], a = [2, -2], b = .3, x = [.25, .75, 0]
    # HIK contributions: d0: 2*min(.5,.25) - 2*min(0,.25) = .5; d1: 2*.5 - 2*.25 = .5; d2: 0 - 2*min(.75,0) = 0
    # f = .3 + 1 = 1.3
    support = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    expansion = KernelExpansion(K.histogram_intersection, support, np.array([2.0, -2.0]), 0.3, support)
    x = np.array([0.25, 0.75, 0.0])
    assert expansion(x[None])[0] == pytest.approx(1.3, rel=1e-15)
    expected = {"histogram": [0.575, 0.725, 0.0],  # b * x / sum(x) = [.075, .225, 0]
                "uniform": [0.6, 0.6, 0.1],        # b/3 = .1 each
                "active": [0.65, 0.65, 0.0],       # b/2 on the two non-zero dims
                "proportional": [0.65, 0.65, 0.0], # |c| = [.5, .5, 0]
                "none": [0.5, 0.5, 0.0]}
    for policy, values in expected.items():
        relevance, row = words_relevance(expansion, x, 1.3, bias=policy)
        assert np.allclose(relevance, values, rtol=1e-14), policy
        assert row.absorbed["bias"][0] == pytest.approx(0.3 if policy == "none" else 0.0, abs=1e-15)


def test_active_bias_with_no_active_dimension_stays_unexplained():
    support = np.array([[0.5, 0.5]])
    expansion = KernelExpansion(K.histogram_intersection, support, np.array([1.0]), -0.4, support)
    relevance, row = words_relevance(expansion, np.zeros(2), -0.4, bias="active")
    assert np.array_equal(relevance, [0.0, 0.0])
    assert row.absorbed["bias"][0] == -0.4


CODES = np.array([[1.0, 0.0], [3.0, 1.0], [0.0, 1.0]])
R3 = np.array([4.0, -3.0])


@pytest.mark.parametrize("p, pooled, expected", [
    # p=1: mean [4/3, 2/3]; shares d0 [1/4, 3/4, 0], d1 [0, 1/2, 1/2] -> [1, 3 - 1.5, -1.5]
    (1.0, [4 / 3, 2 / 3], [1.0, 1.5, -1.5]),
    # p=2: sqrt((1+9)/3), sqrt(2/3); shares d0 [.1, .9, 0] -> [.4, 3.6 - 1.5, -1.5]
    (2.0, [np.sqrt(10 / 3), np.sqrt(2 / 3)], [0.4, 2.1, -1.5]),
    # max: [3, 1]; d0 winner j=1, d1 tie j=1,2 -> [0, 4 - 1.5, -1.5]
    (np.inf, [3.0, 1.0], [0.0, 2.5, -1.5]),
])
def test_pooling_and_layer2_by_hand(p, pooled, expected):
    assert np.allclose(pool(CODES, p), pooled, rtol=1e-14)
    relevance, row = features_relevance(share_weights(CODES, p), R3)
    assert np.allclose(relevance, expected, rtol=1e-14)
    assert row.absorbed["dropped"][0] == 0 and row.absorbed["stabiliser"][0] == 0


def test_layer2_epsilon_by_hand():
    # z = [4, 2], eps = 1: denominators [5, 3]; d0: 4/5 * [1, 3, 0]; d1: -3/3 * [0, 1, 1]
    relevance, row = features_relevance(CODES, R3, epsilon=1.0)
    assert np.allclose(relevance, [0.8, 2.4 - 1.0, -1.0], rtol=1e-14)
    # absorbed: 4 * (1 - 4/5) + (-3) * (1 - 2/3) = .8 - 1 = -.2
    assert row.absorbed["stabiliser"][0] == pytest.approx(-0.2, rel=1e-14)


def test_layer2_zero_dimension_policies():
    codes = np.array([[1.0, 0.0], [1.0, 0.0]])  # dimension 1 reached by no feature
    relevance = np.array([2.0, 0.6])
    dropped, row = features_relevance(codes, relevance, zero_dim="drop")
    assert np.allclose(dropped, [1.0, 1.0]) and row.absorbed["dropped"][0] == pytest.approx(0.6)
    spread, row = features_relevance(codes, relevance, zero_dim="uniform")
    assert np.allclose(spread, [1.3, 1.3]) and row.absorbed["dropped"][0] == 0.0


def test_normalisations_by_hand():
    x = np.array([3.0, -4.0])
    assert np.allclose(normalize(x, "l1"), [3 / 7, -4 / 7])
    assert np.allclose(normalize(x, "l2"), [0.6, -0.8])
    assert np.allclose(normalize(x, "power", 0.5), [np.sqrt(3), -2.0])
    assert np.allclose(normalize(x, "improved", 0.5), np.array([np.sqrt(3), -2.0]) / np.sqrt(7))
    assert np.array_equal(normalize(np.zeros(3), "l1"), np.zeros(3))


def test_layer1_by_hand():
    shape = (4, 5)
    supports = bow.Supports.concatenate([
        bow.Supports.boxes([[1, 3, 0, 2]], 1.0, shape),  # 4 pixels
        bow.Supports.discs([[0.0, 4.0]], 1.0, 0.5, shape),  # (0,4), (1,4), (0,3) inside; (-1,4), (0,5) outside
    ], shape)
    assert np.array_equal(supports.areas(), [4, 3])
    assert np.array_equal(supports.areas(clip=False), [4, 5])
    pixels, row = pixels_relevance(supports, np.array([2.0, 3.0]))
    expected = np.zeros(shape)
    expected[1:3, 0:2] = 0.5
    expected[0, 4] = expected[1, 4] = expected[0, 3] = 1.0
    assert np.allclose(pixels, expected, rtol=1e-15)
    # nominal area 5: each inside pixel gets 3/5, and 2 * 3/5 is lost outside the image
    pixels, row = pixels_relevance(supports, np.array([2.0, 3.0]), clip=False)
    expected[0, 4] = expected[1, 4] = expected[0, 3] = 0.6
    assert np.allclose(pixels, expected, rtol=1e-15)
    assert row.absorbed["outside_image"][0] == pytest.approx(1.2, rel=1e-14)


def test_rotated_square_area_by_hand():
    shape = (9, 9)
    square = bow.Supports.rotated_squares([[4.0, 4.0]], 1.5, 0.0, 1.0, shape)
    assert square.areas()[0] == 9  # |dr|, |dc| < 1.5
    turned = bow.Supports.rotated_squares([[4.0, 4.0]], 1.5, np.pi / 4, 1.0, shape)
    # |dr + dc| and |dc - dr| < 1.5 * sqrt(2) = 2.12: the 3x3 block plus (+-2, 0), (0, +-2)
    assert turned.areas()[0] == 13
    disc = bow.Supports.discs([[4.0, 4.0]], 4.0, 2.0, shape)
    assert disc.areas()[0] == 49  # lattice points with dr^2 + dc^2 <= 16


def test_dense_raw_patches_by_hand():
    image = np.arange(64, dtype=float).reshape(8, 8)  # image[r, c] = 8 r + c
    local = bow.DenseFeatures("raw", patch=4, step=2, scales=(1, 2)).extract(image)
    # scale 1: rows/cols 0, 2, 4 -> 9 patches; scale 2: the 4x4 reduced image is one patch
    assert len(local) == 10
    assert np.array_equal(local.supports.box[5], [2, 6, 4, 8])  # grid (1, 2)
    assert np.array_equal(local.descriptors[5], image[2:6, 4:8].ravel())
    assert np.array_equal(local.supports.box[9], [0, 8, 0, 8])
    # block means of 2x2: (16 i + 2 j) + (0 + 1 + 8 + 9) / 4 = 16 i + 2 j + 4.5
    i, j = np.mgrid[:4, :4]
    assert np.allclose(local.descriptors[9], (16 * i + 2 * j + 4.5).ravel())


def test_dense_hog_and_daisy_geometry_by_hand():
    image = np.random.default_rng(0).random((16, 16))
    hog = bow.DenseFeatures("hog", patch=8, step=4, scales=(1,), orientations=9).extract(image)
    # cells of 4 px, blocks of 2x2 cells every 4 px: starts 0, 4, 8 -> 9 blocks of 2*2*9 values
    assert hog.descriptors.shape == (9, 36)
    assert np.array_equal(hog.supports.box[:, 0], [0, 0, 0, 4, 4, 4, 8, 8, 8])
    assert np.array_equal(hog.supports.box[:, 1] - hog.supports.box[:, 0], [8] * 9)
    daisy = bow.DenseFeatures("daisy", patch=8, step=4, scales=(1,), orientations=8).extract(image)
    # radius 4, centres at 4 + 4 i while inside [4, 12): 4, 8 -> 4 discs, 13 histograms of 8 bins
    assert daisy.descriptors.shape == (4, 104)
    assert np.array_equal(daisy.supports.center, [[4, 4], [4, 8], [8, 4], [8, 8]])
    assert np.array_equal(daisy.supports.areas(), [49] * 4)


def coder_with_centres(coder, centres, **fitted):
    coder.centers_ = np.asarray(centres, dtype=float)
    for name, value in fitted.items():
        setattr(coder, name, value)
    return coder


def test_soft_coding_by_hand():
    coder = coder_with_centres(bow.SoftCoding(sigma=1.0), [[0.0], [1.0]], sigma_=1.0)
    # d^2 = [.0625, .5625]; m0 = 1 / (1 + exp(-(.5625 - .0625) / 2))
    m0 = 1 / (1 + np.exp(-0.25))
    assert np.allclose(coder.encode(np.array([[0.25]])), [[m0, 1 - m0]], rtol=1e-14)
    nearest = coder_with_centres(bow.SoftCoding(sigma=1.0, k_nearest=1), [[0.0], [1.0]], sigma_=1.0)
    assert np.array_equal(nearest.encode(np.array([[0.25], [0.9]])), [[1, 0], [0, 1]])


def test_soft_coding_auto_sigma_is_the_mean_nearest_distance():
    descriptors = np.array([[0.0], [0.1], [1.0], [1.3]])
    coder = bow.SoftCoding(n_words=2, random_state=0).fit(descriptors)
    # centres .05 and 1.15: nearest distances .05, .05, .15, .15
    assert np.allclose(np.sort(coder.centers_[:, 0]), [0.05, 1.15])
    assert coder.sigma_ == pytest.approx(0.1, rel=1e-12)


def test_hard_coding_by_hand():
    coder = coder_with_centres(bow.HardCoding(), [[0.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    codes = coder.encode(np.array([[0.1, 0.2], [0.9, 1.4], [0.2, 1.9]]))
    assert np.array_equal(codes, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_llc_by_hand():
    # 1-D, centres 0 and 2, l = .5: the affine code with c0*0 + c1*2 = .5, c0 + c1 = 1 -> [.75, .25]
    coder = coder_with_centres(bow.LLCCoding(k_nearest=2, regularization=1e-12), [[0.0], [2.0]])
    assert np.allclose(coder.encode(np.array([[0.5]])), [[0.75, 0.25]], atol=1e-9)
    # 2-D, centres (0,0), (1,0), (0,1), l = (.2, .3): c = [.5, .2, .3]; a 4th, far centre is not a neighbour
    coder = coder_with_centres(bow.LLCCoding(k_nearest=3, regularization=1e-12),
                               [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    assert np.allclose(coder.encode(np.array([[0.2, 0.3]])), [[0.5, 0.2, 0.3, 0.0]], atol=1e-9)
    assert bow.LLCCoding.signed


def test_fisher_vector_one_component_by_hand():
    coder = bow.FisherCoding(n_components=1, weights_part=True)
    coder.weights_, coder.means_, coder.variances_ = np.array([1.0]), np.array([[0.0, 1.0]]), np.array([[4.0, 1.0]])
    # q = 1, u = (l - mu) / sigma = [.5, 1]; psi_mu = u; psi_sigma = (u^2 - 1) / sqrt(2); psi_pi = q - pi = 0
    code = coder.encode(np.array([[1.0, 2.0]]))[0]
    assert np.allclose(code, [0.0, 0.5, 1.0, -0.75 / np.sqrt(2), 0.0], rtol=1e-14)
    assert coder.n_dimensions_ == 5


def test_fisher_posteriors_equal_sklearn():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (50, 3)), rng.normal(3, 0.5, (50, 3))])
    coder = bow.FisherCoding(n_components=2, random_state=0).fit(X)
    gmm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    assert np.allclose(coder.posteriors(X), gmm.predict_proba(X), rtol=1e-10, atol=1e-12)
