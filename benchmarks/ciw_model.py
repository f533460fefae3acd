"""A benchmark scenario as an open queueing network in Ciw, the established
Python library for such networks: the flow of the bare-SimPy reference
(``reference_simpy.py``), node for node.

Nodes: an Information Store and an MTA per server (one server each), one node
for every transfer between MTAs, over a site link or by RPC inside a site
(infinite servers: transfers overlap; each takes the customer's own time), and
one node per Internet Mail Service (four outbound connections). Customers are recipients: each arrives at its
originator's store at the scenario's working-hours rate and follows a
process-based route drawn from the recipient mix, visiting what the reference
passes the message through, with the same service times:

* same server: the store (submission, then delivery);
* same site: the store (submission), the MTA, an RPC transfer to the other
  server's MTA, its store (delivery);
* other site or a distribution-list member elsewhere: the store, the MTA, then
  per site on the cheapest path a link transfer and the relaying MTA (the first
  server of an intermediate site, the destination's at the end), the store;
* Internet: the store, the MTA, an RPC transfer to the IMS server's MTA (unless
  it is the originator's), that server's store (the gateway transfer-in) and the
  IMS (the Internet side's delay plus sending the message at 64 kbit/s).

Each customer draws a message size from the MMB weights, as the reference
draws one per message, and carries the service time of each visit (transfers
depend on the size and the link); a node's service time is the customer's time
for that visit. Completed customers are counted.

Run alone: ``python benchmarks/ciw_model.py [DAYS] [SCENARIO]``.
"""

from __future__ import annotations

import itertools
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
    IMS_CONNECTIONS,
    INTERNET_DELAY,
    IS_DELIVERY,
    KINDS,
    MTA_ROUTING,
    RPC_BPS,
    SENDS_PER_DAY,
    SIZE_WEIGHTS,
    SIZES_KB,
    WORK_END,
    WORK_START,
    load_organization,
)

SIZES = [float(kb) for kb in SIZES_KB]
SIZES_CUMULATIVE = list(itertools.accumulate(float(w) for w in SIZE_WEIGHTS))


class Visit(ciw.dists.Distribution):  # type: ignore[misc]
    """Every node's service time: the customer's time for its next visit, drawn on arrival."""

    def sample(self, t=None, ind=None):  # type: ignore[no-untyped-def]
        return ind.times.pop()


def build(org: dict):  # type: ignore[no-untyped-def]
    servers = [name for name, _, _ in org["servers"]]
    site_of = {name: site for name, site, _ in org["servers"]}
    users = {name: n for name, _, n in org["servers"]}
    first_of: dict[str, str] = {}
    for name in servers:
        first_of.setdefault(site_of[name], name)
    graph = org["sites"]
    paths = dict(nx.all_pairs_dijkstra_path(graph, weight="cost"))
    n = len(servers)
    store = {s: i + 1 for i, s in enumerate(servers)}  # node numbers are 1-based
    mta = {s: n + i + 1 for i, s in enumerate(servers)}
    link = 2 * n + 1  # every transfer between MTAs, over a site link or by RPC
    ims = {s: 2 * n + 2 + i for i, s in enumerate(org["ims"])}
    weights = [org["mix"][k] for k in KINDS]
    rng = random.Random(org["seed"])
    work_s = WORK_END - WORK_START
    mean_recipients = org["recipients_per_message"]
    share = sum(weights)
    per_message = mean_recipients * (1 + org["mix"]["distribution_list"] / share * (org["list_size"] - 1))

    def towards(origin: str, peer: str, size_kb: float) -> tuple[list[int], list[float]]:
        """From the originator's MTA to the peer's store: nodes and their service times."""
        path = paths[site_of[origin]][site_of[peer]]
        nodes, times = [mta[origin]], [MTA_ROUTING]
        if len(path) == 1:
            nodes += [link, mta[peer]]
            times += [0.001 + size_kb * 8192 / RPC_BPS, MTA_ROUTING]
        for here, there in itertools.pairwise(path):
            edge = graph.edges[here, there]
            nodes += [link, mta[peer if there == path[-1] else first_of[there]]]
            times += [edge["latency"] + size_kb * 8192 / edge["bps"], MTA_ROUTING]
        return nodes + [store[peer]], times + [IS_DELIVERY]

    def route(ind, simulation):  # type: ignore[no-untyped-def]
        origin = servers[ind.starting_node - 1]
        kind = rng.choices(KINDS, weights)[0]
        size_kb = rng.choices(SIZES, cum_weights=SIZES_CUMULATIVE)[0]
        nodes: list[int] = []
        times: list[float] = [CLIENT_SUBMIT]  # the submission, at the originator's store
        if kind == "same_site":
            peers = [s for s in servers if site_of[s] == site_of[origin] and s != origin]
            if peers:
                nodes, rest = towards(origin, rng.choice(peers), size_kb)
                times += rest
        elif kind in ("other_site", "distribution_list"):
            peers = [s for s in servers if kind == "distribution_list" or site_of[s] != site_of[origin]]
            peer = rng.choice(peers)
            if peer != origin:
                nodes, rest = towards(origin, peer, size_kb)
                times += rest
        elif kind == "internet":
            gateway = min(org["ims"], key=lambda s: (site_of[s] != site_of[origin], s))
            nodes, times = [mta[origin]], times + [MTA_ROUTING]
            if gateway != origin:
                nodes += [link, mta[gateway]]
                times += [0.001 + size_kb * 8192 / RPC_BPS, MTA_ROUTING]
            nodes += [store[gateway], ims[gateway]]
            times += [GATEWAY_IN, INTERNET_DELAY + size_kb * 8192 / 64e3]
        if not nodes:  # delivered where it was submitted: the same store, once more
            times[0] += IS_DELIVERY
        times.reverse()  # Visit takes them from the end
        ind.times = times
        return nodes

    arrivals = [
        ciw.dists.Exponential(max(users[s], 1e-9) * SENDS_PER_DAY * per_message / work_s) for s in servers
    ]
    arrivals += [None] * (n + 1 + len(ims))
    visit = Visit()
    servers_per_node = [1] * (2 * n) + [float("inf")] + [IMS_CONNECTIONS] * len(ims)
    return ciw.create_network(
        arrival_distributions=arrivals,
        service_distributions=[visit] * len(servers_per_node),
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
