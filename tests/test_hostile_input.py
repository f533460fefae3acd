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
from exsim.names import safe_file_name

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


# --- names are data --------------------------------------------------------------------
# Two sites joined by a site connector, a server in each, an IMS on the first: every name
# is filled in by the test. The lines: site names 7 and 11, server names 15 and 20,
# connector names 25 and 30.
NAMED = """\
name = {scenario}

[organization]
name = "Contoso"

[[sites]]
name = {site_a}
addresses = {{ x400 = "c=US;a= ;p=Contoso;o=Redmond", smtp = "@redmond.contoso.com" }}

[[sites]]
name = {site_b}
addresses = {{ x400 = "c=US;a= ;p=Contoso;o=Dublin" }}

[[servers]]
name = {server_a}
site = {site_a}
users = 20

[[servers]]
name = {server_b}
site = {site_b}
users = 20

[[connectors]]
name = {connector_a}
kind = "site"
sites = [{site_a}, {site_b}]

[[connectors]]
name = {connector_b}
kind = "ims"
server = {server_a}

[workload]
profile = "heavy"
spread = "all_day"
mix = {{ same_server = 0.2, same_site = 0.0, other_site = 0.5, internet = 0.3, msmail = 0.0, distribution_list = 0.0 }}

[run]
duration = "10m"
"""
PLAIN = {
    "scenario": "names",
    "site_a": "Redmond",
    "site_b": "Dublin",
    "server_a": "RED-EX1",
    "server_b": "DUB-EX1",
    "connector_a": "Site Connector",
    "connector_b": "IMS",
}


def named_scenario(directory: Path, **names: str) -> Path:
    path = directory / "named.toml"
    values = {**PLAIN, **names}
    path.write_text(NAMED.format(**{k: json.dumps(v) for k, v in values.items()}))
    return path


