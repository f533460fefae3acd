"""The folders and queues mail waits in between components (MTS-IN, MTS-OUT, MTA work queue).

A :class:`MailQueue` is a FIFO served by long-lived worker processes. It does
the one thing SimPy's ``Store`` does that the model needs — a worker can wait
until something arrives — with fewer events: putting is a plain call, and
:meth:`MailQueue.served` gives a worker the next item *after* its service time
in a single event, whether the item was already waiting or arrives later. Mail
passes between components millions of times in a long run; one event per
hand-off instead of three (put, get, service timeout) is most of the speed.

SimPy has no public way to give an event a value *and* a delay at once, so
:class:`Handoff` sets the private fields its ``Timeout`` sets itself (``_ok``,
``_value``) and puts itself on the environment's event queue the way
``Environment.schedule`` does (``_queue``, ``_eid``, ``_now``). That is why
pyproject.toml keeps SimPy below 4.2, and why ``tests/test_queue.py`` reads the
result back through the public API: a release that renames the fields fails that
test rather than the simulation. :class:`Environment` is SimPy's own with its
event loop in one function (the same events in the same order).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, TypeVar

import simpy
from simpy.core import BoundClass
from simpy.events import NORMAL, PENDING, URGENT, EventCallbacks

_Returns = TypeVar("_Returns")

ProcessGenerator = Generator[simpy.Event, Any, _Returns]
"""A SimPy process body: yields events, is resumed with their values, returns a ``_Returns``
(``ProcessGenerator[None]`` for a component thread that runs forever)."""


class Process(simpy.Process):
    """SimPy's process, whose resumption callback is bound once: SimPy binds ``_resume`` afresh
    every time the process waits on an event, and a run's processes wait millions of times."""

    def __init__(self, env: simpy.Environment, generator: ProcessGenerator[Any]):
        self._resume = self._resume  # type: ignore[method-assign]  # the bound method, kept
        super().__init__(env, generator)


class Environment(simpy.Environment):
    """SimPy's environment, whose :meth:`run` up to a time steps through the events in one loop
    instead of a method call per event (a run processes millions of them).

    It processes the same events in the same order and stops where SimPy's does: the stop is
    an urgent event at the ``until`` time, so events due exactly then are left for later, and a
    failed event nobody handled ends the run with its exception, as in ``Environment.step``.
    """

    if TYPE_CHECKING:  # as SimPy declares its own makers

        def process(self, generator: ProcessGenerator[Any]) -> Process:
            """A process that binds its resumption once."""

    else:
        process = BoundClass(Process)

    def __init__(self, initial_time: simpy.core.SimTime = 0):
        super().__init__(initial_time)
        # SimPy binds its event makers (timeout, event, process...) to the environment once,
        # to spare a descriptor call at every use, but only those its own class declares:
        # for a subclass, bind SimPy's here.
        for name, attribute in simpy.Environment.__dict__.items():
            if type(attribute) is BoundClass:
                setattr(self, name, getattr(self, name))

    def run(self, until: simpy.core.SimTime | simpy.Event | None = None) -> Any:
        if until is None or isinstance(until, simpy.Event):
            return super().run(until)
        at = until if isinstance(until, int) else float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = simpy.Event(self)
        stop._ok, stop._value = True, None
        self.schedule(stop, URGENT, at - self._now)
        queue = self._queue
        while queue:
            self._now, _, _, event = heappop(queue)
            if event is stop:
                return None
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]  # as in SimPy
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                # Unhandled failure: crash the run, as SimPy does, with a fresh copy of it.
                error = type(event._value)(*event._value.args)
                error.__cause__ = event._value
                raise error
        raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}')


class Handoff(simpy.Event):
    """An event a worker waits on; it fires ``delay`` seconds after an item is handed to it,
    with the item as its value (scheduled the way SimPy's own ``Timeout`` is)."""

    __slots__ = ("delay",)

    def __init__(self, env: simpy.Environment, delay: float):
        # Event.__init__ inlined, as SimPy's own Timeout does: a run makes one per hand-off.
        self.env = env
        self.callbacks: EventCallbacks = []
        self._value = PENDING
        self.delay = delay

    def hand(self, item: Any, delay: float | None = None) -> None:
        if delay is None:
            delay = self.delay
        else:
            self.delay = delay
        self._ok = True
        self._value = item
        env = self.env
        # Environment.schedule, inlined.
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))


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
        handoff = Handoff(self.env, service_s)
        if self.items:
            handoff.hand(self.items.popleft())
            return handoff
        self._waiters.append(handoff)
        return handoff
