"""Loading a scenario file: TOML text in, a validated :class:`Scenario` out.

Loading reports *every* problem at once, each with the file, the line, the
path inside the file (``servers[2].site``) and what to do about it. tomllib
keeps no line numbers, so :class:`Locator` finds them in the text.
"""

from __future__ import annotations

import errno
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from exsim import arguments
from exsim.names import did_you_mean, shortened
from exsim.references import crash_problems, reference_problems, scenario_warnings
from exsim.scenario.paths import Location, changed, resolve_path
from exsim.scenario.schema import (
    PATTERN_RULES,
    Problem,
    Scenario,
    ScenarioError,
)
from exsim.scenario.size import size_problem

# --- locating paths in the TOML text -------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_LINE = re.compile(r'^\s*((?:[A-Za-z0-9_-]+|"[^"]*")(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"))*)\s*=')


def _split_dotted(key: str) -> list[str]:
    return [part.strip().strip('"') for part in re.findall(r'"[^"]*"|[^.]+', key)]


class Locator:
    """Line numbers of keys and tables in a TOML text (tomllib keeps none)."""

    def __init__(self, text: str):
        self.lines: dict[Location, int] = {}
        arrays: dict[Location, int] = {}
        current: Location = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                resolved: Location = ()
                for part in _split_dotted(header[2]):
                    resolved += (part,)
                    if resolved in arrays and resolved != tuple(_split_dotted(header[2])):
                        resolved += (arrays[resolved],)
                if header[1] == "[[":
                    arrays[resolved] = arrays.get(resolved, -1) + 1
                    current = resolved + (arrays[resolved],)
                else:
                    current = resolved
                self.lines.setdefault(current, number)
                continue
            key = _KEY_LINE.match(line)
            if key:
                self.lines.setdefault(current + tuple(_split_dotted(key[1])), number)

    def line_of(self, path: Location) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def format_path(path: Location) -> str:
    """``('servers', 2, 'site')`` -> ``'servers[2].site'``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- loading ------------------------------------------------------------------


def _model_for(annotation: Any, raw: Any) -> Any:
    """The pydantic model class that validates ``raw`` under ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _model_for(typing.get_args(annotation)[0], raw)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        for option in typing.get_args(annotation):
            if isinstance(option, type) and issubclass(option, BaseModel):
                kind = option.model_fields.get("kind")
                if kind is None or (
                    isinstance(raw, dict) and raw.get("kind") in typing.get_args(kind.annotation)
                ):
                    return option
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _walk(loc: Location, raw: Any) -> tuple[Location, type[BaseModel] | None]:
    """Drop union tags from a pydantic error location; find the parent model of its last key."""
    clean: list[str | int] = []
    model: Any = Scenario
    node: Any = raw
    annotation: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            clean.append(part)
            node = node[part] if isinstance(node, list) and part < len(node) else None
            args = typing.get_args(annotation)
            if typing.get_origin(annotation) is Annotated:
                args = typing.get_args(args[0])
            annotation = args[0] if args else None
            model = _model_for(annotation, node)
            continue
        if model is None or part not in model.model_fields:
            if isinstance(node, dict) and node.get("kind") == part:
                continue  # the discriminator tag pydantic puts in the location
            clean.append(part)
            node = node.get(part) if isinstance(node, dict) else None
            model = None
            continue
        clean.append(part)
        annotation = model.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
        model = _model_for(annotation, node)
    return tuple(clean), model


