"""exsim: a discrete-event simulator of a Microsoft Exchange Server 5.0 organization.

Public API::

    from exsim import load_scenario
    scenario = load_scenario("scenarios/q166866.toml")
"""

from exsim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario"]
__version__ = "0.1.0"
