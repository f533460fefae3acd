"""The Message Transfer Agent (MTA) of one server, and its queues per next hop.

The MTA routes every recipient of a message on its own (asking
:mod:`exsim.routing`), then queues the message once per next hop: another
server of the site (RPC), a site-linking connector, or a gateway (which on
this server means the store's gateway-in queue). A :class:`NextHopQueue`
opens an association when it has mail; when the open fails it logs events 289
and 301, counts a failed open on every queued message, lets each message be
routed again (which is how mail finds an alternate connector) and waits one
open interval. Once a message has used up the max open retries of every
candidate, routing has nothing left and the MTA returns it with an MTS
congestion NDR — by default 144 x 600 s = 24 h after its first failed open.

An association that opens but cannot carry mail fails the same way (KB
Q157630): a transfer that fails is sent again every transfer interval; when
max transfer retries are used up the MTA gives the association up (events 1294
and 301), counts one open retry on every queued message, reroutes them and
waits one open interval before it opens again.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import TYPE_CHECKING

import simpy
from simpy.events import NORMAL, EventCallbacks
from simpy.events import PENDING as PENDING_EVENT

from exsim import logs
from exsim.names import spoken_list
from exsim.ndr import CONGESTION, CONTENT_TOO_LONG, LOOP, UNRECOGNIZED, NdrKind, no_route_ndr
from exsim.routing import (
    MAX_HOPS,
    ConnectorStates,
    FilterStep,
    GwartRow,
    SurvivorMemo,
    is_local,
    route_survivors,
    select_target_server,
)
from exsim.scenario import GATEWAY_KINDS
from exsim.schedule import Activation
from exsim.sim.message import ADDRESSES_KEPT, PENDING, Envelope, Recipient
from exsim.sim.ports import Collaborators, Component, ServiceTime
from exsim.sim.queue import Handoff, MailQueue, ProcessGenerator, Worker
from exsim.sim.resolver import directory_outcome, proxy_loop
from exsim.units import transfer_s
from exsim.versions import defect_at

if TYPE_CHECKING:
    from exsim.directory import Policy
    from exsim.routing import Answer, Destination, Router
    from exsim.scenario import DirectorySearch, LinkConnector, Override
    from exsim.sim.ports import GatewayInbox, MtaInbox

INFINITY = float("inf")


RPC_LATENCY_S = 0.001
"""One-way latency of an RPC hand-over between servers of one site (their LAN): 1 ms."""


@dataclass(frozen=True)
class MtaSettings:
    """How one server's MTA is set up (from the scenario's server and ``model`` sections)."""

    server: str
    site: str
    clock_offset_s: float
    """How far the server's clock is off: the MTA judges a message's age by it (KB Q158399)."""
    max_message_size: float | None
    """The MTA's message size limit in bytes (None: no limit)."""
    routing_time: ServiceTime
    """The routing thread's work per message."""
    open_time: ServiceTime
    """What opening an association costs, before the round trip."""
    rpc_bandwidth_bps: float
    """The LAN between the servers of a site, for RPC transfers."""
    default_override: Override
    """The MTA's own settings (open interval, retries, lifetime) for RPC inside the site."""
    directory_costs: DirectorySearch
    """What a fuzzy or restricted directory search costs the routing thread (KB Q159184)."""


