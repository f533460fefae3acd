"""Exchange 5.0 builds and the transport defects each carries, as one table.

The simulation never asks "is this SP1?", nor tests a KB number: the component
at the point where a defect bites asks for the defect at that point
(:func:`defect_at`, or ``Simulation.defect`` with the server and message) and
whether the server's build, with the GDI in question, triggers it. Everything
else about a defect is data in its row: the builds that carry it, the component
and the point of the mail flow where it strikes, the NDR it returns mail with,
the events an administrator finds in the log, the scenario settings that decide
what the sources leave open, and the fix. docs/model.md ("Adding a defect")
walks through the Q166866 row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from exsim.address import GDI
from exsim.ndr import CONTENT_TOO_LONG, INVALID_ARGUMENTS, LOOP, MAX_TIME_EXPIRED, UNRECOGNIZED, NdrKind

if TYPE_CHECKING:
    from exsim.scenario.schema import Model  # the schema imports this module

#: The Exchange components a defect can strike in.
Component = Literal["information store", "MTA", "directory", "MS Mail connector", "Internet Mail Service"]


#: The builds a scenario may name: Exchange Server 5.0 as released, and its two service packs.
Version = Literal["5.0", "5.0-sp1", "5.0-sp2"]


@dataclass(frozen=True, slots=True)
class Build:
    version: Version
    build: int
    label: str
    short: str
    """The name an administrator used in conversation: RTM, SP1, SP2."""
    lowest_cost_routes_only: bool
    """Whether the MTA honours the 'Use Lowest Cost Routes Only' registry flag, which puts
    cost first in route selection (added in SP1, KB Q166567)."""

    @property
    def number(self) -> str:
        """The full build number as Exchange reported it, e.g. ``5.0.1458``."""
        return f"5.0.{self.build}"


BUILDS: dict[str, Build] = {
    "5.0": Build("5.0", 1457, "Exchange Server 5.0 (RTM)", "RTM", lowest_cost_routes_only=False),
    "5.0-sp1": Build(
        "5.0-sp1", 1458, "Exchange Server 5.0 Service Pack 1", "SP1", lowest_cost_routes_only=True
    ),
    "5.0-sp2": Build(
        "5.0-sp2", 1460, "Exchange Server 5.0 Service Pack 2", "SP2", lowest_cost_routes_only=True
    ),
}


@dataclass(frozen=True, slots=True)
class Defect:
    """A documented defect: the builds that carry it, where it strikes, what it does there
    and the condition that triggers it."""

    kb: str
    title: str
    versions: frozenset[str]
    component: Component
    """The Exchange component it strikes in."""
    where: str
    """The path in the mail flow where it strikes, the name the component's one hook asks for:
    ``gateway_in:ims`` is the store's gateway-in thread handing mail to the IMS."""
    ndr: NdrKind | None
    """The NDR it returns mail with; None when mail waits or goes astray without one."""
    events: tuple[int, ...] = ()
    """The application-log event IDs (written by :class:`exsim.logs.EventLog`) it leaves."""
    needs_missing_prmd: bool = True
    fix: str = ""
    """What an administrator does about it (``exsim trace`` ends with this when the defect shows)."""
    gdi_site_is_a_setting: bool = False
    """Whose GDI is checked for a PRMD is the scenario's choice (``model.q166866_gdi_site``):
    the site doing the work (the default) or the originator's home site. When False, the
    site doing the work."""
    maybe_fixed_in: str | None = None
    """A build the sources do not clearly list as fixed; the scenario's setting
    (``model.q165485_fixed_in_sp2``) says whether it still carries the defect."""
    fix_by_gateway: tuple[tuple[str, str], ...] = ()
    """For a fix that depends on the kind of gateway involved: (connector kind, what to do for
    it), ``fix`` being what they share (see :meth:`fix_for`)."""

    def fix_for(self, gateway_kinds: Collection[str] = ()) -> str:
        """The fix, in the words for the gateway kinds involved (all of them when none is known)."""
        if not self.fix_by_gateway:
            return self.fix
        said = [text for kind, text in self.fix_by_gateway if kind in gateway_kinds] or [
            text for _, text in self.fix_by_gateway
        ]
        return f"{self.fix}: {', '.join(said)}"

    @property
    def ndr_kind(self) -> NdrKind:
        """:attr:`ndr`, for the hook of a defect that returns mail (a row without one is a bug)."""
        if self.ndr is None:
            raise ValueError(f"{self.kb} returns no mail: its row names no NDR")
        return self.ndr

    def triggered(self, version: str, gdi: GDI) -> bool:
        return version in self.versions and (not self.needs_missing_prmd or not gdi.has_prmd)


