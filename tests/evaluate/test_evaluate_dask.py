"""The metrics over dask arrays, on a local two-worker cluster, give the in-memory numbers.

Skipped where dask is not installed, except under CI=true, where a missing dask is an error.
"""

import numpy as np
import pytest
from optional import require

da = require("dask.array")
distributed = require("distributed")
Client, LocalCluster = distributed.Client, distributed.LocalCluster

import lrpref as lr
from lrpref import evaluate as ev
from lrpref.datasets import digits_split, load_network

NET, _ = load_network("digits_mlp")
X = digits_split()[1][:30]
LABELS = digits_split()[3][:30]
IMAGES = X.reshape(-1, 8, 8)
RELEVANCE = lr.explain(NET, X, rule=lr.Epsilon(0.01)).relevance.reshape(-1, 8, 8)


def model(images):
    return NET(images.reshape(len(images), -1))


def gradient_maps(net, x, target):
    return net.gradient(x, np.eye(10)[target]).reshape(-1, 8, 8)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as local, Client(local) as client:
        yield client


def assert_same(a, b, exact=True):
    assert type(a) is type(b) and a.settings == b.settings
    for field in a.PER_SAMPLE:
        left, right = getattr(a, field), getattr(b, field)
        pairs = [(left[k], right[k]) for k in left] if isinstance(left, dict) else [(left, right)]
        for u, v in pairs:
            if exact:
                assert np.array_equal(u, v, equal_nan=True), field
            else:
                np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_region_perturbation_with_noise_and_random_order(cluster):
    options = dict(region_size=2, order="random", replacement="uniform", random_state=42)
    memory = ev.region_perturbation(model, IMAGES, RELEVANCE, **options)
    chunked = ev.region_perturbation(model, da.from_array(IMAGES, chunks=(7, 8, 8)),
                                     da.from_array(RELEVANCE, chunks=(11, 8, 8)), **options)
    assert_same(memory, chunked)
    assert chunked.scores.shape == (30, 17)


def test_probability_change_with_per_sample_target_and_reference(cluster):
    reference = np.random.default_rng(0).random(IMAGES.shape)
    options = dict(target=LABELS, replacement=reference, random_state=0)
    memory = ev.probability_change(model, IMAGES, RELEVANCE, **options)
    chunked = ev.probability_change(model, da.from_array(IMAGES, chunks=9), RELEVANCE, **options)
    assert_same(memory, chunked)
    shared = dict(target=3, replacement=reference[:1], random_state=0)
    assert_same(ev.probability_change(model, IMAGES, RELEVANCE, **shared),
                ev.probability_change(model, da.from_array(IMAGES, chunks=9), RELEVANCE, **shared))


def test_patches_with_a_generator(cluster):
    for patch in (ev.minimal_patch, ev.maximal_patch):
        memory = patch(model, IMAGES, RELEVANCE, radii=(0, 1, 3), replacement="uniform",
                       random_state=np.random.default_rng(5))
        chunked = patch(model, IMAGES, da.from_array(RELEVANCE, chunks=4), radii=(0, 1, 3), replacement="uniform",
                        random_state=np.random.default_rng(5))
        assert_same(memory, chunked)


def test_localisation(cluster):
    mask = RELEVANCE > 0.05
    for metric in (ev.relevance_mass_accuracy, ev.relevance_rank_accuracy):
        assert_same(metric(RELEVANCE, mask), metric(da.from_array(RELEVANCE, chunks=8), da.from_array(mask, chunks=5)))


def test_randomisation(cluster):
    memory = ev.model_randomisation(NET, gradient_maps, X, random_state=3)
    chunked = ev.model_randomisation(NET, gradient_maps, da.from_array(X, chunks=(13, 64)), random_state=3)
    assert chunked.layers == memory.layers
    # the explainer sees other batch compositions: BLAS may round differently in the last bit
    assert_same(memory, chunked, exact=False)


def test_without_a_cluster_dask_uses_its_default_scheduler():
    memory = ev.pixel_flipping(model, IMAGES[:6], RELEVANCE[:6], steps=5, random_state=1)
    chunked = ev.pixel_flipping(model, da.from_array(IMAGES[:6], chunks=4), RELEVANCE[:6], steps=5, random_state=1)
    assert_same(memory, chunked)


def test_chunked_arguments_must_agree_in_length():
    with pytest.raises(ValueError, match="relevance has 29 samples but x has 30"):
        ev.probability_change(model, da.from_array(IMAGES, chunks=10), RELEVANCE[:29])
