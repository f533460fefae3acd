"""The `[[expect]]` language cannot be fooled: unknown names are validation errors, reports,
mailboxes and latencies are checkable, and a check over mail that never existed fails."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from exsim.cli import cli
from exsim.expect import evaluate
from exsim.randomness import replication_seed
from exsim.scenario import Scenario, ScenarioError, load_scenario
from exsim.scenario.sweep import expand_sweep, point_scenario
from exsim.sim import simulate
from exsim.sim.message import Recipient
from exsim.sim.model import Simulation
from tests import simkit
from tests.clikit import exsim
from tests.conftest import SCENARIOS, to_toml

Q193322 = (SCENARIOS / "kb" / "Q193322.toml").read_text()

# Each bad expectation, the key whose line the problem must name, and the message fragment.
BAD = [
    (
        'kind = "outcome"\nmetric = "ndr"\nrecipient_class = "other_sites"\nequals = 0',
        "recipient_class",
        "expect[4].recipient_class: unknown recipient class 'other_sites'; did you mean 'other_site'?",
    ),
    (
        'kind = "outcome"\nmetric = "ndr"\npoint = { cheap = "scheduled nevr" }\nequals = 0',
        "point",
        "expect[4].point.cheap: 'scheduled nevr' is not a value or label of sweep variable 'cheap' "
        "(labels: 'scheduled never', 'at max retries', 'at max retries, cost first')",
    ),
    (
        'kind = "outcome"\nmetric = "ndr"\npoint = { version = "5.0-sp3" }\nequals = 0',
        "point",
        "expect[4].point.version: '5.0-sp3' is not a value or label of sweep variable 'version' "
        "(values: '5.0', '5.0-sp1')",
    ),
    (
        'kind = "outcome"\nmetric = "ndr"\npoint = { chaep = "scheduled never" }\nequals = 0',
        "point",
        "expect[4].point.chaep: unknown sweep variable 'chaep'; did you mean 'cheap'?",
    ),
    (
        'kind = "event"\nevent_id = 289\nserver = "A2"\npresent = false',
        "server",
        "expect[4].server: unknown server 'A2' (known: A1, B1)",
    ),
    (
        'kind = "event"\nevent_id = 9999\npresent = false',
        "event_id",
        "expect[4].event_id: exsim never logs event 9999 (it logs ",
    ),
    (
        'kind = "transfers"\nconnector = "Cheep"\nequals = 0',
        "connector",
        "expect[4].connector: unknown connector 'Cheep'; did you mean 'Cheap'?",
    ),
    (
        'kind = "mailbox"\nalias = "bobby"\nequals = 0',
        "alias",
        "expect[4].alias: unknown mailbox 'bobby'; did you mean 'bob'?",
    ),
    (
        'kind = "latency"\nrecipient_class = "report"\nat_most = "1h"',
        "recipient_class",
        "expect[4].recipient_class: recipient class 'report' is checked by outcome expectations only",
    ),
    # Expectations that can only fail, or cannot fail (kb.md: none passes by default).
    (
        'kind = "outcome"\nmetric = "ndr"\nat_least = 5\nat_most = 1',
        "at_least",
        "expect[4].at_least: at_least = 5 and at_most = 1 leave no value between them, so it could only fail",
    ),
    (
        'kind = "outcome"\nmetric = "ndr"\nequals = 3\ntolerance = 1\nat_most = 1',
        "equals",
        "expect[4].equals: equals = 3 and at_most = 1 leave no value between them",
    ),
    (
        'kind = "outcome"\nmetric = "ndr"',
        "[[expect]]",
        "expect[4]: the expectation states no bound, so any value would pass; give equals, at_least or at_most",
    ),
    (
        'kind = "event"\nevent_id = 289',
        "[[expect]]",
        "expect[4]: the expectation states no bound, so any value would pass; give equals, at_least or "
        "at_most (or present)",
    ),
    (
        'kind = "outcome"\nmetric = "failure_rate"\nat_least = 5',
        "at_least",
        "expect[4].at_least: at_least = 5 is above 1: a rate is at most 1, so it could only fail",
    ),
    (
        'kind = "transfers"\nconnector = "Cheap"\nat_most = -2',
        "at_most",
        "expect[4].at_most: at_most = -2 is below 0: a count is never negative, so it could only fail",
    ),
    (
        # 2^53 = 9,007,199,254,740,992: no run could carry that many transfers.
        'kind = "transfers"\nconnector = "Cheap"\nat_least = 1e308',
        "at_least",
        "expect[4].at_least: at_least = 1e+308 is above 9.0072e+15: no run counts that many, so it could only "
        "fail",
    ),
    (
        'kind = "event"\nevent_id = 289\nat_most = 9007199254740992',
        "at_most",
        "expect[4].at_most: at_most = 9007199254740992 holds for every count, so it could never fail",
    ),
    (
        'kind = "latency"\nat_least = "0s"',
        "at_least",
        "expect[4].at_least: at_least = '0s' holds for every time, so it could never fail",
    ),
    (
        'kind = "outcome"\nmetric = "delivery_rate"\nat_least = 0\nat_most = 1',
        "at_least",
        "expect[4].at_least: at_least = 0 and at_most = 1 hold for every rate, so it could never fail",
    ),
    (
        'kind = "outcome"\nmetric = "ndr"\nat_most = 4\ntolerance = 1',
        "tolerance",
        "expect[4].tolerance: tolerance applies to equals only, and this expectation has no equals",
    ),
    (
        'kind = "event"\nevent_id = 289\npresent = true\nat_least = 3',
        "at_least",
        "expect[4].at_least: at_least = 3 beside present = true: present decides the check",
    ),
    (
        'kind = "ndr_time"\nafter = "2h"\nbefore = "1h"',
        "after",
        "expect[4].after: after = '2h' is later than before = '1h': no time is between them",
    ),
    (
        # The run is 3 h and drains 30 min: no NDR can come at 4 h.
        'kind = "ndr_time"\nafter = "4h"',
        "after",
        "expect[4].after: after = '4h' is past the end of the run (run.duration + run.drain)",
    ),
    (
        'kind = "ndr_time"\nafter = "0s"',
        "after",
        "expect[4].after: after = '0s' holds for every time in the run (it ends at run.duration + "
        "run.drain), so it could never fail",
    ),
    (
        # The run ends at 3 h 30 min: every NDR comes before 210m.
        'kind = "ndr_time"\nafter = "0s"\nbefore = "210m"',
        "after",
        "expect[4].after: after = '0s' and before = '210m' hold for every time in the run",
    ),
    (
        'kind = "ndr_time"\nbefore = "1000d"',
        "before",
        "expect[4].before: before = '1000d' holds for every time in the run",
    ),
    (
        'kind = "ndr"\ntext = ""',
        "text",
        "expect[4].text: text = '' is part of every NDR's text, so it picks out no NDR",
    ),
    (
        'kind = "ndr"\ntext = "x"\nreason = -5',
        "reason",
        "expect[4].reason: reason = -5 is below 0: an NDR's reason code is never negative, so it could only fail",
    ),
    (
        'kind = "ndr_time"\ntext = "x"',
        "[[expect]]",
        "expect[4]: the expectation states no bound, so any NDR at any time would pass",
    ),
    (
        # The run ends at 3 h 30 min: no mail waits longer than that to be delivered.
        'kind = "latency"\nstatistic = "p95"\nat_most = "210m"',
        "at_most",
        "expect[4].at_most: at_most = '210m' holds for every time a run can measure (no mail is "
        "delivered after the run ends, at run.duration + run.drain = 210m), so it could never fail",
    ),
    (
        'kind = "latency"\nat_least = "0s"\nat_most = "1000d"',
        "at_least",
        "expect[4].at_least: at_least = '0s' and at_most = '1000d' hold for every time a run can measure",
    ),
    (
        'kind = "latency"\nat_least = "4h"',
        "at_least",
        "expect[4].at_least: at_least = '4h' is past the end of the run (run.duration + run.drain = "
        "210m): no mail takes that long to be delivered within a run, so it could only fail",
    ),
    (
        # Q193322 has no IMS: nothing hands mail to one, so the store never logs 1026.
        'kind = "event"\nevent_id = 1026\npresent = false',
        "event_id",
        'expect[4].event_id: event 1026 is logged only on a server hosting an IMS (kind = "ims") and '
        "no server here hosts one, so present = false could never fail",
    ),
    (
        'kind = "event"\nevent_id = 2380\nserver = "A1"\nat_most = 0',
        "event_id",
        "expect[4].event_id: event 2380 is logged only on a server hosting an MS Mail connector "
        '(kind = "msmail") and A1 hosts none, so at_most = 0 could never fail',
    ),
    (
        'kind = "event"\nevent_id = 2025\npresent = true',
        "event_id",
        "expect[4].event_id: event 2025 is logged only on a server hosting an MS Mail connector "
        '(kind = "msmail") and no server here hosts one, so present = true could only fail',
    ),
]


def test_every_unknown_name_or_impossible_bound_is_a_validation_error_with_its_line(tmp_path):
    for body, key, message in BAD:
        text = Q193322 + f'\n[[expect]]\nname = "bad"\n{body}\n'
        line = next(
            n
            for n, row in enumerate(text.splitlines(), start=1)
            if n > len(Q193322.splitlines()) and row.startswith(key)
        )
        path = tmp_path / "bad.toml"
        path.write_text(text)
        for command in ("validate", "check"):
            result = CliRunner().invoke(cli, [command, str(path)])
            assert result.exit_code == 2, (command, body, result.output)
            assert f"{path}:{line}: {message}" in result.output, (command, result.output)
            assert "Traceback" not in result.output


def test_known_names_pass_validation():
    # The mailbox of an anonymous user, the RPC pseudo-connector and a label given as a value.
    text = (
        Q193322
        + """
