"""Experiments: sweep points x replications, run anywhere, written to a results directory.

* **Sweeps.** Each sweep variable sets one scenario path (``servers.*.version``,
  ``sites.Redmond.addresses.x400``) to each of its values. Variables multiply
  (Cartesian product) unless they share a ``group``, in which case they advance
  together (lockstep). An optional ``constraint`` expression over the variable
  names drops combinations.
* **Seeds.** Replication k of the experiment gets its seed from
  ``SeedSequence(seed, spawn_key=(k,))`` — from its position, never from the
  order runs happen to finish in — and every sweep point uses the same seed for
  replication k. That is common random numbers: replication k of the pre- and
  post-SP1 points sees exactly the same traffic, so their difference is paired.
* **Execution.** Serially, on a local process pool (``workers``), or on a Dask
  distributed cluster (``scheduler``); results are identical in every case.
* **Results directory.** ``runs.jsonl`` is a journal, one line appended and
  flushed per finished run, so an interrupted experiment resumes where it
  stopped; ``runs.csv``, ``summary.csv``, ``summary.json`` and ``events.csv``
  are (re)written atomically from it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import re
import shutil
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import tomli_w

from exsim import arguments
from exsim.columns import (
    BOOK_COLUMNS,
    COUNT_COLUMNS,
    INTERVAL_COLUMNS,
    OUTCOME_RATES,
    is_ndr_diagnostic_column,
)
from exsim.logs import EVENT_COLUMNS
from exsim.outputs import write_whole
from exsim.randomness import replication_seed
from exsim.resultsdir import ResultsDirectory, ResultsDirectoryError, open_results_dir
from exsim.scenario import Scenario, scenario_hash, validate_raw
from exsim.scenario.sweep import SweepPoint, expand_sweep, no_points_problem, point_scenario
from exsim.stats import NON_NEGATIVE, RATE, RATE_DIFFERENCE, paired_difference, t_interval

if TYPE_CHECKING:
    from exsim.sim.model import RunResult


#: A JSON object as the journal and summary.json hold it: one run's entry, a row, an example.
Record = dict[str, Any]
#: The runs finished so far, by (sweep point, replication).
Done = dict[tuple[int, int], Record]


class ExperimentInterrupted(Exception):
    """The experiment stopped early (Ctrl-C, SIGTERM, the cluster or a worker gave out).

    The runs finished so far are saved and the experiment can be resumed.
    ``signum`` is the signal that stopped it (None when ``reason`` says what did).
    """

    def __init__(
        self,
        experiment: Experiment,
        finished: int,
        total: int,
        signum: int | None = None,
        reason: str | None = None,
    ):
        self.experiment, self.finished, self.total = experiment, finished, total
        self.signum, self.reason = signum, reason
        super().__init__(reason or f"interrupted after {finished} of {total} runs")


class _DeferredInterrupt:
    """SIGINT and SIGTERM raise KeyboardInterrupt, except inside :meth:`critical`, where they
    wait for its end (so a journal line is written whole). ``signum`` remembers which came."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.inside = False
        self.pending = False
        self.signum: int | None = None

    def __enter__(self) -> _DeferredInterrupt:
        import signal
        import threading

        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                number = getattr(signal, name)
                self.previous[number] = signal.signal(number, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for number, previous in self.previous.items():
            signal.signal(number, previous)

    def _handler(self, signum: int, frame: object) -> None:
        self.signum = self.signum or signum
        if self.inside:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A section a signal does not cut: one that comes inside it is raised at its end."""
        self.inside = True
        try:
            yield
        finally:
            self.inside = False
        if self.pending:
            raise KeyboardInterrupt


#: How often a pool worker checks that its parent still lives (where the kernel cannot tell it).
PARENT_POLL_S = 0.5


def _init_worker() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them, and die with their parent.

    A parent killed with ``kill -9`` cannot stop its workers, so each worker
    watches for itself: on Linux the kernel sends it SIGKILL when the parent
    dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread notices the
    parent pid change (the orphan is adopted by init) and exits.
    """
    import signal
    import sys
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the watcher thread below still covers it
    if os.getppid() != parent or parent == 1:
        os._exit(1)  # the parent died before the request took effect

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exsim-parent-watch", daemon=True).start()


def worker_count(requested: int | None, runs: int) -> tuple[int, str | None]:
    """Worker processes to start for ``runs`` runs, and a note when the request was capped.

    More workers than runs would idle; more than the cores this process may use
    would only take turns (and each holds a scenario in memory).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    if requested is None:
        return max(1, min(cores, runs)), None
    capped = max(1, min(requested, runs, cores))
    if capped == requested:
        return capped, None
    # Both limits, always: the smaller is the one that binds, and naming only the cores when a
    # short run (or a resume with few runs left) also falls short of the request hid the other.
    return capped, f"--workers {requested}: using {capped} ({runs} run(s), {cores} core(s) available)"


# --- sweeps -------------------------------------------------------------------------


# --- one run -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSpec:
    point: int
    replication: int
    seed: int


#: :func:`execute_run`'s arguments, plain data that travels to a pool or Dask worker: the point's
#: parsed scenario, its source, the run, the point's sweep columns and where to write tracking logs.
RunArgs = tuple[dict[str, Any], str, RunSpec, dict[str, Any], str | None]


def execute_run(
    raw: dict[str, Any], source: str, spec: RunSpec, columns: dict[str, Any], tracking_dir: str | None = None
) -> Record:
    """Run one (sweep point, replication); never raises: a failure becomes an error record.

    Takes plain data (the point's parsed scenario) so it can run in another
    process or on a Dask worker.
    """
    record: dict[str, Any] = {
        "point": spec.point,
        **columns,
        "replication": spec.replication,
        "seed": spec.seed,
    }
    started = time.perf_counter()
    with _tracking_aside(tracking_dir) as aside:
        return _execute_run(raw, source, spec, record, started, aside)


@contextmanager
def _tracking_aside(tracking_dir: str | None) -> Iterator[Path | None]:
    """Where a run writes its tracking logs: beside ``tracking_dir``, in ``NAME.partial``, moved
    to ``tracking_dir`` whole once the run has ended (a failed run's logs too, up to its failure).

    A run cut short (Ctrl-C, a killed worker) leaves only the ``.partial`` folder, which the run
    that does it again (``--resume``: a run not in the journal) empties first. Its logs are
    appended as events happen, so writing into the folder itself would add a second copy of
    every event the first attempt had logged.
    """
    if tracking_dir is None:
        yield None
        return
    target = Path(tracking_dir)
    aside = target.with_name(target.name + ".partial")
    if aside.exists():
        shutil.rmtree(aside)
    # Made now, even if the run logs nothing: a finished run with tracking always has its
    # folder, which is how a resume tells what the finished runs were made with.
    aside.mkdir(parents=True)
    yield aside
    # Not reached when the run is interrupted: the .partial folder stays, and no finished one is
    # replaced. A run that finished but was not journaled before the stop is run again: its
    # folder is replaced by the new one, equal event for event.
    if target.exists():
        shutil.rmtree(target)
    if aside.exists():
        aside.rename(target)


def _execute_run(
    raw: dict[str, Any],
    source: str,
    spec: RunSpec,
    record: dict[str, Any],
    started: float,
    tracking: Path | None,
) -> Record:
    """:func:`execute_run`'s body, with its tracking logs going to ``tracking``."""
    from exsim.sim import simulate

    try:
        scenario = validate_raw(raw, source, sweep_point=True)  # a point of a file validated whole
        result = simulate(scenario, spec.seed, tracking_dir=tracking)
    except Exception as exc:  # a failed run is recorded, not fatal to the sweep
        # A MemoryError says nothing of itself (its message is empty): say what it means.
        what = (
            "out of memory: the run needed more than this machine has (fewer users, a shorter "
            "outage or run, or fewer workers)"
            if isinstance(exc, MemoryError)
            else str(exc)
        )
        record.update(error=f"{type(exc).__name__}: {what}", traceback=traceback.format_exc(limit=5))
        return {
            "row": record,
            "events": [],
            "ndr_samples": {},
            "misdelivery_samples": [],
            "ndr_generators": {},
            "series": {},
            "latency": {},
        }
    record.update(result.row())
    record["error"] = ""
    record["wall_s"] = round(time.perf_counter() - started, 3)
    events = [
        [spec.point, spec.replication, e.time_s, e.server, e.source, e.event_id, e.type, e.category, e.text]
        for e in result.events
    ]
    return {
        "row": record,
        "events": events,
        "ndr_samples": result.ndr_samples,
        "misdelivery_samples": result.misdelivery_samples,
        "ndr_generators": {text: dict(counts) for text, counts in result.ndr_generators.items()},
        "series": series_records(result, spec),
        "latency": latency_records(result, spec),
    }


def series_records(result: RunResult, spec: RunSpec) -> dict[str, list[Any]]:
    """The run's time series as columns: interval start, deliveries, NDRs (in all and per generating
    server, ``ndr_by_<server>``), misdeliveries, mail held per server (``queued_<server>``)."""
    series = result.series
    return {
        "t_s": series.starts_s,
        "delivered": series.delivered.tolist(),
        "ndr": series.ndr.tolist(),
        "misdelivered": series.misdelivered.tolist(),
        **{f"ndr_by_{server}": values.tolist() for server, values in sorted(series.ndr_by_server.items())},
        **{f"queued_{server}": values.tolist() for server, values in sorted(series.queue_samples.items())},
    }


def latency_records(result: RunResult, spec: RunSpec) -> dict[str, list[Any]]:
    """Non-empty latency histogram bins: upper edge in seconds and count."""
    histogram = result.latency
    nonzero = np.flatnonzero(histogram.counts)
    return {
        "upper_s": [histogram.upper_edge(int(i)) for i in nonzero],
        "count": histogram.counts[nonzero].tolist(),
    }


# --- the experiment ---------------------------------------------------------------------


@dataclass
class Experiment:
    """Results of an experiment: ``runs`` (one row per run) and ``summary`` (per sweep point)."""

    scenario: Scenario
    points: list[SweepPoint]
    runs: pd.DataFrame
    summary: pd.DataFrame
    differences: pd.DataFrame
    events: pd.DataFrame
    out: Path | None
    failed: int
    wall_s: float
    ndr_samples: dict[str, Record] = field(default_factory=dict)
    series: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per run and interval: deliveries, NDRs and queued mail per server."""
    latency: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per run: latency histogram bins (upper edge in seconds, count)."""
    misdelivery_samples: list[Record] = field(default_factory=list)
    """One example per sweep point with misdeliveries: the address, the mailbox the directory
    picked and why (KB Q176046)."""
    ndr_generators: list[Record] = field(default_factory=list)
    """Every (NDR text, generating component) pair: recipients NDR'd over all runs, and in how many
    of the runs and at which sweep points it happened."""

    @property
    def variables(self) -> list[str]:
        return [v.name for v in self.scenario.sweep.variables]


def _journal(out: Path | None, specs: list[RunSpec]) -> Done:
    """The runs an interrupted experiment finished, from its journal.

    A line that is not a whole, well-formed record of one of ``specs`` (cut
    short by a kill, damaged on disk, from another sweep) is skipped: that run
    simply runs again.
    """
    done: Done = {}
    if out is None or not (out / "runs.jsonl").exists():
        return done
    wanted = {(s.point, s.replication) for s in specs}
    with open(out / "runs.jsonl", encoding="utf-8", errors="replace") as journal:
        for line in journal:
            try:
                entry = json.loads(line)
                key = (entry["row"]["point"], entry["row"]["replication"])
            except (ValueError, TypeError, KeyError, RecursionError):
                continue
            if key in wanted and isinstance(entry.get("events", []), list):
                done[key] = entry
    return done


def _same_tracking(out: Path, done: Done, tracking: bool) -> None:
    """Refuse a resume that would leave the tracking logs incomplete: with ``--tracking`` when
    finished runs were made without it (they have no folder under ``tracking/``), or without it
    when finished runs logged theirs."""
    logged = sum((out / "tracking" / f"point{p}-rep{r}").is_dir() for p, r in done)
    if tracking and logged < len(done):
        made = f"{len(done) - logged} of its {len(done)} finished run(s) were made without --tracking"
        fix = "resume without --tracking"
    elif not tracking and logged:
        made = f"{logged} of its {len(done)} finished run(s) were made with --tracking"
        fix = "resume with --tracking too"
    else:
        return
    raise ResultsDirectoryError(
        f"--resume {out}: {made}, so the tracking logs would cover only some runs; {fix}, "
        "or use another --out or --force"
    )


def run_experiment(
    scenario: Scenario,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    *,
    replications: int | None = None,
    seed: int | None = None,
    tracking: bool = False,
    resume: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    notify: Callable[[str], None] | None = None,
    command: str | None = None,
) -> Experiment:
    """Run every (sweep point, replication) of a scenario and summarise.

    ``workers``: processes of a local pool (None: all cores; 1: in this process;
    capped at the number of runs and of cores). ``scheduler``: a Dask scheduler
    address, or ``"local"`` for a LocalCluster. ``out``: the results directory,
    locked while the experiment runs (see :mod:`exsim.resultsdir`). ``notify``
    hears notes for the user (a capped ``workers``, a stale lock taken over).
    ``command``: the command line that asked for this run (``exsim run ... --set ...``),
    recorded in ``summary.json`` so the results say how to make them again (None: called from
    Python, and the results-directory messages name ``out``, ``resume=True``, ``force=True``
    instead of ``--out``...). ``seed`` (default ``run.seed``) is the scenario seed, as
    ``exsim run --seed``: replication k runs with ``replication_seed(seed, k)`` (runs.csv's
    ``seed``), whereas :func:`exsim.sim.simulate`'s ``seed`` is one run's seed, used as given.

    Raises :class:`ExperimentInterrupted` when a signal (SIGINT, SIGTERM), the
    cluster or a worker process stops the experiment part way: the finished
    runs are saved first, so ``resume`` can finish it.
    """
    # As Python ints from here on: a numpy integer (from a DataFrame, say) is accepted, and would
    # otherwise reach the results' scenario.toml, which TOML cannot write.
    workers, replications, seed = _check_arguments(
        scenario, workers, out, replications, seed, tracking, resume, force
    )
    given = {"--seed": seed is not None, "--replications": replications is not None}
    if command is not None:
        return _experiment(
            scenario, workers, scheduler, out, replications, seed, tracking, resume, force, progress,
            notify, command, given,
        )  # fmt: skip
    # Called from Python: the messages name its arguments (out, resume=True), not the CLI's options.
    told = notify or (lambda note: None)
    try:
        return _experiment(
            scenario, workers, scheduler, out, replications, seed, tracking, resume, force, progress,
            lambda note: told(_api_worded(note)), command, given,
        )  # fmt: skip
    except ResultsDirectoryError as exc:
        raise ResultsDirectoryError(_api_worded(str(exc))) from None


def _check_arguments(
    scenario: Any,
    workers: Any,
    out: Any,
    replications: Any,
    seed: Any,
    tracking: Any,
    resume: Any,
    force: Any,
) -> tuple[int | None, int | None, int | None]:
    """Refuse, before anything runs or is written, what ``exsim run`` would refuse as options:
    a count below 1, a word or a float where a whole number belongs, ``resume`` with ``force``.
    What it returns is ``workers``, ``replications`` and ``seed`` as Python ints (or None)."""
    arguments.scenario("scenario", scenario, Scenario)
    counts = (
        arguments.whole_number("workers", workers, minimum=1),
        arguments.whole_number("replications", replications, minimum=1),
        arguments.whole_number("seed", seed, minimum=0),
    )
    if out is not None:
        arguments.path("out", out)
    for name, value in (("tracking", tracking), ("resume", resume), ("force", force)):
        arguments.flag(name, value)
    if resume and force:
        raise ValueError(
            "resume=True and force=True exclude each other (resume keeps the runs, force discards them)"
        )
    if resume and out is None:
        raise ValueError("resume=True needs out (the results directory to finish)")
    return counts


def _experiment(
    scenario: Scenario,
    workers: int | None,
    scheduler: str | None,
    out: str | Path | None,
    replications: int | None,
    seed: int | None,
    tracking: bool,
    resume: bool,
    force: bool,
    progress: Callable[[int, int], None] | None,
    notify: Callable[[str], None] | None,
    command: str | None,
    given: dict[str, bool],
) -> Experiment:
    """The body of :func:`run_experiment`; ``given``: which options the caller set (``--seed``)."""
    started = time.perf_counter()
    say = notify or (lambda note: None)
    base_seed = scenario.run.seed if seed is None else seed
    n_reps = scenario.run.replications if replications is None else replications
    points = expand_sweep(scenario)
    if not points:  # validation refuses such a sweep; a Scenario built around it must not get a directory
        raise ValueError(no_points_problem(scenario) or "the sweep has no point to run")
    specs = [RunSpec(p.index, k, replication_seed(base_seed, k)) for p in points for k in range(n_reps)]
    out_path = Path(out) if out is not None else None
    as_run = copy.deepcopy(scenario.raw)
    as_run.setdefault("run", {}).update(seed=base_seed, replications=n_reps)
    directory: ResultsDirectory | None = None
    if out_path is not None:
        directory = open_results_dir(out_path, resume=resume, force=force)
        for note in directory.notes:
            say(note)
    try:
        return _run_in(
            directory, scenario, points, specs, as_run, base_seed, n_reps, started,
            workers=workers, scheduler=scheduler, tracking=tracking, resume=resume,
            progress=progress, say=say, command=command, given=given,
        )  # fmt: skip
    finally:
        if directory is not None:
            directory.release()


def _run_in(
    directory: ResultsDirectory | None,
    scenario: Scenario,
    points: list[SweepPoint],
    specs: list[RunSpec],
    as_run: dict[str, Any],
    base_seed: int,
    n_reps: int,
    started: float,
    *,
    workers: int | None,
    scheduler: str | None,
    tracking: bool,
    resume: bool,
    progress: Callable[[int, int], None] | None,
    say: Callable[[str], None],
    command: str | None,
    given: dict[str, bool],
) -> Experiment:
    """The body of :func:`run_experiment`, with the results directory open and locked."""
    from exsim.cluster import ClusterError

    out_path = directory.path if directory is not None else None
    done = _journal(out_path, specs) if resume else {}
    if out_path is not None:
        if resume and (out_path / "scenario.toml").exists():
            previous = (out_path / "scenario.toml").read_text(encoding="utf-8", errors="replace")
            if previous != tomli_w.dumps(as_run):
                raise ResultsDirectoryError(
                    f"--resume {out_path}: the results there are for a different scenario or settings "
                    f"({_what_differs(previous, as_run, given, scenario.set_by)}); resume with the settings they were made with, "
                    "or use another --out or --force"
                )
        if done:
            _same_tracking(out_path, done, tracking)
        write_whole(out_path / "scenario.toml", lambda p: p.write_text(tomli_w.dumps(as_run)))

    todo = [s for s in specs if (s.point, s.replication) not in done]
    if resume:
        say(
            f"--resume: {len(specs) - len(todo)} of {len(specs)} run(s) already finished, "
            + (
                f"{len(todo)} to run"
                if todo
                else "nothing left to run: the results are written again from them"
            )
        )
    if scheduler is None and todo:  # one run is run here, in this process: a note all the same
        workers, note = worker_count(workers, len(todo))
        if note:
            say(note)
    point_raw = {p.index: point_scenario(scenario, p).raw for p in points}
    columns = {p.index: p.columns for p in points}
    tracking_root = (out_path / "tracking") if (tracking and out_path is not None) else None

    def tracking_dir(spec: RunSpec) -> str | None:
        if tracking_root is None:
            return None
        return str(tracking_root / f"point{spec.point}-rep{spec.replication}")

    journal = open(out_path / "runs.jsonl", "a", encoding="utf-8") if out_path is not None else None  # noqa: SIM115 - closed in the finally below
    finished = len(specs) - len(todo)
    recorded = 0
    if progress:
        progress(finished, len(specs))

    def record(entry: Record) -> None:
        nonlocal finished, recorded
        done[(entry["row"]["point"], entry["row"]["replication"])] = entry
        if journal is not None:
            journal.write(json.dumps(entry, default=_json_default) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        finished += 1
        recorded += 1
        if progress:
            progress(finished, len(specs))

    guard = _DeferredInterrupt()
    signum: int | None = None
    reason: str | None = None
    try:
        args = [(point_raw[s.point], scenario.source, s, columns[s.point], tracking_dir(s)) for s in todo]
        with guard:
            for entry in _execute(args, workers, scheduler):
                with guard.critical():  # a row is written whole or not at all
                    record(entry)
    except KeyboardInterrupt:
        signum = guard.signum or 2
    except Exception as exc:  # the cluster or a worker process gave out: keep what finished
        if guard.signum is not None:  # a signal also brought the workers down: that is the cause
            signum = guard.signum
        elif recorded == 0 and directory is not None and directory.created:
            if journal is not None:
                journal.close()
            directory.discard()  # a start that failed leaves nothing behind
            raise
        elif isinstance(exc, ClusterError):
            reason = str(exc)
        else:
            reason = f"a worker process failed ({type(exc).__name__}: {exc})"
    finally:
        if journal is not None:
            journal.close()

    experiment = _summarise(scenario, points, done, out_path, time.perf_counter() - started)
    if out_path is not None:
        write_results(experiment, as_run, base_seed, n_reps, command)
    if signum is not None or reason is not None:
        raise ExperimentInterrupted(experiment, finished, len(specs), signum=signum, reason=reason)
    return experiment


#: Settings ``exsim run`` takes as options: a difference there is put right by the option.
_OPTION_OF = {"run.seed": "--seed", "run.replications": "--replications", "sweep.baseline": "--baseline"}
#: The CLI's options as run_experiment's arguments, for its messages to a Python caller.
_API_WORDS = {
    "--out": "out",
    "--resume": "resume=True",
    "--force": "force=True",
    "--seed": "seed",
    "--replications": "replications",
    "--baseline": "sweep.baseline",
    "--tracking": "tracking=True",
}
_OPTION = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, _API_WORDS)) + r")(?![\w-])")


def _api_worded(message: str) -> str:
    """A results-directory message with the CLI's options named as run_experiment's arguments
    (``--out DIR`` is ``out DIR``, ``--force`` is ``force=True``)."""
    return _OPTION.sub(lambda match: _API_WORDS[match[1]], message)


#: Differences a refused resume lists before it says how many more there are.
_DIFFERENCES_SHOWN = 4


def _what_differs(
    previous: str, as_run: dict[str, Any], given: dict[str, bool], set_by: Sequence[tuple[str, str]] = ()
) -> str:
    """The settings in which a results directory's ``scenario.toml`` (``previous``) and the
    experiment asked for now (``as_run``) differ, each with both values and, for one an option
    sets, the option: ``run.replications is 4 there, 1 now (--replications)`` when it was given
    (``given``), ``(--set run.replications=1)`` when a ``--set`` gave it (``set_by``, as
    :attr:`Scenario.set_by`), ``(--replications sets it)`` when the value is the scenario's (or not
    known to be an option's: --baseline changes the scenario)."""
    import tomllib

    from exsim.names import shortened
    from exsim.scenario.load import format_path
    from exsim.scenario.paths import resolve_path

    try:
        before = tomllib.loads(previous)
    except tomllib.TOMLDecodeError:
        return "its scenario.toml cannot be read"
    now = tomllib.loads(tomli_w.dumps(as_run))  # as it would be written: the same types as before

    def shown(value: Any) -> str:
        if value is _ABSENT:
            return "absent"
        text = json.dumps(value, default=str)
        return (
            shortened(value, 40) if isinstance(value, str) else text[:37] + "..." if len(text) > 40 else text
        )

    found: list[str] = []
    set_at = [(at, setting) for path, setting in set_by for at in resolve_path(as_run, path)]
    for at, there, here in _leaf_differences(before, now, ()):
        key = format_path(at)
        options = [o for k, o in _OPTION_OF.items() if key == k or key.startswith(k + ".")]
        # The last --set at or above the key is the one whose value it holds.
        setting = next((s for where, s in reversed(set_at) if at[: len(where)] == where), None)
        if any(given.get(o, False) for o in options):
            option = f" ({options[0]})"
        elif setting is not None:
            option = f" (--set {setting})"
        else:
            option = f" ({options[0]} sets it)" if options else ""
        found.append(f"{key} is {shown(there)} there, {shown(here)} now{option}")
    if not found:
        return "its scenario.toml is written differently"
    more = len(found) - _DIFFERENCES_SHOWN
    return "; ".join(found[:_DIFFERENCES_SHOWN]) + (f"; and {more} more" if more > 0 else "")


_ABSENT = object()


def _leaf_differences(
    before: Any, now: Any, at: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], Any, Any]]:
    """Every place where two parsed scenarios differ (tables key by key, arrays of tables element
    by element), with the value on each side (``_ABSENT`` where one side has none)."""
    if isinstance(before, dict) and isinstance(now, dict):
        for key in [*before, *(k for k in now if k not in before)]:
            yield from _leaf_differences(before.get(key, _ABSENT), now.get(key, _ABSENT), (*at, key))
    elif (
        isinstance(before, list)
        and isinstance(now, list)
        and len(before) == len(now)
        and all(isinstance(item, dict) for item in before + now)
    ):
        for index, (one, other) in enumerate(zip(before, now, strict=True)):
            yield from _leaf_differences(one, other, (*at, index))
    elif before != now:
        yield at, before, now


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _execute(args: list[RunArgs], workers: int | None, scheduler: str | None) -> Iterator[Record]:
    if not args:
        return
    if scheduler is not None:
        from exsim.cluster import execute_on_dask

        yield from execute_on_dask(args, scheduler)
        return
    workers = workers if workers is not None else worker_count(None, len(args))[0]
    if workers <= 1 or len(args) == 1:
        for arg in args:
            yield execute_run(*arg)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(args)), initializer=_init_worker)
    try:
        futures: list[Future[Record]] = [pool.submit(execute_run, *arg) for arg in args]
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        # Interrupted (or abandoned): stop the workers now rather than finishing their runs.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


