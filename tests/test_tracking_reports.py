"""Reports (NDRs) in the message tracking log: their own event numbers (KB Q173364) and the
report fields of KB Q173280 (report MTS-ID, per-recipient report status), the unused seconds
and cost fields, and a report that cannot be delivered (no report on a report)."""

from __future__ import annotations

import pandas as pd
import pytest

from exsim.logs import read_tracking_log
from exsim.sim import simulate
from tests.simkit import mix, one_site, scenario, two_sites

ADMIN = "System Administrator ("
"""How a report's originator starts (the generating server's administrator)."""


def tracking_table(folder) -> pd.DataFrame:
    """Every record of every server's files, with the server the file belongs to."""
    return pd.concat(
        read_tracking_log(path).assign(server=path.parent.name) for path in sorted(folder.glob("*/*.log"))
    )


@pytest.fixture(scope="module")
def q166866_logs(tmp_path_factory):
    """KB Q166866 on one site: SP1, no p=, RED-EX1 runs the IMS. Every Internet recipient is
    NDR'd by RED-EX1's store (gateway transfer-in); the report goes back to the originator:
    over RED-EX1's MTA to RED-EX2 for RED-EX2's users, and straight to RED-EX1's own store for
    RED-EX1's users (there the report is delivered on the server that generated it)."""
    folder = tmp_path_factory.mktemp("q166866")
    raw = one_site(users=3, duration="40m", shares=mix(internet=0.7, same_server=0.3))
    result = simulate(scenario(raw), tracking_dir=folder)
    return result, tracking_table(folder)


def report_records(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["originator"].str.startswith(ADMIN)]


def test_a_report_is_logged_with_the_report_events_not_the_message_events(q166866_logs):
    """KB Q173364: 8 report transfer out, 2 report transfer in, 10 report delivered; a report
    never takes the message events 7, 0, 9 or 1000, even when delivered where it was made."""
    result, table = q166866_logs
    reports = report_records(table)
    assert result.reports.recipients > 0
    assert set(reports["event #"]) == {"8", "2", "10"}
    # One delivery (10) per report, on the server of its one recipient (the NDR'd originator).
    delivered = reports[reports["event #"] == "10"]
    assert sorted(delivered["message id"]) == sorted(set(reports["message id"]))
    assert len(delivered) == result.reports.delivered == result.reports.recipients
    homes = delivered["recipients"].str.split("-u").str[0]
    assert (homes == delivered["server"]).all()
    assert {"RED-EX1", "RED-EX2"} <= set(delivered["server"])  # both ways, made here and sent over
    # Every report transfer out of RED-EX1 (to RED-EX2) is a report transfer in on RED-EX2.
    out = reports[reports["event #"] == "8"]
    into = reports[reports["event #"] == "2"]
    assert set(out["server"]) == {"RED-EX1"}
    assert set(out["partner name"]) == {"RED-EX2"}
    assert set(into["server"]) == {"RED-EX2"}
    assert set(into["partner name"]) == {"RED-EX1"}
    assert sorted(out["message id"]) == sorted(into["message id"])
    assert sorted(out["message id"]) == sorted(delivered.loc[delivered["server"] == "RED-EX2", "message id"])
    # User mail keeps the message events, and never takes a report's.
    user = table[~table["originator"].str.startswith(ADMIN)]
    assert not {"2", "8", "10"} & set(user["event #"])
    assert {"0", "7", "1000"} <= set(user["event #"])


def test_report_mts_id_field_names_the_report(q166866_logs):
    """KB Q173280 field 12: blank on normal messages; for reports, the report's MTS-ID. Event
    34 (report generation) carries the message's MTS-ID in field 1 and its report's in field
    12; the report's own records carry its MTS-ID in both."""
    result, table = q166866_logs
    reports = report_records(table)
    generated = table[table["event #"] == "34"]
    assert len(generated) == result.reports.recipients > 0
    # Field 12 of each 34 is one report's MTS-ID, a different report for each 34, and that
    # report went to the originator of the message the 34 is about.
    assert set(generated["report mts-id"]) == set(reports["message id"])
    assert generated["report mts-id"].is_unique
    delivered_to = reports[reports["event #"] == "10"].set_index("message id")["recipients"]
    assert list(delivered_to[generated["report mts-id"]]) == list(generated["originator"])
    assert (reports["report mts-id"] == reports["message id"]).all()
    user = table[~table["originator"].str.startswith(ADMIN) & (table["event #"] != "34")]
    assert len(user) > 0
    assert (user["report mts-id"] == "").all()


def test_report_status_is_a_number_per_recipient_on_report_records_only(q166866_logs):
    """KB Q173280 field 15: per recipient, 0 delivered or 1 not delivered, on reports only,
    blank on every other record. Every report here is an NDR: each recipient it covers, 1."""
    _, table = q166866_logs
    on_reports = table[table["originator"].str.startswith(ADMIN) | (table["event #"] == "34")]
    assert len(on_reports) > 0
    for count, status in zip(on_reports["recipient count"], on_reports["report status"], strict=True):
        assert status.split("\n") == ["1"] * int(count)
    others = table[~(table["originator"].str.startswith(ADMIN) | (table["event #"] == "34"))]
    assert len(others) > 0
    assert (others["report status"] == "").all()


