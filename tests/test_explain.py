"""What ``exsim trace`` teaches beyond the story: the JSON form, the glossary, the defect's fix.

Driven in-process (tests.clikit).
"""

from __future__ import annotations

import json

import pytest
import tomli_w

from exsim.versions import defect_by_kb
from tests.clikit import exsim
from tests.conftest import SCENARIOS
from tests.simkit import mix, one_site

Q166866 = str(SCENARIOS / "q166866.toml")
# Point 3: the sender and the IMS are both in Redmond, whose address (swept) has no p=.
REDMOND_COUNTED = (
    "The address that counted here is site Redmond's (c=US;a= ;o=Redmond): the site whose store "
    'handed the message to its gateway on RED-EX1 (model.q166866_gdi_site = "transfer_in"), '
    "whatever the sender's own address."
)


def test_trace_json_is_the_story_as_data_with_hops_ndr_and_the_fix():
    # Point 3 is SP1 without a PRMD: the store's gateway-in thread on the IMS server (RED-EX1)
    # fails the transfer-in (Q166866) and generates the NDR there.
    result = exsim("trace", Q166866, "--first-ndr", "--point", "3", "--json")
    assert result.returncode == 0, result.stdout
    story = json.loads(result.stdout)
    assert story["point"]["labels"] == {"version": "5.0-sp1", "site_address": "without p="}
    assert story["ndr"]
    assert story["lines"][0]["kind"] == "step"
    assert story["lines"][0]["text"].startswith("submitted by")
    times = [line["time_s"] for line in story["lines"]]
    assert times == sorted(times)
    # Hops group consecutive lines by server; the failing one holds events 1026 and 2007 and the NDR.
    failing = next(hop for hop in story["hops"] if hop["ndr"])
    assert failing["server"] == "RED-EX1"
    assert {1026, 2007} <= set(failing["events"])
    assert "store (gateway-in thread)" in failing["components"]
    defect_lines = [line for line in story["lines"] if line["defect"]]
    assert {line["defect"] for line in defect_lines} == {"Q166866"}
    assert story["fixes"] == [f"Fix for Q166866: {defect_by_kb('Q166866').fix}. {REDMOND_COUNTED}"]


def test_trace_ends_with_a_glossary_line_and_the_fix():
    result = exsim("trace", Q166866, "--first-ndr", "--point", "3")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    glossary = [line for line in lines if line.startswith("Glossary: ")]
    assert len(glossary) == 1
    for word in ("GDI = ", "bilateral info = ", "gateway-in thread = ", "NDR = "):
        assert word in glossary[0], word
    assert lines[-1] == f"Fix for Q166866: {defect_by_kb('Q166866').fix}. {REDMOND_COUNTED}"
    assert "PRMD" in lines[-1]


def test_trace_of_a_delivered_message_names_no_fix():
    # Point 0 is RTM with a PRMD: message 1 is delivered, no defect bites.
    result = exsim("trace", Q166866, "--message", "1", "--point", "0", "--json")
    story = json.loads(result.stdout)
    assert story["delivered"]
    assert not story["ndr"]
    assert story["fixes"] == []


@pytest.mark.parametrize(
    ("args", "kb"),
    [
        # HQ-EX2 (RTM) matches the PTT user's address fuzzily to a local USER mailbox.
        (("scenarios/addressing.toml", "--first-misdelivery"), "Q176046"),
        # Point 0: RTM, its GWART calculated before site C replicated: carol is unroutable.
        (("scenarios/kb/Q145976.toml", "--first-ndr", "--point", "0"), "Q145976"),
        # The oversized MS Mail message bounces between the two sites until hop 512.
        (("scenarios/kb/Q160534.toml", "--first-ndr"), "Q160534"),
        # IMS-1's Internet side is down: the queued message waits there until its timeout.
        (("scenarios/kb/Q156063.toml", "--first-ndr"), "Q156063"),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0].split("/")[-1],
)
def test_trace_ends_with_the_fix_of_the_defect_row_that_struck(args, kb):
    scenario, *rest = args
    result = exsim("trace", str(SCENARIOS.parent / scenario), *rest, "--json")
    assert result.returncode == 0, result.stdout
    story = json.loads(result.stdout)
    struck = [line for line in story["lines"] if line["defect"]]
    assert {line["defect"] for line in struck} == {kb}
    assert kb in struck[0]["text"] or kb == "Q176046"
    (fix,) = story["fixes"]
    assert fix.startswith(f"Fix for {kb}: {defect_by_kb(kb).fix}")
    assert fix.endswith(".")


