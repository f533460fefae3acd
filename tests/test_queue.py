"""MailQueue and Handoff: the folders mail waits in between components.

Each test drives a bare SimPy environment by hand, so the times and orders
expected are worked out from the rules alone: a worker that finds mail waiting
gets it ``service_s`` later; a worker that finds the queue empty gets the next
item ``service_s`` after it is put; items go out first in, first out; idle
workers are served in the order they started waiting.
"""

from __future__ import annotations

import pytest
import simpy

from exsim.sim.queue import Environment, Handoff, MailQueue, Worker


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


def test_a_worker_serves_waiting_mail_one_service_time_apart_like_a_thread():
    """A Worker is a thread over ``served`` run as callbacks: the same times and order."""
    env = simpy.Environment()
    queue = MailQueue(env)
    for item in ("a", "b", "c"):
        queue.put(item)
    log: list = []
    Worker(queue, 2.0, lambda item: log.append((env.now, item)))
    env.run(until=100)
    assert log == [(2.0, "a"), (4.0, "b"), (6.0, "c")]


def test_an_idle_worker_is_handed_mail_one_service_time_after_it_is_put_before_an_idle_thread():
    env = simpy.Environment()
    queue = MailQueue(env)
    log: list = []
    Worker(queue, 3.0, lambda item: log.append((env.now, "worker", item)))
    env.process(worker(env, queue, 1.0, "thread", log))  # starts waiting after the Worker

    def sender():
        yield env.timeout(10)
        queue.put("x")  # to the Worker, idle first: 13
        queue.put("y")  # to the thread: 11
        queue.put("z")  # waits; the thread, free at 11, has it at 12
        assert len(queue) == 1

    env.process(sender())
    env.run(until=100)
    assert log == [(11.0, "thread", "y"), (12.0, "thread", "z"), (13.0, "worker", "x")]


def test_a_worker_stays_busy_for_what_handling_returns_then_rests_and_draws_each_service_time():
    env = simpy.Environment()
    queue = MailQueue(env)
    for item in ("a", "b", "c"):
        queue.put(item)
    log: list = []
    draws = iter([1.0, 3.0, 2.0, 9.0])

    def handle(item: str) -> float | None:
        log.append((env.now, item))
        return 5.0 if item == "a" else None  # a holds the thread 5 s after its service

    Worker(queue, 0.0, handle, draw=lambda: next(draws), rested=lambda: log.append((env.now, "rested")))
    env.run(until=100)
    # a: drawn 1 -> 1; busy to 6, rested; b: drawn 3 -> 9; c: drawn 2 -> 11; 9 drawn for the next.
    assert log == [(1.0, "a"), (6.0, "rested"), (9.0, "b"), (11.0, "c")]


def test_a_worker_with_start_takes_each_item_for_the_time_start_gives_it_as_it_takes_it():
    """A gateway's connection: ``start(item)``, called as the thread takes the item, times it."""
    env = simpy.Environment()
    queue = MailQueue(env)
    started: list = []
    log: list = []

    def start(item: str) -> float:
        started.append((env.now, item))
        return {"a": 2.0, "b": 5.0, "c": 1.0}[item]

    queue.put("a")
    queue.put("b")
    Worker(queue, 0.0, lambda item: log.append((env.now, item)), start=start)

    def sender():
        yield env.timeout(20)
        queue.put("c")  # the thread has been idle since 7: it takes c at once

    env.process(sender())
    env.run(until=100)
    # a taken at 0 for 2 s; b at 2 for 5 s; c at 20 for 1 s.
    assert started == [(0.0, "a"), (2.0, "b"), (20.0, "c")]
    assert log == [(2.0, "a"), (7.0, "b"), (21.0, "c")]


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


def _timed_model(env: simpy.Environment, log: list) -> None:
    """Two senders and a worker on a queue, with ties at t=2 and t=5 and an item due at 10."""

    def sender(name: str, delays: list[float]):
        for delay in delays:
            yield env.timeout(delay)
            log.append((env.now, name))
            queue.put(name)

    queue = MailQueue(env)
    env.process(sender("a", [1, 1, 3]))  # puts at 1, 2, 5
    env.process(sender("b", [2, 3, 5]))  # puts at 2, 5, 10
    env.process(worker(env, queue, 0.5, "w", log))


ENVIRONMENTS = pytest.mark.parametrize("make_env", [simpy.Environment, Environment], ids=["simpy", "exsim"])


@ENVIRONMENTS
def test_the_run_loop_does_what_simpys_does_and_stops_before_events_due_at_until(make_env):
    """exsim's Environment steps through the events in its own loop: worked out by hand, and
    the same with SimPy's own loop. Mail due exactly at ``until`` waits for the next run, as in
    SimPy, whose stop is an urgent event."""
    env = make_env()
    log: list = []
    _timed_model(env, log)
    # Due at 10 and scheduled before the run's stop is: it still waits for the next run.
    env.timeout(10).callbacks.append(lambda _: log.append((env.now, "timer")))
    env.run(until=10)
    # Ties go to the event scheduled first: at t=2 and t=5, b's timeout (set a step earlier
    # than a's) fires first, so b's mail reaches the idle worker and a's waits behind it.
    assert log == [
        (1, "a"),
        (1.5, "w", "a"),
        (2, "b"),
        (2, "a"),
        (2.5, "w", "b"),
        (3.0, "w", "a"),
        (5, "b"),
        (5, "a"),
        (5.5, "w", "b"),
        (6.0, "w", "a"),
    ]
    assert env.now == 10
    del log[:]
    env.run(until=11)  # a second run carries on from where the first stopped
    assert log == [(10, "timer"), (10, "b"), (10.5, "w", "b")]


@ENVIRONMENTS
def test_the_run_loop_ends_the_run_with_a_process_failure_as_simpy_does(make_env):
    env = make_env()

    def failing():
        yield env.timeout(3)
        raise ValueError("broken at 3")

    env.process(failing())
    with pytest.raises(ValueError, match="broken at 3"):
        env.run(until=10)
    assert env.now == 3
