"""What an Exchange administrator read: the NT application event log and the
message tracking log.

Event texts are written in the shape Exchange 5.0 logged them (ids, sources,
types and categories as in the Knowledge Base); the tracking log follows the
tab-separated daily file format, one file per server per simulated day, named
``YYYYMMDD.log`` in GMT. Simulated time 0 is Monday 9 June 1997, 00:00 GMT
(the week SP1-era NDRs in KB Q166866 are dated).
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import functools
import inspect
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from exsim.names import safe_file_name
from exsim.versions import BUILDS

if TYPE_CHECKING:
    import pandas as pd

EPOCH = dt.datetime(1997, 6, 9, 0, 0, 0)

IS_SOURCE = "MSExchangeIS Private"
MTA_SOURCE = "MSExchangeMTA"
MSMI_SOURCE = "MSExchangeMSMI"


def timestamp(time_s: float) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=time_s)


@dataclass(frozen=True, slots=True)
class EventEntry:
    time_s: float
    server: str
    source: str
    event_id: int
    type: str
    category: str
    text: str


EVENT_COLUMNS = ("time_s", "server", "source", "event_id", "type", "category", "text")


class EventLog:
    """The application event logs of every server, in time order."""

    def __init__(self) -> None:
        self.entries: list[EventEntry] = []

    def log(
        self, time_s: float, server: str, source: str, event_id: int, type_: str, category: str, text: str
    ) -> EventEntry:
        entry = EventEntry(time_s, server, source, event_id, type_, category, text)
        self.entries.append(entry)
        return entry

    # -- the events exsim's components write ---------------------------------
    def q166866_transfer_in_failed(self, time_s: float, server: str) -> list[EventEntry]:
        return [
            self.log(
                time_s,
                server,
                IS_SOURCE,
                1026,
                "Warning",
                "Transport General",
                "An error occurred with the following call stack:\n"
                "FStartTransferIn EcDeliverGWMessage(): 0000000bb8\n"
                "EcTferInMessage(): 0000000bb8\n"
                "EcBilateralInfoEntryFromOmObj(): 0000000bb8",
            ),
            self.log(
                time_s, server, IS_SOURCE, 2007, "Error", "MTA Connections", "ma_open returned error 22."
            ),
        ]

    def store_delivery_failed(self, time_s: float, server: str) -> list[EventEntry]:
        return [
            self.log(
                time_s,
                server,
                IS_SOURCE,
                2025,
                "Error",
                "Transport Delivering",
                "The delivery of a message failed due to error 00000bb8. A non-delivery report "
                "is being sent to the message's originator.\nEcDoDeliverMessage(): 00000bb8",
            )
        ]

    def open_failed(
        self,
        time_s: float,
        server: str,
        entity: str,
        interval_s: float,
        block: int,
        association_ended: bool = False,
    ) -> None:
        """The MTA could not open an association (289, with 4284 and 4287, the pair a network
        that is down brings, KB Q175354), or gave an open one up after max transfer retries
        (1294, KB Q157630), and started its open retry timer (301). While mail waits this comes
        again every open interval."""
        if association_ended:
            self.association_ended(time_s, server, entity)
            self._open_retry_timer(time_s, server, entity, interval_s, block)
            return
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            4284,
            "Warning",
            "X.400 Service",
            "An error has occurred during connection/disconnection. Error code=8511.",
        )
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            4287,
            "Warning",
            "X.400 Service",
            "An internal MTA error occurred. Contact Microsoft Product Support Services. Error code=8640.",
        )
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            289,
            "Warning",
            "X.400 Service",
            f"A connection to {entity} could not be opened.",
        )
        self._open_retry_timer(time_s, server, entity, interval_s, block)

    def _open_retry_timer(
        self, time_s: float, server: str, entity: str, interval_s: float, block: int
    ) -> None:
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            301,
            "Information",
            "X.400 Service",
            f"An open retry delay timer started on the association to {entity} on control block "
            f"{block}. Another attempt to reopen the association will be made in {interval_s:g} seconds.",
        )

    def association_ended(self, time_s: float, server: str, entity: str) -> None:
        """An open association broke: its transfers kept failing, or an end crashed (KB Q157630)."""
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            1294,
            "Warning",
            "X.400 Service",
            f"An association with entity {entity} ended abnormally.",
        )

    def delivery_failed(self, time_s: float, server: str, mts_id: str, reason: str, diagnostic: str) -> None:
        """The MTA could not pass a message on, before its NDRs (event 62, KB Q197058)."""
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            62,
            "Warning",
            "X.400 Service",
            f"A delivery failure occurred for the message with message transfer service identifier "
            f"{mts_id}. X.400 reason code {reason}. Diagnostic {diagnostic}. Contact Microsoft Product "
            "Support Services.",
        )

    def report_unroutable(self, time_s: float, server: str, mts_id: str) -> None:
        """The MTA could not send a report on its way back: the report is lost (event 141, KB Q197058)."""
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            141,
            "Warning",
            "X.400 Service",
            f"The MTA is unable to route a report for message {mts_id}. Check the routing table for a "
            "possible incorrect routing configuration.",
        )

    def ndr_generated(
        self,
        time_s: float,
        server: str,
        reason: str,
        diagnostic: str,
        mts_id: str,
        recipient: str,
        number: int,
    ) -> None:
        self.log(
            time_s,
            server,
            MTA_SOURCE,
            290,
            "Warning",
            "X.400 Service",
            f"A non-delivery report (reason code {reason} and diagnostic code {diagnostic}) is being "
            f"generated for message {mts_id}. It was originally destined for {recipient} "
            f"(recipient number {number}).",
        )

    def msmi_failed(self, time_s: float, server: str) -> list[EventEntry]:
        return [
            self.log(
                time_s,
                server,
                MSMI_SOURCE,
                2335,
                "Information",
                "Session Data",
                "The MS Mail Connector Interchange opened an MTA session to take messages from the "
                "Exchange server.",
            ),
            self.log(
                time_s,
                server,
                MSMI_SOURCE,
                2380,
                "Error",
                "Session Error",
                "A memory access violation (a read from address 0x4) stopped the MS Mail Connector "
                "Interchange from processing a message.",
            ),
        ]


#: The gateway a server must host for each :class:`EventLog` method that logs to be called
#: there; None: any server can (its MTA logs it). The store logs 1026 and 2007 only while
#: handing mail to an IMS (KB Q166866) and 2025 only for mail an MS Mail connector took in
#: (Q176194); the MS Mail interchange logs its own (Q165485). Every method that logs is listed
#: (tests/test_expect.py checks it), so whoever adds an event says where it can come from.
LOGGED_ON: dict[str, str | None] = {
    "q166866_transfer_in_failed": "ims",
    "store_delivery_failed": "msmail",
    "open_failed": None,
    "_open_retry_timer": None,
    "association_ended": None,
    "delivery_failed": None,
    "report_unroutable": None,
    "ndr_generated": None,
    "msmi_failed": "msmail",
}


def _ids_logged_in(node: ast.AST) -> frozenset[int]:
    """The event ids the code under ``node`` passes to ``log`` (a literal id, or a module
    constant holding one; an id chosen in place, ``1294 if ended else 289``, gives both)."""
    ids: set[int] = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "log":
            given = call.args[3:4] + [k.value for k in call.keywords if k.arg == "event_id"]
            for part in (p for arg in given for p in ast.walk(arg)):
                value = part.value if isinstance(part, ast.Constant) else None
                if isinstance(part, ast.Name):
                    value = globals().get(part.id)
                if isinstance(value, int) and not isinstance(value, bool):
                    ids.add(value)
    return frozenset(ids)


@functools.cache
def event_ids_by_method() -> dict[str, frozenset[int]]:
    """For each :class:`EventLog` method that logs, the event ids it logs, read from its code."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(EventLog)))
    methods = (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))
    return {method.name: ids for method in methods if (ids := _ids_logged_in(method))}


