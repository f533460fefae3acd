"""Hostile conditions: a results directory that is not exsim's or is in use, signals, dying
parents and clusters, oversized runs, and malformed files and command lines.

Each case names the exit code and the fragment of the one-line message it must
give, and that no traceback is printed. Cases run in-process (click's
CliRunner) where they can; a subprocess only where a real signal or a real
process tree is the point. Those wait on conditions (the journal has k rows, a
process is gone), never on a fixed sleep.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from click.testing import CliRunner

from exsim.cli import cli
from exsim.resultsdir import LOCK, MARKER
from tests.clikit import exsim
from tests.simkit import mix, one_site
from tests.stall import run, stalled_sweep, wait_for


def invoke(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def scenario_file(tmp_path: Path, replications: int = 1, duration: str = "1h") -> Path:
    raw = one_site(duration=duration, shares=mix(same_server=0.5, internet=0.5))
    raw["run"]["replications"] = replications
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def journal_rows(out: Path) -> int:
    journal = out / "runs.jsonl"
    return journal.read_text().count("\n") if journal.exists() else 0


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    return int(run([sys.executable, "-c", "import os; print(os.getpid())"], check=True).stdout)


# --- 3. the results directory is exsim's, and only exsim's ------------------------------------


def test_a_run_marks_its_directory_and_releases_the_lock(tmp_path):
    out = tmp_path / "r"
    result = invoke("run", scenario_file(tmp_path), "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / MARKER).is_file()
    assert not (out / LOCK).exists()


def test_a_locked_directory_refuses_a_second_run_and_resume(tmp_path):
    path, out = scenario_file(tmp_path), tmp_path / "r"
    assert invoke("run", path, "--out", out, "--quiet").exit_code == 0
    before = (out / "runs.csv").read_text()
    owner = os.getppid()  # alive for the whole test, and not this process
    lock = {"pid": owner, "host": socket.gethostname(), "started": None, "since": time.time()}
    (out / LOCK).write_text(json.dumps(lock))
    for extra in ("--resume", "--force"):
        result = invoke("run", path, "--out", out, "--quiet", extra)
        assert result.exit_code == 2, result.output
        assert f"in use by exsim (pid {owner} on {socket.gethostname()}" in result.output
    assert json.loads((out / LOCK).read_text())["pid"] == owner  # the owner keeps its lock
    assert (out / "runs.csv").read_text() == before


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    path, out = scenario_file(tmp_path), tmp_path / "r"
    assert invoke("run", path, "--out", out, "--quiet").exit_code == 0
    gone = dead_pid()
    (out / LOCK).write_text(json.dumps({"pid": gone, "host": socket.gethostname()}))
    result = invoke("run", path, "--out", out, "--quiet", "--resume")
    assert result.exit_code == 0, result.output
    assert f"took over the stale lock of exsim (pid {gone}" in result.output
    assert not (out / LOCK).exists()


def test_a_lock_from_another_host_is_not_guessed_at(tmp_path):
    path, out = scenario_file(tmp_path), tmp_path / "r"
    assert invoke("run", path, "--out", out, "--quiet").exit_code == 0
    (out / LOCK).write_text(json.dumps({"pid": 1234, "host": "elsewhere.example"}))
    result = invoke("run", path, "--out", out, "--quiet", "--resume")
    assert result.exit_code == 2
    assert "in use by exsim (pid 1234 on elsewhere.example)" in result.output
    assert f"delete {out / LOCK}" in result.output


def test_force_refuses_a_directory_exsim_did_not_make_and_deletes_nothing(tmp_path):
    thesis = tmp_path / "thesis"
    (thesis / "chapters").mkdir(parents=True)
    (thesis / "thesis.tex").write_text("years of work")
    result = invoke("run", scenario_file(tmp_path), "--out", thesis, "--quiet", "--force")
    assert result.exit_code == 2
    assert "--force empties only a directory exsim made" in result.output
    assert "chapters/, thesis.tex" in result.output
    assert "Nothing was deleted" in result.output
    assert sorted(p.name for p in thesis.iterdir()) == ["chapters", "thesis.tex"]
    assert (thesis / "thesis.tex").read_text() == "years of work"


def test_force_empties_a_directory_exsim_made(tmp_path):
    path, out = scenario_file(tmp_path), tmp_path / "r"
    assert invoke("run", path, "--out", out, "--quiet", "--tracking").exit_code == 0
    (out / "old-notes.txt").write_text("left from before")
    assert invoke("run", path, "--out", out, "--quiet").exit_code == 2  # not empty, no --force
    result = invoke("run", path, "--out", out, "--quiet", "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "old-notes.txt").exists()
    assert not (out / "tracking").exists()
    assert (out / MARKER).exists()
    assert len(pd.read_csv(out / "runs.csv")) == 1


def test_an_empty_directory_given_by_the_user_becomes_exsims(tmp_path):
    out = tmp_path / "given"
    out.mkdir()
    assert invoke("run", scenario_file(tmp_path), "--out", out, "--quiet").exit_code == 0
    assert (out / MARKER).exists()


@pytest.fixture
def dask_config():  # type: ignore[no-untyped-def]
    """Dask's configuration as a fresh process has it (another test's dask.config.set may have
    dropped the distributed section on leaving)."""
    import dask
    import distributed  # noqa: F401  (registers its defaults)

    dask.config.refresh()
    yield
    dask.config.refresh()


@pytest.mark.parametrize("address", ["garbage:::", "tcp://[::1", "nosuchprotocol://host:1"])
def test_a_bad_scheduler_leaves_no_directory_behind(tmp_path, address, dask_config):
    out = tmp_path / "new" / "deeper" / "r"
    result = invoke("run", scenario_file(tmp_path), "--out", out, "--quiet", "--scheduler", address)
    assert result.exit_code == 2, result.output
    assert f"--scheduler {address}: cannot connect" in result.output
    assert not (tmp_path / "new").exists()


def live_dask_clients() -> set[int]:
    import gc

    from distributed import Client

    return {id(thing) for thing in gc.get_objects() if isinstance(thing, Client)}


@pytest.mark.parametrize("address", ["garbage:::", "tcp://127.0.0.1:1"])
def test_a_client_that_failed_to_connect_is_gone_when_the_run_ends(
    tmp_path, monkeypatch, address, dask_config
):
    """A half-made Dask Client left for the garbage collector closes itself at a random later
    moment; inside the next Client's start-up that close deadlocks (a CI run hung on it)."""
    import exsim.cluster

    monkeypatch.setattr(exsim.cluster, "CONNECT_TIMEOUT", "0.2s")  # refused at once: no need to wait long
    before = live_dask_clients()
    result = invoke(
        "run", scenario_file(tmp_path), "--out", tmp_path / "r", "--quiet", "--scheduler", address
    )
    assert result.exit_code == 2, result.output
    assert live_dask_clients() - before == set()


