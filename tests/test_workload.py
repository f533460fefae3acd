"""The workload against the figures it is built from (LoadSim profiles, the MMB benchmark).

The published figures, written here from the sources rather than read from the
code: a LoadSim user sends 6.7 (light), 19.8 (medium) or 38.6 (heavy) messages a
day and receives 20.4, 55.9 or 118.9; the MMB user sends 14.18 a day at 4.7
recipients a message; LoadSim sends within an 8-hour working day; MMB's message
sizes are 1, 2, 4, 10, 15, 16 and 43 KB with weights 60, 16, 4, 6, 4, 4 and 2.

Every recipient is on the sender's own server here, so each addressed recipient
is one delivery and nothing can fail: the books count the workload exactly.
Sends are a Poisson stream, so a day's count is within a few standard
deviations (sqrt of the expected count) of the expectation.
"""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest

from exsim.sim import simulate
from exsim.sim.message import Recipient
from exsim.sim.workload import REDRAWS, index_drawer, message_size, once_each
from tests.simkit import mix, scenario, two_ims

#: profile: (messages sent per user per day, recipients received per user per day)
LOADSIM_MMB = {
    "light": (6.7, 20.4),
    "medium": (19.8, 55.9),
    "heavy": (38.6, 118.9),
    "mmb": (14.18, 14.18 * 4.7),
}


def one_server_day(profile: str, users: int, spread: str = "all_day") -> dict:
    return {
        "name": f"{profile}-day",
        "organization": {"name": "Contoso"},
        "sites": [{"name": "Redmond", "addresses": {"x400": "c=US;a= ;p=Contoso;o=Redmond"}}],
        "servers": [{"name": "RED-EX1", "site": "Redmond", "users": users}],
        "workload": {"profile": profile, "spread": spread, "mix": mix(same_server=1.0)},
        "run": {"duration": "1d", "drain": "10m", "seed": 3, "time_series_interval": "1h"},
    }


@pytest.mark.parametrize(
    ("profile", "users"), [("light", 3000), ("medium", 1000), ("heavy", 500), ("mmb", 1400)]
)
def test_a_day_of_sends_and_recipients_follows_the_profile(profile, users):
    sends, received = LOADSIM_MMB[profile]
    result = simulate(scenario(one_server_day(profile, users)))
    # About 20,000 in each case: four standard deviations are under 3 % of it, so a rate 3 % off
    # the published one fails.
    expected_messages = users * sends
    assert abs(result.messages - expected_messages) < 4 * math.sqrt(expected_messages)
    # Recipients per message: 1 + Poisson(m - 1), so the mean over ~20,000 messages is within
    # 4 standard errors of m = received / sent.
    per_message = received / sends
    standard_error = math.sqrt((per_message - 1) / result.messages)
    assert result.recipients / result.messages == pytest.approx(per_message, abs=4 * standard_error)
    assert result.delivered == result.recipients


def test_working_hours_spread_sends_a_day_of_mail_in_eight_hours():
    raw = one_server_day("medium", 100, spread="working_hours")
    raw["run"]["time_series"] = True
    result = simulate(scenario(raw))
    expected_messages = 100 * 19.8
    assert abs(result.messages - expected_messages) < 4 * math.sqrt(expected_messages)
    by_hour = result.series.delivered[:24]
    # Local delivery takes well under a second, so deliveries mark the sending window
    # 09:00-17:00 (hour 17 holds only what was sent in the last moments before 17:00).
    assert by_hour[:9].sum() == 0
    assert by_hour[18:].sum() == 0
    assert by_hour[9:17].sum() >= result.delivered - by_hour[17]
    assert by_hour[17] < 0.01 * result.delivered
    assert all(by_hour[hour] > 0 for hour in range(9, 17))


def test_message_sizes_follow_the_mmb_weights():
    sizes_kb = [1, 2, 4, 10, 15, 16, 43]
    weights = np.array([60, 16, 4, 6, 4, 4, 2]) / 96
    rng = random.Random(7)
    draws = 20_000
    counts = np.zeros(len(sizes_kb))
    for _ in range(draws):
        counts[sizes_kb.index(message_size(rng))] += 1  # in KB
    # Each share is binomial: within 4 standard deviations of its weight.
    tolerance = 4 * np.sqrt(weights * (1 - weights) / draws)
    assert np.all(np.abs(counts / draws - weights) < tolerance), counts / draws


