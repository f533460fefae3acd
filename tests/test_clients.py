"""KB Q185024: which client, which builds and which addressing make same-server mail loop.

Hand-worked matrix: the NDR "detected looping" comes back exactly when the sender runs the
Exchange 4.0 client, addresses the recipient by a proxy (one-off / personal address book)
rather than from the GAL, and the site's bridgehead runs a later build (SP2) than the
sender's server (SP1). Every other combination delivers all of it.
"""

import pytest

from exsim.sim import simulate
from tests.simkit import mix, scenario

LOOP = "The recipient was detected looping within the message transfer service"


def _site(client: str, one_off: float, user_build: str, bridgehead_build: str, shares: dict) -> dict:
    return {
        "name": "q185024-matrix",
        "organization": {"name": "Contoso"},
        "sites": [
            {
                "name": "HQ",
                "addresses": {
                    "x400": "c=US;a= ;p=Contoso;o=HQ",
                    "smtp": "@hq.contoso.com",
                    "ms": "CONTOSO/HQ/",
                },
            }
        ],
        "servers": [
            {"name": "HQ-BH", "site": "HQ", "version": bridgehead_build, "users": 0},
            {"name": "HQ-U1", "site": "HQ", "version": user_build, "users": 15, "clients": {client: 1.0}},
            {"name": "HQ-U2", "site": "HQ", "version": user_build, "users": 15},
        ],
        "connectors": [{"name": "IMS", "kind": "ims", "server": "HQ-BH"}],
        "workload": {"profile": "heavy", "spread": "all_day", "mix": shares, "one_off_share": one_off},
        "run": {"duration": "1h", "drain": "30m", "seed": 185024},
    }


@pytest.mark.parametrize("client", ["exchange_4_0", "exchange_5_0", "outlook_97", "outlook_98"])
@pytest.mark.parametrize("builds", [("5.0-sp1", "5.0-sp2"), ("5.0-sp1", "5.0-sp1"), ("5.0-sp2", "5.0-sp2")])
@pytest.mark.parametrize("addressing", ["gal", "one-off"])
def test_q185024_matrix(client, builds, addressing):
    user_build, bridgehead_build = builds
    raw = _site(
        client, 1.0 if addressing == "one-off" else 0.0, user_build, bridgehead_build, mix(same_server=1.0)
    )
    result = simulate(scenario(raw))
    loops = client == "exchange_4_0" and addressing == "one-off" and bridgehead_build > user_build
    assert result.recipients > 100
    if loops:
        # Every recipient of HQ-U1's users loops; HQ-U2's users (Exchange 5.0 client) are delivered.
        u1 = result.by_class["same_server"]
        assert result.ndr == result.outcomes.ndr_by_text[LOOP] > 0
        assert result.outcomes.ndr_by_component["MSExchangeMTA"] == result.ndr
        assert result.delivered + result.ndr == u1.recipients
    else:
        assert result.ndr == 0
        assert result.delivered == result.recipients
    assert result.misdelivered == 0


def test_q185024_never_for_mail_to_another_server():
    raw = _site("exchange_4_0", 1.0, "5.0-sp1", "5.0-sp2", mix(same_site=1.0))
    result = simulate(scenario(raw))
    assert result.recipients > 100
    assert result.delivered == result.recipients
