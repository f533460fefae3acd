"""Cross-reference checks on scenario data that a schema cannot express.

They run on the parsed TOML (a plain dict) rather than on the validated model,
so that a file with a schema error elsewhere still gets its unknown site or
duplicate server reported in the same pass. Every function tolerates values
of the wrong type: the schema reports those, these checks skip them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator
from typing import Any

from exsim.address import alias_as_written, classify_recipient, smtp_specificity
from exsim.columns import is_reserved_column
from exsim.constraint import ConstraintError, parse_constraint
from exsim.names import did_you_mean, listed, name_key
from exsim.scenario.paths import (
    Location,
    named_sweep_value,
    path_problem,
    path_segments,
    resolve_path,
    sweep_label,
    why_nothing,
)
from exsim.scenario.schema import INTERNET_DOMAINS, LINK_KINDS, RECIPIENT_CLASSES, REPORT_CLASS, Scenario
from exsim.units import format_duration

Raw = dict[str, Any]
"""Parsed scenario data, as the TOML reader gives it."""
Finding = tuple[Location, str]
"""Where a problem is (a path into the data) and what it is."""
LineOf = Callable[[Location], int | None]
"""The line of a path in the scenario file, when known."""


def _items(raw: Raw, section: str) -> list[tuple[int, dict[str, Any]]]:
    value = raw.get(section)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _names(raw: Raw, section: str) -> dict[str, None]:
    """The names in a section, in file order, as a dict so that membership costs O(1): a
    scenario of 10^5 sites must not make every reference check a scan of them all."""
    return dict.fromkeys(
        item["name"] for _, item in _items(raw, section) if isinstance(item.get("name"), str)
    )


def _unknown(what: str, name: object, known: Collection[str]) -> str:
    hint = did_you_mean(str(name), list(known)) or (
        f" (known: {', '.join(known)})" if known and len(known) <= 8 else ""
    )
    return f"unknown {what} {name!r}{hint}"


def _duplicates(raw: Raw, section: str, what: str, line_of: LineOf) -> Iterator[Finding]:
    """Names of one kind must differ by more than case or Unicode form (see :func:`name_key`)."""
    seen: dict[str, tuple[int, str]] = {}
    for index, item in _items(raw, section):
        name = item.get("name")
        if not isinstance(name, str):
            continue
        key = name_key(name)
        if key not in seen:
            seen[key] = (index, name)
            continue
        first, first_name = seen[key]
        line = line_of((section, first, "name"))
        where = f"{section}[{first}]" + (f", line {line}" if line else "")
        same = (
            f"already at {where}"
            if first_name == name
            else f"the same as {first_name!r} at {where}, ignoring case and Unicode form"
        )
        yield (section, index, "name"), f"duplicate {what} name {name!r} ({same}); names must be unique"


def _reference(
    value: object, known: Collection[str], what: str, path: Location, *, wildcard: bool = False
) -> Iterator[Finding]:
    if isinstance(value, str) and value not in known and not (wildcard and value == "*"):
        yield path, _unknown(what, value, known)


def reference_problems(
    raw: object, line_of: LineOf = lambda path: None, *, sweep_point: bool = False
) -> list[Finding]:
    """Every cross-reference problem in parsed scenario data; ``line_of`` locates a path in the
    file, for messages that point at a second place (the first of two duplicate names).

    ``sweep_point``: ``raw`` is one point of a sweep (:func:`exsim.scenario.sweep.point_scenario`).
    Which servers host a gateway is then judged for the whole scenario, not the point: the file's
    check reads every server a sweep puts a gateway on, so an expectation or a service_stop that
    can matter at some point is not refused at a point where it cannot."""
    if not isinstance(raw, dict):
        return []
    findings: list[Finding] = []
    sites, servers, connectors = _names(raw, "sites"), _names(raw, "servers"), _names(raw, "connectors")
    for section, what in (
        ("sites", "site"),
        ("servers", "server"),
        ("connectors", "connector"),
        ("foreign_x400", "foreign X.400 system"),
    ):
        findings += _duplicates(raw, section, what, line_of)

    site_of: dict[str, str] = {}
    for index, server in _items(raw, "servers"):
        findings += _reference(server.get("site"), sites, "site", ("servers", index, "site"))
        if isinstance(server.get("name"), str) and isinstance(server.get("site"), str):
            site_of[server["name"]] = server["site"]

    site_has_x400 = {
        item["name"]: isinstance(item.get("addresses"), dict) and bool(item["addresses"].get("x400"))
        for _, item in _items(raw, "sites")
        if isinstance(item.get("name"), str)
    }
    for index, server in _items(raw, "servers"):
        site = server.get("site")
        if site in site_has_x400 and not site_has_x400[site]:
            findings.append(
                (
                    ("servers", index, "site"),
                    f"site {site!r} of server {server.get('name')!r} has no X.400 site address; "
                    f"add addresses.x400 to the site (e.g. 'c=US;a= ;p=<Org>;o={site}')",
                )
            )

    findings += _connector_problems(raw, sites, servers, site_of)
    findings += _reachability_problems(raw, sites)
    hosts = None if sweep_point else _gateway_hosts(raw)
    findings += _event_problems(raw, sites, servers, connectors, hosts)
    findings += _foreign_problems(raw, connectors)
    findings += _sweep_problems(raw)
    findings += _expectation_problems(raw, servers, connectors, hosts)
    return findings


def _foreign_problems(raw: Raw, connectors: dict[str, None]) -> Iterator[Finding]:
    """A foreign X.400 system names an x400_foreign connector; the mix sends to one only if one exists."""
    workload = raw.get("workload")
    mix = workload.get("mix") if isinstance(workload, dict) else None
    share = mix.get("foreign_x400") if isinstance(mix, dict) else None
    if isinstance(share, (int, float)) and share > 0 and not _items(raw, "foreign_x400"):
        yield (
            ("workload", "mix", "foreign_x400"),
            "recipients for foreign X.400 systems, but the scenario declares no [[foreign_x400]] system",
        )
    kinds = {c.get("name"): c.get("kind") for _, c in _items(raw, "connectors")}
    foreign = [name for name in connectors if kinds.get(name) == "x400_foreign"]
    for index, system in _items(raw, "foreign_x400"):
        at = ("foreign_x400", index, "connector")
        name = system.get("connector")
        if isinstance(name, str) and name in connectors and name not in foreign:
            yield (
                at,
                f"connector {name!r} is of kind {kinds.get(name)!r}; a foreign X.400 system needs an x400_foreign one",
            )
        else:
            yield from _reference(name, foreign, "x400_foreign connector", at)


def _connector_problems(
    raw: Raw, sites: dict[str, None], servers: dict[str, None], site_of: dict[str, str]
) -> Iterator[Finding]:
    for index, connector in _items(raw, "connectors"):
        at = ("connectors", index)
        joined = connector.get("sites")
        if isinstance(joined, list):
            for k, site in enumerate(joined):
                yield from _reference(site, sites, "site", at + ("sites", k))
            if len(joined) == 2 and joined[0] == joined[1] and isinstance(joined[0], str):
                yield (
                    at + ("sites",),
                    f"connector joins site {joined[0]!r} to itself; name two different sites",
                )
        server = connector.get("server")
        yield from _reference(server, servers, "server", at + ("server",))
        bridgeheads = connector.get("bridgeheads")
        if isinstance(bridgeheads, list):
            if connector.get("kind") in ("x400", "ras") and len(bridgeheads) != 2:
                yield (
                    at + ("bridgeheads",),
                    (
                        f"{'an X.400' if connector.get('kind') == 'x400' else 'a RAS'} connector needs "
                        "one bridgehead server per site "
                        f"(2, in the order of 'sites'); got {len(bridgeheads)}"
                    ),
                )
            for k, name in enumerate(bridgeheads):
                yield from _reference(name, servers, "server", at + ("bridgeheads", k))
                if (
                    isinstance(joined, list)
                    and k < len(joined)
                    and name in site_of
                    and site_of[name] != joined[k]
                ):
                    yield (
                        at + ("bridgeheads", k),
                        (
                            f"bridgehead {name!r} is in site {site_of[name]!r}, not {joined[k]!r}; "
                            "list bridgeheads in the order of 'sites'"
                        ),
                    )
        spaces = connector.get("address_spaces")
        if isinstance(spaces, list) and isinstance(joined, list) and connector.get("kind") in LINK_KINDS:
            ends = [s for s in joined if isinstance(s, str)]
            for k, space in enumerate(spaces):
                if (
                    isinstance(space, dict)
                    and isinstance(space.get("site"), str)
                    and space["site"] not in ends
                ):
                    yield (
                        at + ("address_spaces", k, "site"),
                        f"{space['site']!r} is not an end of this connector (its ends: {', '.join(ends)})"
                        + did_you_mean(space["site"], ends),
                    )
        targets = connector.get("target_servers")
        if isinstance(targets, list):
            for k, target in enumerate(targets):
                if isinstance(target, dict):
                    name = target.get("server")
                    yield from _reference(name, servers, "server", at + ("target_servers", k, "server"))
                    if isinstance(joined, list) and name in site_of and site_of[name] not in joined:
                        yield (
                            at + ("target_servers", k, "server"),
                            (
                                f"target server {name!r} is in site {site_of[name]!r}, which this connector does not join"
                            ),
                        )


def _reachability_problems(raw: Raw, sites: dict[str, None]) -> Iterator[Finding]:
    if len(sites) < 2:
        return
    # Sites joined by connectors, grown outward from each site not yet reached (a plain graph
    # search: these few lines cost less than importing a graph library at every load).
    joins: dict[str, set[str]] = {name: set() for name in sites}
    for _, connector in _items(raw, "connectors"):
        joined = connector.get("sites")
        if isinstance(joined, list) and len(joined) == 2 and all(s in sites for s in joined):
            a, b = joined
            joins[a].add(b)
            joins[b].add(a)
    components: list[set[str]] = []
    reached: set[str] = set()
    for start in sites:
        if start in reached:
            continue
        component, frontier = {start}, [start]
        while frontier:
            for neighbour in joins[frontier.pop()] - component:
                component.add(neighbour)
                frontier.append(neighbour)
        reached |= component
        components.append(component)
    # The largest component first; among equals, the one holding the earliest-listed site.
    components.sort(key=lambda c: -len(c))
    main = components[0]
    for index, site in _items(raw, "sites"):
        name = site.get("name")
        if name in sites and name not in main and site.get("isolated") is not True:
            yield (
                ("sites", index, "name"),
                (
                    f"no connector links site {name!r} to site {sorted(main)[0]!r} and the rest; "
                    "add a site, x400 or ras connector, or set isolated = true if that is deliberate"
                ),
            )


def _event_problems(
    raw: Raw,
    sites: dict[str, None],
    servers: dict[str, None],
    connectors: dict[str, None],
    hosts: dict[str, set[str]] | None,
) -> Iterator[Finding]:
    for index, event in _items(raw, "events"):
        at = ("events", index)
        # "*" (every server) is for an upgrade only: a crash or a stop of "*" would match no server.
        yield from _reference(
            event.get("server"), servers, "server", at + ("server",), wildcard=event.get("kind") == "upgrade"
        )
        yield from _reference(event.get("site"), sites, "site", at + ("site",))
        yield from _reference(event.get("connector"), connectors, "connector", at + ("connector",))
        if isinstance(event.get("sites"), list):
            for k, name in enumerate(event["sites"]):
                yield from _reference(name, sites, "site", at + ("sites", k))
        yield from _stopped_gateway_problems(event, at, servers, hosts)
        start, end = event.get("start"), event.get("end")
        if isinstance(start, str) and isinstance(end, str):
            from exsim.units import parse_duration_s

            try:
                if parse_duration_s(end) <= parse_duration_s(start):
                    yield at + ("end",), f"end {end!r} is not after start {start!r}"
            except ValueError:
                pass  # the schema reports the malformed duration


def _stopped_gateway_problems(
    event: dict[str, Any], at: Location, servers: Collection[str], hosts: dict[str, set[str]] | None
) -> Iterator[Finding]:
    """A service_stop of a gateway (the IMS, the MS Mail connector) on a server that hosts none
    stops nothing: the gateway's service runs only where the connector is installed."""
    service, server = event.get("service"), event.get("server")
    if (
        event.get("kind") != "service_stop"
        or service not in _GATEWAY_NAMES
        or hosts is None  # a sweep moves the gateways in a way not read here: none is ruled out
        or server not in servers  # an unknown server (or "*", for upgrades only) is reported as such
    ):
        return
    able = sorted(hosts.get(service, ()))
    if server in able:
        return
    where = f"on {listed(able, 4)}" if able else "on no server of the organization"
    yield (
        at + ("service",),
        f"service_stop of service = {service!r} on {server!r}, but server {server!r} hosts none, "
        f"so it stops nothing: {_GATEWAY_NAMES[service]} runs {where}",
    )


