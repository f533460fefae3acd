"""Routing: GWART rows, resolution and the Q193322 route-selection filters.

Each expectation is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import numpy as np
import pytest

from exsim.explain import explain_plan
from exsim.org import Organization
from exsim.routing import (
    ConnectorStates,
    MessageRouteState,
    Router,
    compute_gwart,
    route_survivors,
    select_route,
    select_target_server,
)
from exsim.scenario import validate_raw
from tests.conftest import SCENARIOS


def site(name: str, p: str | None = "Contoso", smtp: bool = False) -> dict:
    x400 = f"c=US;a= ;p={p};o={name}" if p else f"c=US;a= ;o={name}"
    addresses = {"x400": x400}
    if smtp:
        addresses["smtp"] = f"@{name.lower()}.contoso.com"
    return {"name": name, "addresses": addresses}


def server(name: str, site_name: str, mailbox: str | None = None) -> dict:
    entry = {"name": name, "site": site_name, "users": 0}
    if mailbox:
        entry["mailboxes"] = [{"alias": mailbox, "surname": mailbox}]
    return entry


def link(name: str, a: str, b: str, cost: int, kind: str = "x400", **extra) -> dict:
    entry = {"name": name, "kind": kind, "sites": [a, b], "cost": cost, **extra}
    if kind in ("x400", "ras") and "bridgeheads" not in extra:
        entry["bridgeheads"] = [f"{a}1", f"{b}1"]
    return entry


def org_of(sites: list[str], links: list[dict], gateways: list[dict] = ()) -> Organization:
    raw = {
        "organization": {"name": "Contoso"},
        "sites": [site(s, smtp=True) for s in sites],
        "servers": [server(f"{s}1", s, mailbox=f"user{s}") for s in sites],
        "connectors": links + list(gateways),
    }
    return Organization(validate_raw(raw))


def rows_for(org: Organization, site_name: str, space: str) -> list[tuple[int, str, tuple]]:
    return sorted((r.cost, r.connector, r.route) for r in compute_gwart(org, site_name) if r.space == space)


RING = [link("AB", "A", "B", 1), link("BC", "B", "C", 1), link("CD", "C", "D", 1), link("DA", "D", "A", 1)]


def test_ring_of_four_sites():
    org = org_of(["A", "B", "C", "D"], RING)
    # From A, C is two hops either way round: cost 1 + 1 = 2 by B and by D.
    assert rows_for(org, "A", "/o=Contoso/ou=C") == [
        (2, "AB", ("A", "B", "C")),
        (2, "DA", ("A", "D", "C")),
    ]
    # B is next door via AB (1); the other way round is D, C, B: 1 + 1 + 1 = 3.
    assert rows_for(org, "A", "/o=Contoso/ou=B") == [(1, "AB", ("A", "B")), (3, "DA", ("A", "D", "C", "B"))]


def test_ring_plus_cheap_diagonal():
    org = org_of(["A", "B", "C", "D"], RING + [link("AC", "A", "C", 1)])
    # The diagonal reaches C for 1; round the ring it is still 2 each way.
    assert rows_for(org, "A", "/o=Contoso/ou=C") == [
        (1, "AC", ("A", "C")),
        (2, "AB", ("A", "B", "C")),
        (2, "DA", ("A", "D", "C")),
    ]
    plan = Router(org).plan("A1", "userC")
    assert [h.via for h in plan.hops] == ["AC"]
    assert plan.total_cost == 1


def test_multi_hop_route_accumulates_cost():
    org = org_of(["A", "B", "C"], [link("AB", "A", "B", 2), link("BC", "B", "C", 3)])
    # A -> B (2) -> C (3): 5, and the X.400 site address of C costs the same.
    assert rows_for(org, "A", "/o=Contoso/ou=C") == [(5, "AB", ("A", "B", "C"))]
    assert rows_for(org, "A", "c=US;a= ;p=Contoso;o=C") == [(5, "AB", ("A", "B", "C"))]
    plan = Router(org).plan("A1", "userC")
    assert [(h.from_server, h.to_server, h.via) for h in plan.hops] == [
        ("A1", "B1", "AB"),
        ("B1", "C1", "BC"),
    ]
    assert plan.total_cost == 5
    assert plan.outcome == "delivered to C1"


def test_gateway_rows_accumulate_connector_and_address_space_costs():
    ims = {
        "name": "IMS-C",
        "kind": "ims",
        "server": "C1",
        "address_spaces": [{"type": "SMTP", "pattern": "*", "cost": 4}],
    }
    org = org_of(["A", "B", "C"], [link("AB", "A", "B", 2), link("BC", "B", "C", 3)], [ims])
    # A: 2 + 3 + 4 = 9; C itself: the address-space cost 4 on its own IMS.
    assert rows_for(org, "A", "*") == [(9, "AB", ("A", "B", "C"))]
    assert rows_for(org, "C", "*") == [(4, "IMS-C", ("C",))]


def test_site_scoped_address_space_stays_in_its_site():
    ims = {
        "name": "IMS-B",
        "kind": "ims",
        "server": "B1",
        "address_spaces": [{"type": "SMTP", "pattern": "*", "cost": 1, "scope": "site"}],
    }
    org = org_of(["A", "B"], [link("AB", "A", "B", 1)], [ims])
    assert rows_for(org, "B", "*") == [(1, "IMS-B", ("B",))]
    assert rows_for(org, "A", "*") == []
    assert Router(org).plan("A1", "x@example.com").outcome.startswith("unroutable")


def selection(org, rows, server, **kwargs):
    return select_route(
        org,
        rows,
        server,
        kwargs.pop("message", MessageRouteState()),
        kwargs.pop("states", ConnectorStates()),
        kwargs.pop("at_s", 0.0),
        **kwargs,
    )


def two_links(cost1=1, cost2=1, **extra2) -> Organization:
    return org_of(["A", "B"], [link("L1", "A", "B", cost1), link("L2", "A", "B", cost2, **extra2)])


def test_equal_cost_connectors_share_the_load():
    org = two_links()
    rows = Router(org).resolve("A", "userB").rows
    rng = np.random.default_rng(42)
    picks = [selection(org, rows, "A1", rng=rng).chosen.connector for _ in range(4000)]
    # Fair draw: expect 2000 each; binomial sd = sqrt(4000 * .5 * .5) = 31.6; allow 4 sd.
    assert abs(picks.count("L1") - 2000) <= 127
    assert picks.count("L1") + picks.count("L2") == 4000


def test_connector_at_max_open_retries_is_skipped():
    org = two_links(cost1=1, cost2=50)
    rows = Router(org).resolve("A", "userB").rows
    # L1 is cheaper, but this message has failed 145 opens on it: the first
    # open and 144 retries, all that max open retries (144) allows.
    message = MessageRouteState(attempts={"L1": 145})
    assert selection(org, rows, "A1", message=message).chosen.connector == "L2"
    # After the first open and 143 retries one retry is left: filter 2 keeps L1,
    # then filter 4 (fewest attempts) prefers L2 with none.
    step2 = selection(org, rows, "A1", message=MessageRouteState(attempts={"L1": 144})).steps[1]
    assert step2.survivors == ("L1", "L2")
    assert selection(org, rows, "A1").chosen.connector == "L1"


def test_never_scheduled_connector_is_passed_over_for_an_active_one():
    org = two_links(cost1=1, cost2=50, schedule="never")
    rows = Router(org).resolve("A", "userB").rows
    assert selection(org, rows, "A1").chosen.connector == "L1"
    org = org_of(["A", "B"], [link("L1", "A", "B", 1, schedule="never"), link("L2", "A", "B", 50)])
    rows = Router(org).resolve("A", "userB").rows
    assert selection(org, rows, "A1").chosen.connector == "L2"  # active now beats cheaper-but-never


def test_fewest_attempts_before_cost_unless_lowest_cost_routes_only():
    org = two_links(cost1=1, cost2=5)
    rows = Router(org).resolve("A", "userB").rows
    message = MessageRouteState(attempts={"L1": 1})
    # Q193322: filter 4 (fewest attempts: L2 with 0) comes before filter 6 (cost).
    assert selection(org, rows, "A1", message=message).chosen.connector == "L2"
    # Q166567: with Use Lowest Cost Routes Only, cost comes first: L1.
    assert (
        selection(
            org, rows, "A1", message=MessageRouteState(attempts={"L1": 1}), lowest_cost_only=True
        ).chosen.connector
        == "L1"
    )


def test_lowest_cost_only_still_prefers_an_active_schedule():
    # L1 cheap but only active 22:00-06:00; at 12:00 Monday L2 (active now) wins even so.
    org = org_of(["A", "B"], [link("L1", "A", "B", 1, schedule=["22:00-06:00"]), link("L2", "A", "B", 5)])
    rows = Router(org).resolve("A", "userB").rows
    assert selection(org, rows, "A1", at_s=12 * 3600, lowest_cost_only=True).chosen.connector == "L2"
    assert selection(org, rows, "A1", at_s=23 * 3600, lowest_cost_only=True).chosen.connector == "L1"


def test_open_retry_state_counts_only_for_connectors_on_this_server():
    org = two_links()
    rows = Router(org).resolve("A", "userB").rows
    states = ConnectorStates(open_retry={"L1"})
    assert selection(org, rows, "A1", states=states).chosen.connector == "L2"


def test_open_retry_filter_is_bypassed_for_candidates_on_different_servers():
    # KB Q193322 filter 5: an MTA knows only its own open retry timers, so with candidates on
    # different servers the filter is skipped, even for the one on the deciding server.
    def org_with(l2_bridgehead: str) -> Organization:
        raw = {
            "organization": {"name": "Contoso"},
            "sites": [site("A"), site("B")],
            "servers": [server("A1", "A"), server("A2", "A"), server("B1", "B", mailbox="userB")],
            "connectors": [
                link("L1", "A", "B", 1, bridgeheads=["A1", "B1"]),
                link("L2", "A", "B", 5, bridgeheads=[l2_bridgehead, "B1"]),
            ],
        }
        return Organization(validate_raw(raw))

    retrying = ConnectorStates(open_retry={"L1"})
    # L1 on A1 (retrying there), L2 on A2: bypassed, and cost then picks L1 all the same.
    apart = org_with("A2")
    rows = Router(apart).resolve("A", "userB").rows
    chosen = selection(apart, rows, "A1", states=retrying)
    assert chosen.chosen.connector == "L1"
    (step5,) = [s for s in chosen.steps if s.name.startswith("5.")]
    assert (step5.survivors, step5.dropped) == (("L1", "L2"), ())
    assert step5.note.startswith("bypassed: the candidates run on different servers")
    # Both on A1, decided there: A1 knows L1's timer, the filter drops it, L2 goes.
    together = org_with("A1")
    rows = Router(together).resolve("A", "userB").rows
    assert selection(together, rows, "A1", states=retrying).chosen.connector == "L2"
    # Both on A1, decided on A2: the filter applies but A2 holds no timer of A1's connectors.
    from_a2 = selection(together, rows, "A2", states=ConnectorStates())
    (step5,) = [s for s in from_a2.steps if s.name.startswith("5.")]
    assert step5.dropped == ()
    assert step5.note == "the candidates all run on A1: A2's MTA knows none of their timers"


def test_local_connector_over_remote():
    raw_sites = ["A", "B"]
    raw = {
        "organization": {"name": "Contoso"},
        "sites": [site(s) for s in raw_sites],
        "servers": [server("A1", "A"), server("A2", "A"), server("B1", "B", mailbox="userB")],
        "connectors": [
            link("Remote", "A", "B", 1, bridgeheads=["A2", "B1"]),
            link("Local", "A", "B", 1, bridgeheads=["A1", "B1"]),
        ],
    }
    org = Organization(validate_raw(raw))
    rows = Router(org).resolve("A", "userB").rows
    chosen = selection(org, rows, "A1")
    assert chosen.chosen.connector == "Local"
    assert chosen.steps[-1].name == "7. local over remote"
    # Seen from A2 the other one is local.
    assert selection(org, rows, "A2").chosen.connector == "Remote"


def test_star_beats_blank_whatever_the_cost():
    gateways = [
        {
            "name": "Blank",
            "kind": "ims",
            "server": "A1",
            "address_spaces": [{"type": "SMTP", "pattern": "", "cost": 1}],
        },
        {
            "name": "Star",
            "kind": "ims",
            "server": "A1",
            "address_spaces": [{"type": "SMTP", "pattern": "*", "cost": 90}],
        },
    ]
    org = org_of(["A"], [], gateways)
    resolution = Router(org).resolve("A", "someone@example.com")
    assert [r.connector for r in resolution.rows] == ["Star"]
    assert Router(org).plan("A1", "someone@example.com").outcome == "to gateway Star"


def test_most_specific_smtp_space_wins():
    gateways = [
        {
            "name": "All",
            "kind": "ims",
            "server": "A1",
            "address_spaces": [{"type": "SMTP", "pattern": "*", "cost": 1}],
        },
        {
            "name": "Irish",
            "kind": "ims",
            "server": "A1",
            "address_spaces": [{"type": "SMTP", "pattern": "*.ie", "cost": 9}],
        },
    ]
    org = org_of(["A"], [], gateways)
    assert [r.connector for r in Router(org).resolve("A", "jo@mail.example.ie").rows] == ["Irish"]
    assert [r.connector for r in Router(org).resolve("A", "jo@example.com").rows] == ["All"]


def test_x400_address_routed_by_its_o_and_p():
    org = org_of(["A", "B"], [link("AB", "A", "B", 1)])
    router = Router(org)
    # Not in the directory, but inside B's X.400 site address c=US;a= ;p=Contoso;o=B.
    plan = router.plan("A1", "c=US;a= ;p=Contoso;o=B;s=Nobody")
    assert [h.via for h in plan.hops] == ["AB"]
    assert plan.outcome.startswith("unroutable: address is in the organization's own X400 address space")
    # A different PRMD or organization matches no site address.
    assert router.plan("A1", "c=US;a= ;p=Fabrikam;o=B;s=Nobody").outcome.startswith("unroutable: no X400")
    assert router.plan("A1", "c=US;a= ;p=Contoso;o=Z;s=Nobody").outcome.startswith("unroutable: no X400")
    # The directory knows userB's proxy in any attribute order.
    assert router.plan("A1", "s=userB;o=B;p=Contoso;a= ;c=US").outcome == "delivered to B1"


def test_unroutable_addresses():
    org = org_of(["A"], [])
    router = Router(org)
    assert router.resolve("A", "someone@example.com").kind == "unroutable"  # no IMS
    assert router.resolve("A", "NoSuchAlias").reason == "no mailbox with alias 'NoSuchAlias'"
    assert router.resolve("A", "ghost@a.contoso.com").kind == "unroutable"


def test_address_space_change_alters_route():
    def org_with(cost_b: int) -> Organization:
        gateways = [
            {
                "name": "IMS-A",
                "kind": "ims",
                "server": "A1",
                "address_spaces": [{"type": "SMTP", "pattern": "*", "cost": 5}],
            },
            {
                "name": "IMS-B",
                "kind": "ims",
                "server": "B1",
                "address_spaces": [{"type": "SMTP", "pattern": "*", "cost": cost_b}],
            },
        ]
        return org_of(["A", "B"], [link("AB", "A", "B", 1, kind="site", bridgeheads=[])], gateways)

    # IMS-B at cost 1: 1 (AB) + 1 = 2 beats IMS-A's 5.
    assert Router(org_with(1)).plan("A1", "x@example.com").outcome == "to gateway IMS-B"
    # Raise IMS-B's address-space cost to 10: 1 + 10 = 11 loses to 5.
    assert Router(org_with(10)).plan("A1", "x@example.com").outcome == "to gateway IMS-A"


def test_route_never_reenters_a_site_already_passed():
    org = org_of(["A", "B", "C", "D"], RING)
    rows = Router(org).resolve("A", "userC").rows
    # Having come through D already, the route by D is refused; by B is fine.
    message = MessageRouteState(visited_sites=("D",))
    assert selection(org, rows, "A1", message=message).chosen.connector == "AB"
    message = MessageRouteState(visited_sites=("B", "D"))
    result = selection(org, rows, "A1", message=message)
    assert result.chosen is None
    assert result.reason == "loop"
    message = MessageRouteState(hops=512)
    assert selection(org, rows, "A1", message=message).reason == "loop"


def test_survivor_memo_answers_as_the_filters_do():
    # Ring A-B-C-D: from A1 to C by AB (A, B, C) or by DA (A, D, C), both cost 2, both on A1.
    org = org_of(["A", "B", "C", "D"], RING)
    rows = Router(org).resolve("A", "userC").rows
    memo: dict = {}

    def survivors(message: MessageRouteState, states: ConnectorStates | None = None, **kw) -> list[str]:
        states = states or ConnectorStates()
        plain = route_survivors(org, rows, "A1", message, states, 0.0, **kw)
        remembered = route_survivors(org, rows, "A1", message, states, 0.0, memo=memo, **kw)
        assert remembered == plain
        return [r.connector for r in remembered[0]]

    # Paths that differ but leave filter 1 the same candidates share one entry.
    assert survivors(MessageRouteState()) == ["AB", "DA"]
    assert survivors(MessageRouteState(visited_sites=("A",))) == ["AB", "DA"]
    assert len(memo) == 1
    assert survivors(MessageRouteState(visited_sites=("D",))) == ["AB"]
    assert len(memo) == 1  # a lone candidate is kept by filters 2-7 without asking the memo
    # A message that has failed an open, or a connector in open retry, is decided afresh (filters
    # 4 and 5 read them), though filter 1 leaves both candidates as for the first entry.
    assert survivors(MessageRouteState(attempts={"DA": 1})) == ["AB"]
    assert survivors(MessageRouteState(), ConnectorStates(open_retry={"AB"})) == ["DA"]
    assert len(memo) == 1
    assert survivors(MessageRouteState(), lowest_cost_only=True) == ["AB", "DA"]
    assert len(memo) == 2  # the cost-first order is remembered apart


def test_target_servers_cost_zero_first_then_weighted_then_hundred():
    raw = {
        "organization": {"name": "Contoso"},
        "sites": [site("A"), site("B")],
        "servers": [
            server("A1", "A"),
            server("B1", "B"),
            server("B2", "B"),
            server("B3", "B"),
            server("B4", "B"),
        ],
        "connectors": [
            {
                "name": "SC",
                "kind": "site",
                "sites": ["A", "B"],
                "target_servers": [
                    {"server": "B1", "cost": 0},
                    {"server": "B2", "cost": 1},
                    {"server": "B3", "cost": 3},
                    {"server": "B4", "cost": 100},
                ],
            }
        ],
    }
    org = Organization(validate_raw(raw))
    assert select_target_server(org, "SC", "B") == "B1"
    rng = np.random.default_rng(7)
    draws = [select_target_server(org, "SC", "B", failed={"B1"}, rng=rng) for _ in range(4000)]
    # weights 1/1 : 1/3 -> B2 gets 3/4 = 3000 of 4000 (sd = sqrt(4000 * .75 * .25) = 27.4; 4 sd = 110)
    assert abs(draws.count("B2") - 3000) <= 110
    assert draws.count("B4") == 0
    assert select_target_server(org, "SC", "B", failed={"B1", "B2", "B3"}) == "B4"


def test_site_connector_without_target_servers_draws_every_remote_server_at_cost_1():
    raw = {
        "organization": {"name": "Contoso"},
        "sites": [site("A"), site("B")],
        "servers": [server("A1", "A"), server("B1", "B"), server("B2", "B"), server("B3", "B")],
        "connectors": [link("SC", "A", "B", 1, kind="site")],
    }
    org = Organization(validate_raw(raw))
    rng = np.random.default_rng(3)
    draws = [select_target_server(org, "SC", "B", rng=rng) for _ in range(3000)]
    # Every B server at cost 1: a third each, 1000 of 3000 (sd = sqrt(3000 * 1/3 * 2/3) = 25.8; 4 sd = 103).
    assert all(abs(draws.count(name) - 1000) <= 103 for name in ("B1", "B2", "B3"))
    # A failed target is left out: the other two share the draws.
    draws = [select_target_server(org, "SC", "B", failed={"B1"}, rng=rng) for _ in range(2000)]
    assert draws.count("B1") == 0
    assert abs(draws.count("B2") - 1000) <= 90
    # Without a random stream (route explanations): the first by name.
    assert select_target_server(org, "SC", "B") == "B1"
    assert select_target_server(org, "SC", "A", rng=rng) == "A1"


def test_contoso_routes_match_the_documented_costs():
    router = Router(Organization(__import__("exsim").load_scenario(SCENARIOS / "contoso.toml")))
    # Redmond -> Sydney: via Tokyo 3 + 5 = 8 beats the direct X.400 connector at 10.
    plan = router.plan("RED-EX1", "BJones")
    assert plan.total_cost == 8
    assert [h.via for h in plan.hops] == [
        "RPC",
        "X.400 Redmond-Tokyo",
        "Dynamic RAS Tokyo-Sydney",
    ]
    # Same site, other server: one RPC hop.
    assert router.plan("RED-EX1", "AKumar").outcome == "delivered to RED-EX2"
    # Cross-site next door: Site Connector cost 1.
    assert router.plan("RED-EX1", "MOBrien").total_cost == 1
    # Internet: local IMS cost 1; *.ie goes through Dublin: 1 + 1.
    assert router.plan("RED-EX2", "x@example.com").outcome == "to gateway Internet Mail Service (RED-EX1)"
    assert router.plan("RED-EX2", "x@example.ie").total_cost == 2
    assert router.plan("RED-EX1", "c=GB;a=BT;o=X;s=Y").outcome.startswith("unroutable")


def test_cost_100_connector_is_a_last_resort_whatever_the_sums():
    # A-D direct at cost 100, or round A-B-C-D at 60 + 30 + 20 = 110. By the sums the
    # direct link is cheaper (100 < 110); Q262952 says cost 100 is used only when every
    # other route has failed, so the 110 route wins.
    links = [
        link("AD", "A", "D", 100),
        link("AB", "A", "B", 60),
        link("BC", "B", "C", 30),
        link("CD", "C", "D", 20),
    ]
    org = org_of(["A", "B", "C", "D"], links)
    rows = Router(org).resolve("A", "userD").rows
    assert sorted((r.connector, r.cost, r.last_resort) for r in rows) == [
        ("AB", 110, False),
        ("AD", 100, True),
    ]
    chosen = selection(org, rows, "A1")
    assert chosen.chosen.connector == "AB"
    step = next(s for s in chosen.steps if s.name.startswith("2b."))
    assert step.survivors == ("AB",)
    assert "AD held back (cost 100)" in step.note
    # Once the message has failed an open on AB, every other route has failed: the
    # fewest-attempts filter takes AD (0 attempts) now.
    failed = MessageRouteState(attempts={"AB": 1})
    assert selection(org, rows, "A1", message=failed).chosen.connector == "AD"
    # A route this MTA knows is not working holds it back no longer: AB in open retry on A1
    # (another message's open failed there) counts as failed for this message too, so the
    # last resort is used now instead of the message waiting out AB's open retry timer.
    retrying = ConnectorStates(open_retry={"AB"})
    chosen = selection(org, rows, "A1", states=retrying)
    assert chosen.chosen.connector == "AD"
    step = next(s for s in chosen.steps if s.name.startswith("2b."))
    assert "AB is in open retry" in step.note
    # An other route that never calls out cannot hold the last resort back.
    never = [link("AD", "A", "D", 100), link("AB", "A", "B", 1, schedule="never"), *links[2:]]
    org = org_of(["A", "B", "C", "D"], never)
    rows = Router(org).resolve("A", "userD").rows
    assert selection(org, rows, "A1").chosen.connector == "AD"


def test_cost_100_inside_a_route_is_avoided_by_the_path_search():
    # From A everything goes over AB (cost 1). Beyond B, D is reached directly at 100 or
    # through C at 50 + 60 = 110. The GWART row avoids the cost-100 link: 1 + 110 = 111,
    # not 1 + 100 = 101, and is no last resort.
    links = [
        link("AB", "A", "B", 1),
        link("BD", "B", "D", 100),
        link("BC", "B", "C", 50),
        link("CD", "C", "D", 60),
    ]
    org = org_of(["A", "B", "C", "D"], links)
    assert rows_for(org, "A", "/o=Contoso/ou=D") == [(111, "AB", ("A", "B", "C", "D"))]
    assert not Router(org).resolve("A", "userD").rows[0].last_resort
    # Without the way round C, the only route crosses BD: its sum (101) stands, marked last resort.
    org = org_of(["A", "B", "D"], links[:2])
    (row,) = Router(org).resolve("A", "userD").rows
    assert (row.cost, row.last_resort) == (101, True)


def test_cost_100_address_space_is_a_last_resort_and_explained():
    # IMS-A in A serves SMTP:* at cost 100; IMS-B in B at 60, over AB (50): 110 by the sums.
    ims_a, ims_b = (
        {"name": name, "kind": "ims", "server": host, "address_spaces": [{"type": "SMTP", "cost": cost}]}
        for name, host, cost in (("IMS-A", "A1", 100), ("IMS-B", "B1", 60))
    )
    org = org_of(["A", "B"], [link("AB", "A", "B", 50)], [ims_a, ims_b])
    plan = Router(org).plan("A1", "x@example.com")
    assert plan.outcome == "to gateway IMS-B"
    assert plan.total_cost == 110
    text = "\n".join(explain_plan(plan))
    assert "cost 100  via IMS-A  [A]  (cost 100 on the way: last resort)" in text
    assert "2b. cost 100 only when every other route has failed:  (IMS-A held back" in text
    assert "    dropped IMS-A: cost 100 (last resort) while AB can still be tried" in text


def test_route_explanation_says_what_each_filter_dropped_and_why():
    router = Router(Organization(__import__("exsim").load_scenario(SCENARIOS / "contoso.toml")))
    # From RED-EX2 (not the X.400 bridgehead RED-EX1) to BJones in Sydney: the candidates are
    # Redmond-Tokyo at 3 + 5 = 8 and Redmond-Sydney at 10; lowest cost drops the direct one.
    plan = router.plan("RED-EX2", "BJones")
    at_redmond = plan.decisions[0].selection
    (cost_step,) = [s for s in at_redmond.steps if s.dropped]
    assert cost_step.name == "6. lowest cost"
    assert cost_step.dropped == (("X.400 Redmond-Sydney", "cost 10 > 8"),)
    lines = explain_plan(plan)
    assert "    dropped X.400 Redmond-Sydney: cost 10 > 8" in lines
    # Only filter 7 is left after cost, with one candidate: one line says it is skipped.
    assert "  filter 7 skipped: one candidate left (X.400 Redmond-Tokyo)" in lines
    # In Tokyo filter 1 drops the connector the mail arrived on, leaving one candidate.
    assert "    dropped X.400 Redmond-Tokyo: the connector the message arrived on" in lines
    assert "  filters 3-7 skipped: one candidate left (Dynamic RAS Tokyo-Sydney)" in lines
    assert lines[-1] == (
        "Why this route: at RED-EX2 X.400 Redmond-Tokyo won on 'lowest cost' "
        "(X.400 Redmond-Sydney: cost 10 > 8); then at TOK-EX1 Dynamic RAS Tokyo-Sydney won on "
        "'not the connector it arrived on, nor into a site already passed' "
        "(X.400 Redmond-Tokyo: the connector the message arrived on); then delivered to SYD-EX1."
    )
    # Every hop names the server that decided it; the RPC hop inside Redmond included.
    internet = router.plan("RED-EX2", "x@example.com")
    assert [h.why for h in internet.hops] == [
        "RED-EX2's MTA chose Internet Mail Service (RED-EX1), which runs on RED-EX1: handed to "
        "RED-EX1's MTA by RPC inside site Redmond",
        "RED-EX1 runs the gateway Internet Mail Service (RED-EX1), which takes the mail out of the "
        "organization",
    ]
    assert router.plan("RED-EX1", "AKumar").hops[0].why == (
        "RED-EX1's MTA finds AKumar's mailbox on RED-EX2 in the directory: delivered inside site "
        "Redmond by RPC"
    )


def test_route_explanation_says_equal_routes_are_drawn_per_message():
    # Ring A-B-C-D-A at cost 1 each, plus a direct AC at 5. From A1 to C: AB 1 + BC 1 = 2 and
    # DA 1 + CD 1 = 2 tie; AC's 5 loses on cost. Filters 1-7 leave two survivors, and the MTA
    # draws one of them for each message: the account must not call either "the only candidate".
    org = org_of(["A", "B", "C", "D"], [*RING, link("AC", "A", "C", 5)])
    plan = Router(org).plan("A1", "userC")
    assert plan.decisions[0].selection.tied == ("AB", "DA")
    lines = explain_plan(plan)
    assert "    dropped AC: cost 5 > 2" in lines
    assert "  load share: AB and DA tie (cost 2 each), so each message draws one of them at random" in lines
    assert (
        "  chosen: one of AB and DA, drawn at random for each message (followed here: AB, the first by name)"
        in lines
    )
    tie = "tie (cost 2 each), so each message draws one of them at random (followed here: AB)"
    then = (
        "; then at B1 BC won on 'not the connector it arrived on, nor into a site already passed' "
        "(AB: the connector the message arrived on); then delivered to C1."
    )
    assert (
        lines[-1] == f"Why this route: at A1 AB and DA won on 'lowest cost' (AC: cost 5 > 2) and {tie}{then}"
    )
    # Without AC nothing is dropped at A1: the two survivors tie from the start. At B1 one is left.
    ring = explain_plan(Router(org_of(["A", "B", "C", "D"], RING)).plan("A1", "userC"))
    assert ring[-1] == f"Why this route: at A1 AB and DA {tie}{then}"
    assert "  chosen: BC" in ring


def test_route_ends_a_loop_with_its_ndr_as_it_does_an_unknown_name():
    # Each end of AB holds SMTP:*: A sends Internet mail over AB to B, and B's only row is AB
    # back, the connector it arrived on: filter 1 drops it, nothing is left, the MTA NDRs it
    # loop-detected (reason 1 unable-to-transfer, diagnostic 3), as the simulation does.
    spaces = [{"type": "SMTP", "pattern": "*", "cost": 1, "site": end} for end in ("A", "B")]
    org = org_of(["A", "B"], [link("AB", "A", "B", 1, address_spaces=spaces)])
    lines = explain_plan(Router(org).plan("A1", "x@example.com"))
    at = lines.index("  nothing chosen (loop)")
    assert lines[at - 1] == "    dropped AB: the connector the message arrived on"
    assert lines[at + 1] == (
        "  -> NDR 'The recipient was detected looping within the message transfer service' "
        "(unable-to-transfer / loop-detected)"
    )
    assert "Outcome: unroutable: loop detected" in lines


# --- address spaces on site-linking connectors (KB Q182128, Q149121) -----------------


def fabrikam_space(**extra) -> dict:
    return {"type": "SMTP", "pattern": "*.fabrikam.com", "cost": 1, **extra}


IMS_B = {"name": "IMS-B", "kind": "ims", "server": "B1"}


def test_link_address_space_is_advertised_only_by_the_end_that_holds_it():
    # A's end of the X.400 connector AB holds SMTP:*.fabrikam.com (no 'site': the first of
    # 'sites'); B has an IMS for everything else.
    org = org_of(["A", "B"], [link("AB", "A", "B", 1, address_spaces=[fabrikam_space()])], [IMS_B])
    # A: out over AB to B, at the address space's own cost 1.
    assert rows_for(org, "A", "*.fabrikam.com") == [(1, "AB", ("A", "B"))]
    # B: the space would point back over AB into B itself, so B's table does not have it.
    assert rows_for(org, "B", "*.fabrikam.com") == []
    # From A the mail crosses AB; at B it matches the IMS's SMTP:* and leaves: no loop.
    plan = Router(org).plan("A1", "jo@mail.fabrikam.com")
    assert [h.via for h in plan.hops] == ["AB", "IMS-B"]
    assert plan.outcome == "to gateway IMS-B"
    # Sent from B it goes straight to B's own IMS.
    assert Router(org).plan("B1", "jo@mail.fabrikam.com").outcome == "to gateway IMS-B"


def test_link_address_space_end_named_by_site():
    # Chain C - A - B. The space on AB held by A's end reaches C through A: CA (1) + its own 1.
    held_by_a = org_of(
        ["A", "B", "C"],
        [link("AB", "A", "B", 1, address_spaces=[fabrikam_space(site="A")]), link("CA", "C", "A", 1)],
        [IMS_B],
    )
    assert rows_for(held_by_a, "C", "*.fabrikam.com") == [(2, "CA", ("C", "A", "B"))]
    assert [h.via for h in Router(held_by_a).plan("C1", "jo@mail.fabrikam.com").hops] == [
        "CA",
        "AB",
        "IMS-B",
    ]
    # Held by B's end it points from B out over AB to A: only B advertises it; C's only way
    # to B runs through A, where the route would come back, so neither A nor C has it.
    held_by_b = org_of(
        ["A", "B", "C"],
        [link("AB", "A", "B", 1, address_spaces=[fabrikam_space(site="B")]), link("CA", "C", "A", 1)],
        [IMS_B],
    )
    assert rows_for(held_by_b, "B", "*.fabrikam.com") == [(1, "AB", ("B", "A"))]
    assert rows_for(held_by_b, "A", "*.fabrikam.com") == []
    assert rows_for(held_by_b, "C", "*.fabrikam.com") == []


def test_remote_route_to_a_link_address_space_avoids_the_far_end():
    # Ring A-B-C-D-A. A's end of AB holds the space. From C, the way to A through B would
    # then cross AB back into B: only the way through D counts: CD 1 + DA 1 + 1 = 3.
    ring = [dict(RING[0], address_spaces=[fabrikam_space()]), *RING[1:]]
    org = org_of(["A", "B", "C", "D"], ring)
    assert rows_for(org, "C", "*.fabrikam.com") == [(3, "CD", ("C", "D", "A", "B"))]
    # From D: DA 1 + 1 = 2 (the way round by C and B would end in B itself).
    assert rows_for(org, "D", "*.fabrikam.com") == [(2, "DA", ("D", "A", "B"))]


def test_a_link_address_space_costs_its_own_cost_in_the_table_the_route_and_the_breakdown():
    # Chain C - A - B; AB costs 4 and A's end of it holds *.fabrikam.com at cost 1; CA costs 2;
    # B's IMS takes SMTP * at cost 3. The space's own cost stands for the link it sits on: A's
    # row is 1 (not 4 + 1), C's is CA 2 + 1 = 3 (the exit over AB adds nothing).
    from exsim.routing import cost_breakdown

    ims = dict(IMS_B, address_spaces=[{"type": "SMTP", "pattern": "*", "cost": 3}])
    org = org_of(
        ["A", "B", "C"],
        [link("AB", "A", "B", 4, address_spaces=[fabrikam_space(site="A")]), link("CA", "C", "A", 2)],
        [ims],
    )
    assert rows_for(org, "A", "*.fabrikam.com") == [(1, "AB", ("A", "B"))]
    assert rows_for(org, "C", "*.fabrikam.com") == [(3, "CA", ("C", "A", "B"))]
    (at_a,) = [r for r in compute_gwart(org, "A") if r.space == "*.fabrikam.com"]
    (at_c,) = [r for r in compute_gwart(org, "C") if r.space == "*.fabrikam.com"]
    assert cost_breakdown(org, at_a) == [("AB address space SMTP:*.fabrikam.com", 1)]
    assert cost_breakdown(org, at_c) == [("CA", 2), ("AB address space SMTP:*.fabrikam.com", 1)]
    # The route's hops cost what the tables charge: over AB 1, then B's IMS 3.
    plan = Router(org).plan("A1", "jo@mail.fabrikam.com")
    assert [(h.via, h.cost) for h in plan.hops] == [("AB", 1), ("IMS-B", 3)]
    assert plan.total_cost == 4
    assert plan.hops[0].why.startswith(
        "A1's MTA sends over AB (cost 1: the address space SMTP:*.fabrikam.com on site A's end of it, "
        "whose cost stands for the link's 4)"
    )
    # From C: CA 2, AB 1, IMS 3.
    assert Router(org).plan("C1", "jo@mail.fabrikam.com").total_cost == 6


def test_every_gwart_rows_cost_breaks_down_into_parts_that_sum_to_it():
    # The explorer's "cost by hop": every bundled scenario's rows, and a chain whose links hold
    # address spaces at either end (costs chosen so that no two sums coincide).
    from exsim.routing import cost_breakdown
    from exsim.scenario import load_scenario

    orgs = [Organization(load_scenario(path)) for path in sorted(SCENARIOS.rglob("*.toml"))]
    spaces = {"address_spaces": [fabrikam_space(site="B", cost=7)]}
    orgs.append(
        org_of(
            ["A", "B", "C", "D"],
            [
                link("AB", "A", "B", 4, address_spaces=[fabrikam_space(site="A")]),
                link("BC", "B", "C", 2, **spaces),
                link("CD", "C", "D", 5),
            ],
            [IMS_B],
        )
    )
    rows = [(org, row) for org in orgs for site_name in org.sites for row in compute_gwart(org, site_name)]
    assert any(row.target == row.connector for _, row in rows)  # a link's own address space
    for org, row in rows:
        parts = cost_breakdown(org, row)
        assert sum(cost for _, cost in parts) == row.cost, row
        assert all(cost >= 0 for _, cost in parts), row


def test_site_connector_address_spaces_ignored_between_replicated_sites():
    from exsim.routing import ignored_address_spaces

    def org_with(kind: str, scope: str = "organization", replicated: bool = True) -> Organization:
        extra = {"address_spaces": [fabrikam_space(scope=scope)]}
        if kind == "site":
            extra |= {"bridgeheads": [], "directory_replication": replicated}
        return org_of(["A", "B"], [link("AB", "A", "B", 1, kind=kind, **extra)], [IMS_B])

    # Site connector, replicated sites: the space is in no GWART; B's replicated table rules.
    site = org_with("site")
    assert rows_for(site, "A", "*.fabrikam.com") == []
    assert [(i.connector, i.site, i.type, i.pattern) for i in ignored_address_spaces(site)] == [
        ("AB", "A", "SMTP", "*.fabrikam.com")
    ]
    # A site-scoped (Local) one is kept, in A's table only.
    local = org_with("site", scope="site")
    assert rows_for(local, "A", "*.fabrikam.com") == [(1, "AB", ("A", "B"))]
    assert ignored_address_spaces(local) == []
    # Sites that do not replicate: the site connector's space counts.
    assert rows_for(org_with("site", replicated=False), "A", "*.fabrikam.com") == [(1, "AB", ("A", "B"))]
    # An X.400 connector's address spaces never depend on replication.
    x400 = org_with("x400")
    assert rows_for(x400, "A", "*.fabrikam.com") == [(1, "AB", ("A", "B"))]
    assert ignored_address_spaces(x400) == []


def test_cheapest_paths_takes_the_path_networkx_would():
    # Random small graphs with many equal costs: distances and the chosen path (which of
    # several equally cheap ones) must be networkx's, avoiding a site or not; the GWART's
    # routes used to come from networkx's Dijkstra and must not change.
    import random

    import networkx as nx

    from exsim.routing import cheapest_paths

    draws = random.Random(16)
    for _ in range(300):
        nodes = [f"S{i}" for i in range(draws.randint(2, 8))]
        graph: dict[str, dict[str, int]] = {n: {} for n in nodes}
        reference = nx.DiGraph()
        reference.add_nodes_from(nodes)
        for _ in range(draws.randint(0, 20)):
            a, b = draws.sample(nodes, 2)
            if b not in graph[a]:
                weight = draws.choice((1, 1, 2, 3, 1001))
                graph[a][b] = weight
                reference.add_edge(a, b, weight=weight)
        source = draws.choice(nodes)
        avoiding = draws.choice([None, *[n for n in nodes if n != source]])
        view = (
            reference
            if avoiding is None
            else nx.subgraph_view(reference, filter_node=lambda n, gone=avoiding: n != gone)
        )
        assert cheapest_paths(graph, source, avoiding) == nx.single_source_dijkstra(
            view, source, weight="weight"
        )


def test_cheapest_paths_by_hand():
    # A -> B -> D costs 2, A -> C -> D costs 2 too: B was found first, so its path stands;
    # avoiding B leaves A -> C -> D; E is never reached.
    from exsim.routing import cheapest_paths

    graph = {"A": {"B": 1, "C": 1}, "B": {"D": 1}, "C": {"D": 1}, "D": {}, "E": {"A": 1}}
    assert cheapest_paths(graph, "A") == (
        {"A": 0, "B": 1, "C": 1, "D": 2},
        {"A": ["A"], "B": ["A", "B"], "C": ["A", "C"], "D": ["A", "B", "D"]},
    )
    assert cheapest_paths(graph, "A", avoiding="B")[1]["D"] == ["A", "C", "D"]


def test_ex_index_matches_as_scoring_every_row_does():
    # The index must pick the same rows, in the same order, as scoring each row with
    # match_rows: the longest whole-RDN prefix wins, case and trailing '/' ignored, blank
    # spaces only when nothing else contains the DN, '*' never (EX has no wildcard).
    import random

    from exsim.routing import ExIndex, GwartRow, match_rows

    spaces = ["", " ", "/o=Contoso", "/O=contoso/", "/o=Contoso/ou=Paris", "/o=Contoso/ou=Par", "*", "/"]
    dns = ["/o=Contoso/ou=Paris", "/o=Contoso/ou=Paris/cn=X", "/o=Contoso/ou=Tokyo", "/o=Fabrikam", "/o=Con"]
    draws = random.Random(16)
    for _ in range(400):
        rows = [
            GwartRow(draws.choice(["EX", "X400"]), draws.choice(spaces), i, f"C{i}", ("A",), "B")
            for i in range(draws.randint(0, 8))
        ]
        index = ExIndex(rows)
        for dn in dns:
            assert index.match(dn) == tuple(match_rows(rows, "EX", dn)), (rows, dn)


def test_ex_index_by_hand():
    from exsim.routing import ExIndex, GwartRow

    org = GwartRow("EX", "/o=Contoso", 1, "C1", ("A",), "B")
    paris = GwartRow("EX", "/o=Contoso/ou=Paris/", 9, "C2", ("A",), "B")
    blank = GwartRow("EX", "", 1, "C3", ("A",), "B")
    index = ExIndex([blank, org, paris])
    assert index.match("/o=Contoso/ou=Paris/cn=Recipients") == (paris,)  # the more specific
    assert index.match("/o=Contoso/ou=Parisian") == (org,)  # a whole RDN, not a string prefix
    assert index.match("/o=Fabrikam") == (blank,)


def test_a_router_computes_a_sites_gwart_when_first_asked_and_only_that_one(monkeypatch):
    # `exsim gwart --site A` or a route from A to B on a 100-site organization reads one or
    # a few tables: the router builds those, each once, and they are the tables compute_gwart
    # gives (the ring's: A reaches C at cost 2 over AB or DA).
    import exsim.routing

    org = org_of(["A", "B", "C", "D"], RING)
    built: list[str] = []
    real = exsim.routing.compute_gwart

    def counting(org, site, *args):
        built.append(site)
        return real(org, site, *args)

    monkeypatch.setattr(exsim.routing, "compute_gwart", counting)
    router = Router(org)
    assert built == []
    assert list(router.gwarts) == ["A", "B", "C", "D"]
    assert len(router.gwarts) == 4
    assert "B" in router.gwarts
    assert "Z" not in router.gwarts
    assert built == []
    table = router.gwarts["A"]
    assert router.gwarts["A"] is table
    assert built == ["A"]
    assert sorted((r.cost, r.connector) for r in table if r.space.endswith("ou=C")) == [(2, "AB"), (2, "DA")]
    assert dict(router.gwarts.items()) == {s: real(org, s) for s in "ABCD"}
    assert built == ["A", "B", "C", "D"]
    with pytest.raises(KeyError):
        router.gwarts["Z"]


def test_a_router_keeps_one_answer_per_site_and_group_of_addresses_not_per_address():
    # A 100-site organization's MTAs meet most of its 60,000 addresses in a day: what the
    # directory makes of an address is kept once for the organization, and each site keeps one
    # answer per group of addresses it routes alike (a site's mailboxes; a foreign domain).
    raw = {
        "organization": {"name": "Contoso"},
        "sites": [site(s, smtp=True) for s in ("A", "B", "C")],
        "servers": [{"name": f"{s}1", "site": s, "users": 4} for s in ("A", "B", "C")],
        "connectors": [
            link("AB", "A", "B", 1),
            link("BC", "B", "C", 1),
            {"name": "IMS", "kind": "ims", "server": "A1"},
        ],
    }
    org = Organization(validate_raw(raw))
    router = Router(org)
    b_boxes = [alias for alias, box in org.mailboxes.items() if box.site == "B"]
    c_boxes = [alias for alias, box in org.mailboxes.items() if box.site == "C"]
    foreign = [f"user{n}@example{d}.com" for n in range(3) for d in range(2)]
    for address in b_boxes + c_boxes + foreign:
        for at in ("A", "B", "C"):
            router.resolve(at, address)
    assert len(router.destinations()) == 4 + 4 + 6
    # Site A: B's mailboxes, C's mailboxes, two domains; B: its own mailboxes too.
    assert len(router.answers("A")) == 4
    assert len(router.answers("B")) == 4
    to_c = [router.resolve("A", address) for address in c_boxes]
    assert {r.kind for r in to_c} == {"route"}
    assert all(r.rows is to_c[0].rows for r in to_c)  # one candidate list, shared
    assert [(r.connector, r.route) for r in to_c[0].rows] == [("AB", ("A", "B", "C"))]
    assert [r.matched_as for r in to_c] == [
        f"directory: mailbox {alias} in site C, routed as EX:/o=Contoso/ou=C" for alias in c_boxes
    ]
    assert router.resolve("B", b_boxes[1]).kind == "mailbox"
    assert router.resolve("B", b_boxes[1]).mailbox == org.mailboxes[b_boxes[1]]
    # Foreign mail from C goes over BC and AB to the IMS in A.
    (out,) = router.resolve("C", "user2@example1.com").rows
    assert (out.connector, out.route, out.target) == ("BC", ("C", "B", "A"), "IMS")
    assert router.resolve("C", "user2@example1.com").address == "user2@example1.com"


def test_resolutions_do_not_depend_on_which_address_of_a_group_came_first():
    # Each answer is worked out for the first address of its group that a site meets: every
    # order of meeting them must give every address the resolution a fresh router gives it
    # alone, and the rows of a mailbox in another site are those scoring every GWART row finds.
    import random

    from exsim import load_scenario
    from exsim.directory import Policy
    from exsim.routing import match_rows

    org = Organization(load_scenario(SCENARIOS / "contoso.toml"))
    boxes = [box for n, box in enumerate(org.mailboxes.values()) if n % 9 == 0]
    addresses = [a for box in boxes for a in (box.alias, box.proxies.smtp, box.proxies.x400) if a]
    addresses += [
        "someone@example.com",
        "other@example.com",
        "SMTP:someone@example.com",
        "ghost@paris.contoso.com",
        "NoSuchAlias",
        "c=US;a= ;p=Nowhere;o=X;s=Nobody",
        "c=FR;a= ;p=Contoso;o=Paris;s=Nobody",
        "/o=Nowhere/ou=X/cn=Y",
        "/o=Contoso/ou=Tokyo/cn=Nobody",
        "CONTOSO/PARIS/NOBODY",
        "MSNET/PO1/USER1",
        "c=US;a",
    ]
    policies = [Policy.of(2, "5.0-sp2"), Policy.of(1, "5.0")]  # exact only; fuzzy searches
    alone = {
        (at, address, policy): Router(org).resolve(at, address, policy)
        for at in org.sites
        for address in addresses
        for policy in policies
    }
    draws = random.Random(3)
    for _ in range(3):
        router = Router(org)
        order = list(alone)
        draws.shuffle(order)
        for at, address, policy in order:
            assert router.resolve(at, address, policy) == alone[(at, address, policy)], (at, address)
    kinds = {(resolution.kind, resolution.address_type) for resolution in alone.values()}
    assert {("mailbox", "ALIAS"), ("route", "SMTP"), ("route", "X400"), ("unroutable", "?")} <= kinds
    assert {("unroutable", "EX"), ("route", "EX"), ("route", "MS"), ("unroutable", "ALIAS")} <= kinds
    for (at, address, _), resolution in alone.items():
        box = org.mailboxes.get(address)
        if box is not None and box.site != at:
            expected = match_rows(Router(org).gwarts[at], "EX", org.site_dn(box.site))
            assert list(resolution.rows) == expected


@pytest.mark.parametrize(
    ("version", "x400", "returned"),
    [
        ("5.0-sp1", "c=US;a= ;o=Redmond", True),  # Q166866: SP1, no p= in the site address
        ("5.0-sp1", "c=US;a= ;p=Contoso;o=Redmond", False),
        ("5.0", "c=US;a= ;o=Redmond", False),  # RTM does not have the defect
        ("5.0-sp2", "c=US;a= ;o=Redmond", False),  # fixed in SP2
    ],
)
def test_a_route_to_an_ims_whose_store_returns_the_mail_says_so_and_how_to_fix_it(version, x400, returned):
    from exsim import load_scenario

    scenario = load_scenario(SCENARIOS / "q166866.toml").modified(
        {"servers.*.version": version, "sites.Redmond.addresses.x400": x400}
    )
    plan = Router(Organization(scenario)).plan("RED-EX2", "someone@example.com")
    gateway = "to gateway Internet Mail Service (RED-EX1)"
    if returned:
        assert plan.outcome.startswith(
            f"{gateway}, but on 5.0-sp1 the store on RED-EX1 returns it (Q166866: "
        )
        assert plan.fix.startswith("give the site's X.400 address a PRMD (p=")
        assert f"Fix: {plan.fix}." in explain_plan(plan)
    else:
        assert (plan.outcome, plan.fix) == (gateway, "")