# --- 4. signals and workers -----------------------------------------------------------------


def run_command(path: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "exsim", "run", str(path), "--out", str(out), "--quiet", *options]


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_sigterm_saves_rows_prints_a_resume_command_that_works_and_exits_143(tmp_path):
    # The file: seed 11, one replication, 1 h, no baseline; every option below changes one of them.
    path, out = scenario_file(tmp_path, replications=1), tmp_path / "out"
    raw = tomllib.loads(path.read_text())
    raw["sweep"] = {
        "variables": [{"name": "version", "path": "servers.*.version", "values": ["5.0", "5.0-sp1"]}]
    }
    path.write_text(tomli_w.dumps(raw))
    options = [
        "--replications",
        "3",
        "--seed",
        "7",
        "--baseline",
        "version=5.0",
        "--set",
        'run.duration="30m"',
    ]
    # 2 points x 3 replications = 6 runs. Two finish, then both workers stall in their next:
    # SIGTERM lands mid-sweep every time.
    pipe = subprocess.PIPE
    with stalled_sweep(
        run_command(path, out, "--workers", "2", "--tracking", *options),
        tmp_path,
        out,
        2,
        2,
        stdout=pipe,
        stderr=pipe,
    ) as process:
        workers = children_of(process.pid)
        assert len(workers) == 2
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 143, stderr
        assert "Traceback" not in stderr
        assert len(pd.read_csv(out / "runs.csv")) == journal_rows(out) == 2
        assert not (out / LOCK).exists()
        wait_for(lambda: not any(running(pid) for pid in workers), "the pool workers to end")
    # The command printed carries every option that decides the results (not --workers or --quiet).
    printed = next(line for line in stderr.splitlines() if line.startswith("Resume with: "))
    command = shlex.split(printed.removeprefix("Resume with: "))
    assert command == [
        "exsim", "run", str(path), "--out", str(out), "--resume",
        "--seed", "7", "--replications", "3", "--baseline", "version=5.0", "--tracking",
        "--set", 'run.duration="30m"',
    ]  # fmt: skip
    # Without those options the resume is refused, and the message says what differs.
    bare = exsim("run", str(path), "--out", str(out), "--resume")
    assert bare.returncode == 2
    assert bare.stderr == (
        f"--resume {out}: the results there are for a different scenario or settings (run.duration is "
        "'30m' there, '1h' now; run.seed is 7 there, 11 now (--seed sets it); run.replications is 3 there, "
        '1 now (--replications sets it); sweep.baseline is {"version": "5.0"} there, absent now (--baseline sets '
        "it)); resume with the settings they were made with, or use another --out or --force\n"
    )
    # The printed command finishes the experiment (in this process: it needs no signal).
    resumed = exsim(*command[1:])
    assert resumed.returncode == 0, resumed.stderr
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 6
    assert sorted(zip(runs["point"], runs["replication"], strict=True)) == [
        (p, k) for p in (0, 1) for k in range(3)
    ]
    assert len(list((out / "tracking").iterdir())) == 6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_pool_workers_die_with_a_parent_killed_by_sigkill(tmp_path):
    path, out = scenario_file(tmp_path, replications=6), tmp_path / "out"
    # One run finishes, then both workers stall in their next: kill -9 finds them busy.
    # Without capture the test waits on the workers themselves, not on pipes they may hold open.
    null = subprocess.DEVNULL
    with stalled_sweep(
        run_command(path, out, "--workers", "2"), tmp_path, out, 1, 2, stdout=null, stderr=null
    ) as process:
        workers = children_of(process.pid)
        assert len(workers) == 2
        process.kill()
        process.wait(timeout=60)
        wait_for(lambda: not any(running(pid) for pid in workers), "the orphaned workers to end", 30)
    # The lock the killed run left is stale; a resume (in this process: it needs no signal)
    # takes it over and finishes the rest.
    resumed = exsim(*run_command(path, out, "--resume")[3:])
    assert resumed.returncode == 0, resumed.stderr
    assert "took over the stale lock" in resumed.stderr
    assert len(pd.read_csv(out / "runs.csv")) == 6


