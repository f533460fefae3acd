"""Streaming measurements of a run: outcome counters, latency quantiles, time series.

Nothing here keeps a record per message: counters are integers, latency goes
into a log-spaced histogram (quantiles within 1 % relative error), and time
series are fixed-size arrays, so memory does not grow with simulated time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


class LatencyHistogram:
    """Log-spaced histogram of latencies from 1 ms to ~1 year; 1 % wide bins."""

    LOW_S = 1e-3
    RATIO = 1.01

    def __init__(self) -> None:
        self.bins = math.ceil(math.log(3.2e7 / self.LOW_S) / math.log(self.RATIO)) + 2
        # A plain list while the run adds to it: a Python int += is several times cheaper
        # than a NumPy element update, and every delivery adds one.
        self._counts = [0] * self.bins
        self.n = 0
        self.total_s = 0.0
        self._log_ratio = math.log(self.RATIO)

    @property
    def counts(self) -> np.ndarray:
        """Deliveries per bin, as an array."""
        return np.array(self._counts, dtype=np.int64)

    def add(self, latency_s: float, count: int = 1) -> None:
        """Record ``count`` deliveries that took ``latency_s`` each."""
        if latency_s <= self.LOW_S:
            index = 0
        else:
            index = 1 + int(math.log(latency_s / self.LOW_S) / self._log_ratio)
            if index >= self.bins:
                index = self.bins - 1
        self._counts[index] += count
        self.n += count
        self.total_s += latency_s * count

    def upper_edge(self, index: int) -> float:
        """Upper edge of a bin in seconds."""
        return self.LOW_S * self.RATIO**index

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1), as the geometric middle of its bin; NaN when empty."""
        if self.n == 0:
            return float("nan")
        rank = q * (self.n - 1)
        index = int(np.searchsorted(np.cumsum(self.counts), rank, side="right"))
        if index == 0:
            return self.LOW_S
        return float(self.LOW_S * self.RATIO ** (index - 0.5))

    @property
    def mean(self) -> float:
        return self.total_s / self.n if self.n else float("nan")

    @classmethod
    def pooled(cls, histograms: list[LatencyHistogram]) -> LatencyHistogram:
        """One histogram holding every delivery of several (e.g. of all replications)."""
        pooled = cls()
        for histogram in histograms:
            pooled._counts = [a + b for a, b in zip(pooled._counts, histogram._counts, strict=True)]
            pooled.n += histogram.n
            pooled.total_s += histogram.total_s
        return pooled


@dataclass(slots=True)
class Outcomes:
    """Recipients by final outcome; pending is what is left.

    ``recipients == delivered + misdelivered + ndr + pending`` always. A *misdelivered*
    recipient's mail reached a mailbox, but not the one the sender meant: the directory
    resolved the address to someone else (KB Q176046). Exchange reports nothing, so it is
    a failure as surely as an NDR, only a silent one.
    """

    recipients: int = 0
    delivered: int = 0
    misdelivered: int = 0
    ndr: int = 0
    lost: int = 0
    """Lost by Exchange in a crash; part of ``pending`` (never delivered, never reported)."""
    unreported_ndr: int = 0
    """NDR'd, but the report never reached the originator: lost on its way back (KB Q197058),
    itself NDR'd and discarded (tracking event 43), or misdelivered. Part of ``ndr``, a failure
    the originator never learns of; each recipient the report listed counts once, in its own
    class (the report's recipient is in the "report" class's books)."""
    ndr_by_diagnostic: Counter[str] = field(default_factory=Counter)
    ndr_by_text: Counter[str] = field(default_factory=Counter)
    ndr_by_component: Counter[str] = field(default_factory=Counter)

    @property
    def pending(self) -> int:
        return self.recipients - self.delivered - self.misdelivered - self.ndr

    @property
    def failure_rate(self) -> float:
        """Recipients that failed, loudly (NDR) or silently (misdelivered), per recipient."""
        return (self.ndr + self.misdelivered) / self.recipients if self.recipients else float("nan")

    @property
    def ndr_rate(self) -> float:
        return self.ndr / self.recipients if self.recipients else float("nan")

    @property
    def misdelivery_rate(self) -> float:
        return self.misdelivered / self.recipients if self.recipients else float("nan")