def _sweep_problems(raw: Raw) -> Iterator[Finding]:
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict):
        return
    variables = sweep.get("variables")
    if not isinstance(variables, list):
        return
    names: list[str] = []
    for index, variable in enumerate(variables):
        if not isinstance(variable, dict):
            continue
        at = ("sweep", "variables", index)
        name = variable.get("name")
        if isinstance(name, str):
            if name in names:
                yield at + ("name",), f"duplicate sweep variable {name!r}"
            elif is_reserved_column(name):
                yield (
                    at + ("name",),
                    f"sweep variable name {name!r} is taken by a column of the results "
                    "(runs.csv, summary.csv); choose another name",
                )
            names.append(name)
        path = variable.get("path")
        if isinstance(path, str):
            if path_problem(path) is not None:
                yield at + ("path",), f"sweep {path_problem(path)}"
            elif path_segments(path)[0] in ("sweep", "run"):
                yield at + ("path",), f"sweep path {path!r} cannot change the sweep or run settings"
            elif not resolve_path(raw, path):
                yield (
                    at + ("path",),
                    f"sweep path {path!r} matches nothing in the scenario: {why_nothing(raw, path)}",
                )
        labels, values = variable.get("labels"), variable.get("values")
        if isinstance(labels, list) and isinstance(values, list) and len(labels) != len(values):
            yield at + ("labels",), f"{len(labels)} labels for {len(values)} values; give one label per value"
    groups: dict[str, int] = {}
    for variable in variables:
        if (
            isinstance(variable, dict)
            and isinstance(variable.get("group"), str)
            and isinstance(variable.get("values"), list)
        ):
            size = len(variable["values"])
            if groups.setdefault(variable["group"], size) != size:
                yield (
                    ("sweep", "variables"),
                    (f"lockstep group {variable['group']!r} has variables with different numbers of values"),
                )
    baseline = sweep.get("baseline")
    if isinstance(baseline, dict):
        by_name = {v["name"]: v for v in variables if isinstance(v, dict) and isinstance(v.get("name"), str)}
        if len(baseline) != 1:
            yield ("sweep", "baseline"), "baseline names exactly one variable, e.g. {version = '5.0'}"
        for name, value in baseline.items():
            if name not in by_name:
                yield ("sweep", "baseline"), _unknown("sweep variable", name, list(by_name))
            elif (
                isinstance(values := by_name[name].get("values"), list)
                and not named_sweep_value(
                    values, labels if isinstance(labels := by_name[name].get("labels"), list) else None, value
                )[0]
            ):
                shown = labels if isinstance(labels, list) and len(labels) == len(values) else values
                yield (
                    ("sweep", "baseline"),
                    f"baseline value {value!r} is neither a label nor a value of {name} "
                    f"({', '.join(map(sweep_label, shown))})",
                )
    constraint = sweep.get("constraint")
    if isinstance(constraint, str):
        values = {
            v["name"]: v["values"]
            for v in variables
            if isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("values"), list)
        }
        labels = {
            name: v["labels"]
            for v in variables
            if isinstance(v, dict)
            and (name := v.get("name")) in values
            and isinstance(v.get("labels"), list)
            and len(v["labels"]) == len(values[name])
        }
        try:
            parse_constraint(constraint, values, labels)
        except ConstraintError as exc:
            yield ("sweep", "constraint"), str(exc)


