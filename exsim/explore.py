"""``exsim explore``: one offline HTML page to explore an organization's routing.

The page draws the organization (sites, their servers, the connectors between sites
with kind, cost and schedule, and the gateways); a click on a site shows its GWART with
each row's cost broken down hop by hop; choosing a sending server and a recipient shows
the route hop by hop, and at each MTA the selection filters with what each dropped and
why; a trace JSON file (``exsim trace --json``) can be loaded and is drawn as a sequence
chart over the servers in simulated time. For a scenario with timed events (upgrades,
address changes, outages, ...), one run of it is embedded too, as per-site time series, and
a slider moves through the run showing each site's deliveries, NDRs and queues at that
time, with the events marked on the slider.

Routing is never re-implemented in the page: every route is computed here, by
:mod:`exsim.routing`, for every sending server and every representative recipient (each
mailbox of the organization and a sample address for each gateway address space), and
embedded as JSON. A typed address is looked up among those precomputed recipients.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import jinja2

from exsim.explain import explain_decision, explain_plan
from exsim.logs import timestamp
from exsim.org import Organization
from exsim.routing import Router, cost_breakdown
from exsim.scenario import GATEWAY_KINDS, Scenario


def sample_addresses(org: Organization) -> list[str]:
    """One recipient per mailbox (its alias) and a sample address per SMTP, MS or X.400 address space."""
    found = [mailbox.alias for server in org.servers.values() for mailbox in server.mailboxes]
    for connector in org.connectors.values():
        for space in connector.address_spaces:
            pattern = space.pattern.strip()
            if space.type == "SMTP":
                domain = pattern.lstrip("@").replace("*", "example") or "example"
                found.append(f"user@{domain if '.' in domain else domain + '.com'}")
            elif space.type == "MS" and pattern:
                network, _, postoffice = pattern.partition("/")
                found.append(f"MS:{network.replace('*', 'NET')}/{postoffice.replace('*', 'PO') or 'PO'}/USER")
            elif space.type == "X400" and pattern:
                # A foreign X.400 user: the space's attributes, a wildcard filled in (p=* with
                # p=Sample: a sample must match the space it stands for), and a name.
                attributes = [part for part in pattern.split(";") if part.strip()]
                found.append(";".join([*map(_filled, attributes), "s=Smith", "g=Pat"]))
                # And a foreign user with a local mailbox's surname: the address a fuzzy directory
                # search can put in that mailbox (KB Q176046), when one's proxy lies in the space
                # (a wildcard then takes the proxy's own value).
                wanted = {part.strip().lower() for part in attributes if "*" not in part}
                for mailbox in org.mailboxes.values():
                    parts = [part.strip() for part in mailbox.proxies.x400.split(";")]
                    if wanted <= {part.lower() for part in parts}:
                        surname = next((part for part in parts if part.lower().startswith("s=")), None)
                        if surname:
                            own = dict(part.split("=", 1) for part in parts if "=" in part)
                            found.append(";".join([*(_filled(part, own) for part in attributes), surname]))
                            break
    return list(dict.fromkeys(found))


def _filled(part: str, values: dict[str, str] | None = None) -> str:
    """An X.400 address space's attribute with its wildcard filled in: from ``values`` (a
    mailbox's own attributes) when they have it, else 'US' for a country and 'Sample' otherwise."""
    key, _, value = part.partition("=")
    if "*" not in value:
        return part
    given = (values or {}).get(key.strip())
    if given is not None:
        return f"{key}={given}"
    return f"{key}={'US' if key.strip().lower() == 'c' else value.replace('*', 'Sample')}"


def explorer_data(org: Organization) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    router = Router(org)
    sites = [
        {
            "name": site.name,
            "x400": site.addresses.x400 or "",
            "servers": [
                {"name": name, "version": org.servers[name].version} for name in org.servers_of(site.name)
            ],
        }
        for site in org.sites.values()
    ]
    connectors = [
        {
            "name": c.name,
            "kind": c.kind,
            "cost": getattr(c, "cost", None),
            "schedule": c.schedule.text,
            "sites": list(org.connector_sites(c.name)),
            "server": getattr(c, "server", None),
            "gateway": c.kind in GATEWAY_KINDS,
            "address_spaces": [f"{a.type}:{a.pattern or '(blank)'} cost {a.cost}" for a in c.address_spaces],
        }
        for c in org.connectors.values()
    ]
    gwarts = {
        site: [
            {
                "type": row.type,
                "space": row.space or "(blank)",
                "cost": row.cost,
                "connector": row.connector,
                "route": list(row.route),
                "parts": [{"via": via, "cost": cost} for via, cost in cost_breakdown(org, row)],
                "last_resort": row.last_resort,
            }
            for row in rows
        ]
        for site, rows in router.gwarts.items()
    }
    recipients = sample_addresses(org)
    routes: dict[str, dict[str, Any]] = {}
    for server in org.servers:
        for recipient in recipients:
            plan = router.plan(server, recipient)
            routes.setdefault(server, {})[recipient] = {
                "hops": [asdict(hop) for hop in plan.hops],
                "decisions": [
                    {
                        "server": d.server,
                        "site": d.site,
                        "matched": d.resolution.matched_as or d.resolution.reason,
                        "candidates": [
                            {"connector": r.connector, "cost": r.cost, "route": list(r.route)}
                            for r in d.resolution.rows
                        ],
                        "steps": [asdict(step) for step in d.selection.steps] if d.selection else [],
                        "chosen": d.selection.chosen.connector
                        if d.selection and d.selection.chosen
                        else None,
                        # Equal survivors: each message draws one of them ("chosen" is the first).
                        "tied": list(d.selection.tied) if d.selection else [],
                    }
                    for d in plan.decisions
                ],
                "total_cost": plan.total_cost,
                "outcome": plan.outcome,
                "fix": plan.fix,
                "why": explain_plan(plan)[-1],
                # The words of exsim route, one line each, so the page tells the same story.
                "explained": [explain_decision(d) for d in plan.decisions],
            }
    return {
        "organization": org.name,
        "sites": sites,
        "connectors": connectors,
        "gwarts": gwarts,
        "recipients": recipients,
        "routes": routes,
    }