class TimeSeries:
    """Counts per interval of simulated time (NDRs, misdeliveries, deliveries) and sampled queue lengths.

    NDRs are also counted per generating server (``ndr_by_server``), so a figure can
    show which server's store, MTA or gateway returned the mail, not only how much;
    deliveries per delivering server (``delivered_by_server``: the mailbox's home server,
    or the server whose gateway handed the mail to the foreign system), so the
    explorer's time slider can show each site's share.
    A queue sample is everything a server holds at that instant: the store's and
    MTA's queues, its gateways' MTS-OUT folders and the mail they wait to retry.
    """

    def __init__(self, interval_s: float, horizon_s: float):
        self.interval_s = interval_s
        # One slot per interval that starts within the run, the run's end included: a run whose
        # length is a whole number of intervals has a last slot that starts at its end (no mail
        # moves in it; its queue sample is what the servers still hold as the run stops).
        size = math.floor(horizon_s / interval_s) + 1
        # Plain lists of ints while the run counts (every delivery adds to two of them, and a
        # Python int += is several times cheaper than a NumPy element update); the properties
        # give them as arrays.
        self._delivered = [0] * size
        self._ndr = [0] * size
        self._misdelivered = [0] * size
        self._queue_samples: dict[str, list[int]] = {}
        self._ndr_by_server: dict[str, list[int]] = {}
        self._delivered_by_server: dict[str, list[int]] = {}
        self._size = size

    @property
    def delivered(self) -> np.ndarray:
        """Recipients delivered per slot."""
        return np.array(self._delivered, dtype=np.int64)

    @property
    def ndr(self) -> np.ndarray:
        """Recipients NDR'd per slot."""
        return np.array(self._ndr, dtype=np.int64)

    @property
    def misdelivered(self) -> np.ndarray:
        """Recipients misdelivered per slot."""
        return np.array(self._misdelivered, dtype=np.int64)

    @property
    def queue_samples(self) -> dict[str, np.ndarray]:
        """Each server's held mail at the start of each slot."""
        return _arrays(self._queue_samples)

    @property
    def ndr_by_server(self) -> dict[str, np.ndarray]:
        """Recipients NDR'd per slot, by the server whose component generated the NDR."""
        return _arrays(self._ndr_by_server)

    @property
    def delivered_by_server(self) -> dict[str, np.ndarray]:
        """Recipients delivered per slot, by delivering server."""
        return _arrays(self._delivered_by_server)

    @property
    def starts_s(self) -> list[float]:
        """The simulated time at which each slot starts (and its queue sample is taken)."""
        return [index * self.interval_s for index in range(self._size)]

    def _index(self, time_s: float) -> int:
        return min(self._size - 1, int(time_s // self.interval_s))

    def count_delivered(self, time_s: float, server: str, count: int = 1) -> None:
        """``count`` recipients delivered by ``server``."""
        index = min(self._size - 1, int(time_s // self.interval_s))
        self._delivered[index] += count
        series = self._delivered_by_server.get(server)
        if series is None:
            series = self._delivered_by_server[server] = [0] * self._size
        series[index] += count

    def count_ndr(self, time_s: float, server: str) -> None:
        """One recipient NDR'd by a component on ``server``."""
        index = self._index(time_s)
        self._ndr[index] += 1
        series = self._ndr_by_server.get(server)
        if series is None:
            series = self._ndr_by_server[server] = [0] * self._size
        series[index] += 1

    def count_misdelivered(self, time_s: float, count: int = 1) -> None:
        self._misdelivered[self._index(time_s)] += count

    def sample_queue(self, time_s: float, server: str, length: int) -> None:
        series = self._queue_samples.get(server)
        if series is None:
            series = self._queue_samples[server] = [0] * self._size
        series[self._index(time_s)] = length


def _arrays(lists: dict[str, list[int]]) -> dict[str, np.ndarray]:
    return {name: np.array(values, dtype=np.int64) for name, values in lists.items()}
