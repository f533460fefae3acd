"""The scenario schema: pydantic models of every table a scenario file holds.

This is the only module that knows the file format. A scenario names an
organization, its sites (with site addresses), servers, connectors, the
workload, timed events, sweep variables and run settings. Loading happens in
three steps and reports *every* problem at once, each with the file, the line,
the path inside the file (``servers[2].site``) and what to do about it:

1. TOML syntax (``tomllib``; the first syntax error stops everything),
2. the schema (pydantic models below; unknown keys get a did-you-mean),
3. cross-references pydantic cannot see: unknown or duplicate names, sites no
   connector reaches, servers in a site without an X.400 address, sweep paths
   that match nothing.

Every default lives in a ``Field`` with a description, so ``exsim schema``
documents the format completely.
"""

# No ``from __future__ import annotations`` here, on purpose: pydantic would then have to
# evaluate every field's annotation from its text when each model is defined (a compile and an
# eval per field), which is a noticeable part of how long `exsim validate` takes to start.
# Annotations are objects as written; a model's method returning its own class says ``Self``.
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from exsim.address import (
    AddressError,
    parse_x400,
    validate_ms_site_address,
    validate_smtp_site_address,
    validate_x400,
)
from exsim.columns import OutcomeMetric
from exsim.constraint import MAX_DEPTH as MAX_CONSTRAINT_DEPTH
from exsim.constraint import MAX_LENGTH as MAX_CONSTRAINT_LENGTH
from exsim.names import refused_characters, spoken_list
from exsim.scenario.paths import named_sweep_value
from exsim.schedule import Schedule, parse_daily_hours, parse_schedule
from exsim.units import DURATION_PATTERN, Duration, Rate, Size, format_duration, parse_duration_s
from exsim.versions import Version, describe_builds

#: Usage profiles: (messages sent per user per day, mean addressed recipients per message).
#: LoadSim light/medium/heavy: recipients = received / sent per day; MMB: 4.7 per message.
PROFILES: dict[str, tuple[float, float]] = {
    "light": (6.7, 20.4 / 6.7),
    "medium": (19.8, 55.9 / 19.8),
    "heavy": (38.6, 118.9 / 38.6),
    "mmb": (14.18, 4.7),
}
#: The Internet domains the workload's users mail (user1 to user50 at each), each as likely as the
#: next: an SMTP address space that takes only some of them leaves the rest to NDRs.
INTERNET_DOMAINS: tuple[str, ...] = tuple(f"example{n}.com" for n in range(1, 21)) + (
    "example.ie",
    "example.co.uk",
)
#: Refuse runs estimated above this many recipients (hours of wall time) unless run.allow_long.
MAX_RECIPIENTS_PER_RUN = 50_000_000
#: Simulation speed for the size estimate: recipients simulated per CPU-second of one core. A
#: fixed figure, so the same scenario gets the same estimate every time: what
#: ``python benchmarks/run.py`` measures on the 2-core development machine (13,000-19,000 a
#: CPU-second over its shapes and the 100-site day; README, Performance) rounded down, so
#: that a somewhat slower machine's estimate is not too short.
RECIPIENTS_PER_SECOND = 10_000
Profile = Literal["light", "medium", "heavy", "mmb"]
Service = Literal["is", "mta", "ims", "msmail"]
Client = Literal["exchange_4_0", "exchange_5_0", "outlook_97", "outlook_98"]


# --- problems ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario that cannot be used, with every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- field types ---------------------------------------------------------------


def _checked(validate: Callable[[str], list[str]]) -> AfterValidator:
    """A field check from an address validator that lists what is wrong (nothing when valid)."""

    def check(value: str) -> str:
        problems = validate(value)
        if problems:
            raise ValueError(f"invalid address {value!r}: " + "; ".join(problems))
        return value

    return AfterValidator(check)


X400SiteAddress = Annotated[str, _checked(validate_x400)]
SmtpSiteAddress = Annotated[str, _checked(validate_smtp_site_address)]
MsSiteAddress = Annotated[str, _checked(validate_ms_site_address)]


def _plain_text(value: str) -> str:
    """Refuse control and format characters in a name: a right-to-left override, for one,
    makes a name display as something other than what it is."""
    refused = refused_characters(value)
    if refused:
        raise ValueError(
            f"name {value!r} contains {', '.join(refused)}; a name may not hold control or format characters"
        )
    return value


def _not_blank(value: str) -> str:
    """Refuse a scenario name that is empty or only spaces: it names the results and their
    directory (``results/<name>-<hash>``), which would then start with no name at all."""
    if not value.strip():
        raise ValueError(f"name {value!r} is blank; give the scenario a name (it names its results)")
    return value


#: The rule every organization, site, server, connector and foreign-system name follows. The first
#: character is an ASCII letter or digit on purpose: a name is typed after options on command lines
#: (``--from``, ``--site``), so it must never read as one (``-x``), and it becomes part of file
#: names, so it must never be hidden or relative (``.x``, ``..``); spaces at either end would make
#: two names that look alike differ.
NAME_PATTERN = r"^[A-Za-z0-9]([^\x00-\x1f]*[^\s])?$"
#: Sweep variable names become results columns and constraint identifiers.
COLUMN_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: A mailbox alias is the local part of its SMTP address.
ALIAS_PATTERN = r"^[A-Za-z0-9._-]+$"
#: An address type as the Administrator program lists it (SMTP, X400, MS, or a custom one).
ADDRESS_TYPE_PATTERN = r"^[A-Z0-9]{1,8}$"
#: A daily window of working hours.
HOURS_PATTERN = r"^\d{2}:\d{2}-\d{2}:\d{2}$"

#: Each pattern above in words: a refused value is told the rule, never the regular expression.
PATTERN_RULES = {
    NAME_PATTERN: "a name starts with a letter or digit (A-Z, a-z, 0-9; not '.', '-', '[', '_' or a "
    "space), does not end with a space, and holds no tabs or line breaks; after the first character "
    "spaces, dots, slashes, brackets and accented letters are all allowed",
    COLUMN_NAME_PATTERN: "a sweep variable's name is letters, digits and '_', not starting with a digit "
    "(it becomes a results column and a name in sweep.constraint)",
    ALIAS_PATTERN: "an alias is letters, digits, '.', '_' and '-' only (it is the part of the SMTP "
    "address before the @)",
    ADDRESS_TYPE_PATTERN: "an address type is 1 to 8 capital letters or digits (SMTP, X400, MS, EX, ...)",
    HOURS_PATTERN: "working hours are written HH:MM-HH:MM, two digits each, e.g. '08:30-17:00'",
}

