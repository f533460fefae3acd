"""Sweeps, seeds and results directories."""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest

from exsim.experiment import expand_sweep, point_scenario, run_experiment
from exsim.randomness import replication_seed
from exsim.scenario import validate_raw
from tests.simkit import mix, one_site


def swept(**sweep) -> dict:
    raw = one_site(duration="1h", shares=mix(same_server=0.5, internet=0.5))
    raw["sweep"] = sweep
    return raw


VERSION = {"name": "version", "path": "servers.*.version", "values": ["5.0", "5.0-sp1", "5.0-sp2"]}
ADDRESS = {
    "name": "x400",
    "path": "sites.Redmond.addresses.x400",
    "values": ["c=US;a= ;p=Contoso;o=Redmond", "c=US;a= ;o=Redmond"],
    "labels": ["with p=", "without p="],
}


def test_product_of_variables():
    points = expand_sweep(validate_raw(swept(variables=[VERSION, ADDRESS])))
    assert [tuple(p.labels.values()) for p in points] == [
        ("5.0", "with p="),
        ("5.0", "without p="),
        ("5.0-sp1", "with p="),
        ("5.0-sp1", "without p="),
        ("5.0-sp2", "with p="),
        ("5.0-sp2", "without p="),
    ]


def test_lockstep_group_and_constraint():
    users = {"name": "users", "path": "servers.RED-EX1.users", "values": [1, 2, 3], "group": "g"}
    version = dict(VERSION, group="g")
    points = expand_sweep(validate_raw(swept(variables=[version, users])))
    assert [(p.values["version"], p.values["users"]) for p in points] == [
        ("5.0", 1),
        ("5.0-sp1", 2),
        ("5.0-sp2", 3),
    ]
    points = expand_sweep(validate_raw(swept(variables=[VERSION, ADDRESS], constraint="version != '5.0'")))
    assert len(points) == 4
    assert all(p.values["version"] != "5.0" for p in points)


def test_point_scenario_puts_values_in_place_by_wildcard_and_name():
    scenario = validate_raw(swept(variables=[VERSION, ADDRESS]))
    point = expand_sweep(scenario)[3]
    concrete = point_scenario(scenario, point)
    assert [s.version for s in concrete.servers] == ["5.0-sp1", "5.0-sp1"]
    assert concrete.sites[0].addresses.x400 == "c=US;a= ;o=Redmond"
    assert concrete.sweep.variables == []


def test_replication_seeds_depend_on_position_only():
    import sys

    from tests.stall import run

    here = [replication_seed(5, k) for k in range(10)]
    # Another interpreter, with another string-hash seed, another order of calls and
    # replications asked for out of order: the same seed for the same (seed, k).
    program = "from exsim.randomness import replication_seed as r; print([r(5, k) for k in (9, 3, 0)])"
    for hash_seed in ("1", "2"):
        other = run(
            [sys.executable, "-c", program], check=True, env={**os.environ, "PYTHONHASHSEED": hash_seed}
        )
        assert other.stdout.strip() == str([here[9], here[3], here[0]])
    assert len(set(here)) == 10  # distinct replications get distinct seeds
    assert replication_seed(6, 0) != here[0]  # and the scenario's seed matters


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


def test_a_run_that_raises_is_recorded_and_does_not_stop_the_sweep(monkeypatch):
    import exsim.sim

    real = exsim.sim.simulate

    def flaky(scenario, seed=None, **kwargs):
        if scenario.servers[0].version == "5.0-sp2":
            raise RuntimeError("disk on fire")
        return real(scenario, seed, **kwargs)

    monkeypatch.setattr(exsim.sim, "simulate", flaky)
    experiment = run_experiment(validate_raw(swept(variables=[VERSION])), workers=1)
    assert experiment.failed == 1
    failed = experiment.runs[experiment.runs["error"].fillna("") != ""]
    assert failed["version"].tolist() == ["5.0-sp2"]
    assert "RuntimeError: disk on fire" in failed["error"].iloc[0]
    assert (experiment.runs["error"].fillna("") == "").sum() == 2