DEFECTS: tuple[Defect, ...] = (
    Defect(
        kb="Q166866",
        title="IS gateway transfer-in of outbound SMTP fails when the site GDI has no PRMD, "
        "with or without the IMS running",
        versions=frozenset({"5.0-sp1"}),
        component="information store",
        where="gateway_in:ims",
        ndr=INVALID_ARGUMENTS,
        events=(1026, 2007),
        fix="give the site's X.400 address a PRMD (p=, Site Addressing) or install SP2; "
        "the 5.0 RTM build does not have the defect",
        gdi_site_is_a_setting=True,
    ),
    Defect(
        kb="Q176194",
        title="Mail entering from MS Mail through the interchange fails in the store when the site "
        "GDI has no PRMD (the NDR goes to the originator)",
        versions=frozenset({"5.0", "5.0-sp1"}),
        component="information store",
        where="gateway_out:msmail",
        ndr=INVALID_ARGUMENTS,
        events=(2025,),
        fix="give the site's X.400 address a PRMD (p=, Site Addressing) or install SP2",
    ),
    Defect(
        kb="Q145976",
        title="A GWART calculated while directory replication is incomplete lacks the sites not yet "
        "replicated, so mail to them is misrouted and NDR'd until the GWART is recalculated after "
        "replication completes",
        versions=frozenset({"5.0"}),
        component="MTA",
        where="gwart_replication",
        ndr=UNRECOGNIZED,
        needs_missing_prmd=False,
        fix="install SP1, or wait for directory replication to complete and recalculate routing",
    ),
    Defect(
        kb="Q165485",
        title="The MS Mail interchange transfers nothing outbound when the site PRMD is blank "
        "(its events come over and over; mail waits)",
        versions=frozenset({"5.0", "5.0-sp1", "5.0-sp2"}),
        component="MS Mail connector",
        where="msmail_out",
        ndr=None,
        events=(2335, 2380),
        fix="put a PRMD (even a dummy p=) in the site's X.400 address (Site Addressing)",
        maybe_fixed_in="5.0-sp2",
    ),
    Defect(
        kb="Q197058",
        title="A message refused by a remote MTA's smaller size limit is NDR'd, but the report cannot "
        "be routed back and is lost: the originator never learns; fixed after SP2 by an MTA hotfix "
        "(5.0.1461.76)",
        versions=frozenset({"5.0", "5.0-sp1", "5.0-sp2"}),
        component="MTA",
        where="mta_size_limit_report",
        ndr=CONTENT_TOO_LONG,
        events=(62, 290, 141),
        needs_missing_prmd=False,
        fix="apply the post-SP2 MTA hotfix (5.0.1461.76), or give the MTAs along the route the same "
        "message size limit",
    ),
    Defect(
        kb="Q176046",
        title="The MTA's directory search uses the fuzzy algorithm in some cases whatever 'Allow fuzzy "
        "proxy search' says (modelled: an address without a PRMD against proxies with one), so mail "
        "for a foreign X.400 user can reach a local mailbox; fixed in SP2 together with the value 2",
        versions=frozenset({"5.0", "5.0-sp1"}),
        component="directory",
        where="directory_fuzzy",
        ndr=None,
        needs_missing_prmd=False,
        fix="install SP2 and set 'Allow fuzzy proxy search' to 2 (exact matches only)",
    ),
    Defect(
        kb="Q185024",
        title="A bridgehead on a later build than the site's user servers loops same-server mail that "
        "the Exchange 4.0 client addressed by an SMTP or MS Mail proxy (one-off or personal address "
        "book): NDR loop-detected. The versions are the bridgehead's",
        versions=frozenset({"5.0-sp2"}),
        component="MTA",
        where="bridgehead_proxy_loop",
        ndr=LOOP,
        needs_missing_prmd=False,
        fix="put the site's user servers on the bridgehead's build, or address the mail from the "
        "directory rather than by a one-off or personal-address-book proxy",
    ),
    Defect(
        kb="Q160534",
        title="A message over a gateway's size limit is handed back and rerouted over another path to "
        "an equal gateway, again and again (a reroute keeps only the hop count), until the 512-hop "
        "limit NDRs it hours later; by design in every build",
        versions=frozenset({"5.0", "5.0-sp1", "5.0-sp2"}),
        component="MTA",
        where="size_limit_reroute",
        ndr=LOOP,
        needs_missing_prmd=False,
        fix="set one message size limit for the whole organization on every server's MTA object (it "
        "NDRs oversized mail at once), or let a single gateway serve each address space, so that no other "
        "path leads to an equal one",
        fix_by_gateway=(
            ("msmail", "one MS Mail Connector for a set of MS Mail postoffices"),
            ("ims", "one Internet Mail Service for a set of Internet domains"),
            ("x400_foreign", "one X.400 connector for a foreign X.400 system"),
        ),
    ),
    Defect(
        kb="Q156063",
        title="The 5.0 Internet Mail Service never hands mail already queued to it to another route "
        "when its own fails: the mail waits, retried, until its message timeout NDRs it (release "
        "notes)",
        versions=frozenset({"5.0", "5.0-sp1", "5.0-sp2"}),
        component="Internet Mail Service",
        where="ims_timeout_no_reroute",
        ndr=MAX_TIME_EXPIRED,
        needs_missing_prmd=False,
        fix="bring the IMS's Internet side back before its message timeout, or lengthen the timeout; "
        "mail already queued to it will not move to another IMS",
    ),
)