# --- summaries and files ------------------------------------------------------------------


def _summarise(
    scenario: Scenario, points: list[SweepPoint], done: Done, out: Path | None, wall_s: float
) -> Experiment:
    variables = [v.name for v in scenario.sweep.variables]
    # Each row's sweep columns as its point has them now: a journal an earlier exsim wrote (a
    # resumed run) may hold a number's label, "1", where the point now has the number.
    columns = {p.index: p.columns for p in points}
    rows = [{**entry["row"], **columns[point]} for (point, _), entry in sorted(done.items())]
    runs = pd.DataFrame(rows)
    if runs.empty:
        runs = pd.DataFrame(columns=["point", *variables, "replication", "seed", *BOOK_COLUMNS, "error"])
    ndr_columns = sorted(c for c in runs.columns if is_ndr_diagnostic_column(c))
    front = ["point", *variables, "replication", "seed", *BOOK_COLUMNS, *ndr_columns]
    # reindex, not select: when every run failed, no row carries the book columns.
    runs = runs.reindex(columns=[*front, *[c for c in runs.columns if c not in front]])
    for column in ndr_columns:
        runs[column] = runs[column].fillna(0).astype(int)
    failed = int((runs["error"].fillna("") != "").sum()) if "error" in runs else 0
    ok = runs[runs["error"].fillna("") == ""] if "error" in runs else runs

    summary_rows = []
    for point in points:
        mine = ok[ok["point"] == point.index].sort_values("replication")
        row: dict[str, Any] = {"point": point.index, **point.columns, "n": len(mine)}
        for column in INTERVAL_COLUMNS:
            within = RATE if column in OUTCOME_RATES else NON_NEGATIVE  # the rest are latencies
            interval = t_interval(mine[column].tolist() if len(mine) else [], within=within)
            row[f"{column}_mean"], row[f"{column}_lo"], row[f"{column}_hi"] = (
                interval.mean,
                interval.lo,
                interval.hi,
            )
        for column in (*COUNT_COLUMNS, *ndr_columns):
            row[f"{column}_mean"] = float(mine[column].mean()) if len(mine) else float("nan")
        if "internet_recipients" in mine and len(mine):
            rate = (mine["internet_ndr"].fillna(0) / mine["internet_recipients"].replace(0, np.nan)).tolist()
            interval = t_interval(rate, within=RATE)
            (
                row["internet_failure_rate_mean"],
                row["internet_failure_rate_lo"],
                row["internet_failure_rate_hi"],
            ) = (interval.mean, interval.lo, interval.hi)
        summary_rows.append(row)
    summary = pd.DataFrame(summary_rows)
    differences = _differences(scenario, points, ok)
    events = pd.DataFrame(
        [e for _, entry in sorted(done.items()) for e in entry["events"]],
        columns=["point", "replication", *EVENT_COLUMNS],
    )
    series = _long_frame(done, "series")
    latency = _long_frame(done, "latency")
    samples: dict[str, Record] = {}
    for _, entry in sorted(done.items()):
        for text, sample in entry.get("ndr_samples", {}).items():
            samples.setdefault(text, sample)
    misdeliveries: dict[int, Record] = {}
    for (index, _), entry in sorted(done.items()):
        for sample in entry.get("misdelivery_samples", [])[:1]:
            misdeliveries.setdefault(index, {"point": index, **sample})
    return Experiment(
        scenario,
        points,
        runs,
        summary,
        differences,
        events,
        out,
        failed,
        wall_s,
        samples,
        series,
        latency,
        list(misdeliveries.values()),
        _ndr_generators(done),
    )


