"""What serves the whole suite, the lessons (notebooks/) and the tests (tests/): its CPU time, test
by test, and xdist's distribution of the files over the workers.

A conftest.py at the repository's root, so that it serves both folders and `--cpu-durations` (in
pyproject.toml's addopts) is known however pytest is started, `pytest notebooks/01_x400_addresses.ipynb`
included."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from typing import Any

import pytest

# CPU time per test, the test process's own and its subprocesses' (`exsim` commands, a lesson's
# kernel, Dask workers): unlike --durations' wall time it does not grow when the machine is busy,
# so the list ranks what each test costs, wherever it ran. A subprocess counts once it has been
# waited for, for the test during which that happened. The session's fixtures end in the teardown
# of the last test a process runs: what that teardown costs (the browser that the session fixture
# 'chromium' keeps for all the browser tests of a process, Playwright's driver and Chromium, a few
# CPU-seconds) is listed on a line of its own, not as that test's. Each xdist worker sends its
# numbers with the teardown report (user_properties), and the run that prints the summary adds them
# up.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-durations",
        type=int,
        default=None,
        metavar="N",
        help="list the N tests that used the most CPU time, in-process and in subprocesses (0: all)",
    )


def _cpu_s() -> tuple[float, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # A lesson's kernel is the warm-kernel server's child, not this process's: the server says
    # what its ended kernels cost until it is itself waited for (then the figure above has them).
    kernels = _WARM_KERNELS.unreaped_cpu_s() if _WARM_KERNELS is not None else 0.0
    return time.process_time(), children.ru_utime + children.ru_stime + kernels


_START = pytest.StashKey[tuple[float, float]]()
_BY_TEST: dict[str, tuple[float, float]] = {}
#: The name under which the session's fixtures' teardown is listed, with the number of processes.
SESSION_TEARDOWN = (
    "(the session fixtures' teardown, {} process(es): the browser and the lessons' kernel server, if any)"
)
_SESSION_TEARDOWNS: list[tuple[float, float]] = []


# The lessons' kernels (nbmake's items): forked from one server per test process that has already
# imported what each kernel imports (tests/warm_kernels.py), started when the process meets its
# first lesson and ended with its last test. `--nbmake-kernel NAME` runs them in NAME's kernels.
_WARM_KERNELS: Any = None
_WARM_KERNELS_WANTED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    # The server waits for its kernels through Linux's pidfds: elsewhere, ordinary kernels.
    linux = hasattr(os, "pidfd_open")
    config.stash[_WARM_KERNELS_WANTED] = linux and getattr(config.option, "nbmake_kernel", "") is None


def _warm_kernels_for(item: pytest.Item) -> None:
    if getattr(item, "nbmake", False) and item.config.stash.get(_WARM_KERNELS_WANTED, False):
        from tests.warm_kernels import KERNEL_NAME

        _warm_kernels()
        item.config.option.nbmake_kernel = KERNEL_NAME


def _warm_kernels() -> Any:
    """This test process's warm-kernel server (tests/warm_kernels.py), started if need be."""
    global _WARM_KERNELS
    if _WARM_KERNELS is None:
        from tests.warm_kernels import WarmKernels

        _WARM_KERNELS = WarmKernels()
    return _WARM_KERNELS


@pytest.fixture
def warm_kernels() -> Any:
    """The server the lessons' kernels of this test process are forked from."""
    return _warm_kernels()


def _stop_warm_kernels() -> None:
    global _WARM_KERNELS
    if _WARM_KERNELS is not None:
        try:
            _WARM_KERNELS.stop()
        finally:
            _WARM_KERNELS = None


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_warm_kernels()  # a run that ended early (the last test's teardown ends it otherwise)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _warm_kernels_for(item)
    if item.config.getoption("cpu_durations") is not None:
        item.stash[_START] = _cpu_s()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    before = _cpu_s()
    yield
    if nextitem is None:  # the last test of this process: the warm kernels' server ends with it
        _stop_warm_kernels()
    start = item.stash.get(_START, None)
    if start is None:
        return
    # The teardown report is made after this hook: it carries the numbers.
    end = _cpu_s()
    if nextitem is None:  # the last test: its teardown ends the session's fixtures too
        item.user_properties.append(("session_cpu_s", _spent(end, before)))
        end = before
    item.user_properties.append(("cpu_s", _spent(end, start)))


