"""The fault scenario: each of the five kinds of fault shows its Exchange behaviour."""

from __future__ import annotations

import pytest

from exsim import load_scenario, simulate
from tests.conftest import SCENARIOS

H = 3600.0


@pytest.fixture(scope="module")
def result():
    return simulate(load_scenario(SCENARIOS / "faults.toml"))


def test_books_balance(result):
    assert result.recipients == result.delivered + result.ndr + result.pending
    assert result.pending == result.lost  # nothing else is left after the 6-hour drain


def test_connector_outage_gives_congestion_ndrs_after_12_retries_of_5_minutes(result):
    opens = [e.time_s for e in result.events if e.event_id == 289]
    # Opens fail only while the link is down, or while RED-EX2 (a bridgehead) is crashed.
    crashes = [(5 * H + 26.4, 5 * H + 26.4 + 120), (5 * H + 630.87, 5 * H + 630.87 + 1200)]
    assert opens
    assert all(2 * H <= t < 5 * H or any(a <= t < b for a, b in crashes) for t in opens)
    assert any(t >= crashes[0][0] for t in opens)
    congestion = [e.time_s for e in result.events if e.event_id == 290 and "MTS-congestion" in e.text]
    assert congestion
    assert min(congestion) >= min(opens) + 12 * 300 - 1e-6
    assert result.outcomes.ndr_by_diagnostic["MTS-congestion"] == len(congestion)


def test_ims_stop_and_store_stop_delay_mail_without_ndrs(result):
    # The only NDRs are the connector's congestion NDRs and the Internet timeouts.
    assert set(result.outcomes.ndr_by_diagnostic) == {"MTS-congestion", "maximum-time-expired"}
    queued = result.series.queue_samples["RED-EX1"]
    interval = result.series.interval_s
    # Internet mail piles up on RED-EX1 while its IMS is stopped (09:00-10:00) ...
    assert queued[int(9.9 * H // interval)] > queued[int(8.9 * H // interval)]


def test_internet_failure_ends_in_time_expired_ndrs_from_the_ims(result):
    sample = result.ndr_samples["The maximum time for delivering the message expired"]
    assert sample["component"] == "MSEXCH:MSExchangeIMC:Redmond:RED-EX1"
    # Nothing fails before 4 h (the message timeout) after the Internet went down at 14:00.
    assert sample["time_s"] >= 18 * H
    assert result.counters["gateway_retries"] > 0


def test_lossy_link_costs_transfer_retries_not_mail(result):
    assert result.counters["transfer_retries"] > 0
    other = result.by_class["other_site"]
    # Nothing is left pending by the link: what is neither delivered nor NDR'd is what the
    # second crash lost in RED-EX2's MTA (Books.lose, called only for a crashed component).
    assert other.delivered + other.ndr + other.lost == other.recipients


def test_crashes_cut_a_transfer_and_lose_only_what_was_in_memory(result):
    # The first crash cuts a transfer in flight (sent again afterwards); at the second the
    # MTA of RED-EX2 was routing a message: its recipients are lost, counted as such
    # (within pending), and nothing else is.
    assert result.counters["transfers_cut_by_crash"] >= 1
    assert result.lost >= 1
    assert (
        result.by_class["other_site"].lost
        + result.by_class["internet"].lost
        + result.by_class["same_site"].lost
        + result.by_class["same_server"].lost
        == result.lost
    )


def test_mail_waiting_for_an_ims_retry_counts_as_held(result):
    # From 14:00 the Internet refuses everything; nothing times out before 18:00 (4 h), so every
    # refused message waits for its next retry on RED-EX1, outside MTS-OUT. The samples must count
    # them: the mail held grows hour by hour through the outage, from nothing before it.
    queued = result.series.queue_samples["RED-EX1"]
    interval = result.series.interval_s
    hourly = [int(queued[int(h * H // interval)]) for h in (13.5, 15, 16, 17)]
    assert hourly[0] == 0
    assert hourly[1] < hourly[2] < hourly[3]