class MTA(Component):
    """The MTA of one server: a routing thread over its work queue, and a queue per next hop.

    Built with everything it uses (see :mod:`exsim.sim.ports`): the collaborators every
    component has (the clock, the routing tables, the builds, the uptime of the services, the
    books, the hand-offs, the logs, the fault and transfer counters), its settings, the server's
    connector states, and the random streams for the load-share draw and dropped transfers.

    ``static_routing``: the routing table, the directory policy and the cost rule it routes by
    change only when the model says so (:meth:`routing_changed`: an upgrade, an address change),
    so the MTA asks for them once after each change instead of at every message. Without it
    (a partial GWART during directory replication changes with time; a test's fake routing) it
    asks at every message.
    """

    def __init__(
        self,
        around: Collaborators,
        settings: MtaSettings,
        *,
        connector_states: ConnectorStates,
        routing_rng: random.Random,
        network_rng: random.Random,
        static_routing: bool = False,
    ):
        super().__init__(around)
        self.settings = settings
        self.connector_states = connector_states
        self.routing_rng = routing_rng
        self.network_rng = network_rng
        self._memo_router: Router | None = None
        self._memo: SurvivorMemo = {}
        self.server = settings.server
        self.site = settings.site
        self.work = MailQueue(self.env)
        self.queues: dict[tuple[str, str], NextHopQueue] = {}
        self.size_limit = settings.max_message_size
        self.clock = settings.clock_offset_s
        self._next_hop: dict[str, tuple[str, str]] = {}
        self._mailbox_hop: dict[str, tuple[str, str]] = {}
        self._router = self.routing.router
        self._policy: Policy | None = None
        self._lowest = False
        """Whether this MTA keeps only the lowest-cost routes ("Use Lowest Cost Routes Only")."""
        self._static = static_routing
        self._asked = False
        """Whether the routing table, policy and cost rule asked for still hold (static routing)."""
        self._destinations: dict[str, Destination] = {}
        self._answers: dict[object, Answer] = {}
        #: By recipient address, for addresses routed with nothing to do per message: the group
        #: key of a mailbox, else the site's answer to route by (while routing and policy stay).
        self._known: dict[str, tuple[str, str] | Answer] = {}
        self._survivors: dict[tuple[int, str | None, tuple[str, ...], bool], list[GwartRow]] = {}
        self._fixed: dict[int, bool] = {}
        self._only_here = (self.site,)
        #: By answer, where mail fresh in this site leaves it when its candidates leave one
        #: survivor: the decision of every message that has tried nothing yet (see route).
        self._leaves: dict[Answer, tuple[str, str]] = {}
        """The sites passed by mail that has passed only this one (kept, not made per message)."""
        self._gateways: dict[str, GatewayInbox] = {}
        self.directory_s = 0.0
        """Directory time the last routed message's fuzzy or restricted searches cost."""
        service, draw = settings.routing_time
        if self.uptime.quiet(self.server):  # nothing ever stops this MTA: one event per message
            Worker(self.work, service, self.route, draw, self._rested)
        else:
            self.env.process(self._route_loop())

    @property
    def queued(self) -> int:
        return len(self.work) + sum(len(q.items) for q in self.queues.values())

    def receive(self, envelope: Envelope, from_mta: str | None = None) -> None:
        """Take a message for routing: from this server's store or gateway, or ``from_mta``."""
        envelope.queued_s = self.env._now
        envelope.from_mta = from_mta
        self.work.put(envelope)

    def _rested(self) -> None:
        self.directory_s = 0.0

    def _route_loop(self) -> ProcessGenerator[None]:
        """The routing thread on a server that stops or crashes."""
        work = self.work
        service, draw = self.settings.routing_time
        while True:
            if draw is not None:
                service = draw()
            envelope = yield from self.uptime.take(
                work, self.server, "mta", service, "the MTA's routing (in memory)"
            )
            if envelope is not None:
                self.route(envelope)
                if self.directory_s:  # directory searches hold the routing thread (KB Q159184)
                    yield self.env.timeout(self.directory_s)
                    self.directory_s = 0.0

    # --- routing -----------------------------------------------------------------
    def route(self, envelope: Envelope) -> float:
        """Decide the next hop of every pending recipient and queue the envelope per hop.

        What it returns is the time the routing thread's directory searches hold it afterwards
        (``directory_s``, KB Q159184): the routing thread (a :class:`Worker` calls this for each
        message it takes) waits that long before it takes the next message."""
        now = self.env._now
        message = envelope.message
        if self.books.past_lifetime(envelope, self.server):  # by this MTA's clock (KB Q158399)
            return self.directory_s
        limit = self.size_limit
        if limit is not None and message.size_bytes > limit:
            if message.traced:
                self.books.trace(
                    message,
                    f"MTA {self.server}: {message.size_kb:g} KB is over the MTA's size limit",
                    self.server,
                    "MTA",
                )
            self.events.delivery_failed(
                now,
                self.server,
                message.mts_id,
                CONTENT_TOO_LONG.reason_name,
                CONTENT_TOO_LONG.diagnostic_name,
            )
            # Refused on the way in from another MTA, the report is lost on 5.0 (KB Q197058).
            report_lost = (
                envelope.from_mta is not None
                and self.builds.defect("mta_size_limit_report", self.server, message) is not None
            )
            self.books.fail(
                envelope,
                envelope.pending,
                CONTENT_TOO_LONG,
                "MSExchangeMTA",
                self.server,
                f"larger than the MTA size limit on {self.server}",
                report_lost=report_lost,
            )
            return self.directory_s
        if envelope.final_server is not None:
            if envelope.final_server == self.server:  # the sender resolved it to mailboxes here
                envelope.final_server = None
                self.own_store.delivery.put(envelope)
                return self.directory_s
            envelope.final_server = None
        visited = envelope.visited_sites
        if not visited:  # mail fresh from this site's stores: the same one-site tuple every time
            envelope.visited_sites = self._only_here
        elif self.site not in visited:
            envelope.visited_sites = (*visited, self.site)
        recipients = envelope.recipients
        # With several recipients they are grouped by next hop, and recipients with the same
        # candidates share one decision; a single recipient goes on in the envelope itself.
        many = len(recipients) > 1
        groups: dict[tuple[str, str], list[Recipient]] = {}
        decided: dict[int, GwartRow | str] = {}
        #: By answer, the group key its candidates' decision gave for this envelope, so a
        #: list's members in one site cost one lookup each (not for traced mail: a line each).
        traced = message.traced
        leaving: dict[Answer, tuple[str, str]] | None = {} if many and not traced else None
        only: tuple[str, str] | None = None
        #: The recipients this pass non-delivers, each with its NDR kind and detail.
        failed: list[tuple[Recipient, NdrKind, str]] = []
        if not self._asked:
            self._ask_routing()
        router, policy = self._router, self._policy
        assert policy is not None  # (asked for by now)
        # Mail fresh in this site (from its stores, or over RPC from another of its MTAs) that
        # has tried nothing yet, while no connector of this MTA is in open retry: the seven
        # filters leave it the same survivors every time (see _choose), so when one is left
        # its next hop is known by the answer alone (``_leaves``; not for traced mail: a line
        # each).
        fresh = (
            not traced
            and envelope.arrived_on is None
            and len(envelope.visited_sites) == 1
            and not envelope.attempts
            and not envelope.refused
            and not self.connector_states.open_retry
            and envelope.hops < MAX_HOPS
        )
        leaves = self._leaves
        destinations, answers = self._destinations, self._answers
        site = self.site
        mailbox_hop, next_hop, known = self._mailbox_hop, self._next_hop, self._known
        if len(known) > ADDRESSES_KEPT:
            known.clear()
        for recipient in recipients:
            if recipient.outcome is not PENDING:
                continue
            key: tuple[str, str] | None = None
            answer: Answer | None = None
            if not recipient.one_off and not recipient.misdirected:
                # An address this MTA has routed before with nothing to do per message (no
                # directory search, no proxy loop to check): its group key or its answer, kept.
                hit = known.get(recipient.address)
                if type(hit) is tuple:  # (not isinstance: a call per recipient)
                    key = hit
                else:
                    answer = hit  # type: ignore[assignment]  # not a tuple: an Answer, or None
                    if answer is not None and leaving is not None:
                        key = leaving.get(answer)
            if key is None and answer is None:
                if (
                    recipient.one_off
                    and (defect := proxy_loop(self.routing, self.builds, self.server, message, recipient))
                    is not None
                ):
                    if message.traced:
                        self.books.trace(
                            message,
                            f"MTA {self.server}: {recipient.address} loops ({defect.kb})",
                            self.server,
                            "MTA",
                            defect=defect.kb,
                        )
                    failed.append((recipient, defect.ndr_kind, f"{defect.kb}: {defect.title}"))
                    continue
                destination = destinations.get(recipient.address)
                if destination is None:
                    destination = router.destination(recipient.address, policy)
                if destination.directory is not None or recipient.misdirected:
                    self.directory_s += directory_outcome(
                        self.books,
                        self.routing.router,
                        self.settings.directory_costs,
                        self.server,
                        message,
                        recipient,
                        destination.directory,
                    )
                answer = answers.get(destination.group)
                if answer is None:
                    answer = router.answer(site, destination)
                plain = destination.directory is None and not recipient.one_off and not recipient.misdirected
                if answer.kind == "mailbox":
                    mailbox = destination.mailbox
                    assert mailbox is not None  # a "mailbox" answer is for a mailbox
                    key = mailbox_hop.get(mailbox.server)
                    if key is None:
                        target = mailbox.server
                        key = mailbox_hop[target] = (
                            "deliver" if target == self.server else "final",
                            target,
                        )
                    if plain:
                        known[recipient.address] = key
                elif answer.kind == "unroutable":
                    if message.traced:
                        # On a GWART missing sites not yet replicated (Q145976), the complete table
                        # would have routed it: that is the defect striking, and the line says so.
                        partial = router is not self.routing.router and (
                            self.routing.router.resolve(self.site, recipient.address, policy).kind
                            != "unroutable"
                        )
                        gwart_defect = defect_at("gwart_replication") if partial else None
                        why = ""
                        if gwart_defect:
                            why = (
                                f"; this GWART was calculated before directory replication brought "
                                f"every site ({gwart_defect.kb})"
                            )
                            times = self.routing.replication_recalculation()
                            if times is not None:
                                end, recalculated = times
                                why += (
                                    f": replication {'completes' if self.env._now < end else 'completed'} "
                                    f"at t={end:.0f} s and routing learns of it at the next recalculation, "
                                    f"at t={recalculated:.0f} s"
                                )
                        self.books.trace(
                            message,
                            f"MTA {self.server}: {recipient.address} unroutable ({answer.reason})" + why,
                            self.server,
                            "MTA",
                            defect=gwart_defect.kb if gwart_defect else None,
                        )
                    failed.append((recipient, UNRECOGNIZED, answer.reason))
                    continue
                elif plain:
                    known[recipient.address] = answer
            if key is None:
                assert answer is not None  # a "route" answer: leave the site by one of its rows
                if fresh:
                    key = leaves.get(answer)
            if key is None:
                assert answer is not None
                # Recipients with the same candidates share one decision per envelope.
                rows = answer.rows
                if many:
                    row = decided.get(id(rows))
                    if row is None:
                        row = decided[id(rows)] = self._choose(envelope, rows, now)
                else:
                    row = self._choose(envelope, rows, now)
                if type(row) is not GwartRow:  # why there is none (not isinstance: a call per recipient)
                    assert isinstance(row, str)  # (narrows the type: this branch is rare, the mail fails)
                    ndr = no_route_ndr(row)
                    if message.traced:
                        # Only reroutes (a gateway handing back mail over its size limit) carry the hop
                        # count this far: Q160534's slow loop.
                        bounced = (
                            defect_at("size_limit_reroute")
                            if row == "loop" and envelope.hops >= MAX_HOPS
                            else None
                        )
                        why = (
                            "every candidate is past max open retries"
                            if row == "retries"
                            else f"loop: {envelope.hops} hops of reroutes around gateway size limits ({bounced.kb})"
                            if bounced
                            else "loop: each candidate is the connector it arrived on or leads back into one "
                            f"of the sites it passed, {spoken_list(envelope.visited_sites)}"
                        )
                        self.books.trace(
                            message,
                            f"MTA {self.server}: no route left for {recipient.address} ({why})",
                            self.server,
                            "MTA",
                            defect=bounced.kb if bounced else None,
                        )
                    failed.append(
                        (
                            recipient,
                            ndr,
                            "every route at max open retries" if ndr is CONGESTION else "loop detected",
                        )
                    )
                    continue
                if message.traced:
                    self.books.trace(
                        message,
                        f"MTA {self.server}: {recipient.address} matched "
                        f"{row.type}:{row.space or '(blank)'}; {len(answer.rows)} candidate(s), "
                        f"chose {row.connector} (cost {row.cost}, route {' > '.join(row.route)})"
                        + self._why_chosen(envelope, rows, now),
                        self.server,
                        "MTA",
                    )
                key = next_hop.get(row.connector)
                if key is None:
                    key = next_hop[row.connector] = self._hop_for(row.connector)
                if leaving is not None:
                    leaving[answer] = key
                if fresh and self._only_survivor(envelope, rows):
                    leaves[answer] = key
            elif traced and key[0] == "final":
                # No connector to choose: the directory puts the mailbox on another server here.
                self.books.trace(
                    message,
                    f"MTA {self.server}: {recipient.address}'s mailbox is on {key[1]}, another server of "
                    f"site {site} (the directory): passed to {key[1]}'s MTA by RPC",
                    self.server,
                    "MTA",
                )
            if not many:
                only = key
                break
            group = groups.get(key)
            if group is None:
                groups[key] = [recipient]
            else:
                group.append(recipient)
        if failed:  # one report lists them all, whatever each one's cause
            self.books.fail_each(envelope, failed, "MSExchangeMTA", self.server)
        if only is not None:
            self._forward(only, envelope)
        elif groups:
            # One group holding every recipient: the envelope itself goes on, no copy.
            whole = False
            if len(groups) == 1:
                (group,) = groups.values()
                whole = len(group) == len(recipients)
            for key, group in groups.items():
                self._forward(key, envelope if whole else envelope.split(group))
        return self.directory_s

    def _forward(self, hop: tuple[str, str], part: Envelope) -> None:
        """Queue an envelope for its next hop: this server's store, another server's MTA (over
        RPC), a gateway, or a site connector."""
        kind, target = hop
        if kind == "deliver":
            self.own_store.delivery.put(part)
            return
        if kind == "final":
            part.final_server = target
            kind = "rpc"
        elif kind == "gateway":
            part.gateway = target
            gateway = self._gateways.get(target)
            if gateway is None:  # (the gateways are built once, before any mail moves)
                gateway = self._gateways[target] = self.post.gateway(target)
            message = part.message
            if gateway.in_mta:  # an X.400 connector to a foreign MTA: the MTA sends it itself
                if message.traced:
                    self.books.trace(message, f"MTA {self.server}: queued for {target}", self.server, "MTA")
                gateway.outbound(part)
                return
            if message.traced:
                self.books.trace(
                    message,
                    f"MTA {self.server}: queued for gateway {target}; the store's gateway-in "
                    "threads take it from here",
                    self.server,
                    "MTA",
                )
            self.own_store.gateway_in.put(part)
            return
        queue = self.queues.get((kind, target))
        if queue is None:
            queue = self.queue(kind, target)
        queue.put(part)

    def _ask_routing(self) -> None:
        """Ask the model for the routing table, the directory policy and the cost rule this MTA
        routes by now, and forget what no longer holds under them."""
        routing, server = self.routing, self.server
        router, policy = routing.router_for(server), routing.directory_policy(server)
        lowest = routing.lowest_cost_only(server)
        if router is not self._router:  # routing was recalculated: forget what it decided
            self._next_hop, self._survivors, self._fixed, self._leaves = {}, {}, {}, {}
        if router is not self._router or policy is not self._policy:
            # The router keeps what the directory makes of each address (per policy) and what
            # each site does with each group of addresses, for every MTA (Router.destination).
            self._router, self._policy = router, policy
            self._destinations, self._answers = router.destinations(policy), router.answers(self.site)
            self._known = {}
        if lowest != self._lowest:
            self._lowest, self._leaves = lowest, {}
        self._asked = self._static

    def routing_changed(self) -> None:
        """The model changed what routing reads (a server's build, a site's address): ask
        again before the next message."""
        self._asked = False

    def _only_survivor(self, envelope: Envelope, rows: tuple[GwartRow, ...]) -> bool:
        """Whether the filters left one survivor of ``rows`` for the envelope, kept for every
        message in the same state (see _choose)."""
        survivors = self._survivors.get((id(rows), envelope.arrived_on, envelope.visited_sites, self._lowest))
        return survivors is not None and len(survivors) == 1

    def _choose(self, envelope: Envelope, rows: tuple[GwartRow, ...], now: float) -> GwartRow | str:
        """The chosen row, or why there is none ('loop', 'retries').

        The seven filters depend on the message only through its routing state and
        on time only through schedules. For a message with a clean state (no failed
        opens, nothing refused), no connector of this MTA in open retry and candidates
        with fixed schedules, the survivors are the same every time: they are cached
        by candidate list, arrival connector, sites passed and the cost-first flag.
        """
        states = self.connector_states
        lowest = self._lowest
        clean = (
            not envelope.attempts
            and not envelope.refused
            and not states.open_retry
            and envelope.hops < MAX_HOPS
        )
        key = (id(rows), envelope.arrived_on, envelope.visited_sites, lowest)
        survivors = None
        if clean:
            survivors = self._survivors.get(key)
            if survivors is None:
                # Kept only for candidates with fixed schedules (which a hit has: both caches are
                # forgotten together).
                clean = self._fixed_schedules(rows)
        if survivors is None:
            survivors, reason = route_survivors(
                self.routing.org,
                rows,
                self.server,
                envelope,
                states,
                now,
                lowest,
                memo=self._memo_of(self._router) if clean else None,
            )
            if not survivors:
                return reason
            if clean:
                self._survivors[key] = survivors
        if len(survivors) == 1:
            return survivors[0]
        return survivors[self.routing_rng.randrange(len(survivors))]

    def _why_chosen(self, envelope: Envelope, rows: tuple[GwartRow, ...], now: float) -> str:
        """For a traced message's story: each candidate the filters passed over and why (in open
        retry, dearer, a schedule not active ...), and whether the choice was drawn among equal
        routes. It runs the filters again with their account kept, which changes nothing: they
        read the message's and connectors' state and draw no random number (``_choose`` draws)."""
        steps: list[FilterStep] = []
        survivors, _ = route_survivors(
            self.routing.org, rows, self.server, envelope, self.connector_states, now, self._lowest, steps
        )
        passed = [f"{connector} ({why})" for step in steps for connector, why in step.dropped]
        text = f"; passed over {', '.join(passed)}" if passed else ""
        if len(survivors) > 1:
            names = ", ".join(r.connector for r in survivors)
            text += f"; drawn at random among {len(survivors)} equal routes ({names})"
        return text

    def _memo_of(self, router: Router) -> SurvivorMemo:
        """This MTA's memo of route survivors (routing.route_survivors) for the routing table it
        decides from now: a recalculated table starts a new one."""
        if router is not self._memo_router:
            self._memo_router, self._memo = router, {}
        return self._memo

    def _fixed_schedules(self, rows: tuple[GwartRow, ...]) -> bool:
        fixed = self._fixed.get(id(rows))
        if fixed is None:
            connectors = self.routing.org.connectors
            fixed = self._fixed[id(rows)] = all(
                connectors[r.connector].schedule.kind != "selected" for r in rows
            )
        return fixed

    def _hop_for(self, connector: str) -> tuple[str, str]:
        """Where mail for a connector goes from this MTA: the bridgehead, the gateway, or the link."""
        org = self.routing.org
        if not is_local(org, connector, self.server):
            return ("rpc", org.hosts_in(connector, self.site)[0])
        if org.connectors[connector].kind in GATEWAY_KINDS:
            return ("gateway", connector)
        return ("link", connector)

    def queue(self, kind: str, target: str) -> NextHopQueue:
        queue = self.queues.get((kind, target))
        if queue is None:
            queue = self.queues[(kind, target)] = NextHopQueue(self, kind, target)
        return queue


