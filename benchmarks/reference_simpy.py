"""The yardstick: the benchmark organization's mail flow written by hand in bare SimPy.

The obvious way: one process per message, a ``simpy.Resource`` per Information
Store and per MTA, timeouts for service and transfer, no routing table (the
next hop is worked out directly from where the recipient lives), no logs. It
uses the same arrival rates, recipient mix, site and server count, service times
and link parameters as ``scenarios/bench10.toml`` and exsim's defaults, and
counts delivered recipients.

Run alone: ``python benchmarks/reference_simpy.py [DAYS]``.
"""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import simpy

HERE = Path(__file__).parent
DAY_S = 86400.0
SIZES_KB = np.array([1.0, 2.0, 4.0, 10.0, 15.0, 16.0, 43.0])
SIZE_WEIGHTS = np.array([60, 16, 4, 6, 4, 4, 2], dtype=float) / 96.0
SENDS_PER_DAY, MEAN_RECIPIENTS = 19.8, 55.9 / 19.8  # LoadSim medium
# exsim's default service times (seconds) and the benchmark links.
CLIENT_SUBMIT, IS_DELIVERY, MTA_ROUTING, GATEWAY_IN = 0.05, 0.04, 0.03, 0.15
ASSOCIATION_OPEN, RPC_BPS, LINK_BPS, LINK_LATENCY = 1.0, 10e6, 1.544e6, 0.03
INTERNET_DELAY, IMS_CONNECTIONS = 5.0, 4
WORK_START, WORK_END = 9 * 3600.0, 17 * 3600.0


def load_organization(path: Path = HERE / "scenarios" / "bench10.toml") -> dict:
    data = tomllib.loads(path.read_text())
    servers = [(s["name"], s["site"], s["users"]) for s in data["servers"]]
    ims = [c["server"] for c in data["connectors"] if c["kind"] == "ims"]
    mix = data["workload"]["mix"]
    return {"servers": servers, "ims": ims, "mix": mix, "seed": data["run"]["seed"]}


class Reference:
    def __init__(self, org: dict, days: float, seed: int):
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.servers = org["servers"]
        self.site_of = {name: site for name, site, _ in self.servers}
        self.by_site: dict[str, list[str]] = {}
        for name, site, _ in self.servers:
            self.by_site.setdefault(site, []).append(name)
        self.store = {name: simpy.Resource(self.env, 1) for name, _, _ in self.servers}
        self.mta = {name: simpy.Resource(self.env, 1) for name, _, _ in self.servers}
        self.ims = {name: simpy.Resource(self.env, IMS_CONNECTIONS) for name in org["ims"]}
        self.ims_servers = org["ims"]
        kinds = ("same_server", "same_site", "other_site", "internet")
        self.kinds = kinds
        self.mix = np.array([org["mix"][k] for k in kinds])
        self.mix = self.mix / self.mix.sum()
        self.duration = days * DAY_S
        self.delivered = 0
        self.recipients = 0
        for name, _, users in self.servers:
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
            count = 1 + int(self.rng.poisson(MEAN_RECIPIENTS - 1))
            kinds = self.rng.choice(len(self.kinds), size=count, p=self.mix)
            size = float(self.rng.choice(SIZES_KB, p=SIZE_WEIGHTS))
            targets = [self.target(server, self.kinds[k]) for k in kinds]
            self.recipients += count
            self.env.process(self.message(server, targets, size))

    def target(self, server: str, kind: str) -> str:
        site = self.site_of[server]
        if kind == "same_server":
            return server
        if kind == "same_site":
            others = [s for s in self.by_site[site] if s != server]
            return others[int(self.rng.integers(len(others)))]
        if kind == "other_site":
            choices = [s for s, _, _ in self.servers if self.site_of[s] != site]
            return choices[int(self.rng.integers(len(choices)))]
        return "INTERNET"

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
                    yield self.env.timeout(size_kb * 8192 / RPC_BPS)
                    yield from self.serve(self.mta[gateway], MTA_ROUTING)
                yield from self.serve(self.store[gateway], GATEWAY_IN)
                yield from self.serve(self.ims[gateway], INTERNET_DELAY + size_kb * 8192 / 64e3)
            else:
                same_site = self.site_of[destination] == self.site_of[server]
                bps = RPC_BPS if same_site else LINK_BPS
                latency = 0.001 if same_site else LINK_LATENCY
                yield self.env.timeout(latency + size_kb * 8192 / bps)
                yield from self.serve(self.mta[destination], MTA_ROUTING)
                yield from self.serve(self.store[destination], IS_DELIVERY)
            self.delivered += n

    def run(self) -> None:
        self.env.run(until=self.duration + 2 * 3600)


def simulate(days: float = 1.0) -> tuple[int, int]:
    org = load_organization()
    model = Reference(org, days, org["seed"])
    model.run()
    return model.recipients, model.delivered


if __name__ == "__main__":
    days = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    started = time.perf_counter()
    recipients, delivered = simulate(days)
    wall = time.perf_counter() - started
    print(
        f"reference: {recipients} recipients, {delivered} delivered in {wall:.2f} s "
        f"= {delivered / wall:,.0f} recipients per second"
    )
