"""The books of one run: outcomes and the rates made from them."""

import math

import numpy as np
import pytest

from exsim.metrics import Outcomes


def test_misdelivered_is_a_failure_beside_the_ndrs():
    books = Outcomes(recipients=200, delivered=150, misdelivered=10, ndr=30)
    assert books.pending == 10  # 200 - 150 - 10 - 30
    assert books.failure_rate == 0.2  # (30 + 10) / 200
    assert books.ndr_rate == 0.15
    assert books.misdelivery_rate == 0.05
    assert math.isclose(books.ndr_rate + books.misdelivery_rate, books.failure_rate)


def test_rates_of_no_recipients_are_undefined():
    books = Outcomes()
    assert math.isnan(books.failure_rate)
    assert math.isnan(books.ndr_rate)
    assert math.isnan(books.misdelivery_rate)


# --- LatencyHistogram.quantile against NumPy on known samples -------------------------
#
# The histogram keeps counts in bins 1 % wide and answers a quantile with the geometric
# middle of the bin that holds the order statistic at rank floor(q * (n - 1)) -- NumPy's
# "lower" method. The middle of a bin is within a factor sqrt(1.01) of anything in it, so
# the answer is within 0.5 % of numpy.quantile(samples, q, method="lower").

QUANTILES = [0.0, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]


def histogram_of(samples):
    from exsim.metrics import LatencyHistogram

    histogram = LatencyHistogram()
    for latency_s in samples:
        histogram.add(latency_s)
    return histogram


def test_quantiles_of_a_small_hand_made_sample():
    samples = [0.5, 2.0, 2.0, 30.0, 600.0, 3600.0, 86400.0]
    histogram = histogram_of(samples)
    for q in QUANTILES:
        assert histogram.quantile(q) == pytest.approx(np.quantile(samples, q, method="lower"), rel=0.005), q
    # The median of 7 values is the 4th: 30 s.
    assert histogram.quantile(0.5) == pytest.approx(30.0, rel=0.005)
    assert histogram.mean == pytest.approx(sum(samples) / len(samples))


def test_quantiles_of_mail_like_latencies():
    """Seconds for local mail, minutes to hours for mail that waited on a connector."""
    rng = np.random.default_rng(20)
    samples = np.concatenate([rng.exponential(0.2, 5000) + 0.01, rng.lognormal(7.0, 1.5, 1000)])
    histogram = histogram_of(samples)
    assert histogram.n == len(samples)
    for q in QUANTILES:
        assert histogram.quantile(q) == pytest.approx(np.quantile(samples, q, method="lower"), rel=0.005), q


def test_counted_additions_equal_repeated_ones():
    histogram = histogram_of([])
    histogram.add(12.0, count=9)
    histogram.add(0.25, count=1)
    # Ten values: rank floor(0.5 * 9) = 4 is one of the nine 12 s deliveries.
    assert histogram.quantile(0.5) == pytest.approx(12.0, rel=0.005)
    assert histogram.quantile(0.0) == pytest.approx(0.25, rel=0.005)


def test_quantile_of_nothing_is_undefined():
    assert math.isnan(histogram_of([]).quantile(0.5))


def test_pooled_histogram_holds_every_delivery_of_each():
    # Two runs: 3 deliveries at 10 s and 1 at 100 s, then 2 at 100 s. Pooled: 6 deliveries,
    # 3 in the 10 s bin and 3 in the 100 s bin, total 3 x 10 + 3 x 100 = 330 s.
    from exsim.metrics import LatencyHistogram

    first, second = LatencyHistogram(), LatencyHistogram()
    first.add(10.0, 3)
    first.add(100.0)
    second.add(100.0, 2)
    pooled = LatencyHistogram.pooled([first, second])
    assert pooled.n == 6
    assert pooled.total_s == 330.0
    nonzero = {int(i): int(pooled.counts[i]) for i in np.flatnonzero(pooled.counts)}
    assert sorted(nonzero.values()) == [3, 3]
    assert pooled.counts.sum() == first.counts.sum() + second.counts.sum() == 6
    assert pooled.quantile(0.0) == pytest.approx(10.0, rel=0.01)
    assert pooled.quantile(1.0) == pytest.approx(100.0, rel=0.01)