def files_below(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*") if p.is_file()}


def test_a_server_name_cannot_put_tracking_logs_outside_the_results(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = named_scenario(work, server_a="RED/../../../../escaped", server_b="DUB\\..\\..\\escaped")
    out = work / "out"
    result = invoke("run", str(path), "--out", str(out), "--tracking", "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert files_below(tmp_path) - files_below(out) == {path}, "a file was written outside --out"
    folders = sorted(p.name for p in (out / "tracking" / "point0-rep0").iterdir())
    # The names as safe file names: separators and '..' replaced, a hash of the name appended.
    assert folders == sorted(
        [safe_file_name("RED/../../../../escaped"), safe_file_name("DUB\\..\\..\\escaped")]
    )
    assert all(f.startswith(("RED_", "DUB_")) and "/" not in f and ".." not in f for f in folders)


def test_a_scenario_name_cannot_put_the_default_results_directory_elsewhere(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    path = named_scenario(work, scenario="../../../escaped")
    monkeypatch.chdir(work)
    result = invoke("run", str(path), "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    made = list((work / "results").iterdir())
    assert len(made) == 1
    assert made[0].name.startswith(safe_file_name("../../../escaped") + "-")
    assert files_below(tmp_path) - files_below(made[0]) == {path}


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        (
            {"site_b": "STRASSE", "site_a": "Straße"},
            "named.toml:11: sites[1].name: duplicate site name 'STRASSE' "
            "(the same as 'Straße' at sites[0], line 7, ignoring case and Unicode form)",
        ),
        (
            # 'Zürich' composed (NFC) and decomposed (NFD): two spellings of one name.
            {"server_a": "Z\u00fcrich", "server_b": "Zu\u0308rich"},
            "named.toml:20: servers[1].name: duplicate server name 'Zu\u0308rich' "
            "(the same as 'Z\u00fcrich' at servers[0], line 15, ignoring case and Unicode form)",
        ),
        (
            {"connector_b": "site connector"},
            "named.toml:30: connectors[1].name: duplicate connector name 'site connector' "
            "(the same as 'Site Connector' at connectors[0], line 25",
        ),
        (
            {"site_a": "Red\u202emond"},
            "named.toml:7: sites[0].name: name 'Red\\u202emond' contains U+202E RIGHT-TO-LEFT OVERRIDE",
        ),
        ({"server_b": "DUB\u2066EX1"}, "contains U+2066 LEFT-TO-RIGHT ISOLATE"),
        ({"connector_a": "Site\u200bConnector"}, "contains U+200B ZERO WIDTH SPACE"),
        ({"server_a": "RED\u0085EX1"}, "contains U+0085 control character"),
        ({"scenario": "names\u202e"}, "named.toml:1: name: name 'names\\u202e' contains U+202E"),
    ],
    ids=[
        "case_fold",
        "nfc_nfd",
        "case",
        "bidi_override",
        "bidi_isolate",
        "zero_width",
        "c1_control",
        "scenario",
    ],
)
def test_names_that_are_the_same_or_hide_characters_are_refused(names, fragment, tmp_path):
    path = named_scenario(tmp_path, **names)
    for command in (("validate", str(path)), ("run", str(path), "--out", str(tmp_path / "out"))):
        result = invoke(*command)
        assert_refused(result, fragment)
    assert not (tmp_path / "out").exists()


MARKUP = {
    "scenario": "names[/]",
    "site_a": "Red[/]mond",
    "site_b": "Dub[bold]lin",
    "server_a": "RED[/]EX1",
    "server_b": "DUB[red]EX1",
    "connector_a": "Site[/]Connector",
    "connector_b": "IMS[bold]",
}


@pytest.mark.parametrize(
    "command",
    [
        ("show",),
        ("gwart",),
        ("gwart", "--site", "Red[/]mond"),
        ("route", "--from", "DUB[red]EX1", "--to", "someone@example.com"),
        ("trace", "--message", "1"),
    ],
    ids=["show", "gwart", "gwart_site", "route", "trace"],
)
def test_rich_markup_in_names_is_printed_as_spelt(command, tmp_path):
    path = named_scenario(tmp_path, **MARKUP)
    result = invoke(command[0], str(path), *command[1:])
    assert result.exit_code == 0, result.output
    shown = [name for name in MARKUP.values() if name in result.output]
    assert len(shown) >= 2, result.output  # each command names at least a site and a server
    assert "Red[/]mond" in result.output or "DUB[red]EX1" in result.output


def test_rich_markup_in_names_is_printed_as_spelt_by_run_and_validate(tmp_path):
    path = named_scenario(tmp_path, **MARKUP)
    result = invoke("run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "names[/]: recipients by outcome" in result.output  # the table's title
    bad = named_scenario(tmp_path, **{**MARKUP, "server_b": "[/]DUB"})
    result = invoke("validate", str(bad))
    assert_refused(result, "servers[1].name: '[/]DUB' is refused: a name starts with a letter or digit")
    assert "'[/]DUB'" in result.output
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(path.read_text().replace('site = "Dub[bold]lin"', 'site = "Dub[bold]lim"'))
    result = invoke("validate", str(unknown))
    assert_refused(result, "unknown site 'Dub[bold]lim'; did you mean 'Dub[bold]lin'?")


NAME_RULE = (
    "a name starts with a letter or digit (A-Z, a-z, 0-9; not '.', '-', '[', '_' or a space), does not "
    "end with a space, and holds no tabs or line breaks"
)


@pytest.mark.parametrize(
    ("where", "value", "rule"),
    [
        ("servers.0.name", ".hidden", NAME_RULE),
        ("servers.0.name", "../../x", NAME_RULE),
        ("sites.0.name", "[bold]Redmond", NAME_RULE),
        ("connectors.0.name", "-IMS", NAME_RULE),
        ("servers.0.name", "RED-EX1 ", NAME_RULE),
        (
            "servers.0.mailboxes",
            [{"alias": "J Smith", "surname": "Smith"}],
            "an alias is letters, digits, '.'",
        ),
        (
            "connectors.0.address_spaces",
            [{"type": "smtp", "pattern": "*"}],
            "an address type is 1 to 8 capital letters or digits",
        ),
        ("workload.working_hours", "9-17", "working hours are written HH:MM-HH:MM, two digits each"),
        (
            "sweep",
            {"variables": [{"name": "2nd", "path": "run.seed", "values": [1]}]},
            "a sweep variable's name is letters, digits and '_', not starting with a digit",
        ),
    ],
    ids=[
        "dot",
        "dotdot",
        "bracket",
        "dash",
        "trailing_space",
        "alias",
        "address_type",
        "hours",
        "sweep_name",
    ],
)
def test_a_refused_name_or_code_is_told_the_rule_in_words(tmp_path, where, value, rule):
    import tomli_w

    from tests.simkit import one_site

    raw = one_site()
    node = raw
    *parents, key = [int(p) if p.isdigit() else p for p in where.split(".")]
    for part in parents:
        node = node[part]
    node[key] = value
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    result = invoke("validate", str(path))
    assert_refused(result, rule)
    assert "pattern" not in result.output  # the rule, never the regular expression


def test_readme_names_only_names_that_validation_accepts(tmp_path):
    # README promises what becomes of awkward names; each must be a name a scenario may hold.
    import re

    import tomli_w

    from tests.simkit import one_site

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    server = re.search(r"a server called `([^`]+)`", readme).group(1)
    markup = re.search(r"`(\[[a-z]+\])` in a name", readme).group(1)
    assert server.count("../") >= 2  # the example is a path that would climb out of DIR/tracking/
    raw = one_site()
    raw["servers"][1]["name"] = server
    raw["sites"][0]["name"] = f"Red{markup}mond"
    for s in raw["servers"]:
        s["site"] = raw["sites"][0]["name"]
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "name",
    [
        "point",
        "replication",
        "seed",
        "error",
        "recipients",
        "delivered",
        "misdelivered",
        "ndr",
        "pending",
        "failure_rate",
        "ndr_expired",
        "lost",
        "users_mean",
        "n",
    ],
)
def test_a_sweep_variable_cannot_take_a_results_column_name(name, tmp_path):
    path = scenario_with_constraint(tmp_path, "version == '5.0'")
    path.write_text(
        path.read_text().replace('name = "version"', f'name = "{name}"').replace("version ==", f"{name} ==")
    )
    result = invoke("validate", str(path))
    # [[sweep.variables]] opens on line 24, its name is on line 25.
    assert_refused(
        result,
        f"{path}:25: sweep.variables[0].name: sweep variable name {name!r} is taken by a column of the results",
    )


def test_an_ordinary_sweep_variable_name_is_accepted(tmp_path):
    path = scenario_with_constraint(tmp_path, "release == '5.0'")
    path.write_text(path.read_text().replace('name = "version"', 'name = "release"'))
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output


# What comes before the deep value: two servers, so the second is servers[1]; lines 1-9.
NESTING_HEAD = """\
[organization]
name = "Contoso"
# a comment holding [[[ and { is no nesting
[[servers]]
name = "A"
note = "[[[[ {{{{ in a string is no nesting either"

[[servers]]
name = "B"
"""


@pytest.mark.parametrize(
    ("tail", "line", "path"),
    [
        # tomllib parses 32 levels and gives up (RecursionError) long before 3000.
        ("users = " + "[" * 32 + "]" * 32 + "\n", 10, "servers[1].users[0][0][0][0][0]..."),
        ("users = " + "[" * 3000 + "]" * 3000 + "\n", 10, "servers[1].users[0][0][0][0][0]..."),
        # Spread over lines, in the third element: x (depth 3) holds it, the 30th "[" is depth 33.
        ("x = [\n  1,\n  { k = 1 },\n" + "[\n" * 40 + "]\n" * 41, 12 + 30, "servers[1].x[2][0][0][0][0]..."),
        ("x = [1, {k = " + "[" * 40 + "]" * 40 + "}]\n", 10, "servers[1].x[1].k[0][0][0]..."),
        ("[model]\ny = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n", 11, "model.y.a.a.a.a.a.a..."),
        ("[" + ".".join(["t"] * 40) + "]\n", 10, "t.t.t.t.t.t.t.t..."),
    ],
    ids=[
        "array_parsed",
        "array_too_deep_to_parse",
        "multiline",
        "in_inline_table",
        "inline_tables",
        "header",
    ],
)
def test_nesting_too_deep_names_the_line_and_the_key_path(tmp_path, tail, line, path):
    scenario = tmp_path / "deep.toml"
    scenario.write_text(NESTING_HEAD + tail)
    result = invoke("validate", str(scenario))
    assert_refused(result, f"{scenario}:{line}: {path}: nested more than 32 levels deep")


def test_nesting_32_levels_deep_is_not_refused_for_its_depth(tmp_path):
    # servers (1), [1] (2), users (3), then brackets 4..32: 29 of them is the deepest allowed.
    scenario = tmp_path / "deep.toml"
    scenario.write_text(NESTING_HEAD + "users = " + "[" * 29 + "]" * 29 + "\n")
    result = invoke("validate", str(scenario))
    assert result.exit_code == 2, result.output
    assert "nested more than" not in result.output
    assert "servers[1].users" in result.output  # refused for what it is: not a number of users
