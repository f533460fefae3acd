"""A scenario's sweep points: which combinations of the sweep variables' values are run,
and each point's scenario with those values in place.

Apart from :mod:`exsim.experiment` (which runs them) so that a command that only picks
one point, such as ``exsim trace --point``, does not import pandas and SciPy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from exsim.constraint import parse_constraint
from exsim.scenario.load import validate_raw
from exsim.scenario.paths import changed, sweep_label
from exsim.scenario.schema import Scenario, SweepVariable


@dataclass(frozen=True, slots=True)
class SweepPoint:
    index: int
    values: dict[str, Any]
    labels: dict[str, str]


def expand_sweep(scenario: Scenario) -> list[SweepPoint]:
    """Every sweep point, in a fixed order (product over groups; lockstep inside a group)."""
    variables = scenario.sweep.variables
    if not variables:
        return [SweepPoint(0, {}, {})]
    groups: dict[str, list[SweepVariable]] = {}
    for variable in variables:
        groups.setdefault(variable.group or f"\0{variable.name}", []).append(variable)
    axes: list[list[list[tuple[SweepVariable, int]]]] = []
    for members in groups.values():
        size = len(members[0].values)
        axes.append([[(v, i) for v in members] for i in range(size)])
    constraint = scenario.sweep.constraint
    holds = (
        parse_constraint(constraint, {v.name: v.values for v in variables}).holds
        if constraint
        else (lambda values: True)
    )
    points: list[SweepPoint] = []
    for combination in itertools.product(*axes):
        values: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for variable, i in itertools.chain.from_iterable(combination):
            values[variable.name] = variable.values[i]
            labels[variable.name] = variable.labels[i] if variable.labels else sweep_label(variable.values[i])
        if not holds(values):
            continue
        points.append(SweepPoint(len(points), values, labels))
    return points


def point_scenario(scenario: Scenario, point: SweepPoint) -> Scenario:
    """The scenario with a sweep point's values put in place (and no sweep of its own)."""
    raw = changed(
        scenario.raw,
        ((v.path, point.values[v.name]) for v in scenario.sweep.variables if v.name in point.values),
    )
    raw.pop("sweep", None)
    for expectation in raw.get("expect", []):
        expectation.pop("point", None)  # the point is chosen: no sweep variable is left to name
    return validate_raw(raw, scenario.source)