def _ndr_generators(done: Done) -> list[Record]:
    """Totals per (NDR text, component) over every run, most frequent first."""
    totals: dict[tuple[str, str], Record] = {}
    for (point, _), entry in sorted(done.items()):
        for text, counts in entry.get("ndr_generators", {}).items():
            for component, count in counts.items():
                row = totals.setdefault(
                    (text, component),
                    {"text": text, "component": component, "recipients": 0, "runs": 0, "points": []},
                )
                row["recipients"] += count
                row["runs"] += 1
                if point not in row["points"]:
                    row["points"].append(point)
    return sorted(totals.values(), key=lambda row: (-row["recipients"], row["text"], row["component"]))


def _long_frame(done: Done, key: str) -> pd.DataFrame:
    frames = []
    for (point, replication), entry in sorted(done.items()):
        columns = entry.get(key) or {}
        if columns:
            frame = pd.DataFrame(columns)
            frame.insert(0, "replication", replication)
            frame.insert(0, "point", point)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _differences(scenario: Scenario, points: list[SweepPoint], ok: pd.DataFrame) -> pd.DataFrame:
    """Paired difference of each point's failure rate from its baseline partner."""
    baseline = scenario.sweep.baseline
    if not baseline or ok.empty:
        return pd.DataFrame()
    ((name, value),) = baseline.items()
    rows = []
    by_labels = {
        tuple(sorted(p.values.items(), key=lambda kv: kv[0])): p
        for p in points
        if all(not isinstance(v, (dict, list)) for v in p.values.values())
    }
    for point in points:
        if point.values.get(name) == value:
            continue
        partner_values = dict(point.values, **{name: value})
        partner = by_labels.get(tuple(sorted(partner_values.items(), key=lambda kv: kv[0])))
        if partner is None:
            continue
        mine = ok[ok["point"] == point.index].set_index("replication")["failure_rate"]
        theirs = ok[ok["point"] == partner.index].set_index("replication")["failure_rate"]
        common = sorted(set(mine.index) & set(theirs.index))
        interval = paired_difference(
            [mine[k] for k in common], [theirs[k] for k in common], within=RATE_DIFFERENCE
        )
        rows.append(
            {
                "point": point.index,
                **point.columns,
                "baseline_point": partner.index,
                f"{name}_baseline": partner.columns[name],
                "n": interval.n,
                "failure_rate_diff_mean": interval.mean,
                "failure_rate_diff_lo": interval.lo,
                "failure_rate_diff_hi": interval.hi,
            }
        )
    return pd.DataFrame(rows)