def test_workers_are_capped_at_the_runs_and_cores_with_a_note(tmp_path):
    from exsim.experiment import worker_count

    cores = len(os.sched_getaffinity(0))
    assert worker_count(1, 5) == (1, None)
    assert worker_count(cores + 7, 1) == (
        1,
        f"--workers {cores + 7}: using 1 (1 run(s), {cores} core(s) available)",
    )
    n, note = worker_count(cores + 7, 10 * cores)
    assert n == cores
    assert note == f"--workers {cores + 7}: using {cores} ({10 * cores} run(s), {cores} core(s) available)"
    # Fewer runs than asked for, and more than the cores: both limits are named.
    assert worker_count(cores + 7, cores + 1)[1] == (
        f"--workers {cores + 7}: using {cores} ({cores + 1} run(s), {cores} core(s) available)"
    )
    result = invoke("run", scenario_file(tmp_path, replications=2), "--out", tmp_path / "r", "--workers", 999)
    assert result.exit_code == 0
    assert f"--workers 999: using {min(2, cores)} (2 run(s), {cores} core(s) available)" in result.output
    # A single run is run in this process, and says so as well (it once said nothing).
    one = invoke("run", scenario_file(tmp_path, replications=1), "--out", tmp_path / "one", "--workers", 5)
    assert one.exit_code == 0
    assert f"--workers 5: using 1 (1 run(s), {cores} core(s) available)" in one.output


def test_a_cluster_with_no_workers_gives_up_after_the_timeout(tmp_path, monkeypatch, dask_config):
    from dask.distributed import LocalCluster

    import exsim.cluster

    # Half a second without a worker, the cluster's health looked at every tenth of a second (the
    # defaults, 60 s and 1 s, would only make the test wait).
    monkeypatch.setenv("EXSIM_CLUSTER_TIMEOUT", "0.5")
    monkeypatch.setattr(exsim.cluster, "_POLL_S", 0.1)
    # Connecting is not what is tested: a busy machine may take longer than exsim's 10 s.
    monkeypatch.setattr(exsim.cluster, "CONNECT_TIMEOUT", "120s")
    with LocalCluster(n_workers=0, processes=False, **exsim.cluster.NO_FIXED_PORTS) as cluster:
        out = tmp_path / "r"
        result = invoke(
            "run", scenario_file(tmp_path), "--out", out, "--scheduler", cluster.scheduler_address
        )
    assert result.exit_code == 2, result.output
    assert "the cluster has had no workers for 0.5 s" in result.output
    assert not out.exists()  # nothing finished: a failed start leaves nothing


# --- 6. no traceback, ever ----------------------------------------------------------------------


def small_toml(**workload) -> str:
    raw = one_site(duration="1h")
    raw["workload"].update(workload)
    return tomli_w.dumps(raw)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("nested arrays", "a = " + "[" * 3000 + "]" * 3000 + "\n", "nested more than 32 levels deep"),
        ("nested tables", "a = " + "{b = " * 40 + "1" + "}" * 40 + "\n", "nested more than 32 levels deep"),
        (
            "long sweep path",
            small_toml()
            + '\n[[sweep.variables]]\nname = "x"\npath = "'
            + ".".join(["run"] * 5000)
            + '"\nvalues = [1]\n',
            "sweep path has 5000 segments; a scenario path has at most 32",
        ),
        ("nan", small_toml(inbound_internet_per_hour=float("nan")), "finite number (got nan)"),
        ("inf recipients", small_toml(recipients_per_message=float("inf")), "finite number (got inf)"),
        ("impossible hours", small_toml(working_hours="25:99-10:00"), "has an impossible time"),
        ("empty hours", small_toml(working_hours="09:00-09:00"), "is empty: it starts when it ends"),
        ("huge duration", small_toml().replace('"1h"', f'"{"9" * 400}s"'), "is too large"),
    ],
)
def test_malformed_scenarios_are_refused_with_exit_2(tmp_path, name, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    for command in (("validate", path), ("run", path, "--out", tmp_path / "r", "--quiet")):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        assert fragment in result.output
    assert not (tmp_path / "r").exists()


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + small_toml().encode())
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_what_is_not_a_regular_file_is_refused_without_reading(tmp_path, kind):
    if kind == "fifo":
        target = tmp_path / "pipe.toml"
        os.mkfifo(target)  # reading it would block for ever: nobody writes
    else:
        target = Path("/dev/zero") if kind == "device" else tmp_path
    result = invoke("validate", target)
    assert result.exit_code == 2
    assert ("is a directory" if kind == "directory" else "not a regular file") in result.output


