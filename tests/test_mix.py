"""workload.mix: shares of addressed entries, before distribution lists expand, and what becomes of
a kind nobody can be (README "Scenario files"; the RecipientMix reference)."""

from __future__ import annotations

from exsim.scenario import validate_raw
from exsim.sim import simulate
from tests.simkit import mix, one_site


def user_mail(result) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Recipients users addressed, by the kind they were counted as (mail from outside left out)."""
    return {k: c.recipients for k, c in result.by_class.items() if not k.startswith("inbound_")}


def test_same_site_on_a_sites_only_server_is_counted_as_same_server():
    raw = one_site(duration="1h", shares=mix(same_site=1.0))
    raw["servers"] = raw["servers"][:1]  # RED-EX1 alone in Redmond
    counted = user_mail(simulate(validate_raw(raw)))
    assert counted.get("same_site", 0) == 0
    assert counted["same_server"] == sum(counted.values()) > 0


def test_other_site_in_a_one_site_organization_stays_in_the_site():
    counted = user_mail(simulate(validate_raw(one_site(duration="1h", shares=mix(other_site=1.0)))))
    assert counted.get("other_site", 0) == 0
    assert counted["same_site"] == sum(counted.values()) > 0  # RED-EX2 is there for RED-EX1's users


def test_readmes_worked_example_shares_of_entries_become_shares_of_recipients():
    # README's example: a list entry brings 10 recipients, any other one, so an entry brings
    # 0.95 + 0.05 x 10 = 1.45 on average. Redmond has two servers, Dublin one, with equal users:
    # half the senders can address same_site, the other half's same_site entries stay on their server.
    shares = mix(same_server=0.30, same_site=0.10, other_site=0.30, internet=0.25, distribution_list=0.05)
    raw = one_site(users=100, duration="12h", shares=shares)  # all day: "heavy", "all_day"
    raw["sites"].append({"name": "Dublin", "addresses": {"x400": "c=IE;a= ;p=Contoso;o=Dublin"}})
    raw["servers"].append({"name": "DUB-EX1", "site": "Dublin", "version": "5.0-sp1", "users": 200})
    raw["connectors"].append({"name": "Site Connector", "kind": "site", "sites": ["Redmond", "Dublin"]})
    counted = user_mail(simulate(validate_raw(raw)))
    total = sum(counted.values())
    # About 1,200 list entries: a standard deviation of about one point in the lists' share, and
    # less in the others; the shares tested differ from the entries' shares by 8 to 29 points.
    assert total > 30_000
    expected = {
        "distribution_list": 0.5 / 1.45,  # 34 %, not 5 %
        "internet": 0.25 / 1.45,  # 17 %, not 25 %
        "same_site": 0.05 / 1.45,  # 3.4 %: only Redmond's half of the senders have one
        "other_site": 0.30 / 1.45,
        "same_server": (0.30 + 0.05) / 1.45,
    }
    for kind, share in expected.items():
        assert abs(counted[kind] / total - share) < 0.025, (kind, counted[kind] / total, share)
