"""MailQueue and Handoff: the folders mail waits in between components.

Each test drives a bare SimPy environment by hand, so the times and orders
expected are worked out from the rules alone: a worker that finds mail waiting
gets it ``service_s`` later; a worker that finds the queue empty gets the next
item ``service_s`` after it is put; items go out first in, first out; idle
workers are served in the order they started waiting.
"""

from __future__ import annotations

import simpy

from exsim.sim.queue import Handoff, MailQueue


def worker(env: simpy.Environment, queue: MailQueue, service_s: float, name: str, log: list):
    """A component thread: take the next item after its service time, forever."""
    while True:
        item = yield queue.served(service_s)
        log.append((env.now, name, item))


def test_mail_waiting_is_served_in_order_one_service_time_apart():
    env = simpy.Environment()
    queue = MailQueue(env)
    for item in ("a", "b", "c"):
        queue.put(item)
    assert len(queue) == 3
    log: list = []
    env.process(worker(env, queue, 2.0, "w", log))
    env.run(until=100)
    assert log == [(2.0, "w", "a"), (4.0, "w", "b"), (6.0, "w", "c")]
    assert len(queue) == 0


def test_an_idle_worker_gets_mail_one_service_time_after_it_is_put():
    env = simpy.Environment()
    queue = MailQueue(env)
    log: list = []
    env.process(worker(env, queue, 3.0, "w", log))

    def sender():
        yield env.timeout(10)
        queue.put("x")  # the worker is idle: handed straight over, never queued
        assert len(queue) == 0
        yield env.timeout(1)
        queue.put("y")  # the worker is busy with x until 13: y waits in the queue
        assert len(queue) == 1

    env.process(sender())
    env.run(until=100)
    assert log == [(13.0, "w", "x"), (16.0, "w", "y")]


def test_idle_workers_are_handed_mail_in_the_order_they_began_waiting():
    env = simpy.Environment()
    queue = MailQueue(env)
    log: list = []
    env.process(worker(env, queue, 1.0, "first", log))
    env.process(worker(env, queue, 5.0, "second", log))

    def sender():
        yield env.timeout(2)
        queue.put("m1")
        queue.put("m2")

    env.process(sender())
    env.run(until=100)
    assert log == [(3.0, "first", "m1"), (7.0, "second", "m2")]


def test_wait_fires_when_mail_arrives_and_leaves_it_in_the_queue():
    env = simpy.Environment()
    queue = MailQueue(env)
    seen: list = []

    def watcher():
        yield queue.wait()
        seen.append((env.now, list(queue.items)))

    env.process(watcher())
    env.run(until=5)
    assert seen == []
    queue.put("z")
    env.run(until=10)
    assert seen == [(5.0, ["z"])]  # the caller takes the item itself (it may be gone by then)


def test_a_handoff_fires_after_its_delay_with_the_item_as_its_value():
    """Handoff sets SimPy's private ``_ok``/``_value`` to fire with one event (as SimPy's own
    Timeout does). This test reads them back through SimPy's *public* ``ok``/``value``/
    ``processed`` and through a waiting process: if a SimPy release renames those fields,
    it fails. pyproject.toml pins SimPy to the releases this has been checked with."""
    env = simpy.Environment()
    handoff = Handoff(env, 4.0)
    got: list = []

    def waiting():
        got.append((yield handoff))
        got.append(env.now)

    env.process(waiting())
    env.run(until=1)
    assert not handoff.triggered
    handoff.hand({"mail": 1}, delay=2.5)  # a new delay replaces the one given at creation
    assert handoff.triggered
    env.run(until=10)
    assert handoff.processed
    assert handoff.ok
    assert handoff.value == {"mail": 1}
    assert got == [{"mail": 1}, 3.5]
