"""Gateways: the Internet Mail Service (IMS) and the MS Mail Connector.

A gateway runs on one server. Outbound, it takes mail from its MTS-OUT folder
(filled by the store's gateway-in threads) and hands it to the foreign system
behind it: the Internet for the IMS, an MS Mail postoffice for the connector.
That side answers after a configurable delay and refuses a configurable share
of attempts. Inbound, mail from the foreign system goes into MTS-IN, where the
store's gateway-out threads pick it up.

The IMS retries a refused delivery at its retry intervals (.25, .5, 1, 4 hours,
the last repeating) and gives up with "maximum time expired" at its message
timeout (48 h by default). Like the real 5.0 IMS it never hands queued mail
back for rerouting (KB Q156063). The MS Mail interchange carries KB Q165485:
with a blank PRMD in the site address each of its outbound connections logs
events 2335/2380 at every poll and transfers nothing, so the mail waits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exsim import logs
from exsim.ndr import MAX_TIME_EXPIRED, NdrKind
from exsim.scenario import ImsConnector as ImsConnectorSpec
from exsim.scenario import MsMailConnector as MsMailConnectorSpec
from exsim.sim.message import Envelope, Message
from exsim.sim.ports import Collaborators, Component
from exsim.sim.queue import MailQueue, ProcessGenerator, Worker
from exsim.units import transfer_s
from exsim.versions import defect_at

if TYPE_CHECKING:
    from exsim.scenario import ForeignX400System, GatewayConnector, Internet


@dataclass(frozen=True)
class GatewaySettings:
    """How a gateway deals with the system behind it: one record for every kind of gateway."""

    foreign: Internet
    """The system behind the gateway: how long it takes to accept, how often it refuses."""
    retry_intervals: tuple[float, ...]
    """The wait before the next attempt after 1, 2, ... refusals (the last one repeats);
    a wait of 0 means the gateway does not retry at all (KB Q146669)."""
    timeout_s: float
    """How long the gateway keeps trying before it gives up with an NDR."""
    side: str
    """What the foreign side is called in the message's story ("Internet", ...)."""
    poll_interval_s: float
    """How often a gateway a defect blocks tries again (the MS Mail interchange's poll)."""


def gateway_settings(
    connector: GatewayConnector, poll_interval_s: float, systems: Sequence[ForeignX400System] = ()
) -> GatewaySettings:
    """A gateway's settings from its connector in the scenario.

    The IMS retries at its retry intervals until its message timeout. The MS Mail connector
    tries again at every interchange poll until the message lifetime of its Override. An X.400
    connector to a foreign MTA retries every open interval, max open retries times, after the
    first attempt; ``systems`` are the foreign systems behind it (for the story)."""
    if isinstance(connector, ImsConnectorSpec):
        return GatewaySettings(
            connector.internet,
            tuple(connector.retry_intervals),
            connector.message_timeout,
            "Internet",
            poll_interval_s,
        )
    if isinstance(connector, MsMailConnectorSpec):
        return GatewaySettings(
            connector.postoffice,
            (poll_interval_s,),
            connector.override.message_lifetime_normal,
            "MS Mail postoffice",
            poll_interval_s,
        )
    override = connector.override
    names = [s.name for s in systems if s.connector == connector.name]
    return GatewaySettings(
        connector.remote_mta,
        (float(override.open_interval),),
        float((override.max_open_retries + 1) * override.open_interval),
        f"foreign X.400 system {' / '.join(names) or connector.name}",
        poll_interval_s,
    )


