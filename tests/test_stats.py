"""Confidence intervals, checked against hand computation."""

import math

import pytest

from exsim.stats import paired_difference, t_interval


def test_t_interval_hand_computed():
    # mean 2.5; s = sqrt(5/3) = 1.29099; sem = s / 2 = 0.645497; t(0.975, 3) = 3.182446
    interval = t_interval([1, 2, 3, 4])
    half = 3.182446 * 0.645497
    assert interval.mean == 2.5
    assert interval.lo == pytest.approx(2.5 - half, rel=1e-5)
    assert interval.hi == pytest.approx(2.5 + half, rel=1e-5)
    assert interval.n == 4


def test_paired_difference_hand_computed():
    # differences 2, 3, 2: mean 7/3; s = 0.57735; sem = 0.333333; t(0.975, 2) = 4.302653
    interval = paired_difference([3, 5, 4], [1, 2, 2])
    assert interval.mean == pytest.approx(7 / 3)
    assert interval.half_width == pytest.approx(4.302653 * 0.333333, rel=1e-5)


def test_degenerate_samples():
    assert math.isnan(t_interval([]).mean)
    single = t_interval([0.2])
    assert single.mean == 0.2
    assert math.isnan(single.lo)
    same = t_interval([0.1, 0.1, 0.1])
    assert same.lo == pytest.approx(0.1)
    assert same.hi == pytest.approx(0.1)
    with pytest.raises(ValueError, match="differ in size: 2 vs 1"):
        paired_difference([1, 2], [1])


def test_a_zero_width_interval_is_printed_whenever_there_is_one():
    from exsim.stats import format_rate

    # n > 1 and every run at 0 % (or 100 %): the interval is [0, 0], and it is shown, unlike
    # n = 1 (no interval, NaN bounds), which prints the mean alone.
    assert format_rate(0.0, 0.0, 0.0) == "0.00% [0.00%, 0.00%]"
    assert format_rate(1.0, 1.0, 1.0) == "100.00% [100.00%, 100.00%]"
    assert format_rate(0.25, math.nan, math.nan) == "25.00%"
    assert format_rate(math.nan, math.nan, math.nan) == "-"


def test_an_interval_is_clipped_to_the_range_of_its_quantity():
    from exsim.stats import NON_NEGATIVE, RATE, RATE_DIFFERENCE

    # 0, 0.1, 0.2: mean 0.1; s = 0.1; sem = 0.057735; t(0.975, 2) = 4.302653; half = 0.248414.
    # As computed [-0.148414, 0.348414]: a rate cannot be below 0, so the low end is 0 and the
    # high end, inside the range, stays as it was.
    half = 4.302653 * 0.1 / math.sqrt(3)
    unbounded = t_interval([0.0, 0.1, 0.2])
    assert unbounded.lo == pytest.approx(0.1 - half, rel=1e-5)
    rate = t_interval([0.0, 0.1, 0.2], within=RATE)
    assert (rate.mean, rate.lo, rate.n) == (pytest.approx(0.1), 0.0, 3)
    assert rate.hi == pytest.approx(0.1 + half, rel=1e-5)
    # 0.9, 1, 1 as a rate: the high end would pass 100 %.
    high = t_interval([0.9, 1.0, 1.0], within=RATE)
    assert high.hi == 1.0
    assert high.lo < 0.95
    # A latency (seconds) of 1, 1, 400: mean 134; the interval's low end would be negative.
    latency = t_interval([1.0, 1.0, 400.0], within=NON_NEGATIVE)
    assert latency.lo == 0.0
    assert latency.hi > 400
    # Differences of rates 1, 0, 1: mean 2/3; sem = 1/3; half = 4.302653 / 3 = 1.434218;
    # [-0.767551, 2.100884] -> [-0.767551, 1].
    diff = paired_difference([1.0, 0.0, 1.0], [0.0, 0.0, 0.0], within=RATE_DIFFERENCE)
    assert diff.lo == pytest.approx(2 / 3 - 4.302653 / 3, rel=1e-5)
    assert diff.hi == 1.0
    # No interval (one value) stays NaN, not an edge of the range.
    assert math.isnan(t_interval([0.5], within=RATE).lo)
