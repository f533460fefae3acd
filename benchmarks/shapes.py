"""The traffic shapes the benchmarks compare exsim on, as scenario files.

* ``org``: the benchmark organization (``scenarios/bench10.toml``): 10 sites, a mix
  of local, site, other-site and Internet mail, about 2.8 recipients a message.
* ``mesh``: one recipient a message, always to another site; 6 sites joined each to
  each (IS -> MTA -> link -> MTA -> IS).
* ``ring``: one recipient a message to another site of 7 sites in a ring, so most
  mail is relayed by the MTAs of the sites between (multi-hop).
* ``internet``: one site of 4 servers sending only Internet mail through one IMS,
  loaded to about 80 % of its outbound connections.
* ``list``: every message to a 50-member distribution list spread over 10 servers.

``write(shape, folder)`` writes the shape's scenario file and returns its path; exsim,
the bare-SimPy reference and the Ciw network all read that same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

HERE = Path(__file__).resolve().parent
BENCH10 = HERE / "scenarios" / "bench10.toml"
SHAPES = ("org", "mesh", "ring", "internet", "list")
T1 = {"bandwidth": "1.544Mbps", "latency": "30ms"}
NO_MIX = dict.fromkeys(
    ("same_server", "same_site", "other_site", "internet", "msmail", "distribution_list"), 0.0
)


def _org(
    name: str,
    sites: int,
    servers_per_site: int,
    users: int,
    links: list[tuple[int, int]],
    names: list[str] | None = None,
) -> dict:
    names = names or [f"S{i}" for i in range(sites)]
    return {
        "name": name,
        "organization": {"name": "Contoso"},
        "sites": [{"name": s, "addresses": {"x400": f"c=US;a= ;p=Contoso;o={s}"}} for s in names],
        "servers": [
            {"name": f"{s}-EX{k + 1}", "site": s, "users": users}
            for s in names
            for k in range(servers_per_site)
        ],
        "connectors": [
            {"name": f"{names[a]}-{names[b]}", "kind": "site", "sites": [names[a], names[b]], "link": T1}
            for a, b in links
        ],
        "run": {"duration": "1d", "seed": 42, "time_series": False},
    }


def scenario(shape: str) -> dict[str, Any]:
    """The scenario of a shape other than ``org``, as parsed TOML."""
    if shape == "mesh":
        data = _org("mesh", 6, 1, 200, [(a, b) for a in range(6) for b in range(a + 1, 6)])
        mix = {**NO_MIX, "other_site": 1.0}
        extra: dict[str, Any] = {"recipients_per_message": 1}
    elif shape == "ring":
        data = _org("ring", 7, 1, 170, [(a, (a + 1) % 7) for a in range(7)])
        mix = {**NO_MIX, "other_site": 1.0}
        extra = {"recipients_per_message": 1}
    elif shape == "internet":
        data = _org("internet", 1, 4, 220, [])
        data["connectors"] = [{"name": "IMS", "kind": "ims", "server": "S0-EX1"}]
        data["sites"][0]["addresses"]["smtp"] = "@contoso.com"
        mix = {**NO_MIX, "internet": 1.0}
        extra = {"recipients_per_message": 1}
    elif shape == "list":
        data = _org("list", 5, 2, 10, [(a, (a + 1) % 5) for a in range(5)])
        mix = {**NO_MIX, "distribution_list": 1.0}
        extra = {"recipients_per_message": 1, "distribution_list_size": 50}
    else:
        raise ValueError(f"unknown shape {shape!r} (shapes: {', '.join(SHAPES)})")
    data["workload"] = {"profile": "medium", "spread": "working_hours", "mix": mix, **extra}
    return data


def write(shape: str, folder: Path) -> Path:
    """The scenario file of ``shape``: bench10.toml for ``org``, else written into ``folder``."""
    if shape == "org":
        return BENCH10
    path = folder / f"{shape}.toml"
    path.write_text(tomli_w.dumps(scenario(shape)))
    return path


#: bench100: regional hub sites, spoke sites on each hub.
HUBS, SPOKES_PER_HUB = 10, 9
#: Outbound SMTP connections of each hub's IMS: a region's 6,000 users hand it about 1.5
#: messages a second and the Internet side takes 5 s to accept each, so it needs 8 at least
#: (the default 4 would carry 0.8 a second and queue the rest all day).
IMS_CONNECTIONS = 16


def bench100() -> dict[str, Any]:
    """The 100-site organization of ``scenarios/bench100.toml``, built as hub and spoke.

    Exchange 5.0 organizations of this size were laid out hub and spoke, the topology
    recommended for large organizations: every message between two sites crosses at most
    three site connectors (spoke -> its hub -> the other region's hub -> spoke), so an MTA
    relays it at most twice, and a site's connector list stays short. Here: 10 regional hub
    sites joined each to each (45 T1 site connectors, cost 1), 9 spoke sites in each region,
    each joined to its hub by one T1 site connector (cost 1). Every site has 3 servers of 200
    medium users (300 servers, 60,000 users). Each hub runs an Internet Mail Service on its
    first server, so a spoke's Internet mail goes one hop to its own hub (the IMS there is the
    cheapest route in its GWART) and no IMS carries more than its region's share. The mix is
    the benchmark organization's: 40 % same server, 20 % same site, 25 % another site, 15 %
    Internet; one simulated day.

    The links are not the bottleneck: in the working day each hub-hub and hub-spoke connector
    carries about 0.6 messages a second (both ways, about 4 KB each: some 20 kbit/s, under
    2 % of a T1). Each IMS is handed about 1.5 messages a second, hence its 16 connections.
    The previous bench100 was a 100-site ring with a chord every tenth site, which nobody
    built: there mail to another site crossed about 8 connectors, each an MTA relay, and the
    day cost three times the CPU for the same traffic.
    """
    names: list[str] = []
    links: list[tuple[int, int]] = []
    hubs = []
    for region in range(HUBS):
        hubs.append(len(names))
        names.append(f"HUB{region}")
        for spoke in range(1, SPOKES_PER_HUB + 1):
            links.append((hubs[-1], len(names)))
            names.append(f"R{region}S{spoke}")
    links += [(hubs[a], hubs[b]) for a in range(HUBS) for b in range(a + 1, HUBS)]
    data = _org("bench100", len(names), 3, 200, links, names)
    data["description"] = (
        "100 sites as 10 regional hubs in a full mesh with 9 spokes each, 300 servers, "
        "60,000 medium users, site connectors over T1 links, an IMS in each hub"
    )
    for site in data["sites"]:
        site["addresses"]["smtp"] = f"@{site['name'].lower()}.contoso.com"
    data["connectors"] += [
        {
            "name": f"IMS HUB{region}",
            "kind": "ims",
            "server": f"HUB{region}-EX1",
            "outbound_connections": IMS_CONNECTIONS,
        }
        for region in range(HUBS)
    ]
    mix = {**NO_MIX, "same_server": 0.40, "same_site": 0.20, "other_site": 0.25, "internet": 0.15}
    data["workload"] = {"profile": "medium", "spread": "working_hours", "mix": mix}
    return data


if __name__ == "__main__":
    # Regenerate scenarios/bench100.toml.
    header = "# Generated by benchmarks/shapes.py (python benchmarks/shapes.py): edit that, not this.\n\n"
    (HERE / "scenarios" / "bench100.toml").write_text(header + tomli_w.dumps(bench100()))