class Gateway(Component):
    """What the IMS, the MS Mail Connector and an X.400 connector to a foreign MTA share:
    MTS-OUT, a foreign side that may refuse, retries until a timeout, mail coming in.

    Built with the collaborators every component has (:mod:`exsim.sim.ports`), its connector
    from the scenario, its settings (:func:`gateway_settings`) and the random stream that decides
    refusals."""

    service = "ims"
    component = "MSExchangeIMC"
    in_mta = False
    """True for a connector the MTA drives itself (no MTS-OUT, no store gateway threads): the
    MTA logs its transfers, and mail from the foreign side goes straight to the MTA."""
    gives_up_with = MAX_TIME_EXPIRED
    """The NDR when the foreign side has refused the mail until the timeout."""
    stuck_at_timeout: str | None = None
    """Where (in the defect table) the defect is that keeps refused mail in this gateway's queue
    until the timeout instead of rerouting it: the trace names it when the gateway gives up."""
    smtp_tracking = False
    """Whether the gateway writes the SMTP tracking events 1010-1013: only the Internet Mail
    Service does (KB Q173364); the store logs its gateway transfers (1003, 1004) for every gateway."""
    report_generated = logs.GATEWAY_REPORT_GENERATED
    """The tracking event of an NDR this gateway generates when it gives up (KB Q173364)."""
    report_discarded = logs.UNROUTABLE_REPORT_DISCARDED
    """The tracking event of a report this gateway gives up on (no report is made on a report)."""

    connector: GatewayConnector

    def __init__(
        self,
        around: Collaborators,
        connector: GatewayConnector,
        settings: GatewaySettings,
        *,
        network_rng: random.Random,
    ):
        super().__init__(around)
        self.connector = connector
        self.settings = settings
        self.network_rng = network_rng
        self.name: str = connector.name
        self.kind: str = connector.kind
        self.server: str = connector.server
        self.mts_out = MailQueue(self.env)
        self.first_try: dict[int, float] = {}
        self.retry_waits = 0
        """Messages refused by the foreign side, waiting out their retry interval (held, not in MTS-OUT)."""
        self.report_events = logs.ReportEvents(
            self.report_generated, self.report_discarded, "" if self.in_mta else self.name
        )
        """How its NDRs are tracked: the gateway's own events, or the MTA's for one it drives."""
        # Where the books say delivered mail went.
        self._delivered_to = f"{settings.side} via {self.name}"
        self._outages = self.uptime.has_outages(self.name)
        """Whether the connector is ever down (else the foreign side is always reachable)."""
        self._refusable = self._outages or bool(settings.foreign.failure_probability)
        """Whether a transfer can fail and be retried: only then is each message's first try
        remembered (``first_try``, which the retries count the timeout from)."""
        # On a server nothing stops, with nothing to block it and no size limit to refuse mail
        # by, each connection is one event per message (a Worker timed by the message).
        simple = (
            self.uptime.quiet(self.server)
            and type(self).blocked is Gateway.blocked
            and connector.max_message_size is None
        )
        for _ in range(connector.outbound_connections):
            if simple:
                Worker(self.mts_out, 0.0, self._sent, start=self._start)
            else:
                self.env.process(self._send_loop())

    @property
    def foreign(self) -> Internet:
        """The system behind the gateway: how long it takes to accept, how often it refuses."""
        return self.settings.foreign

    @property
    def queued(self) -> int:
        """Every message the gateway holds: MTS-OUT and the ones waiting to be retried."""
        return len(self.mts_out) + self.retry_waits

    def outbound(self, envelope: Envelope) -> None:
        self.mts_out.put(envelope)

    def retry_delay_s(self, failures: int) -> float:
        """Wait before the next attempt after ``failures`` refused ones."""
        intervals = self.settings.retry_intervals
        return intervals[min(failures - 1, len(intervals) - 1)]

    @property
    def timeout_s(self) -> float:
        """How long the gateway keeps trying before it gives up with an NDR."""
        return self.settings.timeout_s

    def blocked(self, envelope: Envelope) -> bool:
        """Whether a defect keeps this gateway from sending anything (Q165485)."""
        return False

    def _send_loop(self) -> ProcessGenerator[None]:
        """One outbound connection on a server that stops or crashes, or of a gateway that a
        defect can block or that refuses mail over a size limit."""
        env, uptime = self.env, self.uptime
        quiet = uptime.quiet(self.server)  # nothing stops it: no waiting for the service, no crash
        while True:
            while not self.mts_out.items:
                yield self.mts_out.wait()
            envelope: Envelope = self.mts_out.items.popleft()
            if not quiet:
                yield from uptime.wait_running(self.server, self.service)
            while self.blocked(envelope):
                yield env.timeout(self.settings.poll_interval_s)
                yield from uptime.wait_running(self.server, self.service)
            limit = self.connector.max_message_size
            if limit is not None and envelope.message.size_bytes > limit:
                self._refuse(envelope)
                continue
            started = env._now
            yield env.timeout(self._start(envelope))
            if not quiet and uptime.crashed_between(self.server, started, env._now):
                self.mts_out.put(envelope)  # still in MTS-OUT on disk: sent again after the restart
                continue
            self._sent(envelope)

    def _start(self, envelope: Envelope) -> float:
        """A connection takes the message from MTS-OUT: how long until the foreign side answers."""
        if self._refusable:
            self.first_try.setdefault(id(envelope), self.env._now)
        if self.tracking_on:
            self._record(logs.SMTP_QUEUED_OUTBOUND, envelope)
        link = self.connector.link
        return (
            transfer_s(envelope.message.size_kb, link.bandwidth, link.latency) + self.settings.foreign.delay
        )

    def _sent(self, envelope: Envelope) -> None:
        """The transfer is over: the foreign side took the message, or refused it (retried)."""
        if self._refusable:
            foreign = self.settings.foreign
            if (self._outages and not self.uptime.connector_up(self.name, self.env._now)) or (
                foreign.failure_probability and self.network_rng.random() < foreign.failure_probability
            ):
                self.env.process(self._retry(envelope))
                return
            del self.first_try[id(envelope)]
        self.transfers[self.name] += 1
        if self.tracking_on:
            self._record(logs.SMTP_TRANSFERRED_OUTBOUND, envelope)
        message = envelope.message
        if message.traced:
            self.books.trace(
                message,
                f"{self.name} on {self.server} delivered it to the {self.settings.side}",
                self.server,
                self.name,
            )
        self.books.deliver(envelope, envelope.pending, self._delivered_to, self.server, self.name)

    def _refuse(self, envelope: Envelope) -> None:
        """Too large for this gateway: hand it back to the MTA to be rerouted (KB Q160534).

        A reroute keeps only the hop count in the envelope, not the sites passed,
        so a message can bounce between sites until the 512-hop limit stops it.
        """
        self.faults["reroutes"] += 1
        envelope.refused = (*envelope.refused, self.name)
        envelope.visited_sites = ()
        envelope.arrived_on = None
        envelope.hops += 1
        message = envelope.message
        self.track(logs.MESSAGE_REROUTED, message, (), gateway=self.name)
        if message.traced:
            self.books.trace(
                message,
                f"{self.name}: {message.size_kb:g} KB is over its size limit; handed back to the "
                f"MTA on {self.server} to be rerouted (hop {envelope.hops})",
                self.server,
                self.name,
            )
        self.own_mta.receive(envelope)

    def _retry(self, envelope: Envelope) -> ProcessGenerator[None]:
        """The foreign side refused the message: wait the retry interval and put it back in
        MTS-OUT, or, when the next try would come after the timeout, wait for the timeout and
        give up. 5.0 never hands refused mail back to the MTA for rerouting (KB Q156063)."""
        env = self.env
        self.faults["gateway_retries"] += 1
        failures = envelope.attempts.get(self.name, 0) + 1
        envelope.attempts[self.name] = failures
        first = self.first_try[id(envelope)]
        delay = self.retry_delay_s(failures)
        if delay <= 0:
            # A retry interval of 0 means no retries at all (KB Q146669).
            self._give_up(envelope, MAX_TIME_EXPIRED, f"{self.name} does not retry (retry interval 0)")
            return
        if envelope.message.traced:
            self.books.trace(
                envelope.message,
                f"{self.name}: the {self.settings.side} refused it (attempt {failures}); "
                f"next try in {delay / 60:g} min",
                self.server,
                self.name,
            )
        gives_up = env._now + delay - first >= self.timeout_s
        self.retry_waits += 1
        yield env.timeout(max(0.0, first + self.timeout_s - env._now) if gives_up else delay)
        self.retry_waits -= 1
        if not gives_up:
            self.mts_out.put(envelope)
            return
        stuck = defect_at(self.stuck_at_timeout) if self.stuck_at_timeout else None
        if stuck is not None and envelope.message.traced:
            self.books.trace(
                envelope.message,
                f"{self.name}: message timeout ({self.timeout_s / 3600:g} h) reached; the mail "
                f"never left this IMS's queue for another route ({stuck.kb})",
                self.server,
                self.name,
                defect=stuck.kb,
            )
        self._give_up(envelope, self.gives_up_with, f"{self.name} gave up after {self.timeout_s / 3600:g} h")

    def _give_up(self, envelope: Envelope, kind: NdrKind, detail: str) -> None:
        self.first_try.pop(id(envelope), None)
        self.books.fail(
            envelope, envelope.pending, kind, self.component, self.server, detail, tracked=self.report_events
        )

    def _far_side(self) -> tuple[str, str]:
        """``(gateway, partner)`` of a tracking line: the gateway, or (for a connector the MTA
        drives) the foreign system as the MTA's partner."""
        return ("", self.settings.side) if self.in_mta else (self.name, "")

    def _record(self, event: int, envelope: Envelope) -> None:
        if not self.tracking.enabled:
            return
        if self.in_mta:
            # The MTA logs a transfer out to the foreign MTA; there is no gateway queue to log.
            if event != logs.SMTP_TRANSFERRED_OUTBOUND:
                return
            event = logs.TRANSFER_OUT
        elif not self.smtp_tracking:
            return
        message = envelope.message
        gateway, partner = self._far_side()
        self.track(event, message, envelope.recipients, gateway=gateway, partner=partner)

    # --- inbound -------------------------------------------------------------------
    def inbound(self, message: Message) -> ProcessGenerator[None]:
        """Mail arriving from the foreign side (a generator: waits while the gateway is stopped)."""
        link = self.connector.link
        seconds = transfer_s(message.size_kb, link.bandwidth, link.latency)
        # Cut off by a crash, the sending host simply tries again.
        while not (yield from self.uptime.work(self.server, self.service, seconds)):
            pass
        self.arrived(message)

    def arrived(self, message: Message) -> None:
        """The foreign side's transfer is in: into MTS-IN, for the store's gateway-out threads;
        from a foreign MTA, straight to this server's MTA."""
        now, side = self.env._now, self.settings.side
        if self.tracking.enabled:
            events: tuple[int, ...] = (
                (logs.TRANSFER_IN,)
                if self.in_mta
                else (logs.SMTP_RECEIVED_INBOUND, logs.SMTP_TRANSFERRED_INBOUND)
                if self.smtp_tracking
                else ()
            )
            gateway, partner = self._far_side()
            for event in events:
                self.track(event, message, message.recipients, gateway=gateway, partner=partner)
        if message.traced:
            self.books.trace(
                message,
                f"{self.name}: transferred in from the {side} to the MTA on {self.server}"
                if self.in_mta
                else f"{self.name} on {self.server} received it from the {side} and put it in MTS-IN",
                self.server,
                self.name,
            )
        envelope = Envelope(message=message, recipients=list(message.recipients), queued_s=now)
        if self.in_mta:
            self.own_mta.receive(envelope)
        else:
            self.own_store.mts_in.put(envelope)


class InternetMailService(Gateway):
    service = "ims"
    component = "MSExchangeIMC"
    smtp_tracking = True
    report_generated = logs.SMTP_REPORT_GENERATED
    report_discarded = logs.SMTP_REPORT_ABSORBED
    stuck_at_timeout = "ims_timeout_no_reroute"
    connector: ImsConnectorSpec


class MsMailConnector(Gateway):
    service = "msmail"
    component = "MSExchangeMSMI"
    connector: MsMailConnectorSpec

    def blocked(self, envelope: Envelope) -> bool:
        defect = self.builds.defect("msmail_out", self.server, envelope.message)
        if defect is None:
            return False
        logged = self.events.msmi_failed(self.env._now, self.server)
        if envelope.message.traced:
            self.books.trace(
                envelope.message,
                f"{self.name}: the interchange fails on it, the site PRMD is blank "
                f"({defect.kb}); it stays queued",
                self.server,
                self.name,
                defect=defect.kb,
            )
        self.books.trace_events(envelope.message, logged)
        return True