Name = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=NAME_PATTERN),
    AfterValidator(_plain_text),
]
Cost = Annotated[int, Field(ge=1, le=100)]
ScheduleField = Annotated[
    Schedule,
    BeforeValidator(parse_schedule),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["always", "never", "remote"]},
                {"type": "array", "items": {"type": "string"}},
            ],
            "description": "'always', 'never', 'remote' (the other side calls in) or a list of "
            "weekly windows like 'Mon-Fri 18:00-06:00'; simulated time 0 is Monday 00:00",
        }
    ),
]


def _no_items() -> list[Any]:
    """A new empty list: the default of a field that lists things (servers, mailboxes, ...).

    ``list`` itself would do, but pydantic reads a default factory's signature to see whether
    it takes the data validated so far, and a builtin's signature is text that ``inspect``
    tokenizes, whose regular expressions cost a few milliseconds to compile at each start of a
    command that loads a scenario; a Python function's signature is read directly.
    """
    return []


def as_written(value: object) -> Any:
    """A field's default as a scenario file would write it (``"50ms"``, ``{}``).

    The models validate their defaults (``validate_default``), so the value becomes the
    field's type like any other input, and the JSON Schema shows it the way a user
    writes it. Typed ``Any`` for that reason: it is input, not yet the field's type.
    """
    return value


class _Model(BaseModel):
    # NaN and infinity are valid TOML floats but never a meaningful count, rate or share.
    # defer_build: pydantic builds a model's validator when it first validates, not when the
    # class is defined; a scenario is validated as a whole, so most nested models never need
    # their own validator and start-up skips building them.
    # Strict: a value of the wrong TOML type is refused, not coerced ("2" is no cost, "yes" no
    # boolean, 2.0 no count); an integer where a float is expected is still that float.
    model_config = ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,
        validate_default=True,
        allow_inf_nan=False,
        defer_build=True,
        strict=True,
    )


# --- organization -----------------------------------------------------------------


class Organization(_Model):
    name: Name = Field(description="Organization name, the /o= of every distinguished name")


class SiteAddresses(_Model):
    x400: X400SiteAddress | None = Field(
        None,
        description="X.400 site address in Exchange's string form, e.g. 'c=US;a= ;p=Contoso;o=Redmond'. "
        "Setup's default has p=<organization>; without p= a site is open to the SP1 defect (KB Q166866).",
    )
    smtp: SmtpSiteAddress | None = Field(
        None, description="SMTP site address, e.g. '@redmond.contoso.com'; users get alias@domain"
    )
    ms: MsSiteAddress | None = Field(
        None, description="MS Mail site address NETWORK/POSTOFFICE/, e.g. 'CONTOSO/REDMOND/'"
    )


class Site(_Model):
    name: Name = Field(description="Site name, the /ou= of its distinguished name")
    addresses: SiteAddresses = Field(description="Site addresses, one per address type")
    isolated: bool = Field(
        False, description="True when no connector is meant to reach this site (otherwise an error)"
    )


class Mailbox(_Model):
    alias: Annotated[str, Field(min_length=1, max_length=64, pattern=ALIAS_PATTERN)] = Field(
        description="Mailbox alias, the local part of its SMTP address"
    )
    surname: str = Field(description="Surname (s=) of its X.400 address")
    given: str | None = Field(None, description="Given name (g=) of its X.400 address")


def _default_clients() -> dict[Client, float]:
    return {"exchange_5_0": 1.0}


class Server(_Model):
    @model_validator(mode="after")
    def _client_shares_add_up(self) -> Self:
        total = sum(self.clients.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"client shares add up to {total:g}, not 1")
        return self

    name: Name = Field(description="Server (NetBIOS) name")
    site: str = Field(description="Name of the site the server belongs to")
    version: Version = Field("5.0", description=f"Exchange build: {describe_builds()}")
    users: int = Field(0, ge=0, description="Number of mailboxes homed on the server")
    profile: Profile | None = Field(
        None, description="Usage profile of its users; default: the workload's profile"
    )
    mailboxes: list[Mailbox] = Field(
        default_factory=_no_items, description="Named mailboxes, in addition to the anonymous users"
    )
    gateway_in_threads: int = Field(
        1, ge=1, le=32, description="IS threads moving gateway-bound mail from the MTA into MTS-OUT"
    )
    gateway_out_threads: int = Field(
        1, ge=1, le=32, description="IS threads moving MTS-IN mail from gateways to the MTA"
    )
    clock_offset: Duration = Field(
        as_written("0s"), description="How far the server's clock is ahead (KB Q158399), e.g. '8d'"
    )
    mta_max_message_size: Size | None = Field(
        None,
        description="Size limit set on the server's MTA object: larger mail is NDR'd at once (KB Q160534)",
    )
    clients: dict[Client, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=_default_clients,
        description="Mail clients its users run, as shares adding up to 1, e.g. {exchange_4_0 = 0.3, "
        "outlook_97 = 0.7}. The 4.0 client leaves one-off proxy addresses for the MTA (KB Q185024)",
    )
    allow_fuzzy_proxy_search: Literal[0, 1, 2] | None = Field(
        None,
        description="The MTA registry DWORD 'Allow fuzzy proxy search' (KB Q176046): absent (the MTA "
        "assumes 1) or 1 full fuzzy search, ignoring the attributes an X.400 address leaves out; "
        "0 restricted (exact, or a unique surname + given-name match); 2 exact only. 5.0 RTM and SP1 "
        "still search fuzzily for an address without a PRMD whatever the value",
    )


# --- connectors -------------------------------------------------------------------


class AddressSpace(_Model):
    type: Annotated[str, Field(pattern=ADDRESS_TYPE_PATTERN)] = Field(
        description="Address type: SMTP, X400, MS, EX or another (custom) type"
    )
    pattern: str = Field(
        "*",
        description="Address space: '*' for everything, a domain such as '*.contoso.com', an X.400 "
        "partial address such as 'c=GB;a=TMAILUK;p=*', or '' (blank, which '*' beats)",
    )
    cost: Cost = Field(1, description="Cost 1-100; 1 is always used, 100 only when nothing else works")
    scope: Literal["organization", "site"] = Field(
        "organization", description="'site' keeps the address space in its own site (Exchange's LOCAL)"
    )


