"""Misdelivery end to end (KB Q176046), a foreign address routed on, and the cost of fuzzy
search (KB Q159184)."""

import json

from click.testing import CliRunner

from exsim.cli import cli
from exsim.directory import Policy
from exsim.logs import read_tracking_log
from exsim.org import Organization
from exsim.routing import Router
from exsim.scenario import load_scenario
from exsim.sim import simulate
from tests.conftest import SCENARIOS

Q176046 = SCENARIOS / "kb" / "Q176046.toml"


def _point(version: str, fuzzy: int, **more):
    return load_scenario(Q176046).modified(
        {"servers.*.version": version, "servers.*.allow_fuzzy_proxy_search": fuzzy, **more}
    )


def test_a_misdelivery_is_a_normal_local_delivery_in_the_tracking_log(tmp_path):
    result = simulate(_point("5.0", 2), tracking_dir=tmp_path)
    assert result.misdelivered > 0
    assert result.ndr == 0
    assert result.recipients == result.delivered + result.misdelivered + result.ndr + result.pending
    table = read_tracking_log(next((tmp_path / "HQ-EX1").glob("*.log")))
    for_ptt = table[table["recipients"].str.split("\n").map(lambda names: "c=US;a=PTT;s=USER1" in names)]
    # Exchange logged submission and a local delivery (1000) on the home server: nothing else,
    # no transfer out to the PTT and no report.
    events = set(for_ptt["event #"])
    assert "1000" in events
    assert events <= {"4", "1000"}
    sample = result.misdelivery_samples[0]
    assert sample["recipient"] in ("c=US;a=PTT;s=USER1", "c=US;a=PTT;s=USER2")
    assert "KB Q176046" in sample["delivered_to"]  # value 2 on RTM: the defect's fuzzy search


def test_without_a_match_the_address_routes_on_as_foreign():
    org = Organization(_point("5.0-sp2", 2))
    router = Router(org)
    for policy, kind in ((Policy.of(2, "5.0-sp2"), "route"), (Policy.of(1, "5.0-sp2"), "mailbox")):
        resolution = router.resolve("HQ", "c=US;a=PTT;s=USER1", policy)
        assert resolution.kind == kind
    resolution = router.resolve("HQ", "c=US;a=PTT;s=USER1", Policy.of(2, "5.0-sp2"))
    assert [r.connector for r in resolution.rows] == ["PTT X.400"]
    assert resolution.directory is None  # exact only: no search was run, nothing to pay for
    resolution = router.resolve("HQ", "c=US;a=PTT;s=USER1", Policy.of(0, "5.0-sp2"))
    assert resolution.kind == "route"
    assert resolution.directory.searches == ("restricted",)
    assert resolution.directory.mailbox is None  # no given name: restricted finds nobody
    # USER3 has no local look-alike: even full fuzzy search finds nothing and routes it on.
    resolution = router.resolve("HQ", "c=US;a=PTT;s=USER3", Policy.of(1, "5.0-sp2"))
    assert resolution.kind == "route"
    assert resolution.directory.why.endswith("nothing matches")


def test_trace_first_misdelivery_tells_why_the_directory_chose_the_mailbox():
    result = CliRunner().invoke(
        cli,
        ["trace", str(Q176046), "--first-misdelivery", "--point", "3"],  # SP1, value 0
    )
    assert result.exit_code == 0, result.output
    assert "Sweep point version = 5.0-sp1, fuzzy = 0" in result.output
    assert "matched no proxy exactly" in result.output
    assert "KB Q176046" in result.output
    assert "MISDELIVERED: c=US;a=PTT;s=USER" in result.output
    none = CliRunner().invoke(cli, ["trace", str(Q176046), "--first-misdelivery", "--point", "8"])  # SP2, 2
    assert none.exit_code == 2  # the run was fine; what was asked for is not in it
    assert "no message was misdelivered" in none.output


def test_full_fuzzy_search_on_a_large_address_list_backs_the_mta_up():
    # 22 mailboxes; every PTT recipient misses the exact match. Hand-worked load on HQ-EX1's MTA:
    # medium profile, 20 users, all day: 20 x 19.8 / 86400 = 0.00458 messages/s with ~2.82
    # recipients each, half of them for the PTT -> ~0.0065 searches/s. At 10,000 s per 1,000
    # entries a full search costs 220 s: utilisation ~1.4, the queue grows all run. A restricted
    # search at 1,000 s per 1,000 costs 22 s: utilisation ~0.14, no backlog.
    costs = {
        "model.directory.fuzzy_search_per_1000_entries": "10000s",
        "model.directory.restricted_search_per_1000_entries": "1000s",
    }
    full = simulate(_point("5.0-sp2", 1, **costs))
    restricted = simulate(_point("5.0-sp2", 0, **costs))
    exact = simulate(_point("5.0-sp2", 2, **costs))
    assert exact.pending == 0
    assert restricted.pending < 10
    assert full.pending > 10 * max(1, restricted.pending)
    assert full.latency.quantile(0.95) > 10 * restricted.latency.quantile(0.95)


def test_route_says_misdelivered_why_and_the_fix_for_a_foreign_address_matched_fuzzily():
    # addressing.toml: HQ-EX2 (RTM, 'Allow fuzzy proxy search' absent = 1) and a PTT X.400
    # gateway for c=US;a=PTT. USER1's proxy is c=US;a=PTT;p=COMPANY;s=USER1, so the PTT user
    # USER1, typed without p=, lands in the local mailbox: exact matching would send it to PTT.
    from exsim.versions import defect_by_kb

    runner = CliRunner()
    args = ["route", str(SCENARIOS / "addressing.toml"), "--from", "HQ-EX2", "--to", "c=US;a=PTT;s=USER1"]
    lines = runner.invoke(cli, args).output.splitlines()
    outcome = next(line for line in lines if line.startswith("Outcome: "))
    assert outcome.startswith(
        "Outcome: misdelivered (Q176046): meant for the foreign address space of PTT X.400"
    )
    assert "full fuzzy search" in outcome
    assert "no PRMD (p=)" in outcome
    assert outcome.endswith("delivered to mailbox USER1 on HQ-EX1")
    assert f"Fix: {defect_by_kb('Q176046').fix}." in lines
    plan = json.loads(runner.invoke(cli, [*args, "--json"]).output)
    assert plan["outcome"].startswith("misdelivered")
    assert plan["fix"] == defect_by_kb("Q176046").fix
    # A PTT user no mailbox matches goes out through the gateway: no fix to give.
    other = json.loads(runner.invoke(cli, [*args[:-1], "c=US;a=PTT;s=Brown;g=Tom", "--json"]).output)
    assert (other["outcome"], other["fix"]) == ("to gateway PTT X.400", "")
