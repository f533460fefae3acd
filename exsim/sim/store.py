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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exsim import logs
from exsim.sim.message import ADDRESSES_KEPT, Envelope, Message, Recipient
from exsim.sim.ports import Collaborators, Component, ServiceTime
from exsim.sim.queue import MailQueue, ProcessGenerator, Worker
from exsim.sim.resolver import UNRESOLVED_ONE_OFFS
from exsim.versions import Defect

if TYPE_CHECKING:
    from exsim.routing import Router
    from exsim.sim.ports import GatewayInbox


@dataclass(frozen=True)
class StoreSettings:
    """How one server's store is set up: its threads and their work per message."""

    server: str
    client_threads: int
    """Client submissions the store takes in at once (they share one submission queue)."""
    gateway_in_threads: int
    gateway_out_threads: int
    submit_time: ServiceTime
    delivery_time: ServiceTime
    gateway_in_time: ServiceTime
    gateway_out_time: ServiceTime


class InformationStore(Component):
    """The store of one server: client submissions, delivery, and the gateway threads.

    Built with everything it uses (see :mod:`exsim.sim.ports`): its settings and the
    collaborators every component has: the clock, the directory (``routing``: which mailbox an
    address names), the builds (its defects), the uptime of its server, the books, the hand-offs
    to its MTA and the gateways, and the logs.
    """

    def __init__(self, around: Collaborators, settings: StoreSettings):
        super().__init__(around)
        self.settings = settings
        self.server = settings.server
        self._mailbox_here = f"mailbox on {self.server}"
        """Where the store's deliveries land, as the books record it (made once, not per delivery)."""
        self._router: Router | None = None
        self._homes: dict[str, str] = {}
        """The home server of each recipient address the store has looked up ('' for an address
        no mailbox has), while the directory it asked stays the same (``_router``)."""
        self._gateways: dict[str, tuple[GatewayInbox, str]] = {}
        """Each gateway the gateway-in threads have handed mail to, with the point where a defect
        strikes its transfer-in."""
        env = self.env
        self.delivery = MailQueue(env)
        self.gateway_in = MailQueue(env)
        self.mts_in = MailQueue(env)
        self.submissions = MailQueue(env)
        self._start(self.delivery, settings.delivery_time, "the store's delivery thread", self._deliver)
        for _ in range(settings.client_threads):
            # A submission cut off by a crash never reached the store: the client sends it again.
            self._start(self.submissions, settings.submit_time, None, self._accept)
        for _ in range(settings.gateway_in_threads):
            self._start(self.gateway_in, settings.gateway_in_time, "a gateway-in thread", self._transfer_in)
        for _ in range(settings.gateway_out_threads):
            self._start(self.mts_in, settings.gateway_out_time, "a gateway-out thread", self._transfer_out)

    @property
    def queued(self) -> int:
        return len(self.delivery) + len(self.gateway_in) + len(self.mts_in) + len(self.submissions)

    def _start(
        self, queue: MailQueue, time: ServiceTime, lost_in: str | None, handle: Callable[[Any], None]
    ) -> None:
        """Start one of the store's threads: take the next item of ``queue`` once its service time
        is spent and ``handle`` it. On a server that nothing stops, one event per item (a
        :class:`Worker`); otherwise a crash during the work loses the item (``lost_in`` names
        the thread) or, with ``lost_in=None``, makes the thread do the work again."""
        service, draw = time
        if self.uptime.quiet(self.server):
            Worker(queue, service, handle, draw)
        else:
            self.env.process(self._thread(queue, service, draw, lost_in, handle))

    def _thread(
        self,
        queue: MailQueue,
        service: float,
        draw: Callable[[], float] | None,
        lost_in: str | None,
        handle: Callable[[Any], None],
    ) -> ProcessGenerator[None]:
        """A store thread on a server that stops or crashes (see :meth:`_start`)."""
        take = self.uptime.take
        while True:
            if draw is not None:
                service = draw()
            item = yield from take(queue, self.server, "is", service, lost_in)
            if item is not None:
                handle(item)

    # --- clients ------------------------------------------------------------
    def submit(self, message: Message) -> None:
        """A client sends a message; the store's client threads take it in turn."""
        self.submissions.put(message)

    def _accept(self, message: Message) -> None:
        if self.tracking_on:
            self.track(logs.SUBMISSION, message, message.recipients, partner="Store")
        if message.traced:
            self.books.trace(
                message,
                f"submitted by {message.originator} to the store on {self.server} "
                f"({len(message.recipients)} recipient(s), {message.size_kb:g} KB)",
                self.server,
                "store",
            )
        # Positional, in the order of Envelope's fields (keywords cost a run measurably).
        self.route_from_store(
            Envelope(message, list(message.recipients), None, (), {}, 0, None, self.env._now)
        )

    def route_from_store(self, envelope: Envelope) -> None:
        """Recipients homed here are delivered by the IS; the rest go to the MTA.
        The 4.0 client leaves one-off proxy addresses unresolved, so those go to the MTA too
        (KB Q185024).

        Mail from outside (SMTP, MS Mail) is held to the message lifetime by this server's
        clock like mail the MTA routes: on a server whose clock is more than the lifetime
        ahead it expires even when the store delivers it itself (KB Q158399).
        """
        if self.books.past_lifetime(envelope, self.server):
            return
        local: list[Recipient] = []
        remote: list[Recipient] = []
        unresolved = envelope.message.client in UNRESOLVED_ONE_OFFS
        server = self.server
        router = self.routing.router
        if router is not self._router:  # the directory changed: what it said before no longer holds
            self._router, self._homes = router, {}
        homes = self._homes
        if len(homes) > ADDRESSES_KEPT:
            homes.clear()
        for recipient in envelope.recipients:
            address = recipient.address
            home = homes.get(address)
            if home is None:
                box = self.routing.mailbox_of(address)
                home = homes[address] = box.server if box is not None else ""
            here = home == server and not (unresolved and recipient.one_off)
            (local if here else remote).append(recipient)
        if local and not remote:
            self.delivery.put(envelope)
            return
        if local:
            self.delivery.put(envelope.split(local))
        if remote:
            if envelope.message.traced:
                self.books.trace(
                    envelope.message,
                    f"store on {self.server} hands {len(remote)} recipient(s) to its MTA",
                    self.server,
                    "store",
                )
            self.own_mta.receive(envelope if not local else envelope.split(remote))

    # --- the store's own threads ------------------------------------------------
    def _deliver(self, envelope: Envelope) -> None:
        message = envelope.message
        if self.tracking_on:
            local = message.origin_server == self.server and message.inbound_via is None
            self.track(
                logs.LOCAL_DELIVERY if local else logs.DELIVERED,
                message,
                envelope.recipients,
                partner="Store",
            )
        self.books.deliver(envelope, envelope.recipients, self._mailbox_here, self.server, "store")

    def _transfer_in(self, envelope: Envelope) -> None:
        """A gateway-in thread: mail the MTA queued for a gateway, into the gateway's MTS-OUT."""
        assert envelope.gateway is not None  # the MTA names the gateway it queued the mail for
        found = self._gateways.get(envelope.gateway)
        if found is None:  # (the gateways are built once, before any mail moves)
            gateway = self.post.gateway(envelope.gateway)
            found = self._gateways[envelope.gateway] = (gateway, f"gateway_in:{gateway.kind}")
        gateway, point = found
        message = envelope.message
        defect = self.builds.defect(point, self.server, message)
        if defect is not None:
            gdi = self.builds.gdi_for_defect(self.server, message)
            self._struck(
                envelope,
                defect,
                self.events.q166866_transfer_in_failed(self.env._now, self.server),
                f"gateway transfer-in to {gateway.name} FAILED: building the bilateral-info entry "
                f"from GDI '{gdi}' (no PRMD) returned ecObjectInvalid 0xBB8",
                "store (gateway-in thread)",
                "gateway transfer-in failed (ecObjectInvalid 0xBB8)",
            )
            return
        if self.tracking_on:
            self.track(
                logs.GATEWAY_TRANSFER_OUT, message, envelope.recipients, gateway=gateway.name, partner="Store"
            )
        if message.traced:
            self.books.trace(
                message,
                f"store on {self.server}: gateway transfer-in into the MTS-OUT folder of {gateway.name}",
                self.server,
                "store (gateway-in thread)",
            )
        gateway.outbound(envelope)

    def _transfer_out(self, envelope: Envelope) -> None:
        """A gateway-out thread: mail a gateway put into MTS-IN, on to a mailbox or the MTA."""
        message = envelope.message
        defect = self.builds.defect(f"gateway_out:{message.inbound_via}", self.server, message)
        if defect is not None:
            self._struck(
                envelope,
                defect,
                self.events.store_delivery_failed(self.env._now, self.server),
                f"delivery from {message.inbound_via} FAILED with 0xBB8",
                "store (gateway-out thread)",
                "store delivery failed (error 00000bb8)",
            )
            return
        self.track(
            logs.GATEWAY_TRANSFER_IN,
            message,
            envelope.recipients,
            gateway=message.inbound_via or "",
            partner="Store",
        )
        self.route_from_store(envelope)

    def _struck(
        self,
        envelope: Envelope,
        defect: Defect,
        logged: list[logs.EventEntry],
        story: str,
        thread: str,
        failure: str,
    ) -> None:
        """A store defect struck a gateway thread: the events it logged, the story, the NDR."""
        message = envelope.message
        if message.traced:
            self.books.trace(
                message,
                f"store on {self.server}: {story} ({defect.kb}, {self.builds.version(self.server)})",
                self.server,
                thread,
                defect=defect.kb,
            )
        self.books.trace_events(message, logged)
        self.books.fail(
            envelope,
            envelope.recipients,
            defect.ndr_kind,
            "MSExchangeIS",
            self.server,
            f"{defect.kb}: {failure}",
        )
