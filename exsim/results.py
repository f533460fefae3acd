"""Reading a results directory back: the scenario as run and its tables.

``exsim plot`` and ``exsim report`` start from a directory that ``exsim run``
wrote, perhaps on another machine; everything they show comes from the files
listed here, never from running the simulation again.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from exsim import arguments
from exsim.columns import BOOK_COUNTS
from exsim.scenario import Scenario, validate_raw

#: What each file of a results directory holds (README "Results" says the same to users).
RESULTS_FILES = {
    "scenario.toml": "the scenario as run (seed and replications filled in)",
    "runs.jsonl": "journal: one line per finished run, appended at once (what --resume reads)",
    "runs.csv": "one row per sweep point and replication",
    "summary.csv": "mean and 95 % interval per sweep point",
    "summary.json": "the run command, the summary, paired differences, NDR texts with their generators, versions, wall time",
    "differences.csv": "paired difference of each point from its baseline partner (with a baseline)",
    "events.csv": "the NT application event log of every server in every run",
    "series.csv": "per run and interval: deliveries, NDRs per generating server, mail held per server",
    "latency.csv": "per run: the delivered-latency histogram (bin upper edge, count)",
    "tracking/": "message tracking logs, one file per server and simulated day (with --tracking)",
    "plots/": "the figures (with --plot or exsim plot)",
    "report.html": "the self-contained report (with --report or exsim report)",
}


class DamagedResults(ValueError):
    """A file of a results directory that cannot be read as exsim wrote it (edited, cut short,
    overwritten); the message starts with the file's name."""

    def __init__(self, name: str, exc: BaseException) -> None:
        lines = str(exc).strip().splitlines()
        super().__init__(f"{name}: {lines[0] if lines else type(exc).__name__}")
        self.file = name


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Read ``path`` of a results directory: what cannot be parsed (TOML, CSV, JSON, UTF-8 and
    scenario errors are all ValueErrors) becomes :class:`DamagedResults` naming the file."""
    try:
        yield
    except DamagedResults:
        raise
    except (ValueError, RecursionError) as exc:
        raise DamagedResults(path.name, exc) from exc


@dataclass
class Results:
    """A results directory, read: the scenario as run and every table in it (empty when absent)."""

    directory: Path
    scenario: Scenario
    summary: pd.DataFrame
    runs: pd.DataFrame
    series: pd.DataFrame
    latency: pd.DataFrame
    events: pd.DataFrame
    differences: pd.DataFrame
    meta: dict[str, Any]
    """summary.json: versions, wall time, NDR examples and generators."""

    @property
    def variables(self) -> list[str]:
        return [v.name for v in self.scenario.sweep.variables]

    def point_label(self, point: int) -> str:
        """``version=5.0-sp1, site_address=without p=`` (or ``as written`` without a sweep)."""
        row = self.summary[self.summary["point"] == point]
        if row.empty or not self.variables:
            return "as written"
        return ", ".join(f"{v}={row.iloc[0][v]}" for v in self.variables)


def read_results(directory: str | Path) -> Results:
    """Read a results directory written by ``exsim run --out DIR``.

    A file that cannot be parsed raises :class:`DamagedResults`, which names it."""
    directory = arguments.path("directory", directory)
    source = directory / "scenario.toml"
    if not source.is_file():
        raise FileNotFoundError(
            f"{directory}: not a results directory (no scenario.toml); "
            "make one with run_experiment(scenario, out=DIR) or exsim run --out DIR"
        )
    with reading(source):
        scenario = validate_raw(tomllib.loads(source.read_text(encoding="utf-8")), str(source))

    def read(name: str) -> pd.DataFrame:
        path = directory / name
        if not path.exists() or path.stat().st_size == 0:
            return pd.DataFrame()
        with reading(path):
            # Sweep labels stay text ("5.0" is a build, not a number).
            return pd.read_csv(path, dtype={v.name: str for v in scenario.sweep.variables})

    meta_path = directory / "summary.json"
    meta: dict[str, Any] = {}
    if meta_path.exists():
        with reading(meta_path):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise DamagedResults(meta_path.name, ValueError("not a JSON object"))
    elif any((directory / name).exists() for name in WRITTEN_TOGETHER):
        # exsim run writes summary.json with runs.csv and summary.csv, even when interrupted:
        # without it the report would lose the NDR texts and their generators without a word.
        present = " and ".join(name for name in WRITTEN_TOGETHER if (directory / name).exists())
        raise DamagedResults(meta_path.name, ValueError(f"missing, where {present} are written with it"))
    summary, runs = read("summary.csv"), read("runs.csv")
    check_runs_whole(directory / "runs.csv", runs, summary, meta)
    check_runs_columns(directory / "runs.csv", runs, [v.name for v in scenario.sweep.variables])
    check_runs_books(directory / "runs.csv", runs)
    return Results(
        directory,
        scenario,
        summary,
        runs,
        read("series.csv"),
        read("latency.csv"),
        read("events.csv"),
        read("differences.csv"),
        meta,
    )


def check_runs_whole(path: Path, runs: pd.DataFrame, summary: pd.DataFrame, meta: Mapping[str, Any]) -> None:
    """Raise :class:`DamagedResults` when ``runs.csv`` holds fewer runs than the directory records.

    ``exsim run`` writes runs.csv, summary.csv and summary.json together, from the same finished
    runs, and whole (a temporary renamed into place), even when it is interrupted: an interrupted
    run's runs.csv has fewer rows than the experiment has runs, but exactly as many as
    summary.json's ``runs`` and at least summary.csv's ``n`` added up (failed runs have a row and
    no n). A runs.csv that disagrees with them, whose last line has no newline, or with a row of
    fewer fields than its heading was cut short or edited afterwards: it is damaged, not a run
    to resume, and a report of it would count the wrong runs.
    """
    if path.exists() and path.stat().st_size > 0:
        with reading(path), open(path, "rb") as raw:
            raw.seek(-1, 2)
            if raw.read(1) != b"\n":
                raise DamagedResults(path.name, ValueError("cut short (its last line has no newline)"))
        with reading(path), open(path, encoding="utf-8", newline="") as text:
            rows = csv.reader(text)
            heading = next(rows, [])
            for row in rows:
                if len(row) != len(heading):
                    raise DamagedResults(
                        path.name,
                        ValueError(f"line {rows.line_num} has {len(row)} fields, the heading {len(heading)}"),
                    )
    recorded = meta.get("runs")
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded != len(runs):
        raise DamagedResults(
            path.name, ValueError(f"{len(runs)} runs, where summary.json records {recorded}")
        )
    if "n" in summary:
        counted = pd.to_numeric(summary["n"], errors="coerce").fillna(0).sum()
        if counted > len(runs):
            raise DamagedResults(
                path.name, ValueError(f"{len(runs)} runs, where summary.csv counts {int(counted)} (n)")
            )


#: The files ``exsim run`` writes with summary.json, every time it writes results (interrupted too).
WRITTEN_TOGETHER = ("runs.csv", "summary.csv")


def check_runs_columns(path: Path, runs: pd.DataFrame, variables: Sequence[str]) -> None:
    """Raise :class:`DamagedResults` when ``runs.csv`` lacks a column every run's row has: the
    point, each sweep variable, the replication, its seed and the books (an interrupted run's
    runs.csv, even with no row, has its heading)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    needed = ["point", *variables, "replication", "seed", *BOOK_COUNTS]
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise DamagedResults(path.name, ValueError(f"lacks the {', '.join(missing)} column(s)"))


