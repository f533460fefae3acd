"""What the MTA does with the directory's answer, beyond routing: misdirection, search time, and
the Q185024 loop.

:mod:`exsim.directory` decides *which* mailbox an address resolves to; this module is the
simulation's side of it, called by the MTA for each recipient it routes:

* A recipient that the directory's fuzzy or restricted search resolved to a mailbox the
  sender did not mean is marked misdirected (``Recipient.misdirected``, with the mailbox and
  the directory's reason). The store then delivers it as any other mail, and the tracking log
  shows a normal delivery; only the books count it misdelivered. The last MTA to resolve the
  recipient decides: another site's MTA that does not match fuzzily routes it on as foreign.
* Each search costs the MTA directory time in proportion to the size of the address list
  (KB Q159184), spent on the MTA's routing thread so that it holds up the work queue.
* KB Q185024: the Exchange 4.0 client submits a proxy (SMTP or MS Mail) address taken from a
  personal address book or typed as a one-off without resolving it, so even a recipient on the
  sender's own server goes to the MTA. When a bridgehead of the site runs a later build than
  the sender's server, and that build carries the defect, the MTA detects a loop and NDRs it.
  Never with the other clients, never from the GAL, never when the builds are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exsim.directory import search_cost_s
from exsim.sim.message import Message, Recipient
from exsim.versions import BUILDS, Defect, defect_at

if TYPE_CHECKING:
    from exsim.directory import DirectoryMatch
    from exsim.org import Organization
    from exsim.routing import Router
    from exsim.scenario import DirectorySearch
    from exsim.sim.ports import Books, Builds, Routing

#: Clients (KB Q185024). Only the 4.0 client leaves one-off proxy addresses for the MTA.
CLIENTS = ("exchange_4_0", "exchange_5_0", "outlook_97", "outlook_98")
UNRESOLVED_ONE_OFFS = frozenset({"exchange_4_0"})


def directory_outcome(
    books: Books,
    router: Router,
    costs: DirectorySearch,
    server: str,
    message: Message,
    recipient: Recipient,
    found: DirectoryMatch | None,
) -> float:
    """Mark or clear the recipient's misdirection from what this MTA's directory ``found`` (None:
    an exact match, or no search); the seconds of directory time the searches cost (``costs``
    per 1,000 entries of ``router``'s directory)."""
    if found is None:
        recipient.misdirected, recipient.misdirected_by = "", None  # resolved exactly here
        return 0.0
    mailbox = found.mailbox
    if mailbox is not None and mailbox.alias != recipient.intended:
        recipient.misdirected = f"mailbox {mailbox.alias} on {mailbox.server}: {found.why}"
        recipient.misdirected_by = found.defect
    else:
        recipient.misdirected, recipient.misdirected_by = "", None
    if message.traced:
        outcome = (
            f"resolved to mailbox {mailbox.alias} on {mailbox.server}"
            if mailbox is not None
            else "no mailbox: the address routes on as a foreign address"
        )
        books.trace(
            message,
            f"MTA {server}: directory: {recipient.address} matched no proxy exactly; {found.why}; {outcome}",
            server,
            "MTA (directory)",
        )
    if not found.searches:
        return 0.0
    return search_cost_s(
        found.searches,
        len(router.directory),
        costs.fuzzy_search_per_1000_entries,
        costs.restricted_search_per_1000_entries,
    )


def bridgeheads(org: Organization, site: str) -> list[str]:
    """The servers of a site that host a connector (link or gateway)."""
    return sorted(
        {host for name in org.connectors for host in org.hosts_in(name, site)} if site in org.sites else set()
    )


def proxy_loop(
    routing: Routing, builds: Builds, server: str, message: Message, recipient: Recipient
) -> Defect | None:
    """The Q185024 defect, when it bites a one-off proxy recipient on the sender's own server."""
    if message.client not in UNRESOLVED_ONE_OFFS or message.origin_server != server:
        return None
    box = routing.mailbox_of(recipient.address)
    if box is None or box.server != server:
        return None
    defect = defect_at("bridgehead_proxy_loop")
    if defect is None:
        return None
    mine = BUILDS[builds.version(server)].build
    org = routing.org
    for bridgehead in bridgeheads(org, org.site_of(server)):
        version = builds.version(bridgehead)
        if version in defect.versions and BUILDS[version].build > mine:
            return defect
    return None
