"""The next-hop queues' lifetime timers (exsim.sim.mta.LifetimeTimers).

A queue's lifetime timer must fire exactly where a SimPy timeout started at the same moment
would: SimPy runs events by time and, at equal times, in the order they were scheduled. The
expected orders below are worked out from that rule alone (sort by end, then by start order),
with ordinary timeouts interleaved so that a timer firing out of place would show.
"""

from __future__ import annotations

from exsim.sim.mta import LifetimeTimers
from exsim.sim.queue import Environment


class Queue:
    """Stands in for a NextHopQueue: records when its timers fire."""

    def __init__(self, name: str, log: list[tuple[float, str]]):
        self.name = name
        self.log = log

    def _expire(self, timer: int) -> None:
        self.log.append((self.name, timer))


def test_timers_fire_in_the_order_timeouts_started_at_the_same_moments_would():
    env = Environment()
    timers = LifetimeTimers.of(env)
    log: list = []
    started: list[tuple[float, int, object]] = []  # (fires at, start order, label)

    def timeout(label: str, delay: float) -> None:
        event = env.timeout(delay)
        event.callbacks.append(lambda _: log.append((label, None)))
        started.append((env.now + delay, len(started), label))

    def timer(queue: Queue, end: float) -> None:
        eid = timers.start(queue, end)
        started.append((max(end, env.now), len(started), (queue.name, eid)))

    a, b, c = Queue("a", log), Queue("b", log), Queue("c", log)
    # At time 0: timers and timeouts ending at 5, 3, 5, 1 and 3, some of them together.
    timer(a, 5.0)
    timeout("t5", 5.0)
    timer(b, 3.0)
    timeout("t3", 3.0)
    timer(c, 5.0)
    timer(a, 1.0)
    timeout("t1", 1.0)
    timer(c, 3.0)
    # A timer that waits behind earlier ones (scheduled among the events only once they have
    # fired), then a timeout started after it for the same moment: the timer still goes first.
    timer(b, 4.0)
    timeout("t4", 4.0)

    def later(_: object) -> None:
        # At time 2, amid the run: one earlier than every waiting timer, one already past
        # (fires now, after what is already due now), one tied with the timeout at 3.
        timer(b, 2.5)
        timer(a, 0.5)
        timeout("t2", 0.0)
        timer(c, 3.0)

    env.timeout(2.0).callbacks.append(later)
    env.run(until=10)
    timeline = sorted(started)
    expected = [label if isinstance(label, tuple) else (label, None) for _, _, label in timeline]
    assert log == expected

    def due_at(t: float) -> list:
        return [label for at, _, label in timeline if at == t]

    # Spot-checks of the rule by hand: at time 3, b's timer (started first), the timeout, then
    # c's two; at 4, b's timer that waited behind the others, then the timeout started after it.
    assert [label if isinstance(label, str) else label[0] for label in due_at(3.0)] == ["b", "t3", "c", "c"]
    assert due_at(4.0) == [("b", started[8][2][1]), "t4"]
    assert len(log) == 14


def test_only_the_earliest_timer_waits_among_the_events():
    env = Environment()
    timers = LifetimeTimers.of(env)
    log: list = []
    queues = [Queue(f"q{i}", log) for i in range(50)]
    for i, queue in enumerate(queues):
        timers.start(queue, 100.0 + i)
    assert len(env._queue) == 1  # 50 timers, one event
    assert LifetimeTimers.of(env) is timers  # one set per simulation
    env.run(until=125)
    assert [name for name, _ in log] == [f"q{i}" for i in range(25)]  # 100..124; 125 is left
    assert len(env._queue) == 1  # the next timer, q25's