class LifetimeTimers:
    """The next-hop queues' lifetime timers of one simulation, of which only the earliest waits
    among the simulation's events.

    Each queue keeps a timer for the earliest lifetime end among its messages, and nearly all
    of them lie beyond a day's run (a message's lifetime is a day or more): kept among the
    events, a 100-site organization's 1,400-odd timers made the event heap fifteen times
    larger, and every event's scheduling sift through it. Here a timer takes its event id when
    it starts, exactly as an event scheduled then would, and waits in a heap of its own; the
    earliest is scheduled among the events under that id and time. The event loop orders
    events by (time, priority, id), so each timer fires exactly where its own event would have,
    and no other event's id changes.
    """

    __slots__ = ("_armed", "_timers", "env")

    def __init__(self, env: simpy.Environment):
        self.env = env
        self._timers: list[tuple[float, int, NextHopQueue]] = []
        #: The ids of the timers scheduled among the events, not yet fired.
        self._armed: set[int] = set()

    @classmethod
    def of(cls, env: simpy.Environment) -> LifetimeTimers:
        """The simulation's timers: one set per environment, kept on it (they live and die with it)."""
        timers: LifetimeTimers | None = getattr(env, "_exsim_lifetime_timers", None)
        if timers is None:
            timers = cls(env)
            env._exsim_lifetime_timers = timers  # type: ignore[attr-defined]  # an attribute of our own, which SimPy does not declare
        return timers

    def start(self, queue: NextHopQueue, end: float) -> int:
        """A timer calling ``queue._expire(its id)`` at ``end`` (now if that is past): its id."""
        env = self.env
        now = env._now
        entry = (now + max(0.0, end - now), next(env._eid), queue)  # as env.timeout() schedules
        heappush(self._timers, entry)
        if self._timers[0] is entry:
            self._arm(entry)
        return entry[1]

    def _arm(self, entry: tuple[float, int, NextHopQueue]) -> None:
        """Schedule a timer among the events, under the time and id it took when it started."""
        at, eid, _ = entry
        event = simpy.Event(self.env)
        event._ok, event._value = True, eid
        event.callbacks.append(self._fire)
        heappush(self.env._queue, (at, NORMAL, eid, event))
        self._armed.add(eid)

    def _fire(self, event: simpy.Event) -> None:
        timers = self._timers
        # The earliest timer is always scheduled, so none is earlier than the one firing.
        _, eid, queue = heappop(timers)
        assert eid == event._value
        self._armed.discard(eid)
        queue._expire(eid)
        if timers and timers[0][1] not in self._armed:
            self._arm(timers[0])


