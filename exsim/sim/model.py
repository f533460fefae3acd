"""One replication: wire the organization's components together and run it.

:class:`Simulation` owns the SimPy environment, the organization and its router, the timed
events, the logs and the counters; :func:`build_components` builds every server's store and
MTA and every gateway, handing each what it works with (:mod:`exsim.sim.ports`). The
components call back into the simulation only for what is the organization's business rather
than theirs: the routing tables as they stand now, which build a server runs and which defect
that brings, and the books — every recipient ends delivered, misdelivered, non-delivered (with
reason, diagnostic, text and the component that gave up) or pending.
"""

from __future__ import annotations

import copy
import gc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exsim import arguments, logs
from exsim.address import GDI, parse_x400
from exsim.columns import FAULT_COUNTERS
from exsim.directory import Policy
from exsim.metrics import LatencyHistogram, Outcomes, TimeSeries
from exsim.ndr import MAX_TIME_EXPIRED, NdrKind, footer
from exsim.org import Mailbox, Organization
from exsim.randomness import replication_seed, stream
from exsim.routing import ConnectorStates, Router
from exsim.scenario import (
    GATEWAY_CONNECTORS,
    AddressChangeEvent,
    Distribution,
    Override,
    ReplicationEvent,
    Scenario,
    UpgradeEvent,
    validate_raw,
)
from exsim.sim.foreign import ForeignX400Connector
from exsim.sim.gateways import Gateway, InternetMailService, MsMailConnector, gateway_settings
from exsim.sim.message import (
    DELIVERED,
    LOST,
    MISDELIVERED,
    NDR,
    PENDING,
    Envelope,
    Message,
    Recipient,
    TraceLine,
)
from exsim.sim.mta import MTA, MtaSettings
from exsim.sim.ports import Collaborators, GatewayInbox, MtaInbox, StoreInbox
from exsim.sim.queue import Environment, ProcessGenerator
from exsim.sim.store import InformationStore, StoreSettings
from exsim.sim.uptime import Availability, Uptime
from exsim.sim.workload import Workload
from exsim.versions import BUILDS, Defect, defect_at, striking_defect

#: The defect that loses an NDR's report on its way back to the originator: the only way a
#: report is lost, so the trace names it when one is.
LOST_REPORT = defect_at("mta_size_limit_report")

#: A message this close to its lifetime counts as having reached it: a lifetime timer set for
#: the instant fires at a time that may differ from it in the last bits of a float.
LIFETIME_SLACK_S = 1e-6
GATEWAY_CLASSES: dict[str, type[Gateway]] = {
    "ims": InternetMailService,
    "msmail": MsMailConnector,
    "x400_foreign": ForeignX400Connector,
}
#: Purpose number of the per-server service-time streams (see :func:`exsim.randomness.stream`).
SERVICE_TIME_STREAM = 5


@dataclass
class RunResult:
    """What one replication measured. Counts are recipients of user mail
    (reports are counted apart, in ``reports``)."""

    scenario: str
    seed: int
    end_s: float
    outcomes: Outcomes
    by_class: dict[str, Outcomes]
    reports: Outcomes
    latency: LatencyHistogram
    events: list[logs.EventEntry]
    series: TimeSeries
    messages: int
    """Messages the run sent (users', inbound and reports), numbered 1..messages as trace knows them."""
    counted_messages: int
    """Of those, the messages counted in the statistics (the ``messages`` column): sent at or
    after the warm-up's end, and the reports on such mail."""
    first_ndr_message: int | None = None
    first_misdelivery_message: int | None = None
    traces: dict[int, list[TraceLine]] = field(default_factory=dict)
    traced_reports: dict[int, int] = field(default_factory=dict)
    """Of the numbers asked to be traced, those the run gave to NDR reports (users' mail, mail
    from outside and reports share one numbering), each with the number of the message it
    reports on: a report's steps are told in that message's story."""
    ndr_samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    """One example per NDR text: recipient, reason, diagnostic, footer, time."""
    counters: dict[str, int] = field(default_factory=dict)
    """Fault costs: open failures, transfer retries, gateway retries, transfers cut by a crash,
    reroutes; each counted when it happens at or after the warm-up's end."""
    transfers: dict[str, int] = field(default_factory=dict)
    """Transfers per connector ('RPC' inside a site): the routes mail took, from the warm-up's
    end on."""
    mailbox_deliveries: dict[str, int] = field(default_factory=dict)
    """User-mail recipients delivered per mailbox alias, whatever address the sender used
    (counted when a `mailbox` expectation asks)."""
    latency_by_class: dict[str, LatencyHistogram] = field(default_factory=dict)
    """Delivery latency per recipient class (measured when a `latency` expectation names a class)."""
    ndr_times: dict[str, tuple[float, float]] = field(default_factory=dict)
    """First and last NDR time per NDR text."""
    misdelivery_samples: list[dict[str, Any]] = field(default_factory=list)
    """The first few misdeliveries: the address, the mailbox it reached and why, where, when."""
    ndr_generators: dict[str, Counter[str]] = field(default_factory=dict)
    """Per NDR text, recipients NDR'd by each generating component (the NDR's footer, e.g.
    'MSExchangeIS (DUB-EX1)'): two servers can return the same text for different reasons."""

    @property
    def recipients(self) -> int:
        return self.outcomes.recipients

    @property
    def delivered(self) -> int:
        return self.outcomes.delivered

    @property
    def misdelivered(self) -> int:
        return self.outcomes.misdelivered

    @property
    def ndr(self) -> int:
        return self.outcomes.ndr

    @property
    def pending(self) -> int:
        return self.outcomes.pending

    @property
    def failure_rate(self) -> float:
        return self.outcomes.failure_rate

    @property
    def lost(self) -> int:
        return self.outcomes.lost

    def row(self) -> dict[str, Any]:
        """The results-file columns of this run (PRODUCT.md ``runs.csv``)."""
        row = {
            "recipients": self.recipients,
            "delivered": self.delivered,
            "misdelivered": self.misdelivered,
            "ndr": self.ndr,
            "pending": self.pending,
            "failure_rate": self.failure_rate,
            "ndr_rate": self.outcomes.ndr_rate,
            "misdelivery_rate": self.outcomes.misdelivery_rate,
            "latency_p50_s": self.latency.quantile(0.5),
            "latency_p95_s": self.latency.quantile(0.95),
            "lost": self.outcomes.lost,
            "unreported_ndr": self.outcomes.unreported_ndr,
            "messages": self.counted_messages,
            "reports": self.reports.recipients,
            **self.counters,
        }
        for diagnostic, count in sorted(self.outcomes.ndr_by_diagnostic.items()):
            row[f"ndr_{diagnostic}"] = count
        for kind, counts in sorted(self.by_class.items()):
            row[f"{kind}_recipients"] = counts.recipients
            row[f"{kind}_ndr"] = counts.ndr
            row[f"{kind}_misdelivered"] = counts.misdelivered
        return row


