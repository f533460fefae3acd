"""The event log and the message tracking log."""

from __future__ import annotations

import csv
from collections import Counter

from exsim.logs import TrackingLog, read_tracking_log
from exsim.scenario import load_scenario
from exsim.sim import simulate
from tests.conftest import SCENARIOS
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
    path = tmp_path / "RED-EX1" / "19970609.log"
    head = path.read_text().splitlines()[: TrackingLog.HEADER_LINES]
    # RED-EX1 runs 5.0 RTM, build 1457; the Fields line names the 15 fields of KB Q173280.
    assert head[:3] == [
        "# Message Tracking Log File",
        "# Exchange System Attendant Version 5.0.1457",
        "# Date: 1997/06/09 GMT",
    ]
    assert head[3] == "# Fields: " + "\t".join(TrackingLog.FIELDS)
    table = read_tracking_log(path)
    events = Counter(int(n) for n in table["event #"])
    # Submission (4), local delivery (1000), delivery of mail from RED-EX2 (9), MTA transfer
    # in/out (0, 7), the store's gateway transfer to the IMS (1003), SMTP queued and sent (1010, 1011).
    for number in (4, 1000, 9, 0, 7, 1003, 1010, 1011):
        assert events[number] > 0, number
    assert table["date/time"].str.match(r"^1997/06/09 \d\d:\d\d:\d\d GMT$").all()
    # Every record's recipient count is the number of recipients listed, one per line.
    listed = table["recipients"].str.split("\n").map(len)
    assert (table["recipient count"].astype(int) == listed).all()
    assert (table["priority"] == "0").all()  # all simulated mail is normal priority (0, KB Q173280)
    # The header is written once, when the day's file is created.
    assert sum(line.startswith("# Message Tracking") for line in path.read_text().splitlines()) == 1


def test_tracking_fields_with_tabs_quotes_and_line_breaks_read_back_intact(tmp_path):
    log = TrackingLog(tmp_path, {"EX1": "5.0-sp2"})
    odd = ['"Smith, Jo"\t@example.com', "plain@example.com"]
    log.record(3600.0, "EX1", 1010, "c=US;a= ;p=Contoso;l=EX1-1", gateway='IMS "main"', recipients=odd)
    log.record(7200.0, "EX1", 9, "c=US;a= ;p=Contoso;l=EX1-2", recipients=["a@b.c"])
    log.close()
    path = tmp_path / "EX1" / "19970609.log"
    with path.open(newline="", encoding="utf-8") as handle:
        lines = handle.read().split("\r\n")
    assert lines[1] == "# Exchange System Attendant Version 5.0.1460"
    # Two records in three physical lines: the two recipients share one quoted field.
    table = read_tracking_log(path)
    assert len(table) == 2
    first = table.iloc[0]
    assert first["message id"] == "c=US;a= ;p=Contoso;l=EX1-1"
    assert first["gateway name"] == 'IMS "main"'
    assert first["recipient count"] == "2"
    assert first["recipients"].split("\n") == odd
    assert first["date/time"] == "1997/06/09 01:00:00 GMT"
    assert table.iloc[1]["recipients"] == "a@b.c"
    # csv.reader, the standard library's own reader, agrees.
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, dialect="excel-tab") if not row[0].startswith("#")]
    assert [len(row) for row in rows] == [15, 15]
    assert rows[0][13] == "\n".join(odd)
    assert rows[0][3] == 'IMS "main"'


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


def test_only_the_internet_mail_service_writes_smtp_tracking_events(tmp_path):
    # Contoso: Paris runs the MS Mail connector and no IMS, Dublin and Redmond run an IMS each.
    contoso = load_scenario(SCENARIOS / "contoso.toml").modified(
        {"run.duration": "1h", "run.drain": "1h", "workload.spread": "all_day"}
    )
    simulate(contoso, tracking_dir=tmp_path)
    events = {
        server: set(read_tracking_log(tmp_path / server / "19970609.log")["event #"])
        for server in ("PAR-EX1", "DUB-EX1")
    }
    smtp = {"1010", "1011", "1012", "1013"}
    assert "1003" in events["PAR-EX1"]  # the store hands MS Mail its mail (gateway transfer out)
    assert not smtp & events["PAR-EX1"]  # ... and the MS Mail connector writes no SMTP events
    assert smtp <= events["DUB-EX1"]  # Dublin's IMS sends and receives Internet mail


def test_every_event_of_a_message_records_its_size(tmp_path):
    """The length field is the message's size on every event that carries it (submission,
    transfer in and out, delivery, gateway hand-overs), never 0 on some of them."""
    contoso = load_scenario(SCENARIOS / "contoso.toml").modified(
        {"run.duration": "1h", "run.drain": "1h", "workload.spread": "all_day"}
    )
    simulate(contoso, tracking_dir=tmp_path)
    import pandas as pd

    table = pd.concat(read_tracking_log(path) for path in tmp_path.glob("*/*.log"))
    user_mail = table[~table["event #"].isin({"34", "43"})]  # reports are not the user's message
    # The workload's sizes: the MMB profile's 1, 2, 4, 10, 15, 16 and 43 KB, in bytes.
    assert set(user_mail["length"].astype(int)) <= {1024, 2048, 4096, 10240, 15360, 16384, 44032}
    for event in ("0", "4", "7", "9", "1000", "1003"):
        assert event in set(user_mail["event #"]), f"contoso writes event {event}"
    sizes = user_mail.groupby("message id")["length"].nunique()
    assert (sizes == 1).all()  # one message, one size, whichever server wrote the line


def test_inbound_smtp_mts_id_is_made_from_the_ims_servers_site_address(tmp_path):
    # KB Q156710, Q230420: the IMS (IMC) builds the MTS-ID of mail it takes in from the Internet
    # from its own X.400 address: the GDI of its server's site, and l= that server, as for any
    # other mail the server originates. A German organization's IMS gives c=DE;a=DBP;p=Firma.
    raw = one_site(version="5.0-sp2", prmd=True, users=5, duration="2h", shares=mix(same_server=1.0))
    raw["sites"][0]["addresses"]["x400"] = "c=DE;a=DBP;p=Firma;o=Muenchen"
    raw["workload"]["inbound_internet_per_hour"] = 30.0
    simulate(scenario(raw), tracking_dir=tmp_path)
    # The expected prefix from the site address itself: its c, a and p parts, then the IMS's server.
    parts = dict(part.split("=", 1) for part in raw["sites"][0]["addresses"]["x400"].split(";"))
    ims_server = raw["connectors"][0]["server"]
    expected = f"c={parts['c']};a={parts['a']};p={parts['p']};l={ims_server}-"
    import pandas as pd

    table = pd.concat(read_tracking_log(path) for path in tmp_path.glob("*/*.log"))
    received = table[table["event #"] == "1012"]  # SMTP received inbound, written by the IMS
    assert len(received) > 0
    assert all(mts_id.startswith(expected) for mts_id in received["message id"]), set(received["message id"])
    # The same id follows the message to its delivery.
    delivered = table[table["message id"].isin(set(received["message id"]))]
    assert {"1012", "1013"} <= set(delivered["event #"])
    assert not any("INTERNET" in mts_id for mts_id in table["message id"])