def _expectation_problems(
    raw: Raw, servers: Collection[str], connectors: Collection[str], hosts: dict[str, set[str]] | None
) -> Iterator[Finding]:
    """Every name an expectation uses must exist: a misspelt one would count nothing, and an
    expectation of zero (or of 'never logged') would then pass whatever the model does."""
    sweep = raw.get("sweep")
    variables = {
        v["name"]: v
        for v in (sweep.get("variables") if isinstance(sweep, dict) else None) or []
        if isinstance(v, dict) and isinstance(v.get("name"), str)
    }
    aliases: set[str] | None = None  # the named mailboxes' aliases, gathered when first needed
    run_end = _run_end(raw)
    for index, expectation in _items(raw, "expect"):
        at = ("expect", index)
        kind = expectation.get("kind")
        yield from _bound_problems(expectation, at, run_end)
        recipient_class = expectation.get("recipient_class")
        if isinstance(recipient_class, str):
            known = list(RECIPIENT_CLASSES) + ([REPORT_CLASS] if kind == "outcome" else [])
            if recipient_class == REPORT_CLASS and kind != "outcome":
                yield (
                    at + ("recipient_class",),
                    f"recipient class {REPORT_CLASS!r} is checked by outcome expectations only",
                )
            else:
                yield from _reference(recipient_class, known, "recipient class", at + ("recipient_class",))
        if kind == "event":
            yield from _reference(expectation.get("server"), servers, "server", at + ("server",))
            event_id = expectation.get("event_id")
            from exsim.logs import logged_event_ids  # the event log's module, only for its ids

            known_ids = logged_event_ids()
            if isinstance(event_id, int) and not isinstance(event_id, bool) and event_id not in known_ids:
                yield (
                    at + ("event_id",),
                    f"exsim never logs event {event_id} (it logs {', '.join(map(str, sorted(known_ids)))})",
                )
            elif isinstance(event_id, int) and not isinstance(event_id, bool) and hosts is not None:
                yield from _unloggable_event_problems(expectation, event_id, at, hosts, servers)
        elif kind == "transfers":
            yield from _reference(
                expectation.get("connector"), [*connectors, "RPC"], "connector", at + ("connector",)
            )
        elif (
            kind == "mailbox"
            and isinstance(expectation.get("alias"), str)
            # An alias is checked here, from its own form; any other address the directory may
            # know the mailbox by, once the scenario is whole (load.py's mailbox check).
            and classify_recipient(expectation["alias"])[0] == "ALIAS"
        ):
            if aliases is None:
                aliases = _named_aliases(raw)
            alias = expectation["alias"]
            if alias_as_written(alias, _alias_holders(raw)) is None:
                yield at + ("alias",), _unknown("mailbox", alias, sorted(aliases))
        point = expectation.get("point")
        if isinstance(point, dict):
            for name, value in point.items():
                variable = variables.get(name)
                if variable is None:
                    yield at + ("point", name), _unknown("sweep variable", name, list(variables))
                    continue
                given = variable.get("values")
                values: list[Any] = given if isinstance(given, list) else []
                given_labels = variable.get("labels")
                labelled = isinstance(given_labels, list)
                labels: list[Any] = (
                    given_labels if isinstance(given_labels, list) else [sweep_label(v) for v in values]
                )
                if value not in values and str(value) not in labels:
                    # The names a point may use: a labelled variable's labels, else its values.
                    shown = f"{'labels' if labelled else 'values'}: " + ", ".join(
                        map(repr, dict.fromkeys(map(str, labels)))
                    )
                    yield (
                        at + ("point", name),
                        f"{value!r} is not a value or label of sweep variable {name!r} ({shown})",
                    )


