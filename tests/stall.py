"""Stop a sweep at a known run, so a signal lands between the same two runs every time.

Tests of Ctrl-C, SIGTERM and ``kill -9`` need the sweep to be *mid-way* when the
signal comes. Waiting for "a few rows" and hoping the rest take longer is a race
a busy machine loses. Instead, :func:`stalled_sweep_env` gives a subprocess an
environment whose ``sitecustomize`` (imported by every interpreter that starts
with it, pool workers included) wraps ``exsim.sim.simulate``: the first
``runs_before`` calls, counted across processes by files created exclusively in
a gate directory, run normally; every later call marks itself stalled and waits
forever. The test waits for those marks, so it signals a sweep that has finished
exactly ``runs_before`` runs and cannot finish another.

Every wait here is bounded, and :func:`started` kills what a test started
(the process and everything it started in turn) however the test ends: a stalled
sweep left behind would otherwise sleep for ever.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The longest a test waits for a subprocess to finish. Generous: only a hang exceeds it, and a
#: hang then fails the test with a message instead of stopping the suite.
PROCESS_LIMIT_S = 240.0

SITECUSTOMIZE = """
import os
import time

_gate = os.environ.get("EXSIM_TEST_STALL_DIR")
if _gate:
    import exsim.sim

    _real = exsim.sim.simulate
    _limit = int(os.environ["EXSIM_TEST_STALL_AFTER"])

    def _simulate(*args, **kwargs):
        number = 0
        while True:  # claim the next run number, across processes
            try:
                os.close(os.open(os.path.join(_gate, f"run-{number}"), os.O_CREAT | os.O_EXCL))
                break
            except FileExistsError:
                number += 1
        if number >= _limit:
            open(os.path.join(_gate, f"stalled-{number}"), "w").close()
            while True:
                time.sleep(3600)
        return _real(*args, **kwargs)

    exsim.sim.simulate = _simulate
"""


def stalled_sweep_env(tmp_path: Path, runs_before: int) -> tuple[dict[str, str], Path]:
    """An environment for ``exsim run`` that stalls after ``runs_before`` runs; and the gate."""
    site = tmp_path / "stall-site"
    gate = tmp_path / "stall-gate"
    site.mkdir()
    gate.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (str(site), root, os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "EXSIM_TEST_STALL_DIR": str(gate),
        "EXSIM_TEST_STALL_AFTER": str(runs_before),
    }
    return env, gate


def stalled(gate: Path) -> int:
    """How many runs are stalled (each holds one worker for good)."""
    return len(list(gate.glob("stalled-*")))


def wait_for(condition: Callable[[], bool], what: str, limit_s: float = PROCESS_LIMIT_S) -> None:
    """Poll ``condition`` until it holds; fail, rather than hang, if it never comes."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` with text output captured and a bound on the wait."""
    return subprocess.run(command, capture_output=True, text=True, timeout=PROCESS_LIMIT_S, **options)


@contextlib.contextmanager
def started(command: list[str], **options: Any) -> Iterator[subprocess.Popen[str]]:
    """A process in a session of its own; when the block ends, it and every process it started
    (pool workers, a stalled run) are killed and reaped."""
    process = subprocess.Popen(command, text=True, start_new_session=True, **options)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=60)


@contextlib.contextmanager
def stalled_sweep(
    command: list[str], tmp_path: Path, out: Path, runs_before: int, stalled_runs: int, **options: Any
) -> Iterator[subprocess.Popen[str]]:
    """``exsim run`` (``command``, writing to ``out``) :func:`started` with the stall, once
    ``runs_before`` runs are in its journal and ``stalled_runs`` more are stalled for good."""
    env, gate = stalled_sweep_env(tmp_path, runs_before)
    journal = out / "runs.jsonl"

    def there() -> bool:
        rows = journal.read_text().count("\n") if journal.exists() else 0
        return stalled(gate) == stalled_runs and rows == runs_before

    with started(command, env=env, **options) as process:
        wait_for(there, f"{runs_before} finished run(s) and {stalled_runs} stalled")
        yield process
