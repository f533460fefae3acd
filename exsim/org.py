"""The organization as a graph: sites joined by connectors, servers in sites.

:class:`Organization` is built from a validated scenario and is what routing
and the simulation read. Sites are the nodes of a directed multigraph:
every site-linking connector (site, X.400, Dynamic RAS) is one edge in each
direction, keyed by connector name, with its cost, kind and schedule. Routing
reads the plain adjacency (:attr:`Organization.links`); a networkx
``MultiDiGraph`` of it (:attr:`Organization.graph`) is built only when asked for,
so the quick commands never import networkx. Gateways
(IMS, MS Mail Connector) are not edges: they live on a server and carry address
spaces out of the organization. The organization also plays the directory: it
knows every mailbox and its proxy addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from exsim.address import (
    AddressError,
    Proxies,
    anonymous_alias,
    classify_recipient,
    format_x400,
    parse_x400,
    proxies,
    site_dn,
)
from exsim.scenario import GATEWAY_CONNECTORS, LINK_CONNECTORS, LinkConnector, Scenario

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox in the directory, with the proxies its site addresses give it."""

    alias: str
    server: str
    site: str
    proxies: Proxies


class Organization:
    """Sites, servers, connectors and mailboxes of one scenario."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.name = scenario.organization.name
        self.sites = {site.name: site for site in scenario.sites}
        self.servers = {server.name: server for server in scenario.servers}
        self.connectors = {connector.name: connector for connector in scenario.connectors}
        # Lookups the simulation makes per message, computed once.
        self._site_servers: dict[str, list[str]] = {site.name: [] for site in scenario.sites}
        for server in scenario.servers:
            self._site_servers[server.site].append(server.name)
        self._hosts: dict[str, list[str]] = {}
        self._hosts_in: dict[tuple[str, str], list[str]] = {}
        # Site -> neighbouring site -> link connector name -> cost, in the order the scenario
        # lists sites and connectors: each link connector once in each direction.
        self.links: dict[str, dict[str, dict[str, int]]] = {site.name: {} for site in scenario.sites}
        for connector in scenario.connectors:
            if isinstance(connector, LINK_CONNECTORS):
                a, b = connector.sites
                for src, dst in ((a, b), (b, a)):
                    self.links[src].setdefault(dst, {})[connector.name] = connector.cost

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The sites as a networkx ``MultiDiGraph`` (for figures and analysis): one edge per
        link connector and direction, keyed by connector name, with its cost, kind and schedule."""
        import networkx as nx  # here: routing needs only :attr:`links`

        graph = nx.MultiDiGraph()
        for site in self.scenario.sites:
            graph.add_node(site.name, site=site, servers=self.servers_of(site.name))
        for src, neighbours in self.links.items():
            for dst, connectors in neighbours.items():
                for name, cost in connectors.items():
                    connector = self.link(name)
                    graph.add_edge(
                        src,
                        dst,
                        key=name,
                        connector=name,
                        cost=cost,
                        kind=connector.kind,
                        schedule=connector.schedule,
                    )
        return graph

    # --- where things are -------------------------------------------------
    def site_of(self, server: str) -> str:
        return self.servers[server].site

    def servers_of(self, site: str) -> list[str]:
        return self._site_servers[site]

    def connectors_on(self, server: str) -> list[str]:
        """Connectors whose MTA (or gateway) runs on this server."""
        return [name for name in self.connectors if server in self.hosts(name)]

    def hosts(self, connector: str) -> list[str]:
        """Servers whose MTA can send over the connector from their own site."""
        found = self._hosts.get(connector)
        if found is None:
            c = self.connectors[connector]
            if isinstance(c, GATEWAY_CONNECTORS):
                found = [c.server]
            elif c.bridgeheads:
                found = list(c.bridgeheads)
            else:
                found = self.servers_of(c.sites[0]) + self.servers_of(c.sites[1])
            self._hosts[connector] = found
        return found

    def hosts_in(self, connector: str, site: str) -> list[str]:
        """The connector's hosts in one site (the local bridgeheads)."""
        found = self._hosts_in.get((connector, site))
        if found is None:
            found = self._hosts_in[(connector, site)] = [
                s for s in self.hosts(connector) if self.site_of(s) == site
            ]
        return found

    def connector_sites(self, connector: str) -> tuple[str, ...]:
        c = self.connectors[connector]
        return tuple(c.sites) if isinstance(c, LINK_CONNECTORS) else (self.site_of(c.server),)

    def gateways_in(self, site: str) -> list[str]:
        return [
            name
            for name, c in self.connectors.items()
            if isinstance(c, GATEWAY_CONNECTORS) and self.site_of(c.server) == site
        ]

    def link(self, connector: str) -> LinkConnector:
        """A connector between sites, by name (a gateway joins no sites: a ValueError)."""
        c = self.connectors[connector]
        if not isinstance(c, LINK_CONNECTORS):
            raise ValueError(f"connector {connector!r} is a {c.kind} gateway, not a link between sites")
        return c

    def other_end(self, connector: str, site: str) -> str:
        a, b = self.link(connector).sites
        return b if site == a else a

    def site_dn(self, site: str) -> str:
        return site_dn(self.name, site)

    # --- the directory ----------------------------------------------------
    @cached_property
    def mailboxes(self) -> dict[str, Mailbox]:
        """Every mailbox by alias: the named ones, then ``<server>-uNNNN`` per anonymous user."""
        boxes: dict[str, Mailbox] = {}
        for server in self.scenario.servers:
            site = self.sites[server.site]
            named = [(m.alias, m.surname, m.given) for m in server.mailboxes]
            anonymous = [
                (anonymous_alias(server.name, n), f"User{n:04d}", server.name[:16])
                for n in range(1, server.users + 1)
            ]
            for alias, surname, given in named + anonymous:
                boxes[alias] = Mailbox(
                    alias=alias,
                    server=server.name,
                    site=server.site,
                    proxies=proxies(
                        self.name,
                        server.site,
                        alias,
                        surname,
                        given,
                        site.addresses.x400 or "",
                        site.addresses.smtp,
                        site.addresses.ms,
                    ),
                )
        return boxes

    @cached_property
    def _proxy_index(self) -> dict[tuple[str, str], Mailbox]:
        index: dict[tuple[str, str], Mailbox] = {}
        for box in self.mailboxes.values():
            index[("EX", box.proxies.ex.lower())] = box
            index[("X400", box.proxies.x400.lower())] = box
            if box.proxies.smtp:
                index[("SMTP", box.proxies.smtp.lower())] = box
            if box.proxies.ms:
                index[("MS", box.proxies.ms.lower())] = box
        return index

    def find_mailbox(self, address_type: str, address: str) -> Mailbox | None:
        """The mailbox owning a proxy address (or alias), as the directory would answer."""
        if address_type == "ALIAS":
            exact = self.mailboxes.get(address)
            if exact:
                return exact
            return next((m for a, m in self.mailboxes.items() if a.lower() == address.lower()), None)
        return self._proxy_index.get((address_type, address.lower()))

    def look_up(self, recipient: str) -> tuple[str, str, Mailbox | None]:
        """A recipient as a user may write it (an alias, ``alias@domain``, an X.400 address, a
        directory name, ``TYPE:address``): its address type, the address as the directory keeps
        it (an X.400 one in its canonical form) and the mailbox owning it exactly, or None.
        Raises :class:`~exsim.address.AddressError` for a malformed X.400 address.

        The directory is asked first: text that is a mailbox's alias names that mailbox, whatever
        it looks like (a server called ``A/B`` has users ``A/B-u0001``..., which would otherwise
        read as an MS Mail address, and one called ``x@y`` users that would read as SMTP)."""
        named = self.mailboxes.get(recipient.strip())
        if named is not None:
            return "ALIAS", recipient.strip(), named
        address_type, address = classify_recipient(recipient)
        if address_type == "X400":
            address = format_x400(parse_x400(address))
        return address_type, address, self.find_mailbox(address_type, address)

    def mailbox_meant(self, text: str) -> Mailbox:
        """The mailbox ``text`` names: by its alias or by any address the directory knows it by
        (:meth:`look_up`), as a ``mailbox`` expectation names the mailbox it counts. Raises
        :class:`LookupError` saying why none is, with the closest address of that type among the
        scenario's named mailboxes (not the anonymous users, who may be millions)."""
        try:
            address_type, address, mailbox = self.look_up(text)
        except AddressError as exc:
            raise LookupError(f"{text!r} is not a valid address: {exc}") from None
        if mailbox is not None:
            return mailbox
        from exsim.names import did_you_mean  # only a miss pays for it

        def written(box: Mailbox) -> str | None:
            """The box's address of the type asked for (a Proxies field is named by its type)."""
            return box.alias if address_type == "ALIAS" else getattr(box.proxies, address_type.lower(), None)

        named = (self.mailboxes[m.alias] for server in self.scenario.servers for m in server.mailboxes)
        known = [form for box in named if (form := written(box)) is not None]
        what = {"ALIAS": "alias", "X400": "X.400 address"}.get(address_type, f"{address_type} address")
        raise LookupError(f"no mailbox has the {what} {text!r}{did_you_mean(address, known)}")
