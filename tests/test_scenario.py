"""Scenario loading: schema, cross-references, and how problems are reported."""

from __future__ import annotations

import json

import pytest

from exsim.scenario import ScenarioError, json_schema, load_scenario, resolve_path
from exsim.scenario.paths import path_problem, path_segments, why_nothing
from tests.clikit import exsim
from tests.conftest import SCENARIOS, to_toml


def problems_of(data_or_text) -> list[str]:
    text = data_or_text if isinstance(data_or_text, str) else to_toml(data_or_text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(text)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("name", ["q166866.toml", "contoso.toml"])
def test_bundled_scenarios_load(name):
    scenario = load_scenario(SCENARIOS / name)
    assert scenario.organization.name == "Contoso"
    assert scenario.source.endswith(name)


def test_defaults_come_from_exchange(base):
    scenario = load_scenario(to_toml(base))
    override = scenario.connectors[0].override
    assert (override.max_open_retries, override.open_interval) == (144, 600.0)
    assert (override.max_transfer_retries, override.transfer_interval) == (2, 120.0)
    assert override.message_lifetime_normal == 7 * 86400
    ims = scenario.connectors[1]
    assert ims.retry_intervals == [900, 1800, 3600, 14400]
    assert ims.message_timeout == 48 * 3600
    assert [(a.type, a.pattern, a.cost) for a in ims.address_spaces] == [("SMTP", "*", 1)]
    assert scenario.servers[0].version == "5.0"


def test_three_deliberate_mistakes_give_three_lines_with_file_line_and_fix():
    text = """\
[organization]
name = "Contoso"

[[sites]]
name = "Dublin"
addresses = { x400 = "c=IRL;a= ;o=Dublin" }

[[servers]]
name = "DUB-EX1"
site = "Dubln"
usres = 10
"""
    lines = problems_of(text)
    assert lines == [
        "<text>:6: sites[0].addresses.x400: invalid address 'c=IRL;a= ;o=Dublin': c='IRL' must be 2 letters or 3 digits",
        "<text>:10: servers[0].site: unknown site 'Dubln'; did you mean 'Dublin'?",
        "<text>:11: servers[0].usres: unknown key 'usres'; did you mean 'users'?",
    ]


def test_unknown_references_everywhere(base):
    base["connectors"][0]["sites"] = ["Redmond", "Dublni"]
    base["connectors"][1]["server"] = "RED-EX9"
    base["events"] = [{"kind": "upgrade", "at": "1h", "server": "DUB-EX2", "version": "5.0-sp1"}]
    lines = problems_of(base)
    assert any(
        "connectors[0].sites[1]: unknown site 'Dublni'; did you mean 'Dublin'?" in line for line in lines
    )
    assert any(
        "connectors[1].server: unknown server 'RED-EX9'; did you mean 'RED-EX1'?" in line for line in lines
    )
    assert any(
        "events[0].server: unknown server 'DUB-EX2'; did you mean 'DUB-EX1'?" in line for line in lines
    )


def test_duplicate_names(base):
    base["servers"].append({"name": "red-ex1", "site": "Redmond"})
    assert any(
        "servers[2].name: duplicate server name 'red-ex1' (the same as 'RED-EX1' at servers[0], line " in line
        for line in problems_of(base)
    )


def test_server_in_site_without_x400_address(base):
    del base["sites"][1]["addresses"]["x400"]
    assert any(
        "servers[1].site: site 'Dublin' of server 'DUB-EX1' has no X.400 site address" in line
        for line in problems_of(base)
    )


def test_unreached_site_is_an_error_unless_deliberate(base):
    base["connectors"].pop(0)
    assert any("sites[1].name: no connector links site 'Dublin'" in line for line in problems_of(base))
    base["sites"][1]["isolated"] = True
    load_scenario(to_toml(base))


def test_invalid_x400_site_address(base):
    base["sites"][0]["addresses"]["x400"] = "c=US;a= ;o=R;g=Jo"
    assert any(
        "sites[0].addresses.x400: invalid address" in line and "without a surname" in line
        for line in problems_of(base)
    )


def test_unknown_key_with_and_without_suggestion(base):
    base["servers"][0]["verison"] = "5.0"
    base["sites"][0]["colour"] = "red"
    lines = problems_of(base)
    assert any("servers[0].verison: unknown key 'verison'; did you mean 'version'?" in line for line in lines)
    assert any(
        "sites[0].colour: unknown key 'colour' (allowed: name, addresses, isolated)" in line for line in lines
    )


def test_unknown_key_inside_a_connector_kind(base):
    base["connectors"][1]["adress_spaces"] = []
    assert any(
        "connectors[1].adress_spaces: unknown key 'adress_spaces'; did you mean 'address_spaces'?" in line
        for line in problems_of(base)
    )


def test_wrong_types_and_missing_units(base):
    base["servers"][0]["users"] = "many"
    base["connectors"][0]["link"] = {"latency": 50}
    base["servers"][1]["version"] = "5.5"
    lines = problems_of(base)
    assert any("servers[0].users:" in line and "integer" in line for line in lines)
    assert any("connectors[0].link.latency: duration 50 has no unit" in line for line in lines)
    assert any("servers[1].version:" in line and "'5.0-sp1'" in line for line in lines)


def test_values_of_the_wrong_type_are_refused_not_coerced(base):
    # Lax pydantic would read "2" as 2, "yes" as true and 2.0 as 2: a typo would pass unseen.
    base["connectors"][0]["cost"] = "2"
    base["sites"][1]["isolated"] = "yes"
    base["run"] = {"replications": 2.0}
    base["servers"][0]["users"] = True
    lines = problems_of(base)
    assert any("connectors[0].cost: Input should be a valid integer (got '2')" in line for line in lines)
    assert any("sites[1].isolated: Input should be a valid boolean (got 'yes')" in line for line in lines)
    assert any("run.replications: Input should be a valid integer (got 2.0)" in line for line in lines)
    assert any("servers[0].users: Input should be a valid integer (got True)" in line for line in lines)


def test_what_toml_legitimately_gives_is_kept(base):
    # TOML writes 2 for a whole number: an integer where a float is expected is that float.
    base["workload"] = {"inbound_internet_per_hour": 2, "recipients_per_message": 3}
    base["connectors"][0]["link"] = {"drop_probability": 0}
    scenario = load_scenario(to_toml(base))
    assert scenario.workload.inbound_internet_per_hour == 2.0
    assert scenario.workload.recipients_per_message == 3.0
    assert scenario.connectors[0].link.drop_probability == 0.0


def test_missing_required_and_bad_connector_kind(base):
    del base["servers"][0]["site"]
    base["connectors"][0]["kind"] = "smoke-signal"
    lines = problems_of(base)
    assert any("servers[0].site: missing required key 'site'" in line for line in lines)
    assert any("connectors[0]" in line and "smoke-signal" in line for line in lines)


def test_x400_connector_needs_bridgeheads_in_the_right_sites(base):
    base["connectors"][0] = {
        "name": "X",
        "kind": "x400",
        "sites": ["Redmond", "Dublin"],
        "bridgeheads": ["DUB-EX1", "RED-EX1"],
    }
    lines = problems_of(base)
    assert any(
        "connectors[0].bridgeheads[0]: bridgehead 'DUB-EX1' is in site 'Dublin', not 'Redmond'" in line
        for line in lines
    )


def test_recipient_mix_must_add_up(base):
    base["workload"] = {"mix": {"same_server": 0.9}}
    # 0.9 + the other defaults 0.2 + 0.2 + 0.15 + 0 + 0.05 = 1.5; the unwritten non-zero ones are named.
    assert any(
        line.endswith(
            "workload.mix: recipient shares add up to 1.5, not 1: same_site, other_site, internet and "
            "distribution_list are not written and count with their defaults 0.2, 0.2, 0.15 and 0.05 "
            "(the written ones add up to 0.9): write every share, 0 for those not wanted"
        )
        for line in problems_of(base)
    )


def test_a_mix_written_to_1_names_the_default_that_tips_it_over(base):
    # An outside tester's mix: the five written shares add up to 1, and distribution_list, left
    # out, keeps its default 0.05: 1.05. The message must say which share and what to do.
    written = {"same_server": 0.3, "same_site": 0.1, "other_site": 0.4, "internet": 0.2}
    base["workload"] = {"mix": written}
    assert any(
        line.endswith(
            "workload.mix: recipient shares add up to 1.05, not 1: distribution_list is not written and "
            "counts with its default 0.05 (the written shares add up to 1): set it to 0"
        )
        for line in problems_of(base)
    )
    # Written as 0 (or with the others making room) it loads; a default of 0 (msmail) is no matter.
    base["workload"] = {"mix": written | {"distribution_list": 0}}
    assert load_scenario(to_toml(base)).workload.mix.distribution_list == 0


def test_sweep_path_that_matches_nothing_and_bad_values(base):
    base["sweep"] = {
        "variables": [
            {"name": "v", "path": "servers.*.version", "values": ["5.0", "5.0-sp9"]},
            {"name": "w", "path": "sites.Dubln.addresses.x400", "values": ["c=US;a= ;o=X"]},
        ],
        "constraint": "v == 1 and",
    }
    lines = problems_of(base)
    assert any(
        "sweep.variables[1].path: sweep path 'sites.Dubln.addresses.x400' matches nothing" in line
        for line in lines
    )
    assert any(
        "sweep.constraint: constraint 'v == 1 and' is not a valid expression" in line for line in lines
    )


def test_sweep_value_that_would_be_invalid(base):
    base["sweep"] = {"variables": [{"name": "v", "path": "servers.*.version", "values": ["5.0", "5.0-sp9"]}]}
    lines = problems_of(base)
    assert len(lines) == 2  # the bad value, reported once for each server it lands on
    assert all(
        "sweep.variables[0].values[1]: value '5.0-sp9' for 'servers.*.version' gives servers[" in line
        for line in lines
    )


def test_each_sweep_value_is_checked_as_one_points_scenario(base, monkeypatch):
    # Each value is put in place alone and validated as the scenario of the point it makes, which
    # has no sweep of its own: a trial that still carried the sweep copied and validated all n
    # values again for each of the n (a sweep of 90,000 values took minutes to validate).
    from exsim.scenario import load

    base["sweep"] = {"variables": [{"name": "users", "path": "servers.RED-EX1.users", "values": [3, 4, 5]}]}
    trials = []
    validate = load.Scenario.model_validate

    def recording(data, *args, **kwargs):
        trials.append(data)
        return validate(data, *args, **kwargs)

    monkeypatch.setattr(load.Scenario, "model_validate", recording)
    load_scenario(to_toml(base))
    points = [t for t in trials if "sweep" not in t]
    assert [next(s["users"] for s in t["servers"] if s["name"] == "RED-EX1") for t in points] == [3, 4, 5]
    assert len(trials) == len(points) + 1  # and the scenario as written, sweep and all, once


def test_a_sweep_value_whose_run_is_too_long_is_refused_at_its_line(base, tmp_path):
    # 10^9 inbound Internet messages an hour for a day is about 2.4 x 10^10 recipients, far over
    # the 50,000,000 a run may simulate without run.allow_long: the value is refused where it is
    # written, with the rate (not a server's users) named as the cause, and `exsim run` stops before
    # making a results directory (the point's run would otherwise fail after starting to write).
    base["run"] = {"duration": "1d"}
    base["sweep"] = {
        "variables": [{"name": "rate", "path": "workload.inbound_internet_per_hour", "values": [10, 1e9]}]
    }
    (line,) = problems_of(base)
    assert (
        "sweep.variables[0].values[1]: value 1000000000.0 for 'workload.inbound_internet_per_hour' gives "
        in line
    )
    assert "gives workload.inbound_internet_per_hour: one run would simulate about 24,000,000," in line
    assert "lower workload.inbound_internet_per_hour" in line
    source = tmp_path / "s.toml"
    source.write_text(to_toml(base))
    ran = exsim("run", str(source), "--out", str(tmp_path / "out"), "--quiet")
    assert ran.returncode == 2
    assert not (tmp_path / "out").exists()


def test_the_rate_of_mail_from_outside_is_blamed_when_it_makes_the_run_too_big(base):
    base["workload"] = {"inbound_internet_per_hour": 1e9}
    (line,) = problems_of(base)
    assert ": workload.inbound_internet_per_hour: one run would simulate about " in line
    assert "lower workload.inbound_internet_per_hour" in line


def test_commands_that_do_not_run_a_scenario_accept_one_too_long_to_run(base, tmp_path):
    # 10^9 inbound messages an hour: far too long to run without run.allow_long (validate and run
    # refuse it), but show, gwart and route only read the (two-mailbox) organization.
    base["workload"] = {"inbound_internet_per_hour": 1e9}
    source = tmp_path / "s.toml"
    source.write_text(to_toml(base))
    assert exsim("validate", str(source)).returncode == 2
    assert exsim("run", str(source), "--out", str(tmp_path / "out"), "--quiet").returncode == 2
    shown = exsim("show", str(source))
    assert shown.returncode == 0
    assert "RED-EX1" in shown.stdout
    gwart = exsim("gwart", str(source), "--site", "Redmond")
    assert gwart.returncode == 0
    assert "IMS" in gwart.stdout
    routed = exsim("route", str(source), "--from", "RED-EX1", "--to", "someone@example.com")
    assert routed.returncode == 0
    assert "IMS" in routed.stdout
    # What they still refuse: an organization that would not fit in memory.
    base["servers"][0]["users"] = 10**12
    source.write_text(to_toml(base))
    assert "more memory than this machine has" in exsim("show", str(source)).stderr


def test_toml_syntax_error_has_its_line():
    assert problems_of('[organization]\nname = "x"\nname 2\n[[sites]]\n')[0].startswith(
        "<text>:3: TOML syntax error"
    )
    assert problems_of('[organization]\nname = "x"\nsites = [\n')[0].startswith("<text>:3: TOML syntax error")


def test_files_that_are_not_scenarios(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ScenarioError, match="not a text file"):
        load_scenario(binary)
    empty = tmp_path / "e.toml"
    empty.write_text("")
    with pytest.raises(ScenarioError, match="empty"):
        load_scenario(empty)


def test_a_symbolic_link_that_loops_or_dangles_is_named_as_such(tmp_path):
    loop, dangling = tmp_path / "loop.toml", tmp_path / "dangling.toml"
    loop.symlink_to(loop.name)  # leads back to itself
    dangling.symlink_to("gone.toml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(loop)
    assert str(caught.value.problems[0]) == (
        f"{loop}: a symbolic link that loops (it leads back to itself), not a file"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(dangling)
    assert str(caught.value.problems[0]) == f"{dangling}: a symbolic link to gone.toml, which does not exist"


def test_a_long_value_is_shortened_in_the_message_with_its_length(base):
    base["servers"][0]["name"] = "A" * 5000
    line = next(line for line in problems_of(base) if "servers[0].name" in line)
    assert line.endswith(
        "servers[0].name: String should have at most 64 characters (got '"
        + "A" * 57
        + "...', 5,000 characters)"
    )


def test_resolve_path_by_name_index_and_wildcard(base):
    assert resolve_path(base, "servers.*.version") == [("servers", 0, "version"), ("servers", 1, "version")]
    assert resolve_path(base, "sites.Dublin.addresses.x400") == [("sites", 1, "addresses", "x400")]
    assert resolve_path(base, "servers.1.users") == [("servers", 1, "users")]
    assert resolve_path(base, "sites.Nowhere.addresses.x400") == []


def test_a_quoted_segment_names_an_element_whose_name_holds_dots_and_spaces(base):
    base["connectors"] = [
        {"name": "X.400 Redmond-Tokyo", "kind": "x400", "sites": ["Redmond", "Dublin"]},
        {"name": "*", "kind": "site", "sites": ["Redmond", "Dublin"]},
        {"name": "0", "kind": "site", "sites": ["Redmond", "Dublin"]},
    ]
    assert path_segments('connectors."X.400 Redmond-Tokyo".cost') == [
        "connectors",
        "X.400 Redmond-Tokyo",
        "cost",
    ]
    assert resolve_path(base, 'connectors."X.400 Redmond-Tokyo".cost') == [("connectors", 0, "cost")]
    # The bracket form reads the same; an index in brackets is an index.
    assert resolve_path(base, 'connectors["X.400 Redmond-Tokyo"].cost') == [("connectors", 0, "cost")]
    assert resolve_path(base, "connectors[1].cost") == [("connectors", 1, "cost")]
    # Quoted, * and 0 are names only; bare, * is every element and 0 the first (and any named 0).
    assert resolve_path(base, 'connectors."*".cost') == [("connectors", 1, "cost")]
    assert resolve_path(base, 'connectors."0".cost') == [("connectors", 2, "cost")]
    assert resolve_path(base, "connectors.0.cost") == [("connectors", 0, "cost"), ("connectors", 2, "cost")]
    assert len(resolve_path(base, "connectors.*.cost")) == 3
    # A quote inside a quoted name is escaped with a backslash.
    assert path_segments(r'sites."say \"hi\"".name') == ["sites", 'say "hi"', "name"]
    # Unquoted, the dots split the name and nothing matches; the reason says how to quote it.
    assert resolve_path(base, "connectors.X.400 Redmond-Tokyo.cost") == []
    assert why_nothing(base, "connectors.X.400 Redmond-Tokyo.cost").endswith(
        'a name holding a dot goes in double quotes: connectors."X.400 Redmond-Tokyo".cost'
    )


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ('connectors."X.400 Redmond-Tokyo.cost', "the quote at column 12 is never closed"),
        ("connectors[X.400].cost", '[X.400] should be an index, * or a quoted name (e.g. ["X.400"])'),
        ('connectors["a"].cost]', "expected '.' or '[' at column 21"),
        ("sites.]", "a ] at column 7 that no [ opened"),
        ("servers..users", "has an empty segment"),
        ("servers.", "has an empty segment"),
    ],
)
def test_an_unreadable_path_says_what_is_wrong(path, problem):
    assert problem in path_problem(path)


def test_a_path_naming_nothing_lists_what_is_there_and_the_closest_name(base):
    why = why_nothing(base, "sites.Dubln.addresses.x400")
    assert why == (
        "no element of sites is 'Dubln'; its elements are 'Redmond', 'Dublin' (or an index 0-1, or *); "
        "did you mean sites.Dublin.addresses.x400?"
    )


def test_schema_documents_defaults():
    schema = json_schema()
    override = schema["$defs"]["Override"]["properties"]
    assert override["max_open_retries"]["default"] == 144
    assert override["open_interval"]["default"] == "600s"
    assert "description" in override["open_interval"]
    json.dumps(schema)  # serialisable as JSON


def test_modified_sets_values_at_paths(base):
    scenario = load_scenario(to_toml(base))
    changed = scenario.modified({"servers.*.version": "5.0-sp1", "run.duration": "4h"})
    assert [s.version for s in changed.servers] == ["5.0-sp1", "5.0-sp1"]
    assert changed.run.duration == 4 * 3600
    assert [s.version for s in scenario.servers] == ["5.0", "5.0"]  # the original is untouched
    with pytest.raises(ScenarioError, match="matches nothing"):
        scenario.modified({"sites.Nowhere.addresses.x400": "c=US;a= ;o=X"})
    with pytest.raises(ScenarioError, match=r"servers\[0\]\.version"):
        scenario.modified({"servers.*.version": "9.9"})
