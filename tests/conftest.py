"""Shared fixtures: paths, and a small valid scenario to mutate."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import tomli_w
from hypothesis import settings

# Property tests are deterministic and take the time they take: the same examples on every
# run (a failure seen once is seen again), no example database carried between runs, and no
# per-example deadline -- Hypothesis' default 200 ms fails tests on a busy machine, not on a bug.
settings.register_profile("exsim", derandomize=True, database=None, deadline=None)
settings.load_profile("exsim")

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
    series, latency, events and NDRs from two servers (about 2 s of simulation)."""
    from exsim.experiment import run_experiment
    from exsim.scenario import validate_raw
    from tests.simkit import two_ims

    out = tmp_path_factory.mktemp("two_ims")
    run_experiment(validate_raw(two_ims()), workers=1, out=out, replications=2)
    return out