def unreachable_dublin(prmd: bool) -> dict:
    """Redmond (RED-EX1 runs the IMS) and Dublin, whose X.400 connector is down all day (two
    open retries, 5 minutes apart): Internet mail for Dublin's mailboxes is NDR'd for
    congestion by RED-EX1's MTA, and the report goes back to the Internet sender by the IMS.
    Without p= on SP1 the store's gateway transfer-in fails on that report too (KB Q166866)."""
    raw = one_site(prmd=prmd, users=2, duration="1h", shares=mix(same_server=1.0))
    raw["workload"]["inbound_internet_per_hour"] = 20
    raw["sites"].append({"name": "Dublin", "addresses": {"x400": "c=IE;a= ;p=Contoso;o=Dublin"}})
    raw["servers"].append({"name": "DUB-EX1", "site": "Dublin", "users": 5})
    raw["connectors"].append(
        {
            "name": "Redmond-Dublin",
            "kind": "x400",
            "sites": ["Redmond", "Dublin"],
            "bridgeheads": ["RED-EX1", "DUB-EX1"],
            "override": {"max_open_retries": 2, "open_interval": "5m"},
        }
    )
    raw["events"] = [{"kind": "outage", "connector": "Redmond-Dublin", "start": "0s", "end": "1d"}]
    return raw


def test_a_report_through_the_internet_mail_service_takes_the_gateway_report_events(tmp_path):
    """The report to an Internet sender leaves by the IMS: the store's hand-over is a gateway
    report transfer out (1006, not 1003), the IMS's queueing an SMTP report transferred out
    (1016, not 1010), and the IMS's send has no report event (no 1011): KB Q173364."""
    result = simulate(scenario(unreachable_dublin(prmd=True)), tracking_dir=tmp_path)
    table = tracking_table(tmp_path)
    reports = report_records(table)
    assert result.reports.recipients > 0
    assert result.reports.delivered == result.reports.recipients  # each left for the Internet
    assert list(reports["event #"]) == ["1006", "1016"] * result.reports.recipients
    assert set(reports["server"]) == {"RED-EX1"}
    assert set(reports["recipients"].str.split("@").str[1]) <= {f"example{n}.com" for n in range(1, 21)}
    user = table[~table["originator"].str.startswith(ADMIN)]
    assert {"1012", "1013", "1004"} <= set(user["event #"])  # the Internet mail coming in: a message's


def test_a_report_that_cannot_be_delivered_is_discarded_with_no_report_on_it(tmp_path):
    """On SP1 without p= the store's gateway transfer-in fails on the report to the Internet
    sender too (KB Q166866). No report is made about a report (KB Q173364, 1018): the report
    is discarded (43, its MTS-ID in fields 1 and 12, its recipient listed, status 1) and there
    is no second 34. In the books its recipient ends once, as an NDR among the reports."""
    result = simulate(scenario(unreachable_dublin(prmd=False)), tracking_dir=tmp_path)
    table = tracking_table(tmp_path)
    reports = report_records(table)
    made = result.reports.recipients
    assert made > 0
    # One 34 per report, each about an inbound message (none about a report).
    generated = table[table["event #"] == "34"]
    assert len(generated) == made
    assert not generated["originator"].str.startswith(ADMIN).any()
    assert not set(generated["message id"]) & set(reports["message id"])
    # The report's only record is its 43, on RED-EX1, naming it twice and its recipient.
    assert list(reports["event #"]) == ["43"] * made
    assert set(reports["server"]) == {"RED-EX1"}
    assert sorted(reports["message id"]) == sorted(generated["report mts-id"])
    assert (reports["report mts-id"] == reports["message id"]).all()
    by_report = generated.set_index("report mts-id")["originator"]
    assert list(reports["recipients"]) == list(by_report[reports["message id"]])
    assert (reports["recipient count"] == "1").all()
    assert (reports["report status"] == "1").all()
    # The books: each report's recipient ends in exactly one class, not delivered.
    books = result.reports
    assert books.ndr == made
    assert books.delivered == books.misdelivered == books.lost == books.pending == 0
    assert result.outcomes.ndr == made  # the inbound mail for Dublin: one NDR'd recipient each


