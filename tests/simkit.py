"""Small scenarios for simulation tests, built as data."""

from __future__ import annotations

import copy

from exsim.scenario import Scenario, validate_raw

NO_MIX = {
    "same_server": 0.0,
    "same_site": 0.0,
    "other_site": 0.0,
    "internet": 0.0,
    "msmail": 0.0,
    "distribution_list": 0.0,
}


def mix(**shares: float) -> dict:
    return {**NO_MIX, **shares}


def one_site(
    version: str = "5.0-sp1",
    prmd: bool = False,
    users: int = 20,
    duration: str = "2h",
    shares: dict | None = None,
    **extra,
) -> dict:
    """One site Redmond with RED-EX1 (hosting the IMS) and RED-EX2."""
    x400 = "c=US;a= ;p=Contoso;o=Redmond" if prmd else "c=US;a= ;o=Redmond"
    raw = {
        "name": "small",
        "organization": {"name": "Contoso"},
        "sites": [{"name": "Redmond", "addresses": {"x400": x400, "smtp": "@redmond.contoso.com"}}],
        "servers": [
            {"name": "RED-EX1", "site": "Redmond", "version": version, "users": users},
            {"name": "RED-EX2", "site": "Redmond", "version": version, "users": users},
        ],
        "connectors": [{"name": "IMS", "kind": "ims", "server": "RED-EX1"}],
        "workload": {
            "profile": "heavy",
            "spread": "all_day",
            "mix": shares or mix(same_server=0.3, same_site=0.3, internet=0.4),
        },
        "run": {"duration": duration, "drain": "1h", "seed": 11},
    }
    for key, value in extra.items():
        raw[key] = value
    return raw


def two_sites(outage: tuple[str, str] | None = None, duration: str = "1h", drain: str = "30h", **run) -> dict:
    """Sites A and B joined by one X.400 connector; A's users mail B."""
    raw = {
        "name": "two-sites",
        "organization": {"name": "Contoso"},
        "sites": [
            {"name": "A", "addresses": {"x400": "c=US;a= ;p=Contoso;o=A"}},
            {"name": "B", "addresses": {"x400": "c=US;a= ;p=Contoso;o=B"}},
        ],
        "servers": [
            {"name": "A1", "site": "A", "users": 20},
            {"name": "B1", "site": "B", "users": 0, "mailboxes": [{"alias": "bob", "surname": "B"}]},
        ],
        "connectors": [{"name": "AB", "kind": "x400", "sites": ["A", "B"], "bridgeheads": ["A1", "B1"]}],
        "workload": {"profile": "heavy", "spread": "all_day", "mix": mix(other_site=1.0)},
        "run": {"duration": duration, "drain": drain, "seed": 5, "time_series_interval": "60s", **run},
    }
    if outage:
        raw["events"] = [{"kind": "outage", "connector": "AB", "start": outage[0], "end": outage[1]}]
    return raw


def size_limited(server: str, version: str) -> dict:
    """A's users mail bob on B (MMB sizes 1-43 KB); one server's MTA takes at most 3 KB."""
    raw = two_sites(duration="1h", drain="2h")
    raw["workload"]["profile"] = "mmb"
    for entry in raw["servers"]:
        entry["version"] = version
    index = [s["name"] for s in raw["servers"]].index(server)
    raw["servers"][index]["mta_max_message_size"] = "3KB"
    return raw


def scenario(raw: dict) -> Scenario:
    return validate_raw(copy.deepcopy(raw))


def two_ims(duration: str = "1h") -> dict:
    """Redmond (RED-EX1 with an IMS, RED-EX2) and Dublin (DUB-EX1 with its own IMS), joined by a
    site connector; on SP1 each site's IMS server returns the Internet mail of its own site when
    that site's X.400 address lacks p=. Swept: version x Redmond's address x Dublin's address.
    An Internet outage on Redmond's IMS and a stop of RED-EX2's MTA give the figures spans to mark."""
    raw = one_site(duration=duration, users=10, shares=mix(same_server=0.4, internet=0.6))
    raw["run"]["time_series_interval"] = "1m"
    raw["sites"].append(
        {"name": "Dublin", "addresses": {"x400": "c=IE;a= ;o=Dublin", "smtp": "@dublin.contoso.com"}}
    )
    raw["servers"].append({"name": "DUB-EX1", "site": "Dublin", "version": "5.0-sp1", "users": 10})
    raw["connectors"] += [
        {"name": "Site Connector Redmond-Dublin", "kind": "site", "sites": ["Redmond", "Dublin"]},
        {"name": "IMS Dublin", "kind": "ims", "server": "DUB-EX1"},
    ]
    raw["events"] = [
        {"kind": "outage", "connector": "IMS", "start": "10m", "end": "25m"},
        {"kind": "service_stop", "server": "RED-EX2", "service": "mta", "start": "20m", "end": "30m"},
    ]
    labels = ["with p=", "without p="]
    raw["sweep"] = {
        "variables": [
            {"name": "version", "path": "servers.*.version", "values": ["5.0-sp1", "5.0-sp2"]},
            {
                "name": "redmond",
                "path": "sites.Redmond.addresses.x400",
                "values": ["c=US;a= ;p=Contoso;o=Redmond", "c=US;a= ;o=Redmond"],
                "labels": labels,
            },
            {
                "name": "dublin",
                "path": "sites.Dublin.addresses.x400",
                "values": ["c=IE;a= ;p=Contoso;o=Dublin", "c=IE;a= ;o=Dublin"],
                "labels": labels,
            },
        ],
        "baseline": {"version": "5.0-sp2"},
    }
    return raw
