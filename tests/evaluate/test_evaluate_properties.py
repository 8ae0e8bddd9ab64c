"""Properties of the evaluation metrics (hypothesis). Integer-valued images, weights and maps keep every sum
exact, so orders and ties are the same in the metric and in the independent computations here."""

import numpy as np
from evaluate_helpers import Linear
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lrpref import evaluate as ev

small_ints = st.integers(-5, 5).map(float)


@st.composite
def linear_case(draw, channels=False):
    """``(model, x, relevance)``: a linear model, integer images ``(N, H, W)`` and its exact explanation ``w ⊙ x``."""
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    weights = draw(arrays(np.float64, (h, w), elements=small_ints))
    x = draw(arrays(np.float64, (n, h, w), elements=small_ints))
    model = Linear(weights)
    return model, x, model.relevance(x)


def tile_sums(relevance, size):
    """Summed relevance of the non-overlapping tiles of one map, row-major (loops, independent of the metric)."""
    h, w = relevance.shape
    return np.array([relevance[i:i + size, j:j + size].sum() for i in range(0, h, size) for j in range(0, w, size)])


@settings(max_examples=60)
@given(linear_case(), st.data())
def test_morf_aopc_at_least_lerf_for_the_exact_linear_explanation(case, data):
    model, x, relevance = case
    size = data.draw(st.integers(1, min(x.shape[1:])))
    count = len(tile_sums(relevance[0], size))
    steps = data.draw(st.integers(1, count))
    options = dict(target=0, region_size=size, steps=steps, replacement=0.0)
    morf = ev.region_perturbation(model, x, relevance, order="morf", **options)
    lerf = ev.region_perturbation(model, x, relevance, order="lerf", **options)
    assert np.all(morf.aopc_per_sample >= lerf.aopc_per_sample)


@settings(max_examples=60)
@given(linear_case(), st.data())
def test_morf_curve_of_a_linear_model_in_closed_form(case, data):
    model, x, relevance = case
    size = data.draw(st.integers(1, min(x.shape[1:])))
    result = ev.region_perturbation(model, x, relevance, target=0, region_size=size, replacement=0.0)
    for n in range(len(x)):
        ranked = np.sort(tile_sums(relevance[n], size))[::-1][:result.settings["steps"]]
        expected = relevance[n].sum() - np.concatenate([[0.0], np.cumsum(ranked)])
        assert np.array_equal(result.scores[n], expected)
        assert result.aopc_per_sample[n] == np.mean(expected[0] - expected)


@given(arrays(np.float64, (2, 4, 5), elements=small_ints))
def test_perfect_mask_has_relevance_mass_one(relevance):
    relevance[:, 0, 0] = 1.0  # some positive relevance in every map
    assert np.all(ev.relevance_mass_accuracy(relevance, relevance > 0).values == 1.0)
    support = relevance != 0
    signed = ev.relevance_mass_accuracy(relevance, support, values="signed").values
    total = relevance.reshape(2, -1).sum(1)
    assert np.all((signed == 1.0) | (total == 0))


@given(arrays(bool, (3, 4, 4)), arrays(np.float64, (3, 4, 4), elements=small_ints))
def test_perfect_ranking_has_rank_accuracy_one(mask, noise):
    mask[:, 1, 2] = True
    relevance = np.where(mask, 11.0 + noise, noise)  # every mask position outranks every other
    assert np.all(ev.relevance_rank_accuracy(relevance, mask).values == 1.0)
    assert np.all(ev.relevance_mass_accuracy(np.where(mask, np.abs(noise) + 1, 0.0), mask).values == 1.0)


def random_model(seed):
    """A three-class linear model on 4×4 images with (row-wise exact) numpy sums."""
    weights = np.random.default_rng(seed).normal(size=(3, 16))
    return lambda x: np.einsum("nk,ck->nc", x.reshape(len(x), -1), weights)


