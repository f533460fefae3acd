"""How big an experiment is, estimated before anything runs.

A scenario is data anyone can hand over, so exsim sizes the experiment it
describes before it starts one, and refuses (exit 2, saying the estimate) what
would take hours or more memory than the machine has:

* **runs** = sweep points x replications. The points are counted from the
  lengths of the value lists (a product over groups; a constraint can only drop
  some), never by expanding the sweep, so a sweep of 10^6 points is refused at
  once. Beyond :data:`MAX_SWEEP_POINTS` points or :data:`MAX_RUNS` runs nothing
  is allowed: the run list alone would not fit.
* **time** = runs x (a fixed set-up cost + recipients per run / speed). The
  recipients follow from users, profiles and days (:func:`estimated_recipients`);
  the speed is :data:`RECIPIENTS_PER_SECOND` on the reference machine, scaled by
  a short CPU-time measurement of this one (:func:`machine_speed`), and the
  runs share the cores. Above :data:`MAX_WALL_S` the run needs ``run.allow_long``.
* **memory** = the time series every run returns and the experiment keeps
  (rows per run = simulated time / ``run.time_series_interval``, one column per
  server and three more), plus the backlog each busy worker holds: the mail that
  piles up during the longest outage, stopped service or crash of the scenario.
  More than half the machine's memory is refused outright.
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass

from exsim.scenario.schema import MAX_RECIPIENTS_PER_RUN, PROFILES, RECIPIENTS_PER_SECOND, Scenario

#: Hard limits: a sweep or run list this long is never built, whatever run.allow_long says.
MAX_SWEEP_POINTS = 100_000
MAX_RUNS = 1_000_000
#: An experiment estimated to take longer than this (on all cores) needs run.allow_long.
MAX_WALL_S = 2 * 3600.0
#: Set-up cost of one run (validating the point, building routing tables, writing its row).
RUN_OVERHEAD_S = 0.05
#: Memory of one time-series value kept for the results (a float in lists, JSON and a frame).
BYTES_PER_SERIES_VALUE = 48
#: Memory of one queued recipient (message, recipient record, queue entry).
BYTES_PER_QUEUED_RECIPIENT = 1_000
#: CPU seconds the calibration loop takes on the machine RECIPIENTS_PER_SECOND was measured on.
REFERENCE_CALIBRATION_S = 0.015


def estimated_recipients(scenario: Scenario) -> float:
    """A rough count of the recipients one run simulates (users x rate x recipients x days)."""
    workload = scenario.workload
    days = scenario.run.duration / 86400
    dl = workload.mix.distribution_list * (workload.distribution_list_size - 1)
    total = 0.0
    for server in scenario.servers:
        sends, recipients = PROFILES[server.profile or workload.profile]
        recipients = workload.recipients_per_message or recipients
        total += (server.users + len(server.mailboxes)) * sends * recipients * (1 + dl) * days
    total += (workload.inbound_internet_per_hour + workload.inbound_msmail_per_hour) * 24 * days
    return float(total)


def sweep_points(scenario: Scenario) -> int:
    """Points of the sweep before any constraint: the product of the group sizes."""
    sizes: dict[str, int] = {}
    for variable in scenario.sweep.variables:
        key = variable.group or f"\0{variable.name}"
        sizes[key] = max(sizes.get(key, 0), len(variable.values))
    return math.prod(sizes.values())


@functools.cache
def machine_speed() -> float:
    """This machine's speed relative to the reference machine (2.0: twice as fast).

    The best of a few short runs of a fixed event-queue workload, in CPU time
    (other programs' load does not make this machine look slower than it is).
    """
    import heapq

    best = math.inf
    for _ in range(3):
        started = time.process_time()
        heap: list[tuple[float, int]] = []
        for i in range(5_000):
            heapq.heappush(heap, ((i * 7919) % 10_007 / 7.0, i))
        while heap:
            heapq.heappop(heap)
        best = min(best, time.process_time() - started)
    return REFERENCE_CALIBRATION_S / best if best > 0 else 1.0


def available_memory() -> float:
    """Bytes of memory available to a new process (MemAvailable; else all physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Size:
    """The estimate of an experiment, and what it means for the user."""

    points: int
    replications: int
    recipients_per_run: float
    rows_per_run: int
    wall_s: float
    memory_bytes: float
    cores: int
    speed: float

    @property
    def runs(self) -> int:
        return self.points * self.replications

    def describe(self) -> str:
        return (
            f"{self.points:,} sweep point(s) x {self.replications:,} replication(s) = {self.runs:,} runs of "
            f"about {self.recipients_per_run:,.0f} recipients and {self.rows_per_run:,} time-series rows "
            f"each: roughly {_hours(self.wall_s)} on {self.cores} core(s) at "
            f"{RECIPIENTS_PER_SECOND * self.speed:,.0f} recipients a second (the benchmark "
            "organization's measured speed, scaled to this machine), and "
            f"{self.memory_bytes / 2**30:,.1f} GiB of memory"
        )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 360 else f"{seconds / 60:,.1f} min"


def _longest_backlog_s(scenario: Scenario) -> float:
    """The longest window in which mail piles up: an outage, a stopped service, a crash."""
    from exsim.scenario.schema import CrashEvent, OutageEvent, ServiceStopEvent

    duration = float(scenario.run.duration)
    longest = 0.0
    for event in scenario.events:
        if isinstance(event, (OutageEvent, ServiceStopEvent)):
            end = float(event.end) if event.end is not None else duration
            longest = max(longest, min(end, duration) - float(event.start))
        elif isinstance(event, CrashEvent):
            longest = max(longest, float(event.restart_after))
    return max(0.0, min(longest, duration))


def estimate(scenario: Scenario, replications: int | None = None) -> Size:
    """The size of the experiment a scenario describes (``replications`` overrides its own)."""
    run = scenario.run
    reps = run.replications if replications is None else replications
    points = sweep_points(scenario)
    recipients = estimated_recipients(scenario)
    simulated = run.duration + run.drain
    rows = math.ceil(simulated / run.time_series_interval) if run.time_series else 0
    cores = _cores()
    runs = points * reps
    # Measure the machine only when the answer could matter (it costs some milliseconds).
    rough_s = runs * (RUN_OVERHEAD_S + recipients / RECIPIENTS_PER_SECOND)
    speed = machine_speed() if rough_s > MAX_WALL_S / 20 else 1.0
    run_s = RUN_OVERHEAD_S + recipients / (RECIPIENTS_PER_SECOND * speed)
    wall_s = runs * run_s / max(1, min(cores, runs))
    series = runs * rows * (3 + len(scenario.servers)) * BYTES_PER_SERIES_VALUE
    backlog = recipients * _longest_backlog_s(scenario) / run.duration if run.duration else 0.0
    memory = series + min(cores, runs) * backlog * BYTES_PER_QUEUED_RECIPIENT
    return Size(points, reps, recipients, rows, wall_s, memory, cores, speed)


def size_problem(scenario: Scenario, replications: int | None = None) -> tuple[str, str] | None:
    """(scenario path to blame, message) when the experiment is too big to start, else None."""
    points = sweep_points(scenario)
    reps = scenario.run.replications if replications is None else replications
    if points > MAX_SWEEP_POINTS:
        return "sweep.variables", (
            f"the sweep has {points:,} points; at most {MAX_SWEEP_POINTS:,} (fewer values, or group "
            "variables that advance together)"
        )
    if points * reps > MAX_RUNS:
        return "run.replications", (
            f"{points:,} sweep point(s) x {reps:,} replication(s) = {points * reps:,} runs; at most {MAX_RUNS:,}"
        )
    size = estimate(scenario, replications)
    memory = available_memory()
    if size.memory_bytes > memory / 2:
        return "run.time_series_interval", (
            f"the experiment would need more memory than this machine has ({memory / 2**30:,.1f} GiB "
            f"available): {size.describe()}; lengthen run.time_series_interval, set run.time_series = "
            "false, or run fewer points or replications"
        )
    if scenario.run.allow_long:
        return None
    if size.recipients_per_run > MAX_RECIPIENTS_PER_RUN:
        return "run.duration", (
            f"one run would simulate about {size.recipients_per_run:,.0f} recipients (more than "
            f"{MAX_RECIPIENTS_PER_RUN:,}): {size.describe()}; shorten run.duration, lower the users, "
            "or set run.allow_long = true to run it anyway"
        )
    if size.wall_s > MAX_WALL_S:
        return "run.replications", (
            f"the experiment would take hours: {size.describe()}; run fewer points or replications, "
            "or set run.allow_long = true to run it anyway"
        )
    return None
