"""Users sending mail, and mail arriving from outside.

Each server's users send as one Poisson stream at users x the profile's daily
rate (LoadSim figures), either spread over the working day (an 8-hour window,
every day of the week) or over all 24 hours. A message has 1 + Poisson(m - 1)
addressed recipients, where m is the profile's mean; each addressed recipient
is drawn from the recipient mix, and a distribution-list entry expands into
that many distinct organization mailboxes. A message names each address once
(:func:`once_each`), so a small population can make a message shorter than
drawn. Sizes follow the MMB weights.

Randomness: one generator per purpose and per server, each spawned from the
run's seed with a key derived from the server's *name*, so adding a server
leaves every other server's traffic exactly as it was.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import simpy
from simpy.events import EventCallbacks

from exsim.randomness import poisson, stream
from exsim.scenario import INTERNET_DOMAINS, PROFILES
from exsim.sim.message import Recipient
from exsim.sim.queue import Handoff, ProcessGenerator

if TYPE_CHECKING:
    from exsim.scenario import ForeignX400System
    from exsim.sim.gateways import Gateway
    from exsim.sim.model import Simulation

DAY_S = 86400.0

#: MMB message sizes in KB and their weights (the 10 KB message is an attachment).
SIZES_KB = (1.0, 2.0, 4.0, 10.0, 15.0, 16.0, 43.0)
SIZE_CUMULATIVE = tuple(itertools.accumulate(w / 96.0 for w in (60, 16, 4, 6, 4, 4, 2)))
INTERNET_USERS = 50
"""Users mailed at each Internet domain (``user1`` to ``user50``)."""
INTERNET_ADDRESSES = tuple(
    tuple(f"user{n}@{domain}" for n in range(1, INTERNET_USERS + 1)) for domain in INTERNET_DOMAINS
)
"""Every Internet address the users mail, by domain (in the order of INTERNET_DOMAINS) and user."""
MIX_KINDS = (
    "same_server",
    "same_site",
    "other_site",
    "internet",
    "msmail",
    "distribution_list",
    "foreign_x400",
)
#: Recipient kinds a user may address by a proxy instead of the GAL (mailboxes in the organization).
ONE_OFF_KINDS = frozenset({"same_server", "same_site", "other_site"})
FALLBACK = {"other_site": "same_site", "same_site": "same_server"}
#: Draws of a person already on the message before the entry is left out: a pool with one
#: free address in n is missed every time with chance ((n - 1) / n) ** REDRAWS, small unless
#: the message already holds (nearly) everyone of that kind.
REDRAWS = 8


class Workload:
    def __init__(self, sim: Simulation):
        self.sim = sim
        scenario = sim.scenario
        self.config = scenario.workload
        shares = [getattr(self.config.mix, k) for k in MIX_KINDS]
        self.mix_cumulative = tuple(itertools.accumulate(share / sum(shares) for share in shares))
        org = sim.org
        self.aliases_on: dict[str, list[str]] = {s: [] for s in org.servers}
        for alias, box in org.mailboxes.items():
            self.aliases_on[box.server].append(alias)
        self.all_aliases = [a for s in org.servers for a in self.aliases_on[s]]
        self.aliases_in_site: dict[str, list[str]] = {}
        for server_name, aliases in self.aliases_on.items():
            self.aliases_in_site.setdefault(org.site_of(server_name), []).extend(aliases)
        #: Every alias, site after site (in the order of aliases_in_site), and where each site's
        #: block starts: the other sites' users of a site are this list without its block.
        self.by_site = [a for aliases in self.aliases_in_site.values() for a in aliases]
        self.site_start = dict(
            zip(
                self.aliases_in_site,
                itertools.accumulate((len(a) for a in self.aliases_in_site.values()), initial=0),
                strict=False,
            )
        )
        self._pools: dict[tuple[str, str], Sequence[str]] = {}
        self.ms_networks = [
            space.pattern.split("/")[0].upper() if space.pattern not in ("", "*") else "MSNET"
            for c in org.connectors.values()
            if c.kind == "msmail"
            for space in c.address_spaces
        ] or ["MSNET"]
        for server in scenario.servers:
            if self.aliases_on[server.name] and server.users + len(server.mailboxes) > 0:
                Users(
                    self,
                    server.name,
                    server.profile or self.config.profile,
                    server.users + len(server.mailboxes),
                )
        ims = [g for g in sim.gateways.values() if g.kind == "ims"]
        if self.config.inbound_internet_per_hour > 0 and ims and self.all_aliases:
            sim.env.process(self._inbound(ims, self.config.inbound_internet_per_hour, "internet"))
        msmail = [g for g in sim.gateways.values() if g.kind == "msmail"]
        if self.config.inbound_msmail_per_hour > 0 and msmail and self.all_aliases:
            sim.env.process(self._inbound(msmail, self.config.inbound_msmail_per_hour, "msmail"))
        for system in scenario.foreign_x400:
            # The system's users send mail to the organization's mailboxes (by X.400 proxy).
            if system.inbound_per_hour > 0 and org.mailboxes:
                sim.env.process(self._foreign_x400(system, sim.gateways[system.connector]))

    def window_s(self) -> tuple[float, float]:
        """Where the daily sending window starts and how long it is open (seconds)."""
        return self.config.sending_window()

    def _one_off(self, recipient: Recipient) -> None:
        """Address a recipient by its SMTP (else MS Mail) proxy instead of the GAL entry."""
        box = self.sim.org.mailboxes[recipient.address]
        proxy = box.proxies.smtp or box.proxies.ms
        if proxy is not None:
            recipient.intended, recipient.address, recipient.one_off = box.alias, proxy, True

    def addresser(self, kind: str, server: str, rng: random.Random) -> Callable[[str], list[Recipient]]:
        """What a user of ``server`` addresses when the mix draws ``kind``: a function of the
        originator giving the recipients, drawn from ``rng``. Made once per server and kind,
        so that a message's draws are only the draws."""
        below = index_drawer(rng)
        if kind == "internet":
            # Every address of every domain, made once: a message draws its address rather than
            # writes it, and the stores and MTAs look up the same string object again.
            addresses = INTERNET_ADDRESSES

            def internet(_: str) -> list[Recipient]:
                at = addresses[below(len(addresses))]  # the domain is drawn before the user
                return [Recipient(at[below(INTERNET_USERS)], kind)]

            return internet
        if kind == "msmail":
            networks = self.ms_networks
            return lambda _: [
                Recipient(f"{networks[below(len(networks))]}/PO{1 + below(3)}/USER{1 + below(50)}", kind)
            ]
        if kind == "foreign_x400":
            systems = self.sim.scenario.foreign_x400

            def foreign(_: str) -> list[Recipient]:
                system = systems[below(len(systems))]
                return [Recipient(system.recipients[below(len(system.recipients))], kind)]

            return foreign
        if kind == "distribution_list":
            # A list has distinct members: drawn without replacement (a list as large as the
            # organization is everyone).
            size, everyone = self.config.distribution_list_size, self.all_aliases
            if size >= len(everyone):
                return lambda _: [Recipient(alias, kind) for alias in everyone]
            sample = rng.sample
            return lambda _: [Recipient(alias, kind) for alias in sample(everyone, size)]
        pool = self._pool(kind, server)
        if kind == "same_server":
            if len(pool) < 2:
                return lambda originator: [Recipient(originator, kind)]  # alone: a note to self
            # Uniform over everyone but the originator, without copying the pool:
            # draw among len - 1 slots and let the last alias stand in for the originator.
            others, last = len(pool) - 1, pool[-1]

            def colleague(originator: str) -> list[Recipient]:
                pick = pool[below(others)]
                return [Recipient(last if pick == originator else pick, kind)]

            return colleague
        if not pool:  # nobody of that kind: the nearest kind that has someone
            return self.addresser(FALLBACK[kind], server, rng)
        people = len(pool)
        return lambda _: [Recipient(pool[below(people)], kind)]

    def _pool(self, kind: str, server: str) -> Sequence[str]:
        """Candidate aliases for an internal recipient kind, computed once per server (per
        site for other sites' users: every server of a site shares that pool)."""
        key = (kind, server)
        pool = self._pools.get(key)
        if pool is None:
            org = self.sim.org
            site = org.site_of(server)
            if kind == "same_server":
                pool = self.aliases_on[server]
            elif kind == "same_site":
                pool = [a for a in self.aliases_in_site[site] if org.mailboxes[a].server != server]
            else:
                pool = self._pools.get((kind, site))
                if pool is None:
                    start = self.site_start[site]
                    pool = self._pools[(kind, site)] = AllBut(
                        self.by_site, start, start + len(self.aliases_in_site[site])
                    )
            self._pools[key] = pool
        return pool

    def _inbound(self, gateways: list[Gateway], per_hour: float, via: str) -> ProcessGenerator[None]:
        sim, env = self.sim, self.sim.env
        rng = stream(sim.seed, 2, via)
        duration = sim.scenario.run.duration
        t = 0.0
        while True:
            t += rng.expovariate(per_hour / 3600.0)
            if t >= duration:
                return
            yield env.timeout(t - env._now)
            gateway = gateways[rng.randrange(len(gateways))]
            recipient = self.all_aliases[rng.randrange(len(self.all_aliases))]
            if via == "internet":
                originator = f"sender{rng.randrange(1, 51)}@example{rng.randrange(1, 21)}.com"
            else:
                originator = f"{self.ms_networks[0]}/PO1/USER{rng.randrange(1, 51)}"
            size = message_size(rng)
            message = sim.new_message(
                originator,
                None,
                [Recipient(recipient, f"inbound_{via}")],
                size,
                inbound_via=via,
                received_by=gateway.server,
            )
            env.process(gateway.inbound(message))

    def _foreign_x400(self, system: ForeignX400System, gateway: Gateway) -> ProcessGenerator[None]:
        """The users of a foreign X.400 system mail mailboxes at their X.400 proxies."""
        sim, env = self.sim, self.sim.env
        rng = stream(sim.seed, 2, f"x400:{system.name}")
        boxes = list(sim.org.mailboxes.values())
        duration = sim.scenario.run.duration
        t = 0.0
        while True:
            t += rng.expovariate(system.inbound_per_hour / 3600.0)
            if t >= duration:
                return
            yield env.timeout(t - env._now)
            box = boxes[rng.randrange(len(boxes))]
            originator = system.recipients[rng.randrange(len(system.recipients))]
            message = sim.new_message(
                originator,
                None,
                [Recipient(box.proxies.x400, "inbound_x400", intended=box.alias)],
                message_size(rng),
                inbound_via="x400",
            )
            env.process(gateway.inbound(message))