def test_a_damaged_journal_is_resumed_line_by_line(tmp_path):
    path, out = scenario_file(tmp_path, replications=4), tmp_path / "r"
    assert invoke("run", path, "--out", out, "--quiet", "--workers", 1).exit_code == 0
    good = (out / "runs.jsonl").read_text().splitlines()
    damaged = [
        good[0],
        '{"row": {"point": 0, "replication"',  # cut short by a kill
        "[]",
        '{"row": 1}',
        '{"row": {"point": 99, "replication": 0}}',  # not a run of this experiment
        "\x00\xff garbage",
        good[2],
    ]
    (out / "runs.jsonl").write_text("\n".join(damaged) + "\n")
    (out / "runs.csv").unlink()
    result = invoke("run", path, "--out", out, "--quiet", "--resume", "--workers", 1)
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["replication"]) == [0, 1, 2, 3]
    assert (
        runs["recipients"] == runs["delivered"] + runs["misdelivered"] + runs["ndr"] + runs["pending"]
    ).all()


def results_dir(tmp_path: Path) -> Path:
    out = tmp_path / "r"
    assert invoke("run", scenario_file(tmp_path), "--out", out, "--quiet").exit_code == 0
    return out


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("empty", "not a results directory"),
        ("scenario.toml", "damaged results (scenario.toml: Expected '=' after a key"),
        ("summary.csv", "damaged results (summary.csv: No columns to parse from file)"),
        ("binary summary.csv", "damaged results (summary.csv: 'utf-8' codec can't decode"),
        ("columns", "damaged results (summary.csv lacks the point and n columns)"),
    ],
)
def test_plot_refuses_an_empty_or_damaged_results_directory(tmp_path, damage, fragment):
    if damage == "empty":
        out = tmp_path / "empty"
        out.mkdir()
    else:
        out = results_dir(tmp_path)
        if damage == "scenario.toml":
            (out / "scenario.toml").write_text("garbage here\n")
        elif damage == "summary.csv":
            (out / "summary.csv").write_text("")
        elif damage == "binary summary.csv":
            (out / "summary.csv").write_bytes(b"\x00\xff\xfe")
        else:
            (out / "summary.csv").write_text("a,b\n1,2\n")
    result = invoke("plot", out)
    assert result.exit_code == 2, result.output
    assert fragment in result.output


@pytest.mark.parametrize(
    "name",
    ["runs.csv", "events.csv", "series.csv", "latency.csv", "summary.json", "summary.csv", "scenario.toml"],
)
def test_report_and_plot_name_the_damaged_file_of_a_results_directory(tmp_path, name):
    out = results_dir(tmp_path)
    (out / name).write_text('garbage,"')  # what the tester wrote over each file
    before = sorted(os.listdir(out))
    for command in ("report", "plot"):
        result = invoke(command, out)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"{out}: damaged results ({name}: "), result.output
        assert result.output.endswith("; make them again with exsim run --out DIR --force\n")
        assert result.output.count("\n") == 1
    assert sorted(os.listdir(out)) == before  # no report.html, no plots/, no temporary


