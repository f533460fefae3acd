"""Routing: each site's GWART, recipient resolution and route selection.

Pure functions and plain data, no clock and no SimPy: the simulation asks this
module and never re-implements it.

* The **GWART** (gateway address routing table) of a site lists, for every
  address space reachable from the site and every connector leaving it, the
  cheapest route that starts with that connector (KB Q149121). Address spaces
  are the other sites' distinguished names (type EX) and X.400 site addresses
  (type X400), and the gateways' address spaces (SMTP for an IMS, MS for the
  MS Mail Connector, ...). Costs accumulate across sites: the connector costs
  along the way plus the address space's own cost (Q159186). A route never
  passes back through the site it starts from (the circular routes Q159186
  describes are filtered out). An extra address space on a site-linking
  connector belongs to one end of it (each end is its own connector object):
  that site sends matching mail out over the link, other sites reach it through
  that site but never through the far end, and the far end does not have it.
  A site connector's address spaces are ignored between sites that replicate
  their directories, except site-scoped ones (Q182128).
* **Resolution** turns a recipient address into GWART rows: the directory first
  (a proxy of a mailbox in the organization is routed to the mailbox's site by
  its EX address; an X.400 address no proxy matches exactly is searched as the
  MTA's "Allow fuzzy proxy search" value and build allow, :mod:`exsim.directory`), then the most specific matching address space of the
  recipient's type. ``*`` beats a blank address space whatever the costs
  (Q193322).
* **Selection** picks one connector among the candidates with the seven
  successive filters of Q193322 (or, with "Use Lowest Cost Routes Only" on 5.0
  SP1 and later, cost right after the schedule, Q166567). Equal survivors share
  the load by a seeded random draw.
* **Cost 100** is not just a high number (Q262952): a route with cost 100 on any
  of its connectors or on its address space is a *last resort*, used only once
  every other route has failed, whatever the sums. The path search treats a
  cost-100 link as dearer than any sum of ordinary costs, and selection sets
  last-resort rows aside while another route can still be tried (see
  :func:`route_survivors`).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeAlias

from exsim.address import (
    BLANK,
    AddressError,
    format_x400,
    parse_dn,
    parse_ms,
    parse_smtp,
    parse_x400,
    smtp_specificity,
)
from exsim.directory import EXACT, Directory, DirectoryMatch, Policy
from exsim.org import Mailbox, Organization
from exsim.scenario import (
    GATEWAY_CONNECTORS,
    LINK_CONNECTORS,
    LINK_KINDS,
    LinkAddressSpace,
    LinkConnector,
    SiteConnector,
)
from exsim.schedule import Activation
from exsim.versions import Defect, defect_by_kb, striking_defect

if TYPE_CHECKING:
    import numpy as np

#: Hard limit on hops a message may make (Q160534).
MAX_HOPS = 512
#: A connector or address space of this cost is used only when every other route has failed (Q262952).
LAST_RESORT_COST = 100
#: Path-search weight added per cost-100 link: more than any sum of ordinary costs, so a path
#: avoids cost-100 links whenever one exists (the real sum is what the GWART shows).
_LAST_RESORT_WEIGHT = 10**9


# --- the GWART ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GwartRow:
    """One GWART line: an address space, its cost, and the local connector to use."""

    type: str
    space: str
    cost: int
    connector: str
    route: tuple[str, ...]
    """Sites the route passes through, starting with the site owning the table."""
    target: str
    """What finally serves the address space: a destination site or a gateway."""
    last_resort: bool = False
    """Cost 100 on a connector of the route or on the address space: used only when every
    other route has failed (Q262952)."""


@dataclass(frozen=True, slots=True)
class _Target:
    type: str
    space: str
    site: str
    cost: int
    served_by: str  # a site name (EX/X400 of that site) or a connector name
    scope: str = "organization"
    exit: str | None = None
    """For an address space on one end of a site-linking connector: the site at the far end,
    where the mail goes from ``site`` over that connector."""


@dataclass(frozen=True, slots=True)
class IgnoredAddressSpace:
    """An address space on a site connector that routing leaves out, and why (KB Q182128)."""

    connector: str
    site: str
    """The end whose connector object holds it."""
    type: str
    pattern: str
    reason: str


def address_space_end(org: Organization, connector: str, space: LinkAddressSpace) -> str:
    """The site whose end of a link connector holds an address space (default: the first site)."""
    return space.site or org.link(connector).sites[0]


def _ignored(connector: LinkConnector, space: LinkAddressSpace) -> str | None:
    """Why a link connector's address space is left out of every GWART, or None."""
    if connector.kind == "site" and connector.directory_replication and space.scope != "site":
        return (
            "the two sites replicate their directories, so the remote site's replicated GWART "
            "says what it reaches, not a site connector's address space (KB Q182128)"
        )
    return None


def ignored_address_spaces(org: Organization) -> list[IgnoredAddressSpace]:
    """Address spaces configured on site connectors that no GWART uses."""
    found = []
    for connector in org.connectors.values():
        if isinstance(connector, LINK_CONNECTORS):
            for space in connector.address_spaces:
                reason = _ignored(connector, space)
                if reason:
                    end = address_space_end(org, connector.name, space)
                    found.append(IgnoredAddressSpace(connector.name, end, space.type, space.pattern, reason))
    return found


def _targets(org: Organization) -> list[_Target]:
    """Every address space in the organization, located at the site that serves it.

    A gateway's address spaces are served by its server's site. An address space on a
    site-linking connector is held by one end: that site sends matching mail out over the
    connector to the other end (its ``exit``).
    """
    targets: list[_Target] = []
    for site in org.sites.values():
        targets.append(_Target("EX", org.site_dn(site.name), site.name, 0, site.name))
        if site.addresses.x400:
            targets.append(
                _Target("X400", format_x400(parse_x400(site.addresses.x400)), site.name, 0, site.name)
            )
    for connector in org.connectors.values():
        if isinstance(connector, GATEWAY_CONNECTORS):
            home = org.site_of(connector.server)
            for space in connector.address_spaces:
                targets.append(
                    _Target(space.type, space.pattern, home, space.cost, connector.name, space.scope)
                )
            continue
        for space in connector.address_spaces:
            if _ignored(connector, space):
                continue
            home = address_space_end(org, connector.name, space)
            exit_ = org.other_end(connector.name, home)
            targets.append(
                _Target(space.type, space.pattern, home, space.cost, connector.name, space.scope, exit_)
            )
    return targets


