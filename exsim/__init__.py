"""exsim: a discrete-event simulator of a Microsoft Exchange Server 5.0 organization.

Public API::

    from exsim import load_scenario, simulate, run_experiment
    scenario = load_scenario("scenarios/q166866.toml")
    result = simulate(scenario, seed=1)          # one replication, as written
    experiment = run_experiment(scenario)        # every sweep point x replication
    experiment.summary                           # pandas DataFrame
"""

from exsim.experiment import Experiment, run_experiment
from exsim.scenario import Scenario, ScenarioError, load_scenario
from exsim.sim import RunResult, simulate

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