class NextHopQueue:
    """Mail waiting for one next hop (a server of the site, or a connector).

    Mail that waits here until it reaches the message lifetime (the connector's Override
    lifetime, by this MTA's clock) is returned with "maximum time expired" where it waits,
    even when the connector never becomes active: a timer is kept for the earliest lifetime
    end among the queued messages.
    """

    def __init__(self, mta: MTA, kind: str, target: str):
        self.mta = mta
        self.kind = kind
        self.target = target
        self.items: deque[Envelope] = deque()
        self.connector: LinkConnector | None = mta.routing.org.link(target) if kind == "link" else None
        link = self.connector.link if self.connector else None
        #: The network under the transfers: the connector's link, or the site's LAN for RPC.
        self.bandwidth_bps = link.bandwidth if link else mta.settings.rpc_bandwidth_bps
        self.latency_s = link.latency if link else RPC_LATENCY_S
        override = self.connector.override if self.connector else mta.settings.default_override
        self.override = override
        self.open_until = -1.0
        self.lifetime = override.message_lifetime_normal
        self._lifetime_end = INFINITY
        self._lifetime_timer = 0
        """The event id of the lifetime timer that counts (0: none); an earlier end replaces it."""
        self._lifetimes = LifetimeTimers.of(mta.env)
        self.broken = False
        """An association ran out of transfer retries: the MTA gives it up and retries the open."""
        self.failed_targets: set[str] = set()
        self._wake: simpy.Event | None = None
        self._block = len(mta.queues) + 1
        #: What the connector states and a message's failed opens count this queue's opens under.
        self._state_key = target if self.connector is not None else f"rpc:{target}"
        #: What the run's transfer counts count this queue's transfers under: the connector, or RPC.
        self._transfer_key = target if self.connector is not None else "RPC"
        #: The one hand-off of an idle open association (see _run), its callbacks, the peer it
        #: is open to, and the event the queue's process waits on meanwhile.
        self._idle_handoff = Handoff(mta.env, 0.0)
        self._on_transfer: EventCallbacks = [self._transferred]
        self._idle_peer = ""
        self._parked: simpy.Event | None = None
        self._peers: dict[str, MtaInbox] = {}
        """The MTAs this queue has transferred mail to, by server."""
        self._process = mta.env.process(self._run())

    @property
    def entity(self) -> str:
        org = self.mta.routing.org
        if self.connector is not None:
            return f"/O={org.name}/OU={self.mta.site}/CN=Configuration/CN=Connections/CN={self.target}"
        return (
            f"/O={org.name}/OU={self.mta.site}/CN=Configuration/CN=Servers/CN={self.target}/CN=Microsoft MTA"
        )

    def put(self, envelope: Envelope) -> None:
        wake = self._wake
        if wake is not None and wake._value is PENDING_EVENT:  # not yet triggered
            if isinstance(wake, Handoff):
                if self.mta.env._now <= self.open_until:
                    # The association is open and idle: the transfer starts now, in one event.
                    wake.hand(
                        envelope, transfer_s(envelope.message.size_kb, self.bandwidth_bps, self.latency_s)
                    )
                    return
                wake.hand(None, 0.0)
            else:
                wake.succeed()
        self._hold(envelope)

    def _hold(self, envelope: Envelope, first: bool = False) -> None:
        """Queue the envelope (at the head: ``first``), watching its lifetime."""
        if first:
            self.items.appendleft(envelope)
        else:
            self.items.append(envelope)
        end = envelope.message.stamp_s + self.lifetime - self.mta.clock
        if end < self._lifetime_end:
            self._watch_lifetime(end)

    def _watch_lifetime(self, end: float) -> None:
        self._lifetime_end = end
        self._lifetime_timer = self._lifetimes.start(self, end)

    def _expire(self, timer: int) -> None:
        """The earliest lifetime end came: return what reached it, watch the next one."""
        if timer != self._lifetime_timer:
            return  # an earlier end replaced this timer
        self._lifetime_timer, self._lifetime_end = 0, INFINITY
        mta, server = self.mta, self.mta.server
        waiting = list(self.items)
        self.items.clear()
        for envelope in waiting:
            if not mta.books.past_lifetime(envelope, server, self.lifetime):
                self._hold(envelope)

    def _idle(self) -> ProcessGenerator[None]:
        self._wake = self.mta.env.event()
        yield self._wake
        self._wake = None

    def _peer(self) -> str | None:
        """The server to connect to, or None when no peer can take an association now."""
        mta = self.mta
        now = mta.env._now
        if self.connector is None:
            return self.target if mta.uptime.running(self.target, "mta", now) else None
        if not mta.uptime.connector_up(self.target, now):
            return None
        remote_site = mta.routing.org.other_end(self.target, self.mta.site)
        tried = set(self.failed_targets)
        while True:
            peer = select_target_server(mta.routing.org, self.target, remote_site, tried, mta.routing_rng)
            if peer is None or peer in tried:
                return None
            if mta.uptime.running(peer, "mta", now):
                return peer
            tried.add(peer)

    def _still_open(self, peer: str) -> bool:
        """Whether the association left open to ``peer`` still stands: neither MTA stopped and
        the link did not go down since its last transfer (association lifetime, KB Q234157)."""
        uptime, now = self.mta.uptime, self.mta.env._now
        since = self.open_until - self.override.association_lifetime
        return (
            uptime.ran_throughout(self.mta.server, "mta", since, now)
            and uptime.ran_throughout(peer, "mta", since, now)
            and (self.connector is None or uptime.connector_up_throughout(self.target, since, now))
        )

    def _calm(self) -> bool:
        """No stop, crash or outage can touch this queue and its schedule is 'always':
        the per-transfer checks can be skipped."""
        mta = self.mta
        if not mta.uptime.quiet(self.mta.server):
            return False
        if self.connector is None:
            return mta.uptime.quiet(self.target)
        remote = mta.routing.org.other_end(self.target, self.mta.site)
        return (
            self.connector.schedule.kind == "always"
            and not mta.uptime.has_outages(self.target)
            and all(mta.uptime.quiet(s) for s in mta.routing.org.servers_of(remote))
        )

    def _run(self) -> ProcessGenerator[None]:
        mta, env = self.mta, self.mta.env
        calm = self._calm()
        open_s, draw_open = mta.settings.open_time
        latency = self.latency_s
        peer: str | None = None
        drop = self.connector.link.drop_probability if self.connector else 0.0
        while True:
            if not self.items:
                if calm and drop == 0.0 and peer is not None:
                    # Idle on an open association: the next message arrives already transferred
                    # (put() starts its transfer on the idle hand-off). The hand-off's own
                    # callback hands it over (_transferred), so this process is resumed only
                    # when there is more to do than that.
                    self._idle_peer = peer
                    self._parked = parked = env.event()
                    self._await_transfer()
                    yield parked
                    continue
                self._wake = env.event()
                yield self._wake
                self._wake = None
                continue
            if not calm:
                yield from mta.uptime.wait_running(self.mta.server, "mta")
                if self.connector is not None:
                    state = self.connector.schedule.state_at(env._now)
                    if state is Activation.LATER:
                        opens = self.connector.schedule.next_active_s(env._now)
                        assert opens is not None  # LATER: the schedule opens again
                        yield env.timeout(opens - env._now)
                        continue
                    if state is not Activation.NOW:
                        yield from self._idle()  # never / remote-initiated: this side does not call
                        continue
            attempt_started = env._now
            if not calm and peer is not None and env._now <= self.open_until and not self._still_open(peer):
                self.open_until = -1.0  # an end or the link went down meanwhile: the association is gone
            if env._now > self.open_until or peer is None:
                if env._now > self.open_until:
                    yield env.timeout((draw_open() if draw_open else open_s) + 2 * latency)
                # A new association: a site connector draws its target server again. One still
                # open (within the association lifetime of its last transfer) keeps its peer.
                peer = self._peer()
            if peer is None:
                self._open_failed()
                # Open attempts start one open interval apart, however long a failed open took.
                yield env.timeout(max(0.0, attempt_started + self.override.open_interval - env._now))
                self._retry_timer_ended()
                continue
            mta.connector_states.open_retry.discard(self._state_key)
            yield from self._transfer_all(peer)
            if self.broken:
                # Max transfer retries used up: given up like a failed open, and the next open
                # waits a whole open interval, as event 301 announces (KB Q157630).
                self.broken, peer = False, None
                self._association_failed()
                yield env.timeout(self.override.open_interval)
                self._retry_timer_ended()
                continue
            self.open_until = env._now + self.override.association_lifetime

    def _await_transfer(self) -> None:
        """Wait, idle on the open association, for put() to start the next transfer."""
        idle = self._idle_handoff
        idle.callbacks, idle._value = self._on_transfer, PENDING_EVENT  # the one idle hand-off, again
        self._wake = idle

    def _transferred(self, idle: simpy.Event) -> None:
        """The idle association's hand-off fired: put() started a transfer, which is over (the
        hand-off's value, ``idle.delay`` long), or found the association past its lifetime (None).

        What the queue's process did when it waited on the hand-off itself, the same at the same
        moment: hand the message over and keep waiting; with mail queued meanwhile, or none
        sent, resume the process (at once, within this event, as it resumed then)."""
        self._wake = None
        envelope = idle._value
        if envelope is not None:
            mta = self.mta
            mta.connector_states.open_retry.discard(self._state_key)
            self._hand_over(envelope, self._idle_peer)
            self.open_until = mta.env._now + self.override.association_lifetime
            if not self.items:
                self._await_transfer()
                return
        parked = self._parked
        assert parked is not None  # the process waits on it while the association is idle
        parked._ok, parked._value = True, None
        self._process._resume(parked)

    def _open_failed(self) -> None:
        mta = self.mta
        mta.faults["open_failures"] += 1
        mta.events.open_failed(
            mta.env._now, self.mta.server, self.entity, self.override.open_interval, self._block
        )
        self._retry_open("could not open", "events 289/301")

    def _association_failed(self) -> None:
        mta = self.mta
        mta.events.open_failed(
            mta.env._now,
            self.mta.server,
            self.entity,
            self.override.open_interval,
            self._block,
            association_ended=True,
        )
        self._retry_open(
            f"gave up the association after {self.override.max_transfer_retries} transfer retries on",
            "events 1294/301",
        )

    def _retry_timer_ended(self) -> None:
        """The open retry timer (event 301) has run its open interval: the connector is no longer
        "currently retrying a connection" (KB Q193322, filter 5). If mail waits, the retry opens now
        and marks it again should it fail; if none does, nothing is retried, and new mail may choose
        the connector by cost again rather than leave it marked for good."""
        self.mta.connector_states.open_retry.discard(self._state_key)

    def _retry_open(self, what: str, events: str) -> None:
        """The connection failed (an open, or an association given up): one open retry on every
        queued message, each routed again."""
        mta = self.mta
        mta.connector_states.open_retry.add(self._state_key)
        waiting = list(self.items)
        self.items.clear()
        for envelope in waiting:
            envelope.attempts[self._state_key] = envelope.attempts.get(self._state_key, 0) + 1
            if envelope.message.traced:
                # Counted as max_open_retries counts: the first failed open, then retries 1..N.
                retry, most = envelope.retries(self._state_key), self.override.max_open_retries
                mta.books.trace(
                    envelope.message,
                    f"MTA {self.mta.server}: {what} {self._describe()} "
                    f"({f'open retry {retry} of {most}' if retry else f'the first open; up to {most} open retries follow'}); "
                    f"{events}; routing it again",
                    self.mta.server,
                    "MTA",
                )
            if self.connector is None:
                self._retry_rpc(envelope)
            else:
                self._reroute(envelope)

    def _reroute(self, envelope: Envelope) -> None:
        """Route a message again after this connector failed. Recipients it now sends by another
        next hop were rerouted: one tracking event 29 on this server lists them and counts one
        reroute (KB Q173364: routed to an alternate path). Those routed back to this connector
        wait here for the next open (route() puts their part at the end of this queue, which
        its own process, busy retrying, is not waiting on), and those with no route left get
        their NDR from route(): neither is a reroute."""
        mta = self.mta
        pending, before = envelope.pending, len(self.items)
        mta.route(envelope)
        back = {id(r) for r in self.items[-1].recipients} if len(self.items) > before else set()
        moved = [r for r in pending if r.outcome is PENDING and id(r) not in back]
        if moved:
            mta.faults["reroutes"] += 1
            mta.track(logs.MESSAGE_REROUTED, envelope.message, moved, gateway=self.target)
            if envelope.message.traced:
                mta.books.trace(
                    envelope.message,
                    f"MTA {mta.server}: rerouted {', '.join(r.address for r in moved)} around "
                    f"{self.target} (tracking event 29)",
                    mta.server,
                    "MTA",
                )

    def _retry_rpc(self, envelope: Envelope) -> None:
        """Inside a site there is no alternate route: wait, or give up after max open retries."""
        mta = self.mta
        if envelope.retries(self._state_key) >= self.override.max_open_retries:
            mta.books.fail(
                envelope,
                envelope.pending,
                CONGESTION,
                "MSExchangeMTA",
                self.mta.server,
                f"could not open an association to {self.target}",
            )
        else:
            self._hold(envelope)

    def _describe(self) -> str:
        return f"connector {self.target}" if self.connector else "RPC inside the site"

    def _transfer_all(self, peer: str) -> ProcessGenerator[None]:
        env = self.mta.env
        workers = min(self.override.max_associations, -(-len(self.items) // self.override.threshold_messages))
        if workers <= 1:
            yield from self._association(peer)
        else:
            yield env.all_of([env.process(self._association(peer)) for _ in range(workers)])

    def _association(self, peer: str) -> ProcessGenerator[None]:
        mta, env = self.mta, self.mta.env
        link = self.connector.link if self.connector else None
        bandwidth, latency = self.bandwidth_bps, self.latency_s
        drop = link.drop_probability if link else 0.0
        quiet = mta.uptime.quiet(self.mta.server) and mta.uptime.quiet(peer)
        while self.items and not self.broken:
            if not quiet and not (
                mta.uptime.running(self.mta.server, "mta", env._now)
                and mta.uptime.running(peer, "mta", env._now)
            ):
                self.open_until = -1.0  # an end went down between transfers: the association is gone
                return
            envelope = self.items.popleft()
            seconds = transfer_s(envelope.message.size_kb, bandwidth, latency)
            tries = 0
            while True:
                started = env._now
                yield env.timeout(seconds)
                if not quiet and any(
                    mta.uptime.crashed_between(s, started, env._now) for s in (self.mta.server, peer)
                ):
                    # A crash at either end breaks the association: the message is still in the
                    # sender's queue on disk and goes again once an association opens.
                    if envelope.message.traced:
                        mta.books.trace(
                            envelope.message,
                            f"transfer to {peer} cut by a crash; it will be retried",
                            self.mta.server,
                            "MTA",
                        )
                    self._hold(envelope, first=True)
                    self.open_until = -1.0
                    mta.faults["transfers_cut_by_crash"] += 1
                    if not mta.uptime.crashed_between(self.mta.server, started, env._now):
                        # The sender's MTA is still up and sees its association end (KB Q157630).
                        mta.events.association_ended(env._now, self.mta.server, self.entity)
                    return
                if drop == 0.0 or mta.network_rng.random() >= drop:
                    break
                tries += 1
                mta.faults["transfer_retries"] += 1
                if envelope.message.traced:
                    mta.books.trace(
                        envelope.message, f"transfer to {peer} failed (try {tries})", self.mta.server, "MTA"
                    )
                if tries > self.override.max_transfer_retries:
                    break
                yield env.timeout(self.override.transfer_interval)
            if tries > self.override.max_transfer_retries:
                # Max transfer retries used up: the message goes back to the head of the queue
                # and the whole association is given up (every association of this queue stops).
                self._hold(envelope, first=True)
                self.open_until = -1.0
                self.broken = True
                return
            self._hand_over(envelope, peer)

    def _hand_over(self, envelope: Envelope, peer: str) -> None:
        mta = self.mta
        message = envelope.message
        if mta.tracking_on:
            mta.track(logs.TRANSFER_OUT, message, envelope.recipients, partner=peer)
            mta.track(logs.TRANSFER_IN, message, envelope.recipients, partner=mta.server, server=peer)
        if message.traced:
            mta.books.trace(
                message,
                f"MTA {mta.server} -> MTA {peer} over {self._describe()} "
                f"({mta.env._now - envelope.queued_s:.1f} s after it was queued)",
                mta.server,
                "MTA",
            )
        mta.transfers[self._transfer_key] += 1
        envelope.refused = ()
        if self.connector is not None:
            envelope.arrived_on = self.target
            envelope.hops += 1
            if mta.routing.org.servers[peer].site in envelope.visited_sites:  # (site_of, inlined)
                mta.books.fail(
                    envelope,
                    envelope.pending,
                    LOOP,
                    "MSExchangeMTA",
                    peer,
                    "re-entered a site it had passed (bilateral info)",
                )
                return
        inbox = self._peers.get(peer)
        if inbox is None:  # (every server's MTA is built before any mail moves)
            inbox = self._peers[peer] = mta.post.mta(peer)
        inbox.receive(envelope, mta.server)
