"""How big an experiment is, estimated before anything runs.

A scenario is data anyone can hand over, so exsim sizes the experiment it
describes before it starts one, and refuses (exit 2, saying the estimate) what
would take hours or more memory than the machine has:

* **runs** = sweep points x replications. The points are counted from the
  lengths of the value lists (a product over groups; a constraint can only drop
  some), never by expanding the sweep, so a sweep of 10^6 points is refused at
  once. Beyond :data:`MAX_SWEEP_POINTS` points or :data:`MAX_RUNS` runs nothing
  is allowed: the run list alone would not fit.
* **time** = runs x (a fixed set-up cost + mailboxes x a set-up cost each +
  recipients per run / speed). The recipients follow from users, profiles and
  the days of sending within the run (:func:`estimated_recipients`: working
  hours count, so an hour from midnight sends nothing); the speed is the fixed
  :data:`RECIPIENTS_PER_SECOND`, what ``benchmarks/run.py`` measures on the development
  machine rounded down, and the runs share the cores. Above :data:`MAX_WALL_S` the run
  needs ``run.allow_long``. The speed is not measured at run time: a measurement short
  enough for ``validate`` gave anything from 11,000 to 41,000 recipients a second between
  identical calls on a loaded machine, so the same scenario could be refused one moment and
  accepted the next.
* **memory** = the time series every run returns and the experiment keeps
  (rows per run = simulated time / ``run.time_series_interval``, one column per
  server and three more), plus, in each run held at once (one per core), the
  organization's mailboxes (:data:`BYTES_PER_MAILBOX` each) and the backlog of
  the mail that piles up during the longest outage, stopped service or crash.
  More than half the machine's memory is refused outright, even with
  ``run.allow_long``: such a run would fail, not merely take long.

A refusal names the key that drives the excess: the biggest server's ``users``
when the organization is too big, ``run.duration`` when the run is too long,
the event whose backlog fills memory, ``run.time_series_interval`` when the
time series are too fine.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from exsim.scenario.paths import Location
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
#: Memory a run holds for each mailbox of the organization, for as long as it runs: its directory
#: entry and proxy addresses, the directory's index of them, its place in the workload's lists.
#: Measured with tracemalloc (the peak of one simulate() with 2 x 100,000 light users and a few
#: seconds of mail, less the same with none): 1,091-1,093 bytes. Peak RSS of `exsim run` grows by
#: more (the allocator's overhead): 849 -> 1,615 MiB from 600,000 to 1,200,000 mailboxes (15 min
#: of light mail all day, 187,196 -> 371,507 recipients), about 1,280 bytes a mailbox; hence 1,300.
BYTES_PER_MAILBOX = 1_300
#: CPU seconds setting up one mailbox takes (measured the same way, 15-17 microseconds on the
#: development machine; 45 keeps the estimate on the long side on a slower one).
SETUP_S_PER_MAILBOX = 45e-6


def sending_days(scenario: Scenario, duration: float | None = None) -> float:
    """Days' worth of user mail a run sends: the share of the daily sending window (working
    hours, or all day) that falls within ``[0, run.duration)``. A run starts on a Monday at
    00:00, so one hour from midnight with working hours 09:00-17:00 sends nothing (0.0)."""
    length = scenario.run.duration if duration is None else duration
    start, window = scenario.workload.sending_window()
    day = 86400.0
    # Day d's window is [d * day + start, d * day + start + window): whole windows, then a part.
    whole = math.floor((length - start - window) / day) + 1 if length >= start + window else 0
    part = min(max(length - (whole * day + start), 0.0), window)
    return whole + part / window


def estimated_recipients(scenario: Scenario, duration: float | None = None) -> float:
    """A rough count of the recipients one run simulates (users x rate x recipients x days of
    sending, plus the mail arriving from outside); ``duration`` stands for run.duration."""
    workload = scenario.workload
    length = scenario.run.duration if duration is None else duration
    sending = sending_days(scenario, length)
    dl = workload.mix.distribution_list * (workload.distribution_list_size - 1)
    total = 0.0
    for server in scenario.servers:
        sends, recipients = PROFILES[server.profile or workload.profile]
        recipients = workload.recipients_per_message or recipients
        total += (server.users + len(server.mailboxes)) * sends * recipients * (1 + dl) * sending
    inbound = workload.inbound_internet_per_hour + workload.inbound_msmail_per_hour
    inbound += sum(system.inbound_per_hour for system in scenario.foreign_x400)
    total += inbound * length / 3600
    return float(total)


def mailboxes(scenario: Scenario) -> int:
    """The organization's mailboxes: every server's anonymous users and named mailboxes."""
    return sum(server.users + len(server.mailboxes) for server in scenario.servers)


def sweep_points(scenario: Scenario) -> int:
    """Points of the sweep before any constraint: the product of the group sizes."""
    sizes: dict[str, int] = {}
    for variable in scenario.sweep.variables:
        key = variable.group or f"\0{variable.name}"
        sizes[key] = max(sizes.get(key, 0), len(variable.values))
    return math.prod(sizes.values())


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
    mailboxes: int
    recipients_per_run: float
    rows_per_run: int
    wall_s: float
    #: Memory in bytes: the time series every run returns (kept for the whole experiment), and,
    #: in each of the runs held at once, the organization's mailboxes and the longest backlog.
    series_bytes: float
    mailbox_bytes: float
    backlog_bytes: float
    cores: int

    @property
    def runs(self) -> int:
        return self.points * self.replications

    @property
    def at_once(self) -> int:
        """Runs in memory at the same time: one per core, at most one per run."""
        return max(1, min(self.cores, self.runs))

    @property
    def memory_bytes(self) -> float:
        return self.series_bytes + self.at_once * (self.mailbox_bytes + self.backlog_bytes)

    def describe(self) -> str:
        return (
            f"{self.points:,} sweep point(s) x {self.replications:,} replication(s) = {self.runs:,} runs of "
            f"{self.mailboxes:,} mailboxes, about {self.recipients_per_run:,.0f} recipients and "
            f"{self.rows_per_run:,} time-series rows each: roughly {_hours(self.wall_s)} on {self.cores} "
            f"core(s) at {RECIPIENTS_PER_SECOND:,} recipients a second (what benchmarks/run.py measures "
            "on the development machine, rounded down; README, Performance), and "
            f"{_gib(self.memory_bytes)} of memory ({self.at_once:,} run(s) at once, each holding "
            f"{_gib(self.mailbox_bytes)} of mailboxes and {_gib(self.backlog_bytes)} of queued mail; "
            f"{_gib(self.series_bytes)} of time series)"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 360 else f"{seconds / 60:,.1f} min"


def _longest_backlog(scenario: Scenario) -> tuple[int | None, float]:
    """The longest window in which mail piles up (an outage, a stopped service, a crash): its
    index among the events and its length in seconds within the run (None, 0.0: none)."""
    from exsim.scenario.schema import CrashEvent, OutageEvent, ServiceStopEvent

    duration = float(scenario.run.duration)
    longest: tuple[int | None, float] = (None, 0.0)
    for index, event in enumerate(scenario.events):
        if isinstance(event, (OutageEvent, ServiceStopEvent)):
            end = float(event.end) if event.end is not None else duration
            window = min(end, duration) - float(event.start)
        elif isinstance(event, CrashEvent):
            window = float(event.restart_after)
        else:
            continue
        window = max(0.0, min(window, duration))
        if window > longest[1]:
            longest = (index, window)
    return longest


def _rows(scenario: Scenario, interval: float | None = None) -> int:
    """Time-series rows of one run (at ``interval`` instead of run.time_series_interval)."""
    run = scenario.run
    if not run.time_series:
        return 0
    return math.ceil(
        (run.duration + run.drain) / (run.time_series_interval if interval is None else interval)
    )


def estimate(scenario: Scenario, replications: int | None = None) -> Size:
    """The size of the experiment a scenario describes (``replications`` overrides its own)."""
    run = scenario.run
    reps = run.replications if replications is None else replications
    points = sweep_points(scenario)
    boxes = mailboxes(scenario)
    recipients = estimated_recipients(scenario)
    rows = _rows(scenario)
    cores = _cores()
    runs = points * reps

    one_run_s = RUN_OVERHEAD_S + boxes * SETUP_S_PER_MAILBOX + recipients / RECIPIENTS_PER_SECOND
    wall_s = runs * one_run_s / max(1, min(cores, runs))
    series = runs * rows * (3 + len(scenario.servers)) * BYTES_PER_SERIES_VALUE
    _, backlog_s = _longest_backlog(scenario)
    backlog = recipients * backlog_s / run.duration if run.duration else 0.0
    return Size(
        points,
        reps,
        boxes,
        recipients,
        rows,
        wall_s,
        series,
        boxes * BYTES_PER_MAILBOX,
        backlog * BYTES_PER_QUEUED_RECIPIENT,
        cores,
    )


def _biggest_server(scenario: Scenario) -> Location:
    """The key holding the most mailboxes: the biggest server's users (or its named mailboxes)."""
    index, server = max(enumerate(scenario.servers), key=lambda item: item[1].users + len(item[1].mailboxes))
    return ("servers", index, "users" if server.users >= len(server.mailboxes) else "mailboxes")