def cheapest_paths(
    graph: Mapping[str, Mapping[str, int]], source: str, avoiding: str | None = None
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Dijkstra's cheapest paths from ``source`` over ``graph`` (node -> neighbour -> weight),
    never through ``avoiding``: (distance to each reached node, the path to it).

    Among equally cheap paths it keeps the first one found, visiting neighbours in the
    graph's order and breaking distance ties first come, first served, exactly as
    ``networkx.single_source_dijkstra`` does (so GWART routes are the ones networkx chose).
    A plain heap rather than networkx: the quick commands must not pay for importing it.
    """
    dist: dict[str, int] = {}
    seen: dict[str, int] = {source: 0}
    paths: dict[str, list[str]] = {source: [source]}
    order = itertools.count()
    fringe: list[tuple[int, int, str]] = [(0, next(order), source)]
    while fringe:
        d, _, v = heapq.heappop(fringe)
        if v in dist:
            continue
        dist[v] = d
        for u, cost in graph[v].items():
            if u == avoiding or u in dist:
                continue
            vu = d + cost
            if u not in seen or vu < seen[u]:
                seen[u] = vu
                heapq.heappush(fringe, (vu, next(order), u))
                paths[u] = paths[v] + [u]
    return dist, paths


def compute_gwart(
    org: Organization,
    site: str,
    hidden_sites: frozenset[str] = frozenset(),
    targets: Sequence[_Target] | None = None,
) -> list[GwartRow]:
    """The GWART of one site, sorted by type, address space, cost and connector.

    ``hidden_sites``: sites whose directory objects have not replicated here yet; their
    address spaces are missing from the table (KB Q145976). ``targets``: the organization's
    address spaces (:func:`_targets`), when the caller builds every site's table from one list.
    """
    # Site-to-site weights without the site itself: the cheapest link between each pair.
    graph: dict[str, dict[str, int]] = {}
    for a, neighbours in org.links.items():
        for b, connectors in neighbours.items():
            for cost in connectors.values():
                if a != site and b != site:
                    weight = _weight(cost)
                    toward = graph.setdefault(a, {})
                    if toward.get(b, weight + 1) > weight:
                        toward[b] = weight
    for n in org.links:
        if n != site:
            graph.setdefault(n, {})

    # First hops: every link connector leaving the site, and the site's gateways.
    first_hops: list[tuple[str, str, int]] = [
        (name, neighbour, cost)
        for neighbour, connectors in org.links[site].items()
        for name, cost in connectors.items()
    ]
    # Per start: (distance to each site, path to each site).
    reach: dict[tuple[str, str | None], tuple[dict[str, int], dict[str, list[str]]]] = {}

    def paths_from(neighbour: str, avoiding: str | None) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Cheapest paths from a neighbour, optionally never through one site."""
        key = (neighbour, avoiding)
        if key not in reach:
            reach[key] = cheapest_paths(graph, neighbour, avoiding)
        return reach[key]

    best: dict[tuple[str, str, str], GwartRow] = {}

    def offer(row: GwartRow) -> None:
        key = (row.type, row.space, row.connector)
        held = best.get(key)
        if held is None or (row.last_resort, row.cost, row.route, row.target) < (
            held.last_resort,
            held.cost,
            held.route,
            held.target,
        ):
            best[key] = row

    for target in _targets(org) if targets is None else targets:
        if target.scope == "site" and target.site != site:
            continue
        if target.site in hidden_sites:
            continue
        # Cost 100 on the address space, or on the link connector that holds it (Q262952).
        last = target.cost >= LAST_RESORT_COST or (
            target.exit is not None and org.link(target.served_by).cost >= LAST_RESORT_COST
        )
        if target.site == site:
            if target.served_by == site:
                continue  # the site's own EX and X.400 addresses: its mailboxes, not a route
            # A gateway of this site, or this site's own end of a link connector (out over it).
            route = (site,) if target.exit is None else (site, target.exit)
            offer(
                GwartRow(
                    target.type, target.space, target.cost, target.served_by, route, target.served_by, last
                )
            )
            continue
        if target.exit == site:
            continue  # another site's end of a link pointing into this one: it would send mail back
        for connector, neighbour, cost in first_hops:
            if neighbour == target.exit:
                continue  # mail would reach the far end first and come back over the link
            distances, paths = paths_from(neighbour, target.exit)
            if target.site not in distances:
                continue
            dearest, beyond = divmod(int(distances[target.site]), _LAST_RESORT_WEIGHT)
            offer(
                GwartRow(
                    target.type,
                    target.space,
                    cost + beyond + target.cost,
                    connector,
                    (site, *paths[target.site]) + ((target.exit,) if target.exit else ()),
                    target.served_by,
                    bool(dearest) or cost >= LAST_RESORT_COST or last,
                )
            )
    return sorted(best.values(), key=lambda r: (r.type, r.space.lower(), r.cost, r.connector))


def _weight(cost: int) -> int:
    """Path-search weight of a link: its cost, or more than any ordinary sum for cost 100."""
    return cost + _LAST_RESORT_WEIGHT if cost >= LAST_RESORT_COST else cost


class Gwarts(Mapping[str, list[GwartRow]]):
    """Every site's GWART by site name, each computed the first time it is asked for: the
    tables are fixed once built, and ``exsim gwart --site`` or ``exsim route`` on a 100-site
    organization need one or a few of them, not all 100. The address spaces are the same for
    every site and are listed once (a 100-site organization listed its 210 address spaces once
    per site)."""

    def __init__(self, org: Organization, hidden_sites: frozenset[str] = frozenset()):
        self.org = org
        self.hidden_sites = hidden_sites
        self._tables: dict[str, list[GwartRow]] = {}
        self._targets: list[_Target] | None = None

    def __getitem__(self, site: str) -> list[GwartRow]:
        table = self._tables.get(site)
        if table is None:
            if site not in self.org.sites:
                raise KeyError(site)
            if self._targets is None:
                self._targets = _targets(self.org)
            table = self._tables[site] = compute_gwart(self.org, site, self.hidden_sites, self._targets)
        return table

    def __contains__(self, site: object) -> bool:
        return site in self.org.sites

    def __iter__(self) -> Iterator[str]:
        return iter(self.org.sites)

    def __len__(self) -> int:
        return len(self.org.sites)


# --- matching addresses to address spaces --------------------------------------------


def _x400_specificity(pattern: str, address: dict[str, str]) -> int | None:
    if pattern.strip() == "":
        return BLANK
    if pattern.strip() == "*":
        return 0
    try:
        wanted = parse_x400(pattern).as_dict()
    except AddressError:
        return None
    score = 0
    for key, value in wanted.items():
        have = address.get(key)
        if value.strip() == "*":
            if have is None:
                return None
            continue
        if have is None or have.strip().lower() != value.strip().lower():
            return None
        score += 1
    return score


def _ms_specificity(pattern: str, parts: tuple[str, ...]) -> int | None:
    if pattern.strip() == "":
        return BLANK
    wanted = [p.strip().upper() for p in pattern.strip().strip("/").split("/")]
    if wanted == ["*"]:
        return 0
    score = 0
    for index, value in enumerate(wanted):
        if value == "*":
            return score
        if index >= len(parts) or parts[index] != value:
            return None
        score += 1
    return score


def _ex_specificity(pattern: str, dn: str) -> int | None:
    if pattern.strip() == "":
        return BLANK
    pattern_l, dn_l = pattern.lower().rstrip("/"), dn.lower()
    if dn_l == pattern_l or dn_l.startswith(pattern_l + "/"):
        return len(pattern_l)
    return None


def _matcher(address_type: str, address: str) -> Callable[[str], int | None] | None:
    if address_type == "SMTP":
        domain = parse_smtp(address).domain
        return lambda pattern: smtp_specificity(pattern, domain)
    if address_type == "X400":
        parsed = parse_x400(address).as_dict()
        return lambda pattern: _x400_specificity(pattern, parsed)
    if address_type == "MS":
        parts = parse_ms(address)
        return lambda pattern: _ms_specificity(pattern, parts)
    if address_type == "EX":
        return lambda pattern: _ex_specificity(pattern, address)
    return None


class ExIndex:
    """A GWART's EX rows by address space, to find the most specific space containing a
    distinguished name without scoring every row (a 100-site table has hundreds of rows and
    each site asks for every other site's DN): answers exactly as :func:`match_rows` does."""

    __slots__ = ("blank", "by_space")

    def __init__(self, rows: Iterable[GwartRow]):
        self.by_space: dict[str, list[GwartRow]] = {}
        self.blank: list[GwartRow] = []
        for row in rows:
            if row.type != "EX":
                continue
            if row.space.strip() == "":
                self.blank.append(row)
            else:
                self.by_space.setdefault(row.space.lower().rstrip("/"), []).append(row)

    def match(self, dn: str) -> tuple[GwartRow, ...]:
        """The rows of the longest address space that is the DN or a whole-RDN prefix of it
        (``/o=Contoso`` contains ``/o=Contoso/ou=Paris``); else the blank ones."""
        dn_l = dn.lower()
        found = self.by_space.get(dn_l)
        if found is None:
            cut = dn_l.rfind("/")
            while cut >= 0 and found is None:
                found = self.by_space.get(dn_l[:cut])
                cut = dn_l.rfind("/", 0, cut)
        return tuple(found if found is not None else self.blank)


def match_rows(rows: Iterable[GwartRow], address_type: str, address: str) -> list[GwartRow]:
    """The rows of the most specific address spaces matching the address."""
    matcher = _matcher(address_type, address)
    if matcher is None:
        return []
    scored = [
        (score, row) for row in rows if row.type == address_type and (score := matcher(row.space)) is not None
    ]
    if not scored:
        return []
    top = max(score for score, _ in scored)
    return [row for score, row in scored if score == top]


# --- resolution ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the MTA of ``site`` makes of a recipient address.

    ``kind`` is ``mailbox`` (a mailbox in this site, delivered by its server),
    ``route`` (leave the site by one of ``rows``) or ``unroutable``.
    """

    kind: str
    address_type: str
    address: str
    site: str
    mailbox: Mailbox | None = None
    rows: tuple[GwartRow, ...] = ()
    matched_as: str = ""
    reason: str = ""
    directory: DirectoryMatch | None = None
    """The directory's fuzzy or restricted searches when the exact match missed (KB Q176046):
    what they found, why, and what they cost."""


@dataclass(frozen=True, slots=True, eq=False)
class Destination:
    """What the directory makes of one recipient address: the same in every site, so a router
    keeps one per address (and directory policy) for the whole organization.

    ``group`` stands for every address that each site routes alike, and a site's
    :class:`Answer` is kept per group: a mailbox's group is its site (mail for any mailbox of
    another site leaves by the rows of that site's EX address space), a foreign SMTP
    address's group its domain (the GWART matches the domain alone), any other address its
    own. So the memory of resolutions grows with the addresses plus sites times groups, not
    with sites times addresses (on a 100-site organization of 60,000 mailboxes every site's
    MTAs meet most addresses in a day), and a site meeting a new address asks the directory
    nothing when another site has met it before.
    """

    address_type: str
    """SMTP, X400, MS, EX or ALIAS; '?' for a malformed address."""
    address: str
    """The address as the directory reads it (an X.400 address in its canonical form)."""
    group: object
    mailbox: Mailbox | None = None
    directory: DirectoryMatch | None = None
    """The directory's fuzzy or restricted searches when the exact match missed (KB Q176046)."""
    error: str = ""
    """Why the address is malformed: then it is unroutable in every site."""


@dataclass(frozen=True, slots=True, eq=False)
class Answer:
    """What one site's MTA does with every address of one destination group: hand it to the
    mailbox's server in this site (``mailbox``), leave the site by one of ``rows`` (``route``),
    or return it (``unroutable``, for ``reason``). Hashed by identity: a router keeps one per
    site and group, and an MTA keeps what it decided per answer (a dictionary checks an
    identity fastest)."""

    kind: str
    rows: tuple[GwartRow, ...] = ()
    reason: str = ""
    matched_as: str = ""
    """For an address no mailbox has: the address space its rows matched."""


#: The answer of a mailbox's own site: its server delivers it (no GWART row).
_HERE = Answer("mailbox")


class _Group:
    """The key a site's answers are kept under for one group of addresses (hashed by identity,
    which a dictionary checks fastest); ``name`` is for reading only."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<addresses routed as {self.name}>"


def _resolve_foreign(
    org: Organization, site: str, address_type: str, address: str, gwart: Sequence[GwartRow]
) -> Resolution:
    """An address no mailbox has: routed by the GWART's address spaces, or unroutable."""
    if address_type == "ALIAS":
        return Resolution(
            "unroutable", address_type, address, site, reason=f"no mailbox with alias {address!r}"
        )
    own = _own_site_space(org, site, address_type, address)
    if own:
        return Resolution(
            "unroutable",
            address_type,
            address,
            site,
            reason=f"address is in the organization's own {address_type} address space ({own}) "
            "but no mailbox has it",
        )
    try:
        rows = tuple(match_rows(gwart, address_type, address))
    except AddressError as exc:
        return Resolution("unroutable", address_type, address, site, reason=f"malformed address: {exc}")
    if not rows:
        return Resolution(
            "unroutable",
            address_type,
            address,
            site,
            reason=f"no {address_type} address space in the GWART of {site} matches",
        )
    return Resolution(
        "route",
        address_type,
        address,
        site,
        rows=rows,
        matched_as=f"GWART {address_type}:{rows[0].space or '(blank)'}",
    )


def _own_site_space(org: Organization, site: str, address_type: str, address: str) -> str | None:
    """The organization's own address space an unknown address falls in, if any."""
    addresses = org.sites[site].addresses
    if address_type == "SMTP":
        # The organization's SMTP domains are its own in every site: an unknown
        # user there is not sent out to the Internet.
        domain = parse_smtp(address).domain
        for other in org.sites.values():
            if other.addresses.smtp and other.addresses.smtp.lstrip("@").lower() == domain:
                return other.addresses.smtp
    if address_type == "X400" and addresses.x400:
        site_x400 = format_x400(parse_x400(addresses.x400))
        if (_x400_specificity(site_x400, parse_x400(address).as_dict()) or 0) > 0:
            return site_x400
    if address_type == "EX" and _ex_specificity(org.site_dn(site), address) is not None:
        return org.site_dn(site)
    return None


# --- route selection ----------------------------------------------------------------------


class RouteState(Protocol):
    """What route selection reads of a message on its way: the simulation's ``Envelope``
    and the planner's :class:`MessageRouteState` both provide it."""

    @property
    def arrived_on(self) -> str | None:
        """The connector the message came in on (not chosen to send it back)."""
        ...

    @property
    def visited_sites(self) -> tuple[str, ...]:
        """Sites the message has passed through (a route back into one is a loop)."""
        ...

    @property
    def attempts(self) -> dict[str, int]:
        """Failed opens per connector: the first is the initial open, the rest are retries."""
        ...

    @property
    def hops(self) -> int:
        """MTA hops so far (the hop limit ends a looping message with an NDR)."""
        ...


def open_retries(message: RouteState, connector: str) -> int:
    """The message's retry count on a connector (failed opens after the first)."""
    return max(0, message.attempts.get(connector, 0) - 1)


@dataclass(slots=True)
class MessageRouteState:
    """Route state of a message being planned (``exsim route``), outside the simulation."""

    arrived_on: str | None = None
    visited_sites: tuple[str, ...] = ()
    attempts: dict[str, int] = field(default_factory=dict)
    """Failed opens per connector: the first is the initial open, the rest are retries."""
    hops: int = 0

    def retries(self, connector: str) -> int:
        """The message's retry count on a connector (failed opens after the first)."""
        return open_retries(self, connector)


@dataclass(slots=True)
class ConnectorStates:
    """Connector state the simulation owns: which connectors are in open retry."""

    open_retry: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class FilterStep:
    """One selection filter as applied: the connectors it kept and those it dropped, with why."""

    name: str
    survivors: tuple[str, ...]
    note: str = ""
    dropped: tuple[tuple[str, str], ...] = ()
    """(connector, why) for each candidate this filter removed, e.g. ("X", "cost 10 > 8")."""


@dataclass(frozen=True, slots=True)
class Selection:
    chosen: GwartRow | None
    steps: tuple[FilterStep, ...]
    reason: str = ""
    """Why nothing was chosen: 'loop' when only visited sites remained, 'retries', 'none'."""
    tied: tuple[str, ...] = ()
    """The equal routes the filters left when more than one survived (connectors, by name): the
    MTA draws one of them at random for each message, so they share the load."""


def is_local(org: Organization, connector: str, server: str) -> bool:
    """Whether the server's own MTA (or gateway) can use the connector."""
    return server in org.hosts_in(connector, org.site_of(server))


def select_route(
    org: Organization,
    candidates: Sequence[GwartRow],
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    rng: Draws | None = None,
    lowest_cost_only: bool = False,
    explain: bool = True,
) -> Selection:
    """Choose one candidate row with the Q193322 filters (see the module docstring).

    ``lowest_cost_only`` is the 5.0 SP1 "Use Lowest Cost Routes Only" flag
    (Q166567): cost is decided right after the schedule. Equal survivors share
    the load: one is drawn with ``rng``; without one, the first by name stands for them all
    (``Selection.tied`` names them, for an account that must say the choice is a draw).
    ``explain=False`` skips recording the filter steps (the simulation's hot path).
    """
    steps: list[FilterStep] | None = [] if explain else None
    rows, reason = route_survivors(org, candidates, server, message, states, at_s, lowest_cost_only, steps)
    if not rows:
        return Selection(None, tuple(steps or ()), reason)
    tied = tuple(r.connector for r in rows) if len(rows) > 1 else ()
    if tied and rng is not None:
        chosen = rows[_draw(rng, len(rows))]
        _record(
            steps,
            "load share",
            [chosen],
            f"random draw among {len(rows)} equal routes",
            before=rows,
            why=lambda r: "not drawn (equal routes share the load)",
        )
    else:
        # Without a draw the plan follows the first by name; each message of a run draws its own.
        chosen = rows[0]
        if tied:
            _record(steps, "load share", rows, f"{len(rows)} equal routes: each message draws one at random")
    return Selection(chosen, tuple(steps or ()), tied=tied)


SurvivorMemo: TypeAlias = "dict[tuple[int, ...], list[GwartRow]]"
"""Survivors of filters 2-7 by candidate list and the candidates filter 1 left (identities),
for one deciding server and routing table (see :func:`route_survivors`)."""


def route_survivors(
    org: Organization,
    candidates: Sequence[GwartRow],
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    lowest_cost_only: bool = False,
    steps: list[FilterStep] | None = None,
    memo: SurvivorMemo | None = None,
) -> tuple[list[GwartRow], str]:
    """The candidates left after the seven filters, sorted by connector name (equal routes),
    or no rows and why: 'loop' or 'retries'. Each filter is recorded in ``steps`` if given.

    ``memo`` is for a caller that decides for one server from one routing table, among
    candidates whose schedules do not change with time: for a message that has tried nothing
    yet (no failed opens, nothing refused) while no connector is in open retry, filters 2-7
    read nothing of the message, so the same candidates left by filter 1 always leave the
    same survivors. They are kept there by the candidates left: a hub's MTA meets mail from
    every site, whose paths differ without changing what filter 1 leaves.
    """
    if message.hops >= MAX_HOPS:
        if steps is not None:
            steps.append(FilterStep("hop limit", (), f"{message.hops} hops >= {MAX_HOPS}"))
        return [], "loop"

    visited = message.visited_sites
    refused = getattr(message, "refused", ())
    arrived = message.arrived_on

    def loops(r: GwartRow) -> str:
        if r.connector == arrived:
            return "the connector the message arrived on"
        if r.connector in refused:
            return "refused this message already (too large)"
        back = [site for site in r.route[1:] if site in visited]
        return f"route goes back into site {back[0]}, already passed" if back else ""

    before = list(candidates)
    rows = [r for r in before if not loops(r)]
    _record(
        steps,
        "1. not the connector it arrived on, nor into a site already passed",
        rows,
        before=before,
        why=loops,
    )
    if not rows:
        return [], "loop"
    attempts = message.attempts
    key: tuple[int, ...] | None = None
    if memo is not None and steps is None and not attempts and not refused and not states.open_retry:
        key = (id(candidates), lowest_cost_only, *map(id, rows))
        kept = memo.get(key)
        if kept is not None:
            return kept, ""
    # Used up: the first open and max-open-retries retries have all failed.
    before = rows
    rows = [
        r
        for r in rows
        if attempts.get(r.connector, 0) <= org.connectors[r.connector].override.max_open_retries
    ]
    _record(
        steps,
        "2. not at max open retries",
        rows,
        before=before,
        why=lambda r: (
            f"{attempts.get(r.connector, 0)} failed opens > max open retries "
            f"{org.connectors[r.connector].override.max_open_retries}"
        ),
    )
    if not rows:
        return [], "retries"
    rows = _by_last_resort(rows, org, message, states, at_s, steps)
    if len(rows) == 1 and steps is None:
        return rows, ""  # filters 3-7 keep a lone candidate
    for step in _LOWEST_COST_ORDER if lowest_cost_only else _ORDER:
        rows = step(rows, org, server, message, states, at_s, steps)
    rows.sort(key=lambda r: r.connector)
    if key is not None and memo is not None:
        memo[key] = rows
    return rows, ""


def _record(
    steps: list[FilterStep] | None,
    name: str,
    kept: list[GwartRow],
    note: str = "",
    before: Sequence[GwartRow] = (),
    why: Callable[[GwartRow], str] | None = None,
) -> None:
    """Record a filter step: the survivors and, given the rows before it, each dropped row and why."""
    if steps is not None:
        dropped = tuple((r.connector, why(r) if why else "") for r in before if r not in kept)
        steps.append(FilterStep(name, tuple(r.connector for r in kept), note, dropped))


def _by_last_resort(
    rows: list[GwartRow],
    org: Organization,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    steps: list[FilterStep] | None,
) -> list[GwartRow]:
    """Cost 100 means "only when every other route has failed" (Q262952), whatever the sums.

    A last-resort row is set aside while another candidate can still be tried: one this
    message has not failed an open on yet, which this MTA does not know to be failing (in
    open retry: its own connectors' timers, as filter 5 reads them), and whose connector will
    call out (active now or later; a 'never' or remote-initiated schedule never carries it from
    this side). Once every other route has failed, the ordinary filters decide among all of
    them, and the fewest-attempts or open-retry filter then picks the last resort.
    """
    if not any(r.last_resort for r in rows):
        return rows
    attempts = message.attempts
    untried = [
        r.connector
        for r in rows
        if not r.last_resort
        and not attempts.get(r.connector)
        and r.connector not in states.open_retry
        and org.connectors[r.connector].schedule.state_at(at_s) < Activation.NEVER
    ]
    kept = [r for r in rows if not r.last_resort] if untried else rows
    if steps is not None:
        held = sorted({r.connector for r in rows if r.last_resort})
        retrying = sorted(
            {r.connector for r in rows if not r.last_resort and r.connector in states.open_retry}
        )
        failing = (
            f" ({', '.join(retrying)} {'is' if len(retrying) == 1 else 'are'} in open retry)"
            if retrying
            else ""
        )
        note = (
            f"{', '.join(held)} held back (cost 100) while {', '.join(sorted(set(untried)))} "
            f"can still be tried{failing}"
            if untried
            else f"every other route has failed{failing}: {', '.join(held)} (cost 100) may be used"
        )
        _record(
            steps,
            "2b. cost 100 only when every other route has failed",
            kept,
            note,
            before=rows,
            why=lambda r: (
                f"cost 100 (last resort) while {', '.join(sorted(set(untried)))} can still be tried"
            ),
        )
    return kept


def _by_schedule(
    rows: list[GwartRow],
    org: Organization,
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    steps: list[FilterStep] | None,
) -> list[GwartRow]:
    activation = {r.connector: org.connectors[r.connector].schedule.state_at(at_s) for r in rows}
    best = min(activation.values())
    kept = [r for r in rows if activation[r.connector] == best]
    if steps is not None:
        note = ", ".join(f"{c}: {_activation_name(a)}" for c, a in sorted(activation.items()))
        _record(
            steps,
            "3. active soonest",
            kept,
            note,
            before=rows,
            why=lambda r: (
                f"its schedule is {_activation_phrase(activation[r.connector])} while another's is "
                f"{_activation_phrase(best)}"
            ),
        )
    return kept


def _by_attempts(
    rows: list[GwartRow],
    org: Organization,
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    steps: list[FilterStep] | None,
) -> list[GwartRow]:
    attempts = message.attempts
    fewest = min(attempts.get(r.connector, 0) for r in rows)
    kept = [r for r in rows if attempts.get(r.connector, 0) == fewest]
    _record(
        steps,
        "4. fewest attempts",
        kept,
        before=rows,
        why=lambda r: f"{attempts.get(r.connector, 0)} failed opens > {fewest}",
    )
    return kept


def _by_open_retry(
    rows: list[GwartRow],
    org: Organization,
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    steps: list[FilterStep] | None,
) -> list[GwartRow]:
    # An MTA knows only its own open retry timers (KB Q193322): with candidates on different
    # servers the filter is bypassed, even for those on this one; with all of them on one other
    # server (or the same servers) it applies, but this MTA's states hold none of their timers.
    site = org.site_of(server)
    hosts = {tuple(org.hosts_in(r.connector, site)) for r in rows}
    local = all(is_local(org, r.connector, server) for r in rows)
    if len(hosts) > 1 and not local:
        _record(
            steps,
            "5. not in open retry",
            rows,
            f"bypassed: the candidates run on different servers, and {server}'s MTA knows only its own "
            "open retry timers",
        )
        return rows
    kept = [r for r in rows if r.connector not in states.open_retry]
    note = "" if kept else "all retrying: kept all"
    if not local and steps is not None:
        note = f"the candidates all run on {', '.join(next(iter(hosts)))}: {server}'s MTA knows none of their timers"
    _record(
        steps,
        "5. not in open retry",
        kept or rows,
        note,
        before=rows,
        why=lambda r: "its connector is in open retry",
    )
    return kept or rows


def _by_cost(
    rows: list[GwartRow],
    org: Organization,
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    steps: list[FilterStep] | None,
) -> list[GwartRow]:
    lowest = min(r.cost for r in rows)
    kept = [r for r in rows if r.cost == lowest]
    _record(steps, "6. lowest cost", kept, before=rows, why=lambda r: f"cost {r.cost} > {lowest}")
    return kept


def _by_locality(
    rows: list[GwartRow],
    org: Organization,
    server: str,
    message: RouteState,
    states: ConnectorStates,
    at_s: float,
    steps: list[FilterStep] | None,
) -> list[GwartRow]:
    kept = [r for r in rows if is_local(org, r.connector, server)]
    _record(
        steps,
        "7. local over remote",
        kept or rows,
        "" if kept else "none local: kept remote",
        before=rows,
        why=lambda r: f"on {', '.join(org.hosts_in(r.connector, org.site_of(server)))}, not on {server}",
    )
    return kept or rows


def _activation_name(state: int) -> str:
    return Activation(state).name.lower() if state != Activation.NEVER else "never/remote"


def _activation_phrase(state: int) -> str:
    """A schedule state as a phrase: 'active now', 'active later', 'never active from this side'."""
    return (
        f"active {Activation(state).name.lower()}"
        if state != Activation.NEVER
        else "never active from this side"
    )


_ORDER = (_by_schedule, _by_attempts, _by_open_retry, _by_cost, _by_locality)
_LOWEST_COST_ORDER = (_by_schedule, _by_cost, _by_attempts, _by_open_retry, _by_locality)


Draws: TypeAlias = "np.random.Generator | random.Random"
"""Where the load-share draws come from: the simulation's random.Random, or a NumPy generator."""


def _draw(rng: Draws, n: int) -> int:
    """A uniform index below n from a random.Random or a numpy Generator (NumPy is imported
    only by whoever made the generator)."""
    if isinstance(rng, random.Random):
        return rng.randrange(n)
    return int(rng.integers(n))


def select_target_server(
    org: Organization,
    connector: str,
    dest_site: str,
    failed: Iterable[str] = (),
    rng: Draws | None = None,
) -> str | None:
    """Which server in ``dest_site`` a site connector (or bridgehead link) connects to.

    A site connector connects to one of its target servers in the remote site; with none
    listed there, every server of that site is a target at cost 1. Target costs: 0 is
    always tried first; 1-99 are drawn from ``rng`` with weight 1/cost (without ``rng``,
    the cheapest, then first by name); 100 only when every other target has failed. An
    X.400 or RAS connector reaches the remote site's bridgehead.
    """
    c = org.connectors[connector]
    failed = set(failed)
    if c.kind not in LINK_KINDS:
        return None
    if not isinstance(c, SiteConnector):
        hosts = org.hosts_in(connector, dest_site)
        hosts = [h for h in hosts if h not in failed] or hosts
        return hosts[0] if hosts else None
    targets = [(t.server, t.cost) for t in c.target_servers if org.site_of(t.server) == dest_site] or [
        (s, 1) for s in org.servers_of(dest_site)
    ]
    live = [(s, k) for s, k in targets if s not in failed]
    zero = [s for s, k in live if k == 0]
    if zero:
        return zero[0]
    weighted = [(s, k) for s, k in live if 0 < k < 100]
    if weighted:
        if rng is None or len(weighted) == 1:
            return min(weighted, key=lambda sk: (sk[1], sk[0]))[0]
        weights = [1.0 / k for _, k in weighted]
        pick = rng.random() * sum(weights)
        for (name, _), weight in zip(weighted, weights, strict=True):
            pick -= weight
            if pick < 0:
                return name
        return weighted[-1][0]
    last = [s for s, k in live if k == 100]
    return last[0] if last else None


def _target_reason(org: Organization, connector: str, server: str | None) -> str:
    """Why a link connector reaches that server in the next site (for explanations)."""
    c = org.connectors[connector]
    for target in getattr(c, "target_servers", None) or ():
        if target.server == server:
            return f"target server cost {target.cost}"
    if c.kind == "site":
        return "any server of the site: no target servers listed"
    return "the connector's bridgehead there"


# --- the whole path, for explanations -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hop:
    from_server: str
    to_server: str | None
    via: str
    """'RPC' inside a site, a connector name, or the gateway that takes the mail out."""
    cost: int = 0
    why: str = ""
    """Which server decided this hop and on what grounds (the chosen connector, its host, the
    target server in the next site, the mailbox's home server)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One routing decision of one MTA: what matched and which filters kept what."""

    server: str
    site: str
    resolution: Resolution
    selection: Selection | None


@dataclass(frozen=True, slots=True)
class RoutePlan:
    recipient: str
    decisions: tuple[Decision, ...]
    hops: tuple[Hop, ...]
    total_cost: int
    outcome: str
    """'delivered to <server>', 'misdelivered to <server> (...)', 'to gateway <name>', or
    'unroutable: <why>'."""
    fix: str = ""
    """For a misdelivery, or mail a defect of the gateway server's build returns, what an
    administrator does about it (the defect row's fix)."""


class Router:
    """The GWARTs of one organization, computed once, with the decisions made on them.

    Resolution is kept in two levels (see :class:`Destination`): what the directory makes of an
    address, once for the organization (per directory policy), and what each site does with
    each group of addresses. :meth:`resolve` joins them into the full :class:`Resolution` that
    ``exsim route`` and message tracking show; the MTA reads the two levels directly.
    """

    def __init__(self, org: Organization, hidden_sites: frozenset[str] = frozenset()):
        self.org = org
        self.gwarts = Gwarts(org, hidden_sites)
        # Per directory policy: recipient address as written -> its destination. The exact
        # directory's answers are shared by every policy (only an X.400 address that no proxy
        # matches exactly is searched otherwise).
        self._destinations: dict[Policy, dict[str, Destination]] = {}
        self._exact = self.destinations(EXACT)
        # Per site: destination group -> the site's answer.
        self._answers: dict[str, dict[object, Answer]] = {}
        self._site_groups: dict[str, _Group] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._rows: dict[tuple[GwartRow, ...], tuple[GwartRow, ...]] = {}
        self._canonical: dict[int, tuple[GwartRow, ...]] = {}
        self._ex_index: dict[str, ExIndex] = {}
        self._directory: Directory | None = None

    @property
    def directory(self) -> Directory:
        """Every mailbox's X.400 proxy, parsed for the fuzzy searches (built when first needed)."""
        if self._directory is None:
            self._directory = Directory(self.org.mailboxes.values())
        return self._directory

    def _gateway_defect(self, from_server: str, server: str, kind: str) -> Defect | None:
        """The defect of ``server``'s build that strikes mail its store hands to a gateway of
        ``kind`` (KB Q166866 for an IMS), looking at the X.400 address of the site the scenario
        says (``model.q166866_gdi_site``: the gateway's, or the sender's); None when none does."""
        org = self.org
        return striking_defect(
            f"gateway_in:{kind}",
            org.servers[server].version,
            org.scenario.model,
            lambda site: parse_x400(org.scenario.site(site).addresses.x400 or "").gdi,
            org.site_of(server),
            org.site_of(from_server),
        )

    def _misdelivery(self, site: str, recipient: str, found: DirectoryMatch) -> tuple[str, str] | None:
        """When a fuzzy or restricted search put an address that belongs to a foreign address space
        (exact matching would route it out of the organization) into a local mailbox: the start of
        the outcome, saying why, and the fix. None when the match is no misdelivery."""
        exact = self.resolve(site, recipient, EXACT)
        if exact.kind != "route" or found.mailbox is None:
            return None
        gateway = exact.rows[0].connector if exact.rows else "a connector"
        no_prmd = ""
        try:
            if not any(k.lower() == "p" and v.strip() for k, v in parse_x400(recipient).attributes):
                no_prmd = "; the address has no PRMD (p=)"
        except AddressError:
            pass
        row = defect_by_kb(found.defect) if found.defect else None
        outcome = (
            f"misdelivered{f' ({row.kb})' if row else ''}: meant for the foreign address space of {gateway}, but "
            f"{found.why}{no_prmd}; delivered to mailbox {found.mailbox.alias} on"
        )
        fix = row.fix if row is not None else "set 'Allow fuzzy proxy search' to 2 (exact matches only)"
        return outcome, fix

    def resolve(self, site: str, recipient: str, policy: Policy = EXACT) -> Resolution:
        """Resolution of a recipient in a site's GWART, by an MTA whose directory searches follow
        ``policy`` (:mod:`exsim.directory`): the destination and the site's answer for its group
        (both kept: the tables do not change), with what matched, in words."""
        destination = self.destination(recipient, policy)
        answer = self._answers_of(site).get(destination.group) or self.answer(site, destination)
        if destination.error:
            return Resolution("unroutable", "?", recipient, site, reason=destination.error)
        mailbox, matched_as = destination.mailbox, answer.matched_as
        if mailbox is not None:
            if answer.kind == "mailbox":
                matched_as = f"directory: mailbox {mailbox.alias} on {mailbox.server}"
            elif answer.kind == "route":
                matched_as = (
                    f"directory: mailbox {mailbox.alias} in site {mailbox.site}, "
                    f"routed as EX:{self.org.site_dn(mailbox.site)}"
                )
        found = destination.directory
        if found is not None and found.mailbox is not None:
            matched_as = f"{matched_as} ({found.why})"
        return Resolution(
            answer.kind,
            destination.address_type,
            destination.address,
            site,
            mailbox,
            answer.rows,
            matched_as,
            answer.reason,
            found,
        )

    def destinations(self, policy: Policy = EXACT) -> dict[str, Destination]:
        """The destinations found so far for an MTA whose directory searches follow ``policy``, by
        recipient address as written: an MTA reads it directly and calls :meth:`destination`
        on a miss (the routing thread looks up every recipient of every message)."""
        found = self._destinations.get(policy)
        if found is None:
            found = self._destinations[policy] = {}
        return found

    def answers(self, site: str) -> dict[object, Answer]:
        """A site's answers so far, by destination group: an MTA of the site reads it directly
        and calls :meth:`answer` on a miss."""
        return self._answers_of(site)

    def _answers_of(self, site: str) -> dict[object, Answer]:
        found = self._answers.get(site)
        if found is None:
            found = self._answers[site] = {}
        return found

    def destination(self, recipient: str, policy: Policy = EXACT) -> Destination:
        """What the directory of an MTA with ``policy`` makes of a recipient address (kept)."""
        destinations = self.destinations(policy)
        found = destinations.get(recipient)
        if found is not None:
            return found
        found = self._exact.get(recipient)
        if found is None:
            found = self._exact[recipient] = self._look_up(recipient)
        if policy is not EXACT and found.mailbox is None and found.address_type == "X400" and not found.error:
            # No proxy matches exactly: the MTA's fuzzy or restricted search (KB Q176046).
            match = self.directory.resolve(found.address, policy)
            if match.mailbox is not None:
                found = Destination(
                    found.address_type,
                    found.address,
                    self._site_group(match.mailbox.site),
                    match.mailbox,
                    match,
                )
            elif match.searches:
                found = Destination(found.address_type, found.address, found.group, None, match)
        destinations[recipient] = found
        return found

    def _look_up(self, recipient: str) -> Destination:
        """The exact directory's destination of a recipient address."""
        try:
            address_type, address, mailbox = self.org.look_up(recipient)
            if mailbox is not None:
                return Destination(address_type, address, self._site_group(mailbox.site), mailbox)
            if address_type == "EX":
                parse_dn(address)
        except AddressError as exc:
            return Destination("?", recipient, self._group("?", recipient), error=f"malformed address: {exc}")
        if address_type == "SMTP":
            # A foreign SMTP address is routed by its domain alone: one group per domain. A
            # malformed one is refused (AddressError), as `exsim route --to` reports it.
            return Destination(address_type, address, self._group("SMTP", "@" + parse_smtp(address).domain))
        return Destination(address_type, address, self._group(address_type, address))

    def _site_group(self, site: str) -> _Group:
        group = self._site_groups.get(site)
        if group is None:
            group = self._site_groups[site] = _Group(f"the mailboxes of site {site}")
        return group

    def _group(self, address_type: str, address: str) -> _Group:
        group = self._groups.get((address_type, address))
        if group is None:
            group = self._groups[(address_type, address)] = _Group(f"{address_type}:{address}")
        return group

    def answer(self, site: str, destination: Destination) -> Answer:
        """What a site's MTAs do with a destination's group (kept for the group)."""
        if destination.error:
            answer = Answer("unroutable", reason=destination.error)
        elif (mailbox := destination.mailbox) is not None:
            if mailbox.site == site:
                answer = _HERE
            else:
                rows = self._ex_rows(site, self.org.site_dn(mailbox.site))
                answer = (
                    Answer("route", rows)
                    if rows
                    else Answer("unroutable", reason=f"no route from site {site} to site {mailbox.site}")
                )
        else:
            found = _resolve_foreign(
                self.org, site, destination.address_type, destination.address, self.gwarts[site]
            )
            answer = Answer(found.kind, self._one_of(found.rows), found.reason, found.matched_as)
        self._answers_of(site)[destination.group] = answer
        return answer

    def _ex_rows(self, site: str, dn: str) -> tuple[GwartRow, ...]:
        """The site's GWART rows for a distinguished name (the most specific EX address space)."""
        index = self._ex_index.get(site)
        if index is None:
            index = self._ex_index[site] = ExIndex(self.gwarts[site])
        return self._one_of(index.match(dn))

    def _one_of(self, rows: tuple[GwartRow, ...]) -> tuple[GwartRow, ...]:
        """The one object of the router that holds these candidate rows (the first one seen), so
        that callers can cache decisions by identity. Hashing rows costs a dataclass hash per
        row: a list already known as the one object is recognised by identity."""
        if self._canonical.get(id(rows)) is rows:
            return rows
        rows = self._rows.setdefault(rows, rows)
        self._canonical[id(rows)] = rows
        return rows

    def mailbox(self, recipient: str) -> Mailbox | None:
        """The organization's mailbox a recipient address names exactly, if any (the directory)."""
        found = self._exact.get(recipient)  # the store asks for every recipient
        if found is None:
            found = self.destination(recipient)
        return found.mailbox

    def plan(
        self, from_server: str, recipient: str, at_s: float = 0.0, states: ConnectorStates | None = None
    ) -> RoutePlan:
        """Follow a recipient from a server to its destination, deciding at each site."""
        org = self.org
        states = states or ConnectorStates()
        message = MessageRouteState()
        server, decisions, hops, total = from_server, [], [], 0
        while True:
            site = org.site_of(server)
            config = org.servers[server]
            resolution = self.resolve(
                site, recipient, Policy.of(config.allow_fuzzy_proxy_search, config.version)
            )
            if resolution.kind == "mailbox":
                decisions.append(Decision(server, site, resolution, None))
                mailbox = resolution.mailbox
                assert mailbox is not None  # a "mailbox" resolution names its mailbox
                target = mailbox.server
                if target != server:
                    hops.append(
                        Hop(
                            server,
                            target,
                            "RPC",
                            why=f"{server}'s MTA finds {mailbox.alias}'s mailbox on {target} "
                            f"in the directory: delivered inside site {site} by RPC",
                        )
                    )
                found = resolution.directory
                if found is not None and found.mailbox is not None:
                    misdelivery = self._misdelivery(site, recipient, found)
                    if misdelivery is not None:
                        outcome, fix = misdelivery
                        return RoutePlan(
                            recipient, tuple(decisions), tuple(hops), total, f"{outcome} {target}", fix
                        )
                return RoutePlan(recipient, tuple(decisions), tuple(hops), total, f"delivered to {target}")
            if resolution.kind == "unroutable":
                decisions.append(Decision(server, site, resolution, None))
                return RoutePlan(
                    recipient, tuple(decisions), tuple(hops), total, f"unroutable: {resolution.reason}"
                )
            message.visited_sites = (*message.visited_sites, site)
            selection = select_route(org, resolution.rows, server, message, states, at_s)
            decisions.append(Decision(server, site, resolution, selection))
            if selection.chosen is None:
                why = {"loop": "loop detected", "retries": "every route at max retries"}.get(
                    selection.reason, "no route"
                )
                return RoutePlan(recipient, tuple(decisions), tuple(hops), total, f"unroutable: {why}")
            row = selection.chosen
            connector = org.connectors[row.connector]
            if not is_local(org, row.connector, server):
                bridgehead = org.hosts_in(row.connector, site)[0]
                hops.append(
                    Hop(
                        server,
                        bridgehead,
                        "RPC",
                        why=f"{server}'s MTA chose {row.connector}, which runs on {bridgehead}: "
                        f"handed to {bridgehead}'s MTA by RPC inside site {site}",
                    )
                )
                server = bridgehead
            if isinstance(connector, GATEWAY_CONNECTORS):
                hop_cost = row.cost
                hops.append(
                    Hop(
                        server,
                        None,
                        row.connector,
                        hop_cost,
                        f"{server} runs the gateway {row.connector}, which takes the mail out of the "
                        "organization",
                    )
                )
                outcome, fix = f"to gateway {row.connector}", ""
                defect = self._gateway_defect(from_server, server, connector.kind)
                if defect is not None:
                    outcome += (
                        f", but on {org.servers[server].version} the store on {server} "
                        f"{'returns it' if defect.ndr else 'holds it'} ({defect.kb}: {defect.title})"
                    )
                    fix = defect.fix_for({connector.kind})
                return RoutePlan(recipient, tuple(decisions), tuple(hops), total + hop_cost, outcome, fix)
            next_site = row.route[1]
            next_server = select_target_server(org, row.connector, next_site)
            if next_server is None:
                why = f"no server in site {next_site} for {row.connector} to connect to"
                return RoutePlan(recipient, tuple(decisions), tuple(hops), total, f"unroutable: {why}")
            # An address space on this site's end of the link: its own cost is the GWART row's,
            # and stands for the link's (compute_gwart adds no link cost to it).
            spaced = row.target == row.connector
            hop_cost = row.cost if spaced else connector.cost
            hops.append(
                Hop(
                    server,
                    next_server,
                    row.connector,
                    hop_cost,
                    f"{server}'s MTA sends over {row.connector}"
                    + (
                        f" (cost {hop_cost}: the address space {row.type}:{row.space or '(blank)'} on "
                        f"site {site}'s end of it, whose cost stands for the link's {connector.cost})"
                        if spaced
                        else ""
                    )
                    + f"; {next_server} receives it in site {next_site} "
                    f"({_target_reason(org, row.connector, next_server)})",
                )
            )
            total += hop_cost
            message.arrived_on = row.connector
            message.hops += 1
            server = next_server


def cost_breakdown(org: Organization, row: GwartRow) -> list[tuple[str, int]]:
    """A GWART row's cost as the parts that sum to it, hop by hop (Redmond-Sydney 8 = 3 + 5).

    The first part is the row's own connector (a link) or the gateway's address space; each
    later site-to-site step is the cheapest link between those two sites (as the path search
    took it); an address space's own cost comes last. A link address space's exit over the
    far end's link adds nothing (the space's cost covers it).
    """
    connector = org.connectors[row.connector]
    if isinstance(connector, GATEWAY_CONNECTORS):
        return [(row.connector, row.cost)]
    if row.target == row.connector:  # an address space on this site's end of the link: its cost alone
        return [(f"{row.connector} address space {row.type}:{row.space or '(blank)'}", row.cost)]
    parts = [(row.connector, connector.cost)]
    steps = list(zip(row.route[1:], row.route[2:], strict=False))
    if steps and row.target in org.connectors and org.connectors[row.target].kind in LINK_KINDS:
        steps = steps[:-1]  # the exit over the connector holding the address space
    for a, b in steps:
        name, cost = min(org.links[a][b].items(), key=lambda item: (_weight(item[1]), item[0]))
        parts.append((name, cost))
    rest = row.cost - sum(cost for _, cost in parts)
    if rest:
        owner = f"{row.target} " if row.target in org.connectors else ""
        parts.append((f"{owner}address space {row.type}:{row.space or '(blank)'}", rest))
    return parts