def hidden_or_partial(folder: Path) -> list[str]:
    """What a half-done write would leave in ``folder``: hidden temporaries or .partial files."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".partial")))


@pytest.mark.parametrize("case", ["directory", "file in the path", "missing folder", "/proc"])
def test_explore_and_report_refuse_an_output_path_they_cannot_write(tmp_path, case):
    out = results_dir(tmp_path)
    (tmp_path / "afile").write_text("mine\n")
    target = {
        "directory": tmp_path / "exdir",
        "file in the path": tmp_path / "afile" / "x.html",
        "missing folder": tmp_path / "nowhere" / "x.html",
        "/proc": Path("/proc/x.html"),
    }[case]
    why = {
        "directory": f"{target} is a directory",
        "file in the path": f"{tmp_path / 'afile'} is a file, not a directory",
        "missing folder": f"directory {tmp_path / 'nowhere'} does not exist",
        "/proc": "/proc does not accept a new file (No such file or directory)",
    }[case]
    (tmp_path / "exdir").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in (["explore", scenario_file(tmp_path)], ["report", out]):
        result = invoke(*command, "-o", target)
        assert result.exit_code == 2, result.output
        assert result.output == f"cannot write {target}: {why}; choose another file with -o\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "exdir").iterdir()) == []
    assert (tmp_path / "afile").read_text() == "mine\n"
    assert hidden_or_partial(out) == []
    assert "report.html" not in os.listdir(out)


def test_report_and_plot_refuse_a_directory_or_file_in_the_way(tmp_path):
    out = results_dir(tmp_path)
    (out / "report.html").mkdir()
    result = invoke("report", out)
    assert result.exit_code == 2, result.output
    assert f"cannot write {out / 'report.html'}: {out / 'report.html'} is a directory;" in result.output
    assert list((out / "report.html").iterdir()) == []
    assert hidden_or_partial(out) == []
    (out / "plots").write_text("mine\n")
    result = invoke("plot", out)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"cannot write {out / 'plots'}: {out / 'plots'} is a file, not a directory; "
        "move it out of the way and try again\n"
    )
    assert (out / "plots").read_text() == "mine\n"
    (out / "plots").unlink()
    (out / "plots" / "topology.png").mkdir(parents=True)  # one figure's name taken: none is written
    result = invoke("plot", out)
    assert result.exit_code == 2, result.output
    assert f"{out / 'plots' / 'topology.png'} is a directory" in result.output
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["topology.png"]


def test_a_file_written_whole_leaves_no_temporary_when_writing_fails(tmp_path):
    from exsim.outputs import write_whole

    target = tmp_path / "page.html"
    target.write_text("old\n")

    def half(tmp: Path) -> None:
        tmp.write_text("<html>half")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        write_whole(target, half)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]
    assert target.read_text() == "old\n"


@pytest.mark.parametrize("address", ["<<@@>>", "a@@b", "@", "x@" + "." * 10])
def test_route_refuses_a_malformed_smtp_address(address):
    from tests.conftest import SCENARIOS

    result = invoke("route", SCENARIOS / "q166866.toml", "--from", "RED-EX1", "--to", address)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("--to: SMTP ")


def test_every_run_failing_is_summarised_with_the_first_error(tmp_path, monkeypatch):
    import exsim.sim

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exsim.sim, "simulate", broken)
    out = tmp_path / "r"
    result = invoke("run", scenario_file(tmp_path, replications=3), "--out", out, "--quiet", "--workers", 1)
    assert result.exit_code == 1
    assert "3 of 3 runs failed; the first: RuntimeError: disk on fire" in result.output
    assert "recipients by outcome" not in result.output  # no table of blanks
    assert pd.read_csv(out / "runs.csv")["error"].str.contains("disk on fire").all()


def test_a_run_out_of_memory_says_so(tmp_path, monkeypatch):
    import exsim.sim

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(exsim.sim, "simulate", exhausted)
    out = tmp_path / "r"
    result = invoke("run", scenario_file(tmp_path), "--out", out, "--quiet", "--workers", 1)
    assert result.exit_code == 1
    assert "1 of 1 runs failed; the first: MemoryError: out of memory: the run needed more" in result.output
    assert "recipients by outcome" not in result.output


def test_an_unexpected_error_is_one_line_with_exit_1(monkeypatch, capsys):
    import exsim.cli
    import exsim.scenario

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(exsim.scenario, "json_schema", broken)
    monkeypatch.setattr(sys, "argv", ["exsim", "schema"])
    with pytest.raises(SystemExit) as exited:
        exsim.cli.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "internal error at test_hostile_conditions.py" in err
    assert "ZeroDivisionError: a bug" in err
    assert "Traceback" not in err


# --- 5. size before start -----------------------------------------------------------------------


def sized(tmp_path: Path, run: dict | None = None, sweep: dict | None = None, users: int = 20) -> Path:
    raw = one_site(duration="1h", users=users)
    raw["run"].update(run or {})
    if sweep:
        raw["sweep"] = sweep
    path = tmp_path / "sized.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def test_a_sweep_of_a_million_points_is_refused_without_expanding_it(tmp_path):
    thousand = list(range(1, 1001))
    sweep = {
        "variables": [
            {"name": "a", "path": "servers.RED-EX1.users", "values": thousand},
            {"name": "b", "path": "servers.RED-EX2.users", "values": thousand},
        ]
    }
    result = invoke("validate", sized(tmp_path, sweep=sweep))
    assert result.exit_code == 2
    assert "the sweep has 1,000,000 points; at most 100,000" in result.output


def test_a_billion_replications_are_refused_in_the_file_and_on_the_command_line(tmp_path):
    result = invoke("validate", sized(tmp_path, run={"replications": 10**9}))
    assert result.exit_code == 2
    assert "1,000,000,000 runs; at most 1,000,000" in result.output
    out = tmp_path / "r"
    result = invoke("run", sized(tmp_path), "--replications", 10**9, "--out", out)
    assert result.exit_code == 2
    assert "--replications 1000000000: 1 sweep point(s) x 1,000,000,000 replication(s)" in result.output
    assert not out.exists()


def test_time_series_that_cannot_fit_in_memory_are_refused_even_when_long_runs_are_allowed(tmp_path):
    run = {"duration": "30000d", "time_series_interval": "1s", "allow_long": True}
    result = invoke("validate", sized(tmp_path, run=run, users=0))
    assert result.exit_code == 2
    assert "would need more memory than this machine has" in result.output
    assert "2,592,0" in result.output  # rows per run: (30000 d + 1 h drain) / 1 s
    assert "lengthen run.time_series_interval" in result.output


def test_an_experiment_of_hours_needs_allow_long(tmp_path):
    # 2,000 heavy users for an hour, 100,000 times: some 10^10 recipients, far beyond two hours.
    run = {"replications": 100_000}
    result = invoke("validate", sized(tmp_path, run=run, users=2000))
    assert result.exit_code == 2
    assert "the experiment would take hours" in result.output
    assert "set run.allow_long = true" in result.output
    assert invoke("validate", sized(tmp_path, run={**run, "allow_long": True}, users=2000)).exit_code == 0


def test_the_estimate_says_one_fixed_speed_and_its_hours_follow_from_it(tmp_path):
    # The figure is a constant (RECIPIENTS_PER_SECOND), not a measurement of the machine at that
    # moment, which moved between 19,000 and 41,000 from one identical call to the next.
    # 2 x 2,000 heavy users (118.9 recipients a day each) sending all day for 1 h: 19,816.7
    # recipients a run, 1.9817 s at 10,000 a second, plus 4,000 mailboxes x 45 us and 0.05 s.
    path = sized(tmp_path, run={"replications": 100_000}, users=2000)
    messages = [invoke("validate", str(path)).output for _ in range(2)]
    assert messages[0] == messages[1]
    found = re.search(r"roughly ([\d,.]+) h on (\d+) core\(s\) at ([\d,]+) recipients a second", messages[0])
    assert found is not None, messages[0]
    hours, cores, speed = float(found[1].replace(",", "")), int(found[2]), found[3]
    assert speed == "10,000"
    one_run = 4000 * 118.9 / 24 / 10_000 + 4000 * 45e-6 + 0.05
    assert hours == round(100_000 * one_run / cores / 3600, 1)


def test_the_estimate_counts_points_replications_rows_and_backlog():
    from exsim.scenario import validate_raw
    from exsim.scenario.size import (
        BYTES_PER_MAILBOX,
        BYTES_PER_QUEUED_RECIPIENT,
        estimate,
        estimated_recipients,
        sweep_points,
    )

    raw = one_site(duration="10h")  # drain 1h
    raw["run"].update(replications=3, time_series_interval="30m")
    raw["sweep"] = {
        "variables": [
            {"name": "v", "path": "servers.*.version", "values": ["5.0", "5.0-sp1"], "group": "g"},
            {"name": "u", "path": "servers.RED-EX1.users", "values": [1, 2], "group": "g"},
            {"name": "w", "path": "servers.RED-EX2.users", "values": [1, 2, 3]},
        ]
    }
    raw["events"] = [{"kind": "outage", "connector": "IMS", "start": "1h", "end": "3h"}]
    scenario = validate_raw(raw)
    assert sweep_points(scenario) == 2 * 3  # the group advances together
    size = estimate(scenario)
    assert size.runs == 18
    assert size.rows_per_run == 22  # 11 h of simulated time in 30-minute rows
    series = 18 * 22 * (3 + 2) * 48
    mailboxes = 20 + 20  # one_site's two servers
    held = (
        mailboxes * BYTES_PER_MAILBOX + estimated_recipients(scenario) * (2 / 10) * BYTES_PER_QUEUED_RECIPIENT
    )
    assert size.memory_bytes == pytest.approx(series + min(size.cores, 18) * held)


@pytest.mark.parametrize(
    ("spread", "hours", "duration", "days"),
    [
        ("working_hours", "09:00-17:00", "1h", 0.0),  # a run starts at 00:00: nobody is at work yet
        ("working_hours", "09:00-17:00", "10h", 1 / 8),  # 09:00-10:00 of an 8-hour day
        ("working_hours", "09:00-17:00", "17h", 1.0),
        ("working_hours", "09:00-17:00", "2d10h", 2 + 1 / 8),
        ("working_hours", "22:00-06:00", "23h", 1 / 8),  # a night shift: 22:00-23:00
        ("working_hours", "22:00-06:00", "1d2h", 4 / 8),  # 22:00-02:00, past midnight
        ("all_day", "09:00-17:00", "1h", 1 / 24),
    ],
)
def test_the_estimate_follows_the_working_hours(spread, hours, duration, days):
    from exsim.scenario import validate_raw
    from exsim.scenario.size import estimated_recipients, sending_days

    raw = one_site(duration=duration)  # 2 x 20 heavy users (118.9 recipients a day each), no lists
    raw["workload"].update(spread=spread, working_hours=hours)
    scenario = validate_raw(raw)
    assert sending_days(scenario) == pytest.approx(days)
    assert estimated_recipients(scenario) == pytest.approx(40 * 118.9 * days)


BIG = """\
[organization]
name = "Contoso"