#: The words the page lists a mark under (the kind itself is for styling and tests).
MARK_LABELS = {
    "address_change": "address change",
    "outage_end": "outage ends",
    "service_stop": "service stops",
    "service_stop_end": "service restarts",
    "replication": "replication incomplete",
    "replication_end": "replication complete",
}


def event_marks(scenario: Scenario) -> list[dict[str, Any]]:
    """The scenario's timed events as slider marks: when, what kind, and a line saying what.

    An event lasting a while (an outage, a stopped service, replication in progress) gives
    two marks, its start (``kind``) and its end (``kind_end``).
    """
    marks: list[dict[str, Any]] = []

    def mark(time_s: float, kind: str, text: str, **details: str) -> None:
        label = MARK_LABELS.get(kind, kind.replace("_", " "))
        marks.append({"time_s": time_s, "kind": kind, "label": label, "text": text, **details})

    def window(start: float, end: float | None, kind: str, begins: str, ends: str) -> None:
        mark(start, kind, begins)
        if end is not None:
            mark(end, f"{kind}_end", ends)

    for event in scenario.events:
        if event.kind == "upgrade":
            # server and version: the map shows each server's build at the slider's time.
            mark(
                event.at,
                "upgrade",
                f"{event.server} to {event.version}",
                server=event.server,
                version=event.version,
            )
        elif event.kind == "address_change":
            mark(event.at, "address_change", f"{event.site}'s {event.type} site address to {event.value}")
        elif event.kind == "crash":
            restart = event.at + event.restart_after
            mark(
                event.at,
                "crash",
                f"{event.server} crashes; restarts at {timestamp(restart):%a %H:%M} (t = {restart / 3600:.1f} h)",
            )
        elif event.kind == "outage":
            window(event.start, event.end, "outage", f"{event.connector} down", f"{event.connector} back")
        elif event.kind == "service_stop":
            what = f"{event.service} on {event.server}"
            window(event.start, event.end, "service_stop", f"{what} stops", f"{what} restarts")
        elif event.kind == "replication":
            sites = ", ".join(event.sites)
            window(
                event.start, event.end, "replication", f"{sites} not yet replicated", f"{sites} replicated"
            )
    return sorted(marks, key=lambda m: m["time_s"])


def timeline_data(scenario: Scenario, org: Organization) -> dict[str, Any] | None:
    """One run of the scenario as written, as per-site time series, for the page's slider.

    Per interval of ``run.time_series_interval``: recipients delivered by the site's
    servers and NDR'd by them in the interval, and the mail its servers held at the
    interval's start. None for a scenario without timed events or without time series.
    """
    if not scenario.events or not scenario.run.time_series:
        return None
    from exsim import simulate  # the public run API; SimPy is imported only when a run is needed

    result = simulate(scenario)
    series = result.series
    size = len(series.delivered)

    def per_site(by_server: dict[str, Any]) -> dict[str, list[int]]:
        totals = {site: [0] * size for site in org.sites}
        for server, counts in by_server.items():
            site = totals[org.servers[server].site]
            for index, count in enumerate(counts.tolist()):
                site[index] += count
        return totals

    delivered, ndr, queued = (
        per_site(series.delivered_by_server),
        per_site(series.ndr_by_server),
        per_site(series.queue_samples),
    )
    return {
        "seed": result.seed,
        "interval_s": series.interval_s,
        "times_s": series.starts_s,
        "sites": {
            site: {"delivered": delivered[site], "ndr": ndr[site], "queued": queued[site]}
            for site in org.sites
        },
        "marks": event_marks(scenario),
    }


def render_explorer(
    org: Organization,
    title: str,
    timeline: dict[str, Any] | None = None,
    scenario: Scenario | None = None,
) -> str:
    """The explorer page: the Jinja2 template with the data embedded as JSON. With the scenario,
    the page knows its name and hash (:attr:`Scenario.hash`) and replays only traces that carry
    the same (``exsim trace --json`` writes them): another scenario may name its servers alike."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("exsim", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    # "</" is escaped so no value can close the <script> element holding the data.
    identity = {"name": scenario.name, "hash": scenario.hash} if scenario is not None else None
    data = json.dumps(explorer_data(org) | {"timeline": timeline, "scenario": identity}).replace("</", "<\\/")
    return environment.get_template("explore.html.j2").render(title=title, data=data)
