"""The folders and queues mail waits in between components (MTS-IN, MTS-OUT, MTA work queue).

A :class:`MailQueue` is a FIFO with the one thing SimPy's ``Store`` does that the
model needs — a consumer can wait until something arrives — and nothing else:
putting is a plain method call that schedules no event, and a consumer waits
on an event only when the queue is empty. Mail passes between components
millions of times in a long run; halving the events per hand-off matters.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import simpy


class MailQueue:
    __slots__ = ("env", "items", "_waiters")

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.items: deque[Any] = deque()
        self._waiters: deque[simpy.Event] = deque()

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: Any) -> None:
        self.items.append(item)
        if self._waiters:
            self._waiters.popleft().succeed()

    def wait(self) -> simpy.Event:
        """An event that fires when an item is put (the caller then takes it, if still there)."""
        event = self.env.event()
        self._waiters.append(event)
        return event