class AllBut(Sequence[str]):
    """A list without one block of it, read in place: the other sites' users of a site are
    every user but that site's (59,400 aliases in a 100-site organization; a copy per site
    would cost about 48 MB), and the i-th of them is found by one comparison."""

    __slots__ = ("_all", "_length", "_skip", "_start")

    def __init__(self, items: list[str], start: int, end: int):
        self._all = items
        self._start = start
        self._skip = end - start
        self._length = len(items) - self._skip

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> str:  # type: ignore[override]  # (no slices: never needed)
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._all[index if index < self._start else index + self._skip]


def once_each(
    recipients: list[Recipient], addresser: Callable[[str], list[Recipient]], originator: str
) -> list[Recipient]:
    """``recipients`` with one more addressed entry drawn by ``addresser``, each address once.

    A message holds one recipient per address: nobody types the same name twice, and a
    mailbox both named and reached through a distribution list gets one copy. So a person
    drawn again is drawn anew from the same kind, up to :data:`REDRAWS` times (a kind whose
    people the message already holds, such as a one-mailbox site, then adds nobody), and a
    list's members the message already holds are left out. Draws are taken only when an
    address repeats, so a message whose addresses never repeat draws what it always did.
    """
    held = {recipient.address for recipient in recipients}
    drawn = addresser(originator)
    if len(drawn) == 1:
        attempts = 1
        while drawn[0].address in held and attempts < REDRAWS:
            drawn = addresser(originator)
            attempts += 1
        if drawn[0].address not in held:
            recipients.append(drawn[0])
        return recipients
    for recipient in drawn:
        if recipient.address not in held:
            held.add(recipient.address)
            recipients.append(recipient)
    return recipients