def refusing_gateways(inbound: bool = False) -> dict:
    """One site with p= (no KB Q166866): RED-EX1 runs an IMS whose Internet side refuses every
    attempt and an MS Mail connector whose postoffice does; the IMS gives up at its 20-minute
    message timeout, the MS Mail connector at its 20-minute message lifetime. With
    ``inbound``, Internet mail arrives for the unreachable Dublin (:func:`unreachable_dublin`),
    whose reports to the Internet senders the IMS then gives up on too."""
    raw = unreachable_dublin(prmd=True) if inbound else one_site(prmd=True, users=2, duration="30m")
    raw["workload"]["mix"] = mix(same_server=1.0) if inbound else mix(internet=0.5, msmail=0.5)
    raw["connectors"][0] |= {
        "internet": {"failure_probability": 1.0},
        "retry_intervals": ["5m"],
        "message_timeout": "20m",
    }
    raw["connectors"].append(
        {
            "name": "MS Mail Connector",
            "kind": "msmail",
            "server": "RED-EX1",
            "address_spaces": [{"type": "MS", "pattern": "MSNET/*", "cost": 1}],
            "postoffice": {"failure_probability": 1.0},
            "override": {"message_lifetime_normal": "20m"},
        }
    )
    return raw


def test_a_gateway_that_gives_up_logs_its_own_report_generation(tmp_path):
    """KB Q173364: the IMS's NDR at its message timeout is SMTP report generated (1017), the MS
    Mail connector's at its lifetime gateway report generation (1007), each naming its gateway;
    neither is the MTA's 34. The reports they make are delivered to the senders (10)."""
    result = simulate(scenario(refusing_gateways()), tracking_dir=tmp_path)
    table = tracking_table(tmp_path)
    assert result.outcomes.ndr_by_component == {
        "MSExchangeIMC": result.by_class["internet"].recipients,
        "MSExchangeMSMI": result.by_class["msmail"].recipients,
    }
    assert result.by_class["internet"].recipients > 0
    assert result.by_class["msmail"].recipients > 0
    assert "34" not in set(table["event #"])
    made = table[table["event #"].isin({"1017", "1007"})]
    assert len(made) == result.reports.recipients == result.reports.delivered
    assert set(made["server"]) == {"RED-EX1"}
    for event, gateway, partner, kind in (
        ("1017", "IMS", "MSExchangeIMC", "internet"),
        ("1007", "MS Mail Connector", "MSExchangeMSMI", "msmail"),
    ):
        these = made[made["event #"] == event]
        assert set(these["gateway name"]) == {gateway}
        assert set(these["partner name"]) == {partner}
        assert these["recipient count"].astype(int).sum() == result.by_class[kind].ndr
    assert set(made["report mts-id"]) == set(report_records(table)["message id"])
    # Each report enters the organization as the gateway's inbound mail does: gateway report
    # transfer in (1005, a message's 1004) on the gateway's server, naming the gateway, once.
    taken_in = table[table["event #"] == "1005"]
    assert sorted(taken_in["message id"]) == sorted(made["report mts-id"])
    assert dict(zip(taken_in["message id"], taken_in["gateway name"], strict=True)) == dict(
        zip(made["report mts-id"], made["gateway name"], strict=True)
    )
    assert set(taken_in["server"]) == {"RED-EX1"}
    assert set(taken_in["partner name"]) == {"Store"}


def test_a_report_the_internet_mail_service_cannot_deliver_is_absorbed(tmp_path):
    """A report the IMS gives up on is SMTP report absorbed (1018, KB Q173364: the IMS cannot
    send an NDR on an NDR), not the MTA's 43, and no report generation for it."""
    result = simulate(scenario(refusing_gateways(inbound=True)), tracking_dir=tmp_path)
    table = tracking_table(tmp_path)
    reports = report_records(table)
    made = result.reports.recipients
    assert made > 0
    assert result.reports.ndr == made
    stories = reports.groupby("message id", sort=False)["event #"].agg(list)
    assert len(stories) == made
    # The store's hand-over, the IMS's queueing (again at each retry, as for a message's
    # 1010), then the IMS's give-up.
    assert all(story[0] == "1006" and story[-1] == "1018" for story in stories)
    assert all(set(story[1:-1]) == {"1016"} for story in stories)
    absorbed = reports[reports["event #"] == "1018"]
    assert set(absorbed["gateway name"]) == {"IMS"}
    assert (absorbed["report mts-id"] == absorbed["message id"]).all()
    assert (absorbed["report status"] == "1").all()
    assert len(table[table["event #"] == "34"]) == made  # the MTA's congestion NDRs only
    assert "43" not in set(table["event #"])


def test_seconds_and_cost_are_the_constants_exchange_writes(tmp_path):
    """KB Q173280: Exchange does not use field 10 (seconds: 0 or blank) nor field 11 (cost:
    always 1). A dear connector (cost 5) over a slow link (a 43 KB message takes some 11 s at
    32 kbit/s) changes neither, on any record."""
    raw = two_sites(duration="30m", drain="1h")
    raw["workload"]["profile"] = "mmb"
    raw["connectors"][0] |= {"cost": 5, "link": {"bandwidth": "32kbps", "latency": "100ms"}}
    simulate(scenario(raw), tracking_dir=tmp_path)
    table = tracking_table(tmp_path)
    assert {"4", "7", "0", "9"} <= set(table["event #"])
    assert set(table["seconds"]) == {"0"}
    assert set(table["cost"]) == {"1"}
