"""Hostile input: scenario files written to attack, refused with exit 2, file:line, and nothing run.

A scenario is something people download and share, so everything in it is data.
Each case here is a file (or command line) a hostile tester tried, the exit code
it must give and a fragment of its one-line message. Everything runs in-process
through click's runner, so the module stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exsim.cli import cli

# The constraint sits on line 22 of this file; the messages must say so.
TEMPLATE = """\
[organization]
name = "Contoso"

[[sites]]
name = "Redmond"
addresses = {{ x400 = "c=US;a= ;p=Contoso;o=Redmond", smtp = "@redmond.contoso.com" }}

[[servers]]
name = "RED-EX1"
site = "Redmond"
users = 2

[[connectors]]
name = "IMS"
kind = "ims"
server = "RED-EX1"

[run]
duration = "10m"

[sweep]
constraint = {constraint}

[[sweep.variables]]
name = "version"
path = "servers.*.version"
values = ["5.0", "5.0-sp1"]
"""
CONSTRAINT_LINE = 22


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def scenario_with_constraint(directory: Path, constraint: str) -> Path:
    path = directory / "hostile.toml"
    # A JSON string is a valid TOML basic string (the same escapes), whatever it holds.
    path.write_text(TEMPLATE.format(constraint=json.dumps(constraint)))
    return path


def assert_refused(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    assert fragment in result.output, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# Each would create MARKER if any part of exsim executed it; {marker} is its path.
EXECUTING = {
    "subclasses_escape": (
        (
            "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
            ".__init__.__globals__['system']('touch {marker}') == 0"
        ),
        "attribute access is not allowed in a constraint (at '.__class__')",
    ),
    "dunder_import": (
        "__import__('os').system('touch {marker}') == 0",
        "attribute access is not allowed in a constraint (at '.system')",
    ),
    "lambda": (
        "(lambda: __import__('pathlib').Path('{marker}').touch())() is None",
        "attribute access is not allowed in a constraint (at '.Path')",
    ),
    "open_call": ("open('{marker}', 'w') != 0", "a function call is not allowed in a constraint"),
    "comprehension": (
        "[open('{marker}', 'w') for version in ('x',)] != []",
        "a function call is not allowed in a constraint",
    ),
    "walrus_in_comprehension": (
        "[(x := open('{marker}', 'w')) for y in 'a'] != 0",
        "a function call is not allowed in a constraint",
    ),
}


@pytest.mark.parametrize("name", EXECUTING)
def test_a_constraint_that_would_run_code_is_refused_and_nothing_runs(name, tmp_path):
    marker = tmp_path / "MARKER"
    text, fragment = EXECUTING[name]
    path = scenario_with_constraint(tmp_path, text.format(marker=marker))
    out = tmp_path / "results"
    for command in (("validate", str(path)), ("run", str(path), "--out", str(out), "--quiet")):
        result = invoke(*command)
        assert_refused(result, f"{path}:{CONSTRAINT_LINE}: sweep.constraint: {fragment}")
    assert not marker.exists(), "the constraint was executed"
    assert not out.exists()


@pytest.mark.parametrize(
    ("constraint", "fragment"),
    [
        (
            "().__class__.__bases__[0].__subclasses__()",
            "attribute access is not allowed in a constraint (at '.__class__')",
        ),
        ("version[0] == '5'", "subscripting is not allowed in a constraint (at 'version[0]')"),
        ("len(version) == 3", "a function call is not allowed in a constraint (at 'len(version)')"),
        ("9**9**9 > 0", "the operator '**' is not allowed in a constraint (at '9**9**9')"),
        ("{v for v in 'ab'} == 1", "a comprehension is not allowed"),
        ("version == (version := '5.0')", "assignment (:=) is not allowed in a constraint"),
        (
            "version == '5.0' or " * 5_000 + "True",
            "constraint is 100,004 characters long; the limit is 1,000",
        ),
        ("(" * 5_000 + "version" + ")" * 5_000, "constraint is 10,007 characters long"),
        ("(" * 300 + "version == '5.0'" + ")" * 300, "constraint nests brackets more than 20 deep"),
        ("-" * 999 + "1", "constraint nests operators more than 20 deep"),
        ("not " * 240 + "True", "constraint nests operators more than 20 deep"),
        ("version < 5", "constraint cannot compute version < 5 for the values '5.0' and 5"),
        ("verson == '5.0'", "unknown variable(s) verson; did you mean 'version'?"),
        ("version == '5.0\u0000'", "not a valid expression"),
    ],
    ids=[
        "subclasses",
        "subscript",
        "call",
        "huge_power",
        "set_comprehension",
        "walrus",
        "100k_characters",
        "5000_parentheses",
        "300_parentheses",
        "999_signs",
        "240_nots",
        "str_vs_int",
        "misspelt",
        "nul",
    ],
)
def test_validate_refuses_constraints_outside_the_language(constraint, fragment, tmp_path):
    path = scenario_with_constraint(tmp_path, constraint)
    result = invoke("validate", str(path))
    assert_refused(result, f"{path}:{CONSTRAINT_LINE}: sweep.constraint: ")
    assert fragment in result.output


def test_a_valid_constraint_still_selects_points(tmp_path):
    path = scenario_with_constraint(tmp_path, "version in ('5.0-sp1',) and not version == '5.0'")
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    out = tmp_path / "results"
    result = invoke("run", str(path), "--out", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    runs = (out / "runs.csv").read_text().splitlines()
    assert len(runs) == 2  # the header and the one point kept
    assert ",5.0-sp1," in runs[1]