class LinkAddressSpace(AddressSpace):
    """An address space on one end of a site-linking connector.

    In Exchange each end of a link is its own connector object, configured by its own
    site: the site holding an address space advertises it, pointing out over the link
    to the other site, and never back the way mail came in (KB Q182128, Q149121)."""

    site: str | None = Field(
        None,
        description="The end (one of the connector's 'sites') whose connector object holds the "
        "address space; default: the first of 'sites'. List the space twice to put it on both ends.",
    )


class TargetServer(_Model):
    server: str = Field(description="A server in the remote site that accepts the connection")
    cost: int = Field(
        1, ge=0, le=100, description="0 tried first, 1-99 weighted, 100 only when all others failed"
    )


class Link(_Model):
    bandwidth: Rate = Field(
        as_written("64kbps"), gt=0, description="Link bandwidth, e.g. '64kbps', '1.544Mbps', '10Mbps'"
    )
    latency: Duration = Field(as_written("50ms"), description="One-way latency per transfer, e.g. '50ms'")
    drop_probability: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of transfers that fail mid-way; each is retried every transfer interval up "
        "to max transfer retries, then the association is given up like a failed open (1 = every one)",
    )


class Override(_Model):
    """MTA settings, per connector (the Override page); defaults are Exchange 5.0's."""

    max_open_retries: int = Field(
        144,
        ge=0,
        description="Open retries after the first failed open before queued mail is NDR'd "
        "(max_open_retries x open_interval after that first failure)",
    )
    open_interval: Duration = Field(as_written("600s"), gt=0, description="Wait between open attempts")
    max_transfer_retries: int = Field(2, ge=0, description="Transfer attempts over an open association")
    transfer_interval: Duration = Field(as_written("120s"), description="Wait between transfer attempts")
    association_lifetime: Duration = Field(
        as_written("300s"), description="Idle association kept open this long"
    )
    disconnect: Duration = Field(
        as_written("120s"), description="Time allowed for a graceful disconnect (not modelled)"
    )
    threshold_messages: int = Field(50, ge=1, description="Queued messages that open another association")
    max_associations: int = Field(4, ge=1, description="Associations the MTA opens to one peer at most")
    message_lifetime_urgent: Duration = Field(
        as_written("2d"),
        description="Lifetime of urgent mail in the MTA (not used: simulated mail is normal priority)",
    )
    message_lifetime_normal: Duration = Field(
        as_written("7d"), description="Lifetime of normal mail in the MTA"
    )
    message_lifetime_nonurgent: Duration = Field(
        as_written("10d"),
        description="Lifetime of non-urgent mail in the MTA (not used: simulated mail is normal priority)",
    )
    rts_checkpoint_size: Size = Field(as_written("30KB"), description="RTS checkpoint size (not modelled)")
    rts_recovery_timeout: Duration = Field(
        as_written("60s"), description="RTS recovery timeout (not modelled)"
    )
    rts_window_size: int = Field(5, ge=1, description="RTS window size (not modelled)")


class Internet(_Model):
    delay: Duration = Field(as_written("5s"), description="Time the remote side takes to accept a message")
    failure_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of delivery attempts the Internet side refuses"
    )


class _Connector(_Model):
    """What every connector has: a name, an activation schedule and the MTA's Override values."""

    name: Name = Field(description="Connector name as shown in the Administrator program")
    schedule: ScheduleField = Field(as_written("always"), description="Activation schedule")
    override: Override = Field(as_written({}), description="MTA retry and timeout settings")


class _LinkConnector(_Connector):
    sites: Annotated[list[str], Field(min_length=2, max_length=2)] = Field(
        description="The two sites the connector joins (one edge each way)"
    )
    cost: Cost = Field(1, description="Connector cost 1-100, accumulated across sites in the GWART")
    bridgeheads: list[str] = Field(
        default_factory=_no_items,
        description="Messaging bridgehead server in each site, in the order of 'sites'",
    )
    address_spaces: list[LinkAddressSpace] = Field(
        default_factory=_no_items,
        description="Extra address spaces reached through this connector (beyond the remote site's own), "
        "each held by one end: that site sends matching mail out over the connector",
    )
    link: Link = Field(as_written({}), description="The network link under the connector")


class SiteConnector(_LinkConnector):
    kind: Literal["site"]
    schedule: ScheduleField = Field(
        as_written("always"),
        description="Always 'always': a site connector is always active and cannot be scheduled "
        "(KB Q190022); for a link that opens only at set times use an X.400 connector",
    )
    bridgeheads: list[str] = Field(
        default_factory=_no_items,
        description="Optional bridgehead per site; empty means every server's MTA connects directly",
    )
    target_servers: list[TargetServer] = Field(
        default_factory=_no_items,
        description="Servers each side connects to, with target costs; default: every server, cost 1",
    )
    link: Link = Field(
        default=as_written({"bandwidth": "10Mbps", "latency": "5ms"}),
        description="LAN-speed link by default (site connectors need RPC connectivity)",
    )
    directory_replication: bool = Field(
        True,
        description="Whether the two sites replicate their directories (the usual case in one "
        "organization). Then the connector's address spaces are ignored except site-scoped ones: "
        "the remote site's replicated GWART says what it reaches (KB Q182128)",
    )

    @field_validator("schedule")
    @classmethod
    def _always_active(cls, schedule: Schedule) -> Schedule:
        """A site connector joins its sites over RPC whenever mail waits: Exchange offers it no
        schedule (KB Q190022), so one written here (other than "always") would have the model
        hold mail Exchange sends at once."""
        if schedule.kind != "always":
            raise ValueError(
                f"a site connector cannot be scheduled ({schedule.text!r}): it is always active, "
                "connecting over RPC whenever mail waits (KB Q190022); leave schedule out, or use "
                'an X.400 connector (kind = "x400"), whose schedule the MTA obeys'
            )
        return schedule


#: An X.400 or dial-up (RAS) connector runs on one MTA in each site, which must be named.
_REQUIRED_BRIDGEHEADS = Field(
    description="Messaging bridgehead server in each site, in the order of 'sites' (required: the "
    "connector runs on one MTA per site)",
)


class X400Connector(_LinkConnector):
    kind: Literal["x400"]
    bridgeheads: list[str] = _REQUIRED_BRIDGEHEADS