@pytest.mark.parametrize(
    ("settings", "told"),
    [
        # As written: replication completes at 3 h, the GWART is recalculated 10 min later.
        (
            (),
            "replication completes at t=10800 s and routing learns of it at the next recalculation, at t=11400 s",
        ),
        # Replication done at 1 s, recalculated an hour later: the first NDR (13 s) comes in between.
        (
            ("--set", 'events.0.end="1s"', "--set", 'model.recalculation_delay="1h"'),
            "replication completed at t=1 s and routing learns of it at the next recalculation, at t=3601 s",
        ),
    ],
    ids=["during replication", "after replication, before the recalculation"],
)
def test_trace_of_q145976_says_when_routing_learns_that_replication_completed(settings, told):
    result = exsim("trace", str(SCENARIOS / "kb" / "Q145976.toml"), "--first-ndr", "--point", "0", *settings)
    assert result.returncode == 0, result.stdout
    (line,) = [line for line in result.stdout.splitlines() if "unroutable" in line]
    assert line.endswith(f"brought every site (Q145976): {told}"), line


SIZE_LOOP_FIX = (
    "Fix for Q160534: set one message size limit for the whole organization on every server's MTA "
    "object (it NDRs oversized mail at once), or let a single gateway serve each address space, so "
    "that no other path leads to an equal one: "
)


@pytest.mark.parametrize(
    ("gateway", "fix"),
    [
        # The KB's own case: two MS Mail connectors serving the same postoffices.
        ("msmail", "one MS Mail Connector for a set of MS Mail postoffices."),
        # The same loop with two Internet Mail Services serving SMTP:*: no postoffices in sight.
        ("ims", "one Internet Mail Service for a set of Internet domains."),
    ],
)
def test_the_size_loop_fix_speaks_of_the_gateways_that_looped(tmp_path, gateway, fix):
    text = (SCENARIOS / "kb" / "Q160534.toml").read_text()
    if gateway == "ims":
        text = (
            text.replace('kind = "msmail"', 'kind = "ims"')
            .replace('type = "MS", pattern = "MSNET/*"', 'type = "SMTP", pattern = "*"')
            .replace("internet = 0.0", "internet = 1.0")
            .replace("msmail = 1.0", "msmail = 0.0")
        )
    path = tmp_path / "loop.toml"
    path.write_text(text)
    result = exsim("trace", str(path), "--first-ndr", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fixes"] == [SIZE_LOOP_FIX + fix]


def test_the_size_loop_fix_has_words_for_every_gateway_kind():
    from exsim.scenario import GATEWAY_KINDS

    defect = defect_by_kb("Q160534")
    assert {kind for kind, _ in defect.fix_by_gateway} == set(GATEWAY_KINDS)
    # Knowing no gateway (exsim route, or a story without a scenario), every kind's words.
    assert defect.fix_for() == SIZE_LOOP_FIX.removeprefix("Fix for Q160534: ") + (
        "one MS Mail Connector for a set of MS Mail postoffices, one Internet Mail Service for a set of "
        "Internet domains, one X.400 connector for a foreign X.400 system"
    )


def test_trace_first_ndr_without_one_says_what_to_try_instead():
    # Point 0 is RTM with a PRMD: nothing is NDR'd (test_trace_of_a_delivered_message_names_no_fix).
    result = exsim("trace", Q166866, "--first-ndr", "--point", "0", "--json")
    # PRODUCT.md keeps 1 for a simulation or internal failure; the run was fine, and what the
    # command was asked for is not in it (as with --message N beyond the messages sent): 2.
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no message got a non-delivery report in this run" in result.stderr
    for hint in ("--message N (1..", "try --first-misdelivery", "scenarios/q166866.toml --point 3"):
        assert hint in result.stderr, hint


def two_sites_one_ims(sender_prmd: bool, ims_prmd: bool, gdi_site: str) -> dict:
    """Lima's users send only Internet mail, out through the IMS on OSL-EX1 in Oslo (SP1)."""
    lima = "c=PE;a= ;p=Fabrikam;o=Lima" if sender_prmd else "c=PE;a= ;o=Lima"
    oslo = "c=NO;a= ;p=Fabrikam;o=Oslo" if ims_prmd else "c=NO;a= ;o=Oslo"
    raw = one_site(version="5.0-sp1", users=5, duration="30m", shares=mix(internet=1.0))
    raw["sites"] = [
        {"name": "Lima", "addresses": {"x400": lima}},
        {"name": "Oslo", "addresses": {"x400": oslo}},
    ]
    raw["servers"] = [
        {"name": "LIM-EX1", "site": "Lima", "version": "5.0-sp1", "users": 5},
        {"name": "OSL-EX1", "site": "Oslo", "version": "5.0-sp1", "users": 0},
    ]
    raw["connectors"] = [
        {"name": "Site Connector Lima-Oslo", "kind": "site", "sites": ["Lima", "Oslo"]},
        {"name": "IMS Oslo", "kind": "ims", "server": "OSL-EX1"},
    ]
    raw["model"] = {"q166866_gdi_site": gdi_site}
    return raw


@pytest.mark.parametrize(
    ("sender_prmd", "ims_prmd", "gdi_site", "counted"),
    [
        # The default: Lima has p=, Oslo (the IMS's site) has none; Oslo's address is the one to fix.
        (
            True,
            False,
            "transfer_in",
            "site Oslo's (c=NO;a= ;o=Oslo): the site whose store handed the message to its gateway on "
            'OSL-EX1 (model.q166866_gdi_site = "transfer_in"), whatever the sender\'s own address.',
        ),
        # The other reading: the originator's site counts, here Lima without p=.
        (
            False,
            True,
            "originator",
            "site Lima's (c=PE;a= ;o=Lima): the originator's site (model.q166866_gdi_site = \"originator\").",
        ),
    ],
    ids=["transfer_in", "originator"],
)
def test_the_q166866_fix_names_the_site_whose_address_counted(
    tmp_path, sender_prmd, ims_prmd, gdi_site, counted
):
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(two_sites_one_ims(sender_prmd, ims_prmd, gdi_site)))
    result = exsim("trace", str(path), "--first-ndr", "--json")
    assert result.returncode == 0, result.stderr
    story = json.loads(result.stdout)
    assert story["lines"][0]["server"] == "LIM-EX1"  # sent from Lima
    fix = defect_by_kb("Q166866").fix
    assert story["fixes"] == [f"Fix for Q166866: {fix}. The address that counted here is {counted}"]