[[sites]]
name = "Redmond"
addresses = {{ x400 = "c=US;a= ;p=Contoso;o=Redmond", smtp = "@redmond.contoso.com" }}

[[servers]]
name = "RED-EX1"
site = "Redmond"
users = {users[0]}

[[servers]]
name = "RED-EX2"
site = "Redmond"
users = {users[1]}

[[connectors]]
name = "IMS"
kind = "ims"
server = "RED-EX1"

[workload]
profile = "heavy"
spread = "{spread}"
mix = {{ same_server = 0.3, same_site = 0.3, other_site = 0.0, internet = 0.4, distribution_list = 0.0 }}

[run]
duration = "{duration}"
time_series = {series}
{run}
{events}"""


def _refusal(
    tmp_path: Path,
    monkeypatch,
    mark: str,
    users: tuple[int, int] = (20, 20),
    duration: str = "1h",
    spread: str = "all_day",
    series: bool = False,
    run: str = "",
    events: str = "",
) -> tuple[int, str, int]:
    """Validate a one-site scenario of heavy users (118.9 recipients a day each, no lists) on a
    machine with 8 GiB available (refusing above 4 GiB): exit code, output (the file's name
    made FILE), and the line holding ``mark``."""
    import exsim.scenario.size

    monkeypatch.setattr(exsim.scenario.size, "available_memory", lambda: 8 * 2.0**30)
    text = BIG.format(
        users=users, duration=duration, spread=spread, series=str(series).lower(), run=run, events=events
    )
    path = tmp_path / "big.toml"
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if mark in row)
    result = invoke("validate", path)
    return result.exit_code, result.output.replace(f"{path}:", "FILE:"), line


def test_an_organization_too_big_for_memory_blames_the_users_even_with_allow_long(tmp_path, monkeypatch):
    # 4,000,001 mailboxes at 1,300 bytes: 5.2 GB in a run, over the 4 GiB allowed. The run is an
    # hour from midnight (no mail) and may be long: memory is refused whatever.
    code, output, line = _refusal(
        tmp_path,
        monkeypatch,
        "users = 2000001",
        users=(2_000_000, 2_000_001),
        spread="working_hours",
        run="allow_long = true",
    )
    assert code == 2
    assert output.startswith(f"FILE:{line}: servers[1].users: the experiment would need more memory")
    assert "4,000,001 mailboxes, about 0 recipients" in output
    assert "; lower the users\n" in output


def test_an_outage_whose_backlog_fills_memory_blames_the_outage(tmp_path, monkeypatch):
    # 2 x 50,000 heavy users send 11.89 million recipients a day; a 2-day outage in a 3-day run
    # queues 2/3 of 35.67 million: 23.8 GB at 1,000 bytes each. The mailboxes are 0.13 GB.
    outage = '[[events]]\nkind = "outage"\nconnector = "IMS"\nstart = "12h"\nend = "2d12h"\n'
    code, output, line = _refusal(
        tmp_path, monkeypatch, "[[events]]", users=(50_000, 50_000), duration="3d", events=outage
    )
    assert code == 2
    assert output.startswith(f"FILE:{line}: events[0]: the experiment would need more memory")
    assert "the mail queued during this event fills the memory" in output


def test_a_huge_duration_blames_the_duration_not_the_interval(tmp_path, monkeypatch):
    # 10^20 days in hourly rows: even one row a day would not fit.
    code, output, line = _refusal(
        tmp_path, monkeypatch, "duration", duration="100000000000000000000d", series=True
    )
    assert code == 2
    assert output.startswith(f"FILE:{line}: run.duration: the experiment would need more memory")
    assert "shorten run.duration" in output


@pytest.mark.parametrize(
    ("users", "duration", "blamed", "mark"),
    [
        # 2 x 10^6 heavy users: 237.8 million recipients a day, so one day is already too many.
        (1_000_000, "2d", "servers[0].users", "users = 1000000"),
        # 40 users for 10^5 days: 4,756 recipients a day, 475.6 million in all.
        (20, "100000d", "run.duration", 'duration = "100000d"'),
    ],
)
def test_too_many_recipients_blame_what_makes_them(tmp_path, monkeypatch, users, duration, blamed, mark):
    code, output, line = _refusal(tmp_path, monkeypatch, mark, users=(users, users), duration=duration)
    assert code == 2
    assert output.startswith(f"FILE:{line}: {blamed}: one run would simulate about")


def test_a_sweep_value_too_big_for_memory_is_refused_at_its_line(tmp_path, monkeypatch):
    # The scenario as written has 40 mailboxes; its sweep's 4,000,000 users on RED-EX2 would
    # hold 5.2 GB in a run (over 4 GiB, however many run at once).
    sweep = '[[sweep.variables]]\nname = "u"\npath = "servers.RED-EX2.users"\nvalues = [20, 4000000]\n'
    code, output, line = _refusal(tmp_path, monkeypatch, "values = [20, 4000000]", events=sweep)
    assert code == 2
    assert output.startswith(
        f"FILE:{line}: sweep.variables[0].values[1]: value 4000000 for 'servers.RED-EX2.users' gives "
        "servers[1].users: the experiment would need more memory"
    ), output


def test_an_hour_from_midnight_sends_nothing_and_is_not_refused(tmp_path, monkeypatch):
    # The same 2 x 10^6 users (2.6 GB of mailboxes, under 4 GiB) for one hour from 00:00 with
    # working hours 09:00-17:00: no mail at all, a run of seconds to set up.
    code, output, _ = _refusal(
        tmp_path, monkeypatch, "users", users=(1_000_000, 1_000_000), spread="working_hours"
    )
    assert code == 0, output


# --- 7. generated hostile documents and command lines -------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "../../etc", "[/]", "25:99-10:00", "09:00-09:00", "1e999s", "\x00", "‮evil", "*"]),
    st.text(max_size=12),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.sampled_from(["name", "x", "kind"]), st.integers(-3, 3), max_size=2),
)
SECTIONS = ["organization", "sites", "servers", "connectors", "workload", "run", "events", "sweep"]


def _mutate(raw: dict, data) -> dict:  # type: ignore[no-untyped-def]
    """Change one to three places of a valid scenario: a value, a key removed, a key added."""
    for _ in range(data.draw(st.integers(1, 3))):
        section = data.draw(st.sampled_from(SECTIONS))
        node = raw.get(section)
        if isinstance(node, list) and node:
            node = node[data.draw(st.integers(0, len(node) - 1))]
        action = data.draw(st.sampled_from(["set", "drop", "add", "replace"]))
        if action == "replace" or not isinstance(node, dict):
            raw[section] = data.draw(ODD_VALUES)
        elif action == "drop" and node:
            node.pop(data.draw(st.sampled_from(sorted(node))))
        elif action == "add":
            node[data.draw(st.sampled_from(["users", "duration", "replications", "x400", "zzz"]))] = (
                data.draw(ODD_VALUES)
            )
        elif node:
            node[data.draw(st.sampled_from(sorted(node)))] = data.draw(ODD_VALUES)
    return raw


def _as_toml(raw: dict) -> str:
    try:
        return tomli_w.dumps(raw)
    except (TypeError, ValueError):  # None or a top-level non-table: TOML cannot say it
        return "organization = 1\n" + repr(raw)[:200]


COMMANDS = st.sampled_from(
    [
        ["validate", "{s}"],
        ["show", "{s}"],
        ["gwart", "{s}", "--site", "Redmond"],
        ["route", "{s}", "--from", "RED-EX1", "--to", "bob@redmond.contoso.com"],
        ["run", "{s}", "--out", "{out}", "--quiet", "--workers", "1"],
        ["run", "{s}", "--out", "{out}", "--quiet", "--resume"],
        ["plot", "{out}"],
    ]
)
ODD_ARGS = st.sampled_from(
    [
        "--workers",
        "0",
        "-1",
        "--seed",
        "--replications",
        "999999999999",
        "--at",
        "25:99",
        "--to",
        "@",
        "[/]",
        "",
    ]
)


def _inside(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_documents_and_command_lines_never_crash(tmp_path_factory, data):
    import copy

    root = tmp_path_factory.mktemp("hostile")
    raw = _mutate(copy.deepcopy(one_site(duration="1h", users=2)), data)
    scenario = root / "s.toml"
    scenario.write_text(_as_toml(raw))
    args = [a.format(s=scenario, out=root / "out") for a in data.draw(COMMANDS)]
    args += data.draw(st.lists(ODD_ARGS, max_size=2))
    outside = tmp_path_factory.mktemp("cwd")  # the working directory: must stay empty
    previous = Path.cwd()
    os.chdir(outside)
    # A hang is a failure too: give up loudly after a generous limit rather than wait for ever.
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"exsim {args} hung")))
    signal.alarm(120)
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
    finally:
        signal.alarm(0)
        os.chdir(previous)
    assert result.exit_code in (0, 1, 2), (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output
    assert _inside(outside) == set()  # nothing written anywhere but --out
    assert {p.split("/")[0] for p in _inside(root)} <= {"s.toml", "out"}


@pytest.mark.parametrize("cut", ["mid-row", "whole rows", "short row"])
def test_a_runs_csv_cut_short_is_damaged_not_an_interrupted_run(tmp_path, cut):
    # 1 point x 4 replications: summary.csv says n=4 and summary.json 4 runs, so a runs.csv with
    # fewer whole rows, a last line without its newline or a row with fewer fields than the
    # heading was cut short on disk; an interrupted run writes all three files from the same runs.
    out = tmp_path / "r"
    assert invoke("run", scenario_file(tmp_path, replications=4), "--out", out, "--quiet").exit_code == 0
    text = (out / "runs.csv").read_text()
    lines = text.splitlines(keepends=True)
    assert len(lines) == 5  # the heading and four runs
    if cut == "mid-row":
        damaged = text[: len(text) - len(lines[-1]) // 2]  # as `head -c` leaves it
    elif cut == "whole rows":
        damaged = "".join(lines[:3])  # two runs gone, every line whole
    else:
        damaged = "".join(lines[:-1]) + ",".join(lines[-1].split(",")[:5]) + "\n"
    (out / "runs.csv").write_text(damaged)
    for command in ("report", "plot"):
        result = invoke(command, out)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"{out}: damaged results (runs.csv: "), result.output
        assert result.output.endswith("; make them again with exsim run --out DIR --force\n")
    assert not (out / "report.html").exists()


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        ("summary.json deleted", "summary.json: missing, where runs.csv and summary.csv are written with it"),
        ("ndr column dropped", "runs.csv: lacks the ndr column(s)"),
        (
            "books off",
            "runs.csv: the run of point 0, replication 0 has recipients = {recipients}, "
            "but delivered + misdelivered + ndr + pending = {parts}",
        ),
        ("count not a number", "runs.csv: the run of point 0, replication 0 has pending = 'x', not a count"),
    ],
)
def test_an_edited_or_missing_results_file_is_damaged_not_read_silently(tmp_path, damage, detail):
    # README: a results file edited afterwards is bad input (exit 2, the file named). These were
    # read without a word: the report lost the NDR texts, or counted runs whose books do not add
    # up (every recipient ends in exactly one outcome).
    import csv

    out = results_dir(tmp_path)
    path = out / "runs.csv"
    with open(path, newline="") as text:
        rows = list(csv.reader(text))
    heading, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    recipients = int(first["recipients"])
    parts = sum(int(first[c]) for c in ("delivered", "misdelivered", "ndr", "pending"))
    assert recipients == parts  # as exsim wrote it
    if damage == "summary.json deleted":
        (out / "summary.json").unlink()
    elif damage == "ndr column dropped":
        drop = heading.index("ndr")
        rows = [row[:drop] + row[drop + 1 :] for row in rows]
    elif damage == "books off":
        rows[1][heading.index("delivered")] = str(int(first["delivered"]) + 1)
        parts += 1
    else:
        rows[1][heading.index("pending")] = "x"
    if damage != "summary.json deleted":
        with open(path, "w", newline="") as text:
            csv.writer(text, lineterminator="\n").writerows(rows)
    for command in ("report", "plot"):
        result = invoke(command, out)
        assert result.exit_code == 2, result.output
        assert result.output == (
            f"{out}: damaged results ({detail.format(recipients=recipients, parts=parts)}); "
            "make them again with exsim run --out DIR --force\n"
        )
    assert not (out / "report.html").exists()
    assert not (out / "plots").exists()