def test_the_profile_table_holds_the_published_figures():
    from exsim.scenario import PROFILES

    for profile, (sends, received) in LOADSIM_MMB.items():
        table_sends, recipients_per_message = PROFILES[profile]
        assert table_sends == pytest.approx(sends), profile
        assert table_sends * recipients_per_message == pytest.approx(received), profile


def test_a_list_but_one_block_reads_as_the_list_without_it():
    from exsim.sim.workload import AllBut

    items = ["a", "b", "c", "d", "e", "f"]
    for start, end, rest in [
        (0, 2, ["c", "d", "e", "f"]),  # the first block
        (2, 3, ["a", "b", "d", "e", "f"]),  # one in the middle
        (3, 6, ["a", "b", "c"]),  # the last
        (4, 4, items),  # an empty block (a site without users)
    ]:
        but = AllBut(items, start, end)
        assert len(but) == len(rest)
        assert [but[i] for i in range(len(rest))] == rest
        assert list(but) == rest
        with pytest.raises(IndexError):
            but[len(rest)]
        with pytest.raises(IndexError):
            but[-1]
    assert len(AllBut(["a"], 0, 1)) == 0


def test_other_sites_users_are_the_other_sites_lists_joined_in_order():
    # The other sites' users are drawn by index: the i-th must be the i-th alias of the other
    # sites' lists joined in the order of the sites, or the draws would change.
    from exsim.sim.model import Simulation

    sim = Simulation(scenario(two_ims()))
    workload = sim.workload
    sites = list(workload.aliases_in_site)
    assert len(sites) == 2
    assert all(workload.aliases_in_site[s] for s in sites)
    for server in sim.org.servers:
        site = sim.org.site_of(server)
        joined = [a for s in sites if s != site for a in workload.aliases_in_site[s]]
        assert list(workload._pool("other_site", server)) == joined


def test_the_workloads_draws_below_n_are_randranges_numbers():
    """The workload draws an index below n with ``index_drawer`` (``Random._randbelow``: what
    ``randrange(n)`` returns for n > 0, without its argument checks), so that its traffic is what
    it was when it called ``randrange``. A Python release that changed either would fail here."""
    below, plain = index_drawer(random.Random(11)), random.Random(11)
    widths = [1, 2, 3, 7, 22, 50, 51, 1000, 59_400, 2**31 + 5]
    for _ in range(200):
        for n in widths:
            assert below(n) == plain.randrange(n)
        assert 1 + below(50) == plain.randrange(1, 51)


def test_without_randbelow_the_workload_draws_with_randrange():
    """On a random module without ``_randbelow``, the workload's index draws are ``randrange``'s."""

    class Plain:
        def __init__(self) -> None:
            self.rng = random.Random(5)
            self.randrange = self.rng.randrange

    reference = random.Random(5)
    below = index_drawer(Plain())  # type: ignore[arg-type]
    assert [below(59_400) for _ in range(50)] == [reference.randrange(59_400) for _ in range(50)]


def three_sites_to_c(mailboxes_in_c: int) -> dict:
    """A - B - C as in KB Q145976: 100 users in A mail C's mailboxes only, 3 entries a message."""
    return {
        "name": "to-c",
        "organization": {"name": "Contoso"},
        "sites": [{"name": s, "addresses": {"x400": f"c=US;a= ;p=Contoso;o={s}"}} for s in "ABC"],
        "servers": [
            {"name": "A1", "site": "A", "users": 100},
            {"name": "B1", "site": "B"},
            {
                "name": "C1",
                "site": "C",
                "mailboxes": [{"alias": f"c{n}", "surname": f"C{n}"} for n in range(mailboxes_in_c)],
            },
        ],
        "connectors": [
            {"name": "A-B", "kind": "site", "sites": ["A", "B"]},
            {"name": "B-C", "kind": "site", "sites": ["B", "C"]},
        ],
        "workload": {
            "profile": "heavy",
            "spread": "all_day",
            "recipients_per_message": 3.0,
            "mix": mix(other_site=1.0),
        },
        "run": {"duration": "2h", "drain": "30m", "seed": 5},
    }