#: Units a message lifetime is told in (the largest it spans): seconds, and the unit's name.
_LIFETIME_UNITS = ((86400.0, "days"), (3600.0, "hours"), (60.0, "minutes"), (1.0, "seconds"))


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        *,
        tracking_dir: Path | None = None,
        trace_messages: set[int] | None = None,
    ):
        self.scenario = scenario
        # Without a seed a run is replication 0 of the scenario's experiment (same traffic as
        # the first row of `exsim run`); an explicit seed is used as it is.
        self.seed = replication_seed(scenario.run.seed, 0) if seed is None else seed
        self.env = Environment()
        # The fault and transfer counters leave out what happened before the warm-up ended: what
        # they hold then is taken off at the end. Its timeout is the run's first event, so it
        # fires before anything else due at that instant (which is then counted).
        self._counts_at_warmup: tuple[Counter[str], Counter[str]] | None = None
        if scenario.run.warmup > 0:
            self.env.timeout(scenario.run.warmup).callbacks.append(lambda _: self._warmup_ends())
        self.times = scenario.model.service_times
        self._service_draws: dict[tuple[str, str], Callable[[], float]] = {}
        self.default_override = Override()
        #: Normal-priority message lifetime in the MTA (all simulated mail is normal priority).
        self.lifetime_normal_s = self.default_override.message_lifetime_normal
        self.org = Organization(scenario)
        self.router = Router(self.org)
        self.versions = {s.name: s.version for s in scenario.servers}
        self._fuzzy_settings = {s.name: s.allow_fuzzy_proxy_search for s in scenario.servers}
        self._policies: dict[tuple[int | None, str], Policy] = {}
        # What a server's MTA and store ask at every message, answered once per server while its
        # build stays (an upgrade forgets them) and, for the defects, while the site addresses
        # stay (an address change forgets those): the directory policy, 'lowest cost routes
        # only', and the defect that bites at a point (None when it does not).
        self._policy_of: dict[str, Policy] = {}
        self._lowest_of: dict[str, bool] = {}
        self._defect_of: dict[tuple[str, str, str | None], Defect | None] = {}
        #: A store defect's GDI is the originator's site's when the scenario says so (model.q166866_gdi_site).
        self._gdi_of_originator = scenario.model.q166866_gdi_site == "originator"
        #: 'Use Lowest Cost Routes Only' (the MTA asks at every routing decision).
        self._lowest_cost_setting = scenario.model.lowest_cost_routes_only
        #: Mail submitted before the warm-up ends is left out of the statistics (every message asks).
        self._warmup_s = scenario.run.warmup
        self.site_x400 = {s.name: s.addresses.x400 or "" for s in scenario.sites}
        self._gdi_cache: dict[str, GDI] = {}
        self._mts_prefix: dict[str, str] = {}
        self.availability = Availability(scenario)
        self.uptime = Uptime(self.env, self.availability, self)
        self.events = logs.EventLog()
        self.tracking = logs.TrackingLog(tracking_dir, self.versions)
        self.routing_rng = stream(self.seed, 3)
        self.network_rng = stream(self.seed, 4)
        self.connector_states = {s: ConnectorStates() for s in self.org.servers}
        self.horizon_s = scenario.run.duration + scenario.run.drain
        collect = scenario.run.time_series
        self.series = TimeSeries(
            scenario.run.time_series_interval if collect else self.horizon_s, self.horizon_s
        )
        self.outcomes = Outcomes()
        self.reports = Outcomes()
        self.by_class: dict[str, Outcomes] = {}
        self.latency = LatencyHistogram()
        self.ndr_samples: dict[str, dict[str, Any]] = {}
        self.counters: Counter[str] = Counter(dict.fromkeys(FAULT_COUNTERS, 0))
        self.transfers: Counter[str] = Counter()
        self.mailbox_deliveries: Counter[str] = Counter()
        # Deliveries per mailbox, and latency per class, are only counted when an expectation asks.
        self.count_mailboxes = any(e.kind == "mailbox" for e in scenario.expect)
        self.latency_by_class: dict[str, LatencyHistogram] | None = (
            {}
            if any(e.kind == "latency" and e.recipient_class is not None for e in scenario.expect)
            else None
        )
        self.ndr_times: dict[str, tuple[float, float]] = {}
        self.ndr_generators: dict[str, Counter[str]] = {}
        self.clock = {s.name: s.clock_offset for s in scenario.servers}
        self.replication = [e for e in scenario.events if isinstance(e, ReplicationEvent)]
        # Replication completing is a directory change like any other: a GWART calculated
        # without the sites stays in use until the recalculation after it, like an address
        # change's (model.recalculation_delay). Each event hides its sites from ``start`` until
        # then; routing is whole again once the last of them is recalculated.
        recalculation = scenario.model.recalculation_delay
        self._hidden_until = [(e, e.end + recalculation) for e in self.replication]
        self._replication_over = max((until for _, until in self._hidden_until), default=0.0)
        self._partial_routers: dict[frozenset[str], Router] = {}
        self.first_ndr_message: int | None = None
        self.first_misdelivery_message: int | None = None
        self.misdelivery_samples: list[dict[str, Any]] = []
        self.trace_messages = trace_messages or set()
        self.traces: dict[int, list[TraceLine]] = {}
        self.traced_reports: dict[int, int] = {}
        self._next_id = 0
        #: Messages counted in the statistics (sent at or after the warm-up's end, with the
        #: reports on them); ``_next_id`` numbers them all.
        self._counted_messages = 0

        self.components = build_components(self)
        self.stores = self.components.stores
        self.mtas = self.components.mtas
        self.gateways = self.components.gateways
        self.workload = Workload(self)
        for event in scenario.events:
            if isinstance(event, UpgradeEvent):
                self.env.process(self._upgrade(event))
            elif isinstance(event, AddressChangeEvent):
                self.env.process(self._address_change(event))
        if collect:
            self.env.process(self._sample_queues())

    # --- state the components ask about -------------------------------------------------
    def service_time(self, server: str, entry: str) -> tuple[float, Callable[[], float] | None]:
        """A component's work per message (``model.service_times.<entry>``) on a server:
        ``(seconds, None)`` when fixed, ``(mean, draw)`` for a distribution. Draws come from a
        stream of their own per server and entry, so fixed times use no random numbers and a
        random one leaves the traffic, routing and every other server's draws as they were."""
        value = getattr(self.times, entry)
        if not isinstance(value, Distribution):
            return value, None
        # One stream per server and entry, shared by the entry's threads (the store's eight
        # client threads draw from one sequence, not eight copies of it).
        draw = self._service_draws.get((server, entry))
        if draw is None:
            rng = stream(self.seed, SERVICE_TIME_STREAM, f"{server}:{entry}")
            draw = self._service_draws[(server, entry)] = value.sampler(rng)
        return value.mean, draw

    def version(self, server: str) -> str:
        return self.versions[server]

    def lose(
        self, envelope: Envelope, recipients: list[Recipient], server: str, where: str, why: str | None = None
    ) -> None:
        """Exchange lost mail: counted and reported. By default ``where`` (a component) held it
        only in memory when the server crashed; ``why`` says otherwise."""
        message = envelope.message
        detail = f"lost by Exchange: {where} on {server} " + (why or "when it crashed")
        for recipient in recipients:
            self._settle(message, recipient, LOST, detail)
            if message.reports_on is not None:
                self._unreported(message)
            if message.counted:
                books = self.reports if message.is_report else self.outcomes
                books.lost += 1
                if not message.is_report:
                    self._class(recipient.kind).lost += 1
        if message.traced:
            self.trace(
                message,
                f"LOST by Exchange: {where} on {server} "
                + (why or "held it only in memory when the server crashed"),
                server,
                where,
                kind="lost",
            )

    def _settle(self, message: Message, recipient: Recipient, outcome: str, detail: str) -> None:
        if recipient.outcome != PENDING:
            raise RuntimeError(
                f"recipient {recipient.address} of message {message.id} already {recipient.outcome}"
            )
        recipient.outcome, recipient.time_s, recipient.detail = outcome, self.env._now, detail

    def _unreported(self, report: Message) -> None:
        """A report ended without reaching the originator (NDR'd and discarded, lost, or
        misdelivered): every recipient it told of failed, and the originator never learned.
        Called once per report (its one recipient settles once); counted in the books of the
        user's mail (``unreported_ndr``, by the recipients' own classes), never the report's."""
        if not report.counted or not report.reports_on:
            return
        self.outcomes.unreported_ndr += len(report.reports_on)
        for recipient in report.reports_on:
            self._class(recipient.kind).unreported_ndr += 1

    def router_for(self, server: str) -> Router:
        """The routing table this server's MTA works from right now (KB Q145976 on RTM): on a
        build with the defect, one without the sites of every replication event from its start
        until the GWART is recalculated after it ends (``end + model.recalculation_delay``)."""
        if not self.replication:
            return self.router
        if self.env._now >= self._replication_over:
            return self.router
        now = self.env._now
        hidden = frozenset(
            site for e, until in self._hidden_until if e.start <= now < until for site in e.sites
        )
        defect = defect_at("gwart_replication")
        if (
            not hidden
            or defect is None
            or not defect.triggered(self.versions[server], self.gdi(self.org.site_of(server)))
        ):
            return self.router
        router = self._partial_routers.get(hidden)
        if router is None or router.org is not self.org:
            router = self._partial_routers[hidden] = Router(self.org, hidden)
        return router

    def replication_recalculation(self) -> tuple[float, float] | None:
        """For a trace: when the replication hiding sites now completes (its ``end``) and when
        the GWART is recalculated after it (``end + model.recalculation_delay``), the earliest
        of those under way; None when no replication hides a site now."""
        now = self.env._now
        pending = [(until, e.end) for e, until in self._hidden_until if e.start <= now < until]
        if not pending:
            return None
        until, end = min(pending)
        return end, until

    def lowest_cost_only(self, server: str) -> bool:
        lowest = self._lowest_of.get(server)
        if lowest is None:
            lowest = self._lowest_of[server] = (
                self._lowest_cost_setting and BUILDS[self.versions[server]].lowest_cost_routes_only
            )
        return lowest

    def directory_policy(self, server: str) -> Policy:
        """How the server's MTA searches the directory: its registry value and its build."""
        policy = self._policy_of.get(server)
        if policy is None:
            key = (self._fuzzy_settings[server], self.versions[server])
            policy = self._policies.get(key)
            if policy is None:
                policy = self._policies[key] = Policy.of(*key)
            self._policy_of[server] = policy
        return policy

    def mailbox_of(self, address: str) -> Mailbox | None:
        return self.router.mailbox(address)

    def gdi(self, site: str) -> GDI:
        gdi = self._gdi_cache.get(site)
        if gdi is None:
            gdi = self._gdi_cache[site] = parse_x400(self.site_x400[site]).gdi
        return gdi

    def gdi_for_defect(self, server: str, message: Message) -> GDI:
        """The GDI a store defect looks at (scenario setting ``model.q166866_gdi_site``)."""
        if self._gdi_of_originator and message.origin_server:
            return self.gdi(self.org.site_of(message.origin_server))
        return self.gdi(self.org.site_of(server))

    def defect(self, where: str, server: str, message: Message) -> Defect | None:
        """The defect that bites at this point for this server and message, if any."""
        # The answer depends on the message only through its originator's site (and that only
        # when the scenario says so): remembered per point, server and originator.
        key = (where, server, message.origin_server if self._gdi_of_originator else None)
        try:
            return self._defect_of[key]
        except KeyError:
            defect = self._defect_of[key] = self._defect(where, server, message)
            return defect

    def _defect(self, where: str, server: str, message: Message) -> Defect | None:
        origin = message.origin_server
        return striking_defect(
            where,
            self.versions[server],
            self.scenario.model,
            self.gdi,
            self.org.site_of(server),
            self.org.site_of(origin) if origin is not None else None,
        )

    # --- messages and the books --------------------------------------------------------
    def new_message(
        self,
        originator: str,
        origin_server: str | None,
        recipients: list[Recipient],
        size_kb: float,
        *,
        inbound_via: str | None = None,
        received_by: str | None = None,
        report_for: Message | None = None,
    ) -> Message:
        self._next_id += 1
        now = self.env._now
        # The MTS-ID names the GDI of the site of the server that made the message and that
        # server (l=). Mail from outside gets it from the Exchange server whose gateway took it
        # in (``received_by``): the IMS builds it from its own X.400 address, its site's (KB
        # Q156710), as for mail its server originates. Mail from a foreign X.400 MTA (no
        # Exchange gateway takes it in) keeps an id of exsim's own making.
        stamped_by = origin_server if origin_server is not None else received_by
        if stamped_by is not None:
            prefix = self._mts_prefix.get(stamped_by)
            if prefix is None:
                prefix = self._mts_prefix[stamped_by] = (
                    f"{self.gdi(self.org.site_of(stamped_by))};l={stamped_by}"
                )
        else:
            prefix = f"c=US;a= ;p=INTERNET;l={inbound_via or 'GATEWAY'}"
        # A report is counted with the message it reports on, as that message's NDR'd recipients
        # are, whenever it is sent: one on mail sent in the warm-up is left out with that mail.
        counted = report_for.counted if report_for is not None else now >= self._warmup_s
        # Positional, in the order of Message's fields (keywords cost a run measurably).
        message = Message(
            self._next_id,  # id
            prefix,  # mts_prefix
            originator,
            origin_server,
            now,  # submitted_s
            size_kb,
            recipients,
            counted,
            report_for,
            inbound_via,
            self._next_id in self.trace_messages,  # traced
            now + (self.clock[origin_server] if origin_server is not None else 0.0),  # stamp_s
        )
        books = self.reports if report_for is not None else self.outcomes
        if counted:
            self._counted_messages += 1
            books.recipients += len(recipients)
            if report_for is None:
                # Counted per run of recipients of one class (a list's members are one run).
                by_class = self.by_class
                kind, run = "", 0
                for recipient in recipients:
                    if recipient.kind is not kind:
                        if run:
                            (by_class.get(kind) or self._class(kind)).recipients += run
                        kind, run = recipient.kind, 0
                    run += 1
                if run:
                    (by_class.get(kind) or self._class(kind)).recipients += run
        return message

    def _class(self, kind: str) -> Outcomes:
        counts = self.by_class.get(kind)
        if counts is None:
            counts = self.by_class[kind] = Outcomes()
        return counts

    def trace(
        self,
        message: Message,
        text: str,
        server: str,
        component: str,
        *,
        kind: str = "step",
        event_id: int | None = None,
        defect: str | None = None,
    ) -> None:
        """Add a line to the story of a traced message (a report's lines join its original's)."""
        if message.traced:
            root = message.report_for or message
            line = TraceLine(
                self.env._now, server, component, text, kind, message.report_for is not None, event_id, defect
            )
            self.traces.setdefault(root.id, []).append(line)

    def trace_events(self, message: Message, entries: list[logs.EventEntry]) -> None:
        for entry in entries:
            text = entry.text.replace("\n", "\n      ")
            if message.traced:
                self.trace(
                    message,
                    f"event {entry.event_id} ({entry.type}, {entry.source}, {entry.category}) "
                    f"on {entry.server}:\n      {text}",
                    entry.server,
                    entry.source,
                    kind="event",
                    event_id=entry.event_id,
                )

    def deliver(
        self, envelope: Envelope, recipients: list[Recipient], where: str, server: str, component: str
    ) -> None:
        """Deliver recipients. One the directory misdirected (``recipient.misdirected``) lands in
        a mailbox all the same, as Exchange would log it, but the books count it misdelivered."""
        now = self.env._now
        message = envelope.message
        wrong = 0
        # Whether every recipient is of one class (a message's usually are): then the class
        # books are counted once for them all rather than once per recipient.
        kind = recipients[0].kind if recipients else ""
        one_kind = True
        for recipient in recipients:
            if recipient.outcome is not PENDING:
                raise RuntimeError(
                    f"recipient {recipient.address} of message {message.id} already {recipient.outcome}"
                )
            recipient.time_s = now
            recipient.detail = where
            if recipient.misdirected:
                recipient.outcome = MISDELIVERED
                wrong += 1
            else:
                recipient.outcome = DELIVERED
            if recipient.kind is not kind:
                one_kind = False
        if message.traced:
            self.trace(
                message,
                f"delivered to {', '.join(r.address for r in recipients)} ({where}), "
                f"{now - message.submitted_s:.1f} s after submission",
                server,
                component,
                kind="delivered",
            )
            for recipient in recipients:
                if recipient.misdirected:
                    self.trace(
                        message,
                        f"MISDELIVERED: {recipient.address} reached {recipient.misdirected}",
                        server,
                        component,
                        kind="misdelivered",
                        defect=recipient.misdirected_by,
                    )
        if wrong:
            if message.reports_on is not None:
                self._unreported(message)  # a report in the wrong mailbox: the originator never sees it
            self._misdelivered(message, [r for r in recipients if r.misdirected], where)
            if wrong == len(recipients):
                return
            recipients = [r for r in recipients if not r.misdirected]
        if not message.counted:
            return
        if message.report_for is not None:
            self.reports.delivered += len(recipients)
            return
        count = len(recipients)
        self.outcomes.delivered += count
        by_class = self.by_class
        if one_kind:
            if count:
                books = by_class.get(kind)
                if books is None:
                    books = self._class(kind)
                books.delivered += count
        else:
            for recipient in recipients:
                books = by_class.get(recipient.kind)
                if books is None:
                    books = self._class(recipient.kind)
                books.delivered += 1
        if self.count_mailboxes and where.startswith("mailbox"):
            for recipient in recipients:
                # By the mailbox the address resolves to: alias, proxy, DN or one-off alike.
                box = self.mailbox_of(recipient.address)
                self.mailbox_deliveries[box.alias if box is not None else recipient.address] += 1
        self.latency.add(now - message.submitted_s, count)
        if self.latency_by_class is not None:
            for recipient in recipients:
                histogram = self.latency_by_class.get(recipient.kind)
                if histogram is None:
                    histogram = self.latency_by_class[recipient.kind] = LatencyHistogram()
                histogram.add(now - message.submitted_s)
        self.series.count_delivered(now, server, count)

    def _misdelivered(self, message: Message, recipients: list[Recipient], where: str) -> None:
        """The books of a silent failure: nobody is told, so only the simulation counts it."""
        if not message.counted:
            return
        books = self.reports if message.is_report else self.outcomes
        books.misdelivered += len(recipients)
        if message.is_report:
            return
        for recipient in recipients:
            self._class(recipient.kind).misdelivered += 1
        self.series.count_misdelivered(self.env._now, len(recipients))
        if self.first_misdelivery_message is None:
            self.first_misdelivery_message = message.id
        if len(self.misdelivery_samples) < 5:
            self.misdelivery_samples.append(
                {
                    "recipient": recipients[0].address,
                    "delivered_to": recipients[0].misdirected,
                    "where": where,
                    "time_s": self.env._now,
                }
            )

    def past_lifetime(self, envelope: Envelope, server: str, lifetime_s: float | None = None) -> bool:
        """Whether the message has reached the MTA message lifetime by ``server``'s clock; if it
        has, its pending recipients get "The maximum time for delivering the message expired"
        from that server's MTA (KB Q158399).

        The age is the server's time (its clock may be off, ``clock_offset``) minus the stamp
        the message got from the clock of the server that created it, so a server whose clock
        is days ahead sees mail from elsewhere as old while its own users' mail looks fresh.
        ``lifetime_s``: a connector's Override lifetime; default the MTA's (7 days, normal
        priority).
        """
        lifetime = self.lifetime_normal_s if lifetime_s is None else lifetime_s
        message = envelope.message
        age = self.env._now + self.clock[server] - message.stamp_s
        if age < lifetime - LIFETIME_SLACK_S:
            return False
        # Age and lifetime in the lifetime's own unit: a 15-minute Override lifetime reads
        # "15.00 minutes old ... 15 minutes", not "0.01 days old ... 0.0104167-day".
        unit_s, unit = next((u, n) for u, n in _LIFETIME_UNITS if lifetime >= u or u == 1)
        if message.traced:
            self.trace(
                message,
                f"{server}: the message looks {age / unit_s:.2f} {unit} old by this server's clock, "
                f"at the lifetime of {lifetime / unit_s:g} {unit}",
                server,
                "MTA",
            )
        self.fail(
            envelope,
            envelope.pending,
            MAX_TIME_EXPIRED,
            "MSExchangeMTA",
            server,
            f"older than the MTA message lifetime ({lifetime / unit_s:g} {unit}) by {server}'s clock",
        )
        return True

    def fail(
        self,
        envelope: Envelope,
        recipients: list[Recipient],
        kind: NdrKind,
        service: str,
        server: str,
        detail: str,
        report_lost: bool = False,
        tracked: logs.ReportEvents = logs.BY_THE_MTA,
    ) -> None:
        """Non-deliver recipients: record the outcome, log, and send the originator a report.

        ``report_lost``: the report is generated but cannot be routed back and is lost
        (KB Q197058), so these recipients failed without the originator knowing. ``tracked``:
        the tracking events of the component that fails them (a gateway has its own)."""
        self.fail_each(
            envelope, [(r, kind, detail) for r in recipients], service, server, report_lost, tracked
        )

    def fail_each(
        self,
        envelope: Envelope,
        failures: list[tuple[Recipient, NdrKind, str]],
        service: str,
        server: str,
        report_lost: bool = False,
        tracked: logs.ReportEvents = logs.BY_THE_MTA,
    ) -> None:
        """Non-deliver several recipients of one message, each with its own kind and detail, in
        one report: an Exchange NDR lists every recipient it could not reach ("The following
        recipient(s) could not be reached"), each with its own reason, so an MTA that fails a
        message's recipients for different causes in one routing pass still sends one report."""
        if not failures:
            return
        now = self.env._now
        message = envelope.message
        site = self.org.site_of(server)
        component = footer(service, site, server)
        by_kind: dict[NdrKind, list[Recipient]] = {}
        for number, (recipient, kind, detail) in enumerate(failures, start=1):
            by_kind.setdefault(kind, []).append(recipient)
            self._settle(message, recipient, NDR, detail)
            if message.reports_on is not None:
                self._unreported(message)  # the report failed: it is discarded below
            recipient.ndr, recipient.component = kind, component
            if service == "MSExchangeMTA":
                self.events.ndr_generated(
                    now,
                    server,
                    kind.reason_name,
                    kind.diagnostic_name,
                    message.mts_id,
                    recipient.address,
                    number,
                )
            if not message.counted:
                continue
            books = self.reports if message.is_report else self.outcomes
            books.ndr += 1
            books.ndr_by_component[service] += 1
            books.ndr_by_diagnostic[kind.diagnostic_name] += 1
            books.ndr_by_text[kind.text] += 1
            if not message.is_report:
                self._class(recipient.kind).ndr += 1
                self.series.count_ndr(now, server)
                first = self.ndr_times.get(kind.text, (now, now))[0]
                self.ndr_times[kind.text] = (first, now)
                generators = self.ndr_generators.get(kind.text)
                if generators is None:
                    generators = self.ndr_generators[kind.text] = Counter()
                generators[component] += 1
                if self.first_ndr_message is None:
                    self.first_ndr_message = message.id
                self.ndr_samples.setdefault(
                    kind.text,
                    {
                        "recipient": recipient.address,
                        "reason": kind.reason,
                        "reason_name": kind.reason_name,
                        "diagnostic": kind.diagnostic,
                        "diagnostic_name": kind.diagnostic_name,
                        "component": component,
                        "time_s": now,
                        "detail": detail,
                    },
                )
        if message.traced:
            for kind, listed in by_kind.items():
                self.trace(
                    message,
                    f'NDR for {", ".join(r.address for r in listed)}: "{kind.text}" '
                    f"(reason {kind.reason} {kind.reason_name}, diagnostic {kind.diagnostic} "
                    f"{kind.diagnostic_name}); generated by {component}",
                    server,
                    service,
                    kind="ndr",
                )
        recipients = [recipient for recipient, _, _ in failures]

        def track(event: int, mts_id: str, report: Message, listed: list[Recipient], **fields: Any) -> None:
            """One of the records of a report this failure makes or ends (report MTS-ID in field 12,
            every listed recipient "not delivered"), on this server, naming the gateway if any."""
            self.tracking.record(
                now,
                server,
                event,
                mts_id,
                gateway=tracked.gateway,
                report_mts_id=report.mts_id,
                recipients=listed,
                report_status=logs.NOT_DELIVERED,
                **fields,
            )

        if message.is_report:
            # A report that cannot be delivered is discarded: no report is made on a report, so
            # no report generation (34) either, only the discard.
            if self.tracking.enabled:
                track(
                    tracked.discarded,
                    message.mts_id,
                    message,
                    recipients,
                    partner=service,
                    originator=message.originator,
                )
            return
        report = self.new_message(
            f"System Administrator ({server})",
            server,
            [Recipient(message.originator, "report")],
            2.0,
            report_for=message,
        )
        report.reports_on = recipients
        if self.tracking.enabled:
            # Field 1 names the message the report is on; field 12 the report, whose own
            # records carry its MTS-ID in field 1: the one record that joins the two.
            track(
                tracked.generated,
                message.mts_id,
                report,
                recipients,
                partner=service,
                originator=message.originator,
            )
            if tracked.gateway:
                # A gateway's report enters the organization as its inbound mail does: put into
                # MTS-IN and taken in by the store on its server (a message's 1004).
                track(
                    logs.GATEWAY_REPORT_TRANSFER_IN,
                    report.mts_id,
                    report,
                    report.recipients,
                    partner="Store",
                    originator=report.originator,
                    length=int(report.size_bytes),
                )
        self._send_report(message, report, server, lost=report_lost)

    def _send_report(self, message: Message, report: Message, server: str, lost: bool = False) -> None:
        """Send the originator ``report``, the report of the NDRs of ``message``; with ``lost``,
        the MTA generates it but cannot route it back (event 141, KB Q197058) and it is gone."""
        report.traced = message.traced
        if report.id in self.trace_messages:  # a report's number asked for: which message it is on
            self.traced_reports[report.id] = message.id
        if message.traced:
            self.trace(
                message,
                f"report (NDR) sent from {server} back to {message.originator}"
                + (" (but it cannot be routed back and is lost: event 141, Q197058)" if lost else ""),
                server,
                "MTA",
                kind="report",
                defect=LOST_REPORT.kb if lost and LOST_REPORT else None,
            )
        envelope = Envelope(message=report, recipients=list(report.recipients), queued_s=self.env._now)
        if lost:
            self.events.report_unroutable(self.env._now, server, message.mts_id)
            if self.tracking.enabled:
                self.tracking.record(
                    self.env._now,
                    server,
                    logs.UNROUTABLE_REPORT_DISCARDED,
                    report.mts_id,
                    originator=report.originator,
                    report_mts_id=report.mts_id,
                    recipients=report.recipients,
                    report_status=logs.NOT_DELIVERED,
                )
            self.lose(envelope, envelope.recipients, server, "the MTA", "could not route the report back")
            return
        self.stores[server].route_from_store(envelope)

    # --- timed events -------------------------------------------------------------------
    def _upgrade(self, event: UpgradeEvent) -> ProcessGenerator[None]:
        yield self.env.timeout(event.at)
        for server in self.org.servers if event.server == "*" else [event.server]:
            self.versions[server] = event.version
        self._policy_of.clear()
        self._lowest_of.clear()
        self._defect_of.clear()
        self._routing_changed()

    def _address_change(self, event: AddressChangeEvent) -> ProcessGenerator[None]:
        # The directory change reaches the GWART and the stores only after recalculation.
        yield self.env.timeout(event.at + self.scenario.model.recalculation_delay)
        raw = copy.deepcopy(self.scenario.raw)
        for site in raw["sites"]:
            if site["name"] == event.site:
                site.setdefault("addresses", {})[event.type] = event.value
        changed = validate_raw(raw, self.scenario.source, sweep_point=True)  # (validated whole before)
        self.org = Organization(changed)
        self.router = Router(self.org)
        self._routing_changed()
        if event.type == "x400":
            self.site_x400[event.site] = event.value
            self._gdi_cache.pop(event.site, None)
            self._mts_prefix.clear()
            self._defect_of.clear()

    def _routing_changed(self) -> None:
        """Tell every MTA that what it routes by may have changed (the routing table, a directory
        policy, the cost rule): each asks again before its next message."""
        for mta in self.mtas.values():
            mta.routing_changed()

    def _sample_queues(self) -> ProcessGenerator[None]:
        interval = self.series.interval_s
        while True:
            self._sample_queues_now()
            yield self.env.timeout(interval)

    def _sample_queues_now(self) -> None:
        """Every server's held mail now, into the time series' slot for this instant."""
        for server in self.org.servers:
            queued = self.mtas[server].queued + self.stores[server].queued
            queued += sum(g.queued for g in self.gateways.values() if g.server == server)
            self.series.sample_queue(self.env._now, server, queued)

    # --- the warm-up -----------------------------------------------------------------------
    def _warmup_ends(self) -> None:
        """What the fault and transfer counters hold as the warm-up ends (left out at the end)."""
        self._counts_at_warmup = (Counter(self.counters), Counter(self.transfers))

    def _counts_after_warmup(self) -> dict[str, dict[str, int]]:
        """The fault counters and the transfers per connector counted from the warm-up's end on:
        an event counts when it happens at or after it (all of them without a warm-up)."""
        if self.scenario.run.warmup > 0 and self._counts_at_warmup is None:
            self._warmup_ends()  # the warm-up outlasts the run: nothing is counted
        faults, transfers = self._counts_at_warmup or (Counter(), Counter())
        return {
            "counters": {name: count - faults[name] for name, count in self.counters.items()},
            "transfers": {
                key: count - transfers[key] for key, count in self.transfers.items() if count > transfers[key]
            },
        }

    # --- running -------------------------------------------------------------------------
    def run(self) -> RunResult:
        # A run makes millions of short-lived objects and no reference cycles of its own:
        # a larger first-generation threshold spares the collector ~10 % of the run time.
        threshold = gc.get_threshold()
        gc.set_threshold(100_000, *threshold[1:])
        try:
            self.env.run(until=self.horizon_s)
            if self.scenario.run.time_series and self.series.starts_s[-1] >= self.horizon_s:
                # The last slot starts at the run's end, which env.run stops short of: sample
                # what the servers still hold as the run stops.
                self._sample_queues_now()
        finally:
            gc.set_threshold(*threshold)
            self.tracking.close()
        return RunResult(
            scenario=self.scenario.name,
            seed=self.seed,
            end_s=self.horizon_s,
            outcomes=self.outcomes,
            by_class=self.by_class,
            reports=self.reports,
            latency=self.latency,
            events=self.events.entries,
            series=self.series,
            messages=self._next_id,
            counted_messages=self._counted_messages,
            first_ndr_message=self.first_ndr_message,
            first_misdelivery_message=self.first_misdelivery_message,
            misdelivery_samples=self.misdelivery_samples,
            traces=self.traces,
            traced_reports=self.traced_reports,
            ndr_samples=self.ndr_samples,
            **self._counts_after_warmup(),
            mailbox_deliveries=dict(self.mailbox_deliveries),
            latency_by_class=self.latency_by_class or {},
            ndr_times=dict(self.ndr_times),
            ndr_generators=self.ndr_generators,
        )


