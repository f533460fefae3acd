"""The columns of the results files, and the names a sweep variable therefore may not take.

``runs.csv`` has one row per (sweep point, replication): the point, the sweep
variables' labels, the replication and its seed, then what the run measured
(:meth:`exsim.sim.RunResult.row`), then the error (if the run failed) and its
wall time. ``summary.csv`` adds ``n`` and ``_mean``/``_lo``/``_hi`` statistics
of those. A sweep variable's column sits among them, so its name must differ
from all of them.
"""

from __future__ import annotations

from typing import Literal, get_args

# Each group of result columns is written once, as a Literal type (so mypy and the scenario
# schema know the names), and read back as a tuple (so code can loop over them).

BookCount = Literal["recipients", "delivered", "misdelivered", "ndr", "pending"]
"""The books of a run: every recipient is counted once, ``recipients == delivered +
misdelivered + ndr + pending``."""
SilentCount = Literal["lost", "unreported_ndr"]
"""Failures nobody is told of, counted inside the books: pending mail a crash destroyed, and
NDRs whose report never reached the originator (lost, as in KB Q197058, or itself
undeliverable and discarded)."""
OutcomeRate = Literal["failure_rate", "ndr_rate", "misdelivery_rate"]
"""Failures per recipient: loud (NDR), silent (misdelivered), or both."""
LatencyColumn = Literal["latency_p50_s", "latency_p95_s"]
"""Delivery latency percentiles of the run, in seconds."""
OutcomeMetric = Literal[BookCount, SilentCount, OutcomeRate, "delivery_rate"]
"""What an ``outcome`` expectation may check: any count or rate of the books, or the share of
recipients delivered."""

BOOK_COUNTS: tuple[str, ...] = get_args(BookCount)
SILENT_COUNTS: tuple[str, ...] = get_args(SilentCount)
OUTCOME_RATES: tuple[str, ...] = get_args(OutcomeRate)
LATENCY_COLUMNS: tuple[str, ...] = get_args(LatencyColumn)
OUTCOME_METRICS: tuple[str, ...] = get_args(OutcomeMetric)

#: What the faults cost, counted per run: failed association opens, transfer retries after a
#: dropped transfer, gateway retries after a refused delivery, transfers cut by a crash, and
#: reroutes (tracking event 29): queued mail an MTA sent by another next hop after its connector
#: failed, and mail a gateway handed back over its size limit.
FAULT_COUNTERS: tuple[str, ...] = (
    "open_failures",
    "transfer_retries",
    "gateway_retries",
    "transfers_cut_by_crash",
    "reroutes",
)

#: The columns every run's row starts with, in this order (PRODUCT.md ``runs.csv``).
BOOK_COLUMNS: tuple[str, ...] = (*BOOK_COUNTS, *OUTCOME_RATES, *LATENCY_COLUMNS)
#: The columns every run's row has whatever the scenario, in the order
#: :meth:`exsim.sim.RunResult.row` writes them: the books, the silent failures, the messages
#: and reports sent, the fault counters. (The rest depend on the run: one per NDR diagnostic
#: and three per traffic class.)
RUN_COLUMNS: tuple[str, ...] = (*BOOK_COLUMNS, *SILENT_COUNTS, "messages", "reports", *FAULT_COUNTERS)
#: Summarised per sweep point with a mean and a 95 % interval (``_mean``, ``_lo``, ``_hi``).
INTERVAL_COLUMNS: tuple[str, ...] = (*OUTCOME_RATES, *LATENCY_COLUMNS)
#: Summarised per sweep point with a mean only.
COUNT_COLUMNS: tuple[str, ...] = (*BOOK_COUNTS, *SILENT_COUNTS)


# The columns the experiment puts around a run's own (execute_run's record; "n" is summary.csv's).
OWN_COLUMNS = ("point", "replication", "seed", "error", "traceback", "wall_s", "n")
# Columns derived from others: per traffic class (runs.csv), statistics (summary.csv), baselines.
DERIVED_SUFFIXES = ("_recipients", "_ndr", "_misdelivered", "_mean", "_lo", "_hi", "_baseline")


def is_reserved_column(name: str) -> bool:
    """Whether a sweep variable may not be called ``name``: its column in runs.csv or
    summary.csv would collide with one the results have of their own."""
    return (
        name in OWN_COLUMNS
        or name in RUN_COLUMNS
        or is_ndr_diagnostic_column(name)
        or name.endswith(DERIVED_SUFFIXES)
    )


def is_ndr_diagnostic_column(column: str) -> bool:
    """Whether a runs.csv column is an ``ndr_<diagnostic>`` count (not ``ndr_rate``)."""
    return column.startswith("ndr_") and not column.startswith("ndr_rate")
