"""Messages, their recipients, and envelopes (a message on its way to some of them).

The MTA routes every recipient on its own, so a message travels as one or more
:class:`Envelope` objects, each carrying the recipients that take the same next
hop together with the routing state selection needs (the connector it came in
on, the sites passed, failed opens per connector, hops). A :class:`Recipient`
records its one final outcome; setting a second one is a bug and raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exsim.ndr import NdrKind
from exsim.routing import open_retries
from exsim.units import BYTES_PER_KB

PENDING, DELIVERED, MISDELIVERED, NDR, LOST = "pending", "delivered", "misdelivered", "ndr", "lost"
"""Outcomes. MISDELIVERED is mail delivered to a mailbox the sender did not mean (the
directory's fuzzy proxy search picked it, KB Q176046). LOST is mail Exchange itself lost
in a crash: it counts as pending in the books (never delivered, never reported) and is
reported apart as ``lost``."""

ADDRESSES_KEPT = 512
"""How many recipient addresses a store or an MTA keeps what it found out about (a home server,
a next hop, a route answer) before it starts afresh. The memory only spares looking things up
again, so starting afresh changes no decision; the bound keeps a big organization's components
from each holding every address (300 MTAs and stores x 60,000 addresses: bench100's day kept
3.2 million entries, 288 MB peak against 171 MB without; with this bound 181 MB)."""


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One line of a traced message's story (``exsim trace``, and ``--json`` for the explorer)."""

    time_s: float
    server: str
    component: str
    """Who acted: 'store', 'MTA', a gateway's name, or an event log source."""
    text: str
    kind: str = "step"
    """'step', 'event' (an event log entry), 'ndr', 'delivered', 'misdelivered', 'lost' or 'report'."""
    report: bool = False
    """About the non-delivery report sent back for the message, not the message itself."""
    event_id: int | None = None
    defect: str | None = None
    """The KB article of a defect that bit here (its fix is in exsim.versions)."""


@dataclass(slots=True, eq=False)
class Recipient:
    address: str
    kind: str
    """Recipient class for statistics: same_server, same_site, other_site, internet, msmail,
    distribution_list, inbound_internet, inbound_msmail, report."""
    outcome: str = PENDING
    time_s: float = 0.0
    ndr: NdrKind | None = None
    component: str = ""
    detail: str = ""
    intended: str | None = None
    """Alias of the mailbox the sender meant, when the address is not that mailbox's exact
    proxy; None for a recipient outside the organization (a foreign X.400 user)."""
    misdirected: str = ""
    """Set by the directory when a fuzzy match resolved the address to a mailbox other than
    ``intended``: which mailbox, and why. Its delivery is then a misdelivery."""
    misdirected_by: str | None = None
    """The KB article of the defect that misdirected it (Q176046), for the trace's fix line."""
    one_off: bool = False
    """Addressed by a proxy (SMTP or MS) typed as a one-off or taken from a personal address
    book, rather than picked from the Global Address List (KB Q185024)."""


@dataclass(slots=True, eq=False)
class Message:
    id: int
    mts_prefix: str
    """GDI and server of the MTS-ID, e.g. ``c=US;a= ;p=Contoso;l=RED-EX1``."""
    originator: str
    origin_server: str | None
    """Home server of an internal originator; None for mail from outside."""
    submitted_s: float
    size_kb: float
    recipients: list[Recipient]
    counted: bool = True
    """False for mail submitted during the warm-up (left out of the statistics)."""
    report_for: Message | None = None
    inbound_via: str | None = None
    traced: bool = False
    stamp_s: float = 0.0
    """Submission time by the clock of the server that stamped it (clocks can be off, KB Q158399)."""
    client: str = ""
    """The mail client that submitted it (exchange_4_0, exchange_5_0, outlook_97, outlook_98)."""
    reports_on: list[Recipient] | None = None
    """For a report (NDR): the recipients of ``report_for`` it tells the originator of. Should
    the report itself not be delivered, they failed unreported."""

    @property
    def is_report(self) -> bool:
        return self.report_for is not None

    @property
    def size_bytes(self) -> float:
        """The size in bytes, as size limits and the tracking log's length field count it."""
        return self.size_kb * BYTES_PER_KB

    @property
    def mts_id(self) -> str:
        """``c=US;a= ;p=ORG;l=SERVER-970611170218Z-42``: made only when a log needs it."""
        from exsim.logs import timestamp

        return f"{self.mts_prefix}-{timestamp(self.submitted_s):%y%m%d%H%M%S}Z-{self.id}"


@dataclass(slots=True, eq=False)
class Envelope:
    """A message heading for some of its recipients, with its routing state
    (a :class:`exsim.routing.RouteState`, which route selection reads)."""

    message: Message
    recipients: list[Recipient] = field(default_factory=list)
    arrived_on: str | None = None
    """The connector it came in on."""
    visited_sites: tuple[str, ...] = ()
    attempts: dict[str, int] = field(default_factory=dict)
    """Failed opens per connector: the first is the initial open, the rest are retries."""
    hops: int = 0
    gateway: str | None = None
    queued_s: float = 0.0
    refused: tuple[str, ...] = ()
    """Connectors in the current site that handed the message back (not chosen again here)."""
    final_server: str | None = None
    """Set when every recipient is a mailbox on the server it is being sent to over RPC:
    that server's MTA hands it to its store without routing it again."""
    from_mta: str | None = None
    """The MTA that transferred it to the MTA now holding it; None when it came from this
    server's own store (a submission, a gateway)."""

    def split(self, recipients: list[Recipient]) -> Envelope:
        """A copy for a subset of the recipients (routing state copied, not shared)."""
        # Positional, in the order of the fields (keywords cost a run measurably: a split
        # happens for most recipients of a message with several).
        return Envelope(
            self.message,
            recipients,
            self.arrived_on,
            self.visited_sites,
            dict(self.attempts) if self.attempts else {},
            self.hops,
            self.gateway,
            self.queued_s,
            self.refused,
        )

    def retries(self, connector: str) -> int:
        """The message's retry count on a connector (failed opens after the first)."""
        return open_retries(self, connector)

    @property
    def pending(self) -> list[Recipient]:
        return [r for r in self.recipients if r.outcome == PENDING]
