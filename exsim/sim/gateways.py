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
with a blank PRMD in the site address it logs events 2335/2380 at every poll
and transfers nothing, so the mail waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exsim import logs
from exsim.ndr import MAX_TIME_EXPIRED
from exsim.sim.message import Envelope, Message
from exsim.sim.queue import MailQueue, ProcessGenerator
from exsim.units import transfer_s
from exsim.versions import defect_at

if TYPE_CHECKING:
    from exsim.scenario import GatewayConnector, Internet
    from exsim.scenario import ImsConnector as ImsConnectorSpec
    from exsim.scenario import MsMailConnector as MsMailConnectorSpec
    from exsim.sim.model import Simulation


class Gateway:
    """What the IMS and the MS Mail Connector share: MTS-OUT, a foreign side, retries."""

    service = "ims"
    component = "MSExchangeIMC"
    in_mta = False
    """True for a connector the MTA drives itself (no MTS-OUT, no store gateway threads)."""
    gives_up_with = MAX_TIME_EXPIRED
    """The NDR when the foreign side has refused the mail until the timeout."""
    smtp_tracking = False
    """Whether the gateway writes the SMTP tracking events 1010-1013: only the Internet Mail
    Service does (KB Q173364); the store logs its gateway transfers (1003, 1004) for every gateway."""

    connector: GatewayConnector

    def __init__(self, sim: Simulation, connector: GatewayConnector):
        self.sim = sim
        self.connector = connector
        self.name: str = connector.name
        self.kind: str = connector.kind
        self.server: str = connector.server
        self.mts_out = MailQueue(sim.env)
        self.first_try: dict[int, float] = {}
        self.retry_waits = 0
        """Messages refused by the foreign side, waiting out their retry interval (held, not in MTS-OUT)."""
        for _ in range(connector.outbound_connections):
            sim.env.process(self._send_loop())

    @property
    def foreign(self) -> Internet:
        """The system behind the gateway: how long it takes to accept, how often it refuses."""
        raise NotImplementedError

    @property
    def queued(self) -> int:
        """Every message the gateway holds: MTS-OUT and the ones waiting to be retried."""
        return len(self.mts_out) + self.retry_waits

    def outbound(self, envelope: Envelope) -> None:
        self.mts_out.put(envelope)

    def retry_delay_s(self, failures: int) -> float:
        """Wait before the next attempt after ``failures`` refused ones."""
        raise NotImplementedError

    @property
    def timeout_s(self) -> float:
        """How long the gateway keeps trying before it gives up with an NDR."""
        raise NotImplementedError

    def blocked(self, envelope: Envelope) -> bool:
        """Whether a defect keeps this gateway from sending anything (Q165485)."""
        return False

    def _send_loop(self) -> ProcessGenerator[None]:
        sim, env = self.sim, self.sim.env
        while True:
            while not self.mts_out.items:
                yield self.mts_out.wait()
            envelope: Envelope = self.mts_out.items.popleft()
            yield from sim.uptime.wait_running(self.server, self.service)
            while self.blocked(envelope):
                yield env.timeout(sim.times.msmi_poll_interval)
                yield from sim.uptime.wait_running(self.server, self.service)
            message = envelope.message
            limit = self.connector.max_message_size
            if limit is not None and message.size_kb * 1024 > limit:
                self._refuse(envelope)
                continue
            key = id(envelope)
            self.first_try.setdefault(key, env.now)
            self._record(logs.SMTP_QUEUED_OUTBOUND, envelope)
            link = self.connector.link
            started = env.now
            yield env.timeout(transfer_s(message.size_kb, link.bandwidth, link.latency) + self.foreign.delay)
            if sim.uptime.crashed_between(self.server, started, env.now):
                self.mts_out.put(envelope)  # still in MTS-OUT on disk: sent again after the restart
                continue
            refused = not sim.uptime.connector_up(self.name, env.now) or (
                self.foreign.failure_probability
                and sim.network_rng.random() < self.foreign.failure_probability
            )
            if refused:
                env.process(self._retry(envelope))
                continue
            self.first_try.pop(key, None)
            sim.transfers[self.name] += 1
            self._record(logs.SMTP_TRANSFERRED_OUTBOUND, envelope)
            if message.traced:
                sim.trace(
                    message,
                    f"{self.name} on {self.server} delivered it to the {self._side()}",
                    self.server,
                    self.name,
                )
            sim.deliver(envelope, envelope.pending, f"{self._side()} via {self.name}", self.server, self.name)

    def _refuse(self, envelope: Envelope) -> None:
        """Too large for this gateway: hand it back to the MTA to be rerouted (KB Q160534).

        A reroute keeps only the hop count in the envelope, not the sites passed,
        so a message can bounce between sites until the 512-hop limit stops it.
        """
        sim = self.sim
        sim.counters["reroutes"] += 1
        envelope.refused = (*envelope.refused, self.name)
        envelope.visited_sites = ()
        envelope.arrived_on = None
        envelope.hops += 1
        message = envelope.message
        if sim.tracking.enabled:
            sim.tracking.record(
                sim.env.now,
                self.server,
                logs.MESSAGE_REROUTED,
                message.mts_id,
                gateway=self.name,
                originator=message.originator,
                length=int(message.size_kb * 1024),
            )
        if message.traced:
            sim.trace(
                message,
                f"{self.name}: {message.size_kb:g} KB is over its size limit; handed back to the "
                f"MTA on {self.server} to be rerouted (hop {envelope.hops})",
                self.server,
                self.name,
            )
        sim.mtas[self.server].receive(envelope)

    def _retry(self, envelope: Envelope) -> ProcessGenerator[None]:
        sim, env = self.sim, self.sim.env
        sim.counters["gateway_retries"] += 1
        failures = envelope.attempts.get(self.name, 0) + 1
        envelope.attempts[self.name] = failures
        first = self.first_try[id(envelope)]
        delay = self.retry_delay_s(failures)
        if delay <= 0:
            # A retry interval of 0 means no retries at all (KB Q146669).
            self.first_try.pop(id(envelope), None)
            sim.fail(
                envelope,
                envelope.pending,
                MAX_TIME_EXPIRED,
                self.component,
                self.server,
                f"{self.name} does not retry (retry interval 0)",
            )
            return
        if envelope.message.traced:
            sim.trace(
                envelope.message,
                f"{self.name}: the {self._side()} refused it (attempt {failures}); "
                f"next try in {delay / 60:g} min",
                self.server,
                self.name,
            )
        self.retry_waits += 1
        if env.now + delay - first >= self.timeout_s:
            yield env.timeout(max(0.0, first + self.timeout_s - env.now))
            self.retry_waits -= 1
            self.first_try.pop(id(envelope), None)
            stuck = defect_at("ims_timeout_no_reroute") if self.service == "ims" else None
            if stuck is not None and envelope.message.traced:
                sim.trace(
                    envelope.message,
                    f"{self.name}: message timeout ({self.timeout_s / 3600:g} h) reached; the mail "
                    f"never left this IMS's queue for another route ({stuck.kb})",
                    self.server,
                    self.name,
                    defect=stuck.kb,
                )
            sim.fail(
                envelope,
                envelope.pending,
                self.gives_up_with,
                self.component,
                self.server,
                f"{self.name} gave up after {self.timeout_s / 3600:g} h",
            )
            return
        yield env.timeout(delay)
        self.retry_waits -= 1
        self.mts_out.put(envelope)

    def _record(self, event: int, envelope: Envelope) -> None:
        message = envelope.message
        if self.sim.tracking.enabled and self.smtp_tracking:
            self.sim.tracking.record(
                self.sim.env.now,
                self.server,
                event,
                message.mts_id,
                gateway=self.name,
                originator=message.originator,
                length=int(message.size_kb * 1024),
                recipients=envelope.recipients,
            )

    def _side(self) -> str:
        return "Internet"

    # --- inbound -------------------------------------------------------------------
    def inbound(self, message: Message) -> ProcessGenerator[None]:
        """Mail arriving from the foreign side (a generator: waits while the gateway is stopped)."""
        sim = self.sim
        link = self.connector.link
        seconds = transfer_s(message.size_kb, link.bandwidth, link.latency)
        # Cut off by a crash, the sending host simply tries again.
        while not (yield from sim.uptime.work(self.server, self.service, seconds)):
            pass
        self.arrived(message)

    def arrived(self, message: Message) -> None:
        """The foreign side's transfer is in: into MTS-IN, for the store's gateway-out threads."""
        sim, env = self.sim, self.sim.env
        if sim.tracking.enabled and self.smtp_tracking:
            sim.tracking.record(
                env.now,
                self.server,
                logs.SMTP_RECEIVED_INBOUND,
                message.mts_id,
                gateway=self.name,
                originator=message.originator,
                recipients=message.recipients,
            )
        if message.traced:
            sim.trace(
                message,
                f"{self.name} on {self.server} received it from the {self._side()} and put it in MTS-IN",
                self.server,
                self.name,
            )
        if sim.tracking.enabled and self.smtp_tracking:
            sim.tracking.record(
                env.now,
                self.server,
                logs.SMTP_TRANSFERRED_INBOUND,
                message.mts_id,
                gateway=self.name,
                originator=message.originator,
                recipients=message.recipients,
            )
        sim.stores[self.server].mts_in.put(
            Envelope(message=message, recipients=list(message.recipients), queued_s=env.now)
        )


