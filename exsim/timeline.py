"""A scenario's timed events as people read them: upgrades, address changes, outages,
service stops, crashes and incomplete replication, each a short label with when it starts
and (for a window) ends.

The figures draw them on their event lane, the report and ``exsim show`` list them. Apart
from :mod:`exsim.plots` so that ``show`` need not import matplotlib.

A sweep variable may set an event's time (``events.1.at``): each sweep point then runs its own
time, and the file's is only what a point that did not set it would run. So the marks of a
point come from that point's own scenario (:func:`point_marks`), and a list of the events says
which are swept and lists each point's time (:func:`listed`), as the report shows a swept version.
A service stopped with no ``end`` stays stopped through the run and its drain: it is shaded to
the end of the simulation and listed as not restarted, never as ending when ``run.duration`` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from exsim.address import parse_x400
from exsim.logs import timestamp
from exsim.scenario import Event, Scenario, resolve_path
from exsim.scenario.sweep import expand_sweep, point_scenario
from exsim.versions import BUILDS

SERVICE_NAMES = {"is": "Information Store", "mta": "MTA", "ims": "IMS", "msmail": "MS Mail Connector"}


@dataclass(frozen=True)
class Mark:
    """A timed event as drawn: a line at ``start_s``, or a shaded span to ``end_s``."""

    start_s: float
    end_s: float | None
    label: str
    color: str
    detail: str = ""
    """What the short label leaves out, for a list of the events (the new address)."""
    event: int = -1
    """The event's position in the scenario's ``events`` (what a sweep path names)."""
    ends: bool = True
    """False for a window that never ends (a service stopped with no ``end``): ``end_s`` is
    then the end of the simulation (run.duration + run.drain), only as far as it is shaded."""


def event_marks(scenario: Scenario) -> list[Mark]:
    """Every timed event of the scenario, as a labelled mark, in time order."""
    horizon = scenario.run.duration + scenario.run.drain
    marks = [
        dataclasses.replace(_mark(event, horizon), event=index) for index, event in enumerate(scenario.events)
    ]
    return sorted(marks, key=lambda m: m.start_s)


def _mark(event: Event, horizon: float) -> Mark:
    """One event's mark; ``horizon`` is where the simulation ends (a stop with no end)."""
    if event.kind == "upgrade":
        who = "every server" if event.server == "*" else event.server
        return Mark(event.at, None, f"{BUILDS[event.version].short} on {who}", "dimgrey")
    if event.kind == "address_change":
        what = (
            "adds p="
            if event.type == "x400" and parse_x400(event.value).gdi.has_prmd
            else f"new {event.type} address"
        )
        return Mark(
            event.at, None, f"{event.site} {what}", "tab:purple", f"{event.type} address {event.value}"
        )
    if event.kind == "outage":
        return Mark(event.start, event.end, f"{event.connector} down", "tab:red")
    if event.kind == "service_stop":
        service = SERVICE_NAMES.get(event.service, event.service)
        label = f"{event.server} {service} stopped"
        if event.end is None:  # stopped for good: through the drain too, never restarted
            return Mark(event.start, horizon, label, "tab:orange", ends=False)
        return Mark(event.start, event.end, label, "tab:orange")
    if event.kind == "crash":
        return Mark(event.at, event.at + event.restart_after, f"{event.server} crashed", "tab:brown")
    return Mark(event.start, event.end, f"{', '.join(event.sites)} not replicated", "tab:cyan")


def swept_events(scenario: Scenario) -> tuple[dict[int, list[str]], list[str]]:
    """Per event a sweep variable sets (any of its fields), the names of those variables:
    ``{1: ["crash_at"]}`` for a sweep over ``events.1.at``; and the names of the variables that
    set the whole list (each point then has events of its own, the file's at none)."""
    swept: dict[int, list[str]] = {}
    whole: list[str] = []
    for variable in scenario.sweep.variables:
        for location in resolve_path(scenario.raw, variable.path):
            if not location or location[0] != "events":
                continue
            if len(location) == 1:
                whole.append(variable.name)
            elif isinstance(location[1], int) and variable.name not in swept.setdefault(location[1], []):
                swept[location[1]].append(variable.name)
    return swept, whole


def point_marks(scenario: Scenario, points: Sequence[int]) -> list[list[Mark]]:
    """The marks of each of ``points`` (sweep point indexes), each from that point's own
    scenario: a swept event's time is the point's, not the file's."""
    if not scenario.sweep.variables:
        return [event_marks(scenario) for _ in points]
    every = expand_sweep(scenario)
    return [event_marks(point_scenario(scenario, every[p])) for p in points]


def merged(per_point: Sequence[Sequence[Mark]], points: Sequence[int]) -> list[Mark]:
    """The marks of several sweep points as one list (a figure's event lane over its panels):
    a mark every point has once, one only some have labelled with them, ``crashed (point 2)``."""
    where: dict[Mark, list[int]] = {}
    for marks, point in zip(per_point, points, strict=True):
        for mark in marks:
            where.setdefault(mark, []).append(point)
    shown = []
    for mark, at in where.items():
        if len(at) < len(per_point):
            which = f"point {at[0]}" if len(at) == 1 else "points " + ", ".join(map(str, at))
            mark = dataclasses.replace(mark, label=f"{mark.label} ({which})")
        shown.append(mark)
    return sorted(shown, key=lambda m: m.start_s)


def when(mark: Mark) -> str:
    """``Mon 09:00``, ``Mon 00:10 to Mon 00:25``, or ``from Mon 15:00, not restarted``."""
    start = f"{timestamp(mark.start_s):%a %H:%M}"
    if mark.end_s is None:
        return start
    if not mark.ends:
        return f"from {start}, not restarted"
    return f"{start} to {timestamp(mark.end_s):%a %H:%M}"


def listed(scenario: Scenario) -> list[tuple[str, str]]:
    """The timed events as a list reads them, in time order: (what, when), e.g.
    ("Dublin adds p=: x400 address c=IE;a= ;p=Contoso;o=Dublin", "Thu 12:00") or
    ("IMS down", "Mon 00:10 to Mon 00:25"). An event a sweep sets is listed once, with each
    point's time: ("RED-EX1 crashed", "swept (crash_at): Mon 09:00 to Mon 09:30, ...")."""
    by_event, whole = swept_events(scenario)
    if not by_event and not whole:
        return [(_what(mark), when(mark)) for mark in event_marks(scenario)]
    every = expand_sweep(scenario)
    per_point = point_marks(scenario, [p.index for p in every])
    swept = set(by_event) | ({m.event for marks in per_point for m in marks} if whole else set())
    rows = [(m.start_s, _what(m), when(m)) for m in event_marks(scenario) if m.event not in swept]
    for index in sorted(swept):
        names = list(dict.fromkeys([*by_event.get(index, []), *whole]))
        marks = [(m, n) for n, marks in enumerate(per_point) for m in marks if m.event == index]
        if not marks:
            continue
        whats = dict.fromkeys(_what(m) for m, _ in marks)
        whens = dict.fromkeys(when(m) for m, _ in marks)
        points = len({n for _, n in marks})
        rows.append(
            (
                min(m.start_s for m, _ in marks),
                " / ".join(whats),
                f"swept ({', '.join(names)}): "
                + ", ".join(whens)
                + (f" (at {points} of {len(every)} points)" if points < len(every) else ""),
            )
        )
    return [(what, at) for _, what, at in sorted(rows, key=lambda row: row[0])]


def _what(mark: Mark) -> str:
    return mark.label + (f": {mark.detail}" if mark.detail else "")