class RasConnector(_LinkConnector):
    kind: Literal["ras"]
    bridgeheads: list[str] = _REQUIRED_BRIDGEHEADS
    link: Link = Field(
        default=as_written({"bandwidth": "28.8kbps", "latency": "200ms"}),
        description="Dial-up link by default (28.8 kbps modem)",
    )


class _GatewayConnector(_Connector):
    server: str = Field(description="Server hosting the gateway")
    outbound_connections: int = Field(
        4,
        ge=1,
        le=64,
        description="Messages the gateway sends at once (a model parameter: the sources are silent)",
    )
    max_message_size: Size | None = Field(
        None, description="Larger messages are handed back to the MTA to be rerouted (KB Q160534)"
    )
    link: Link = Field(as_written({}), description="Link from the gateway to the foreign system")


class ImsConnector(_GatewayConnector):
    kind: Literal["ims"]
    address_spaces: list[AddressSpace] = Field(
        default=as_written([{"type": "SMTP", "pattern": "*", "cost": 1}]),
        description="Address spaces the IMS serves; default SMTP:* cost 1",
    )
    internet: Internet = Field(as_written({}), description="The Internet side the IMS delivers to")
    retry_intervals: list[Duration] = Field(
        default=as_written(["15m", "30m", "1h", "4h"]),
        description="IMS retry interval list, the last repeating; default .25, .5, 1, 4 hours",
    )
    message_timeout: Duration = Field(
        as_written("48h"), description="Normal-priority delivery timeout before an NDR"
    )


class MsMailConnector(_GatewayConnector):
    kind: Literal["msmail"]
    address_spaces: list[AddressSpace] = Field(
        default=as_written([{"type": "MS", "pattern": "*", "cost": 1}]),
        description="MS Mail address spaces (postoffices) served; default MS:* cost 1",
    )
    postoffice: Internet = Field(as_written({}), description="The MS Mail postoffice side")


class ForeignX400Connector(_GatewayConnector):
    """An X.400 Connector from a bridgehead's MTA to a foreign (non-Exchange) X.400 system's MTA.
    Mail leaves through it when its address spaces match, as Internet mail leaves by the IMS; the
    MTA transfers it itself (no store gateway threads), and retries as the Override says."""

    kind: Literal["x400_foreign"]
    address_spaces: list[AddressSpace] = Field(
        default_factory=_no_items,
        description="X.400 address spaces of the foreign system, e.g. {type = 'X400', pattern = "
        "'c=US;a=PTT'}; mail for them leaves through this connector",
    )
    remote_mta: Internet = Field(
        as_written({}), description="The foreign MTA: its answer delay and share of refusals"
    )


Connector = Annotated[
    SiteConnector | X400Connector | RasConnector | ImsConnector | MsMailConnector | ForeignX400Connector,
    Field(discriminator="kind"),
]
LINK_KINDS = ("site", "x400", "ras")
GATEWAY_KINDS = ("ims", "msmail", "x400_foreign")
LinkConnector = SiteConnector | X400Connector | RasConnector
"""A connector between two sites: MTAs transfer mail over it."""
GatewayConnector = ImsConnector | MsMailConnector | ForeignX400Connector
"""A connector to a foreign system, run by a gateway on one server."""
LINK_CONNECTORS = (SiteConnector, X400Connector, RasConnector)
"""The link connector types, for ``isinstance`` (which type checkers follow, unlike ``kind``)."""
GATEWAY_CONNECTORS = (ImsConnector, MsMailConnector, ForeignX400Connector)


# --- foreign X.400 systems ---------------------------------------------------


def _validate_gdi(value: str) -> str:
    try:
        keys = {k.lower() for k, _ in parse_x400(value).attributes}
    except AddressError as exc:
        raise ValueError(f"invalid GDI {value!r}: {exc}") from None
    if not {"c", "a"} <= keys or not keys <= {"c", "a", "p"}:
        raise ValueError(f"invalid GDI {value!r}: a GDI is c=, a= and optionally p=, nothing else")
    return value


class ForeignX400System(_Model):
    """A foreign X.400 system (a PTT's ADMD, another company's MTA) and its users. Its GDI may lack
    a PRMD: then its users' addresses resemble local ones that have one (KB Q176046)."""

    name: Name = Field(description="Name of the foreign system")
    gdi: Annotated[str, AfterValidator(_validate_gdi)] = Field(
        description="Its global domain identifier, e.g. 'c=US;a=PTT' (no PRMD) or 'c=GB;a=BT;p=ACME'"
    )
    connector: str = Field(description="The x400_foreign connector that reaches it")
    recipients: Annotated[list[X400SiteAddress], Field(min_length=1)] = Field(
        description="Its users' O/R addresses, each within the GDI, e.g. 'c=US;a=PTT;s=USER1'"
    )
    inbound_per_hour: float = Field(
        0.0, ge=0, description="Messages per hour its users send to the organization's mailboxes"
    )

    @model_validator(mode="after")
    def _recipients_in_gdi(self) -> Self:
        def key(text: str) -> tuple[str, ...]:
            gdi = parse_x400(text).gdi
            return tuple((v or "").strip().lower() for v in (gdi.c, gdi.a, gdi.p))

        for address in self.recipients:
            if key(address) != key(self.gdi):
                raise ValueError(f"recipient {address!r} is not within the GDI {self.gdi!r}")
        return self


# --- workload ---------------------------------------------------------------


