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