def _named_aliases(raw: Raw) -> set[str]:
    """The aliases of the scenario's named mailboxes."""
    found: set[str] = set()
    for _, server in _items(raw, "servers"):
        for mailbox in server.get("mailboxes") or []:
            if isinstance(mailbox, dict) and isinstance(mailbox.get("alias"), str):
                found.add(mailbox["alias"])
    return found


def _alias_holders(raw: Raw) -> list[tuple[str, int, list[str]]]:
    """Each server's name, anonymous users and named mailboxes' aliases, for
    :func:`exsim.address.alias_as_written` (malformed entries are the schema's to report)."""
    holders = []
    for _, server in _items(raw, "servers"):
        users = server.get("users")
        named = [
            m["alias"]
            for m in server.get("mailboxes") or []
            if isinstance(m, dict) and isinstance(m.get("alias"), str)
        ]
        if isinstance(server.get("name"), str):
            holders.append(
                (
                    server["name"],
                    users if isinstance(users, int) and not isinstance(users, bool) else 0,
                    named,
                )
            )
    return holders


#: What an expectation's bounds measure, by kind: the noun, and the range its values can take
#: (an outcome's rates are shares of recipients; every other measure is a count or a time).
_RATE = ("rate", 0.0, 1.0)
#: No run counts 2^53 (9.0e15) of anything: at tens of thousands of recipients a CPU-second that
#: is thousands of years, and a float count stops telling n from n + 1 there. A bound beyond it
#: (at_least = 1e308 transfers) could only fail; the scenario's own size is not needed to say so.
MAX_COUNT = float(2**53)
_COUNT = ("count", 0.0, MAX_COUNT)
_TIME = ("time", 0.0, math.inf)
#: Why a value above a measure's highest cannot be, by noun.
_CEILING = {"rate": "a rate is at most 1", "count": "no run counts that many"}