class RecipientMix(_Model):
    """Where the recipients users address are, as shares adding up to 1. A share is the chance
    that one addressed entry (a name on a message's To or Cc line) is of that kind: shares of
    entries, before distribution lists expand. A list entry brings distribution_list_size
    members (10 by default), any other entry one recipient, so results count more list members
    than the share suggests. Worked example, with a list of 10: same_server 0.30, same_site 0.10,
    other_site 0.30, internet 0.25, distribution_list 0.05; an entry brings 0.95 + 0.05 x 10 =
    1.45 recipients on average, so lists reach 0.5 / 1.45 = 34 % of the users' recipients and
    the Internet 0.25 / 1.45 = 17 %. A kind with nobody in it for a sender becomes the nearest
    kind that has someone, and is counted as that kind: same_site becomes same_server for a
    sender on a site's only server, other_site becomes same_site in an organization of one site.
    A message names each address once: a person it already names is drawn again (up to 8 times,
    then the entry adds nobody), a list's members are distinct and those the message already
    names are left out, so where people are few (a site of one mailbox) messages carry fewer
    recipients than drawn."""

    same_server: float = Field(
        0.4, ge=0, le=1, description="Entries for a mailbox on the sender's own server"
    )
    same_site: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Entries for a mailbox on another server of the sender's site; on a site with one "
        "server they go to the sender's own server and are counted as same_server",
    )
    other_site: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Entries for a mailbox in another site; in an organization of one site they become "
        "same_site (or same_server)",
    )
    internet: float = Field(0.15, ge=0, le=1, description="Entries for an Internet address (through an IMS)")
    msmail: float = Field(
        0.0, ge=0, le=1, description="Entries for an MS Mail user (through an MS Mail connector)"
    )
    distribution_list: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Entries that are a distribution list: each expands into distribution_list_size "
        "members, all counted as distribution_list recipients",
    )
    foreign_x400: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Entries for a user of the scenario's foreign X.400 systems (foreign_x400)",
    )

    @model_validator(mode="after")
    def _shares_add_up(self) -> Self:
        # The fields themselves, in order (model_dump would build this model's serializer and
        # validator on the first scenario loaded, for nothing).
        total = sum(getattr(self, name) for name in type(self).model_fields)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"recipient shares add up to {total:g}, not 1{self._defaults_counted(total)}")
        return self

    def _defaults_counted(self, total: float) -> str:
        """For a sum that is not 1: the shares left unwritten that count with their non-zero
        defaults (distribution_list 0.05 ...), and what to do about them; "" if there are none."""
        defaulted = {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name not in self.model_fields_set and getattr(self, name)
        }
        if not defaulted:
            return ""

        names, shares = (
            spoken_list(list(defaulted)),
            spoken_list([f"{share:g}" for share in defaulted.values()]),
        )
        one = len(defaulted) == 1
        said = (
            f": {names} {'is' if one else 'are'} not written and count{'s' if one else ''} with "
            f"{'its default' if one else 'their defaults'} {shares}"
        )
        written = total - sum(defaulted.values())
        if abs(written - 1.0) <= 1e-6:
            return f"{said} (the written shares add up to 1): set {'it' if one else 'them'} to 0"
        return f"{said} (the written ones add up to {written:g}): write every share, 0 for those not wanted"


#: Recipient classes of user mail, as results and expectations name them: where the workload's
#: mix sends a recipient, and mail entering from the Internet, MS Mail or a foreign X.400 system.
RECIPIENT_CLASSES: tuple[str, ...] = (
    *RecipientMix.model_fields,
    "inbound_internet",
    "inbound_msmail",
    "inbound_x400",
)
#: The class of non-delivery reports travelling back to an originator (counted apart from user mail).
REPORT_CLASS = "report"


def _daily_hours(text: str) -> str:
    parse_daily_hours(text)  # refuses 25:99 and an empty window
    return text


class Workload(_Model):
    profile: Profile = Field(
        "medium",
        description="Default usage profile: messages a user sends a day and addressed entries a message, "
        + ", ".join(f"{name} {sends:g} and {entries:.2f}" for name, (sends, entries) in PROFILES.items())
        + " (LoadSim light/medium/heavy, MMB)",
    )
    spread: Literal["working_hours", "all_day"] = Field(
        "working_hours", description="Send during working hours (an 8-hour day, as LoadSim) or all day"
    )
    working_hours: Annotated[str, AfterValidator(_daily_hours)] = Field(
        "09:00-17:00",
        pattern=HOURS_PATTERN,
        description="Daily sending window HH:MM-HH:MM (24:00 ends the day; start and end differ)",
    )
    recipients_per_message: float | None = Field(
        None,
        gt=0,
        description="Mean addressed entries (names on the To and Cc lines) a message, before lists expand "
        "and repeated addresses are dropped; default: the profile's",
    )
    mix: RecipientMix = Field(
        as_written({}), description="Where recipients are: shares of addressed entries, before lists expand"
    )
    distribution_list_size: int = Field(
        10, ge=1, description="Members of each distribution list: the recipients one list entry becomes"
    )
    one_off_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of recipients in the organization that users address by a proxy (SMTP, "
        "else MS Mail) from a personal address book or typed as a one-off, instead of picking them "
        "from the Global Address List (KB Q185024)",
    )
    inbound_internet_per_hour: float = Field(
        0.0, ge=0, description="Inbound SMTP messages per hour, org-wide"
    )
    inbound_msmail_per_hour: float = Field(
        0.0, ge=0, description="Inbound MS Mail messages per hour, org-wide"
    )

    def sending_window(self) -> tuple[float, float]:
        """Where users' daily sending window starts and how long it stays open, in seconds: the
        working hours (a night shift's window runs on past midnight), or the whole day."""
        if self.spread == "all_day":
            return 0.0, 86400.0
        start, end = parse_daily_hours(self.working_hours)
        return start, (end - start) if end > start else (86400.0 - start + end)


# --- events -----------------------------------------------------------------


class UpgradeEvent(_Model):
    kind: Literal["upgrade"]
    at: Duration = Field(description="When, from the start of the run")
    server: str = Field(description="Server to upgrade, or '*' for every server")
    version: Version = Field(description="The build it runs from then on")


class OutageEvent(_Model):
    """A connector that cannot open for a window; for an IMS or MS Mail connector, the
    foreign side (the Internet, the postoffice) refuses every delivery attempt."""

    kind: Literal["outage"]
    connector: str = Field(description="The connector that cannot open")
    start: Duration = Field(description="When the outage begins, from the start of the run")
    end: Duration = Field(description="When it ends")


class ServiceStopEvent(_Model):
    kind: Literal["service_stop"]
    server: str = Field(description="Server whose service stops")
    service: Service = Field(description="The Information Store, the MTA, the IMS or the MS Mail connector")
    start: Duration = Field(description="When it stops, from the start of the run")
    end: Duration | None = Field(None, description="When the service starts again; none: stays stopped")


class AddressChangeEvent(_Model):
    kind: Literal["address_change"]
    at: Duration = Field(description="When the administrator changes it, from the start of the run")
    site: str = Field(description="Site whose site address changes")
    type: Literal["x400", "smtp", "ms"] = Field(description="Which of its site addresses")
    value: str = Field(description="The new address, e.g. 'c=IE;a= ;p=Contoso;o=Dublin'")


