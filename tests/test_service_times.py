"""Random service times: exponential and lognormal work per message, checked against
queueing theory (M/M/1) and against their own parameters."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from exsim.randomness import replication_seed
from exsim.scenario import ScenarioError, load_scenario
from exsim.scenario.schema import Distribution
from exsim.sim import simulate
from exsim.stats import t_interval
from tests import simkit

HEAVY_PER_DAY = 38.6  # messages a heavy LoadSim user sends a day


def mm1(users: int, mean_service: str, seed: int = 7) -> dict:
    """One server whose users mail each other: every message waits in the store's client
    submission queue (one thread, exponential work) and is then delivered at no cost.
    Arrivals are the users' Poisson stream, all day long: an M/M/1 queue."""
    raw = simkit.one_site(users=users, shares=simkit.mix(same_server=1.0), duration="2h")
    raw["servers"] = raw["servers"][:1]
    raw["connectors"] = []
    raw["workload"]["recipients_per_message"] = 1
    raw["run"] = {"duration": "2h", "warmup": "10m", "drain": "10m", "seed": seed, "time_series": False}
    raw["model"] = {
        "service_times": {
            "client_threads": 1,
            "client_submit": {"dist": "exponential", "mean": mean_service},
            "is_delivery": "0s",
        }
    }
    return raw


def test_mm1_store_queue_mean_wait_matches_the_closed_form():
    users, mean_service = 560, 2.0
    lam = users * HEAVY_PER_DAY / 86400  # 0.2502 messages a second
    mu = 1 / mean_service
    rho = lam / mu
    wq = rho / (mu - lam)  # M/M/1 mean wait in queue, about 2.0 s
    assert 0.45 < rho < 0.55
    scenario = simkit.scenario(mm1(users, "2s"))
    waits = []
    for k in range(20):
        run = simulate(scenario, replication_seed(scenario.run.seed, k))
        assert run.delivered == run.recipients
        assert run.ndr == 0
        # Latency is the time in the submission queue plus the work itself (delivery is free).
        waits.append(run.latency.mean - mean_service)
    interval = t_interval(waits, 0.95)
    assert interval.lo <= wq <= interval.hi, (wq, interval)
    assert interval.half_width < 0.25 * wq  # narrow enough to mean something


def test_mm1_with_fixed_service_is_not_mm1():
    # The same queue with a fixed 2 s (M/D/1) waits half as long: Wq = rho / (2 mu (1 - rho)).
    # The M/M/1 interval must not contain it, or the test above could not tell the two apart.
    users, lam, mu = 560, 560 * HEAVY_PER_DAY / 86400, 0.5
    raw = mm1(users, "2s")
    raw["model"]["service_times"]["client_submit"] = "2s"
    scenario = simkit.scenario(raw)
    waits = [simulate(scenario, replication_seed(scenario.run.seed, k)).latency.mean - 2.0 for k in range(10)]
    rho = lam / mu
    md1 = rho / (2 * mu * (1 - rho))
    interval = t_interval(waits, 0.95)
    assert interval.lo <= md1 <= interval.hi, (md1, interval)
    assert interval.hi < rho / (mu - lam)


@pytest.mark.parametrize(
    ("spec", "sd"),
    [({"dist": "exponential", "mean": "2s"}, 2.0), ({"dist": "lognormal", "mean": "2s", "sd": "500ms"}, 0.5)],
)
def test_distributions_have_the_mean_and_sd_they_are_given(spec, sd):
    draw = Distribution.model_validate(spec).sampler(random.Random(3))
    sample = [draw() for _ in range(40_000)]
    mean = t_interval(sample, 0.99)
    assert mean.lo <= 2.0 <= mean.hi
    assert math.isclose(statistics.stdev(sample), sd, rel_tol=0.03)


def test_a_random_service_time_leaves_the_traffic_as_it_was():
    # Its draws come from a stream of their own: the same users send the same messages.
    raw = simkit.one_site(users=10, duration="1h")
    fixed = simulate(simkit.scenario(raw), 1)
    raw["model"] = {"service_times": {"mta_routing": {"dist": "lognormal", "mean": "30ms", "sd": "20ms"}}}
    drawn = simulate(simkit.scenario(raw), 1)
    assert (drawn.messages, drawn.recipients) == (fixed.messages, fixed.recipients)
    assert {k: v.recipients for k, v in drawn.by_class.items()} == {
        k: v.recipients for k, v in fixed.by_class.items()
    }
    assert drawn.latency.total_s != fixed.latency.total_s


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{ dist = "lognormal", mean = "2s" }', "needs sd as well as mean"),
        ('{ dist = "exponential", mean = "2s", sd = "1s" }', "has no sd"),
        ('{ dist = "gamma", mean = "2s" }', "dist: Input should be 'exponential' or 'lognormal'"),
        (
            '{ dist = "exponential", mean = "2" }',
            "mean: duration '2' is not a number with a unit",
        ),
        ("2", "duration 2 has no unit"),
    ],
)
def test_bad_service_times_are_reported_with_their_line(value, message):
    text = (
        '[organization]\nname = "Contoso"\n\n[[sites]]\nname = "A"\naddresses = { x400 = "c=US;a= ;p=C;o=A" }\n\n'
        '[[servers]]\nname = "A1"\nsite = "A"\n\n[model.service_times]\nclient_submit = ' + value + "\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(text)
    assert [p.line for p in info.value.problems] == [13]
    assert message in str(info.value), str(info.value)