def recipients_of_a_messages(raw: dict) -> list[int]:
    """The recipient count of every message A's users sent (each traced)."""
    result = simulate(scenario(raw), trace_messages=set(range(1, 2000)))
    assert result.messages < 2000  # every message was traced
    counts = []
    for lines in result.traces.values():
        submitted = re.search(r"submitted by A1-\S+ .*\((\d+) recipient\(s\)", lines[0].text)
        if submitted is not None:  # (C's mailboxes send too)
            counts.append(int(submitted.group(1)))
    assert len(counts) > 300  # 100 users x 38.6 a day x 2 h: about 322
    return counts


def test_a_message_names_each_recipient_once_even_from_a_one_mailbox_site():
    # C has one mailbox: however many entries a message draws, it addresses that mailbox once.
    assert set(recipients_of_a_messages(three_sites_to_c(mailboxes_in_c=1))) == {1}


def test_a_large_population_keeps_the_recipients_per_message_mean():
    # 1 + Poisson(2) entries against 200 mailboxes: a repeat is drawn again, so the mean stays 3.
    counts = recipients_of_a_messages(three_sites_to_c(mailboxes_in_c=200))
    standard_error = math.sqrt(2.0 / len(counts))
    assert sum(counts) / len(counts) == pytest.approx(3.0, abs=4 * standard_error)


def test_a_small_population_caps_a_message_at_the_mailboxes_there_are():
    # Two mailboxes: one recipient when the message drew one entry (P = P(Poisson(2) = 0) = e^-2),
    # else both (a repeat is drawn again up to 8 times, missing the other with chance 2^-8).
    counts = recipients_of_a_messages(three_sites_to_c(mailboxes_in_c=2))
    assert set(counts) == {1, 2}
    share_of_one = counts.count(1) / len(counts)
    standard_error = math.sqrt(math.exp(-2.0) * (1 - math.exp(-2.0)) / len(counts))
    assert share_of_one == pytest.approx(math.exp(-2.0), abs=4 * standard_error + 2**-8)


def drawing(*addresses: str):
    """An addresser that gives one recipient after the other, counting its calls."""
    queue = list(addresses)
    calls = []

    def addresser(originator: str) -> list[Recipient]:
        calls.append(originator)
        return [Recipient(queue.pop(0), "other_site")]

    return addresser, calls


def test_a_person_already_named_is_drawn_again_and_left_out_after_the_redraws():
    addresser, calls = drawing("bob", "bob", "carol")
    held = once_each([Recipient("bob", "same_site")], addresser, "alice")
    assert [r.address for r in held] == ["bob", "carol"]
    assert len(calls) == 3
    addresser, calls = drawing(*["bob"] * (REDRAWS + 1))
    held = once_each([Recipient("bob", "same_site")], addresser, "alice")
    assert [r.address for r in held] == ["bob"]
    assert len(calls) == REDRAWS  # no more draws than that


def test_list_members_already_named_are_left_out_without_drawing_again():
    draws = []

    def a_list(originator: str) -> list[Recipient]:
        draws.append(originator)
        return [Recipient(a, "distribution_list") for a in ("dave", "bob", "erin")]

    held = once_each([Recipient("bob", "same_site")], a_list, "alice")
    assert [(r.address, r.kind) for r in held] == [
        ("bob", "same_site"),
        ("dave", "distribution_list"),
        ("erin", "distribution_list"),
    ]
    assert len(draws) == 1


def test_a_list_has_distinct_members_and_a_list_as_large_as_everyone_is_everyone():
    raw = one_server_day("heavy", 30)
    raw["workload"]["mix"] = mix(distribution_list=1.0)
    raw["workload"]["recipients_per_message"] = 1  # one list a message
    for size, expected in ((25, 25), (30, 30), (40, 30)):
        raw["workload"]["distribution_list_size"] = size
        result = simulate(scenario(raw), trace_messages=set(range(1, 50)))
        assert len(result.traces) == 49
        for lines in result.traces.values():
            named = int(re.search(r"\((\d+) recipient\(s\)", lines[0].text).group(1))
            assert named == expected, (size, lines[0].text)
            # One server: the store delivers the whole list at once, each member named once.
            delivered = re.match(r"delivered to (.+) \(mailbox on RED-EX1\)", lines[1].text).group(1)
            assert len(set(delivered.split(", "))) == expected, (size, lines[1].text)