class CrashEvent(_Model):
    """A server crash: every service stops at once. Queued mail survives on disk (the MTA's
    .dat files, the store's database); mail a component held only in memory is lost by Exchange."""

    kind: Literal["crash"]
    server: str = Field(description="Server that crashes")
    at: Duration = Field(description="When, from the start of the run")
    restart_after: Duration = Field(as_written("30m"), description="Time until the server is back up")


class ReplicationEvent(_Model):
    """Directory replication still in progress: the listed sites' objects have not reached the
    other sites yet. GWARTs calculated meanwhile on 5.0 RTM miss them (KB Q145976) until the
    recalculation after replication completes, model.recalculation_delay after its end."""

    kind: Literal["replication"]
    sites: Annotated[list[str], Field(min_length=1)] = Field(description="Sites not yet replicated")
    start: Duration = Field(description="When replication is found incomplete, from the start of the run")
    end: Duration = Field(
        description="When it has completed (routing learns of it model.recalculation_delay later)"
    )


Event = Annotated[
    UpgradeEvent | OutageEvent | ServiceStopEvent | AddressChangeEvent | CrashEvent | ReplicationEvent,
    Field(discriminator="kind"),
]


# --- sweeps and run settings --------------------------------------------------


class SweepVariable(_Model):
    name: Annotated[str, Field(pattern=COLUMN_NAME_PATTERN)] = Field(description="Column name in the results")
    path: str = Field(
        description="Scenario path (the syntax --set uses too): keys and array elements (by index, name or *) "
        "joined by dots, e.g. 'servers.*.version' or 'sites.Redmond.addresses.x400'; a name holding a dot "
        "or a space in double quotes: 'connectors.\"X.400 Redmond-Tokyo\".cost'"
    )
    values: Annotated[list[Any], Field(min_length=1)] = Field(
        description="The values the path takes, each as the scenario would write it there"
    )
    labels: list[str] | None = Field(None, description="Short labels for the values, shown in tables")
    group: str | None = Field(None, description="Variables in one group advance together (lockstep)")


class Sweep(_Model):
    variables: list[SweepVariable] = Field(
        default_factory=_no_items,
        description="The variables; every combination of their values is a sweep point",
    )
    constraint: str | None = Field(
        None,
        description="Expression over variable names; false drops a combination. Data, not code: "
        "only variable names, string/number/true-false constants (True, False), comparisons "
        "(== != < <= > >=, chains such as 1 <= users <= 3), in / not in (with a variable, or a "
        "list or tuple of constants, on the right), and, or, not and parentheses; at most "
        f"{MAX_CONSTRAINT_LENGTH} characters and {MAX_CONSTRAINT_DEPTH} levels of nesting. "
        "It compares values, not labels, and == != in name values the variable has. "
        "Example: \"version != '5.0' and users in (10, 100)\"",
    )
    baseline: dict[str, Any] | None = Field(
        None,
        description="One variable and its reference value, e.g. {version = '5.0'}: every other "
        "value is compared with it by paired difference; the value may be given by its label",
    )

    @model_validator(mode="after")
    def _baseline_by_value(self) -> Self:
        """A baseline named by its label (``{fuzzy = "exact"}``) holds the value it names, as
        ``exsim run --baseline`` and an expectation's ``point`` take a label or a value alike."""
        if self.baseline and len(self.baseline) == 1:
            ((name, wanted),) = self.baseline.items()
            variable = next((v for v in self.variables if v.name == name), None)
            if variable is not None:
                found, value = named_sweep_value(variable.values, variable.labels, wanted)
                if found:
                    self.baseline = {name: value}
        return self


class Run(_Model):
    duration: Duration = Field(as_written("1d"), gt=0, description="Simulated time per run")
    warmup: Duration = Field(
        as_written("0s"),
        description="Initial period left out of the statistics: the mail sent in it "
        "(with the reports on it, whenever they are sent) and the faults and transfers that happen in it",
    )
    drain: Duration = Field(
        as_written("0s"), description="Extra time with no new mail, so queued mail can settle"
    )
    seed: int = Field(
        1, ge=0, description="Seed of every random stream; the same seed gives the same numbers"
    )
    replications: int = Field(1, ge=1, description="Independent runs per sweep point, each with its own seed")
    time_series_interval: Duration = Field(
        as_written("1h"), gt=0, description="Resolution of queue and NDR time series"
    )
    time_series: bool = Field(
        True, description="Collect time series (queues, NDRs and deliveries per interval)"
    )
    allow_long: bool = Field(
        False, description=f"Run even when the estimate exceeds {MAX_RECIPIENTS_PER_RUN:,} recipients per run"
    )