def test_dask_local_cluster_gives_the_serial_runs_csv(tmp_path):
    scenario = validate_raw(swept(variables=[VERSION]))
    run_experiment(scenario, workers=1, out=tmp_path / "serial", replications=2)
    import dask
    import dask.distributed  # loads the "distributed" defaults first

    # dask.config.set restores what was there before: were the "distributed" defaults not
    # loaded yet, leaving the block would delete them all, and every later Dask client in
    # this process would fail with KeyError('distributed').
    # Worker processes start slowly on a busy machine; Dask's 30 s connect timeout is a
    # wall-clock race the test need not run.
    with dask.config.set(
        {"distributed.comm.timeouts.connect": "300s", "distributed.comm.timeouts.tcp": "300s"}
    ):
        run_experiment(scenario, scheduler="local", out=tmp_path / "dask", replications=2)
    assert (tmp_path / "serial" / "runs.csv").read_text() == (tmp_path / "dask" / "runs.csv").read_text()


def test_killed_sweep_resumes_without_duplicates_or_losses(tmp_path):
    import signal
    import subprocess
    import sys

    import tomli_w

    from tests.clikit import exsim
    from tests.stall import stalled_sweep

    raw = swept(variables=[VERSION, ADDRESS])
    raw["run"]["replications"] = 2  # 12 runs
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"
    options = ("--workers", "1", "--quiet")
    command = [sys.executable, "-m", "exsim", "run", str(path), "--out", str(out), *options]
    # The sweep finishes three runs and stalls in the fourth: kill -9 lands there, every time.
    # Only the killed sweep needs a process of its own; the resume and the uninterrupted run
    # are ordinary commands, run in this process.
    null = subprocess.DEVNULL
    with stalled_sweep(command, tmp_path, out, 3, 1, stdout=null, stderr=null) as process:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    journal = out / "runs.jsonl"
    assert len(journal.read_text().splitlines()) == 3
    resumed = exsim("run", str(path), "--out", str(out), *options, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 12
    assert not runs.duplicated(["point", "replication"]).any()
    # Identical to an uninterrupted run.
    fresh_out = tmp_path / "fresh"
    fresh = exsim("run", str(path), "--out", str(fresh_out), "--workers", "2", "--quiet")
    assert fresh.returncode == 0, fresh.stderr
    assert (out / "runs.csv").read_text() == (fresh_out / "runs.csv").read_text()


def test_a_resumed_run_writes_its_tracking_logs_once(tmp_path):
    def logs(out):
        root = out / "tracking"
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    scenario = validate_raw(swept(variables=[VERSION]))  # 3 points, one replication each
    fresh = tmp_path / "fresh"
    run_experiment(scenario, workers=1, out=fresh, replications=1, tracking=True)
    out = tmp_path / "cut"
    run_experiment(scenario, workers=1, out=out, replications=1, tracking=True)
    # What a stop leaves: point 0 journaled; point 1 cut short mid-run (half its logs, in the
    # folder a run writes while under way); point 2 finished but stopped before its journal line.
    journal = out / "runs.jsonl"
    first = journal.read_text().splitlines()[0]
    assert json.loads(first)["row"]["point"] == 0
    journal.write_text(first + "\n")
    cut = out / "tracking" / "point1-rep0.partial"
    (out / "tracking" / "point1-rep0").rename(cut)
    log = next(p for p in cut.rglob("*.log"))
    log.write_bytes(log.read_bytes()[: log.stat().st_size // 2])
    notes: list[str] = []
    run_experiment(
        scenario, workers=1, out=out, replications=1, tracking=True, resume=True, notify=notes.append
    )
    assert "resume=True: 1 of 3 run(s) already finished, 2 to run" in notes  # as the caller wrote it
    # With nothing left, a resume says so rather than seem to have run them.
    notes.clear()
    run_experiment(
        scenario, workers=1, out=out, replications=1, tracking=True, resume=True, notify=notes.append
    )
    assert notes == [
        "resume=True: 3 of 3 run(s) already finished, nothing left to run: the results are written again from them"
    ]
    # The same seed makes the same events: every log is the uninterrupted run's, byte for byte
    # (each event once), and no folder of a cut-short run is left.
    assert len(logs(fresh)) >= 3
    assert logs(out) == logs(fresh)
    assert sorted(p.name for p in (out / "tracking").iterdir()) == [
        "point0-rep0",
        "point1-rep0",
        "point2-rep0",
    ]


def test_a_resume_keeps_the_tracking_setting_its_finished_runs_were_made_with(tmp_path):
    from exsim.resultsdir import ResultsDirectoryError

    scenario = validate_raw(swept(variables=[VERSION]))  # 3 points, one replication each

    def cut_after_the_first_run(out):
        journal = out / "runs.jsonl"
        journal.write_text(journal.read_text().splitlines()[0] + "\n")
        return sorted(p.name for p in out.rglob("*"))

    # Made with --tracking, resumed without: runs 2 and 3 would have no logs.
    logged = tmp_path / "logged"
    run_experiment(scenario, workers=1, out=logged, replications=1, tracking=True)
    before = cut_after_the_first_run(logged)
    with pytest.raises(ResultsDirectoryError) as refused:
        run_experiment(scenario, workers=1, out=logged, replications=1, resume=True)
    assert str(refused.value) == (
        f"resume=True {logged}: 1 of its 1 finished run(s) were made with tracking=True, so the tracking "
        "logs would cover only some runs; resume with tracking=True too, or use another out or force=True"
    )
    assert sorted(p.name for p in logged.rglob("*")) == before
    # Made without, resumed with: the finished run has none.
    plain = tmp_path / "plain"
    run_experiment(scenario, workers=1, out=plain, replications=1)
    before = cut_after_the_first_run(plain)
    with pytest.raises(
        ResultsDirectoryError, match=re.escape("1 of its 1 finished run(s) were made without tracking=True")
    ):
        run_experiment(scenario, workers=1, out=plain, replications=1, tracking=True, resume=True)
    assert sorted(p.name for p in plain.rglob("*")) == before
    # The same setting resumes, and a run that logged nothing still counts as made with it.
    run_experiment(scenario, workers=1, out=plain, replications=1, resume=True)
    raw = swept(variables=[VERSION])
    raw["run"]["duration"] = "1s"  # no mail in a second of the night: nothing to log
    quiet = validate_raw(raw)
    empty = tmp_path / "empty"
    run_experiment(quiet, workers=1, out=empty, replications=1, tracking=True)
    assert [p.name for p in (empty / "tracking" / "point0-rep0").iterdir()] == []
    cut_after_the_first_run(empty)
    run_experiment(quiet, workers=1, out=empty, replications=1, tracking=True, resume=True)


def test_warmup_is_left_out_of_the_statistics():
    raw = swept()
    raw["run"]["warmup"] = raw["run"]["duration"]  # everything is sent during the warm-up
    from exsim.sim import simulate

    assert simulate(validate_raw(raw)).recipients == 0
    raw["run"]["warmup"] = "0s"
    assert simulate(validate_raw(raw)).recipients > 0


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_saves_complete_rows_and_says_how_to_resume(tmp_path, workers):
    import signal
    import subprocess
    import sys

    import tomli_w

    from tests.clikit import exsim
    from tests.stall import stalled_sweep

    raw = swept(variables=[VERSION, ADDRESS])
    raw["run"]["replications"] = 2  # 12 runs
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"
    command = [
        *(sys.executable, "-m", "exsim", "run", str(path), "--out", str(out)),
        *("--workers", str(workers), "--quiet"),
    ]
    # Two runs finish, then every worker stalls in its next run: Ctrl-C lands mid-sweep, with
    # exactly two rows written and runs in progress in every worker.
    pipe = subprocess.PIPE
    with stalled_sweep(command, tmp_path, out, 2, workers, stdout=pipe, stderr=pipe) as process:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"--out {out} --resume" in stderr
    saved = pd.read_csv(out / "runs.csv")
    assert len(saved) == 2
    assert len((out / "runs.jsonl").read_text().splitlines()) == 2
    assert (
        saved["recipients"] == saved["delivered"] + saved["misdelivered"] + saved["ndr"] + saved["pending"]
    ).all()
    # The resume needs no signal: it runs in this process.
    resumed = exsim(*command[3:], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_csv(out / "runs.csv")) == 12


def test_results_directory_messages_name_the_python_arguments_and_an_option_only_when_given(tmp_path):
    from exsim.resultsdir import ResultsDirectoryError

    raw = one_site(duration="10m", shares=mix(same_server=1.0))
    raw["run"]["seed"] = 3
    scenario = validate_raw(raw)
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("years of work")
    with pytest.raises(ResultsDirectoryError) as refused:
        run_experiment(scenario, workers=1, out=foreign)
    assert str(refused.value).startswith(f"out {foreign}: directory is not empty and exsim did not make it")
    assert "--" not in str(refused.value)
    out = tmp_path / "out"
    run_experiment(scenario, workers=1, out=out, seed=7)
    # A seed given now is named as the argument that set it ...
    with pytest.raises(ResultsDirectoryError) as refused:
        run_experiment(scenario, workers=1, out=out, seed=8, resume=True)
    assert "(run.seed is 7 there, 8 now (seed));" in str(refused.value)
    assert str(refused.value).startswith(f"resume=True {out}: the results there are for a different scenario")
    assert str(refused.value).endswith("or use another out or force=True")
    # ... and the scenario's own is not blamed on an argument not given.
    with pytest.raises(ResultsDirectoryError) as refused:
        run_experiment(scenario, workers=1, out=out, resume=True)
    assert "(run.seed is 7 there, 3 now (seed sets it))" in str(refused.value)


def test_a_baseline_in_the_file_may_name_its_value_by_label_as_baseline_and_point_do(tmp_path):
    """sweep.baseline = {users = "twenty"} names the value 20 by its label, as
    ``exsim run --baseline users=twenty`` and an expectation's point = {users = "twenty"} do."""
    from exsim.scenario import ScenarioError

    labelled = {"name": "users", "path": "servers.*.users", "values": [10, 20], "labels": ["ten", "twenty"]}
    raw = swept(variables=[labelled], baseline={"users": "twenty"})
    raw["run"]["duration"] = "10m"
    scenario = validate_raw(raw)
    assert scenario.sweep.baseline == {"users": 20}
    differences = run_experiment(scenario, workers=1).differences
    # the one other point (users = 10) is compared with the point the label named (users = 20)
    assert list(differences["users"]) == ["ten"]
    assert list(differences["users_baseline"]) == ["twenty"]
    with pytest.raises(ScenarioError) as refused:
        validate_raw(swept(variables=[labelled], baseline={"users": "thirty"}))
    assert "baseline value 'thirty' is neither a label nor a value of users (ten, twenty)" in str(
        refused.value
    )


def test_summary_intervals_stay_within_what_each_quantity_can_be(tmp_path):
    """Two replications: the Student-t interval (t = 12.71) of a rate near 0 % or 100 % ran past
    the range (``48.47% [-6.10%, 103.04%]``, latency_p95_s_lo = -871 s). Each end is now the
    interval's as computed (scipy.stats.t here, independently), clipped to [0, 1] for a rate, to
    [0, inf) for a latency and to [-1, 1] for a paired difference of rates; summary.csv and
    summary.json say the same."""
    import math

    from scipy import stats

    from tests.simkit import two_ims

    raw = two_ims(duration="10m")
    raw["run"]["replications"] = 2
    out = tmp_path / "out"
    run_experiment(validate_raw(raw, "s.toml"), workers=1, out=out)
    runs = pd.read_csv(out / "runs.csv")
    runs = runs[runs["error"].isna()]
    summary = pd.read_csv(out / "summary.csv").set_index("point")
    points = {row["point"]: row for row in json.loads((out / "summary.json").read_text())["points"]}

    def expected(values: list[float], low: float, high: float) -> tuple[float, float]:
        values = [v for v in values if not math.isnan(v)]
        mean, sem = float(pd.Series(values).mean()), float(pd.Series(values).std()) / math.sqrt(len(values))
        half = float(stats.t.ppf(0.975, len(values) - 1)) * sem
        return max(mean - half, low), min(mean + half, high)

    clipped = 0
    runs["internet_failure_rate"] = runs["internet_ndr"] / runs["internet_recipients"].replace(
        0, float("nan")
    )
    ranges = {
        "failure_rate": (0.0, 1.0),
        "ndr_rate": (0.0, 1.0),
        "misdelivery_rate": (0.0, 1.0),
        "internet_failure_rate": (0.0, 1.0),
        "latency_p50_s": (0.0, math.inf),
        "latency_p95_s": (0.0, math.inf),
    }
    for point, mine in runs.groupby("point"):
        for column, (low, high) in ranges.items():
            lo, hi = expected(mine[column].tolist(), low, high)
            got = summary.loc[point, f"{column}_lo"], summary.loc[point, f"{column}_hi"]
            assert got == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12)), (point, column)
            assert (points[point][f"{column}_lo"], points[point][f"{column}_hi"]) == got
            clipped += (lo == low) + (hi == high)
    differences = pd.read_csv(out / "differences.csv")
    for _, row in differences.iterrows():
        mine = runs[runs["point"] == row["point"]].set_index("replication")["failure_rate"]
        theirs = runs[runs["point"] == row["baseline_point"]].set_index("replication")["failure_rate"]
        lo, hi = expected((mine - theirs).tolist(), -1.0, 1.0)
        assert (row["failure_rate_diff_lo"], row["failure_rate_diff_hi"]) == (
            pytest.approx(lo, abs=1e-12),
            pytest.approx(hi, abs=1e-12),
        )
        clipped += (lo == -1.0) + (hi == 1.0)
    assert clipped > 0  # some interval did run past its range here