@functools.cache
def logged_event_ids() -> frozenset[int]:
    """Every event id exsim can log: the ids :class:`EventLog`'s methods pass to ``log``.

    Read from the methods' own code, so an event added there is known to scenario validation
    without a second list to keep.
    """
    return frozenset().union(*event_ids_by_method().values())


@functools.cache
def gateways_logging(event_id: int) -> frozenset[str] | None:
    """The gateway kinds (``"ims"``, ``"msmail"``) one of which a server must host to log the
    event (:data:`LOGGED_ON`), or None when any server can (or exsim never logs it)."""
    kinds: set[str] = set()
    for method, ids in event_ids_by_method().items():
        if event_id in ids:
            needs = LOGGED_ON.get(method)
            if needs is None:
                return None
            kinds.add(needs)
    return frozenset(kinds) or None


UNUSED_SECONDS = 0
"""Field 10, "seconds": Exchange does not use it and writes 0 (or nothing), KB Q173280."""
UNUSED_COST = 1
"""Field 11, "cost": Exchange does not use it and always writes 1, KB Q173280 (not a connector's cost)."""


class TrackingLog:
    """Message tracking files ``DIR/<server>/YYYYMMDD.log``, written as events happen.

    Exchange's tracking log is a text file a spreadsheet can open: one daily file per server,
    named by its GMT date, fields separated by tabs (KB Q173280). Each file opens with
    :data:`HEADER_LINES` lines starting with ``#`` -- what the file is, the System Attendant
    build that wrote it, its date and the field names -- then one record per tracking event.
    Records are written by the ``csv`` module's tab dialect, so a field holding a tab, a quote
    or a line break is quoted and read back intact by ``csv.reader`` or ``pandas.read_csv``.
    Several recipients share the recipients field one per line, as the article describes the
    field repeated for each recipient.

    ``<server>`` is the server's name made a safe file name (:func:`safe_file_name`): a
    name from a scenario file never picks where a file goes. ``versions`` maps a server to
    its build (``"5.0-sp1"``), read when a day's file is created: a server upgraded during
    the day says so in the next day's header."""

    FIELDS = (
        "message id",
        "event #",
        "date/time",
        "gateway name",
        "partner name",
        "remote id",
        "originator",
        "priority",
        "length",
        "seconds",
        "cost",
        "report mts-id",
        "recipient count",
        "recipients",
        "report status",
    )
    HEADER_LINES = 4
    """Lines starting with ``#`` at the top of every file (``skiprows`` for a reader)."""

    def __init__(self, directory: Path | None, versions: Mapping[str, str] | None = None):
        self.directory = directory
        self.versions = versions if versions is not None else {}
        self._files: dict[tuple[str, str], IO[str]] = {}
        self._writers: dict[tuple[str, str], Any] = {}

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def header(self, server: str, when: dt.datetime) -> list[str]:
        """The comment lines that open a server's file for the day of ``when``."""
        version = self.versions.get(server)
        build = BUILDS[version].number if version in BUILDS else "5.0"
        return [
            "# Message Tracking Log File",
            f"# Exchange System Attendant Version {build}",
            f"# Date: {when:%Y/%m/%d} GMT",
            "# Fields: " + "\t".join(self.FIELDS),
        ]

    def record(
        self,
        time_s: float,
        server: str,
        event: int,
        mts_id: str,
        *,
        gateway: str = "",
        partner: str = "",
        remote_id: str = "",
        originator: str = "",
        priority: int = 0,
        length: int = 0,
        report_mts_id: str = "",
        recipients: Sequence[Any] = (),
        report_status: int | None = None,
    ) -> None:
        """One tracking record; ``recipients`` are addresses or objects with an ``address``.
        ``priority`` as KB Q173280 numbers it: 0 normal, 1 high, -1 low. Exchange uses neither
        the seconds nor the cost field: every record has 0 and 1 there. On a report's records,
        ``report_mts_id`` is the report's MTS-ID and ``report_status`` the report's status for
        its recipients (:data:`NOT_DELIVERED` for an NDR), written once per recipient listed;
        both stay blank on every other record."""
        if self.directory is None:
            return
        when = timestamp(time_s)
        day = when.strftime("%Y%m%d")
        writer = self._writers.get((server, day))
        if writer is None:
            folder = self.directory / safe_file_name(server)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{day}.log"
            fresh = not path.exists()
            # newline="" as the csv module asks: it writes the dialect's own line ends.
            handle = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115 - one open file per server-day, closed by close()
            if fresh:
                handle.write("\r\n".join(self.header(server, when)) + "\r\n")
            writer = csv.writer(handle, dialect="excel-tab")
            self._files[(server, day)] = handle
            self._writers[(server, day)] = writer
        writer.writerow(
            (
                mts_id,
                event,
                when.strftime("%Y/%m/%d %H:%M:%S GMT"),
                gateway,
                partner,
                remote_id,
                originator,
                priority,
                length,
                UNUSED_SECONDS,
                UNUSED_COST,
                report_mts_id,
                len(recipients),
                "\n".join(str(getattr(r, "address", r)) for r in recipients),
                "" if report_status is None else "\n".join([str(report_status)] * len(recipients)),
            )
        )

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._writers.clear()


