"""The quiet-server fast paths give the general paths' results.

A server that no stop or crash ever touches is *quiet*: its store, MTA and
gateway threads skip the availability checks and take work in one event
instead of several. That is only a shortcut, so it must not change a single
number. Here the same scenario runs twice: as written (every server quiet),
and with a crash scheduled for each server an hour *after* the run ends. The
crash never happens, but it makes every server non-quiet, so the second run
goes through the general paths; the two runs must agree exactly.
"""

from __future__ import annotations

import copy
import json

import pytest

from exsim.sim import simulate
from tests.simkit import mix, one_site, scenario, two_sites


def with_crashes_after_the_end(raw: dict) -> dict:
    raw = copy.deepcopy(raw)
    run = scenario(raw).run
    after_the_end_s = int(run.duration + run.drain) + 3600
    raw["events"] = [
        *raw.get("events", []),
        *({"kind": "crash", "server": s["name"], "at": f"{after_the_end_s}s"} for s in raw["servers"]),
    ]
    return raw


def everything_measured(result) -> dict:
    return {
        "row": json.dumps(result.row(), sort_keys=True),  # NaN-safe comparison of the run's figures
        "events": [(e.time_s, e.server, e.event_id, e.text) for e in result.events],
        "transfers": result.transfers,
        "counters": result.counters,
        "latency": result.latency.counts.tolist(),
        "ndr_by_text": dict(result.outcomes.ndr_by_text),
    }


#: The two small organizations both tests run: every path a quiet server takes a fast way.
SMALL_ORGANIZATIONS = pytest.mark.parametrize(
    "raw",
    [
        # Local delivery, the IMS gateway, NDRs (SP1 without p=) and distribution lists.
        one_site(
            duration="1h",
            shares=mix(same_server=0.3, same_site=0.3, internet=0.2, distribution_list=0.2),
        ),
        # Mail between sites over an X.400 connector, through both bridgehead MTAs.
        two_sites(duration="30m", drain="2h"),
    ],
    ids=["one-site", "two-sites"],
)


@SMALL_ORGANIZATIONS
def test_quiet_servers_give_the_general_paths_results(raw):
    fast = simulate(scenario(raw))
    general = simulate(scenario(with_crashes_after_the_end(raw)))
    assert fast.recipients > 0
    assert fast.delivered > 0
    assert everything_measured(fast) == everything_measured(general)


@SMALL_ORGANIZATIONS
def test_what_stores_and_mtas_keep_per_address_is_bounded_and_changes_no_result(raw, monkeypatch):
    """The stores' and MTAs' memory of each address (home server, next hop, route answer) only
    spares lookups: starting it afresh every few addresses gives the same results, and it never
    holds many more than it may."""
    from exsim.sim import mta, store
    from exsim.sim.model import Simulation

    kept = simulate(scenario(raw))
    monkeypatch.setattr(mta, "ADDRESSES_KEPT", 2)
    monkeypatch.setattr(store, "ADDRESSES_KEPT", 2)
    sim = Simulation(scenario(raw))
    forgetful = sim.run()
    assert forgetful.recipients > 0
    assert everything_measured(forgetful) == everything_measured(kept)
    # At most the bound plus the recipients of one message (the memory is checked per message).
    most = 2 + max(1, int(raw["workload"].get("distribution_list_size", 10)) * 3)
    assert all(len(m._known) <= most for m in sim.mtas.values())
    assert all(len(s._homes) <= most for s in sim.stores.values())