class InternetMailService(Gateway):
    service = "ims"
    component = "MSExchangeIMC"
    smtp_tracking = True
    connector: ImsConnectorSpec

    @property
    def foreign(self) -> Internet:
        return self.connector.internet

    def retry_delay_s(self, failures: int) -> float:
        intervals = self.connector.retry_intervals
        return intervals[min(failures - 1, len(intervals) - 1)]

    @property
    def timeout_s(self) -> float:
        return self.connector.message_timeout


class MsMailConnector(Gateway):
    service = "msmail"
    component = "MSExchangeMSMI"

    connector: MsMailConnectorSpec

    @property
    def foreign(self) -> Internet:
        return self.connector.postoffice

    def retry_delay_s(self, failures: int) -> float:
        return self.sim.times.msmi_poll_interval

    @property
    def timeout_s(self) -> float:
        return self.connector.override.message_lifetime_normal

    def blocked(self, envelope: Envelope) -> bool:
        sim = self.sim
        defect = sim.defect("msmail_out", self.server, envelope.message)
        if defect is None:
            return False
        logged = sim.events.msmi_failed(sim.env.now, self.server)
        if envelope.message.traced:
            sim.trace(
                envelope.message,
                f"{self.name}: the interchange fails on it, the site PRMD is blank "
                f"({defect.kb}); it stays queued",
                self.server,
                self.name,
                defect=defect.kb,
            )
        sim.trace_events(envelope.message, logged)
        return True

    def _side(self) -> str:
        return "MS Mail postoffice"
