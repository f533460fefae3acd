"""exsim: a discrete-event simulator of a Microsoft Exchange Server 5.0 organization.

Public API::

    from exsim import load_scenario, simulate, run_experiment
    scenario = load_scenario("scenarios/q166866.toml")
    result = simulate(scenario, seed=1)          # one replication, as written
    experiment = run_experiment(scenario)        # every sweep point x replication
    experiment.summary                           # pandas DataFrame

The names are imported on first use (PEP 562), not when ``exsim`` is: the
command line imports ``exsim.cli``, which imports the package first, and a
command such as ``exsim --help`` or ``exsim validate`` must not pay for pandas
(which ``run_experiment`` needs) or SimPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exsim.experiment import Experiment, run_experiment
    from exsim.scenario import Scenario, ScenarioError, load_scenario
    from exsim.sim import RunResult, simulate

# Each public name and the module that defines it.
_HOMES = {
    "Experiment": "exsim.experiment",
    "run_experiment": "exsim.experiment",
    "Scenario": "exsim.scenario",
    "ScenarioError": "exsim.scenario",
    "load_scenario": "exsim.scenario",
    "RunResult": "exsim.sim",
    "simulate": "exsim.sim",
}

__all__ = [
    "Experiment",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run_experiment",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'exsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups find it without calling here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