def read_tracking_log(path: Path | str) -> pd.DataFrame:
    """One tracking file as a table: a column per field of :attr:`TrackingLog.FIELDS`, every
    value a string as written (a record's recipients one per line in ``recipients``)."""
    import pandas as pd  # only readers pay for pandas

    return pd.read_csv(
        path,
        sep="\t",
        skiprows=TrackingLog.HEADER_LINES,
        header=None,
        names=list(TrackingLog.FIELDS),
        dtype=str,
        keep_default_na=False,
        encoding="utf-8",
    )


# Tracking event numbers (KB Q173364).
TRANSFER_IN = 0
REPORT_TRANSFER_IN = 2
SUBMISSION = 4
TRANSFER_OUT = 7
REPORT_TRANSFER_OUT = 8
DELIVERED = 9
REPORT_DELIVERED = 10
MESSAGE_REROUTED = 29
REPORT_GENERATED = 34
UNROUTABLE_REPORT_DISCARDED = 43
LOCAL_DELIVERY = 1000
GATEWAY_TRANSFER_OUT = 1003
GATEWAY_TRANSFER_IN = 1004
GATEWAY_REPORT_TRANSFER_IN = 1005
GATEWAY_REPORT_TRANSFER_OUT = 1006
GATEWAY_REPORT_GENERATED = 1007
SMTP_QUEUED_OUTBOUND = 1010
SMTP_TRANSFERRED_OUTBOUND = 1011
SMTP_RECEIVED_INBOUND = 1012
SMTP_TRANSFERRED_INBOUND = 1013
SMTP_REPORT_TRANSFERRED_IN = 1015
SMTP_REPORT_TRANSFERRED_OUT = 1016
SMTP_REPORT_GENERATED = 1017
SMTP_REPORT_ABSORBED = 1018


