"""A scenario's timed events as people read them: upgrades, address changes, outages,
service stops, crashes and incomplete replication, each a short label with when it starts
and (for a window) ends.

The figures draw them on their event lane, the report and ``exsim show`` list them. Apart
from :mod:`exsim.plots` so that ``show`` need not import matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass

from exsim.address import parse_x400
from exsim.logs import timestamp
from exsim.scenario import Scenario
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


def event_marks(scenario: Scenario) -> list[Mark]:
    """Every timed event of the scenario, as a labelled mark, in time order."""
    marks = []
    horizon = scenario.run.duration
    for event in scenario.events:
        if event.kind == "upgrade":
            who = "every server" if event.server == "*" else event.server
            marks.append(Mark(event.at, None, f"{BUILDS[event.version].short} on {who}", "dimgrey"))
        elif event.kind == "address_change":
            what = (
                "adds p="
                if event.type == "x400" and parse_x400(event.value).gdi.has_prmd
                else f"new {event.type} address"
            )
            marks.append(
                Mark(
                    event.at,
                    None,
                    f"{event.site} {what}",
                    "tab:purple",
                    f"{event.type} address {event.value}",
                )
            )
        elif event.kind == "outage":
            marks.append(Mark(event.start, event.end, f"{event.connector} down", "tab:red"))
        elif event.kind == "service_stop":
            end = event.end if event.end is not None else horizon
            service = SERVICE_NAMES.get(event.service, event.service)
            marks.append(Mark(event.start, end, f"{event.server} {service} stopped", "tab:orange"))
        elif event.kind == "crash":
            marks.append(
                Mark(event.at, event.at + event.restart_after, f"{event.server} crashed", "tab:brown")
            )
        elif event.kind == "replication":
            marks.append(Mark(event.start, event.end, f"{', '.join(event.sites)} not replicated", "tab:cyan"))
    return sorted(marks, key=lambda m: m.start_s)


def listed(scenario: Scenario) -> list[tuple[str, str]]:
    """The timed events as a list reads them, in time order: (what, when), e.g.
    ("Dublin adds p=: x400 address c=IE;a= ;p=Contoso;o=Dublin", "Thu 12:00") or
    ("IMS down", "Mon 00:10 to Mon 00:25")."""
    return [
        (
            mark.label + (f": {mark.detail}" if mark.detail else ""),
            f"{timestamp(mark.start_s):%a %H:%M}"
            + (f" to {timestamp(mark.end_s):%a %H:%M}" if mark.end_s is not None else ""),
        )
        for mark in event_marks(scenario)
    ]