def message_size(rng: random.Random) -> float:
    """A message size in KB drawn with the MMB weights."""
    return _SIZE_AT[bisect.bisect(SIZE_CUMULATIVE, rng.random())]


def index_drawer(rng: random.Random) -> Callable[[int], int]:
    """``rng.randrange`` for one positive argument, without its argument checks: the random
    module's ``_randbelow``, which ``randrange(n)`` calls for the same numbers (tests/test_workload.py
    checks they are the same); ``randrange`` itself on a Python whose random module has none."""
    below: Callable[[int], int] = getattr(rng, "_randbelow", rng.randrange)
    return below


#: The size a draw falls on, by its place among the cumulative weights; a draw at or above the
#: last one (which rounding can leave a hair under 1) takes the last size.
_SIZE_AT = (*SIZES_KB, SIZES_KB[-1])


class Users:
    """The users of one server sending mail: a Poisson stream at users x the profile's daily
    rate within the sending window, each message addressed from the recipient mix.

    Run as timer callbacks rather than a SimPy process (one fewer generator to resume per
    message), with the same draws in the same order: the arrival time of the next message is
    drawn after the current one is submitted, as the loop over the arrival times did.
    """

    __slots__ = (
        "_arrive", "_timer", "active_clock", "active_s", "addressers", "aliases", "below", "client_names", "client_shares",
        "duration", "env", "mean_recipients", "one_off", "rate", "rng", "server", "sim", "start",
        "store", "workload",
    )  # fmt: skip

    def __init__(self, workload: Workload, server: str, profile: str, users: int):
        sim = self.sim = workload.sim
        self.workload = workload
        self.env = sim.env
        self.server = server
        self.rng = stream(sim.seed, 1, server)
        sends, mean_recipients = PROFILES[profile]
        config = workload.config
        self.mean_recipients = config.recipients_per_message or mean_recipients
        self.store = sim.stores[server]
        clients = sim.scenario.server(server).clients
        self.client_names, self.client_shares = list(clients), list(itertools.accumulate(clients.values()))
        self.one_off = config.one_off_share
        self.aliases = workload.aliases_on[server]
        self.below = index_drawer(self.rng)
        # By the place of a mix draw among the cumulative shares (a draw at or above the last
        # share takes the last kind), made when the mix first draws the kind.
        self.addressers: list[Callable[[str], list[Recipient]] | None] = [None] * (len(MIX_KINDS) + 1)
        self.start, self.active_s = workload.window_s()
        self.rate = users * sends / self.active_s
        self.duration = sim.scenario.run.duration
        self.active_clock = 0.0
        # One timer event, used again for every arrival once it has fired, and its callbacks.
        self._timer = Handoff(self.env, 0.0)
        self._arrive: EventCallbacks = [self._send]
        self._next()

    def _next(self) -> None:
        """Draw the next arrival within the sending window, up to the run's duration."""
        self.active_clock += self.rng.expovariate(self.rate)
        day, into = divmod(self.active_clock, self.active_s)
        t = day * DAY_S + self.start + into
        if t < self.duration:
            timer = self._timer
            timer.callbacks = self._arrive
            timer.hand(None, t - self.env._now)  # scheduled as env.timeout(t - now) is

    def _send(self, _fired: simpy.Event) -> None:
        rng = self.rng
        draw = rng.random
        aliases = self.aliases
        originator = aliases[self.below(len(aliases))]
        mean = self.mean_recipients
        count = 1 + poisson(rng, mean - 1.0) if mean > 1 else 1
        mix, addressers = self.workload.mix_cumulative, self.addressers
        recipients: list[Recipient] = []
        for _ in range(count):
            place = bisect.bisect(mix, draw())
            addresser = addressers[place]
            if addresser is None:
                kind = MIX_KINDS[min(place, len(MIX_KINDS) - 1)]
                addresser = addressers[place] = self.workload.addresser(kind, self.server, rng)
            recipients = once_each(recipients, addresser, originator) if recipients else addresser(originator)
        size = message_size(rng)
        # Draws for clients and one-off addressing only when the scenario has them, so that
        # scenarios without them keep exactly the traffic they had.
        names = self.client_names
        client = (
            names[min(bisect.bisect(self.client_shares, draw()), len(names) - 1)]
            if len(names) > 1
            else names[0]
        )
        one_off = self.one_off
        if one_off:
            for recipient in recipients:
                if recipient.kind in ONE_OFF_KINDS and draw() < one_off:
                    self.workload._one_off(recipient)
        message = self.sim.new_message(originator, self.server, recipients, size)
        message.client = client
        self.store.submissions.put(message)  # InformationStore.submit, without the call
        self._next()
