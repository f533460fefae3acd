"""The sweep constraint language: what it keeps, and that it means what Python means."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exsim.constraint import MAX_DEPTH, MAX_LENGTH, ConstraintError, parse_constraint
from exsim.experiment import expand_sweep, run_experiment
from exsim.scenario import Scenario, load_scenario, validate_raw
from tests.clikit import exsim
from tests.conftest import to_toml
from tests.simkit import mix, one_site

VARIABLES = {"version": ["5.0", "5.0-sp1", "5.0-sp2"], "users": [1, 2, 3], "fast": [True, False]}


def kept(text: str) -> list[tuple]:
    constraint = parse_constraint(text, VARIABLES)
    combos = itertools.product(*VARIABLES.values())
    return [c for c in combos if constraint.holds(dict(zip(VARIABLES, c, strict=True)))]


def test_comparisons_membership_and_logic_keep_the_combinations_they_name():
    # 3 versions x 3 user counts x 2 flags = 18 combinations.
    assert len(kept("version != '5.0'")) == 12
    assert {c[0] for c in kept("version in ('5.0', '5.0-sp2')")} == {"5.0", "5.0-sp2"}
    assert {c[1] for c in kept("1 < users <= 3")} == {2, 3}
    assert kept("version == '5.0-sp1' and users == 2 and not fast") == [("5.0-sp1", 2, False)]
    assert len(kept("users == 1 or fast")) == 6 + 9 - 3  # users == 1: 6, fast: 9, both: 3
    assert {c[1] for c in kept("users not in [2]")} == {1, 3}
    assert len(kept("'sp' in version")) == 12  # substring, as in Python
    assert len(kept("users > -1.5 and fast == True")) == 9


def test_a_sweep_constraint_drops_combinations_from_the_points():
    raw = one_site(duration="1h", shares=mix(same_server=1.0))
    raw["sweep"] = {
        "variables": [
            {"name": "version", "path": "servers.*.version", "values": ["5.0", "5.0-sp1", "5.0-sp2"]},
            {"name": "users", "path": "servers.RED-EX1.users", "values": [1, 2]},
        ],
        "constraint": "not (version == '5.0' and users == 2)",
    }
    points = expand_sweep(validate_raw(raw))
    assert [(p.index, p.values["version"], p.values["users"]) for p in points] == [
        (0, "5.0", 1),
        (1, "5.0-sp1", 1),
        (2, "5.0-sp1", 2),
        (3, "5.0-sp2", 1),
        (4, "5.0-sp2", 2),
    ]


def test_an_expectation_on_a_point_the_constraint_removes_is_bad_input(tmp_path):
    # The constraint drops (version 5.0, users 2): an expectation on that point has no run to
    # check and could only fail, so validation refuses it at its line. One on a kept point, and
    # one naming the version by a value some kept point has, stay valid.
    raw = one_site(duration="1h", shares=mix(same_server=1.0))
    raw["sweep"] = {
        "variables": [
            {
                "name": "version",
                "path": "servers.*.version",
                "values": ["5.0", "5.0-sp1"],
                "labels": ["RTM", "SP1"],
            },
            {"name": "users", "path": "servers.RED-EX1.users", "values": [1, 2]},
        ],
        "constraint": "not (version == '5.0' and users == 2)",
    }
    bound = {"kind": "outcome", "recipient_class": "same_server", "metric": "ndr", "equals": 0}
    raw["expect"] = [
        {**bound, "name": "kept", "point": {"version": "RTM", "users": 1}},
        {**bound, "name": "by value", "point": {"version": "5.0"}},
        {**bound, "name": "removed", "point": {"version": "RTM", "users": 2}},
    ]
    path = tmp_path / "s.toml"
    path.write_text(to_toml(raw))
    validated = exsim("validate", str(path))
    assert validated.returncode == 2
    (line,) = validated.stderr.splitlines()[:-1]
    assert line.endswith(
        "expect[2].point: the sweep constraint \"not (version == '5.0' and users == 2)\" keeps no point with "
        "version = 'RTM', users = 2, so this expectation could only fail; change the point or the constraint"
    )
    del raw["expect"][2]
    validate_raw(raw)  # the other two are fine


def test_a_constraint_that_keeps_no_combination_is_bad_input_before_anything_is_made(tmp_path):
    # 'users > 5' over users 1, 2 is false whatever the version: 2 x 2 combinations, none kept.
    raw = one_site(duration="1h", shares=mix(same_server=1.0))
    raw["sweep"] = {
        "variables": [
            {"name": "version", "path": "servers.*.version", "values": ["5.0", "5.0-sp1"]},
            {"name": "users", "path": "servers.RED-EX1.users", "values": [1, 2]},
        ],
        "constraint": "users > 5 and version != '9'",
    }
    raw["expect"] = [
        {
            "kind": "outcome",
            "name": "none lost",
            "recipient_class": "same_server",
            "metric": "ndr",
            "equals": 0,
        }
    ]
    path = tmp_path / "none.toml"
    path.write_text(to_toml(raw))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("constraint"))
    expected = (
        f"{path}:{line}: sweep.constraint: constraint \"users > 5 and version != '9'\" is false for every "
        "combination of the sweep's values (tried version = '5.0', '5.0-sp1'; users = 1, 2), so the sweep "
        "has no point to run; loosen the constraint or change the values"
    )
    validated = exsim("validate", str(path))
    assert validated.returncode == 2
    assert validated.stderr.splitlines()[0] == expected
    for command in (("run", str(path), "--out", str(tmp_path / "out"), "--quiet"), ("check", str(path))):
        refused = exsim(*command)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.splitlines()[0] == expected
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists()
    # --set can empty a sweep as well; so can an API caller who skips validation.
    raw["sweep"]["constraint"] = "users > 1"
    path.write_text(to_toml(raw))
    emptied = exsim("run", str(path), "--set", 'sweep.constraint="users > 2"', "--out", str(tmp_path / "o2"))
    assert emptied.returncode == 2
    assert emptied.stderr.startswith(
        f"{path} as changed by --set: sweep.constraint: constraint 'users > 2' is false"
    )
    assert not (tmp_path / "o2").exists()
    raw["sweep"]["constraint"] = "users > 5 and version != '9'"
    unchecked = Scenario.model_validate(raw)
    with pytest.raises(ValueError, match="is false for every combination"):
        run_experiment(unchecked, workers=1, out=tmp_path / "api")
    assert not (tmp_path / "api").exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "().__class__.__bases__[0].__subclasses__()",
            "attribute access is not allowed in a constraint (at '.__class__')",
        ),
        ("__import__('os').system('true')", "attribute access is not allowed in a constraint (at '.system')"),
        ("__import__('os')", "a function call is not allowed in a constraint (at \"__import__('os')\")"),
        ("(lambda: 1) == 1", "a lambda is not allowed"),
        ("[v for v in (1, 2)] == users", "a comprehension is not allowed"),
        ("any(users for _ in 'x')", "a function call is not allowed"),
        ("version[0] == '5'", "subscripting is not allowed in a constraint (at 'version[0]')"),
        ("9**9**9 == users", "the operator '**' is not allowed in a constraint (at '9**9**9')"),
        ("users + 1 == 2", "the operator '+' is not allowed"),
        ("users is 1", "the operator 'is' is not allowed"),
        ("f'{users}' == '1'", "an f-string is not allowed"),
        ("None == users", "the constant None is not allowed"),
        ("users == 1 if fast else 2", "a conditional expression"),
        ("(users, 1) == (1, 1)", "a list or tuple of anything but constants"),
        ("version in ('5.0', users)", "a list or tuple of anything but constants"),
        ("(1, 2)", "constraint '(1, 2)' is a list or tuple, not a condition"),
        ("not [1]", "a list or tuple outside a comparison"),
        ("verison == '5.0'", "constraint uses unknown variable(s) verison; did you mean 'version'?"),
        ("version < 3", "constraint cannot compute version < 3 for the values '5.0' and 3"),
        ("users in 3", "'in' needs a list, a tuple or a string on its right"),
        ("version ==", "constraint 'version ==' is not a valid expression"),
        ("users == 1\0", "is not a valid expression"),
        (
            "users == 1 or " * 10_000 + "fast",
            f"constraint is 140,004 characters long; the limit is {MAX_LENGTH:,}",
        ),
        ("(" * 400 + "fast" + ")" * 400, f"constraint nests brackets more than {MAX_DEPTH} deep"),
        ("not " * 200 + "fast", f"constraint nests operators more than {MAX_DEPTH} deep"),
    ],
)
def test_everything_outside_the_language_is_refused_and_named(text, fragment):
    with pytest.raises(ConstraintError) as info:
        parse_constraint(text, VARIABLES)
    assert fragment in str(info.value)


def test_the_limits_leave_room_for_real_constraints():
    nested = "(" * MAX_DEPTH + "fast" + ")" * MAX_DEPTH
    assert parse_constraint(nested, VARIABLES).holds({"fast": True})
    long = " or ".join(f"users == {k}" for k in range(67))  # 991 characters
    assert len(long) == 991
    assert parse_constraint(long, VARIABLES).holds({"users": 66})


# --- the walker means what Python means -------------------------------------------------
# Python's own evaluator is the independent oracle here, on expressions this test
# builds from the language's grammar (never on user text).

CONSTANTS = st.sampled_from(["'5.0'", "'5.0-sp1'", "'sp'", "1", "2", "-1", "2.5", "True", "False"])
NUMBERS = st.sampled_from(["1", "2", "-1", "2.5", "0"])
STRINGS = st.sampled_from(["'5.0'", "'5.0-sp1'", "'sp'", "'5.0-sp2'"])


def _comparison() -> st.SearchStrategy[str]:
    ordered = st.one_of(
        st.tuples(st.just("users"), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), NUMBERS),
        st.tuples(STRINGS, st.sampled_from(["<", ">=", "==", "!="]), st.just("version")),
        st.tuples(st.just("fast"), st.sampled_from(["==", "!="]), CONSTANTS),
    )
    membership = st.one_of(
        st.tuples(
            st.just("version"), st.sampled_from(["in", "not in"]), st.lists(STRINGS, min_size=1, max_size=3)
        ),
        st.tuples(
            st.just("users"), st.sampled_from(["in", "not in"]), st.lists(NUMBERS, min_size=1, max_size=3)
        ),
        st.tuples(STRINGS, st.sampled_from(["in", "not in"]), st.just(["version"])),
    )
    return st.one_of(
        ordered.map(" ".join),
        membership.map(
            lambda t: f"{t[0]} {t[1]} {t[2][0] if t[2] == ['version'] else '(' + ', '.join(t[2]) + ',)'}"
        ),
        st.just("fast"),
    )


EXPRESSIONS = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"not {e}"),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(EXPRESSIONS)
def test_the_walker_agrees_with_python_on_every_combination(text):
    constraint = parse_constraint(text, VARIABLES)
    for combo in itertools.product(*VARIABLES.values()):
        values = dict(zip(VARIABLES, combo, strict=True))
        expected = bool(eval(text, {"__builtins__": {}}, values))  # noqa: S307 - the test's own grammar, not user text
        assert constraint.holds(values) is expected, (text, values)


def test_a_label_where_a_value_belongs_is_refused_naming_the_value():
    labels = {"version": ["RTM", "SP1", "SP2"]}
    parse_constraint("version != '5.0-sp1'", VARIABLES, labels)  # the value itself is fine
    for text in ("version != 'SP1'", "'SP1' == version", "users == 2 and version not in ('5.0', 'SP1')"):
        with pytest.raises(ConstraintError) as info:
            parse_constraint(text, VARIABLES, labels)
        assert str(info.value) == (
            "constraint compares version with 'SP1', the label of its value '5.0-sp1'; a constraint compares "
            "values (labels only name them in tables): write '5.0-sp1' instead of 'SP1'"
        )
    # A label that is also a value is that value; a substring test may hold any string.
    parse_constraint("version == '5.0'", VARIABLES, {"version": ["5.0-sp1", "RTM", "SP2"]})
    parse_constraint("'SP1' in version", VARIABLES, labels)


SWEPT_ADDRESS = """\
name = "labels"

