"""The warm-up is left out of every statistic a run reports: the books, the reports on mail
(counted with the mail they report on), the messages column, the fault counters and the
transfers (counted when they happen at or after the warm-up's end)."""

from __future__ import annotations

import pytest

from exsim.columns import FAULT_COUNTERS
from exsim.sim import RunResult, simulate
from tests import simkit


def _internet_down(warmup: str) -> RunResult:
    # Redmond's users mail only the Internet; the Internet refuses everything from 1h to 2h and
    # the IMS gives a message up 90 min after its first try (retries 15 and then 30 min apart).
    # So every refused attempt falls in [1h, 2h), and every NDR'd message was sent from 1h on
    # (the first ones time out from 2h30m).
    raw = simkit.one_site(prmd=True, duration="3h", users=10, shares=simkit.mix(internet=1.0))
    raw["connectors"][0]["message_timeout"] = "90m"
    raw["events"] = [{"kind": "outage", "connector": "IMS", "start": "1h", "end": "2h"}]
    raw["run"]["warmup"] = warmup
    return simulate(simkit.scenario(raw))


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResult]:
    return {warmup: _internet_down(warmup) for warmup in ("0s", "30m", "2h", "4h")}


def test_a_report_counts_with_the_mail_it_reports_on(runs):
    whole = runs["0s"]
    assert whole.ndr > 0
    assert whole.counters["gateway_retries"] > 0
    for run in runs.values():
        # Each report covers at least one NDR'd recipient of user mail.
        assert run.reports.recipients <= run.ndr
    # A warm-up that ends before the outage leaves out mail, but no NDR, report or retry.
    early = runs["30m"]
    assert early.recipients < whole.recipients
    assert (early.ndr, early.reports.recipients, early.counters) == (
        whole.ndr,
        whole.reports.recipients,
        whole.counters,
    )
    # One that ends with the outage: the NDR'd mail was all sent before, so no report on it
    # counts, though the reports are sent after 2h30m; and no refusal comes after 2h.
    late = runs["2h"]
    assert late.recipients > 0
    assert late.ndr == late.reports.recipients == 0
    assert late.counters["gateway_retries"] == 0


def test_the_messages_and_transfers_leave_the_warmup_out(runs):
    whole, early = runs["0s"], runs["30m"]
    # Without a warm-up every message counts; the numbering (trace's) is the same whatever it is.
    assert whole.counted_messages == whole.messages
    assert {run.messages for run in runs.values()} == {whole.messages}
    assert 0 < early.counted_messages < whole.counted_messages
    assert 0 < early.transfers["IMS"] < whole.transfers["IMS"]
    # A warm-up as long as the run (and its drain) leaves nothing to count.
    everything = runs["4h"]
    assert everything.recipients == everything.counted_messages == everything.reports.recipients == 0
    assert everything.counters == dict.fromkeys(FAULT_COUNTERS, 0)
    assert everything.transfers == {}
    assert everything.row()["messages"] == 0
