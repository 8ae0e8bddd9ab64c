"""Confidence intervals of lrpref.evaluate.statistics: a hand-computed case, coverage, pairing, bad input."""

import numpy as np
import pytest

from lrpref.evaluate import mean_interval, paired_difference


def test_hand_computed_interval():
    # values 1, 2, 3, 4: mean 2.5, s = sqrt(5/3) = 1.2909944, s / sqrt(4) = 0.6454972; t(0.975, 3) = 3.1824463
    interval = mean_interval([1, 2, 3, 4])
    half = 3.1824463 * 0.6454972
    assert interval.mean == 2.5 and interval.n == 4
    assert interval.low == pytest.approx(2.5 - half, abs=1e-6) and interval.high == pytest.approx(2.5 + half, abs=1e-6)
    assert str(interval) == "2.500 [0.446, 4.554]"


def test_nans_are_left_out_and_counted():
    interval = mean_interval([1.0, np.nan, 3.0])
    assert (interval.mean, interval.n, interval.dropped) == (2.0, 2, 1)


def test_coverage_of_the_true_mean_is_the_level():
    rng = np.random.default_rng(0)
    hits = sum(mean_interval(rng.normal(3.0, 2.0, size=10)).excludes(3.0) is False for _ in range(4000))
    assert abs(hits / 4000 - 0.95) < 0.012  # binomial standard error 0.0034


def test_pairing_cancels_what_the_samples_share():
    rng = np.random.default_rng(1)
    difficulty = rng.normal(0, 10, size=50)
    a, b = difficulty + 0.5 + rng.normal(0, 0.1, 50), difficulty + rng.normal(0, 0.1, 50)
    paired = paired_difference(a, b)
    assert paired.excludes(0) and paired.low < 0.5 < paired.high
    separate = mean_interval(a), mean_interval(b)
    assert separate[0].low < separate[1].high  # the separate intervals overlap: only pairing shows the difference


@pytest.mark.parametrize("values, message", [
    ([1.0], "at least 2 values"), ([1.0, np.nan], "at least 2 values"), ([[1.0, 2.0]], "one value per sample"),
    ([1.0, np.inf], "inf"),
])
def test_bad_values(values, message):
    with pytest.raises(ValueError, match=message):
        mean_interval(values)
    with pytest.raises(ValueError, match="level"):
        mean_interval([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError, match="same shape"):
        paired_difference([1.0, 2.0], [1.0])