def _bound_value(value: object, measure: tuple[str, float, float]) -> float | None:
    """A bound as a number (a time parsed from its duration), or None when absent or malformed
    (the schema reports a malformed one)."""
    if value is None or isinstance(value, bool):
        return None
    if measure is _TIME:
        from exsim.units import parse_duration_s

        try:
            return parse_duration_s(value)
        except (ValueError, TypeError):
            return None
    return float(value) if isinstance(value, (int, float)) else None


def _unreadable(expectation: dict[str, Any], read: dict[str, float | None]) -> bool:
    """Whether a bound the expectation gives could not be read (``equals = "1"``, ``"-1s"``)."""
    return any(value is None and expectation.get(key) is not None for key, value in read.items())


def _run_end(raw: Raw) -> float:
    """When a run's last event can happen: run.duration + run.drain (math.inf when unreadable)."""
    from exsim.scenario.schema import Run
    from exsim.units import parse_duration_s

    given = raw.get("run")
    run: Raw = given if isinstance(given, dict) else {}
    fields = Run.model_fields
    try:
        return math.fsum(parse_duration_s(run.get(key, fields[key].default)) for key in ("duration", "drain"))
    except (ValueError, TypeError):
        return math.inf


def _bound_problems(expectation: dict[str, Any], at: Location, run_end: float) -> Iterator[Finding]:
    """An expectation that can only fail, or cannot fail, is a mistake in the file: bounds that
    leave no value between them, a bound outside what the measure can be (a negative count, a
    rate above 1), no bound at all, or bounds that every value meets."""
    kind = expectation.get("kind")
    if kind == "ndr_time":
        yield from _ndr_time_problems(expectation, at, run_end)
        return
    if kind == "ndr":
        yield from _ndr_problems(expectation, at)
        return
    if kind not in ("outcome", "event", "transfers", "mailbox", "latency"):
        return  # an unknown kind is the schema's
    metric = expectation.get("metric")
    measure = (
        _TIME
        if kind == "latency"
        else _RATE
        if isinstance(metric, str) and metric.endswith("_rate")
        else _COUNT
    )
    noun, low, high = measure
    if kind == "latency":
        # No mail is delivered after the run ends (run.duration + run.drain), so no latency is
        # longer: the same end of the run that bounds an ndr_time expectation bounds this one.
        high = run_end
    bounds = {key: _bound_value(expectation.get(key), measure) for key in ("equals", "at_least", "at_most")}
    given = {key: value for key, value in bounds.items() if value is not None}
    tolerance = _bound_value(expectation.get("tolerance"), measure) or 0.0
    if _unreadable(expectation, {**bounds, "tolerance": tolerance}) or tolerance < 0:
        return  # the schema names the bound it cannot read; judged without it, the rest would mislead
    written = {key: expectation[key] for key in (*given, "tolerance") if key in expectation}

    def show(key: str) -> str:
        return f"{key} = {written[key]!r}" if isinstance(written[key], str) else f"{key} = {written[key]}"

    if kind == "event" and expectation.get("present") is not None:
        for key in given:
            yield (
                at + (key,),
                f"{show(key)} beside present = {str(expectation['present']).lower()}: present decides "
                "the check and the bound would be ignored; give one or the other",
            )
        return
    if not given:
        choices = "equals, at_least or at_most" + (" (or present)" if kind == "event" else "")
        yield (
            at,
            f"the expectation states no bound, so any value would pass; give {choices} "
            "(an expectation cannot pass by default)",
        )
        return
    if "tolerance" in written and "equals" not in given:
        yield at + ("tolerance",), "tolerance applies to equals only, and this expectation has no equals"
    outside = False
    for key, value in given.items():
        if value < low:
            outside = True
            yield (
                at + (key,),
                f"{show(key)} is below {low:g}: a {noun} is never negative, so it could only fail",
            )
        elif value > high and kind == "latency":
            if key != "at_most":  # an at_most past the end holds for every latency (below)
                outside = True
                yield (
                    at + (key,),
                    f"{show(key)} is past the end of the run (run.duration + run.drain = "
                    f"{format_duration(run_end)}): no mail takes that long to be delivered within a run, "
                    "so it could only fail",
                )
        elif value > high:
            outside = True
            yield at + (key,), f"{show(key)} is above {high:g}: {_CEILING[noun]}, so it could only fail"
    if outside:
        return
    least = given.get("at_least", -math.inf)
    most = given.get("at_most", math.inf)
    if "equals" in given:
        least = max(least, given["equals"] - tolerance)
        most = min(most, given["equals"] + tolerance)
    if least > most:
        yield (
            at + ("at_least" if "at_least" in given else "equals",),
            f"{' and '.join(show(key) for key in given)} leave no value between them, so it could only fail",
        )
    elif least <= low and most >= high and kind == "latency" and "at_most" in given:
        yield (
            at + (next(iter(given)),),
            f"{' and '.join(show(key) for key in given)} {'holds' if len(given) == 1 else 'hold'} for every "
            "time a run can measure (no mail is delivered after the run ends, at run.duration + run.drain "
            f"= {format_duration(run_end)}), so it could never fail",
        )
    elif least <= low and most >= high:
        yield (
            at + (next(iter(given)),),
            f"{' and '.join(show(key) for key in given)} {'holds' if len(given) == 1 else 'hold'} for every "
            f"{noun}, so it could never fail; "
            "give a bound that some outcome would break",
        )


