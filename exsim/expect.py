"""Checking a scenario against its ``[[expect]]`` block.

Each expectation is evaluated on every sweep point it selects, over all
replications: counts and rates (outcomes, event counts, transfers, deliveries to a
mailbox) are means over replications; latencies pool the deliveries of all
replications; an NDR text must appear in some run; an event logged (or never
logged) and the time of the first or last NDR must hold in every run. Every check gives one line: PASS or FAIL, what was
expected, what was observed.

An expectation cannot pass by default: the names it uses are checked when the
scenario is loaded (:mod:`exsim.references`), one that selects no sweep point
fails, and so does a count over a recipient class that had no mail at all.
Bounds that could only fail or never fail (none at all, ``at_least`` above
``at_most``, a rate above 1, a negative count) are refused at load time too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from exsim.address import alias_as_written, classify_recipient
from exsim.metrics import LatencyHistogram, Outcomes
from exsim.org import Organization
from exsim.randomness import replication_seed
from exsim.scenario import (
    REPORT_CLASS,
    EventExpectation,
    LatencyExpectation,
    MailboxExpectation,
    NdrExpectation,
    NdrTimeExpectation,
    OutcomeExpectation,
    Scenario,
    TransfersExpectation,
)
from exsim.scenario.sweep import expand_sweep, point_scenario
from exsim.sim import RunResult, simulate


@dataclass(frozen=True, slots=True)
class CheckLine:
    passed: bool
    name: str
    point: str
    expected: str
    observed: str

    def __str__(self) -> str:
        where = f" [{self.point}]" if self.point else ""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}{where}: expected {self.expected}; observed {self.observed}"


class Bounds(Protocol):
    """What a numeric expectation states: a value within a tolerance, and/or limits."""

    @property
    def equals(self) -> float | None: ...
    @property
    def tolerance(self) -> float: ...
    @property
    def at_least(self) -> float | None: ...
    @property
    def at_most(self) -> float | None: ...


def _number(key: str, value: float) -> str:
    return f"{value:g}"


def _bounds(
    expectation: Bounds, value: float, show: Callable[[str, float], str] = _number
) -> tuple[bool, str]:
    """Whether ``value`` meets the bounds, and the bounds in words (``show`` writes each one)."""
    parts, ok = [], True
    if expectation.equals is not None:
        ok &= abs(value - expectation.equals) <= expectation.tolerance + 1e-12
        parts.append(
            f"= {show('equals', expectation.equals)}"
            + (f" ± {show('tolerance', expectation.tolerance)}" if expectation.tolerance else "")
        )
    if expectation.at_least is not None:
        ok &= value >= expectation.at_least
        parts.append(f">= {show('at_least', expectation.at_least)}")
    if expectation.at_most is not None:
        ok &= value <= expectation.at_most
        parts.append(f"<= {show('at_most', expectation.at_most)}")
    # Validation refuses an expectation without bounds, so parts is never empty here.
    return bool(ok) and not math.isnan(value), " and ".join(parts)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _books(run: RunResult, recipient_class: str | None) -> Outcomes:
    """The books of user mail, of one recipient class, or of the reports sent back to originators."""
    if recipient_class is None:
        return run.outcomes
    if recipient_class == REPORT_CLASS:
        return run.reports
    return run.by_class.get(recipient_class) or Outcomes()


def _outcome(expectation: OutcomeExpectation, runs: list[RunResult]) -> tuple[bool, str, str]:
    cls = expectation.recipient_class
    what = f"{expectation.metric} of " + (
        "all user mail" if cls is None else "NDR reports" if cls == REPORT_CLASS else cls
    )
    values = []
    for run in runs:
        books = _books(run, cls)
        if not books.recipients and expectation.metric != "recipients":
            # Nothing of the kind was sent: a count of zero (or 'never failed') would prove nothing.
            return False, what, f"no recipients of {cls or 'user mail'} in the run (seed {run.seed})"
        if expectation.metric == "failure_rate":
            values.append(books.failure_rate)
        elif expectation.metric == "delivery_rate":
            values.append(books.delivered / books.recipients if books.recipients else float("nan"))
        else:
            values.append(float(getattr(books, expectation.metric)))
    value = _mean(values)
    ok, expected = _bounds(expectation, value)
    return ok, f"{what} {expected}", f"{value:g}"


def _latency(expectation: LatencyExpectation, runs: list[RunResult]) -> tuple[bool, str, str]:
    cls = expectation.recipient_class
    pooled = LatencyHistogram.pooled(
        [r.latency if cls is None else r.latency_by_class.get(cls, LatencyHistogram()) for r in runs]
    )
    what = f"{expectation.statistic} latency of {cls or 'all user mail'}"
    value = (
        pooled.mean
        if expectation.statistic == "mean"
        else pooled.quantile(0.5 if expectation.statistic == "p50" else 0.95)
    )
    ok, expected = _bounds(expectation, value, lambda _, seconds: _seconds(seconds))
    if not pooled.n:
        return False, f"{what} {expected}", "no deliveries"
    return ok, f"{what} {expected}", f"{_seconds(value)} over {pooled.n} deliveries"


def _seconds(value: float) -> str:
    return f"{value:.4g} s"


def _ndr(expectation: NdrExpectation, runs: list[RunResult]) -> tuple[bool, str, str]:
    sample = next((r.ndr_samples[expectation.text] for r in runs if expectation.text in r.ndr_samples), None)
    wanted = [f"NDR {expectation.text!r}"]
    if expectation.reason is not None:
        wanted.append(f"reason {expectation.reason}")
    if expectation.diagnostic is not None:
        wanted.append(f"diagnostic {expectation.diagnostic}")
    if expectation.component is not None:
        wanted.append(f"from {expectation.component}...")
    if sample is None:
        seen = sorted({t for r in runs for t in r.ndr_samples})
        return False, ", ".join(wanted), f"no such NDR (NDR texts seen: {seen or 'none'})"
    ok = (
        (expectation.reason is None or sample["reason"] == expectation.reason)
        and (expectation.diagnostic is None or sample["diagnostic"] == expectation.diagnostic)
        and (expectation.component is None or sample["component"].startswith(expectation.component))
    )
    return (
        ok,
        ", ".join(wanted),
        (f"reason {sample['reason']}, diagnostic {sample['diagnostic']}, from {sample['component']}"),
    )


def _event(expectation: EventExpectation, runs: list[RunResult]) -> tuple[bool, str, str]:
    counts = [
        sum(
            1
            for e in r.events
            if e.event_id == expectation.event_id
            and (expectation.server is None or e.server == expectation.server)
        )
        for r in runs
    ]
    where = f"event {expectation.event_id}" + (f" on {expectation.server}" if expectation.server else "")
    observed = f"{'/'.join(str(c) for c in counts)} logged"
    if expectation.present is True:
        return all(c > 0 for c in counts), f"{where} logged", observed
    if expectation.present is False:
        return all(c == 0 for c in counts), f"{where} never logged", observed
    ok, expected = _bounds(expectation, _mean([float(c) for c in counts]))
    return ok, f"{where} count {expected}", observed


def _ndr_time(expectation: NdrTimeExpectation, runs: list[RunResult]) -> tuple[bool, str, str]:
    """The first (or last) NDR must fall within the bounds in every run, as an event must be
    logged in every run: one replication outside them fails the check, and each run's time is
    shown ('no NDR' for a run that had none, which fails it too)."""
    times: list[float | None] = []
    for run in runs:
        spans = [span for text, span in run.ndr_times.items() if expectation.text in (None, text)]
        times.append(
            None
            if not spans
            else min(s[0] for s in spans)
            if expectation.which == "first"
            else max(s[1] for s in spans)
        )
    label = f"{expectation.which} NDR" + (f" {expectation.text!r}" if expectation.text else "")
    bounds = []
    if expectation.after is not None:
        bounds.append(f">= {expectation.written('after')}")
    if expectation.before is not None:
        bounds.append(f"<= {expectation.written('before')}")
    expected = f"{label} at {' and '.join(bounds)}"  # validation refuses an ndr_time without bounds
    if all(value is None for value in times):
        return False, expected, "no NDR"
    ok = all(
        value is not None
        and (expectation.after is None or value >= expectation.after - 1e-6)
        and (expectation.before is None or value <= expectation.before + 1e-6)
        for value in times
    )
    observed = "/".join(
        "no NDR" if value is None else f"{value:.0f} s ({value / 3600:.2f} h)" for value in times
    )
    return ok, expected, observed


def _counted(
    expectation: Bounds, runs: list[RunResult], table: str, key: str, what: str
) -> tuple[bool, str, str]:
    value = _mean([float(getattr(r, table).get(key, 0)) for r in runs])
    ok, expected = _bounds(expectation, value)
    return ok, f"{what} {expected}", f"{value:g}"


def evaluate(
    scenario: Scenario, *, replications: int | None = None, seed: int | None = None
) -> list[CheckLine]:
    """Run every sweep point (serially: KB scenarios are small) and check each expectation."""
    n_reps = scenario.run.replications if replications is None else replications
    base_seed = scenario.run.seed if seed is None else seed
    lines: list[CheckLine] = []
    points = expand_sweep(scenario)
    organization: list[Organization] = []  # made only for a mailbox named by an address

    def mailbox_alias(text: str) -> str:
        """The alias of the mailbox an expectation names by its alias or any address the
        directory knows it by, in the scenario as written (the same mailbox at every point)."""
        if classify_recipient(text)[0] == "ALIAS":
            # As the directory matches it: whatever the case ('annl' counts AnnL's mail).
            holders = ((s.name, s.users, [m.alias for m in s.mailboxes]) for s in scenario.servers)
            return alias_as_written(text, holders) or text
        if not organization:
            organization.append(Organization(scenario))
        try:
            return organization[0].mailbox_meant(text).alias
        except LookupError:  # validation refuses it; a scenario that skipped it counts nothing
            return text

    results: dict[int, list[RunResult]] = {}
    for point in points:
        if not any(point.matches(e.point) for e in scenario.expect):
            continue
        concrete = point_scenario(scenario, point)
        results[point.index] = [simulate(concrete, replication_seed(base_seed, k)) for k in range(n_reps)]
    for expectation in scenario.expect:
        if not any(point.matches(expectation.point) for point in points):
            # Validation refuses an expectation on a point the constraint removes: a scenario
            # changed after it was validated (by the API) can still get here.
            wanted = ", ".join(f"{k}={v}" for k, v in (expectation.point or {}).items())
            lines.append(
                CheckLine(False, expectation.name, wanted, "a sweep point to check", "none selected")
            )
            continue
        for point in points:
            if not point.matches(expectation.point):
                continue
            runs = results[point.index]
            if isinstance(expectation, OutcomeExpectation):
                ok, expected, observed = _outcome(expectation, runs)
            elif isinstance(expectation, NdrExpectation):
                ok, expected, observed = _ndr(expectation, runs)
            elif isinstance(expectation, EventExpectation):
                ok, expected, observed = _event(expectation, runs)
            elif isinstance(expectation, NdrTimeExpectation):
                ok, expected, observed = _ndr_time(expectation, runs)
            elif isinstance(expectation, TransfersExpectation):
                ok, expected, observed = _counted(
                    expectation,
                    runs,
                    "transfers",
                    expectation.connector,
                    f"transfers over {expectation.connector}",
                )
            elif isinstance(expectation, MailboxExpectation):
                alias = mailbox_alias(expectation.alias)
                shown = expectation.alias if alias == expectation.alias else f"{expectation.alias} ({alias})"
                ok, expected, observed = _counted(
                    expectation, runs, "mailbox_deliveries", alias, f"deliveries to {shown}"
                )
            elif isinstance(expectation, LatencyExpectation):
                ok, expected, observed = _latency(expectation, runs)
            else:  # pragma: no cover - the schema admits no other kind
                raise TypeError(type(expectation).__name__)
            label = ", ".join(f"{k}={v}" for k, v in point.labels.items())
            lines.append(CheckLine(ok, expectation.name, label, expected, observed))
    return lines
