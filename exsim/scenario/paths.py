"""Paths into scenario data, as sweep variables and ``--set`` write them.

``servers.RED-EX1.version`` names a key by the tables and array elements
(by index, by ``name`` or ``*``) that lead to it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

Location = tuple[str | int, ...]
"""A concrete place in parsed scenario data: the keys and array indexes that lead to it."""

# --- scenario paths (sweeps) ------------------------------------------------------


#: A scenario nests a handful of levels; a path longer than this names nothing real.
MAX_PATH_SEGMENTS = 32


def path_problem(path: str) -> str | None:
    """Why a dotted path cannot name anything (too many or empty segments), or None."""
    parts = path.split(".")
    if len(parts) > MAX_PATH_SEGMENTS:
        return f"path has {len(parts)} segments; a scenario path has at most {MAX_PATH_SEGMENTS}"
    if "" in parts:
        return f"path {path[:80]!r} has an empty segment (two dots, or a dot at an end)"
    return None


def resolve_path(raw: Any, path: str) -> list[Location]:
    """Concrete locations a dotted sweep path names in parsed scenario data.

    Segments are keys of tables; in an array of tables a segment is an index,
    the ``name`` of an element, or ``*`` for every element. Tables and keys
    that are absent are named all the same (setting them creates them); only
    an array element that does not exist makes a path match nothing.
    """
    if path_problem(path) is not None:
        return []  # validation reports it; nothing so shaped exists
    parts = path.split(".")
    found: list[Location] = []

    def walk(node: Any, rest: list[str], at: Location) -> None:
        if not rest:
            found.append(at)
            return
        head, tail = rest[0], rest[1:]
        if isinstance(node, list):
            for index, item in enumerate(node):
                name = item.get("name") if isinstance(item, dict) else None
                if head == "*" or head == str(index) or head == name:
                    walk(item, tail, at + (index,))
        elif isinstance(node, dict):
            if head == "*":
                for key, value in node.items():
                    walk(value, tail, at + (key,))
            elif head in node:
                walk(node[head], tail, at + (head,))
            else:
                # An absent table or key: setting it creates it (the schema judges the result).
                walk({}, tail, at + (head,))

    walk(raw, parts, ())
    return found


def set_path(raw: dict[str, Any], location: Location, value: Any) -> None:
    """Set the value at one location, creating the tables on the way."""
    node: Any = raw
    for part in location[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    node[location[-1]] = value


class PathMatchesNothing(LookupError):
    """A path that names no place in the scenario (an array element that does not exist)."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(f"path {path!r} matches nothing in the scenario")


def changed(raw: dict[str, Any], changes: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A copy of parsed scenario data with each ``(path, value)`` put in place, in order.

    The one way a scenario is changed without editing its file: ``Scenario.modified``
    (the API, ``--baseline``) and ``--set PATH=VALUE`` (every command that reads a
    scenario) both come here. A later change to the same place wins, as a later
    ``--set`` does. Raises :class:`PathMatchesNothing` for a path naming nothing.
    """
    data = copy.deepcopy(raw)
    for path, value in changes:
        locations = resolve_path(data, path)
        if not locations:
            raise PathMatchesNothing(path)
        for location in locations:
            set_path(data, location, copy.deepcopy(value))
    return data


def sweep_label(value: Any) -> str:
    """How a sweep value without an explicit label is shown in tables and selected by expectations."""
    return value if isinstance(value, str) else json.dumps(value)
