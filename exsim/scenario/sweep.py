"""A scenario's sweep points: which combinations of the sweep variables' values are run,
and each point's scenario with those values in place.

Apart from :mod:`exsim.experiment` (which runs them) so that a command that only picks
one point, such as ``exsim trace --point``, does not import pandas and SciPy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from exsim.constraint import parse_constraint, stray_constant_problem
from exsim.names import listed, shortened
from exsim.scenario.load import validate_raw
from exsim.scenario.paths import Location, changed, overlap, sweep_label
from exsim.scenario.schema import Scenario, SweepVariable


@dataclass(frozen=True, slots=True)
class SweepPoint:
    index: int
    values: dict[str, Any]
    labels: dict[str, str]
    columns: dict[str, Any]
    """The variables as the results tables hold them (runs, summary, JSON): a variable of
    numbers (all ints or all floats) without labels holds the numbers themselves, so that
    ``summary[summary.users == 5]`` finds its rows; any other holds its labels (true/false
    as the scenario writes them), as the CSV files do."""

    def matches(self, wanted: dict[str, Any] | None) -> bool:
        """Whether this is a point ``wanted`` (an expectation's ``point``) names: each variable
        by its label or its value; no selection names every point."""
        if not wanted:
            return True
        return all(self.labels.get(k) == str(v) or self.values.get(k) == v for k, v in wanted.items())


def _numbers(variable: SweepVariable) -> bool:
    """Whether a variable's values are all ints or all floats, without labels: its results
    column holds the numbers themselves, which CSV writes exactly as their labels."""
    return not variable.labels and (
        all(type(v) is int for v in variable.values) or all(type(v) is float for v in variable.values)
    )


def _combinations(variables: list[SweepVariable]) -> Iterator[list[tuple[SweepVariable, int]]]:
    """Every combination of the variables' values, as (variable, value index) pairs, in the
    sweep's fixed order: a product over groups, lockstep inside a group."""
    groups: dict[str, list[SweepVariable]] = {}
    for variable in variables:
        groups.setdefault(variable.group or f"\0{variable.name}", []).append(variable)
    axes: list[list[list[tuple[SweepVariable, int]]]] = []
    for members in groups.values():
        size = len(members[0].values)
        axes.append([[(v, i) for v in members] for i in range(size)])
    for combination in itertools.product(*axes):
        yield list(itertools.chain.from_iterable(combination))


def _constraint_holds(scenario: Scenario) -> Callable[[dict[str, Any]], bool]:
    """The sweep's constraint as a test of one combination of values (always true without one)."""
    constraint = scenario.sweep.constraint
    if not constraint:
        return lambda values: True
    return parse_constraint(constraint, {v.name: v.values for v in scenario.sweep.variables}).holds


def expand_sweep(scenario: Scenario) -> list[SweepPoint]:
    """Every sweep point, in a fixed order (product over groups; lockstep inside a group).

    Never empty for a scenario that validated: a constraint that keeps no combination is
    refused then (:func:`no_points_problem`).
    """
    variables = scenario.sweep.variables
    if not variables:
        return [SweepPoint(0, {}, {}, {})]
    holds = _constraint_holds(scenario)
    points: list[SweepPoint] = []
    for combination in _combinations(variables):
        values: dict[str, Any] = {}
        labels: dict[str, str] = {}
        columns: dict[str, Any] = {}
        for variable, i in combination:
            value = values[variable.name] = variable.values[i]
            labels[variable.name] = variable.labels[i] if variable.labels else sweep_label(value)
            columns[variable.name] = value if _numbers(variable) else labels[variable.name]
        if not holds(values):
            continue
        points.append(SweepPoint(len(points), values, labels, columns))
    return points


def no_points_problem(scenario: Scenario) -> str | None:
    """Why the sweep would run nothing, or None when it has a point.

    Only a constraint can do it (every variable has at least one value, and lockstep groups
    are checked to be of one length): one that is false for every combination, such as
    ``version == '9'`` over the values '5.0' and '5.0-sp1'. An experiment of no runs has no
    results to write, so it is bad input, and the message lists the values the constraint was
    tried on. The combinations are tried until one is kept, at most the sweep's size (which
    validation bounds before this is asked).
    """
    variables = scenario.sweep.variables
    if not variables or not scenario.sweep.constraint:
        return None
    holds = _constraint_holds(scenario)
    for combination in _combinations(variables):
        if holds({variable.name: variable.values[i] for variable, i in combination}):
            return None
    tried = "; ".join(f"{v.name} = {listed(v.values)}" for v in variables)
    return (
        f"constraint {shortened(scenario.sweep.constraint)} is false for every combination of the sweep's values "
        f"(tried {tried}), so the sweep has no point to run; loosen the constraint or change the values"
    )


def stray_value_problem(scenario: Scenario) -> str | None:
    """Why the sweep's constraint tests a variable against something none of its values is, or
    None: ``version != '5.0-sp3'`` is true at every point, so a misspelt value silently keeps
    (or drops) everything. Asked after :func:`no_points_problem`, whose message (the values
    tried) says more when nothing is kept at all."""
    if not scenario.sweep.constraint:
        return None
    variables = {v.name: v.values for v in scenario.sweep.variables}
    return stray_constant_problem(parse_constraint(scenario.sweep.constraint, variables), variables)


def point_scenario(scenario: Scenario, point: SweepPoint) -> Scenario:
    """The scenario with a sweep point's values put in place (and no sweep of its own)."""
    raw = changed(
        scenario.raw,
        ((v.path, point.values[v.name]) for v in scenario.sweep.variables if v.name in point.values),
    )
    raw.pop("sweep", None)
    for expectation in raw.get("expect", []):
        expectation.pop("point", None)  # the point is chosen: no sweep variable is left to name
    return validate_raw(raw, scenario.source, sweep_point=True)


def swept_setting(scenario: Scenario, paths: Iterable[str]) -> tuple[str, SweepVariable, Location] | None:
    """The first of ``paths`` (each a ``--set PATH``, already put into ``scenario``) at or around a
    place a sweep variable sets, with that variable and the place; None when no variable touches
    any of them.

    Each sweep point puts its variables' values in place over the scenario, so a change made
    there beforehand is overwritten at every point: ``--set 'servers.*.version="5.0-sp2"'`` on a
    sweep over ``servers.*.version`` would still run 5.0 and SP1. A command that runs sweep
    points must refuse it rather than report numbers that are not what was asked. A path into the
    sweep itself (``sweep.variables...``) changes what the points are and is never overwritten.
    """
    for path in paths:
        for variable in scenario.sweep.variables:
            met = overlap(scenario.raw, path, variable.path)
            if met is not None:
                return path, variable, met[1]
    return None
