"""The Information Store (IS) of one server.

The IS takes mail from clients, delivers it to mailboxes on its server, and
sits between the MTA and the gateways: its *gateway-in* threads move mail the
MTA queued for a gateway into that gateway's MTS-OUT folder, and its
*gateway-out* threads move mail a gateway put into MTS-IN on to the MTA (or
straight to a mailbox on this server). Two of the documented 5.0 defects bite
here, in the store, whatever the gateway itself is doing:

* KB Q166866 (SP1): the gateway transfer-in of outbound SMTP builds a
  bilateral-information entry from the site GDI; without a PRMD that fails
  with ecObjectInvalid (0xBB8), events 1026 and 2007 are logged and the
  recipients get an "invalid arguments" NDR.
* KB Q176194 (RTM, SP1): mail coming in from MS Mail fails in the store when
  the site GDI has no PRMD; event 2025 is logged and the originator gets an NDR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exsim import logs
from exsim.sim.message import Envelope, Message, Recipient
from exsim.sim.queue import MailQueue, ProcessGenerator
from exsim.sim.resolver import UNRESOLVED_ONE_OFFS

if TYPE_CHECKING:
    from exsim.sim.model import Simulation


class InformationStore:
    def __init__(self, sim: Simulation, server: str):
        self.sim = sim
        self.server = server
        env = sim.env
        self.delivery = MailQueue(env)
        self.gateway_in = MailQueue(env)
        self.mts_in = MailQueue(env)
        self.submissions = MailQueue(env)
        config = sim.scenario.server(server)
        env.process(self._deliver_loop())
        for _ in range(sim.times.client_threads):
            env.process(self._submit_loop())
        for _ in range(config.gateway_in_threads):
            env.process(self._gateway_in_loop())
        for _ in range(config.gateway_out_threads):
            env.process(self._gateway_out_loop())

    @property
    def queued(self) -> int:
        return len(self.delivery) + len(self.gateway_in) + len(self.mts_in) + len(self.submissions)

    # --- clients ------------------------------------------------------------
    def submit(self, message: Message) -> None:
        """A client sends a message; the store's client threads take it in turn."""
        self.submissions.put(message)

    def _submit_loop(self) -> ProcessGenerator[None]:
        sim = self.sim
        submissions = self.submissions
        service, draw = sim.service_time(self.server, "client_submit")
        quiet = sim.uptime.quiet(self.server)
        while True:
            if draw is not None:
                service = draw()
            # A submission cut off by a crash never reached the store: the client sends it again.
            message = (
                (yield submissions.served(service))
                if quiet
                else (yield from sim.uptime.take(submissions, self.server, "is", service, None))
            )
            self._accept(message)

    def _accept(self, message: Message) -> None:
        sim = self.sim
        if sim.tracking.enabled:
            sim.tracking.record(
                sim.env.now,
                self.server,
                logs.SUBMISSION,
                message.mts_id,
                partner="Store",
                originator=message.originator,
                length=int(message.size_kb * 1024),
                recipients=message.recipients,
            )
        if message.traced:
            sim.trace(
                message,
                f"submitted by {message.originator} to the store on {self.server} "
                f"({len(message.recipients)} recipient(s), {message.size_kb:g} KB)",
                self.server,
                "store",
            )
        self.route_from_store(
            Envelope(message=message, recipients=list(message.recipients), queued_s=sim.env.now)
        )

    def route_from_store(self, envelope: Envelope) -> None:
        """Recipients homed here are delivered by the IS; the rest go to the MTA.
        The 4.0 client leaves one-off proxy addresses unresolved, so those go to the MTA too
        (KB Q185024).

        Mail from outside (SMTP, MS Mail) is held to the message lifetime by this server's
        clock like mail the MTA routes: on a server whose clock is more than the lifetime
        ahead it expires even when the store delivers it itself (KB Q158399).
        """
        sim = self.sim
        if sim.past_lifetime(envelope, self.server):
            return
        local: list[Recipient] = []
        remote: list[Recipient] = []
        unresolved = envelope.message.client in UNRESOLVED_ONE_OFFS
        for recipient in envelope.recipients:
            box = sim.mailbox_of(recipient.address)
            here = box is not None and box.server == self.server and not (unresolved and recipient.one_off)
            (local if here else remote).append(recipient)
        if local and not remote:
            self.delivery.put(envelope)
            return
        if local:
            self.delivery.put(envelope.split(local))
        if remote:
            if envelope.message.traced:
                sim.trace(
                    envelope.message,
                    f"store on {self.server} hands {len(remote)} recipient(s) to its MTA",
                    self.server,
                    "store",
                )
            sim.mtas[self.server].receive(envelope if not local else envelope.split(remote))

    # --- the store's own threads ------------------------------------------------
    def _deliver_loop(self) -> ProcessGenerator[None]:
        sim = self.sim
        delivery = self.delivery
        service, draw = sim.service_time(self.server, "is_delivery")
        quiet = sim.uptime.quiet(self.server)  # nothing ever stops this store: one event per delivery
        while True:
            if draw is not None:
                service = draw()
            envelope = (
                (yield delivery.served(service))
                if quiet
                else (
                    yield from sim.uptime.take(
                        delivery, self.server, "is", service, "the store's delivery thread"
                    )
                )
            )
            if envelope is None:
                continue
            message = envelope.message
            local = message.origin_server == self.server and message.inbound_via is None
            if sim.tracking.enabled:
                sim.tracking.record(
                    sim.env.now,
                    self.server,
                    logs.LOCAL_DELIVERY if local else logs.DELIVERED,
                    message.mts_id,
                    partner="Store",
                    originator=message.originator,
                    recipients=envelope.recipients,
                )
            sim.deliver(envelope, envelope.recipients, f"mailbox on {self.server}", self.server, "store")

    def _gateway_in_loop(self) -> ProcessGenerator[None]:
        sim = self.sim
        queue, quiet = self.gateway_in, sim.uptime.quiet(self.server)
        service, draw = sim.service_time(self.server, "gateway_in")
        while True:
            if draw is not None:
                service = draw()
            envelope = (
                (yield queue.served(service))
                if quiet
                else (yield from sim.uptime.take(queue, self.server, "is", service, "a gateway-in thread"))
            )
            if envelope is None:
                continue
            gateway = sim.gateways[envelope.gateway]
            message = envelope.message
            defect = sim.defect(f"gateway_in:{gateway.kind}", self.server, message)
            if defect is not None:
                gdi = sim.gdi_for_defect(self.server, message)
                logged = sim.events.q166866_transfer_in_failed(sim.env.now, self.server)
                if message.traced:
                    sim.trace(
                        message,
                        f"store on {self.server}: gateway transfer-in to {gateway.name} FAILED: "
                        f"building the bilateral-info entry from GDI '{gdi}' (no PRMD) returned "
                        f"ecObjectInvalid 0xBB8 ({defect.kb}, {sim.version(self.server)})",
                        self.server,
                        "store (gateway-in thread)",
                        defect=defect.kb,
                    )
                sim.trace_events(message, logged)
                sim.fail(
                    envelope,
                    envelope.recipients,
                    defect.ndr_kind,
                    "MSExchangeIS",
                    self.server,
                    f"{defect.kb}: gateway transfer-in failed (ecObjectInvalid 0xBB8)",
                )
                continue
            if sim.tracking.enabled:
                sim.tracking.record(
                    sim.env.now,
                    self.server,
                    logs.GATEWAY_TRANSFER_OUT,
                    message.mts_id,
                    gateway=gateway.name,
                    partner="Store",
                    originator=message.originator,
                    recipients=envelope.recipients,
                )
            if message.traced:
                sim.trace(
                    message,
                    f"store on {self.server}: gateway transfer-in into the MTS-OUT folder of {gateway.name}",
                    self.server,
                    "store (gateway-in thread)",
                )
            gateway.outbound(envelope)

    def _gateway_out_loop(self) -> ProcessGenerator[None]:
        sim = self.sim
        queue, quiet = self.mts_in, sim.uptime.quiet(self.server)
        service, draw = sim.service_time(self.server, "gateway_out")
        while True:
            if draw is not None:
                service = draw()
            envelope = (
                (yield queue.served(service))
                if quiet
                else (yield from sim.uptime.take(queue, self.server, "is", service, "a gateway-out thread"))
            )
            if envelope is None:
                continue
            message = envelope.message
            defect = sim.defect(f"gateway_out:{message.inbound_via}", self.server, message)
            if defect is not None:
                logged = sim.events.store_delivery_failed(sim.env.now, self.server)
                if message.traced:
                    sim.trace(
                        message,
                        f"store on {self.server}: delivery from {message.inbound_via} FAILED with "
                        f"0xBB8 ({defect.kb}, {sim.version(self.server)})",
                        self.server,
                        "store (gateway-out thread)",
                        defect=defect.kb,
                    )
                sim.trace_events(message, logged)
                sim.fail(
                    envelope,
                    envelope.recipients,
                    defect.ndr_kind,
                    "MSExchangeIS",
                    self.server,
                    f"{defect.kb}: store delivery failed (error 00000bb8)",
                )
                continue
            if sim.tracking.enabled:
                sim.tracking.record(
                    sim.env.now,
                    self.server,
                    logs.GATEWAY_TRANSFER_IN,
                    message.mts_id,
                    gateway=message.inbound_via or "",
                    partner="Store",
                    originator=message.originator,
                    recipients=envelope.recipients,
                )
            self.route_from_store(envelope)
