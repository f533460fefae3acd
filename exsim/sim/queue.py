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
from collections.abc import Callable, Generator
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


class Started(Handoff):
    """A hand-off whose delay depends on the item: ``start(item)`` gives it as the item is handed."""

    __slots__ = ("start",)

    def __init__(self, env: simpy.Environment, start: Callable[[Any], float]):
        super().__init__(env, 0.0)
        self.start = start

    def hand(self, item: Any, delay: float | None = None) -> None:
        # Handoff.hand, inlined (a gateway's connections take every message through here).
        self.delay = delay = self.start(item) if delay is None else delay
        self._ok = True
        self._value = item
        env = self.env
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
        waiters = self._waiters
        if waiters:
            waiter = waiters.popleft()
            if type(waiter) is Handoff:
                # An idle worker takes it straight away (Handoff.hand, inlined: every hand-off
                # between components passes here).
                waiter._ok = True
                waiter._value = item
                env = self.env
                heappush(env._queue, (env._now + waiter.delay, NORMAL, next(env._eid), waiter))
                return
            if isinstance(waiter, Handoff):
                waiter.hand(item)
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


class Worker:
    """A thread that serves a :class:`MailQueue` forever on a server nothing stops: each item,
    once its service time is spent, goes to ``handle``, then the thread takes the next one.

    It is what a process looping over :meth:`MailQueue.served` does — the same hand-offs, made
    at the same moments, so the same events in the same order — run as the hand-off event's
    callback rather than as a SimPy process: no generator to resume at every item, which a
    run does once per component a message passes through. ``draw`` (when not None) gives each
    item's service time, drawn as the thread starts waiting for it, as the loop draws it.

    ``handle`` may return a number of seconds the thread stays busy after the item (the MTA's
    directory searches, KB Q159184): the thread then waits that long, calls ``rested`` and
    only then takes the next item. With ``start``, the thread's work on an item depends on
    the item: ``start(item)``, called as the thread takes it, does what taking it does and
    returns the service time (a gateway's transfer of that message).
    """

    __slots__ = (
        "_handoff", "_plain", "_rested", "_served", "draw", "env", "handle", "queue", "rested", "service",
    )  # fmt: skip

    def __init__(
        self,
        queue: MailQueue,
        service_s: float,
        handle: Callable[[Any], float | None],
        draw: Callable[[], float] | None = None,
        rested: Callable[[], None] | None = None,
        start: Callable[[Any], float] | None = None,
    ):
        self.env = queue.env
        self.queue = queue
        self.service = service_s
        self.handle = handle
        self.draw = draw
        self.rested = rested
        # One hand-off event, used again for every item once it has fired (nothing else holds
        # it), and its callback lists made once.
        self._handoff = Handoff(self.env, service_s) if start is None else Started(self.env, start)
        self._handoff._ok = True  # as hand() sets it: a worker's hand-off never fails
        self._plain = start is None
        self._served: EventCallbacks = [self._serve]
        self._rested: EventCallbacks = [self._rest]
        self._next()

    def _next(self) -> None:
        """Wait for the next item: taken now if one waits (MailQueue.served, inlined)."""
        handoff = self._handoff
        handoff.callbacks = self._served
        handoff._value = PENDING
        handoff.delay = self.service if self.draw is None else self.draw()
        queue = self.queue
        if queue.items:
            handoff.hand(queue.items.popleft())
        else:
            queue._waiters.append(handoff)

    def _serve(self, handoff: Handoff) -> None:
        item = handoff._value
        if item is not None:
            busy = self.handle(item)
            if busy:
                # Held after the item: the hand-off, fired, times the rest (a Timeout's event).
                handoff.callbacks = self._rested
                handoff.hand(None, busy)
                return
        # What _next does, inlined (a worker takes its next item once per item).
        handoff.callbacks = self._served
        handoff._value = PENDING
        delay = handoff.delay = self.service if self.draw is None else self.draw()
        queue = self.queue
        if not queue.items:
            queue._waiters.append(handoff)
        elif self._plain:
            handoff._value = queue.items.popleft()
            env = self.env
            heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), handoff))
        else:
            handoff.hand(queue.items.popleft())

    def _rest(self, _: simpy.Event) -> None:
        if self.rested is not None:
            self.rested()
        self._next()
