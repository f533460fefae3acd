"""An MTA routes by what the model says now, after an upgrade or a site address change.

Without directory replication under way, an MTA asks for its routing table, directory policy
and cost rule once and keeps them until the simulation announces a change (an upgrade, an
address change): these runs would go on routing by the old ones if an announcement were missed.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from exsim import logs
from exsim.logs import read_tracking_log, timestamp
from exsim.scenario import load_scenario
from exsim.sim import simulate
from tests.conftest import SCENARIOS
from tests.simkit import mix, one_site, scenario


def parse_time(text: str) -> dt.datetime:
    """A tracking record's date/time field (``1997/06/09 01:10:00 GMT``)."""
    return dt.datetime.strptime(text, "%Y/%m/%d %H:%M:%S GMT").replace(tzinfo=timestamp(0).tzinfo)


def test_an_upgrade_to_sp2_stops_the_fuzzy_search_misdelivering_from_then_on():
    """KB Q176046 on RTM with exact-only search ('Allow fuzzy proxy search' 2): RTM runs the fuzzy
    search all the same and misdelivers the PTT's mail for USER1 and USER2 to the local look-alike
    mailboxes; SP2 honours the value. Upgraded at 3 h, the MTA searches exactly from then on."""
    run = load_scenario(SCENARIOS / "kb" / "Q176046.toml").modified(
        {
            "servers.*.version": "5.0",
            "servers.*.allow_fuzzy_proxy_search": 2,
            "events": [{"kind": "upgrade", "at": "3h", "server": "*", "version": "5.0-sp2"}],
            "run.time_series": True,
            "run.time_series_interval": "30m",
        }
    )
    misdelivered = simulate(run).series.misdelivered.tolist()  # per half hour
    assert sum(misdelivered[:6]) > 0  # before the upgrade
    # From the upgrade on (mail the MTA routes in the seconds after it was routed before it).
    assert misdelivered[7:] == [0] * len(misdelivered[7:])


def test_after_a_site_smtp_address_change_one_offs_to_the_new_proxies_reach_their_mailboxes(tmp_path):
    """Users of a site address colleagues on the other server by their SMTP proxies (one-offs,
    KB Q185024's addressing). The site's SMTP address changes at 1 h: once the change is
    recalculated (10 min), the proxies the users take from the directory are the new ones, and
    the MTA must know them too. Routed by the table from before, it would take them for Internet
    addresses and send them out through the IMS."""
    change = [
        {"kind": "address_change", "at": "1h", "site": "Redmond", "type": "smtp", "value": "@new.contoso.com"}
    ]
    raw = one_site(version="5.0-sp2", duration="2h", shares=mix(same_site=1.0), events=change)
    raw["workload"]["one_off_share"] = 1.0
    run = scenario(raw)
    result = simulate(run, tracking_dir=tmp_path)
    colleagues = result.by_class["same_site"]
    assert colleagues.recipients > 0
    assert colleagues.delivered == colleagues.recipients
    # Only a message addressed by an old proxy before the recalculation and routed after it
    # may leave through the IMS: every user of the site takes the new proxies from then on.
    recalculated = timestamp(3600.0 + run.model.recalculation_delay)
    log = pd.concat(read_tracking_log(path) for path in tmp_path.glob("*/*.log"))
    submitted = log[log["event #"] == str(logs.SUBMISSION)].set_index("message id")["date/time"]
    outbound = log[log["event #"] == str(logs.SMTP_QUEUED_OUTBOUND)]["message id"]
    assert result.transfers.get("IMS", 0) == len(outbound)
    late = [m for m in outbound if parse_time(submitted[m]) >= recalculated]
    assert late == []


def test_the_gwart_missing_unreplicated_sites_stays_until_the_recalculation_after_replication():
    """KB Q145976 on RTM: while site C has not replicated (0 - 3 h), A's GWART lacks it and A's
    mail to carol is NDR'd. Replication completing is a directory change like any other: routing
    learns of it at the next recalculation, ``model.recalculation_delay`` later (here 1 h, so
    4 h), not the instant replication ends. A's 50 heavy users send 50 x 38.6 / 24 = 80 recipients
    an hour to carol (spread over the whole day), so the hour between 3 h and 4 h holds about
    80 NDRs, the same rate as the hours before; from 4 h on none."""
    run = load_scenario(SCENARIOS / "kb" / "Q145976.toml").modified(
        {
            "servers.*.version": "5.0",
            "model.recalculation_delay": "1h",
            "run.time_series": True,
            "run.time_series_interval": "30m",
        }
    )
    result = simulate(run)
    ndr = result.series.ndr.tolist()  # per half hour from 0
    before, waiting, after = sum(ndr[:6]), sum(ndr[6:8]), sum(ndr[8:])
    assert before > 3 * 60  # about 3 x 80 while replication is incomplete
    # The hour between replication's end and the recalculation: NDRs at the same rate.
    assert 40 < waiting < 130, ndr
    assert after == 0, ndr
    _first, last = result.ndr_times["The recipient name is not recognized"]
    assert 3 * 3600 < last <= 4 * 3600