class Distribution(_Model):
    """A random service time: each message's work is drawn anew (queueing theory's M/M/1 and kin)."""

    dist: Literal["exponential", "lognormal"] = Field(description="'exponential' or 'lognormal'")
    mean: Duration = Field(gt=0, description="Mean work per message, e.g. '2s'")
    sd: Duration | None = Field(None, gt=0, description="Standard deviation (lognormal only)")

    @model_validator(mode="after")
    def _sd_for_lognormal_only(self) -> Self:
        if self.dist == "lognormal" and self.sd is None:
            raise ValueError(
                "a lognormal service time needs sd as well as mean, e.g. {dist = 'lognormal', "
                "mean = '2s', sd = '1s'}"
            )
        if self.dist == "exponential" and self.sd is not None:
            raise ValueError("an exponential service time has no sd: its sd is its mean")
        return self

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A function drawing one service time in seconds from ``rng``."""
        if self.dist == "exponential":
            rate = 1.0 / self.mean
            return lambda: rng.expovariate(rate)
        assert self.sd is not None
        # The normal (mu, sigma) whose exponential has this mean and standard deviation.
        sigma = math.sqrt(math.log1p((self.sd / self.mean) ** 2))
        mu = math.log(self.mean) - sigma**2 / 2
        return lambda: rng.lognormvariate(mu, sigma)


def _service_time(value: Any) -> float | Distribution:
    if isinstance(value, Distribution):
        return value
    if isinstance(value, dict):
        try:
            return Distribution.model_validate(value)
        except ValidationError as exc:
            raise ValueError(
                "; ".join(
                    ".".join(map(str, e["loc"])) + ": " + str(e["msg"]).removeprefix("Value error, ")
                    if e["loc"]
                    else str(e["msg"]).removeprefix("Value error, ")
                    for e in exc.errors(include_url=False)
                )
            ) from None
    return parse_duration_s(value)


class _ServiceTimeJsonSchema:
    """The JSON Schema of a service time, built when a schema is asked for (``exsim schema``).

    Spelling it out needs :class:`Distribution`'s own JSON Schema, and building that at import
    built Distribution's validator and its schema for every command, ``exsim validate`` included.
    """

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                Distribution.model_json_schema(),
            ],
            "description": "A fixed duration such as '50ms', or a distribution: "
            "{dist = 'exponential', mean = '2s'} or {dist = 'lognormal', mean = '2s', sd = '1s'}",
        }


ServiceTime = Annotated[
    float | Distribution,
    PlainValidator(_service_time),
    PlainSerializer(lambda v: v.model_dump() if isinstance(v, Distribution) else format_duration(v)),
    _ServiceTimeJsonSchema(),
]
"""A per-message service time: a fixed duration, or a :class:`Distribution` drawn per message."""


class ServiceTimes(_Model):
    """How long each component works on one message. No source gives Exchange 5.0
    throughput figures, so these are era-plausible defaults (a 1997 Pentium Pro
    server moved a few messages per second per component). Each work time is a
    fixed duration or a distribution (exponential, lognormal), so a queue of the
    model can be compared with queueing theory."""

    client_submit: ServiceTime = Field(as_written("50ms"), description="IS accepting a message from a client")
    client_threads: int = Field(8, ge=1, le=64, description="Client submissions the IS takes in at once")
    is_delivery: ServiceTime = Field(
        as_written("40ms"), description="IS delivering a message to local mailboxes"
    )
    mta_routing: ServiceTime = Field(as_written("30ms"), description="MTA resolving and routing one message")
    gateway_in: ServiceTime = Field(
        as_written("150ms"), description="IS gateway-in thread moving a message into MTS-OUT"
    )
    gateway_out: ServiceTime = Field(
        as_written("150ms"), description="IS gateway-out thread moving a message from MTS-IN"
    )
    association_open: ServiceTime = Field(
        as_written("1s"), description="Opening an MTA association (plus link round trip)"
    )
    rpc_bandwidth: Rate = Field(
        as_written("10Mbps"), gt=0, description="LAN between servers of one site (MTA-to-MTA RPC)"
    )
    msmi_poll_interval: Duration = Field(
        as_written("5m"),
        description="How often the MS Mail interchange polls its queue (and logs a failure); a timer, "
        "not work on a message, so always fixed",
    )


class DirectorySearch(_Model):
    """Directory time the MTA spends on an X.400 address that matched no proxy exactly. A fuzzy
    search reads the whole address list, so its cost grows with the number of mailboxes; with
    20,000 or more the MTA's work queue backs up (KB Q159184). No source gives figures: these are
    model parameters (an exact lookup is an index hit and costs nothing extra)."""

    fuzzy_search_per_1000_entries: Duration = Field(
        as_written("25ms"), description="Full fuzzy search, per 1,000 mailboxes in the organization"
    )
    restricted_search_per_1000_entries: Duration = Field(
        as_written("2.5ms"), description="Restricted (surname + given name) search, per 1,000 mailboxes"
    )


class Model(_Model):
    """Choices where the sources are silent or ambiguous."""

    q166866_gdi_site: Literal["transfer_in", "originator"] = Field(
        "transfer_in",
        description="Whose GDI the SP1 gateway transfer-in checks for a PRMD: the site whose IS "
        "does the transfer-in (default, most plausible) or the originator's home site",
    )
    recalculation_delay: Duration = Field(
        as_written("10m"),
        description="Delay before a directory change (an address change, directory replication completing) "
        "reaches routing and the stores",
    )
    q165485_fixed_in_sp2: bool = Field(
        False, description="Whether SP2 fixed the MS Mail outbound blank-PRMD problem (undocumented)"
    )
    lowest_cost_routes_only: bool = Field(
        False, description="The SP1+ MTA registry flag 'Use Lowest Cost Routes Only' (KB Q166567)"
    )
    service_times: ServiceTimes = Field(as_written({}), description="Per-message work of each component")
    directory: DirectorySearch = Field(
        as_written({}), description="What the MTA's directory searches cost (KB Q159184)"
    )


# --- expectations (exsim check) ----------------------------------------------------


class _Bounds(_Model):
    equals: float | None = Field(None, description="Expected value (within tolerance)")
    at_least: float | None = Field(None, description="Lowest acceptable value")
    at_most: float | None = Field(None, description="Highest acceptable value")
    tolerance: float = Field(0.0, ge=0, description="Allowed absolute difference from 'equals'")


class _Expectation(_Model):
    name: str = Field(description="What the expectation checks, in words")
    point: dict[str, Any] | None = Field(
        None, description="Sweep points it applies to, by variable label or value; default: every point"
    )


class _WrittenDurations(_Model):
    """An expectation whose duration bounds are shown as the file wrote them (``12h15m``, not
    the ``735m`` that seconds would give back)."""

    _written: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, dict):
            model._written = {key: value for key, value in data.items() if isinstance(value, str)}
        return model

    def written(self, key: str) -> str:
        """A duration field as the scenario wrote it (else in its shortest exact unit)."""
        return self._written.get(key) or format_duration(getattr(self, key))


class OutcomeExpectation(_Expectation, _Bounds):
    """Recipients by outcome, as a count or a rate (means over replications). A class that has no
    recipients in a run fails the check (anything but ``metric = "recipients"``): a rule about mail
    that never existed proves nothing."""

    kind: Literal["outcome"]
    metric: OutcomeMetric = Field(description="What is counted: recipients by outcome, or a rate of them")
    recipient_class: str | None = Field(
        None,
        description=f"{', '.join(RECIPIENT_CLASSES)}, or '{REPORT_CLASS}' for the non-delivery reports "
        "sent back to originators (recipients = reports generated); default: all user mail",
    )


class NdrExpectation(_Expectation):
    kind: Literal["ndr"]
    text: str = Field(description="The NDR text that must appear")
    reason: int | None = Field(None, description="The NDR's reason code, e.g. 1 (unable to transfer)")
    diagnostic: int | None = Field(None, description="The NDR's diagnostic code, e.g. 11 (invalid arguments)")
    component: str | None = Field(None, description="Start of the footer, e.g. 'MSEXCH:MSExchangeIS'")


class EventExpectation(_Expectation, _Bounds):
    kind: Literal["event"]
    event_id: int = Field(description="NT event ID, e.g. 1026")
    server: str | None = Field(None, description="Only events logged on this server")
    present: bool | None = Field(None, description="True: logged in every run; false: never logged")


class NdrTimeExpectation(_Expectation, _WrittenDurations):
    """When the first or the last NDR came, checked in every run: with several replications each
    run's time must be within the bounds (a run without such an NDR fails the check)."""

    kind: Literal["ndr_time"]
    which: Literal["first", "last"] = Field("first", description="The first or the last NDR of each run")
    text: str | None = Field(None, description="Only NDRs with this text")
    after: Duration | None = Field(None, description="At or after this simulated time")
    before: Duration | None = Field(None, description="At or before this simulated time")


