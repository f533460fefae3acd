"""A benchmark scenario as an open queueing network in Ciw, the established
Python library for such networks.

Nodes: an Information Store and an MTA per server (one server each), a link
node (infinite servers: transfers overlap) and one node per Internet Mail
Service (four outbound connections). Customers are recipients: each arrives at
its originator's store at the scenario's working-hours rate and follows a
process-based route drawn from the recipient mix — stay (same server), go to
a sibling server's MTA and store (same site), cross the link once per site on
the cheapest path, through each relaying MTA, to another server's MTA and store
(other site, or a distribution-list member elsewhere), or go through the MTA to
an IMS (Internet). Service times are exsim's defaults. Completed customers are
counted.

Run alone: ``python benchmarks/ciw_model.py [DAYS] [SCENARIO]``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import ciw
import networkx as nx

sys.path.insert(0, __import__("os").path.dirname(__file__))
from reference_simpy import (
    BENCH10,
    CLIENT_SUBMIT,
    GATEWAY_IN,
    INTERNET_DELAY,
    IS_DELIVERY,
    KINDS,
    LINK_LATENCY,
    MTA_ROUTING,
    SENDS_PER_DAY,
    WORK_END,
    WORK_START,
    load_organization,
)

MEAN_SIZE_KB = (1 * 60 + 2 * 16 + 4 * 4 + 10 * 6 + 15 * 4 + 16 * 4 + 43 * 2) / 96


def build(org: dict):  # type: ignore[no-untyped-def]
    servers = [name for name, _, _ in org["servers"]]
    site_of = {name: site for name, site, _ in org["servers"]}
    users = {name: n for name, _, n in org["servers"]}
    first_of: dict[str, str] = {}
    for name in servers:
        first_of.setdefault(site_of[name], name)
    paths = dict(nx.all_pairs_dijkstra_path(org["sites"], weight="cost"))
    n = len(servers)
    store = {s: i + 1 for i, s in enumerate(servers)}  # node numbers are 1-based
    mta = {s: n + i + 1 for i, s in enumerate(servers)}
    link = 2 * n + 1
    ims = {s: 2 * n + 2 + i for i, s in enumerate(org["ims"])}
    weights = [org["mix"][k] for k in KINDS]
    rng = random.Random(org["seed"])
    work_s = WORK_END - WORK_START
    mean_recipients = org["recipients_per_message"]
    share = sum(weights)
    per_message = mean_recipients * (1 + org["mix"]["distribution_list"] / share * (org["list_size"] - 1))

    def towards(origin: str, peer: str) -> list[int]:
        path = paths[site_of[origin]][site_of[peer]]
        nodes = [mta[origin]]
        for there in path[1:]:
            nodes += [link, mta[peer if there == path[-1] else first_of[there]]]
        if len(path) == 1:
            nodes.append(mta[peer])
        return nodes + [store[peer]]

    def route(ind, simulation):  # type: ignore[no-untyped-def]
        origin = servers[ind.starting_node - 1]
        kind = rng.choices(KINDS, weights)[0]
        if kind == "same_server":
            return []
        if kind == "same_site":
            peers = [s for s in servers if site_of[s] == site_of[origin] and s != origin]
            return towards(origin, rng.choice(peers)) if peers else []
        if kind in ("other_site", "distribution_list"):
            peers = [s for s in servers if kind == "distribution_list" or site_of[s] != site_of[origin]]
            peer = rng.choice(peers)
            return [] if peer == origin else towards(origin, peer)
        gateway = min(org["ims"], key=lambda s: (site_of[s] != site_of[origin], s))
        path = [mta[origin]] + ([mta[gateway]] if gateway != origin else [])
        return path + [ims[gateway]]

    arrivals = [
        ciw.dists.Exponential(max(users[s], 1e-9) * SENDS_PER_DAY * per_message / work_s) for s in servers
    ]
    arrivals += [None] * (n + 1 + len(ims))
    service = [ciw.dists.Deterministic(CLIENT_SUBMIT + IS_DELIVERY)] * n + [
        ciw.dists.Deterministic(MTA_ROUTING)
    ] * n
    service += [ciw.dists.Deterministic(LINK_LATENCY + MEAN_SIZE_KB * 8192 / 1.544e6)]
    service += [ciw.dists.Deterministic(GATEWAY_IN + INTERNET_DELAY)] * len(ims)
    servers_per_node = [1] * (2 * n) + [float("inf")] + [4] * len(ims)
    return ciw.create_network(
        arrival_distributions=arrivals,
        service_distributions=service,
        number_of_servers=servers_per_node,
        routing=ciw.routing.ProcessBased(route),
    )


def simulate(days: float = 1.0, path: Path = BENCH10) -> int:
    """Completed customers (recipients) over ``days`` working days (8 hours each)."""
    org = load_organization(path)
    ciw.seed(org["seed"])
    simulation = ciw.Simulation(build(org))
    simulation.simulate_until_max_time(days * (WORK_END - WORK_START))
    return len(simulation.nodes[-1].all_individuals)  # the exit node holds every finished customer


if __name__ == "__main__":
    days = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    scenario = Path(sys.argv[2]) if len(sys.argv) > 2 else BENCH10
    started = time.perf_counter()
    completed = simulate(days, scenario)
    wall = time.perf_counter() - started
    print(f"ciw: {completed} completed customers in {wall:.2f} s = {completed / wall:,.0f} per second")
