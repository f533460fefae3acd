"""The event log and the message tracking log."""

from __future__ import annotations

from collections import Counter

from exsim.sim import simulate
from tests.simkit import mix, one_site, scenario


def test_tracking_log_files_per_server_per_day(tmp_path):
    # 26 h of all-day mail: files for Monday 9 June 1997 and Tuesday 10 June.
    raw = one_site(
        version="5.0",
        prmd=True,
        duration="26h",
        users=3,
        shares=mix(same_server=0.5, same_site=0.25, internet=0.25),
    )
    simulate(scenario(raw), tracking_dir=tmp_path)
    for server in ("RED-EX1", "RED-EX2"):
        assert sorted(p.name for p in (tmp_path / server).iterdir()) == ["19970609.log", "19970610.log"]
    lines = (tmp_path / "RED-EX1" / "19970609.log").read_text().splitlines()
    fields = [line.split("\t") for line in lines]
    assert all(len(f) == 15 for f in fields)
    events = Counter(int(f[1]) for f in fields)
    # Submission (4), local delivery (1000), delivery of mail from RED-EX2 (9), MTA transfer
    # in/out (0, 7), the store's gateway transfer to the IMS (1003), SMTP queued and sent (1010, 1011).
    for number in (4, 1000, 9, 0, 7, 1003, 1010, 1011):
        assert events[number] > 0, number
    assert all(f[2].startswith("1997/06/09 ") and f[2].endswith(" GMT") for f in fields)


def test_no_tracking_files_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = simulate(scenario(one_site(duration="1h")))
    assert result.recipients > 0
    assert list(tmp_path.iterdir()) == []


def test_q166866_events_are_the_documented_ones():
    result = simulate(scenario(one_site(duration="1h")))
    by_id = {e.event_id: e for e in result.events}
    assert set(by_id) == {1026, 2007}
    assert by_id[2007].type == "Error"
    assert by_id[2007].category == "MTA Connections"
    assert by_id[2007].text == "ma_open returned error 22."
    assert by_id[1026].text.splitlines() == [
        "An error occurred with the following call stack:",
        "FStartTransferIn EcDeliverGWMessage(): 0000000bb8",
        "EcTferInMessage(): 0000000bb8",
        "EcBilateralInfoEntryFromOmObj(): 0000000bb8",
    ]
