"""When services run: stops, crashes and connector outages, and working through them.

:class:`Availability` holds the scenario's windows (a service stopped, a server crashed and
restarting, a connector down); :class:`Uptime` is what a component works with: wait until its
service runs, spend a service time that a crash may cut short, take the next item of its queue.
A server that nothing ever stops or crashes is *quiet*: its components skip every check and
spend one event per message.
"""

from __future__ import annotations

from typing import Any

import simpy

from exsim.scenario import CrashEvent, OutageEvent, Scenario, ServiceStopEvent
from exsim.sim.ports import Books
from exsim.sim.queue import MailQueue, ProcessGenerator

INFINITY = float("inf")
SERVICES = ("is", "mta", "ims", "msmail")
"""The services a crash stops (the store, the MTA and both gateways of the server)."""


class Availability:
    """When services and connectors are stopped or down, from the scenario's events."""

    def __init__(self, scenario: Scenario):
        self.stopped: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.outages: dict[str, list[tuple[float, float]]] = {}
        self.crashes: dict[str, list[tuple[float, float]]] = {}
        for event in scenario.events:
            if isinstance(event, CrashEvent):
                window = (event.at, event.at + event.restart_after)
                self.crashes.setdefault(event.server, []).append(window)
                for service in SERVICES:
                    self.stopped.setdefault((event.server, service), []).append(window)
            if isinstance(event, ServiceStopEvent):
                end = event.end if event.end is not None else INFINITY
                self.stopped.setdefault((event.server, event.service), []).append((event.start, end))
            elif isinstance(event, OutageEvent):
                self.outages.setdefault(event.connector, []).append((event.start, event.end))

    @staticmethod
    def _resume(windows: list[tuple[float, float]], t: float) -> float:
        """``t`` when outside every window, else the end of the window holding t (chained)."""
        moved = True
        while moved:
            moved = False
            for start, end in windows:
                if start <= t < end:
                    t, moved = end, True
        return t

    def resume_at(self, server: str, service: str, t: float) -> float:
        return self._resume(self.stopped.get((server, service), []), t)

    def running(self, server: str, service: str, t: float) -> bool:
        return self.resume_at(server, service, t) == t

    def connector_up(self, connector: str, t: float) -> bool:
        return self._resume(self.outages.get(connector, []), t) == t

    def crashed_between(self, server: str, start: float, end: float) -> bool:
        """Whether the server crashed after ``start`` and no later than ``end``."""
        return any(start < at <= end for at, _ in self.crashes.get(server, ()))

    @staticmethod
    def _clear(windows: list[tuple[float, float]], start: float, end: float) -> bool:
        """No window holds any instant from ``start`` to ``end``."""
        return not any(a <= end and start < b for a, b in windows)

    def ran_throughout(self, server: str, service: str, start: float, end: float) -> bool:
        """The service ran (no stop, no crash) from ``start`` to ``end``."""
        return self._clear(self.stopped.get((server, service), []), start, end)

    def connector_up_throughout(self, connector: str, start: float, end: float) -> bool:
        return self._clear(self.outages.get(connector, []), start, end)


class Uptime:
    """Components working on a server that may stop or crash (SimPy generators).

    ``books``: where mail a crash destroys is counted lost (work held only in memory).
    """

    def __init__(self, env: simpy.Environment, availability: Availability, books: Books):
        self.env = env
        self.availability = availability
        self.books = books
        # Servers no stop or crash ever touches skip the availability checks.
        self._touched = frozenset(server for server, _ in availability.stopped) | frozenset(
            availability.crashes
        )

    def quiet(self, server: str) -> bool:
        """Nothing ever stops or crashes this server."""
        return server not in self._touched

    def has_outages(self, connector: str) -> bool:
        """The connector is down at some time of the run."""
        return bool(self.availability.outages.get(connector))

    def running(self, server: str, service: str, t: float) -> bool:
        return self.availability.running(server, service, t)

    def connector_up(self, connector: str, t: float) -> bool:
        return self.availability.connector_up(connector, t)

    def crashed_between(self, server: str, start: float, end: float) -> bool:
        return self.availability.crashed_between(server, start, end)

    def ran_throughout(self, server: str, service: str, start: float, end: float) -> bool:
        return self.availability.ran_throughout(server, service, start, end)

    def connector_up_throughout(self, connector: str, start: float, end: float) -> bool:
        return self.availability.connector_up_throughout(connector, start, end)

    def wait_running(self, server: str, service: str) -> ProcessGenerator[None]:
        """Wait (a generator) until the service runs; forever if it never starts again."""
        resume = self.availability.resume_at(server, service, self.env.now)
        if resume == INFINITY:
            yield self.env.event()
        elif resume > self.env.now:
            yield self.env.timeout(resume - self.env.now)

    def work(self, server: str, service: str, seconds: float) -> ProcessGenerator[bool]:
        """A component works on something (a generator): waits for its service, spends the
        time, and returns False when the server crashed meanwhile (the work was in memory)."""
        if self.quiet(server):
            yield self.env.timeout(seconds)
            return True
        yield from self.wait_running(server, service)
        started = self.env.now
        yield self.env.timeout(seconds)
        return not self.availability.crashed_between(server, started, self.env.now)

    def take(
        self, queue: MailQueue, server: str, service: str, seconds: float, lost_in: str | None
    ) -> ProcessGenerator[Any]:
        """The next item of a component's queue once ``seconds`` of work on it are done (a generator),
        on a server that stops or crashes. A crash during the work loses the envelope (returns None,
        ``lost_in`` names the component) or, with ``lost_in=None``, the work is simply done again."""
        while not queue.items:
            yield queue.wait()
        item = queue.items.popleft()
        while not (yield from self.work(server, service, seconds)):
            if lost_in is not None:
                self.books.lose(item, item.pending, server, lost_in)
                return None
        return item
