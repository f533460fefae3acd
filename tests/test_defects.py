"""Defects as data: the settings a defect row declares are what the simulation applies.

Q166866 (SP1): the store's gateway transfer-in of outbound SMTP fails when the GDI it
checks has no PRMD. Which site's GDI that is the sources leave open, so the row says
the scenario chooses (``model.q166866_gdi_site``). Here Internet mail from Dublin
(no p=) leaves through Redmond's IMS (Redmond has p=): with the default, Redmond's
store checks its own GDI and the mail goes out; told to check the originator's
site, it finds Dublin's blank PRMD and every message is NDR'd.
"""

from __future__ import annotations

from exsim.sim import simulate
from exsim.versions import DEFECTS, defect_at
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