def _schema_problems(
    exc: ValidationError, raw: dict[str, Any], source: str, locator: Locator
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        path, _ = _walk(tuple(error["loc"]), raw)
        kind = error["type"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            _, parent = _walk(tuple(error["loc"])[:-1], raw)
            key = str(path[-1])
            choices = list(parent.model_fields) if parent else []
            message = f"unknown key {key!r}{did_you_mean(key, choices)}"
            if not did_you_mean(key, choices) and choices:
                message += f" (allowed: {', '.join(choices)})"
        elif kind == "missing":
            message = f"missing required key {str(path[-1])!r}"
        elif kind == "union_tag_invalid":
            message = (
                f"{message} (got {error.get('input', {}).get('kind')!r})"
                if isinstance(error.get("input"), dict)
                else message
            )
        elif kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") in PATTERN_RULES:
            message = f"{shortened(str(error['input']))} is refused: {PATTERN_RULES[error['ctx']['pattern']]}"
        elif kind not in ("value_error",):
            value = error.get("input")
            if isinstance(value, str) and len(value) > 60:  # a 5,000-character name: say so, briefly
                message = f"{message} (got {shortened(value)}, {len(value):,} characters)"
            elif not isinstance(value, (dict, list)):
                message = f"{message} (got {value!r})"
        problems.append(Problem(source, locator.line_of(path), format_path(path), message))
    return problems


#: A scenario is a few kilobytes of TOML; anything far larger is not one (or is /dev/zero).
MAX_SCENARIO_BYTES = 16 * 1024 * 1024
#: Tables and arrays nest a few levels in any real scenario; deeper is refused before anything
#: recursive (pydantic, deepcopy, the sweep) meets it.
MAX_NESTING = 32


def _read(path_or_text: str | Path) -> tuple[str, str]:
    """(text, source name); a path to a file or the TOML text itself.

    Only a regular file is read (a FIFO would block, ``/dev/zero`` never ends),
    at most :data:`MAX_SCENARIO_BYTES`; a UTF-8 byte-order mark is accepted.
    """
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and "=" not in path_or_text
    ):
        path = Path(path_or_text)
        source = str(path)

        def refuse(message: str) -> ScenarioError:
            return ScenarioError([Problem(source, None, "", message)])

        try:
            try:
                path.stat()
            except FileNotFoundError:
                if path.is_symlink():  # the link is there; what it points to is not
                    raise refuse(f"a symbolic link to {os.readlink(path)}, which does not exist") from None
                raise refuse("no such file") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise refuse("a symbolic link that loops (it leads back to itself), not a file") from None
                raise
            if path.is_dir():
                raise refuse("is a directory, not a scenario file")
            if not path.is_file():
                raise refuse("not a regular file (a pipe, a device or a socket); a scenario is a TOML file")
            with path.open("rb") as handle:
                data = handle.read(MAX_SCENARIO_BYTES + 1)
        except OSError as exc:
            raise refuse(f"cannot read: {exc.strerror or exc}") from None
        if len(data) > MAX_SCENARIO_BYTES:
            raise refuse(f"larger than {MAX_SCENARIO_BYTES // 2**20} MiB; a scenario is a small TOML file")
        try:
            return data.decode("utf-8").removeprefix("\ufeff"), source
        except UnicodeDecodeError:
            raise refuse("not a text file (not UTF-8); a scenario is a TOML file") from None
    return str(path_or_text).removeprefix("\ufeff"), "<text>"


def _too_deep(text: str) -> tuple[int, Location] | None:
    """Where the TOML text first nests deeper than :data:`MAX_NESTING`: (line, location).

    Read from the text, not from parsed data: tomllib parses nested arrays and inline tables
    recursively, so a file nested a few hundred levels deep never parses at all, and parsed data
    keeps no line numbers. A location counts the table header (with the index of each ``[[array]]``
    element), the dotted key, then each array index and inline-table key on the way in.
    """
    arrays: dict[Location, int] = {}
    table: Location = ()
    inside: list[list[Any]] = []  # open brackets: ["[", index] or ["{", key or None]
    key = ""  # the (dotted) key being written, or the key of the value being read
    at: Location = ()  # the key whose value is being read
    line, line_start = 1, 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line, line_start = line + 1, i + 1
            key = key if inside else ""
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\" and c == '"':
                    j += 1
                elif text[j] == "\n" and len(quote) == 1:
                    break  # an unclosed string: the parser reports it
                j += 1
            if text.count("\n", i, j):
                line += text.count("\n", i, j)
                line_start = text.rfind("\n", i, j) + 1
            key += text[i : j + len(quote)]
            i = j + len(quote)
            continue
        elif not inside and c == "[" and not text[line_start:i].strip():  # a table header
            end = text.find("\n", i)
            header = _HEADER.match(text[i : n if end < 0 else end])
            if header:
                table = ()
                parts = _split_dotted(header[2])
                for part in parts:
                    table += (part,)
                    if table in arrays and len(table) < len(parts):
                        table += (arrays[table],)
                if header[1] == "[[":
                    arrays[table] = arrays.get(table, -1) + 1
                    table += (arrays[table],)
                if len(table) > MAX_NESTING:
                    return line, table
                i = n if end < 0 else end
                continue
        elif c == "=" and (not inside or inside[-1][0] == "{"):
            if inside:
                inside[-1][1] = _split_dotted(key.strip())
            else:
                at = (*table, *_split_dotted(key.strip()))
            key = ""
        elif c in "[{":
            inside.append(["[", 0] if c == "[" else ["{", None])
            where: Location = at
            for kind, value in inside[:-1]:
                where += (value,) if kind == "[" else tuple(value or ())
            if len(where) > MAX_NESTING:  # the container just opened sits at len(where)
                return line, where
            key = ""
        elif c in "]}" and inside:
            inside.pop()
        elif c == "," and inside:
            if inside[-1][0] == "[":
                inside[-1][1] += 1
            key = ""
        else:
            key += c
        i += 1
    return None


def _nests_too_deep(data: Any) -> bool:
    """Whether parsed tables and arrays nest deeper than :data:`MAX_NESTING` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        items = node.values() if isinstance(node, dict) else node
        stack.extend((value, depth + 1) for value in items if isinstance(value, (dict, list)))
    return False


def _nesting_problem(text: str, source: str) -> Problem:
    """The problem of a text nested too deep: its line and the path to where it happened, shown up
    to a few levels past the key."""
    found = _too_deep(text)
    line, at = found if found is not None else (None, ())
    shown = format_path(at[:8]) + ("..." if len(at) > 8 else "")
    return Problem(
        source,
        line,
        shown,
        f"nested more than {MAX_NESTING} levels deep; a scenario's tables and arrays nest a few levels "
        "at most: look for brackets or braces opened and never closed",
    )


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML to a dict; a syntax error becomes a :class:`ScenarioError` with its line."""
    empty = Problem(
        source, None, "", "the file is empty; a scenario needs [organization], [[sites]] and [[servers]]"
    )
    if not text.strip():
        raise ScenarioError([empty])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match[1]) if match else None
        if line is None and "end of document" in str(exc):
            line = len(text.rstrip("\n").splitlines())
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ScenarioError([Problem(source, line, "", f"TOML syntax error: {message}")]) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ScenarioError([_nesting_problem(text, source)]) from None
    if not data:  # only comments and blank lines
        raise ScenarioError([empty])
    if _nests_too_deep(data):
        raise ScenarioError([_nesting_problem(text, source)])
    return data