def _largest_inbound(scenario: Scenario) -> tuple[Location, str, float]:
    """The key of the largest rate of mail arriving from outside the organization (its
    location, its name as written, the rate)."""
    workload = scenario.workload
    rates: list[tuple[Location, str, float]] = [
        (("workload", key), f"workload.{key}", getattr(workload, key))
        for key in ("inbound_internet_per_hour", "inbound_msmail_per_hour")
    ]
    rates += [
        (
            ("foreign_x400", i, "inbound_per_hour"),
            f"foreign_x400[{i}].inbound_per_hour",
            system.inbound_per_hour,
        )
        for i, system in enumerate(scenario.foreign_x400)
    ]
    return max(rates, key=lambda item: item[2])


def _recipients_driver(scenario: Scenario) -> tuple[Location, str]:
    """What makes a run's mail too much: when a single day of its mail is already too much, the
    larger source of it (the organization's users, or mail arriving from outside at a rate),
    else the run's length."""
    day = min(float(scenario.run.duration), 86400.0)
    daily = estimated_recipients(scenario, day)
    if daily > MAX_RECIPIENTS_PER_RUN:
        at, name, rate = _largest_inbound(scenario)
        if rate * day / 3600 > daily / 2:  # most of the day's mail comes from outside
            return at, f"lower {name}"
        return _biggest_server(scenario), "lower the users"
    return ("run", "duration"), "shorten run.duration"