METRICS = {
    "region": lambda model, x, r, **kw: ev.region_perturbation(model, x, r, region_size=2, order="random", **kw),
    "sliding": lambda model, x, r, **kw: ev.region_perturbation(model, x, r, region_size=3, regions="sliding", **kw),
    "pc": lambda model, x, r, **kw: ev.probability_change(model, x, r, replacement="uniform", **kw),
    "patch": lambda model, x, r, **kw: ev.minimal_patch(model, x, r, radii=(0, 1), replacement="uniform", **kw),
}


@settings(max_examples=20)
@given(st.sampled_from(sorted(METRICS)), st.integers(0, 2**32), arrays(np.float64, (3, 1, 4, 4), elements=small_ints))
def test_random_state_reproducible_and_batch_equals_per_sample_loop(name, seed, relevance):
    metric, model = METRICS[name], random_model(seed % 7)
    x = np.random.default_rng(seed).random((3, 1, 4, 4))
    batch = metric(model, x, relevance, random_state=seed)
    again = metric(model, x, relevance, random_state=seed)
    for field in batch.PER_SAMPLE:
        assert np.array_equal(getattr(batch, field), getattr(again, field))
    drawn = [metric(model, x, relevance, random_state=np.random.default_rng(5)) for _ in range(2)]
    for field in batch.PER_SAMPLE:
        assert np.array_equal(getattr(drawn[0], field), getattr(drawn[1], field))
    loop = type(batch).concatenate([metric(model, x[n:n + 1], relevance[n:n + 1], random_state=seed, first_index=n)
                                    for n in range(3)])
    for field in batch.PER_SAMPLE:
        assert np.array_equal(getattr(batch, field), getattr(loop, field)), field
    assert loop.settings == batch.settings


@settings(max_examples=40)
@given(linear_case(), st.integers(1, 1000), st.data())
def test_positive_scaling_of_the_relevance_changes_nothing(case, scale, data):
    model, x, relevance = case
    size = data.draw(st.integers(1, min(x.shape[1:])))
    regions = data.draw(st.sampled_from(["grid", "sliding"]))
    order = data.draw(st.sampled_from(["morf", "lerf"]))

    def region(r):
        return ev.region_perturbation(model, x, r, target=0, region_size=size, regions=regions, order=order,
                                      replacement=0.0).scores

    assert np.array_equal(region(relevance), region(scale * relevance))
    ratios = (0.1, 0.5, 0.9)
    assert np.array_equal(ev.probability_change(model, x, relevance, target=0, ratios=ratios).change,
                          ev.probability_change(model, x, scale * relevance, target=0, ratios=ratios).change)
    for patch in (ev.minimal_patch, ev.maximal_patch):
        assert np.array_equal(patch(model, x, relevance, target=0, radii=(0, 1)).change,
                              patch(model, x, scale * relevance, target=0, radii=(0, 1)).change)
    mask = np.zeros(x.shape, dtype=bool)
    mask[:, 0, :] = True
    for measure in (ev.relevance_mass_accuracy, ev.relevance_rank_accuracy):
        assert np.array_equal(measure(relevance, mask).values, measure(scale * relevance, mask).values, equal_nan=True)
    assert np.array_equal(ev.similarity(relevance, relevance, "spearman"),
                          ev.similarity(relevance, scale * relevance, "spearman"), equal_nan=True)


@settings(max_examples=30)
@given(arrays(np.float64, (2, 7, 8), elements=st.floats(-10, 10)), arrays(np.float64, (2, 7, 8), elements=st.floats(-10, 10)),
       st.floats(1e-3, 1e3))
def test_similarities_are_symmetric_and_scale_free(a, b, scale):
    for measure in ev.MEASURES:
        ab = ev.similarity(a, b, measure)
        assert np.allclose(ab, ev.similarity(b, a, measure), equal_nan=True)
        assert np.allclose(ab, ev.similarity(scale * a, b, measure), equal_nan=True, rtol=1e-9, atol=1e-9)