_GATEWAY_NAMES = {"ims": 'an IMS (kind = "ims")', "msmail": 'an MS Mail connector (kind = "msmail")'}


def _gateway_hosts(raw: Raw) -> dict[str, set[str]] | None:
    """The servers that may host each kind of gateway: the file's connectors, and any a sweep
    puts in (a whole connector swept, or its kind or server); None when a sweep changes them in
    a way not read here (then no server is ruled out)."""
    connectors = _items(raw, "connectors")
    hosts: dict[str, set[str]] = {}

    def host(kind: object, server: object) -> None:
        if isinstance(kind, str) and isinstance(server, str):
            hosts.setdefault(kind, set()).add(server)

    for _, connector in connectors:
        host(connector.get("kind"), connector.get("server"))
    sweep = raw.get("sweep")
    for variable in (sweep.get("variables") if isinstance(sweep, dict) else None) or []:
        path = variable.get("path") if isinstance(variable, dict) else None
        if not isinstance(path, str) or path.split(".")[0] != "connectors":
            continue
        parts, values = path.split("."), variable.get("values")
        if len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("kind", "server")):
            continue  # a connector's other settings: no gateway moves
        named = [c for i, c in connectors if parts[1:2] in ([c.get("name")], [str(i)])]
        if len(parts) < 2 or len(named) != 1 or not isinstance(values, list):
            return None
        for value in values:
            if len(parts) == 2 and isinstance(value, dict):
                host(value.get("kind"), value.get("server"))
            elif len(parts) == 3:
                host(
                    *(
                        (value, named[0].get("server"))
                        if parts[2] == "kind"
                        else (named[0].get("kind"), value)
                    )
                )
            else:
                return None
    return hosts


def _unloggable_event_problems(
    expectation: dict[str, Any],
    event_id: int,
    at: Location,
    hosts: dict[str, set[str]],
    servers: Collection[str],
) -> Iterator[Finding]:
    """An event only a gateway's presence brings (the store's events for an IMS, the MS Mail
    interchange's) is never logged where no such gateway runs: 'never logged' (present = false,
    a bound that 0 meets) could not fail there, and 'logged' could only fail."""
    from exsim.logs import gateways_logging  # the event log's module, only for where it logs

    kinds = gateways_logging(event_id)
    if kinds is None:
        return
    server = expectation.get("server")
    if isinstance(server, str) and server not in servers:
        return  # an unknown server is reported as such
    able = {host for kind in kinds for host in hosts.get(kind, ())}
    if (server in able) if isinstance(server, str) else able:
        return
    present = expectation.get("present")
    bounds = {key: _bound_value(expectation.get(key), _COUNT) for key in ("equals", "at_least", "at_most")}
    given = {key: value for key, value in bounds.items() if value is not None}
    if present is not None:
        if given or not isinstance(present, bool):
            return  # present beside a bound is refused as such
        said, zero_passes = f"present = {str(present).lower()}", not present
    else:
        if not given or _unreadable(expectation, bounds):
            return  # no bound, or one the schema refuses: reported as such
        tolerance = _bound_value(expectation.get("tolerance"), _COUNT) or 0.0
        least, most = given.get("at_least", -math.inf), given.get("at_most", math.inf)
        if "equals" in given:
            least, most = max(least, given["equals"] - tolerance), min(most, given["equals"] + tolerance)
        said = " and ".join(
            f"{key} = {expectation[key]!r}"
            if isinstance(expectation[key], str)
            else f"{key} = {expectation[key]}"
            for key in given
        )
        zero_passes = least <= 0 <= most
    gateways = " or ".join(
        _GATEWAY_NAMES.get(kind, f'a connector of kind "{kind}"') for kind in sorted(kinds)
    )
    nobody = f"{server} hosts none" if isinstance(server, str) else "no server here hosts one"
    yield (
        at + ("event_id",),
        f"event {event_id} is logged only on a server hosting {gateways} and {nobody}, so {said} "
        + ("could never fail" if zero_passes else "could only fail"),
    )