def describe_builds() -> str:
    """The builds a scenario may name, with their short names and numbers, for the schema."""
    return ", ".join(f"'{b.version}' ({b.short} {b.build})" for b in BUILDS.values())


def defect_by_kb(kb: str) -> Defect:
    """The defect a Knowledge Base article describes."""
    return next(defect for defect in DEFECTS if defect.kb == kb)


def defect_at(where: str, *, assume_fixed: bool = False) -> Defect | None:
    """The defect that can bite at a point of the mail flow; ``assume_fixed`` takes its
    ``maybe_fixed_in`` build (if it has one) out of the builds that carry it."""
    for defect in DEFECTS:
        if defect.where == where:
            if assume_fixed and defect.maybe_fixed_in is not None:
                return replace(defect, versions=defect.versions - {defect.maybe_fixed_in})
            return defect
    return None


def striking_defect(
    where: str, version: str, model: Model, gdi: Callable[[str], GDI], site: str, sender_site: str | None
) -> Defect | None:
    """The defect that strikes at ``where`` on a server of ``version`` in ``site``, or None.

    A defect that looks for a PRMD reads the GDI (``gdi(site)``) of the site doing the work,
    or, where that is the scenario's choice (``model.q166866_gdi_site = "originator"``), of the
    sender's home site ``sender_site`` (mail from outside has none: the working site's, then).
    The one rule for the simulation and for ``exsim route``'s account of a route.
    """
    defect = defect_at(where, assume_fixed=model.q165485_fixed_in_sp2)
    if defect is None:
        return None
    by_sender = defect.gdi_site_is_a_setting and model.q166866_gdi_site == "originator"
    read = sender_site if by_sender and sender_site is not None else site
    return defect if defect.triggered(version, gdi(read)) else None
