"""The yardstick: a benchmark scenario's mail flow written by hand in bare SimPy.

The obvious way: one process per message, a ``simpy.Resource`` per Information
Store, per MTA and per Internet Mail Service, timeouts for service and transfer,
no routing table and no logs. The next hop is worked out directly: mail for
another site follows the cheapest chain of site connectors (each intermediate
site's first server relays it through its MTA), Internet mail goes to the
nearest IMS. It reads the same scenario file exsim runs (servers, users, sites,
site connectors and their links, the recipient mix, recipients per message,
distribution-list size) and uses exsim's default service times, and counts
delivered recipients.

Run alone: ``python benchmarks/reference_simpy.py [DAYS] [SCENARIO]``.
"""

from __future__ import annotations

import itertools
import sys
import time
import tomllib
from pathlib import Path

import networkx as nx
import numpy as np
import simpy

HERE = Path(__file__).parent
BENCH10 = HERE / "scenarios" / "bench10.toml"
DAY_S = 86400.0
SIZES_KB = np.array([1.0, 2.0, 4.0, 10.0, 15.0, 16.0, 43.0])
SIZE_WEIGHTS = np.array([60, 16, 4, 6, 4, 4, 2], dtype=float) / 96.0
SENDS_PER_DAY, MEAN_RECIPIENTS = 19.8, 55.9 / 19.8  # LoadSim medium
# exsim's default service times (seconds) and links.
CLIENT_SUBMIT, IS_DELIVERY, MTA_ROUTING, GATEWAY_IN = 0.05, 0.04, 0.03, 0.15
ASSOCIATION_OPEN, RPC_BPS, LINK_BPS, LINK_LATENCY = 1.0, 10e6, 64e3, 0.05
INTERNET_DELAY, IMS_CONNECTIONS = 5.0, 4
WORK_START, WORK_END = 9 * 3600.0, 17 * 3600.0
KINDS = ("same_server", "same_site", "other_site", "internet", "distribution_list")
UNITS = {"kbps": 1e3, "Mbps": 1e6, "bps": 1.0, "ms": 1e-3, "s": 1.0}


def _quantity(text: str | float) -> float:
    if isinstance(text, int | float):
        return float(text)
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * UNITS[unit]
    return float(text)


def load_organization(path: Path = BENCH10) -> dict:
    """What the reference needs from a scenario file."""
    data = tomllib.loads(Path(path).read_text())
    servers = [(s["name"], s["site"], s.get("users", 0)) for s in data["servers"]]
    ims = [c["server"] for c in data["connectors"] if c["kind"] == "ims"]
    sites = nx.Graph()
    sites.add_nodes_from(s["name"] for s in data["sites"])
    for c in data["connectors"]:
        if c["kind"] == "site":
            link = c.get("link", {})
            sites.add_edge(
                *c["sites"],
                cost=c.get("cost", 1),
                bps=_quantity(link.get("bandwidth", LINK_BPS)),
                latency=_quantity(link.get("latency", LINK_LATENCY)),
            )
    workload = data["workload"]
    return {
        "servers": servers,
        "ims": ims,
        "sites": sites,
        "mix": {k: workload["mix"].get(k, 0.0) for k in KINDS},
        "recipients_per_message": workload.get("recipients_per_message", MEAN_RECIPIENTS),
        "list_size": workload.get("distribution_list_size", 10),
        "seed": data["run"]["seed"],
    }


