"""Foreign X.400 systems: the X.400 connector to a foreign MTA, and the mail its users send in.

A foreign X.400 system (a PTT's ADMD, another company's MTA) is reached by an X.400
Connector on a bridgehead whose address spaces cover the system's GDI. The local MTA
routes mail for the system's users to that connector by the GWART, as it routes
Internet mail to the IMS, but it transfers the mail itself: there is no MTS-OUT folder
and no store gateway thread on the way (so the store defects of the gateways,
KB Q166866 among them, never touch it). A transfer the foreign MTA refuses waits an
open interval and is tried again, up to the Override's max open retries; then the
MTA returns a congestion NDR. The foreign users' mail comes in over the same
connector to the bridgehead's MTA, addressed to a mailbox's X.400 proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exsim import logs
from exsim.ndr import CONGESTION
from exsim.randomness import stream
from exsim.sim.gateways import Gateway
from exsim.sim.message import Envelope, Message, Recipient
from exsim.sim.queue import ProcessGenerator
from exsim.sim.workload import message_size

if TYPE_CHECKING:
    from exsim.scenario import ForeignX400Connector as ForeignX400ConnectorSpec
    from exsim.scenario import ForeignX400System, Internet


class ForeignX400Connector(Gateway):
    """An X.400 Connector to a foreign MTA, driven by the bridgehead's MTA."""

    service = "mta"
    component = "MSExchangeMTA"
    in_mta = True
    gives_up_with = CONGESTION

    connector: ForeignX400ConnectorSpec

    @property
    def foreign(self) -> Internet:
        return self.connector.remote_mta

    def retry_delay_s(self, failures: int) -> float:
        return float(self.connector.override.open_interval)

    @property
    def timeout_s(self) -> float:
        override = self.connector.override
        return float((override.max_open_retries + 1) * override.open_interval)

    def _record(self, event: int, envelope: Envelope) -> None:
        # The MTA logs a transfer out to the foreign MTA; there is no gateway queue to log.
        message = envelope.message
        if event == logs.SMTP_TRANSFERRED_OUTBOUND and self.sim.tracking.enabled and message is not None:
            self.sim.tracking.record(
                self.sim.env.now,
                self.server,
                logs.TRANSFER_OUT,
                message.mts_id,
                partner=self._side(),
                originator=message.originator,
                length=int(message.size_kb * 1024),
                recipients=envelope.recipients,
            )

    def _side(self) -> str:
        systems = [s.name for s in self.sim.scenario.foreign_x400 if s.connector == self.name]
        return f"foreign X.400 system {' / '.join(systems) or self.name}"

    # --- inbound ---------------------------------------------------------------------
    def start_inbound(self, system: ForeignX400System) -> None:
        """The system's users send mail to the organization's mailboxes (by X.400 proxy)."""
        if system.inbound_per_hour > 0 and self.sim.org.mailboxes:
            self.sim.env.process(self._senders(system))

    def _senders(self, system: ForeignX400System) -> ProcessGenerator[None]:
        sim, env = self.sim, self.sim.env
        rng = stream(sim.seed, 2, f"x400:{system.name}")
        boxes = list(sim.org.mailboxes.values())
        duration = sim.scenario.run.duration
        t = 0.0
        while True:
            t += rng.expovariate(system.inbound_per_hour / 3600.0)
            if t >= duration:
                return
            yield env.timeout(t - env.now)
            box = boxes[rng.randrange(len(boxes))]
            originator = system.recipients[rng.randrange(len(system.recipients))]
            message = sim.new_message(
                originator,
                None,
                [Recipient(box.proxies.x400, "inbound_x400", intended=box.alias)],
                message_size(rng),
                inbound_via="x400",
            )
            env.process(self.inbound(message))

    def arrived(self, message: Message) -> None:
        """A transfer in from the foreign MTA goes straight to the bridgehead's MTA."""
        sim, env = self.sim, self.sim.env
        if sim.tracking.enabled:
            sim.tracking.record(
                env.now,
                self.server,
                logs.TRANSFER_IN,
                message.mts_id,
                partner=self._side(),
                originator=message.originator,
                recipients=message.recipients,
            )
        if message.traced:
            sim.trace(
                message,
                f"{self.name}: transferred in from the {self._side()} to the MTA on {self.server}",
                self.server,
                self.name,
            )
        sim.mtas[self.server].receive(Envelope(message=message, recipients=list(message.recipients)))