@dataclass(frozen=True, slots=True)
class ReportEvents:
    """How the component that non-delivers mail logs it: the event of the report it generates
    and the event of a report it cannot deliver (none is generated on a report), with the
    gateway it names. The MTA and the store: 34 and 43. A gateway writes its own (KB Q173364):
    the IMS 1017 and 1018, another gateway 1007 (and 43: the article has no discard of its own
    for one)."""

    generated: int = REPORT_GENERATED
    discarded: int = UNROUTABLE_REPORT_DISCARDED
    gateway: str = ""


BY_THE_MTA = ReportEvents()
"""Reports made or discarded by the MTA or the store (no gateway)."""

# Recipient report status (KB Q173280 field 15), per recipient on a report's records.
DELIVERED_STATUS = 0
"""A delivery receipt: the report says the message reached the recipient (exsim makes none)."""
NOT_DELIVERED = 1
"""A non-delivery report: the report says the message did not reach the recipient."""

REPORT_EVENTS: dict[int, int | None] = {
    TRANSFER_IN: REPORT_TRANSFER_IN,
    TRANSFER_OUT: REPORT_TRANSFER_OUT,
    DELIVERED: REPORT_DELIVERED,
    LOCAL_DELIVERY: REPORT_DELIVERED,
    GATEWAY_TRANSFER_OUT: GATEWAY_REPORT_TRANSFER_OUT,
    GATEWAY_TRANSFER_IN: GATEWAY_REPORT_TRANSFER_IN,
    SMTP_QUEUED_OUTBOUND: SMTP_REPORT_TRANSFERRED_OUT,
    SMTP_TRANSFERRED_OUTBOUND: None,
    SMTP_RECEIVED_INBOUND: SMTP_REPORT_TRANSFERRED_IN,
    SMTP_TRANSFERRED_INBOUND: None,
}
"""The event a report (an NDR) is logged with where a message would be logged with the key
(KB Q173364 numbers reports apart from messages). A report has one delivery event, 10, on
the server that made it as on any other (1000 is for a user's mail to a mailbox on the
sender's own server). The Internet Mail Service has one report event each way where a
message has two: 1016 when the report is handed to it (a message's 1010), 1015 when it
receives one (1012); None: no record. An event missing here (29, a reroute) is the same for
a report."""


def report_event(event: int) -> int | None:
    """The event number of ``event`` when what it logs is a report (see :data:`REPORT_EVENTS`)."""
    return REPORT_EVENTS.get(event, event)