class Reference:
    def __init__(self, org: dict, days: float, seed: int):
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.servers = org["servers"]
        self.names = [name for name, _, _ in self.servers]
        self.site_of = {name: site for name, site, _ in self.servers}
        self.by_site: dict[str, list[str]] = {}
        for name, site, _ in self.servers:
            self.by_site.setdefault(site, []).append(name)
        self.store = {name: simpy.Resource(self.env, 1) for name in self.names}
        self.mta = {name: simpy.Resource(self.env, 1) for name in self.names}
        self.ims = {name: simpy.Resource(self.env, IMS_CONNECTIONS) for name in org["ims"]}
        self.ims_servers = org["ims"]
        self.graph = org["sites"]
        self.paths = dict(nx.all_pairs_dijkstra_path(self.graph, weight="cost"))
        self.mix = np.array([org["mix"][k] for k in KINDS])
        self.mix = self.mix / self.mix.sum()
        self.mean_recipients = org["recipients_per_message"]
        self.list_size = org["list_size"]
        self.duration = days * DAY_S
        self.delivered = 0
        self.recipients = 0
        for name, _, users in self.servers:
            if users:
                self.env.process(self.users(name, users))

    def users(self, server: str, users: int):
        rate = users * SENDS_PER_DAY / (WORK_END - WORK_START)
        clock = 0.0
        while True:
            clock += self.rng.exponential(1.0 / rate)
            day, into = divmod(clock, WORK_END - WORK_START)
            t = day * DAY_S + WORK_START + into
            if t >= self.duration:
                return
            yield self.env.timeout(t - self.env.now)
            count = 1 + int(self.rng.poisson(self.mean_recipients - 1)) if self.mean_recipients > 1 else 1
            kinds = self.rng.choice(len(KINDS), size=count, p=self.mix)
            size = float(self.rng.choice(SIZES_KB, p=SIZE_WEIGHTS))
            targets = [t for k in kinds for t in self.targets(server, KINDS[k])]
            self.recipients += len(targets)
            self.env.process(self.message(server, targets, size))

    def targets(self, server: str, kind: str) -> list[str]:
        site = self.site_of[server]
        if kind == "same_server":
            return [server]
        if kind == "same_site":
            others = [s for s in self.by_site[site] if s != server] or [server]
            return [others[int(self.rng.integers(len(others)))]]
        if kind == "other_site":
            choices = [s for s in self.names if self.site_of[s] != site]
            return [choices[int(self.rng.integers(len(choices)))]]
        if kind == "distribution_list":
            return [self.names[int(i)] for i in self.rng.integers(len(self.names), size=self.list_size)]
        return ["INTERNET"]

    def serve(self, resource: simpy.Resource, seconds: float):
        with resource.request() as request:
            yield request
            yield self.env.timeout(seconds)

    def message(self, server: str, targets: list[str], size_kb: float):
        yield from self.serve(self.store[server], CLIENT_SUBMIT)
        local = targets.count(server)
        if local:
            yield from self.serve(self.store[server], IS_DELIVERY)
            self.delivered += local
        remote = [t for t in targets if t != server]
        if not remote:
            return
        yield from self.serve(self.mta[server], MTA_ROUTING)
        for destination in sorted(set(remote)):
            n = remote.count(destination)
            if destination == "INTERNET":
                gateway = min(self.ims_servers, key=lambda s: (self.site_of[s] != self.site_of[server], s))
                if gateway != server:
                    yield from self.hop(server, gateway, size_kb)
                yield from self.serve(self.store[gateway], GATEWAY_IN)
                yield from self.serve(self.ims[gateway], INTERNET_DELAY + size_kb * 8192 / 64e3)
            else:
                yield from self.hop(server, destination, size_kb)
                yield from self.serve(self.store[destination], IS_DELIVERY)
            self.delivered += n

    def hop(self, server: str, destination: str, size_kb: float):
        """From one MTA to another: over RPC inside a site, else site by site along the cheapest path."""
        path = self.paths[self.site_of[server]][self.site_of[destination]]
        if len(path) == 1:
            yield self.env.timeout(0.001 + size_kb * 8192 / RPC_BPS)
            yield from self.serve(self.mta[destination], MTA_ROUTING)
            return
        for here, there in itertools.pairwise(path):
            link = self.graph.edges[here, there]
            yield self.env.timeout(link["latency"] + size_kb * 8192 / link["bps"])
            relay = destination if there == path[-1] else self.by_site[there][0]
            yield from self.serve(self.mta[relay], MTA_ROUTING)

    def run(self) -> None:
        self.env.run(until=self.duration + 2 * 3600)


def simulate(days: float = 1.0, path: Path = BENCH10) -> tuple[int, int]:
    org = load_organization(path)
    model = Reference(org, days, org["seed"])
    model.run()
    return model.recipients, model.delivered


if __name__ == "__main__":
    days = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    scenario = Path(sys.argv[2]) if len(sys.argv) > 2 else BENCH10
    started = time.perf_counter()
    recipients, delivered = simulate(days, scenario)
    wall = time.perf_counter() - started
    print(
        f"reference: {recipients} recipients, {delivered} delivered in {wall:.2f} s "
        f"= {delivered / wall:,.0f} recipients per second"
    )
