"""Defects as data: the settings a defect row declares are what the simulation applies.

Q166866 (SP1): the store's gateway transfer-in of outbound SMTP fails when the GDI it
checks has no PRMD. Which site's GDI that is the sources leave open, so the row says
the scenario chooses (``model.q166866_gdi_site``). Here Internet mail from Dublin
(no p=) leaves through Redmond's IMS (Redmond has p=): with the default, Redmond's
store checks its own GDI and the mail goes out; told to check the originator's
site, it finds Dublin's blank PRMD and every message is NDR'd.
"""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from exsim import versions
from exsim.logs import logged_event_ids
from exsim.ndr import CONTENT_TOO_LONG, INVALID_ARGUMENTS
from exsim.sim import simulate
from exsim.versions import DEFECTS, defect_at
from tests.conftest import SCENARIOS
from tests.simkit import mix, scenario


def dublin_mail_out_through_redmond(gdi_site: str) -> dict:
    return {
        "name": "gdi-site",
        "organization": {"name": "Contoso"},
        "sites": [
            {
                "name": "Redmond",
                "addresses": {"x400": "c=US;a= ;p=Contoso;o=Redmond", "smtp": "@contoso.com"},
            },
            {"name": "Dublin", "addresses": {"x400": "c=IE;a= ;o=Dublin"}},
        ],
        "servers": [
            {"name": "RED-EX1", "site": "Redmond", "version": "5.0-sp1", "users": 0},
            {"name": "DUB-EX1", "site": "Dublin", "version": "5.0-sp1", "users": 20},
        ],
        "connectors": [
            {"name": "Redmond-Dublin", "kind": "site", "sites": ["Redmond", "Dublin"]},
            {"name": "IMS", "kind": "ims", "server": "RED-EX1"},
        ],
        "workload": {"profile": "heavy", "spread": "all_day", "mix": mix(internet=1.0)},
        "model": {"q166866_gdi_site": gdi_site},
        "run": {"duration": "1h", "drain": "1h", "seed": 4},
    }


def test_q166866_checks_the_gdi_the_scenario_chooses():
    transfer_in = simulate(scenario(dublin_mail_out_through_redmond("transfer_in")))
    originator = simulate(scenario(dublin_mail_out_through_redmond("originator")))
    assert transfer_in.recipients > 0
    assert transfer_in.ndr == 0
    assert transfer_in.delivered == transfer_in.recipients
    assert originator.recipients > 0
    assert originator.ndr == originator.recipients


def test_only_a_row_that_declares_a_maybe_fixed_build_changes_when_assumed_fixed():
    for defect in DEFECTS:
        assumed = defect_at(defect.where, assume_fixed=True)
        assert assumed is not None
        if defect.maybe_fixed_in is None:
            assert assumed.versions == defect.versions
        else:
            assert assumed.versions == defect.versions - {defect.maybe_fixed_in}
            assert defect.maybe_fixed_in in defect.versions


def test_q166866_strikes_as_its_row_says():
    """The worked example of docs/model.md: SP1, the store's gateway-in thread for the IMS, the
    invalid-arguments NDR from the store, events 1026 and 2007 on the IMS's server."""
    row = versions.defect_by_kb("Q166866")
    assert (row.component, row.where) == ("information store", "gateway_in:ims")
    assert row.ndr == INVALID_ARGUMENTS
    assert row.events == (1026, 2007)
    result = simulate(scenario(dublin_mail_out_through_redmond("originator")))
    assert result.outcomes.ndr_by_diagnostic == {"invalid-arguments": result.ndr}
    assert result.outcomes.ndr_by_component == {"MSExchangeIS": result.ndr}
    logged = {(e.event_id, e.server) for e in result.events}
    assert {(1026, "RED-EX1"), (2007, "RED-EX1")} <= logged


def test_the_hook_returns_mail_with_the_ndr_the_row_names(monkeypatch):
    monkeypatch.setattr(
        versions,
        "DEFECTS",
        tuple(dataclasses.replace(d, ndr=CONTENT_TOO_LONG) if d.kb == "Q166866" else d for d in DEFECTS),
    )
    result = simulate(scenario(dublin_mail_out_through_redmond("originator")))
    assert result.ndr > 0
    assert result.outcomes.ndr_by_diagnostic == {"content-too-long": result.ndr}


def test_every_row_says_where_it_strikes_and_what_it_leaves():
    components = {"information store", "MTA", "directory", "MS Mail connector", "Internet Mail Service"}
    known_events = logged_event_ids()
    for defect in DEFECTS:
        assert defect.component in components, defect.kb
        assert defect.where, defect.kb
        assert set(defect.events) <= known_events, defect.kb
    assert len({d.where for d in DEFECTS}) == len(DEFECTS)  # one row per hook


@pytest.mark.parametrize(
    "defect", [d for d in DEFECTS if (SCENARIOS / "kb" / f"{d.kb}.toml").exists()], ids=lambda d: d.kb
)
def test_a_rows_kb_scenario_expects_its_ndr_and_events(defect):
    """tests/test_kb.py shows these expectations hold; here, that they are the row's."""
    expectations = tomllib.loads((SCENARIOS / "kb" / f"{defect.kb}.toml").read_text())["expect"]
    ndr_texts = {e["text"] for e in expectations if e["kind"] == "ndr"}
    present = {e["event_id"] for e in expectations if e["kind"] == "event" and e.get("present", True)}
    if defect.ndr is not None:
        assert defect.ndr.text in ndr_texts
    assert set(defect.events) <= present


def test_a_row_without_an_ndr_refuses_to_name_one():
    quiet = versions.defect_by_kb("Q165485")
    assert quiet.ndr is None
    with pytest.raises(ValueError, match="Q165485 returns no mail"):
        _ = quiet.ndr_kind


def test_the_builds_a_scenario_may_name_are_the_builds_table():
    from typing import get_args

    from exsim.scenario.schema import Server

    assert set(get_args(versions.Version)) == set(versions.BUILDS) == {"5.0", "5.0-sp1", "5.0-sp2"}
    assert versions.BUILDS["5.0-sp1"].number == "5.0.1458"
    # 'Use Lowest Cost Routes Only' came with SP1 (KB Q166567).
    assert [b.lowest_cost_routes_only for b in versions.BUILDS.values()] == [False, True, True]
    description = Server.model_fields["version"].description
    assert description == "Exchange build: '5.0' (RTM 1457), '5.0-sp1' (SP1 1458), '5.0-sp2' (SP2 1460)"