def load_scenario(path_or_text: str | Path, *, check: bool = True, simulated: bool = True) -> Scenario:
    """Read, validate and cross-check a scenario; raise :class:`ScenarioError` listing every problem.

    ``simulated=False`` is for a caller that will not run it (``exsim show``, ``gwart``, ``route``,
    ``explore``): the scenario must still fit in memory, but how long its runs would take does
    not matter."""
    # A number is neither a path nor TOML text (42 would otherwise be read as the text "42").
    arguments.path("path_or_text", path_or_text, what="a path (a str or a pathlib.Path) or TOML text")
    text, source = _read(path_or_text)
    raw = parse_toml(text, source)
    return validate_raw(raw, source, text, simulated=simulated)


def validate_raw(
    raw: dict[str, Any],
    source: str = "<scenario>",
    text: str = "",
    *,
    simulated: bool = True,
    set_by: typing.Sequence[tuple[str, str]] = (),
    sweep_point: bool = False,
) -> Scenario:
    """Validate already-parsed data (a file, or a sweep point of one).

    ``set_by`` lists the ``(path, setting)`` of each ``--set PATH=VALUE`` already put into
    ``raw`` (``text`` is the file's own text): a warning about a key one of them gave names
    that setting, since the file's line would show a value that is no longer there; the
    others keep their file:line. ``sweep_point``: ``raw`` is a point of a sweep, whose file
    was validated whole (see :func:`exsim.references.reference_problems`).
    """
    locator = Locator(text)
    problems: list[Problem] = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems += _schema_problems(exc, raw, source, locator)
    for path, message in reference_problems(raw, locator.line_of, sweep_point=sweep_point):
        problems.append(Problem(source, locator.line_of(path), format_path(path), message))
    if scenario is not None and not problems:
        # Size first: a sweep of 10^6 values must be refused, not tried value by value.
        problems += _size_problems(scenario, source, locator, simulated)
        if not problems:
            problems += _sweep_value_problems(raw, source, locator, simulated)
        if not problems:
            problems += _no_point_problems(scenario, source, locator)
        if not problems:
            problems += _expectation_point_problems(scenario, source, locator)
        if not problems:
            problems += _mailbox_address_problems(scenario, source, locator)
        if not problems:
            problems += [
                Problem(source, locator.line_of(path), format_path(path), message)
                for path, message in crash_problems(scenario)
            ]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ScenarioError(problems)
    assert scenario is not None
    scenario._source = source
    scenario._raw = raw
    scenario._text = text
    scenario._set_by = list(set_by)
    given = [(at, setting) for path, setting in set_by for at in resolve_path(raw, path)]

    def located(path: Location, message: str) -> Problem:
        # The last --set at or above the key is the one whose value it holds.
        setting = next((setting for at, setting in reversed(given) if path[: len(at)] == at), None)
        if setting is not None:
            return Problem(f"{source} as changed by --set {setting}", None, format_path(path), message)
        return Problem(source, locator.line_of(path), format_path(path), message)

    scenario._warnings = [located(path, message) for path, message in scenario_warnings(scenario)]
    return scenario