def _ndr_problems(expectation: dict[str, Any], at: Location) -> Iterator[Finding]:
    """An ndr expectation names an NDR by its text (and codes): an empty text is part of every
    NDR's, and no NDR carries a negative code."""
    if expectation.get("text") == "":
        yield (
            at + ("text",),
            "text = '' is part of every NDR's text, so it picks out no NDR; give the text the NDR must carry",
        )
    for key in ("reason", "diagnostic"):
        value = expectation.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            yield (
                at + (key,),
                f"{key} = {value} is below 0: an NDR's {key} code is never negative, so it could only fail",
            )


def _ndr_time_problems(expectation: dict[str, Any], at: Location, run_end: float) -> Iterator[Finding]:
    """An ndr_time expectation needs a window (after, before) that a run's NDRs could fall in."""
    after = _bound_value(expectation.get("after"), _TIME)
    before = _bound_value(expectation.get("before"), _TIME)
    if _unreadable(expectation, {"after": after, "before": before}):
        return
    if after is None and before is None:
        yield (
            at,
            "the expectation states no bound, so any NDR at any time would pass; give after, before "
            "or both (an expectation cannot pass by default)",
        )
    elif after is not None and before is not None and after > before:
        yield (
            at + ("after",),
            f"after = {expectation['after']!r} is later than before = {expectation['before']!r}: "
            "no time is between them, so it could only fail",
        )
    elif after is not None and after > run_end:
        yield (
            at + ("after",),
            f"after = {expectation['after']!r} is past the end of the run (run.duration + run.drain), "
            "so it could only fail",
        )
    elif (after is None or after <= 0) and (before is None or before >= run_end):
        # Every NDR of a run comes between 0 and the run's end: such bounds hold for all of them.
        given = [key for key, value in (("after", after), ("before", before)) if value is not None]
        yield (
            at + (given[0],),
            f"{' and '.join(f'{key} = {expectation[key]!r}' for key in given)} "
            f"{'holds' if len(given) == 1 else 'hold'} for every time in the run (it ends at run.duration "
            "+ run.drain), so it could never fail; give a bound that some NDR time would break",
        )


def crash_problems(scenario: Scenario) -> list[Finding]:
    """A crash of a server that is still down from an earlier crash (its restart_after not yet
    over) cannot be what was meant: a server that is not running does not crash. Refused rather
    than warned about, because what was meant is not clear (a longer outage? a second crash after
    the restart?) and the run would silently make it the first: the server would stay down until
    the later of the two restarts, one outage, not two. Two crashes at the same time are the same."""
    found: list[Finding] = []
    down: dict[str, tuple[float, float, int]] = {}  # server: (crashed at, back at, event index)
    crashes = [(index, e) for index, e in enumerate(scenario.events) if e.kind == "crash"]
    for index, event in sorted(crashes, key=lambda item: float(item[1].at)):
        at, server = float(event.at), event.server  # one named server ("*" is for upgrades only)
        earlier = down.get(server)
        if earlier is not None and earlier[0] <= at < earlier[1]:
            found.append(
                (
                    ("events", index, "at"),
                    f"the crash of {server} at {format_duration(at)} comes while {server} is still "
                    f"down from its crash at {format_duration(earlier[0])} (events[{earlier[2]}], back "
                    f"at {format_duration(earlier[1])}): a server that is down does not crash; move "
                    "this crash after the restart, or lengthen the first crash's restart_after",
                )
            )
            continue
        down[server] = (at, at + float(event.restart_after), index)
    return found


def _unchanged_addresses(scenario: Scenario) -> list[Finding]:
    """An address_change to the address its site already has at that time (as the file gives
    it, or as an earlier change left it) changes nothing; compared as the duplicate-site-address
    warning compares, ignoring case and spaces."""
    found: list[Finding] = []
    current: dict[tuple[str, str], tuple[str | None, int | None]] = {
        (site.name, kind): (getattr(site.addresses, kind), None)
        for site in scenario.sites
        for kind in ("x400", "smtp", "ms")
    }
    changes = [(index, e) for index, e in enumerate(scenario.events) if e.kind == "address_change"]
    for index, event in sorted(changes, key=lambda item: float(item[1].at)):  # stable: file order at a tie
        address, by = current.get((event.site, event.type), (None, None))
        if address and "".join(address.lower().split()) == "".join(event.value.lower().split()):
            since = (
                "as the file gives it in sites" if by is None else f"since the address_change events[{by}]"
            )
            found.append(
                (
                    ("events", index, "value"),
                    f"the address_change at {format_duration(float(event.at))} sets {event.site}'s "
                    f"{event.type} site address to {event.value!r}, the address it already has then "
                    f"({since}), so it changes nothing",
                )
            )
        current[(event.site, event.type)] = (event.value, index)
    return found