class TransfersExpectation(_Expectation, _Bounds):
    kind: Literal["transfers"]
    connector: str = Field(description="Connector whose transfers are counted ('RPC' inside a site)")


class MailboxExpectation(_Expectation, _Bounds):
    kind: Literal["mailbox"]
    alias: str = Field(
        description="Mailbox whose deliveries are counted, whatever address the sender used "
        "(alias, SMTP or X.400 proxy, directory name, one-off 'TYPE:address'); named by its alias (in any case) "
        "or by any of those addresses the directory knows it by in the scenario as written "
        "(e.g. 'JSmith@redmond.contoso.com')"
    )


class LatencyExpectation(_Expectation):
    """Delivery latency (submission to delivery) of user mail, pooled over replications."""

    kind: Literal["latency"]
    statistic: Literal["mean", "p50", "p95"] = Field("mean", description="Mean, median or 95th percentile")
    recipient_class: str | None = Field(None, description="Only this recipient class; default: all user mail")
    equals: Duration | None = Field(None, description="Expected value (within tolerance)")
    tolerance: Duration = Field(as_written("0s"), description="Allowed difference from 'equals'")
    at_least: Duration | None = Field(None, description="Shortest acceptable value")
    at_most: Duration | None = Field(None, description="Longest acceptable value")


Expectation = Annotated[
    OutcomeExpectation
    | NdrExpectation
    | EventExpectation
    | NdrTimeExpectation
    | TransfersExpectation
    | MailboxExpectation
    | LatencyExpectation,
    Field(discriminator="kind"),
]


def scenario_hash(raw: dict[str, Any]) -> str:
    """A scenario's data as 16 hex digits of its SHA-256 (keys sorted): the same for the same
    data, whichever file or order it came in; different for any other value anywhere."""
    import hashlib
    import json  # only a command that writes or reads the hash pays for it (tests/test_startup.py)

    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Scenario(_Model):
    """A validated scenario: an organization, its traffic, events and experiment settings."""

    name: Annotated[str, AfterValidator(_plain_text), AfterValidator(_not_blank)] = Field(
        "scenario",
        description="Short name used in results (and, made a safe file name, in the results directory's); "
        "not empty or blank",
    )
    description: str = Field("", description="What the scenario shows")
    organization: Organization = Field(description="The organization: its name")
    sites: Annotated[list[Site], Field(min_length=1)] = Field(
        description="The sites, each with its site addresses"
    )
    servers: Annotated[list[Server], Field(min_length=1)] = Field(
        description="The servers, each in a site, with its build and its users"
    )
    connectors: list[Connector] = Field(
        default_factory=_no_items,
        description="Connectors between sites (site, x400, ras) and to foreign systems (ims, msmail, "
        "x400_foreign); the table's kind says which",
    )
    foreign_x400: list[ForeignX400System] = Field(
        default_factory=_no_items, description="Foreign X.400 systems reached by x400_foreign connectors"
    )
    workload: Workload = Field(as_written({}), description="The mail users send: how much, when, to whom")
    events: list[Event] = Field(
        default_factory=_no_items,
        description="What happens during a run, at simulated times: upgrades, outages, service stops, "
        "address changes, crashes, replication in progress",
    )
    sweep: Sweep = Field(as_written({}), description="Variables to vary across runs (an experiment)")
    run: Run = Field(as_written({}), description="Run length, seed, replications, time series")
    model: Model = Field(as_written({}), description="Model choices where the sources are silent")
    expect: list[Expectation] = Field(default_factory=_no_items, description="What `exsim check` verifies")

    _source: str = PrivateAttr("<text>")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _text: str = PrivateAttr("")
    _warnings: list[Problem] = PrivateAttr(default_factory=list)
    _set_by: list[tuple[str, str]] = PrivateAttr(default_factory=list)

    @property
    def source(self) -> str:
        return self._source

    @property
    def warnings(self) -> list[Problem]:
        """What is valid but surely not meant (an Internet share with no IMS, an event after the
        run's end, ...), with file and line: `exsim validate` and `exsim run` print them."""
        return self._warnings

    @property
    def set_by(self) -> list[tuple[str, str]]:
        """The ``(path, setting)`` of each ``--set PATH=VALUE`` this scenario holds, in order: a
        message about a key one of them gave names that setting rather than the file's line."""
        return self._set_by

    @property
    def raw(self) -> dict[str, Any]:
        """The file's data as parsed, before defaults: what sweeps rewrite."""
        return self._raw

    @property
    def text(self) -> str:
        """The file's text as read ("" for data that came from no file): where its keys' lines are."""
        return self._text

    @property
    def hash(self) -> str:
        """What identifies this scenario exactly (:func:`scenario_hash` of its data): a trace and
        the explorer page it is replayed on must share it, as results share it with their scenario."""
        return scenario_hash(self._raw)

    def modified(self, changes: dict[str, Any]) -> "Scenario":
        """A validated copy with values set at scenario paths (as sweeps do), e.g.
        ``scenario.modified({"run.duration": "4h", "servers.*.version": "5.0-sp1"})``."""
        from exsim.scenario.load import validate_raw  # loading builds on this module
        from exsim.scenario.paths import PathMatchesNothing, changed

        try:
            raw = changed(self._raw, changes.items())
        except PathMatchesNothing as exc:
            raise ScenarioError(
                [Problem(self._source, None, exc.path, f"path matches nothing in the scenario: {exc.why}")]
            ) from None
        return validate_raw(raw, self._source, set_by=self._set_by)

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def connector(self, name: str) -> Connector:
        return next(c for c in self.connectors if c.name == name)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, defaults and descriptions included."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "exsim scenario"
    return schema
