"""The ``exsim`` command line: parse arguments, call the API, print.

Exit codes: 0 success, 1 simulation or internal failure, 2 bad input or usage.
Bad input (a scenario problem, a wrong argument) prints what and where, never
a traceback.

The ``exsim`` command runs without third-party pydantic plugins: :func:`main` sets
``PYDANTIC_DISABLE_PLUGINS=__all__`` unless the environment already sets that variable.
Before it builds its first validator, pydantic otherwise reads the entry points of every
installed distribution to find plugins (packages that observe or change validation); exsim
needs none, and that scan is a noticeable part of a quick command's start in a large
environment. A user who wants pydantic's plugins sets the variable themselves (empty, or to the
names of only those to leave out) and the command leaves it as it is. Processes the command
starts (the pool's workers, a ``--scheduler local`` Dask cluster) inherit the setting, so
every run of an experiment validates alike; workers of a Dask cluster started elsewhere keep
their own environment. The setting lasts only while the command runs, and only the command
makes it: ``%exsim`` in a notebook (:func:`execute` in the notebook's own process) and ``import
exsim`` as a library leave pydantic's plugins as the user has them.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# Only what every command needs is imported here: ``exsim --help`` must start at once.
# The scenario loader (pydantic), rich's console and tables, pandas, SciPy and matplotlib
# are imported by the commands that use them; so are json (--json output) and shlex (quoting a
# command line to print), which the quick commands mostly do without.
import click

if TYPE_CHECKING:  # imported where used, so that --help starts fast
    from rich.console import Console
    from rich.text import Text

    from exsim.experiment import Experiment
    from exsim.routing import Router
    from exsim.scenario import Scenario

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class _Printer:
    """Where a command prints: standard output or standard error, through rich's console.

    Markup and emoji codes are off for everything printed: names, labels and messages come
    from scenario files, and a site called '[/]', '[bold]' or ':fire:' is printed as it is
    spelt, never read as styling or a picture (styles are given as rich.text.Text objects
    instead). Piped standard output gets a generous width so tables are not wrapped into 80
    columns.

    The console is made when first needed: importing rich's console costs a noticeable part
    of a quick command's start, and a line of plain printable text comes out of it unchanged
    (no markup, emoji, highlighting or wrapping; only control characters and tabs are
    rewritten, and those lines still go through rich). So until something needs rich (a
    table, styled text, a progress bar), such a line is written directly.
    """

    def __init__(self, *, stderr: bool, width: int | None = None) -> None:
        self._stderr = stderr
        self._width = width

    @functools.cached_property
    def console(self) -> Console:
        """The rich console; from now on everything is printed through it."""
        from rich.console import Console

        return Console(
            stderr=self._stderr, highlight=False, soft_wrap=True, markup=False, emoji=False, width=self._width
        )

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    def print(self, *objects: Any, **options: Any) -> None:
        """Print as rich's ``Console.print`` does."""
        if (
            "console" not in self.__dict__
            and options in ({}, {"markup": False})
            and len(objects) == 1
            and isinstance(objects[0], str)
            and objects[0].isprintable()
            and self._write(objects[0] + "\n")
        ):
            return
        self.console.print(*objects, **options)

    def table(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[str | Text]]) -> None:
        """Print a table as rich's ``Table(title=title)`` draws it: one row per item, cells of
        text or rich ``Text`` (styled).

        Drawing through rich costs about a millisecond a row and importing its tables a
        twentieth of a second: ``exsim gwart`` spent more on them than on everything else.
        Where rich would draw the table as plain text (see :func:`_plain_table`), the same
        lines are written directly; anything else (a terminal, which gets bold and italic; a
        notebook; text rich would measure or wrap) is drawn by rich.
        """
        rows = list(rows)
        drawn = _plain_table(title, columns, rows, self._width) if self._plain_stream() else None
        if drawn is not None and self._write(drawn):
            return
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def _plain_stream(self) -> bool:
        """Whether rich would write to this stream as to a file: no colours or styles, no
        notebook display, UTF-8 box characters. Judged without rich (whose console costs a
        noticeable part of a quick command's start) from what rich reads, erring towards rich:
        not a terminal, neither FORCE_COLOR nor TTY_COMPATIBLE set, no IPython about."""
        if "console" in self.__dict__ or self._width is None:
            return False
        stream = sys.stderr if self._stderr else sys.stdout
        try:
            if stream.isatty():
                return False
        except (AttributeError, ValueError):
            return False
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower()
        return (
            encoding.startswith("utf")
            and "FORCE_COLOR" not in os.environ
            and "TTY_COMPATIBLE" not in os.environ
            and not hasattr(builtins, "get_ipython")
            and "idlelib" not in sys.modules
        )

    def _write(self, text: str) -> bool:
        """Write ``text`` to the stream directly; False where rich must have its say instead."""
        stream = sys.stderr if self._stderr else sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except (BrokenPipeError, UnicodeEncodeError):
            return False  # rich has its answer to both (exit quietly; say to set PYTHONIOENCODING)
        return True


def _plain_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str | Text]], width: int | None
) -> str | None:
    """The text rich's ``Table(title=title)`` is drawn as on a plain, wide enough console, or None.

    rich's default table box (heavy lines around the header, light ones below), each column as
    wide as its widest cell plus a space each side, the title on a line of its own as written
    (the console soft-wraps: nothing is centred or cut). None where rich would decide more than
    that: styled text, text that is not plain printable ASCII (cell widths, tabs), that starts
    or ends with a space or holds two in a row (where rich may break or trim it), a row without
    a cell for each column, or a table wider than the console (rich shrinks and wraps columns).
    tests/test_printing.py draws random tables both ways and compares them.
    """
    cells = [list(columns), *([text for text in row if isinstance(text, str)] for row in rows)]
    if width is None or any(len(row) != len(columns) for row in cells):
        return None
    texts = [title, *(text for row in cells for text in row)]
    if not all(t.isascii() and t.isprintable() and t == t.strip() and "  " not in t for t in texts):
        return None
    widths = [max(len(row[i]) for row in cells) + 2 for i in range(len(columns))]
    if sum(widths) + len(widths) + 1 > width:
        return None

    def rule(left: str, line: str, cross: str, right: str) -> str:
        return left + cross.join(line * w for w in widths) + right + "\n"

    def line(row: list[str], bar: str) -> str:
        return bar + bar.join(f" {text:<{w - 2}} " for text, w in zip(row, widths, strict=True)) + bar + "\n"

    return "".join(
        [
            f"{title}\n" if title else "",
            rule("┏", "━", "┳", "┓"),
            line(cells[0], "┃"),
            rule("┡", "━", "╇", "┩"),
            *(line(row, "│") for row in cells[1:]),
            rule("└", "─", "┴", "┘"),
        ]
    )