def scenario_warnings(scenario: Scenario) -> list[Finding]:
    """What is valid but surely not what the user meant, each with the key to look at.

    * A share of Internet (or MS Mail) recipients with no IMS (or MS Mail connector, or any
      other connector with an SMTP or MS address space) in the organization: no address space
      takes that mail, so every such recipient is NDR'd ("not recognized"); mail said to
      arrive from there never comes at all.
    * SMTP address spaces that take only some of the Internet domains the workload mails (an
      IMS serving '*.ie' alone): the MTA finds no route for the others, so their recipients
      are NDR'd ("not recognized") as surely as with no IMS at all.
    * An event timed at or after the end of the run (run.duration + run.drain): it never happens.
    * An address_change to the address its site already has at that time: it changes nothing.
    * Two sites with the same X.400 or SMTP site address. A warning, not an error: the MTA
      resolves each recipient against the directory first and an exact proxy match wins
      (docs/model.md), so mail to a mailbox still reaches it, and one organization-wide SMTP
      domain is a common, deliberate setup (SMTP proxies are alias@domain, unique by alias).
      What does go astray with a shared X.400 address: an X.400 address the directory does
      not know matches both sites' identical GWART entries and goes to the cheaper site, and
      two same-named users of the two sites get one X.400 proxy between them.
    """
    found: list[Finding] = []
    workload = scenario.workload
    for kind, address_type, gateway, mix_key, inbound_key in (
        ("ims", "SMTP", "IMS", "internet", "inbound_internet_per_hour"),
        ("msmail", "MS", "MS Mail connector", "msmail", "inbound_msmail_per_hour"),
    ):
        # Any connector whose address spaces take the type carries such mail out (an IMS takes
        # SMTP); only the gateway itself brings it in.
        carried = any(space.type == address_type for c in scenario.connectors for space in c.address_spaces)
        share = getattr(workload.mix, mix_key)
        if kind == "ims" and share > 0 and carried:
            found += _unserved_internet_domains(scenario, share)
        if share > 0 and not carried:
            found.append(
                (
                    ("workload", "mix", mix_key),
                    f"{share:g} of the addressed recipients are {mix_key} mail but no {gateway} (no {address_type} address "
                    "space) is in the organization: every one of them will be NDR'd as not recognized",
                )
            )
        if getattr(workload, inbound_key) > 0 and not any(c.kind == kind for c in scenario.connectors):
            found.append(
                (
                    ("workload", inbound_key),
                    f"no {gateway} is in the organization, so no such mail will arrive",
                )
            )
    run_end = float(scenario.run.duration + scenario.run.drain)
    if scenario.run.warmup >= scenario.run.duration:
        # Mail is sent until run.duration only (the drain sends none), and what the warm-up sends
        # is left out: the statistics would hold no mail at all.
        after = (
            "nor any fault or transfer"
            if scenario.run.warmup >= run_end
            else f"only the faults and transfers of the last {format_duration(run_end - scenario.run.warmup)}"
        )
        found.append(
            (
                ("run", "warmup"),
                f"the warm-up ({format_duration(scenario.run.warmup)}) lasts as long as the sending "
                f"(run.duration = {format_duration(scenario.run.duration)}) or longer: no mail of the run "
                f"is counted, {after}",
            )
        )
    for index, event in enumerate(scenario.events):
        key = "at" if hasattr(event, "at") else "start"
        when = float(getattr(event, key))
        if when >= run_end:
            found.append(
                (
                    ("events", index, key),
                    f"the {event.kind} at {format_duration(when)} comes at or after the run ends "
                    f"(run.duration + run.drain = {format_duration(run_end)}), so it never happens",
                )
            )
    found += _unchanged_addresses(scenario)
    for address_type in ("x400", "smtp"):
        first: dict[str, int] = {}
        for index, site in enumerate(scenario.sites):
            address = getattr(site.addresses, address_type)
            if not address:
                continue
            key = "".join(address.lower().split())
            if key not in first:
                first[key] = index
                continue
            other = scenario.sites[first[key]].name
            what = (
                "mail to a mailbox still resolves through the directory, but an X.400 address it does "
                "not know routes to either site, and same-named users of the two sites get the same "
                "X.400 proxy; give each site its own"
                if address_type == "x400"
                else "their users' SMTP addresses differ by alias only; if one domain for both is not "
                "what you meant, give each site its own"
            )
            found.append(
                (
                    ("sites", index, "addresses", address_type),
                    f"site {site.name!r} has the same {'X.400' if address_type == 'x400' else 'SMTP'} site "
                    f"address as site {other!r} ({address}): {what}",
                )
            )
    return found


def _unserved_internet_domains(scenario: Scenario, share: float) -> list[Finding]:
    """The Internet domains the workload mails that no SMTP address space of the organization
    takes, as one warning at the first such space's connector (its address spaces are what to
    change). The workload picks each domain as often as the next, so the share of the Internet
    mail lost is the share of domains."""
    spaces = [
        (index, connector.name, space.pattern)
        for index, connector in enumerate(scenario.connectors)
        for space in connector.address_spaces
        if space.type == "SMTP"
    ]
    unserved = [
        domain
        for domain in INTERNET_DOMAINS
        if all(smtp_specificity(pattern, domain) is None for _, _, pattern in spaces)
    ]
    if not unserved:
        return []
    taken = ", ".join(f"{pattern!r} on {name!r}" for _, name, pattern in spaces)
    fraction = len(unserved) / len(INTERNET_DOMAINS)
    return [
        (
            ("connectors", spaces[0][0], "address_spaces"),
            f"the SMTP address spaces ({taken}) take {len(INTERNET_DOMAINS) - len(unserved)} of the "
            f"{len(INTERNET_DOMAINS)} Internet domains the workload mails; no IMS serves the other "
            f"{len(unserved)} ({listed(unserved, 4, quoted=False)}), so {fraction:.0%} of the Internet "
            f"recipients ({share * fraction:.2g} of all addressed) will be NDR'd as not recognized; "
            "the SMTP address space '*' takes every domain",
        )
    ]