[[expect]]
name = "fine"
kind = "mailbox"
alias = "A1-u0010"
equals = 0

[[expect]]
name = "fine too"
kind = "transfers"
connector = "RPC"
point = { cheap_down = "down" }
equals = 0

[[expect]]
name = "an NDR before the run's last minute"
kind = "ndr_time"
after = "0s"
before = "209m"

[[expect]]
name = "any text, one reason"
kind = "ndr"
text = "x"
reason = 0
"""
    )
    scenario = load_scenario(text)
    assert [e.name for e in scenario.expect][-4:-2] == ["fine", "fine too"]
    text = text.replace('alias = "A1-u0010"', 'alias = "A1-u0011"')  # A1 has 10 users
    with pytest.raises(ScenarioError, match="unknown mailbox 'A1-u0011'"):
        load_scenario(text)


def _two_sites_with(*expectations: dict, **changes) -> dict:
    raw = simkit.two_sites(duration="30m", drain="1h", **changes)
    raw["expect"] = list(expectations)
    return raw


def test_a_count_over_a_class_with_no_mail_fails_instead_of_passing():
    # A's users mail B only: "no Internet mail failed" would be true of mail that never existed.
    raw = _two_sites_with(
        {"name": "vacuous", "kind": "outcome", "metric": "ndr", "recipient_class": "internet", "equals": 0},
        {"name": "real", "kind": "outcome", "metric": "ndr", "recipient_class": "other_site", "equals": 0},
        {
            "name": "none sent",
            "kind": "outcome",
            "metric": "recipients",
            "recipient_class": "internet",
            "equals": 0,
        },
    )
    lines = {line.name: line for line in evaluate(simkit.scenario(raw))}
    assert not lines["vacuous"].passed
    assert "no recipients of internet" in lines["vacuous"].observed
    assert lines["real"].passed
    assert lines["none sent"].passed


def test_an_expectation_the_sweep_constraint_leaves_without_a_point_fails():
    raw = _two_sites_with(
        {"name": "dropped", "kind": "outcome", "metric": "ndr", "point": {"v": "5.0"}, "equals": 0}
    )
    raw["sweep"] = {
        "variables": [{"name": "v", "path": "servers.*.version", "values": ["5.0", "5.0-sp1"]}],
        "constraint": "v != '5.0'",
    }
    # Validation refuses it: no run of the point is made for it to check.
    with pytest.raises(ScenarioError, match=r"expect\[0\]\.point: the sweep constraint .* could only fail"):
        simkit.scenario(raw)
    # A scenario that skipped validation (pydantic's checks only) still fails it when checked.
    lines = evaluate(Scenario.model_validate(raw))
    assert [(line.name, line.passed, line.observed) for line in lines] == [
        ("dropped", False, "none selected")
    ]


def test_ndr_reports_back_to_the_originator_are_checkable():
    # B is unreachable for the whole run with 2 open retries 5 min apart: every recipient is
    # NDR'd, and each message's NDR is one report, listing all of its recipients, that travels
    # back inside site A and is delivered.
    raw = _two_sites_with(
        {
            "name": "generated",
            "kind": "outcome",
            "metric": "recipients",
            "recipient_class": "report",
            "at_least": 1,
        },
        {
            "name": "delivered",
            "kind": "outcome",
            "metric": "delivery_rate",
            "recipient_class": "report",
            "equals": 1,
        },
        {"name": "lost", "kind": "outcome", "metric": "lost", "recipient_class": "report", "equals": 0},
        outage=("0s", "2h"),
    )
    raw["connectors"][0]["override"] = {"max_open_retries": 2, "open_interval": "5m"}
    raw["servers"][1]["users"] = 10  # people enough in B for a message to name several
    scenario = simkit.scenario(raw)
    lines = {line.name: line for line in evaluate(scenario)}
    assert all(line.passed for line in lines.values()), [str(line) for line in lines.values()]
    run = simulate(scenario, replication_seed(scenario.run.seed, 0))
    assert run.ndr == run.recipients > 0
    user_messages = run.messages - run.reports.recipients  # every message made is a user's or a report
    assert run.reports.recipients == user_messages == run.reports.delivered
    assert run.ndr > user_messages  # some messages had several recipients, and one report each
    assert lines["generated"].observed == f"{run.reports.recipients:g}"


def test_mailbox_counts_deliveries_whatever_address_the_sender_used():
    raw = simkit.one_site(users=0, shares=simkit.mix(same_server=1.0), duration="10m")
    raw["servers"][1]["mailboxes"] = [{"alias": "bob", "surname": "Brown", "given": "Bob"}]
    raw["expect"] = [{"name": "bob", "kind": "mailbox", "alias": "bob", "equals": 5}]
    scenario = simkit.scenario(raw)
    sim = Simulation(scenario, 1)
    box = sim.org.mailboxes["bob"]
    addresses = [
        "bob",  # alias
        box.proxies.smtp,  # bob@redmond.contoso.com
        box.proxies.x400,  # c=US;a= ;o=Redmond;s=Brown;g=Bob
        box.proxies.ex,  # /o=Contoso/ou=Redmond/cn=Recipients/cn=bob
        f"SMTP:{box.proxies.smtp.upper()}",  # a one-off address typed by the sender
    ]
    assert len(set(addresses)) == 5
    message = sim.new_message("someone", "RED-EX1", [Recipient(a, "same_site") for a in addresses], 1.0)
    sim.stores["RED-EX1"].submit(message)
    run = sim.run()
    assert run.delivered == 5
    assert run.mailbox_deliveries == {"bob": 5}


def test_latency_expectation_mean_p50_p95(tmp_path):
    # Mail inside one server: store submission + delivery service times, 50 ms + 40 ms by
    # default, with no queueing at this load (a few messages a minute, 8 submit threads).
    raw = simkit.one_site(users=5, shares=simkit.mix(same_server=1.0), duration="1h")
    raw["connectors"] = []
    raw["expect"] = [
        {"name": "mean", "kind": "latency", "statistic": "mean", "at_least": "89ms", "at_most": "91ms"},
        {
            "name": "p95",
            "kind": "latency",
            "statistic": "p95",
            "recipient_class": "same_server",
            "at_least": "89ms",
            "at_most": "91ms",
        },
        {"name": "p50 too low", "kind": "latency", "statistic": "p50", "at_most": "80ms"},
        {"name": "no such mail", "kind": "latency", "recipient_class": "internet", "at_most": "1h"},
    ]
    lines = {line.name: line for line in evaluate(simkit.scenario(raw))}
    assert lines["mean"].passed, [str(line) for line in lines.values()]
    assert lines["p95"].passed, [str(line) for line in lines.values()]
    assert lines["mean"].expected == "mean latency of all user mail >= 0.089 s and <= 0.091 s"
    assert not lines["p50 too low"].passed
    assert lines["p50 too low"].observed.startswith("0.09")
    assert not lines["no such mail"].passed
    assert lines["no such mail"].observed == "no deliveries"


def test_validation_knows_every_event_the_model_logs():
    # The ids validation accepts are read from the event log's code; every event a run of the
    # KB and fault scenarios actually logs must be among them (and they are not all of them).
    from exsim.experiment import expand_sweep, point_scenario
    from exsim.logs import LOGGED_ON, event_ids_by_method, gateways_logging, logged_event_ids

    seen: set[int] = set()
    for path in [*sorted((SCENARIOS / "kb").glob("*.toml")), SCENARIOS / "faults.toml"]:
        scenario = load_scenario(path)
        for point in expand_sweep(scenario):
            run = point_scenario(scenario, point)
            events = simulate(run, 1).events
            seen |= {e.event_id for e in events}
            # An event validation ties to a gateway is logged only where such a gateway runs.
            hosts = {(c.kind, getattr(c, "server", None)) for c in run.connectors}
            for entry in events:
                kinds = gateways_logging(entry.event_id)
                assert kinds is None or any((kind, entry.server) in hosts for kind in kinds), entry
    assert {289, 301, 1026, 2007, 2025, 2335, 2380} <= seen <= logged_event_ids()
    # Every method of the event log that logs says where it can be called.
    assert set(event_ids_by_method()) == set(LOGGED_ON)
    assert gateways_logging(1026) == gateways_logging(2007) == {"ims"}
    assert gateways_logging(2025) == gateways_logging(2335) == {"msmail"}
    assert gateways_logging(289) is None


def test_an_event_expectation_on_a_server_without_the_gateway_that_logs_it_is_refused(tmp_path):
    # Q166866: the IMS runs on RED-EX1. Event 1026 "never" on RED-EX1 is a real check (the
    # bundled file has it for the builds without the defect); on RED-EX2 it could never fail.
    q166866 = (SCENARIOS / "kb" / "Q166866.toml").read_text()
    block = '\n[[expect]]\nname = "x"\nkind = "event"\nevent_id = 1026\nserver = "{}"\npresent = false\n'
    ok, bad = tmp_path / "ok.toml", tmp_path / "bad.toml"
    ok.write_text(q166866 + block.format("RED-EX1"))
    bad.write_text(q166866 + block.format("RED-EX2"))
    assert CliRunner().invoke(cli, ["validate", str(ok)]).exit_code == 0
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 2, result.output
    line = len(bad.read_text().splitlines()) - 2  # the event_id line
    assert f"{bad}:{line}: expect[" in result.output
    assert (
        '].event_id: event 1026 is logged only on a server hosting an IMS (kind = "ims") and RED-EX2 '
        "hosts none, so present = false could never fail" in result.output
    ), result.output
    # A sweep that puts the IMS on RED-EX2 in some points makes the check a real one there.
    moved = tmp_path / "moved.toml"
    moved.write_text(
        bad.read_text()
        + '\n[[sweep.variables]]\nname = "host"\npath = "connectors.IMS.server"\nvalues = ["RED-EX1", "RED-EX2"]\n'
    )
    assert CliRunner().invoke(cli, ["validate", str(moved)]).exit_code == 0
    # ... and every point of it runs: at a point where RED-EX2 hosts no IMS the expectation is
    # still the file's, judged for the whole sweep (before: ScenarioError, "internal error").
    scenario = load_scenario(moved)
    points = expand_sweep(scenario)
    assert {p.labels["host"] for p in points} == {"RED-EX1", "RED-EX2"}
    for point in points:
        assert point_scenario(scenario, point).expect[-1].server == "RED-EX2"


def test_reports_lost_on_their_way_back_are_checkable():
    # KB Q197058: B1's MTA refuses A's larger mail by size; the report it generates cannot be
    # routed back and is lost. Every report is generated and lost, none delivered, and the
    # expectations say so; one claiming the reports arrive fails.
    raw = simkit.size_limited("B1", "5.0")
    raw["expect"] = [
        {
            "name": "generated",
            "kind": "outcome",
            "metric": "recipients",
            "recipient_class": "report",
            "at_least": 1,
        },
        {"name": "all lost", "kind": "outcome", "metric": "lost", "recipient_class": "report", "at_least": 1},
        {
            "name": "none delivered",
            "kind": "outcome",
            "metric": "delivered",
            "recipient_class": "report",
            "equals": 0,
        },
        {
            "name": "wrong",
            "kind": "outcome",
            "metric": "delivery_rate",
            "recipient_class": "report",
            "equals": 1,
        },
    ]
    scenario = simkit.scenario(raw)
    lines = {line.name: line for line in evaluate(scenario)}
    run = simulate(scenario, replication_seed(scenario.run.seed, 0))
    assert run.reports.recipients == run.reports.lost > 0
    assert lines["generated"].observed == lines["all lost"].observed == f"{run.reports.lost:g}"
    assert lines["generated"].passed
    assert lines["all lost"].passed
    assert lines["none delivered"].passed
    assert not lines["wrong"].passed


def test_ndr_time_bounds_are_shown_as_the_file_wrote_them():
    # The same outage as above: the first message gives up 2 x 5 min after its first failed
    # open, so 10 to 20 minutes in. Bounds written 0h10m and 0h1200s: the check line shows them
    # so, not in the shortest exact unit (10m, 20m) that the seconds would give back.
    raw = _two_sites_with(
        {"name": "first", "kind": "ndr_time", "after": "0h10m", "before": "0h1200s"}, outage=("0s", "2h")
    )
    raw["connectors"][0]["override"] = {"max_open_retries": 2, "open_interval": "5m"}
    (line,) = evaluate(simkit.scenario(raw))
    assert line.expected == "first NDR at >= 0h10m and <= 0h1200s"
    assert line.passed, str(line)


def test_a_mailbox_expectation_does_not_list_every_user(monkeypatch):
    # A1 with 10^12 users: the alias is checked from its own form, not against 10^12 names (the
    # old way, stopped here after 1,000 so that it fails instead of filling the memory).
    import exsim.address

    made = []

    def counted(server: str, number: int) -> str:
        made.append(number)
        if len(made) > 1_000:
            raise AssertionError("validation lists the anonymous users one by one")
        return f"{server}-u{number:04d}"

    monkeypatch.setattr(exsim.address, "anonymous_alias", counted)
    text = Q193322.replace("users = 10", "users = 1000000000000", 1)
    for alias, known in (
        ("A1-u999999999999", True),
        ("a1-U999999999999", True),  # the directory matches an alias whatever its case
        ("A1-u0", False),
        ("A1-u10", False),
        ("B1-u0001", False),
    ):
        body = f'\n[[expect]]\nname = "m"\nkind = "mailbox"\nalias = "{alias}"\nequals = 0\n'
        with pytest.raises(ScenarioError) as refused:
            load_scenario(text + body)
        # A known alias leaves only the size to refuse (checked when nothing else is wrong).
        assert ("unknown mailbox" not in str(refused.value)) == known, (alias, str(refused.value))
        assert ("servers[0].users: the experiment would need more memory" in str(refused.value)) == known


# The forms the directory knows bob by, written out by hand from the site's addresses
# (c=US;a= ;o=Redmond and @redmond.contoso.com) and bob's names.
BOB = {
    "alias": "bob",
    "alias in another case": "BoB",  # the directory matches aliases whatever their case
    "smtp": "bob@redmond.contoso.com",
    "x400": "c=US;a= ;o=Redmond;s=Brown;g=Bob",
    "ex": "/o=Contoso/ou=Redmond/cn=Recipients/cn=bob",
    "typed": "SMTP:BOB@Redmond.Contoso.com",
}


def test_a_mailbox_expectation_names_its_mailbox_by_any_address_the_directory_knows():
    raw = simkit.one_site(users=2, shares=simkit.mix(same_server=1.0), duration="1h")
    raw["servers"][0]["mailboxes"] = [{"alias": "bob", "surname": "Brown", "given": "Bob"}]
    raw["expect"] = [
        {"name": name, "kind": "mailbox", "alias": form, "at_least": 1} for name, form in BOB.items()
    ]
    lines = evaluate(simkit.scenario(raw))
    # One mailbox, one count, whichever way it is named: bob's deliveries in the run.
    assert {line.name: line.observed for line in lines} == dict.fromkeys(BOB, lines[0].observed)
    assert all(line.passed for line in lines), [str(line) for line in lines]
    assert lines[2].expected == "deliveries to bob@redmond.contoso.com (bob) >= 1"


def test_a_mailbox_address_the_directory_does_not_know_is_refused_at_its_line(tmp_path):
    raw = simkit.one_site(users=2, shares=simkit.mix(same_server=1.0), duration="1h")
    raw["servers"][0]["mailboxes"] = [{"alias": "bob", "surname": "Brown", "given": "Bob"}]
    wrong = {
        "smtp": (
            "bob@redmond.contoso.org",
            "no mailbox has the SMTP address 'bob@redmond.contoso.org'; "
            "did you mean 'bob@redmond.contoso.com'?",
        ),
        "x400": (
            "c=US;a= ;o=Redmond;s=Brown;g=Rob",
            "no mailbox has the X.400 address "
            "'c=US;a= ;o=Redmond;s=Brown;g=Rob'; did you mean 'c=US;a= ;o=Redmond;s=Brown;g=Bob'?",
        ),
        "malformed": (
            "c=US;x=1;s=Brown",
            "'c=US;x=1;s=Brown' is not a valid address: unknown X.400 attribute 'x'",
        ),
    }
    blocks = "".join(
        f'\n[[expect]]\nname = "{name}"\nkind = "mailbox"\nalias = {json.dumps(form)}\nequals = 0\n'
        for name, (form, _) in wrong.items()
    )
    path = tmp_path / "s.toml"
    path.write_text(to_toml(raw) + blocks)
    lines = path.read_text().splitlines()
    result = exsim("validate", str(path))
    assert result.returncode == 2
    refused = result.stderr.splitlines()[:-1]
    assert len(refused) == 3, result.stderr
    for index, (row, (form, message)) in enumerate(zip(refused, wrong.values(), strict=True)):
        line = next(n for n, text in enumerate(lines, 1) if text == f"alias = {json.dumps(form)}")
        assert row.startswith(f"{path}:{line}: expect[{index}].alias: {message}"), row
    assert "Traceback" not in result.stderr


def test_ndr_time_holds_in_every_replication_and_shows_each_run():
    # The same outage: each replication's first NDR comes 2 x 5 min after its own first failed
    # open, so the three runs' first (and last) NDRs differ. A bound only the earliest first NDR
    # (or the latest last one) meets must fail: the rule holds in every run, as an event's does.
    raw = _two_sites_with(outage=("0s", "2h"))
    raw["connectors"][0]["override"] = {"max_open_retries": 2, "open_interval": "5m"}
    scenario = simkit.scenario(raw)
    runs = [simulate(scenario, replication_seed(scenario.run.seed, k)) for k in range(3)]
    firsts = [min(s[0] for s in run.ndr_times.values()) for run in runs]
    lasts = [max(s[1] for s in run.ndr_times.values()) for run in runs]
    assert len(set(firsts)) == 3
    assert len(set(lasts)) == 3
    shown = "/".join(f"{t:.0f} s ({t / 3600:.2f} h)" for t in firsts)
    raw["expect"] = [
        {"name": "earliest only", "kind": "ndr_time", "before": f"{math.ceil(min(firsts))}s"},
        {"name": "every run", "kind": "ndr_time", "before": f"{math.ceil(max(firsts))}s"},
        {"name": "latest only", "kind": "ndr_time", "which": "last", "after": f"{math.floor(max(lasts))}s"},
        {"name": "every last", "kind": "ndr_time", "which": "last", "after": f"{math.floor(min(lasts))}s"},
    ]
    lines = {line.name: line for line in evaluate(simkit.scenario(raw), replications=3)}
    assert not lines["earliest only"].passed
    assert lines["earliest only"].observed == lines["every run"].observed == shown
    assert lines["every run"].passed
    assert not lines["latest only"].passed
    assert lines["every last"].passed
    assert lines["every last"].observed == "/".join(f"{t:.0f} s ({t / 3600:.2f} h)" for t in lasts)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'kind = "outcome"\nmetric = "ndr"\nequals = "1"',
            "expect[4].equals: Input should be a valid number",
        ),
        (
            'kind = "latency"\nat_most = "-1s"',
            "expect[4].at_most: duration '-1s' is not a number with a unit",
        ),
        ('kind = "ndr_time"\nafter = 5', "expect[4].after: duration 5 has no unit"),
        (
            'kind = "outcome"\nmetric = "ndr"\nequals = 5\ntolerance = -1',
            "expect[4].tolerance: Input should be greater than or equal to 0",
        ),
    ],
)
def test_a_bound_that_cannot_be_read_is_the_only_problem_reported(tmp_path, body, message):
    # Not also "states no bound" (it does state one) or "leave no value between them" (5 +- -1).
    path = tmp_path / "bad.toml"
    path.write_text(Q193322 + f'\n[[expect]]\nname = "bad"\n{body}\n')
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    problems = [line for line in result.output.splitlines() if line.startswith(f"{path}:")]
    assert len(problems) == 1, result.output
    assert message in problems[0]