def check_runs_books(path: Path, runs: pd.DataFrame) -> None:
    """Raise :class:`DamagedResults` when a finished run's row of ``runs.csv`` does not balance.

    Every recipient ends in exactly one outcome, so each run that did not fail has whole,
    non-negative counts with ``recipients == delivered + misdelivered + ndr + pending``; a row
    that breaks this was edited (a failed run's row has an error and no counts)."""
    if runs.empty:
        return
    failed = (
        runs["error"].astype("string").fillna("") != ""
        if "error" in runs
        else pd.Series(False, index=runs.index)
    )
    books = {column: pd.to_numeric(runs[column], errors="coerce") for column in BOOK_COUNTS}
    for i in runs.index[~failed]:
        where = f"the run of point {runs.at[i, 'point']}, replication {runs.at[i, 'replication']}"
        counts = {}
        for column in BOOK_COUNTS:
            value = float(books[column].at[i])
            if not math.isfinite(value) or value < 0 or value != int(value):
                raise DamagedResults(
                    path.name, ValueError(f"{where} has {column} = {runs.at[i, column]!r}, not a count")
                )
            counts[column] = int(value)
        parts = counts["delivered"] + counts["misdelivered"] + counts["ndr"] + counts["pending"]
        if counts["recipients"] != parts:
            raise DamagedResults(
                path.name,
                ValueError(
                    f"{where} has recipients = {counts['recipients']}, but delivered + misdelivered"
                    f" + ndr + pending = {parts}"
                ),
            )


def rounded_outcomes(row: Mapping[str, Any], parts: Sequence[str]) -> dict[str, int] | None:
    """A summary row's mean recipients and mean outcomes, in whole recipients that add up.

    Every recipient ends in exactly one outcome (delivered, misdelivered, an NDR with one
    diagnostic, or pending), so the means of ``parts`` (columns such as ``delivered`` or
    ``ndr_invalid-arguments``, read as ``<part>_mean``) add up to the mean recipients. Rounded
    one by one they need not (8,033.6 + 449.6 = 8,483.2 prints as 8,034 + 450 = 8,483); here
    the total is rounded and shared out by largest remainder, so the row printed adds up as the
    books do. None for a point with no finished run (its means are NaN).
    """
    values = [float(row.get(f"{part}_mean", 0.0)) for part in parts]
    total = float(row["recipients_mean"])
    if math.isnan(total) or any(math.isnan(v) for v in values):
        return None
    floors = [math.floor(v) for v in values]
    left = min(max(round(total) - sum(floors), 0), len(parts))
    by_remainder = sorted(range(len(parts)), key=lambda i: (floors[i] - values[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return {"recipients": round(total), **dict(zip(parts, floors, strict=True))}


def listing(directory: str | Path) -> list[str]:
    """The files and folders a results directory really holds (folders end in ``/``), sorted."""
    directory = Path(directory)
    return sorted(
        p.name + ("/" if p.is_dir() else "") for p in directory.iterdir() if not p.name.startswith(".")
    )