def _spent(end: tuple[float, float], begin: tuple[float, float]) -> tuple[float, float]:
    return end[0] - begin[0], end[1] - begin[1]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name == "cpu_s":
                _BY_TEST[report.nodeid] = tuple(value)
            elif name == "session_cpu_s":
                _SESSION_TEARDOWNS.append(tuple(value))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    count = config.getoption("cpu_durations")
    if count is None or not _BY_TEST:
        return
    spent = dict(_BY_TEST)
    if _SESSION_TEARDOWNS:
        spent[SESSION_TEARDOWN.format(len(_SESSION_TEARDOWNS))] = (
            sum(o for o, _ in _SESSION_TEARDOWNS),
            sum(c for _, c in _SESSION_TEARDOWNS),
        )
    own = sum(o for o, _ in spent.values())
    children = sum(c for _, c in spent.values())
    ranked = sorted(spent.items(), key=lambda item: -sum(item[1]))
    shown = ranked[:count] if count > 0 else ranked
    what = f"{len(_BY_TEST)} tests and the session fixtures' teardown" if _SESSION_TEARDOWNS else "tests"
    terminalreporter.write_sep("=", f"most CPU time: {len(shown)} of {len(ranked)} ({what})")
    for nodeid, (o, c) in shown:
        terminalreporter.write_line(
            f"{o + c:6.2f}s cpu ({o:5.2f} in-process + {c:5.2f} subprocesses)  {nodeid}"
        )
    terminalreporter.write_line(
        f"all tests: {own + children:.1f} CPU-s ({own:.1f} in-process + {children:.1f} in subprocesses);"
        " collection and start-up not included"
    )


#: The test files whose tests use the session fixture 'chromium' (tests/conftest.py). With
#: `--dist loadfile` xdist hands each file to one worker; these go to the same one, so one
#: Chromium serves them all instead of one in each worker (Playwright's driver and the browser
#: cost about 2.5 CPU-seconds to start and stop). tests/test_browser_files.py keeps the list true.
BROWSER_TEST_FILES = frozenset({"tests/test_explore.py", "tests/test_report.py"})


#: The unit of work (see pytest_xdist_make_scheduler) that BROWSER_TEST_FILES make together.
BROWSER_TESTS = "the browser tests"

#: The unit of work that the lessons (notebooks/*.ipynb) make together: they run in one worker, so
#: that one warm-kernel server (tests/warm_kernels.py: about 3 CPU-seconds of imports to start)
#: serves all thirteen instead of one in each worker.
LESSONS = "the lessons"

#: The units of work that take longest (wall time on two workers, whole files), longest first:
#: xdist hands them out before the rest, so that the run ends with short files that the workers
#: share out evenly, not with one worker running a long file while the other has finished. Ranked
#: by a per-worker timeline of the suite (each file's first start to its last end); every other file
#: follows in collection order. tests/test_browser_files.py checks that each names a file (or the
#: lessons' or the browser tests' unit).
LONGEST_FIRST = (
    LESSONS,
    BROWSER_TESTS,
    "tests/test_plots.py",
    "tests/test_experiment.py",
    "tests/test_startup.py",
    "tests/test_hostile_conditions.py",
    "tests/test_notebook_magic.py",
    "tests/test_kb_mutations.py",
    "tests/test_sim.py",
    "tests/test_cli.py",
    "tests/test_warm_kernels.py",
    "tests/test_workload.py",
    "tests/test_expect.py",
    "tests/test_explain.py",
)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: known only where it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the browser tests' files one unit of work (see BROWSER_TEST_FILES),
    the lessons another (LESSONS), and the longest units handed out first (LONGEST_FIRST)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            if scope in BROWSER_TEST_FILES:
                return BROWSER_TESTS
            return LESSONS if scope.startswith("notebooks/") else scope

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the first assignment: the queue is complete, in collection order
                rank = {scope: index for index, scope in enumerate(LONGEST_FIRST)}
                queue = sorted(self.workqueue.items(), key=lambda unit: rank.get(unit[0], len(rank)))
                self.workqueue.clear()
                self.workqueue.update(queue)
                self.ordered = True
            super()._assign_work_unit(node)

    return LongestFirst(config, log)
