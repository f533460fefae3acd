"""Paths into scenario data, as sweep variables and ``--set`` write them.

``servers.RED-EX1.version`` names a key by the tables and array elements
(by index, by ``name`` or ``*``) that lead to it. Exchange names may hold dots
and spaces (a connector called ``X.400 Redmond-Tokyo``), so a segment may be
written in double quotes, ``connectors."X.400 Redmond-Tokyo".cost``, or in
brackets, ``connectors["X.400 Redmond-Tokyo"].cost``: :func:`path_segments`
is the one reader of this syntax.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

Location = tuple[str | int, ...]
"""A concrete place in parsed scenario data: the keys and array indexes that lead to it."""

# --- scenario paths (sweeps) ------------------------------------------------------


#: A scenario nests a handful of levels; a path longer than this names nothing real.
MAX_PATH_SEGMENTS = 32


class Quoted(str):
    """A path segment written in double quotes: always a key or a name, never ``*`` or an index."""

    __slots__ = ()


class PathSyntaxError(ValueError):
    """A path that cannot be read (an unclosed quote, an empty segment, too many segments)."""


def path_segments(path: str) -> list[str]:
    """The segments of a scenario path, in order.

    ``servers.*.version`` is three segments. A segment in double quotes is taken whole,
    dots, spaces and all (``connectors."X.400 Redmond-Tokyo".cost``; ``\\"`` and ``\\\\`` inside
    stand for a quote and a backslash) and is returned as :class:`Quoted`. The bracket form
    ``connectors["X.400 Redmond-Tokyo"]`` and ``connectors[2]`` is read the same way.
    Raises :class:`PathSyntaxError` saying what is wrong and where.
    """
    segments: list[str] = []
    i, n = 0, len(path)
    expect_segment = True
    while i < n:
        char = path[i]
        if not expect_segment:
            if char == ".":
                i, expect_segment = i + 1, True
                continue
            if char != "[":
                raise PathSyntaxError(f"path {path[:80]!r}: expected '.' or '[' at column {i + 1}")
        if char == "[":
            close = _bracket_end(path, i)
            inner = path[i + 1 : close].strip()
            if inner.startswith('"'):
                text, after = _quoted(path, path.index('"', i))
                if path[after:close].strip():
                    raise PathSyntaxError(f"path {path[:80]!r}: unexpected text after the quoted name")
                segments.append(Quoted(text))
            elif inner == "*" or inner.isdigit():
                segments.append(inner)
            else:
                raise PathSyntaxError(
                    f'path {path[:80]!r}: [{inner}] should be an index, * or a quoted name (e.g. ["{inner}"])'
                )
            i, expect_segment = close + 1, False
            continue
        if char == '"':
            text, i = _quoted(path, i)
            segments.append(Quoted(text))
        else:
            stop = i
            while stop < n and path[stop] not in '.[]"':
                stop += 1
            if stop == i and char == "]":
                raise PathSyntaxError(f"path {path[:80]!r}: a ] at column {i + 1} that no [ opened")
            if stop == i:
                raise PathSyntaxError(
                    f"path {path[:80]!r} has an empty segment (two dots, or a dot at an end)"
                )
            segments.append(path[i:stop])
            i = stop
        expect_segment = False
    if expect_segment:
        raise PathSyntaxError(f"path {path[:80]!r} has an empty segment (two dots, or a dot at an end)")
    if len(segments) > MAX_PATH_SEGMENTS:
        raise PathSyntaxError(
            f"path has {len(segments)} segments; a scenario path has at most {MAX_PATH_SEGMENTS}"
        )
    return segments


def _quoted(path: str, start: int) -> tuple[str, int]:
    """The text of the quoted segment opening at ``start`` and the index after its closing quote."""
    text: list[str] = []
    i = start + 1
    while i < len(path):
        char = path[i]
        if char == "\\" and i + 1 < len(path):
            text.append(path[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(text), i + 1
        text.append(char)
        i += 1
    raise PathSyntaxError(f"path {path[:80]!r}: the quote at column {start + 1} is never closed")


def _bracket_end(path: str, start: int) -> int:
    """The index of the ``]`` closing the bracket at ``start`` (a quoted name may hold one)."""
    i = start + 1
    while i < len(path):
        if path[i] == '"':
            i = _quoted(path, i)[1]
            continue
        if path[i] == "]":
            return i
        i += 1
    raise PathSyntaxError(f"path {path[:80]!r}: the [ at column {start + 1} is never closed")


def format_path(segments: list[str]) -> str:
    """A path as a user writes it: segments that need quotes (a dot, space, quote, ``*`` or
    index meant as a name) in double quotes."""
    shown = []
    for segment in segments:
        plain = segment and not any(c in segment for c in '.[]" ') and not isinstance(segment, Quoted)
        if plain:
            shown.append(segment)
        else:
            shown.append('"' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ".".join(shown)


def split_assignment(setting: str) -> tuple[str, str] | None:
    """``PATH=VALUE`` split at the first ``=`` outside a quoted segment, or None without one."""
    i = 0
    while i < len(setting):
        if setting[i] == '"':
            try:
                i = _quoted(setting, i)[1]
            except PathSyntaxError:  # an unclosed quote: the path's reader will say so
                path, equals, value = setting.partition("=")
                return (path.strip(), value) if equals else None
            continue
        if setting[i] == "=":
            return setting[:i].strip(), setting[i + 1 :]
        i += 1
    return None


def path_problem(path: str) -> str | None:
    """Why a path cannot be read (see :func:`path_segments`), or None."""
    try:
        path_segments(path)
    except PathSyntaxError as exc:
        return str(exc)
    return None


def resolve_path(raw: Any, path: str) -> list[Location]:
    """Concrete locations a sweep path names in parsed scenario data.

    Segments are keys of tables; in an array of tables a segment is an index,
    the ``name`` of an element, or ``*`` for every element (a quoted segment is
    only ever a key or a name). Tables and keys that are absent are named all
    the same (setting them creates them); only an array element that does not
    exist makes a path match nothing (:func:`why_nothing` says what is there).
    """
    return _walk(raw, path)[0]


def overlap(raw: Any, path: str, other: str) -> tuple[Location, Location] | None:
    """The first place two paths meet in parsed scenario data, as a location of each, or None.

    They meet where a location of one is a location of the other or holds it: ``servers.*.version``,
    ``servers.RED-EX1.version``, ``servers.0`` and ``servers`` all meet at the first server's
    version (names, indexes and ``*`` are all resolved against ``raw`` first), while
    ``servers.0.users`` and ``servers.*.version`` never do.
    """
    theirs = resolve_path(raw, other)
    for mine in resolve_path(raw, path):
        for at in theirs:
            if mine[: len(at)] == at or at[: len(mine)] == mine:
                return mine, at
    return None


def why_nothing(raw: Any, path: str) -> str:
    """Why a path that resolves to nothing does: the first array where no element matched,
    what its elements are called, and a did-you-mean (a name holding a dot must be quoted)."""
    return _walk(raw, path)[1] or f"path {path!r} matches nothing in the scenario"


def _walk(raw: Any, path: str) -> tuple[list[Location], str | None]:
    try:
        parts = path_segments(path)
    except PathSyntaxError:
        return [], None  # validation reports it; nothing so shaped exists
    found: list[Location] = []
    missed: list[str] = []

    def walk(node: Any, rest: list[str], at: Location) -> None:
        if not rest:
            found.append(at)
            return
        head, tail = rest[0], rest[1:]
        if isinstance(node, list):
            literal = isinstance(head, Quoted)
            matched = False
            for index, item in enumerate(node):
                name = item.get("name") if isinstance(item, dict) else None
                if (not literal and (head == "*" or head == str(index))) or head == name:
                    matched = True
                    walk(item, tail, at + (index,))
            if not matched and not missed:
                missed.append(_no_element(node, parts, len(at), head))
        elif isinstance(node, dict):
            if head == "*" and not isinstance(head, Quoted):
                for key, value in node.items():
                    walk(value, tail, at + (key,))
            elif head in node:
                walk(node[head], tail, at + (head,))
            else:
                # An absent table or key: setting it creates it (the schema judges the result).
                walk({}, tail, at + (head,))

    walk(raw, parts, ())
    return found, (missed[0] if missed else None)


def _no_element(node: list[Any], parts: list[str], depth: int, head: str) -> str:
    """What to say when no element of an array is ``head``: its elements' names, and the
    likely meaning (a dotted name split at its dots, a misspelling)."""
    from exsim.names import closest  # names.py is a leaf; imported here to keep paths.py light

    array = format_path(parts[:depth]) or "the scenario"
    names = [item["name"] for item in node if isinstance(item, dict) and isinstance(item.get("name"), str)]
    there = (
        f"its elements are {', '.join(repr(n) for n in names[:12])}{', ...' if len(names) > 12 else ''}"
        f" (or an index 0-{len(node) - 1}, or *)"
        if names
        else f"it has {len(node)} element(s): use an index 0-{len(node) - 1} or *"
        if node
        else "it is empty"
    )
    message = f"no element of {array} is {head!r}; {there}"
    for count in range(len(parts) - depth, 1, -1):  # the longest run of segments that is a name
        joined = ".".join(parts[depth : depth + count])
        if joined in names:
            fixed = format_path(parts[:depth] + [Quoted(joined)] + parts[depth + count :])
            return f"{message}; a name holding a dot goes in double quotes: {fixed}"
    close = closest(head, names)
    if close is None:
        return message
    return f"{message}; did you mean {format_path(parts[:depth] + [close] + parts[depth + 1 :])}?"


def set_path(raw: dict[str, Any], location: Location, value: Any) -> None:
    """Set the value at one location, creating the tables on the way."""
    node: Any = raw
    for part in location[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    node[location[-1]] = value


class PathMatchesNothing(LookupError):
    """A path that names no place in the scenario (an array element that does not exist);
    the message says what is there instead."""

    def __init__(self, path: str, why: str | None = None):
        self.path = path
        self.why = why or f"path {path!r} matches nothing in the scenario"
        super().__init__(self.why)


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
            raise PathMatchesNothing(path, why_nothing(data, path))
        for location in locations:
            set_path(data, location, copy.deepcopy(value))
    return data


def sweep_label(value: Any) -> str:
    """How a sweep value without an explicit label is shown in tables and selected by expectations."""
    if isinstance(value, str):
        return value
    import json  # here: validating a scenario without a sweep need not import it

    return json.dumps(value)


def named_sweep_value(values: Sequence[Any], labels: Sequence[Any] | None, wanted: Any) -> tuple[bool, Any]:
    """``(True, value)`` for the value of a sweep variable that ``wanted`` names, else ``(False, None)``.

    The one rule for naming a sweep value, wherever one is named (``exsim run --baseline VAR=VALUE``,
    ``sweep.baseline`` in the file, an expectation's ``point``): its label first (the ``labels``
    given, or how :func:`sweep_label` shows the value), then the value itself, also as text."""
    shown = list(labels) if labels and len(labels) == len(values) else [sweep_label(v) for v in values]
    for index, label in enumerate(shown):
        if isinstance(wanted, str) and wanted == label:
            return True, values[index]
    for value in values:
        if wanted == value:
            return True, value
    for value in values:
        if isinstance(wanted, str) and wanted in (str(value), sweep_label(value)):
            return True, value
    return False, None
