"""Confidence intervals over replications, and paired differences between sweep points.

Replications of a sweep point are independent runs; their mean failure rate
gets a Student-t interval. Because replication k of every sweep point sees the
same traffic (common random numbers), two sweep points are compared by the
per-replication *differences*, whose interval is much narrower than the two
separate intervals would suggest.

An interval never reaches past what its quantity can be: the Student-t interval is symmetric
about the mean, so with few replications and a rate near 0 it would run below 0 % (48 % from two
runs at 0 % and 97 % gives [-6 %, 103 %]). Its ends are clipped to the quantity's range
(:data:`RATE`, :data:`RATE_DIFFERENCE`, :data:`NON_NEGATIVE`) here, where it is computed, so
every table, report and figure that shows it agrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The t quantile is scipy.special's stdtrit, the function scipy.stats.t.ppf itself calls: importing
# scipy.special costs a third of scipy.stats, which every notebook and `exsim run` would pay.
from scipy.special import stdtrit

#: The range of a rate (a share of recipients): [0, 1].
RATE = (0.0, 1.0)
#: The range of a difference of two rates: [-1, 1].
RATE_DIFFERENCE = (-1.0, 1.0)
#: The range of a duration such as a latency: [0, infinity).
NON_NEGATIVE = (0.0, math.inf)
#: No range: the interval as computed.
UNBOUNDED = (-math.inf, math.inf)


@dataclass(frozen=True, slots=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (of the clipped interval, when it was clipped)."""
        return (self.hi - self.lo) / 2


def t_interval(
    values: Sequence[float], confidence: float = 0.95, within: tuple[float, float] = UNBOUNDED
) -> Interval:
    """Mean and two-sided Student-t interval; NaN bounds with fewer than two finite values.

    ``within`` is the range the quantity can take (:data:`RATE`, :data:`NON_NEGATIVE`, ...): an
    end of the interval outside it is moved to its edge."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = len(data)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(data.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n)
    sem = float(data.std(ddof=1)) / math.sqrt(n)
    half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * sem
    low, high = within
    return Interval(mean, max(mean - half, low), min(mean + half, high), n)


def paired_difference(
    values: Sequence[float],
    baseline: Sequence[float],
    confidence: float = 0.95,
    within: tuple[float, float] = UNBOUNDED,
) -> Interval:
    """Interval of mean(values[k] - baseline[k]) over replications k (paired by k), its ends
    kept ``within`` the range of a difference (:data:`RATE_DIFFERENCE` for rates)."""
    if len(values) != len(baseline):
        raise ValueError(f"paired samples differ in size: {len(values)} vs {len(baseline)}")
    return t_interval([v - b for v, b in zip(values, baseline, strict=True)], confidence, within)


def format_rate(mean: float, lo: float, hi: float) -> str:
    """A rate as a percentage with its 95 % interval, ``"9.90% [8.10%, 11.70%]"``; the interval is left
    out when there is none (one replication: NaN bounds) and ``-`` stands for no recipients of that
    kind. An interval of width zero (every replication at 0 %, say) is printed all the same,
    ``"0.00% [0.00%, 0.00%]"``: without it the row would read as one of a single replication."""
    if mean != mean:  # NaN: no recipients of that kind
        return "-"
    if lo != lo:
        return f"{mean:.2%}"
    return f"{mean:.2%} [{lo:.2%}, {hi:.2%}]"
