"""Shared fixtures: paths, and a small valid scenario to mutate."""

from __future__ import annotations

import contextlib
import copy
import fcntl
import gc
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from hypothesis import settings

# Property tests are deterministic and take the time they take: the same examples on every
# run (a failure seen once is seen again), no example database carried between runs, and no
# per-example deadline -- Hypothesis' default 200 ms fails tests on a busy machine, not on a bug.
settings.register_profile("exsim", derandomize=True, database=None, deadline=None)
settings.load_profile("exsim")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection left in memory out of the garbage collector's way.

    By now a test process has imported pandas, matplotlib, pydantic, SimPy and every test module:
    about 190,000 objects that live until the end, which every full collection would walk
    again. gc.freeze() moves them to a permanent generation that collections skip; the tests'
    own objects are collected as before. Measured with gc.callbacks over tests/ on two workers:
    9.8 CPU-s of collections (a tenth of the workers' own CPU time) became 7.6."""
    gc.collect()
    gc.freeze()


ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

BASE: dict = {
    "organization": {"name": "Contoso"},
    "sites": [
        {
            "name": "Redmond",
            "addresses": {"x400": "c=US;a= ;p=Contoso;o=Redmond", "smtp": "@redmond.contoso.com"},
        },
        {"name": "Dublin", "addresses": {"x400": "c=IE;a= ;p=Contoso;o=Dublin"}},
    ],
    "servers": [
        {"name": "RED-EX1", "site": "Redmond", "users": 2},
        {"name": "DUB-EX1", "site": "Dublin", "users": 2},
    ],
    "connectors": [
        {"name": "Redmond-Dublin", "kind": "site", "sites": ["Redmond", "Dublin"]},
        {"name": "IMS", "kind": "ims", "server": "RED-EX1"},
    ],
}


@pytest.fixture
def base() -> dict:
    """A deep copy of a small valid scenario, as parsed TOML."""
    return copy.deepcopy(BASE)


def to_toml(data: dict) -> str:
    return tomli_w.dumps(data)


@pytest.fixture(scope="session")
def two_ims_results(tmp_path_factory):
    """A results directory of :func:`tests.simkit.two_ims`: 8 sweep points x 2 replications, with
    series, latency, events and NDRs from two servers (about 2 s of simulation).

    Built once per test run, not once per xdist worker: the first worker to need it builds it in
    the run's shared temporary directory under a lock, and every worker gets its own copy (the
    plot and report tests write into it)."""
    from exsim.experiment import run_experiment
    from exsim.scenario import validate_raw
    from tests.simkit import two_ims

    base = tmp_path_factory.getbasetemp()
    shared_root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = shared_root / "two_ims_results"
    with exclusive(shared_root / "two_ims_results.lock"):
        if not shared.exists():
            partial = shared_root / "two_ims_results.partial"
            shutil.rmtree(partial, ignore_errors=True)
            run_experiment(validate_raw(two_ims()), workers=1, out=partial, replications=2)
            partial.rename(shared)  # whole or absent: a worker never copies a half-built directory
    out = tmp_path_factory.mktemp("two_ims")
    shutil.copytree(shared, out, dirs_exist_ok=True)
    return out


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test this test process runs: starting Playwright's
    driver and the browser cost about 2 CPU-seconds a test. Each test opens its page in a browser
    context of its own (:func:`tests.browser.offline_page`), so no test sees another's state. Skips,
    saying how to install them, where Chromium or Playwright is missing."""
    from tests.browser import headless_chromium

    with headless_chromium() as browser:
        yield browser


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; another process holding it is waited for, boundedly
    (the lock goes with its holder's process, however that ends)."""
    from tests.stall import wait_for

    with path.open("a") as handle:

        def taken() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_for(taken, f"the lock {path}")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
