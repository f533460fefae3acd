"""The ``exsim`` command line: parse arguments, call the API, print.

Exit codes: 0 success, 1 simulation or internal failure, 2 bad input or usage.
Bad input (a scenario problem, a wrong argument) prints what and where, never
a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from exsim.scenario import ScenarioError, json_schema, load_scenario

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

# Piped output gets a generous width so tables are not wrapped into 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _load(path: str):  # type: ignore[no-untyped-def]
    try:
        return load_scenario(Path(path))
    except ScenarioError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="exsim")
def cli() -> None:
    """exsim: a discrete-event simulator of a Microsoft Exchange Server 5.0 organization."""


@cli.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path())
def validate(scenarios: tuple[str, ...]) -> None:
    """Check scenario files; list every problem (exit 2) or say each is valid."""
    bad = 0
    for path in scenarios:
        try:
            scenario = load_scenario(Path(path))
        except ScenarioError as exc:
            bad += 1
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            continue
        out.print(
            f"{path}: valid ({len(scenario.sites)} sites, {len(scenario.servers)} servers, "
            f"{len(scenario.connectors)} connectors)",
            markup=False,
        )
    if bad:
        err.print(f"{bad} of {len(scenarios)} scenario file(s) invalid", markup=False)
        raise SystemExit(EXIT_BAD_INPUT)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (for editor completion)."""
    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@click.argument("scenario", type=click.Path())
def show(scenario: str) -> None:
    """Print the organization as tables: sites, servers, connectors."""
    from exsim.org import Organization
    from exsim.versions import BUILDS

    org = Organization(_load(scenario))
    sites = Table(title=f"Sites of organization {org.name}")
    for column in ("site", "X.400 site address", "PRMD", "SMTP", "MS Mail", "servers"):
        sites.add_column(column)
    for site in org.sites.values():
        gdi_p = org_prmd(site.addresses.x400)
        sites.add_row(
            site.name, site.addresses.x400 or "-", gdi_p, site.addresses.smtp or "-",
            site.addresses.ms or "-", ", ".join(org.servers_of(site.name)),
        )
    servers = Table(title="Servers")
    for column in ("server", "site", "version", "build", "users", "hosts", "gw-in/out threads"):
        servers.add_column(column)
    for server in org.servers.values():
        servers.add_row(
            server.name, server.site, server.version, str(BUILDS[server.version].build),
            str(server.users + len(server.mailboxes)), ", ".join(org.connectors_on(server.name)) or "-",
            f"{server.gateway_in_threads}/{server.gateway_out_threads}",
        )
    connectors = Table(title="Connectors")
    for column in ("connector", "kind", "joins / host", "cost", "address spaces", "schedule", "link"):
        connectors.add_column(column)
    for c in org.connectors.values():
        where = " <-> ".join(c.sites) if hasattr(c, "sites") else c.server
        spaces = ", ".join(f"{a.type}:{a.pattern or '(blank)'} ({a.cost})" for a in c.address_spaces) or "-"
        connectors.add_row(
            c.name, c.kind, where, str(c.cost) if hasattr(c, "cost") else "-", spaces, c.schedule.text,
            f"{c.link.bandwidth / 1000:g} kbps, {c.link.latency * 1000:g} ms",
        )
    for table in (sites, servers, connectors):
        out.print(table)


def _router(scenario_path: str):  # type: ignore[no-untyped-def]
    from exsim.org import Organization
    from exsim.routing import Router

    return Router(Organization(_load(scenario_path)))


def _bad_argument(message: str) -> None:
    err.print(message, markup=False)
    raise SystemExit(EXIT_BAD_INPUT)


@cli.command()
@click.argument("scenario", type=click.Path())
@click.option("--site", "sites", multiple=True, help="Site whose GWART to print (repeatable; default: every site).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def gwart(scenario: str, sites: tuple[str, ...], as_json: bool) -> None:
    """Print a site's routing table (GWART) as the Administrator's Routing page showed it."""
    from dataclasses import asdict

    router = _router(scenario)
    for site in sites:
        if site not in router.gwarts:
            _bad_argument(f"--site: unknown site {site!r} (sites: {', '.join(router.gwarts)})")
    chosen = list(sites) or list(router.gwarts)
    if as_json:
        click.echo(json.dumps({s: [asdict(r) for r in router.gwarts[s]] for s in chosen}, indent=2))
        return
    for site in chosen:
        table = Table(title=f"GWART of site {site}")
        for column in ("type", "address space", "cost", "connector", "route (sites)"):
            table.add_column(column)
        for row in router.gwarts[site]:
            table.add_row(row.type, row.space or "(blank)", str(row.cost), row.connector, " > ".join(row.route))
        out.print(table)


@cli.command()
@click.argument("scenario", type=click.Path())
@click.option("--from", "from_server", required=True, help="Server whose MTA routes the message.")
@click.option("--to", "address", required=True, help="Recipient: SMTP, X.400, MS, EX address or a mailbox alias.")
@click.option("--at", "at", default="0s", show_default=True, help="Simulated time of the decision, e.g. '9h' (schedules).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def route(scenario: str, from_server: str, address: str, at: str, as_json: bool) -> None:
    """Explain how a message to ADDRESS would be routed from a server."""
    from dataclasses import asdict

    from exsim.units import parse_duration_s

    router = _router(scenario)
    if from_server not in router.org.servers:
        _bad_argument(f"--from: unknown server {from_server!r} (servers: {', '.join(router.org.servers)})")
    try:
        at_s = parse_duration_s(at)
    except ValueError as exc:
        _bad_argument(f"--at: {exc}")
    plan = router.plan(from_server, address, at_s)
    if as_json:
        click.echo(json.dumps(asdict(plan), indent=2, default=str))
        return
    from exsim.explain import explain_plan

    for line in explain_plan(plan):
        out.print(line, markup=False)


def org_prmd(x400: str | None) -> str:
    from exsim.address import parse_x400

    if not x400:
        return "-"
    gdi = parse_x400(x400).gdi
    return gdi.p.strip() if gdi.has_prmd else "[bold red]none[/]"


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted", markup=False)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT)
    except SystemExit as exc:
        sys.exit(exc.code)
    sys.exit(EXIT_OK)