def _size_problems(scenario: Scenario, source: str, locator: Locator, simulated: bool) -> list[Problem]:
    found = size_problem(scenario, simulated=simulated)
    if found is None:
        return []
    at, message = found
    return [Problem(source, locator.line_of(at), format_path(at), message)]


def _no_point_problems(scenario: Scenario, source: str, locator: Locator) -> list[Problem]:
    """A sweep whose constraint keeps no combination of values (an experiment of no runs), or
    one that tests a variable against a value it does not have (the same at every point)."""
    from exsim.scenario.sweep import no_points_problem, stray_value_problem  # sweep.py imports this module

    message = no_points_problem(scenario) or stray_value_problem(scenario)
    if message is None:
        return []
    at = ("sweep", "constraint")
    return [Problem(source, locator.line_of(at), format_path(at), message)]


def _expectation_point_problems(scenario: Scenario, source: str, locator: Locator) -> list[Problem]:
    """An [[expect]] block on a sweep point the constraint removes could only fail: no run of that
    point is made for it to check."""
    from exsim.scenario.sweep import expand_sweep  # sweep.py validates points through this module

    if not scenario.sweep.constraint or not any(e.point for e in scenario.expect):
        return []
    points = expand_sweep(scenario)
    problems = []
    for index, expectation in enumerate(scenario.expect):
        if expectation.point and not any(point.matches(expectation.point) for point in points):
            at = ("expect", index, "point")
            wanted = ", ".join(f"{k} = {v!r}" for k, v in expectation.point.items())
            problems.append(
                Problem(
                    source,
                    locator.line_of(at),
                    format_path(at),
                    f"the sweep constraint {shortened(scenario.sweep.constraint)} keeps no point with "
                    f"{wanted}, so this expectation could only fail; change the point or the constraint",
                )
            )
    return problems


def _mailbox_address_problems(scenario: Scenario, source: str, locator: Locator) -> list[Problem]:
    """A mailbox expectation naming its mailbox by an address (``alias@domain``, an X.400
    address, ...) rather than its alias: the directory must know that address as some mailbox's
    proxy, or the expectation would count nothing. Asked once the size is checked: the directory
    holds every mailbox."""
    from exsim.address import classify_recipient
    from exsim.scenario.schema import MailboxExpectation

    by_address = [
        (index, e.alias)
        for index, e in enumerate(scenario.expect)
        if isinstance(e, MailboxExpectation) and classify_recipient(e.alias)[0] != "ALIAS"
    ]
    if not by_address:
        return []
    from exsim.org import Organization  # the directory; org.py builds on this package

    org = Organization(scenario)
    problems = []
    for index, address in by_address:
        try:
            org.mailbox_meant(address)
        except LookupError as exc:
            at = ("expect", index, "alias")
            problems.append(Problem(source, locator.line_of(at), format_path(at), str(exc)))
    return problems


def _sweep_value_problems(
    raw: dict[str, Any], source: str, locator: Locator, simulated: bool
) -> list[Problem]:
    """Each sweep value, put in place alone, must give a valid scenario."""
    problems = []
    variables = raw.get("sweep", {}).get("variables", [])
    # A point's scenario, without the sweep: copying and validating the sweep's own lists again
    # for each of their values made a sweep of n values cost n^2 (90,000 values: minutes).
    single = {key: value for key, value in raw.items() if key != "sweep"}
    for index, variable in enumerate(variables):
        for k, value in enumerate(variable["values"]):
            trial = changed(single, [(variable["path"], value)])
            path = ("sweep", "variables", index, "values", k)
            try:
                scenario = Scenario.model_validate(trial)
            except ValidationError as exc:
                for problem in _schema_problems(exc, trial, source, Locator("")):
                    problems.append(
                        Problem(
                            source,
                            locator.line_of(path),
                            format_path(path),
                            f"value {value!r} for {variable['path']!r} gives {problem.path}: {problem.message}",
                        )
                    )
                continue
            # The scenario as written may fit while its biggest sweep value does not: each value's
            # point must pass the size check its run will meet (memory, mail, hours), or the run
            # would fail at that point, after it had begun writing its results.
            too_big = size_problem(scenario, simulated=simulated)
            # So must its timed events (a crash moved into another's downtime), which only the
            # point's own times show: refused here at the value, not when the point is run.
            for at, message in ([too_big] if too_big is not None else []) + crash_problems(scenario):
                problems.append(
                    Problem(
                        source,
                        locator.line_of(path),
                        format_path(path),
                        f"value {value!r} for {variable['path']!r} gives {format_path(at)}: {message}",
                    )
                )
    return problems