out = _Printer(stderr=False, width=None if sys.stdout.isatty() else 200)
err = _Printer(stderr=True)


#: ``--set PATH=VALUE``: change a scenario without editing it (the sweep's path syntax).
set_option = click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change the scenario for this command (repeatable), e.g. --set connectors.2.cost=20. PATH is "
    "the sweep's path syntax: keys, array elements by index, name or *, joined by dots; a name "
    "holding a dot in double quotes: --set 'connectors.\"X.400 Redmond-Tokyo\".cost=20'. "
    "VALUE is a TOML value; a string keeps its double quotes inside single ones: "
    "--set 'run.duration=\"1h\"'. Where sweep points run, a place a sweep variable sets is refused "
    "(change the variable: --set 'sweep.variables.NAME.values=[...]').",
)


def _load(
    path: str, settings: tuple[str, ...] = (), *, simulated: bool = True, points: str | None = None
) -> Scenario:
    """The scenario at ``path`` with ``--set`` applied, or exit 2 listing its problems. A command
    that does not run it (``simulated=False``) accepts runs of any length. A command that runs
    its sweep points says how to do without them in ``points`` (``""``: there is no way), and a
    ``--set`` that a sweep variable would overwrite is refused (:func:`_refuse_swept`)."""
    from exsim.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(Path(path), simulated=simulated)
        if not settings:
            return scenario
        changed = _apply_settings(scenario, settings, simulated=simulated)
        if points is not None:
            _refuse_swept(changed, settings, points)
        return changed
    except ScenarioError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _print_warnings(scenario: Scenario) -> None:
    """One ``warning:`` line (to stderr) for each thing valid but surely not meant."""
    for warning in scenario.warnings:
        err.print(f"warning: {warning}", markup=False)


class _Command(click.Command):
    """A command whose summary in ``exsim --help`` is its docstring's whole first paragraph,
    and which takes an option of one value at most once.

    Click cuts a summary to the terminal's width and ends it with '...'; a summary that
    stops mid-sentence tells the reader nothing, so it is wrapped instead.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Refuse (exit 2) an option of one value given twice: click keeps the last without a word,
        so ``--baseline version=5.0 ... --baseline version=5.0-sp1`` compared with SP1 while the
        command line also asked for 5.0. Repeatable options (--set, --site) and flags are fine."""
        if not ctx.resilient_parsing:
            try:
                order = self.make_parser(ctx).parse_args(args=list(args))[2]
            except click.UsageError:
                order = []  # click's own parse, next, reports it
            once = [
                p for p in order if isinstance(p, click.Option) and not (p.multiple or p.is_flag or p.count)
            ]
            for param in once:
                if (times := once.count(param)) > 1:
                    _bad_argument(
                        f"{' / '.join(param.opts)} is given {times} times; it takes one value: give it once"
                    )
        return super().parse_args(ctx, args)

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help:
            return super().get_short_help_str(limit)
        import inspect

        return " ".join(inspect.cleandoc(self.help).split("\n\n")[0].split())


class _Group(click.Group):
    command_class = _Command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="exsim")
def cli() -> None:
    """exsim: a discrete-event simulator of a Microsoft Exchange Server 5.0 organization.

    Every command takes --help, with an example.

    \b
    Example:
      exsim route scenarios/contoso.toml --from RED-EX2 --to BJones
      exsim run scenarios/rollout.toml --out results/rollout --plot
    """


@cli.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path())
def validate(scenarios: tuple[str, ...]) -> None:
    """Check scenario files; list every problem (exit 2) or say each is valid.

    \b
    Example:
      exsim validate scenarios/contoso.toml scenarios/rollout.toml
    """
    from exsim.scenario import ScenarioError, load_scenario

    bad = 0
    for path in scenarios:
        try:
            scenario = load_scenario(Path(path))
        except ScenarioError as exc:
            bad += 1
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            continue
        parts = (scenario.sites, "site"), (scenario.servers, "server"), (scenario.connectors, "connector")
        out.print(f"{path}: valid ({', '.join(_count(items, noun) for items, noun in parts)})", markup=False)
        _print_warnings(scenario)
    if bad:
        err.print(f"{bad} of {len(scenarios)} scenario file(s) invalid", markup=False)
        raise SystemExit(EXIT_BAD_INPUT)


@cli.command()
@click.option(
    "--format",
    "form",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="JSON Schema (for editors) or a Markdown reference (every key: type, default, meaning).",
)
def schema(form: str) -> None:
    """Print the scenario format: its JSON Schema, or every key as a Markdown reference.

    \b
    Example:
      exsim schema > scenario.schema.json
      exsim schema --format markdown > docs/scenario.md
    """
    if form == "markdown":
        from exsim.scenario.reference import schema_markdown

        click.echo(schema_markdown(), nl=False)
        return
    import json

    from exsim.scenario import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@click.argument("scenario", type=click.Path())
def show(scenario: str) -> None:
    """Print the organization as tables: sites, servers, connectors, and its timed events.

    \b
    Example:
      exsim show scenarios/contoso.toml
    """
    from exsim import timeline
    from exsim.org import Organization
    from exsim.routing import address_space_end
    from exsim.scenario import LINK_CONNECTORS
    from exsim.versions import BUILDS

    org = Organization(_load(scenario, simulated=False))
    sites = [
        (
            site.name,
            site.addresses.x400 or "-",
            org_prmd(site.addresses.x400),
            site.addresses.smtp or "-",
            site.addresses.ms or "-",
            ", ".join(org.servers_of(site.name)),
        )
        for site in org.sites.values()
    ]
    out.table(
        f"Sites of organization {org.name}",
        ("site", "X.400 site address", "PRMD", "SMTP", "MS Mail", "servers"),
        sites,
    )
    servers = [
        (
            server.name,
            server.site,
            server.version,
            str(BUILDS[server.version].build),
            str(server.users + len(server.mailboxes)),
            ", ".join(org.connectors_on(server.name)) or "-",
            f"{server.gateway_in_threads}/{server.gateway_out_threads}",
        )
        for server in org.servers.values()
    ]
    out.table(
        "Servers", ("server", "site", "version", "build", "users", "hosts", "gw-in/out threads"), servers
    )
    connectors = []
    for c in org.connectors.values():
        if isinstance(c, LINK_CONNECTORS):
            where, cost = " <-> ".join(c.sites), str(c.cost)
            listed = [
                f"{a.type}:{a.pattern or '(blank)'} ({a.cost}) held by {address_space_end(org, c.name, a)}"
                for a in c.address_spaces
            ]
        else:
            where, cost = c.server, "-"
            listed = [f"{a.type}:{a.pattern or '(blank)'} ({a.cost})" for a in c.address_spaces]
        connectors.append(
            (
                c.name,
                c.kind,
                where,
                cost,
                ", ".join(listed) or "-",
                c.schedule.text,
                f"{c.link.bandwidth / 1000:g} kbps, {c.link.latency * 1000:g} ms",
            )
        )
    out.table(
        "Connectors",
        ("connector", "kind", "joins / host", "cost", "address spaces", "schedule", "link"),
        connectors,
    )
    events = timeline.listed(org.scenario)
    if events:
        out.table("Timed events", ("event", "when"), events)