def write_results(
    experiment: Experiment, as_run: dict[str, Any], seed: int, replications: int, command: str | None = None
) -> None:
    import simpy

    import exsim

    out = experiment.out
    assert out is not None
    sort = ["point", "replication"]
    write_whole(
        out / "runs.csv",
        lambda p: (
            experiment.runs.sort_values(sort)
            .drop(columns=[c for c in ("traceback", "wall_s") if c in experiment.runs], errors="ignore")
            .to_csv(p, index=False)
        ),
    )
    write_whole(out / "summary.csv", lambda p: experiment.summary.to_csv(p, index=False))
    write_whole(
        out / "events.csv",
        lambda p: experiment.events.sort_values(["point", "replication", "time_s"], kind="stable").to_csv(
            p, index=False
        ),
    )
    if not experiment.series.empty:
        write_whole(out / "series.csv", lambda p: experiment.series.to_csv(p, index=False))
    if not experiment.latency.empty:
        write_whole(out / "latency.csv", lambda p: experiment.latency.to_csv(p, index=False))
    if not experiment.differences.empty:
        write_whole(out / "differences.csv", lambda p: experiment.differences.to_csv(p, index=False))
    summary = {
        "scenario": experiment.scenario.name,
        "scenario_hash": scenario_hash(as_run),
        # How to make these results again; None when they were made through the Python API.
        "command": command,
        "seed": seed,
        "replications": replications,
        "runs": len(experiment.runs),
        "failed_runs": experiment.failed,
        "wall_s": round(experiment.wall_s, 3),
        "versions": {
            "exsim": exsim.__version__,
            "python": platform.python_version(),
            "simpy": simpy.__version__,
        },
        "points": _records(experiment.summary),
        "differences": _records(experiment.differences),
        "ndr_examples": experiment.ndr_samples,
        "misdelivery_examples": experiment.misdelivery_samples,
        "ndr_generators": experiment.ndr_generators,
    }
    write_whole(
        out / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2, default=_json_default))
    )


def _records(frame: pd.DataFrame) -> list[Record]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