@dataclass
class Components:
    """Every server's store and MTA and every gateway, by name: how the components reach each
    other (the model's :class:`~exsim.sim.ports.Post`)."""

    stores: dict[str, InformationStore] = field(default_factory=dict)
    mtas: dict[str, MTA] = field(default_factory=dict)
    gateways: dict[str, Gateway] = field(default_factory=dict)

    def mta(self, server: str) -> MtaInbox:
        return self.mtas[server]

    def store(self, server: str) -> StoreInbox:
        return self.stores[server]

    def gateway(self, name: str) -> GatewayInbox:
        return self.gateways[name]


def build_components(sim: Simulation) -> Components:
    """Build every server's store and MTA and every gateway of the organization, handing each
    what it works with: the clock, its settings, the logs and counters, the random streams, and
    the simulation itself as the books, the routing tables and the builds (callbacks that outlive
    an upgrade or an address change), with the components reaching each other through the
    returned :class:`Components`."""
    scenario, times = sim.scenario, sim.times
    components = Components()
    around = Collaborators(
        env=sim.env,
        routing=sim,
        builds=sim,
        uptime=sim.uptime,
        books=sim,
        post=components,
        events=sim.events,
        tracking=sim.tracking,
        faults=sim.counters,
        transfers=sim.transfers,
    )
    # Every store before any MTA, then the gateways: each starts its threads as it is built, and
    # SimPy runs simultaneous events in the order they were scheduled, so another order would
    # change the numbers a seed gives.
    for server in sim.org.servers:
        spec = scenario.server(server)
        components.stores[server] = InformationStore(
            around,
            StoreSettings(
                server=server,
                client_threads=times.client_threads,
                gateway_in_threads=spec.gateway_in_threads,
                gateway_out_threads=spec.gateway_out_threads,
                submit_time=sim.service_time(server, "client_submit"),
                delivery_time=sim.service_time(server, "is_delivery"),
                gateway_in_time=sim.service_time(server, "gateway_in"),
                gateway_out_time=sim.service_time(server, "gateway_out"),
            ),
        )
    for server in sim.org.servers:
        spec = scenario.server(server)
        components.mtas[server] = MTA(
            around,
            MtaSettings(
                server=server,
                site=sim.org.site_of(server),
                clock_offset_s=spec.clock_offset,
                max_message_size=spec.mta_max_message_size,
                routing_time=sim.service_time(server, "mta_routing"),
                open_time=sim.service_time(server, "association_open"),
                rpc_bandwidth_bps=times.rpc_bandwidth,
                default_override=sim.default_override,
                directory_costs=scenario.model.directory,
            ),
            connector_states=sim.connector_states[server],
            routing_rng=sim.routing_rng,
            network_rng=sim.network_rng,
            # Without directory replication under way, what an MTA routes by changes only at an
            # upgrade or an address change, which the simulation announces (routing_changed).
            static_routing=not sim.replication,
        )
    for connector in scenario.connectors:
        if isinstance(connector, GATEWAY_CONNECTORS):
            components.gateways[connector.name] = GATEWAY_CLASSES[connector.kind](
                around,
                connector,
                gateway_settings(connector, times.msmi_poll_interval, scenario.foreign_x400),
                network_rng=sim.network_rng,
            )
    return components


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    *,
    tracking_dir: str | Path | None = None,
    trace_messages: set[int] | None = None,
) -> RunResult:
    """Run one replication of a scenario (as written: sweeps are run by experiments).

    ``seed`` is the seed of this one run, used as it is: not a scenario seed like ``run.seed``,
    ``exsim run --seed`` or :func:`exsim.experiment.run_experiment`'s ``seed``, from which an
    experiment derives each replication's run seed (:func:`exsim.randomness.replication_seed`; the
    ``seed`` column of ``runs.csv``). So ``simulate(s, seed=7)`` is not replication 0 of
    ``run_experiment(s, seed=7)``; ``simulate(s, seed=replication_seed(7, 0))`` is, and ``seed=None``
    is replication 0 of the scenario's own ``run.seed``."""
    arguments.scenario("scenario", scenario, Scenario)
    seed = arguments.whole_number("seed", seed, minimum=0)
    folder = None if tracking_dir is None else arguments.path("tracking_dir", tracking_dir)
    return Simulation(scenario, seed, tracking_dir=folder, trace_messages=trace_messages).run()