[organization]
name = "Contoso"

[[sites]]
name = "Redmond"
[sites.addresses]
x400 = "c=US;a= ;o=Redmond"
smtp = "@redmond.contoso.com"

[[servers]]
name = "RED-EX1"
site = "Redmond"
users = 2

[run]
duration = "10m"

[sweep]
constraint = {constraint}

[[sweep.variables]]
name = "version"
path = "servers.*.version"
values = ["5.0", "5.0-sp1", "5.0-sp2"]

[[sweep.variables]]
name = "site_address"
path = "sites.Redmond.addresses.x400"
values = ["c=US;a= ;p=Contoso;o=Redmond", "c=US;a= ;o=Redmond"]
labels = ["with p=", "without p="]
"""


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (
            # The label: before, true at all 6 points (no value is 'without p='), so nothing was dropped.
            "site_address != 'without p='",
            "constraint compares site_address with 'without p=', the label of its value 'c=US;a= ;o=Redmond'; "
            "a constraint compares values (labels only name them in tables): write 'c=US;a= ;o=Redmond' "
            "instead of 'without p='",
        ),
        (
            # Neither a value nor a label: true at every point, whatever it was meant to drop.
            "version != '5.0-sp3'",
            "constraint \"version != '5.0-sp3'\" compares version with '5.0-sp3', which is none of its values "
            "('5.0', '5.0-sp1', '5.0-sp2'), so that comparison comes out the same at every point; "
            "did you mean '5.0-sp2'?",
        ),
        (
            "version not in ('5.0', '5.0-SP1')",
            "constraint \"version not in ('5.0', '5.0-SP1')\" compares version with '5.0-SP1', which is none of its values ('5.0', '5.0-sp1', '5.0-sp2'), so that "
            "comparison comes out the same at every point; did you mean '5.0-sp1'?",
        ),
    ],
    ids=["label", "neither", "neither_in_a_list"],
)
def test_a_constraint_naming_no_value_is_bad_input_at_its_line(constraint, message, tmp_path):
    path = tmp_path / "labels.toml"
    path.write_text(SWEPT_ADDRESS.format(constraint=json.dumps(constraint)))
    line = SWEPT_ADDRESS.splitlines().index("constraint = {constraint}") + 1
    validated = exsim("validate", str(path))
    assert validated.returncode == 2
    assert validated.stderr.splitlines()[0] == f"{path}:{line}: sweep.constraint: {message}"
    out = tmp_path / "out"
    refused = exsim("run", str(path), "--out", str(out), "--quiet")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[0] == f"{path}:{line}: sweep.constraint: {message}"
    assert "Traceback" not in refused.stderr
    assert not out.exists()


def test_a_constraint_on_values_still_drops_what_it_names(tmp_path):
    path = tmp_path / "labels.toml"
    path.write_text(SWEPT_ADDRESS.format(constraint=json.dumps("site_address != 'c=US;a= ;o=Redmond'")))
    points = expand_sweep(load_scenario(path))
    assert [(p.values["version"], p.labels["site_address"]) for p in points] == [
        ("5.0", "with p="),
        ("5.0-sp1", "with p="),
        ("5.0-sp2", "with p="),
    ]


@pytest.mark.parametrize("text", ["fast == (users == 1)", "version != (users == 1)", "fast == (not fast)"])
def test_a_comparison_with_a_comparison_inside_is_computed_as_python_does(text):
    # Validation tried such a comparison on the inner expression's value with no variables set
    # and stopped with an internal error (KeyError) instead of checking it.
    constraint = parse_constraint(text, VARIABLES)
    for combo in itertools.product(*VARIABLES.values()):
        values = dict(zip(VARIABLES, combo, strict=True))
        assert constraint.holds(values) is bool(eval(text, {"__builtins__": {}}, values))  # noqa: S307 - the test's own text


def test_a_comparison_with_an_inner_comparison_that_cannot_be_computed_is_refused():
    with pytest.raises(
        ConstraintError, match=re.escape("cannot compute version < users == 1 for the values '5.0' and True")
    ):
        parse_constraint("version < (users == 1)", VARIABLES)
