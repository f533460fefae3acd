"""The suite's own CPU report (conftest.py at the root, ``--cpu-durations``): a subprocess counts for
the test that waited for it, and what the session's fixtures cost to end is a line of its own, not
the last test's."""

from __future__ import annotations

import re
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"

TESTS = """
import subprocess
import sys

import pytest


def child():
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)


@pytest.fixture(scope="session")
def kept():
    yield
    child()  # ended with the session, in the last test's teardown


def test_first(kept):
    pass


def test_waits_for_a_child():
    child()


def test_last():
    pass
"""


def listed(output: str) -> dict[str, tuple[float, float]]:
    lines = re.findall(
        r"(\d+\.\d\d)s cpu \( *(\d+\.\d\d) in-process \+ *(\d+\.\d\d) subprocesses\)  (.+)", output
    )
    return {name.split("::")[-1]: (float(own), float(children)) for _, own, children, name in lines}


def test_the_session_teardown_is_listed_apart_from_the_last_test(pytester, monkeypatch):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makepyfile(test_spent=TESTS)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only this conftest, no xdist
    result = pytester.runpytest("--cpu-durations=0")
    result.assert_outcomes(passed=3)
    spent = listed(result.stdout.str())
    assert set(spent) == {
        "test_first",
        "test_waits_for_a_child",
        "test_last",
        "(the session fixtures' teardown, 1 process(es): the browser and the lessons' kernel server, if any)",
    }
    session = spent[
        "(the session fixtures' teardown, 1 process(es): the browser and the lessons' kernel server, if any)"
    ]
    assert spent["test_waits_for_a_child"][1] > 0  # its own child
    assert session[1] > 0  # the session fixture's child, waited for as the session ended
    assert spent["test_last"][1] == 0  # not the last test's
    assert spent["test_first"][1] == 0
    result.stdout.fnmatch_lines(["*most CPU time: 4 of 4 (3 tests and the session fixtures' teardown)*"])
