"""Sweeps, seeds and results directories."""

from __future__ import annotations

import pandas as pd
import pytest

from exsim.experiment import expand_sweep, point_scenario, replication_seed, run_experiment
from exsim.scenario import validate_raw
from tests.simkit import mix, one_site


def swept(**sweep) -> dict:
    raw = one_site(duration="1h", shares=mix(same_server=0.5, internet=0.5))
    raw["sweep"] = sweep
    return raw


VERSION = {"name": "version", "path": "servers.*.version", "values": ["5.0", "5.0-sp1", "5.0-sp2"]}
ADDRESS = {"name": "x400", "path": "sites.Redmond.addresses.x400",
           "values": ["c=US;a= ;p=Contoso;o=Redmond", "c=US;a= ;o=Redmond"], "labels": ["with p=", "without p="]}


def test_product_of_variables():
    points = expand_sweep(validate_raw(swept(variables=[VERSION, ADDRESS])))
    assert [tuple(p.labels.values()) for p in points] == [
        ("5.0", "with p="), ("5.0", "without p="), ("5.0-sp1", "with p="),
        ("5.0-sp1", "without p="), ("5.0-sp2", "with p="), ("5.0-sp2", "without p=")]


def test_lockstep_group_and_constraint():
    users = {"name": "users", "path": "servers.RED-EX1.users", "values": [1, 2, 3], "group": "g"}
    version = dict(VERSION, group="g")
    points = expand_sweep(validate_raw(swept(variables=[version, users])))
    assert [(p.values["version"], p.values["users"]) for p in points] == [("5.0", 1), ("5.0-sp1", 2), ("5.0-sp2", 3)]
    points = expand_sweep(validate_raw(swept(variables=[VERSION, ADDRESS], constraint="version != '5.0'")))
    assert len(points) == 4 and all(p.values["version"] != "5.0" for p in points)


def test_point_scenario_puts_values_in_place_by_wildcard_and_name():
    scenario = validate_raw(swept(variables=[VERSION, ADDRESS]))
    point = expand_sweep(scenario)[3]
    concrete = point_scenario(scenario, point)
    assert [s.version for s in concrete.servers] == ["5.0-sp1", "5.0-sp1"]
    assert concrete.sites[0].addresses.x400 == "c=US;a= ;o=Redmond"
    assert concrete.sweep.variables == []


def test_replication_seeds_depend_on_position_only():
    assert replication_seed(5, 0) == replication_seed(5, 0)
    assert len({replication_seed(5, k) for k in range(10)}) == 10


def test_one_and_two_workers_give_identical_runs_csv(tmp_path):
    scenario = validate_raw(swept(variables=[VERSION, ADDRESS]))
    run_experiment(scenario, workers=1, out=tmp_path / "one", replications=2)
    run_experiment(scenario, workers=2, out=tmp_path / "two", replications=2)
    assert (tmp_path / "one" / "runs.csv").read_text() == (tmp_path / "two" / "runs.csv").read_text()
    runs = pd.read_csv(tmp_path / "one" / "runs.csv")
    assert len(runs) == 12
    # Common random numbers: replication k has the same seed, hence the same traffic, at every point.
    assert runs.groupby("replication")["recipients"].nunique().max() == 1
    assert runs.groupby("replication")["seed"].nunique().max() == 1


def test_paired_difference_against_baseline(tmp_path):
    scenario = validate_raw(swept(variables=[VERSION, ADDRESS], baseline={"version": "5.0"}))
    experiment = run_experiment(scenario, workers=1, replications=3)
    diff = experiment.differences.set_index(["version", "x400"])
    runs = experiment.runs
    sp1 = runs[(runs.version == "5.0-sp1") & (runs.x400 == "without p=")].sort_values("replication")
    rtm = runs[(runs.version == "5.0") & (runs.x400 == "without p=")].sort_values("replication")
    expected = (sp1.failure_rate.values - rtm.failure_rate.values).mean()
    assert diff.loc[("5.0-sp1", "without p="), "failure_rate_diff_mean"] == pytest.approx(expected)
    assert expected > 0
    assert diff.loc[("5.0-sp2", "without p="), "failure_rate_diff_mean"] == 0