def _apply_settings(scenario: Scenario, settings: tuple[str, ...], *, simulated: bool = True) -> Scenario:
    """The scenario with each ``--set PATH=VALUE`` put in place (in order), validated again.

    Every command that takes ``--set`` comes through here (by :func:`_load`). A malformed
    setting, a VALUE that is not TOML, a PATH naming nothing or a result the schema refuses
    exits 2 with one line each, before the command has done anything.
    """
    import tomllib

    from exsim.scenario import Problem, ScenarioError, validate_raw
    from exsim.scenario.paths import PathMatchesNothing, changed, path_problem, split_assignment

    changes: list[tuple[str, object]] = []
    given: list[tuple[str, str]] = []
    for setting in settings:
        split = split_assignment(setting)
        if split is None or not split[0]:
            _bad_argument(f"--set {setting}: expected PATH=VALUE, e.g. --set connectors.2.cost=20")
        path, text = split
        problem = path_problem(path)
        if problem is not None:
            _bad_argument(f"--set {setting}: {problem}")
        try:
            value = tomllib.loads(f"value = {text.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            _bad_argument(_not_toml(setting, path, text.strip()))
        changes.append((path, value))
        given.append((path, setting))
    try:
        raw = changed(scenario.raw, changes)
    except PathMatchesNothing as exc:
        setting = next(s for s in settings if (split_assignment(s) or ("",))[0] == exc.path)
        _bad_argument(f"--set {setting}: {exc.path!r} names nothing in the scenario: {exc.why}")
    try:
        return validate_raw(raw, scenario.source, scenario.text, simulated=simulated, set_by=given)
    except ScenarioError as exc:
        # The file is fine; what --set made of it is not. Say so, instead of a line of the file.
        where = f"{scenario.source} as changed by --set"
        raise ScenarioError([Problem(where, None, p.path, p.message) for p in exc.problems]) from None


def _refuse_swept(scenario: Scenario, settings: tuple[str, ...], otherwise: str) -> None:
    """Exit 2 if a sweep variable sets what a ``--set`` set (or a place inside or around it):
    every sweep point puts the variable's value over it, so the --set would change nothing that
    is run, while the results' scenario.toml would record it. ``otherwise`` is one more way out
    for this command (e.g. trace's "leave out --point"), or empty."""
    from exsim.scenario.load import format_path
    from exsim.scenario.paths import format_path as format_segments
    from exsim.scenario.paths import split_assignment
    from exsim.scenario.sweep import swept_setting

    paths = {split[0]: setting for setting in settings if (split := split_assignment(setting))}
    found = swept_setting(scenario, paths)
    if found is None:
        return
    path, variable, at = found
    values = format_segments(["sweep", "variables", variable.name, "values"])
    _bad_argument(
        f"--set {paths[path]}: sweep variable {variable.name!r} ({variable.path}) sets {format_path(at)} "
        f"at every sweep point, so this --set would be overwritten and never run; change that "
        f"variable's values instead (--set '{values}=[...]', and sweep.baseline if it names "
        f"{variable.name}) or take it out of the sweep in the file{otherwise}"
    )


def _not_toml(setting: str, path: str, text: str) -> str:
    """The message for a --set VALUE that is not TOML, with the command line to type instead:
    a string needs TOML's double quotes, and the shell's single quotes around the whole setting
    to keep them (``--set 'run.duration="1h"'``)."""
    import shlex
    import tomllib

    if text.startswith(("'", '"')):
        # Quoted, yet not TOML: most often the closing quote is missing ("1h). Offer the value
        # closed, if that reads as TOML; never the broken spelling back.
        quote, closed = text[0], text + text[0]
        try:
            tomllib.loads(f"value = {closed}")
        except tomllib.TOMLDecodeError:
            return f"--set {setting}: {text!r} is not a TOML value; check its quotes"
        return (
            f"--set {setting}: {text!r} is not a TOML value: the {quote} it starts with is never closed; "
            f"e.g. --set {shlex.quote(path + '=' + closed)}"
        )
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return (
        f"--set {setting}: {text!r} is not a TOML value; a string needs double quotes, kept from "
        f"the shell by single quotes: --set {shlex.quote(path + '=' + quoted)}"
    )


def _router(scenario_path: str, settings: tuple[str, ...] = ()) -> Router:
    from exsim.org import Organization
    from exsim.routing import Router

    return Router(Organization(_load(scenario_path, settings, simulated=False)))


def _bad_argument(message: str) -> NoReturn:
    err.print(message, markup=False)
    raise SystemExit(EXIT_BAD_INPUT)


@cli.command()
@click.argument("scenario", type=click.Path())
@click.option(
    "--site", "sites", multiple=True, help="Site whose GWART to print (repeatable; default: every site)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@set_option
def gwart(scenario: str, sites: tuple[str, ...], as_json: bool, settings: tuple[str, ...]) -> None:
    """Print a site's routing table (GWART) as the Administrator's Routing page showed it.

    \b
    Example:
      exsim gwart scenarios/contoso.toml --site Redmond
      exsim gwart scenarios/contoso.toml --site Redmond --set connectors.2.cost=20
    """
    from dataclasses import asdict

    from exsim.routing import ignored_address_spaces

    router = _router(scenario, settings)
    for site in sites:
        if site not in router.gwarts:
            _bad_argument(f"--site: unknown site {site!r} (sites: {', '.join(router.gwarts)})")
    chosen = list(sites) or list(router.gwarts)
    if as_json:
        import json

        click.echo(json.dumps({s: [asdict(r) for r in router.gwarts[s]] for s in chosen}, indent=2))
        return
    for site in chosen:
        out.table(
            f"GWART of site {site}",
            ("type", "address space", "cost", "connector", "route (sites)"),
            (
                (row.type, row.space or "(blank)", str(row.cost), row.connector, " > ".join(row.route))
                for row in router.gwarts[site]
            ),
        )
        for ignored in ignored_address_spaces(router.org):
            if ignored.site == site:
                out.print(
                    f"Ignored: {ignored.type}:{ignored.pattern or '(blank)'} on {site}'s end of "
                    f"{ignored.connector}: {ignored.reason}.",
                    markup=False,
                )


@cli.command()
@click.argument("scenario", type=click.Path())
@click.option("--from", "from_server", required=True, help="Server whose MTA routes the message.")
@click.option(
    "--to", "address", required=True, help="Recipient: SMTP, X.400, MS, EX address or a mailbox alias."
)
@click.option(
    "--at",
    "at",
    default="0s",
    show_default=True,
    help="Simulated time of the decision, e.g. '9h': the connectors' activation schedules at that "
    "time (the scenario's [[events]] -- outages, crashes, replication, upgrades -- are not applied).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@set_option
def route(
    scenario: str, from_server: str, address: str, at: str, as_json: bool, settings: tuple[str, ...]
) -> None:
    """Explain how a message to ADDRESS would be routed from a server.

    Each selection filter says what it dropped and why; the explanation ends with why this route.
    It routes the organization as the scenario configures it: what the scenario's timed events do
    (an outage, a crash, replication under way, an upgrade) shows in a run (`exsim trace`).

    \b
    Example:
      exsim route scenarios/contoso.toml --from RED-EX2 --to BJones
      exsim route scenarios/contoso.toml --from RED-EX2 --to BJones --set connectors.2.cost=20
    """
    from dataclasses import asdict

    from exsim.address import AddressError
    from exsim.units import parse_duration_s

    router = _router(scenario, settings)
    if from_server not in router.org.servers:
        _bad_argument(f"--from: unknown server {from_server!r} (servers: {', '.join(router.org.servers)})")
    try:
        at_s = parse_duration_s(at)
    except ValueError as exc:
        _bad_argument(f"--at: {exc}")
    try:
        plan = router.plan(from_server, address, at_s)
    except AddressError as exc:
        _bad_argument(f"--to: {exc}")
    events = router.org.scenario.events
    kinds = sorted({event.kind for event in events})
    note = (
        f"Note: not applied here, the scenario's {len(events)} timed event(s) ({', '.join(kinds)}); "
        "`exsim trace` follows a message through them in a run."
    )
    if as_json:
        import json

        click.echo(json.dumps(asdict(plan), indent=2, default=str))
        if events:  # on stderr: stdout stays the plan alone, for a program to read
            err.print(note, markup=False)
        return
    from exsim.explain import explain_plan

    for line in explain_plan(plan):
        out.print(line, markup=False)
    if events:
        out.print(note, markup=False)


@cli.command()
@click.argument("scenario", type=click.Path())
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="HTML file to write (default: the scenario file's name with .html, in the current directory: "
    "contoso.html for scenarios/contoso.toml).",
)
@set_option
def explore(scenario: str, output: str | None, settings: tuple[str, ...]) -> None:
    """Write an offline HTML page to explore the organization's routing.

    For a scenario with timed events (upgrades, address changes, outages), the page also
    holds one run of it, with a slider over simulated time.

    \b
    Example:
      exsim explore scenarios/contoso.toml -o contoso.html
      exsim explore scenarios/rollout.toml --set 'servers.*.users=20'
    """
    from exsim.explore import render_explorer, timeline_data
    from exsim.org import Organization
    from exsim.outputs import check_output_file, write_whole

    loaded = _load(scenario, settings)
    target = Path(output) if output else Path(f"{Path(scenario).stem}.html")
    with _writing(_ANOTHER_O):
        check_output_file(target)  # before the work: refused at once, nothing written
    org = Organization(loaded)
    if loaded.events and loaded.run.time_series:
        err.print("Running the scenario once for the time slider...", markup=False)
    page = render_explorer(org, f"exsim explore: {loaded.name}", timeline_data(loaded, org), loaded)
    write_whole(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    out.print(f"Wrote {target}", markup=False)


def _with_baseline(scenario: Scenario, text: str) -> Scenario:
    """The scenario with sweep.baseline set from ``VAR=VALUE`` (VALUE a label or a value)."""
    from exsim.scenario.paths import named_sweep_value

    name, eq, value = text.partition("=")
    variables = {v.name: v for v in scenario.sweep.variables}
    if not eq or name not in variables:
        _bad_argument(
            f"--baseline: give VAR=VALUE with VAR one of the sweep variables "
            f"({', '.join(variables) or 'the scenario sweeps none'})"
        )
    variable = variables[name]
    found, chosen = named_sweep_value(variable.values, variable.labels, value)
    if not found:
        labels = variable.labels or [str(v) for v in variable.values]
        _bad_argument(f"--baseline: {value!r} is not a value of {name} ({', '.join(labels)})")
    return scenario.modified({"sweep.baseline": {name: chosen}})


def _bundled_default() -> Path:
    from importlib.resources import files

    return Path(str(files("exsim") / "data" / "q166866.toml"))


def _fmt_rate(mean: float, lo: float, hi: float) -> str:
    from exsim.stats import format_rate

    return format_rate(mean, lo, hi)


def no_mail_note(experiment: Experiment) -> str | None:
    """One line saying why nothing was counted, when no run counted a single recipient.

    A table of zeros and "-" rates is otherwise a puzzle: the usual cause is a run that ends
    before the users' working day begins (simulated time starts on a Monday at 00:00).
    """
    runs = experiment.runs
    if runs.empty or "recipients" not in runs or runs["recipients"].sum() > 0 or experiment.failed:
        return None
    from exsim.schedule import parse_daily_hours
    from exsim.units import format_duration

    run, workload = experiment.scenario.run, experiment.scenario.workload
    covered = f"the run covers Monday 00:00 to +{format_duration(run.duration)} of simulated time"
    if workload.spread == "working_hours" and run.duration <= parse_daily_hours(workload.working_hours)[0]:
        return (
            f"No mail was sent: users send only in working hours ({workload.working_hours}, "
            f'workload.spread = "working_hours") and {covered}; lengthen run.duration or set '
            f'workload.spread = "all_day"'
        )
    if run.warmup >= run.duration:
        return f"No mail was counted: the warm-up ({format_duration(run.warmup)}) lasts the whole run"
    return (
        f"No mail was sent: {covered} and no user or inbound workload sent any; check the servers' "
        "users and the workload's rates"
    )


def print_experiment(experiment: Experiment) -> None:
    """The results table: one row per sweep point."""
    from rich.table import Table

    summary = experiment.summary
    variables = experiment.variables
    from exsim import ndr
    from exsim.columns import is_ndr_diagnostic_column
    from exsim.results import rounded_outcomes

    # The test applies to the runs.csv name: in the summary, the total's ndr_mean is ndr_ + "mean".
    ndr_columns = [
        c[:-5] for c in summary.columns if c.endswith("_mean") and is_ndr_diagnostic_column(c[:-5])
    ]
    table = Table(
        title=f"{experiment.scenario.name}: recipients by outcome (mean of {int(summary['n'].max())} "
        f"replication(s), rounded so that each row adds up; 95 % interval where n > 1)"
    )
    show_lost = "lost_mean" in summary and (summary["lost_mean"].fillna(0) > 0).any()
    # NDRs whose report Exchange lost on the way back: failures the originator never saw (Q197058).
    show_unreported = (
        "unreported_ndr_mean" in summary and (summary["unreported_ndr_mean"].fillna(0) > 0).any()
    )
    # NDRs (loud failures) and misdeliveries (silent ones, KB Q176046) side by side.
    show_split = "misdelivered_mean" in summary and (summary["misdelivered_mean"].fillna(0) > 0).any()
    for column in (
        *variables,
        "recipients",
        "delivered",
        "misdelivered",
        *(ndr.heading(c.removeprefix("ndr_")) for c in ndr_columns),
        *(["NDRs never reported"] if show_unreported else []),
        "pending",
        *(["of which lost"] if show_lost else []),
        "failure rate",
        *(["NDR rate", "misdelivery rate"] if show_split else []),
        "outbound SMTP failure",
    ):
        table.add_column(column, justify="left" if column in variables else "right")
    outcomes = ["delivered", "misdelivered", *ndr_columns, "pending"]
    for row in summary.to_dict(orient="records"):
        cells = [str(row[v]) for v in variables]
        # Means rounded so that the outcomes printed add up to the recipients printed.
        counts = rounded_outcomes(row, outcomes)
        cells += [str(counts[c]) if counts else "-" for c in ("recipients", *outcomes[:-1])]
        cells += [f"{row['unreported_ndr_mean']:.0f}"] if show_unreported else []
        cells += [
            str(counts["pending"]) if counts else "-",
            *([f"{row['lost_mean']:.0f}"] if show_lost else []),
            _fmt_rate(row["failure_rate_mean"], row["failure_rate_lo"], row["failure_rate_hi"]),
            *(
                [
                    _fmt_rate(row["ndr_rate_mean"], row["ndr_rate_lo"], row["ndr_rate_hi"]),
                    _fmt_rate(
                        row["misdelivery_rate_mean"], row["misdelivery_rate_lo"], row["misdelivery_rate_hi"]
                    ),
                ]
                if show_split
                else []
            ),
            _fmt_rate(
                row.get("internet_failure_rate_mean", float("nan")),
                row.get("internet_failure_rate_lo", float("nan")),
                row.get("internet_failure_rate_hi", float("nan")),
            ),
        ]
        table.add_row(*cells)
    out.print(table)
    if not experiment.differences.empty:
        diff = Table(
            title="Paired difference in failure rate from the baseline (same traffic per replication)"
        )
        diff_vars = [c for c in experiment.differences.columns if c in variables]
        for column in (*diff_vars, "baseline", "n", "difference [95 % interval]"):
            diff.add_column(column)
        baseline_col = next(c for c in experiment.differences.columns if c.endswith("_baseline"))
        for row in experiment.differences.to_dict(orient="records"):
            diff.add_row(
                *[str(row[v]) for v in diff_vars],
                str(row[baseline_col]),
                str(row["n"]),
                _fmt_rate(
                    row["failure_rate_diff_mean"], row["failure_rate_diff_lo"], row["failure_rate_diff_hi"]
                ),
            )
        out.print(diff)
    runs = len(experiment.runs)
    for text, sample in experiment.ndr_samples.items():
        out.print(
            f'NDR "{text}": reason {sample["reason"]} ({sample["reason_name"]}), diagnostic '
            f"{sample['diagnostic']} ({sample['diagnostic_name']}); generated by:",
            markup=False,
        )
        for row in (g for g in experiment.ndr_generators if g["text"] == text):
            points = ", ".join(str(p) for p in row["points"])
            out.print(
                f"  {row['component']}: {row['recipients']} recipient(s) in {row['runs']} of {runs} run(s) "
                f"(point{'s' if len(row['points']) > 1 else ''} {points})",
                markup=False,
            )
    for sample in getattr(experiment, "misdelivery_samples", []):
        point = experiment.points[sample["point"]] if sample["point"] < len(experiment.points) else None
        at = (" at " + ", ".join(f"{k} = {v}" for k, v in point.labels.items())) if point else ""
        out.print(f"Misdelivered{at}: {sample['recipient']} reached {sample['delivered_to']}", markup=False)


#: The options of ``exsim run`` a resume must repeat: those that decide the results (the seed,
#: the replications, the baseline and --set are compared with the results directory's
#: scenario.toml, which refuses a resume that differs) and those that decide what else is
#: written there (tracking logs, figures, the report). --workers and --scheduler decide only
#: where the runs go, never their numbers, and are left to the user.
RESUME_REPEATS = ("seed", "replications", "baseline", "settings", "tracking", "plot", "report")


def _resume_command(context: click.Context, out_dir: str) -> list[str]:
    """The ``exsim run`` command that finishes an interrupted experiment: the scenario as given,
    ``--out DIR --resume`` and every option of :data:`RESUME_REPEATS` the user gave, as given."""
    return _command_again(context, ["--out", out_dir, "--resume"], RESUME_REPEATS)


def _command_again(context: click.Context, arguments: list[str], repeats: tuple[str, ...]) -> list[str]:
    """The command being run, to print for the user to run next: ``exsim`` and its name, the
    scenario as given, ``arguments``, then every option named in ``repeats`` the user gave, as given."""
    command = ["exsim", context.command.name or ""]
    scenario = context.params.get("scenario")
    if scenario:
        # A file named like an option ('-x.toml') would be read as one: name it by its folder.
        command.append(f"./{scenario}" if scenario.startswith("-") else scenario)
    command += arguments
    for parameter in context.command.params:
        value = context.params.get(parameter.name or "")
        if parameter.name not in repeats or value in (None, False, ()):
            continue
        option = parameter.opts[0]
        if value is True:
            command.append(option)
        else:
            for one in value if isinstance(value, tuple) else (value,):
                command += [option, str(one)]
    return command


@cli.command()
@click.argument("scenario", required=False, type=click.Path())
@click.option(
    "--out", "out_dir", type=click.Path(), help="Results directory (default: results/<scenario>-<time>)."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Finish an interrupted experiment in --out, with the --seed, --replications, --baseline and "
    "--set it was started with (the command printed when it stopped has them).",
)
@click.option("--force", is_flag=True, help="Replace a non-empty --out directory.")
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--replications", type=click.IntRange(min=1), help="Override the number of replications.")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: all cores).")
@click.option("--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster.")
@click.option(
    "--baseline", help="Compare every sweep point with this one by paired difference, e.g. version=5.0."
)
@click.option("--tracking", is_flag=True, help="Write message tracking logs into DIR/tracking/.")
@click.option("--plot", is_flag=True, help="Also write the figures into DIR/plots/.")
@click.option("--report", "report", is_flag=True, help="Also write the HTML report DIR/report.html.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@set_option
def run(
    scenario: str | None,
    out_dir: str | None,
    resume: bool,
    force: bool,
    seed: int | None,
    replications: int | None,
    workers: int | None,
    scheduler: str | None,
    baseline: str | None,
    tracking: bool,
    plot: bool,
    report: bool,
    quiet: bool,
    as_json: bool,
    settings: tuple[str, ...],
) -> None:
    """Run a scenario (default: the bundled Q166866 scenario) and print the results table.

    \b
    Example:
      exsim run
      exsim run scenarios/rollout.toml --out results/rollout --replications 5 --plot
      exsim run scenarios/kb/Q166866.toml --set 'workload.profile="light"' --set run.replications=2
    """
    import datetime
    import time

    started = time.perf_counter()

    from exsim.cluster import ClusterError
    from exsim.experiment import ExperimentInterrupted, run_experiment
    from exsim.resultsdir import ResultsDirectoryError

    if resume and force:
        _bad_argument("--resume and --force exclude each other")
    if resume and not out_dir:
        _bad_argument("--resume needs --out DIR (the directory to finish)")
    loaded = _load(scenario if scenario else str(_bundled_default()), settings, points="")
    _print_warnings(loaded)
    if replications is not None:
        from exsim.scenario.size import size_problem

        too_big = size_problem(loaded, replications)
        if too_big is not None:
            _bad_argument(f"--replications {replications}: {too_big[1]}")
    if baseline is not None:
        loaded = _with_baseline(loaded, baseline)
    if out_dir is None:
        from exsim.names import safe_file_name

        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = str(Path("results") / f"{safe_file_name(loaded.name)}-{stamp}")
    progress_bar = None
    show_progress = not quiet and not as_json and err.is_terminal
    try:
        if show_progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            progress_bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err.console,
            )
            progress_bar.start()
            task = progress_bar.add_task("runs", total=None)

            def show(done: int, total: int) -> None:
                progress_bar.update(task, completed=done, total=total)

            progress: Callable[[int, int], None] | None = show
        else:
            progress = None
        experiment = run_experiment(
            loaded,
            workers=workers,
            scheduler=scheduler,
            out=out_dir,
            replications=replications,
            seed=seed,
            tracking=tracking,
            resume=resume,
            force=force,
            progress=progress,
            notify=lambda note: err.print(note, markup=False),
            command=_command_line(),
        )
    except ResultsDirectoryError as exc:
        _bad_argument(str(exc))
    except ExperimentInterrupted as exc:
        import shlex

        if progress_bar is not None:
            progress_bar.stop()
        what = "Interrupted: " if exc.signum is not None else f"Stopped: {exc.reason}.\n"
        kept = (
            f"{exc.finished} of {exc.total} runs finished; their complete rows are in {out_dir}/runs.csv"
            if exc.finished
            else f"no run of {exc.total} finished, so {out_dir}/runs.csv holds no row yet"
        )
        err.print(
            f"{what}{kept}.\n"
            f"Resume with: {shlex.join(_resume_command(click.get_current_context(), out_dir))}",
            markup=False,
        )
        # A signal's conventional exit status is 128 + its number (130 Ctrl-C, 143 SIGTERM).
        raise SystemExit(128 + exc.signum if exc.signum is not None else EXIT_FAILURE) from None
    except ClusterError as exc:
        _bad_argument(str(exc))
    except OSError as exc:
        err.print(f"cannot write results to {out_dir}: {exc.strerror or exc}", markup=False)
        raise SystemExit(EXIT_FAILURE) from None
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    if as_json:
        click.echo((Path(out_dir) / "summary.json").read_text())
    elif experiment.failed < len(experiment.runs):  # with every run failed, a table would be all blanks
        print_experiment(experiment)
        note = no_mail_note(experiment)
        if note is not None:
            out.print(note, markup=False)
    if plot:
        _use_agg()
        from exsim.plots import plot_results

        with _writing(_MOVE_IT):
            lines = plot_results(Path(out_dir))
        for line in lines:
            (err if as_json else out).print(line, markup=False)
    if report:
        _use_agg()
        from exsim.report import write_report

        with _writing(_MOVE_IT):
            path = write_report(Path(out_dir), command=_command_line())
        (err if as_json else out).print(f"Report: {path}", markup=False)
    if not as_json:
        from exsim.results import listing

        out.print(f"Results in {out_dir}/: {', '.join(listing(out_dir))}", markup=False)
        out.print(
            f"Wall time {time.perf_counter() - started:.1f} s ({len(experiment.runs)} run(s); "
            f"simulation {experiment.wall_s:.1f} s)",
            markup=False,
        )
    if experiment.failed:
        errors = experiment.runs["error"].fillna("")
        first = errors[errors != ""].iloc[0]
        err.print(
            f"{experiment.failed} of {len(experiment.runs)} runs failed; the first: {first} "
            f"(every error is in the 'error' column of {out_dir}/runs.csv)",
            markup=False,
        )
        raise SystemExit(EXIT_FAILURE)


_SHARED_NUMBERS = "users' mail, mail from outside and the NDR reports the run generated, numbered together"
"""What a message number counts: a trace's --message N may be any of them."""


@cli.command()
@click.argument("scenario", type=click.Path())
@click.option(
    "--message",
    "message_id",
    type=click.IntRange(min=1),
    help="Message number, 1 = the first made. Users' mail, mail from outside and the NDR reports the "
    "run generates share one numbering; given a report's number, trace names the message it reports on, "
    "whose story ends with the report's steps.",
)
@click.option("--first-ndr", is_flag=True, help="The first message that got a non-delivery report.")
@click.option(
    "--first-misdelivery",
    is_flag=True,
    help="The first message the directory delivered to a mailbox its sender did not mean (KB Q176046).",
)
@click.option(
    "--point", type=click.IntRange(min=0), help="Sweep point to run (default: the scenario as written)."
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Override the scenario's seed, as run's --seed does: each replication's run seed is drawn from it.",
)
@click.option(
    "--replication",
    type=click.IntRange(min=0),
    help="Which replication to trace (default 0), as runs.csv numbers them: with the run's --seed and "
    "the row's --point, the run that row counts.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the story as JSON: the scenario's name and hash (for exsim explore's page), lines, hops, "
    "NDR, defect fixes.",
)
@set_option
def trace(
    scenario: str,
    message_id: int | None,
    first_ndr: bool,
    first_misdelivery: bool,
    point: int | None,
    seed: int | None,
    replication: int | None,
    as_json: bool,
    settings: tuple[str, ...],
) -> None:
    """Tell one message's story, line by line in simulated time.

    The story ends with a glossary line for the jargon it used and, when a known defect bit,
    the fix for it. Exit 2, with what to try instead, when the run has no such message:
    --first-ndr or --first-misdelivery in a run where none was, --message N beyond the run's
    numbering, or N the number of an NDR report (then it names the message the report is on).

    The run traced is replication 0 of the scenario's seed unless --seed and --replication say
    otherwise, as exsim run seeds its runs: the run behind a runs.csv row is --point, --replication
    and the --seed given to run.

    \b
    Example:
      exsim trace scenarios/q166866.toml --first-ndr
      exsim trace scenarios/contoso.toml --message 3 --json > story.json
      exsim trace scenarios/q166866.toml --first-ndr --point 3 --replication 2
    """
    from exsim.logs import timestamp
    from exsim.randomness import replication_seed
    from exsim.scenario.sweep import expand_sweep, point_scenario
    from exsim.sim import simulate

    if (message_id is not None) + first_ndr + first_misdelivery != 1:
        _bad_argument("give exactly one of --message N, --first-ndr or --first-misdelivery")
    loaded = _load(
        scenario,
        settings,
        points=None if point is None else "; or leave out --point to trace the scenario as written, with it",
    )
    # The scenario as given (file and --set), before a sweep point: the explorer page made from
    # it replays this story, whichever point it is of.
    identity = loaded.hash
    if point is not None:
        points = expand_sweep(loaded)
        if point >= len(points):
            _bad_argument(f"--point: the scenario has {len(points)} sweep point(s) (0..{len(points) - 1})")
        loaded = point_scenario(loaded, points[point])
        labels = points[point].labels
        if not as_json:
            out.print(
                "Sweep point "
                + (
                    ", ".join(f"{k} = {v}" for k, v in labels.items())
                    or "0: the scenario as written (no sweep)"
                ),
                markup=False,
            )
    replication = replication or 0
    scenario_seed = loaded.run.seed if seed is None else seed
    run_seed = replication_seed(scenario_seed, replication)
    which = f"run seed {run_seed}: replication {replication} of seed {scenario_seed}"
    if first_ndr or first_misdelivery:
        found = simulate(loaded, run_seed)
        message_id = found.first_ndr_message if first_ndr else found.first_misdelivery_message
        if message_id is None:
            what = "got a non-delivery report" if first_ndr else "was misdelivered"
            other = "--first-misdelivery" if first_ndr else "--first-ndr"
            err.print(
                f"no message {what} in this run ({which}; {found.messages} messages): trace one "
                f"with --message N (1..{found.messages}, {_SHARED_NUMBERS}), try {other}, another --seed, "
                "--replication or --point, or a "
                "scenario with failures (scenarios/q166866.toml --point 3, scenarios/kb/)",
                markup=False,
            )
            # The simulation did what it should; what was asked for is not in this scenario and
            # seed, as with a --message beyond the messages sent: the request is the problem.
            raise SystemExit(EXIT_BAD_INPUT)
    assert message_id is not None  # given, or found above: the argument check allows nothing else
    result = simulate(loaded, run_seed, trace_messages={message_id})
    lines = result.traces.get(message_id)
    if not lines:
        original = result.traced_reports.get(message_id)
        if original is None:
            made = (
                f"the run numbered {result.messages} messages ({_SHARED_NUMBERS}); trace one of "
                f"1..{result.messages}"
                if result.messages
                else "the run made no message at all"
            )
            err.print(f"message {message_id} was never made: {made}", markup=False)
        else:
            import shlex

            again = _command_again(
                click.get_current_context(),
                ["--message", str(original)],
                ("point", "seed", "replication", "as_json", "settings"),
            )
            err.print(
                f"message {message_id} is not mail anyone sent but the non-delivery report the run generated "
                f"on message {original} (reports share the messages' numbers); the report's steps end "
                f"message {original}'s story: {shlex.join(again)}",
                markup=False,
            )
        raise SystemExit(EXIT_BAD_INPUT)
    from exsim.explain import trace_story

    story = trace_story(lines, loaded)
    if as_json:
        header = {
            "scenario": loaded.name,
            "scenario_hash": identity,
            "seed": result.seed,
            "scenario_seed": scenario_seed,
            "replication": replication,
            "message": message_id,
        }
        if point is not None:
            header["point"] = {"index": point, "labels": labels}
        import json

        click.echo(json.dumps(header | story, indent=2, default=str))
        return
    out.print(f"Message {message_id} of scenario {loaded.name} ({which})", markup=False)
    for line in lines:
        text = ("report: " if line.report else "") + line.text
        out.print(f"{timestamp(line.time_s):%a %H:%M:%S} (t={line.time_s:9.2f} s)  {text}", markup=False)
    for tail in (story["glossary"], *story["fixes"]):
        if tail:
            out.print(tail, markup=False)


_ANOTHER_O = "choose another file with -o"
_MOVE_IT = "move it out of the way and try again"


@contextlib.contextmanager
def _writing(remedy: str) -> Iterator[None]:
    """Exit 2 when a file a command writes cannot be written where asked: the path, why, and
    ``remedy``; the checks of :mod:`exsim.outputs` leave nothing behind."""
    from exsim.outputs import OutputPathError

    try:
        yield
    except OutputPathError as exc:
        _bad_argument(f"{exc}; {remedy}")


def _damaged(directory: str, exc: BaseException) -> NoReturn:
    """Exit 2: a results directory whose files cannot be read as exsim wrote them (the message of
    :class:`~exsim.results.DamagedResults` starts with the file's name)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    _bad_argument(
        f"{directory}: damaged results ({detail}); make them again with exsim run --out DIR --force"
    )


@contextlib.contextmanager
def _results_read(directory: str) -> Iterator[None]:
    """Around whatever reads a results directory (plot, report): damage is bad input, exit 2."""
    try:
        yield
    except (ValueError, KeyError, RecursionError) as exc:  # a file edited, cut short or overwritten
        _damaged(directory, exc)


def _use_agg() -> None:
    """Figures from the command line are files: the Agg backend, chosen here and only here."""
    import matplotlib

    matplotlib.use("Agg")


def _command_line() -> str:
    """The command as typed, quoted for a POSIX shell (the results' and the report's provenance)."""
    import shlex

    return " ".join(["exsim", *(shlex.quote(a) for a in sys.argv[1:])])


def _results_dir(directory: str) -> Path:
    folder = Path(directory)
    if not (folder / "scenario.toml").is_file() or not (folder / "summary.csv").is_file():
        from exsim.resultsdir import running_in

        if (owner := running_in(folder)) is not None:
            _bad_argument(
                f"{directory}: in use by {owner}, whose experiment has not written its results yet; "
                "try again when it has finished"
            )
        _bad_argument(
            f"{directory}: not a results directory (no scenario.toml and summary.csv); "
            "make one with exsim run --out DIR"
        )
    import tomllib

    import pandas as pd

    from exsim.results import reading

    try:
        with _results_read(directory), reading(folder / "scenario.toml"):
            tomllib.loads((folder / "scenario.toml").read_text(encoding="utf-8"))
        with _results_read(directory), reading(folder / "summary.csv"):
            columns = [str(c) for c in pd.read_csv(folder / "summary.csv").columns]
    except OSError as exc:
        _bad_argument(f"{directory}: cannot read the results ({exc.strerror or exc})")
    if "point" not in columns or "n" not in columns:
        _damaged(directory, ValueError("summary.csv lacks the point and n columns"))
    return folder


@cli.command()
@click.argument("directory", type=click.Path())
@click.option("--x", "x_variable", help="Swept variable for the failure curve's x axis.")
@click.option(
    "--average",
    is_flag=True,
    help="Average over the sweep variables a figure does not show, even those that change the failure rate.",
)
@click.option(
    "--point",
    type=click.IntRange(min=0),
    help="Sweep point for the per-point figures (default: all when few, else the one with most failures).",
)
def plot(directory: str, x_variable: str | None, average: bool, point: int | None) -> None:
    """Write the figures of a results directory into DIR/plots/.

    \b
    Example:
      exsim plot results/rollout
    """
    folder = _results_dir(directory)
    _use_agg()
    from exsim.plots import AveragingRefused, plot_results

    summary_columns = (folder / "summary.csv").read_text().splitlines()[0].split(",")
    if x_variable is not None and x_variable not in summary_columns:
        _bad_argument(f"--x: {x_variable!r} is not a swept variable of these results")
    if point is not None and str(point) not in [
        line.split(",")[0] for line in (folder / "summary.csv").read_text().splitlines()[1:]
    ]:
        _bad_argument(f"--point: these results have no sweep point {point}")
    try:
        with _results_read(directory), _writing(_MOVE_IT):
            lines = plot_results(folder, x_variable, average, point)
    except AveragingRefused as exc:
        _bad_argument(f"--x {x_variable}: {exc}")
    for line in lines:
        out.print(line, markup=False)


@cli.command()
@click.argument("directory", type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="HTML file to write (default: DIR/report.html).")
def report(directory: str, output: str | None) -> None:
    """Write one self-contained HTML page of a results directory (figures embedded, no network).

    \b
    Example:
      exsim report results/rollout -o rollout.html
    """
    folder = _results_dir(directory)
    _use_agg()
    from exsim.report import write_report

    with _results_read(directory), _writing(_ANOTHER_O):
        path = write_report(folder, Path(output) if output else None, command=_command_line())
    out.print(f"Report: {path}", markup=False)


@cli.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path())
@click.option("--replications", type=click.IntRange(min=1), help="Override the number of replications.")
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@set_option
def check(
    scenarios: tuple[str, ...], replications: int | None, seed: int | None, settings: tuple[str, ...]
) -> None:
    """Run scenarios and compare the outcomes with their [[expect]] blocks (exit 0 only if all pass).

    \b
    Example:
      exsim check scenarios/kb/Q166866.toml scenarios/kb/Q176046.toml
      exsim check scenarios/kb/Q166866.toml --replications 1 --set run.duration='"1h"'
    """
    from exsim.expect import evaluate

    loaded = [(path, _load(path, settings, points="")) for path in scenarios]
    for path, scenario in loaded:
        if not scenario.expect:
            _bad_argument(f"{path}: no [[expect]] entries to check")
    failed = total = 0
    for path, scenario in loaded:
        out.print(f"{path}: {scenario.description or scenario.name}", markup=False)
        for line in evaluate(scenario, replications=replications, seed=seed):
            total += 1
            failed += not line.passed
            out.print(f"  {line}", markup=False)
    out.print(f"{total - failed} passed, {failed} failed", markup=False)
    if failed:
        raise SystemExit(EXIT_FAILURE)


def org_prmd(x400: str | None) -> str | Text:
    from rich.text import Text

    from exsim.address import parse_x400

    if not x400:
        return "-"
    gdi = parse_x400(x400).gdi
    return gdi.p.strip() if gdi.p is not None and gdi.has_prmd else Text("none", style="bold red")


def _count(items: Sequence[object], noun: str) -> str:
    """``5 sites``, ``1 site``: a count and its noun, singular for one."""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


#: pydantic's switch for its plugins; see the module's docstring for why the command sets it.
PLUGINS_VARIABLE = "PYDANTIC_DISABLE_PLUGINS"


@contextlib.contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """``PYDANTIC_DISABLE_PLUGINS=__all__`` while the command runs, unless the variable is set
    already; afterwards the environment is as it was."""
    if PLUGINS_VARIABLE in os.environ:
        yield
        return
    os.environ[PLUGINS_VARIABLE] = "__all__"
    try:
        yield
    finally:
        os.environ.pop(PLUGINS_VARIABLE, None)


def main() -> None:
    """Console-script entry point (also ``python -m exsim``): :func:`execute` with pydantic's
    plugins off."""
    # Around everything the command does: pydantic reads the variable when it builds its first
    # validator (the scenario models build theirs when first used).
    with _without_pydantic_plugins():
        execute()


def execute() -> NoReturn:
    """Run the command ``sys.argv`` names and exit with its code (``%exsim`` in a notebook,
    :mod:`exsim.notebook`, calls this: in a process of the user's own, pydantic's plugins are
    as the user has them)."""
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
    except RecursionError:
        err.print("exsim: input nested too deeply to process", markup=False)
        sys.exit(EXIT_BAD_INPUT)
    except MemoryError:
        err.print(
            "exsim: out of memory; make the scenario smaller (fewer runs or a coarser run.time_series_interval)",
            markup=False,
        )
        sys.exit(EXIT_FAILURE)
    except Exception as exc:
        where = ""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
        err.print(
            f"exsim: internal error{where}: {type(exc).__name__}: {exc}; please report it "
            "(set EXSIM_TRACEBACK=1 for the details)",
            markup=False,
        )
        if os.environ.get("EXSIM_TRACEBACK"):
            raise
        sys.exit(EXIT_FAILURE)
    sys.exit(EXIT_OK)
