"""Scenario files: TOML in, a validated :class:`Scenario` out.

This package is the only place that knows the file format. A scenario names an
organization, its sites (with site addresses), servers, connectors, the
workload, timed events, sweep variables and run settings. Loading happens in
three steps and reports *every* problem at once, each with the file, the line,
the path inside the file (``servers[2].site``) and what to do about it:

1. TOML syntax (``tomllib``; the first syntax error stops everything),
2. the schema (:mod:`exsim.scenario.schema`; unknown keys get a did-you-mean),
3. cross-references pydantic cannot see (:mod:`exsim.references`): unknown or
   duplicate names, sites no connector reaches, servers in a site without an
   X.400 address, sweep paths that match nothing.

:mod:`~exsim.scenario.load` does the reading and locates lines;
:mod:`~exsim.scenario.paths` resolves the dotted paths sweeps and ``--set`` use.
The schema's classes describe the *file* (``scenario.Server`` is a table of it);
the simulation's runtime objects live in :mod:`exsim.sim`.
"""

from exsim.scenario.load import (
    Locator,
    format_path,
    load_scenario,
    parse_toml,
    validate_raw,
)
from exsim.scenario.paths import resolve_path, set_path
from exsim.scenario.schema import *  # noqa: F403  (the schema is this package's public face)
from exsim.scenario.schema import Problem, Scenario, ScenarioError, json_schema, scenario_hash
from exsim.scenario.size import estimated_recipients

__all__ = [
    "Locator",
    "Problem",
    "Scenario",
    "ScenarioError",
    "estimated_recipients",
    "format_path",
    "json_schema",
    "load_scenario",
    "parse_toml",
    "resolve_path",
    "scenario_hash",
    "set_path",
    "validate_raw",
]
