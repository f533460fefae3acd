"""The folders and queues mail waits in between components (MTS-IN, MTS-OUT, MTA work queue).

A :class:`MailQueue` is a FIFO served by long-lived worker processes. It does
the one thing SimPy's ``Store`` does that the model needs — a worker can wait
until something arrives — with fewer events: putting is a plain call, and
:meth:`MailQueue.served` gives a worker the next item *after* its service time
in a single event, whether the item was already waiting or arrives later. Mail
passes between components millions of times in a long run; one event per
hand-off instead of three (put, get, service timeout) is most of the speed.

SimPy has no public way to give an event a value *and* a delay at once, so
:class:`Handoff` sets the two private fields its ``Timeout`` sets itself
(``_ok``, ``_value``). That is why pyproject.toml keeps SimPy below 4.2, and why
``tests/test_queue.py`` reads the result back through the public API: a release
that renames the fields fails that test rather than the simulation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any, TypeVar

import simpy

_Returns = TypeVar("_Returns")

ProcessGenerator = Generator[simpy.Event, Any, _Returns]
"""A SimPy process body: yields events, is resumed with their values, returns a ``_Returns``
(``ProcessGenerator[None]`` for a component thread that runs forever)."""


class Handoff(simpy.Event):
    """An event a worker waits on; it fires ``delay`` seconds after an item is handed to it,
    with the item as its value (scheduled the way SimPy's own ``Timeout`` is)."""

    __slots__ = ("delay",)

    def __init__(self, env: simpy.Environment, delay: float):
        super().__init__(env)
        self.delay = delay

    def hand(self, item: Any, delay: float | None = None) -> None:
        if delay is not None:
            self.delay = delay
        self._ok = True
        self._value = item
        self.env.schedule(self, delay=self.delay)


class MailQueue:
    __slots__ = ("_waiters", "env", "items")

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.items: deque[Any] = deque()
        self._waiters: deque[simpy.Event] = deque()

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: Any) -> None:
        if self._waiters:
            waiter = self._waiters.popleft()
            if isinstance(waiter, Handoff):
                waiter.hand(item)  # an idle worker takes it straight away
                return
            self.items.append(item)
            waiter.succeed()
            return
        self.items.append(item)

    def wait(self) -> simpy.Event:
        """An event that fires when an item is put (the caller then takes it, if still there)."""
        event = self.env.event()
        self._waiters.append(event)
        return event

    def served(self, service_s: float) -> simpy.Event:
        """An event whose value is the next item, fired once ``service_s`` of work on it is done."""
        if self.items:
            return self.env.timeout(service_s, self.items.popleft())
        handoff = Handoff(self.env, service_s)
        self._waiters.append(handoff)
        return handoff