def test_readme_says_whose_address_q166866_reads_and_it_is_so():
    # README, "The model in brief": by default the IMS's site counts, not the sender's.
    from pathlib import Path

    from exsim.scenario import validate_raw
    from exsim.sim import simulate

    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert (
        "mail from a site with `p=` that leaves through an IMS in a site without it fails, and mail from "
        "a site without `p=` that leaves through an IMS in a site with it is delivered" in readme
    )
    lima_has_p = simulate(validate_raw(two_sites_one_ims(True, False, "transfer_in")))
    oslo_has_p = simulate(validate_raw(two_sites_one_ims(False, True, "transfer_in")))
    assert lima_has_p.recipients > 0
    assert lima_has_p.ndr == lima_has_p.recipients  # every recipient is on the Internet
    assert oslo_has_p.ndr == 0 < oslo_has_p.delivered


def _choices(scenario, **changes) -> tuple[list[tuple[float, str]], object]:
    """Every routing decision in the stories of all the run's messages: (time, text)."""
    from exsim.sim import simulate

    changed = scenario.modified(changes) if changes else scenario
    everyone = simulate(changed, trace_messages=set(range(1, 1000)))
    choices = [
        (line.time_s, line.text)
        for lines in everyone.traces.values()
        for line in lines
        if " chose " in line.text
    ]
    return choices, everyone


def test_the_story_says_why_each_candidate_was_passed_over():
    # Q166567's organization: Cheap (cost 1) and Dear (cost 5) join A and B; Cheap is down
    # 09:00-10:00 and mail goes out from 09:00. A learner seeing "chose Dear (cost 5)" must be
    # told why not Cheap: first its failed open (filter 4), then its open retry timer (filter 5).
    from exsim import load_scenario
    from exsim.sim import simulate

    scenario = load_scenario(SCENARIOS / "kb" / "Q166567.toml")
    choices, traced = _choices(scenario)
    dear = [text for _, text in choices if "chose Dear" in text]
    cheap = [text for _, text in choices if "chose Cheap" in text]
    assert cheap
    assert all(text.endswith("; passed over Dear (cost 5 > 1)") for text in cheap)
    why_not_cheap = {text.split("; passed over ")[1] for text in dear}
    assert why_not_cheap == {"Cheap (1 failed opens > 0)", "Cheap (its connector is in open retry)"}
    # Dear is chosen only while Cheap is down or its retry timer runs (it is back at 10:00).
    assert all(9 * 3600 <= t < 11 * 3600 for t, text in choices if "chose Dear" in text)
    # Telling the story changes nothing of the run: the same outcomes and routes untraced.
    untraced = simulate(scenario)
    assert traced.outcomes == untraced.outcomes
    assert traced.transfers == untraced.transfers

    # Cheap open only at night: by day it is passed over for its schedule (filter 3).
    choices, _ = _choices(scenario, **{"connectors.Cheap.schedule": ["20:00-06:00"]})
    assert {text.split("; passed over ")[1] for _, text in choices} == {
        "Cheap (its schedule is active later while another's is active now)"
    }

    # Two routes of one cost and nothing down: neither is passed over, one is drawn.
    choices, _ = _choices(scenario, **{"connectors.Dear.cost": 1, "events": []})
    assert choices
    assert all("passed over" not in text for _, text in choices)
    assert all(text.endswith("; drawn at random among 2 equal routes (Cheap, Dear)") for _, text in choices)