def size_problem(
    scenario: Scenario, replications: int | None = None, *, simulated: bool = True
) -> tuple[Location, str] | None:
    """(scenario path to blame, message) when the experiment is too big to start, else None.

    The path is the key that drives the excess: a server's users when the organization is too
    big, run.duration when the run is too long, the outage (or stop, or crash) whose backlog
    fills memory, run.time_series_interval when the time series are too fine. With
    ``simulated=False`` (the scenario is only read, not run) only the memory and the sweep's
    limits are checked.
    """
    points = sweep_points(scenario)
    reps = scenario.run.replications if replications is None else replications
    if points > MAX_SWEEP_POINTS:
        return ("sweep", "variables"), (
            f"the sweep has {points:,} points; at most {MAX_SWEEP_POINTS:,} (fewer values, or group "
            "variables that advance together)"
        )
    if points * reps > MAX_RUNS:
        return ("run", "replications"), (
            f"{points:,} sweep point(s) x {reps:,} replication(s) = {points * reps:,} runs; at most {MAX_RUNS:,}"
        )
    size = estimate(scenario, replications)
    too_big = _memory_problem(scenario, size)
    if too_big is not None or scenario.run.allow_long or not simulated:
        return too_big
    if size.recipients_per_run > MAX_RECIPIENTS_PER_RUN:
        at, advice = _recipients_driver(scenario)
        return at, (
            f"one run would simulate about {size.recipients_per_run:,.0f} recipients (more than "
            f"{MAX_RECIPIENTS_PER_RUN:,}): {size.describe()}; {advice}, or set run.allow_long = true "
            "to run it anyway"
        )
    if size.wall_s > MAX_WALL_S:
        if size.wall_s * size.at_once / size.runs > MAX_WALL_S:  # one run alone takes hours
            at, advice = (
                _recipients_driver(scenario)
                if size.recipients_per_run / RECIPIENTS_PER_SECOND > size.mailboxes * SETUP_S_PER_MAILBOX
                else (_biggest_server(scenario), "lower the users")
            )
        else:
            at, advice = ("run", "replications"), "run fewer points or replications"
        return at, (
            f"the experiment would take hours: {size.describe()}; {advice}, or set run.allow_long = "
            "true to run it anyway"
        )
    return None


def _memory_problem(scenario: Scenario, size: Size) -> tuple[Location, str] | None:
    # Memory is refused whatever run.allow_long says: such a run would not end, it would fail.
    memory = available_memory()
    if size.memory_bytes <= memory / 2:
        return None
    too_much = (
        f"the experiment would need more memory than this machine has ({_gib(memory)} available): "
        f"{size.describe()}"
    )
    backlog_at, _ = _longest_backlog(scenario)
    parts = {
        "mailboxes": size.at_once * size.mailbox_bytes,
        "backlog": size.at_once * size.backlog_bytes,
        "series": size.series_bytes,
    }
    if parts["mailboxes"] > memory / 2 or max(parts, key=parts.__getitem__) == "mailboxes":
        return _biggest_server(scenario), f"{too_much}; lower the users"
    if max(parts, key=parts.__getitem__) == "backlog" and backlog_at is not None:
        return ("events", backlog_at), (
            f"{too_much}; the mail queued during this event fills the memory: shorten it, or lower the users"
        )
    # Time series: too fine an interval, unless even one row a day would be too many.
    daily = size.runs * _rows(scenario, 86400.0) * (3 + len(scenario.servers)) * BYTES_PER_SERIES_VALUE
    if daily > memory / 2:
        return ("run", "duration"), f"{too_much}; shorten run.duration"
    return ("run", "time_series_interval"), (
        f"{too_much}; lengthen run.time_series_interval, set run.time_series = false, or run "
        "fewer points or replications"
    )
