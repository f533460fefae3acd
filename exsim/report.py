"""``exsim report``: one self-contained HTML page of a results directory.

The page is for someone without Python: the scenario (description, topology,
sites, servers, connectors), the summary with 95 % intervals, the paired
differences, every NDR text with the components that generated it, an excerpt
of the event log per event id, every figure with a caption saying what to look
for, and the command and versions that made it. Figures are embedded as SVG
data URIs and the styles and the table-sorting script are inline: the file
opens with no network access. The page is a Jinja2 template,
``exsim/templates/report.html.j2``.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import platform
import shlex
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import jinja2

from exsim import plots, timeline
from exsim.columns import is_ndr_diagnostic_column
from exsim.logs import timestamp
from exsim.outputs import check_output_file, write_whole
from exsim.results import RESULTS_FILES, Results, listing, read_results, rounded_outcomes
from exsim.scenario.paths import sweep_label
from exsim.scenario.sweep import expand_sweep
from exsim.stats import format_rate

#: What to look for in each figure (the report's captions).
CAPTIONS = {
    "failure_curve": "Failure rate per value of the swept variable on the axis, one series per value of a "
    "second variable. Categories are separate points with their 95 % interval (no line: nothing lies "
    "between two configurations). Look for the configuration whose rate leaves zero.",
    "failure_matrix": "Every address configuration against every build: left the share of all recipients "
    "that failed, right the share of outbound Internet recipients. A defect that hits only Internet mail "
    "shows as a dark cell on the right and a lighter one on the left.",
    "rollout": "Failed recipients per hour, stacked by the server whose component generated the NDR "
    "(hatched: misdelivered). Dashed lines and shaded spans are the scenario's timed events, labelled "
    "above. Look for the NDRs starting at an upgrade and stopping at a fix, per server.",
    "latency": "Left: how long delivered mail took (cumulative share, log scale). It covers delivered mail "
    "only: a point that NDRs its slow mail looks faster than it is. Right: the share of recipients each "
    "point failed, which the curves leave out.",
    "queues": "Every message each server holds at each sample: store and MTA queues, gateway MTS-OUT "
    "folders and mail waiting for a gateway retry. Shaded spans are outages, stops and crashes. Look for "
    "queues building during a span and draining after it.",
    "topology": "Sites (red: X.400 site address without p=), connectors with their costs, and each "
    "server with its version at the start and the end of the run; gateways with their address spaces.",
}


def _data_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _number(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _summary_table(results: Results) -> dict[str, Any]:
    summary = results.summary
    columns = [*results.variables, "n", "recipients", "delivered"]
    has_misdelivered = "misdelivered_mean" in summary
    columns += ["misdelivered"] if has_misdelivered else []
    ndr_columns = [
        c for c in summary.columns if is_ndr_diagnostic_column(c) and c.endswith("_mean") and c != "ndr_mean"
    ]
    columns += ["NDR", *(c[4:-5] for c in ndr_columns), "pending", "failure rate [95 %]"]
    columns += ["outbound SMTP failure [95 %]"] if "internet_failure_rate_mean" in summary else []
    rows = []
    diagnostics = [c.removesuffix("_mean") for c in ndr_columns]
    for row in summary.to_dict(orient="records"):
        cells = [str(row[v]) for v in results.variables] + [str(int(row["n"]))]
        # Means rounded so that the outcomes shown add up to the recipients shown.
        counts = rounded_outcomes(row, ["delivered", "misdelivered", *diagnostics, "pending"]) or {}
        ndr = sum(counts[c] for c in diagnostics) if counts else None
        cells += [_number(counts.get("recipients")), _number(counts.get("delivered"))]
        cells += [_number(counts.get("misdelivered"))] if has_misdelivered else []
        cells += [
            _number(ndr),
            *(_number(counts.get(c)) for c in diagnostics),
            _number(counts.get("pending")),
        ]
        cells.append(format_rate(row["failure_rate_mean"], row["failure_rate_lo"], row["failure_rate_hi"]))
        if "internet_failure_rate_mean" in summary:
            cells.append(
                format_rate(
                    row["internet_failure_rate_mean"],
                    row["internet_failure_rate_lo"],
                    row["internet_failure_rate_hi"],
                )
            )
        rows.append(cells)
    return {"columns": columns, "rows": rows}


def _differences_table(results: Results) -> dict[str, Any] | None:
    differences = results.differences
    if differences.empty:
        return None
    baseline = next(c for c in differences.columns if c.endswith("_baseline"))
    variables = [v for v in results.variables if v in differences]
    rows = [
        [
            *(str(row[v]) for v in variables),
            str(row[baseline]),
            str(int(row["n"])),
            format_rate(
                row["failure_rate_diff_mean"], row["failure_rate_diff_lo"], row["failure_rate_diff_hi"]
            ),
        ]
        for row in differences.to_dict(orient="records")
    ]
    return {"columns": [*variables, baseline.replace("_", " "), "n", "difference [95 %]"], "rows": rows}


def _ndrs(results: Results) -> list[dict[str, Any]]:
    examples = results.meta.get("ndr_examples", {})
    generators = results.meta.get("ndr_generators", [])
    ndrs = []
    for text, sample in examples.items():
        ndrs.append(
            {
                "text": text,
                "sample": sample,
                "when": f"{timestamp(sample['time_s']):%a %H:%M:%S}",
                # Each generator's sweep points named as the summary's rows name them.
                "generators": [
                    {**g, "where": [results.point_label(point) for point in g["points"]]}
                    for g in generators
                    if g["text"] == text
                ],
            }
        )
    return ndrs


def _event_excerpts(results: Results, per_id: int = 3) -> list[dict[str, Any]]:
    events = results.events
    if events.empty:
        return []
    groups = []
    for (source, event_id), group in events.groupby(["source", "event_id"], sort=True):
        first = group.sort_values("time_s", kind="stable").head(per_id)
        groups.append(
            {
                "source": source,
                "event_id": int(event_id),
                "type": group["type"].iloc[0],
                "count": len(group),
                "servers": ", ".join(sorted(group["server"].astype(str).unique())),
                "entries": [
                    {
                        "when": f"{timestamp(e['time_s']):%a %H:%M:%S}",
                        "point": int(e["point"]),
                        "replication": int(e["replication"]),
                        "server": e["server"],
                        "text": e["text"],
                    }
                    for e in first.to_dict(orient="records")
                ],
            }
        )
    return groups


def _organization(results: Results) -> dict[str, Any]:
    scenario = results.scenario
    # A swept site address differs per point, as a swept version does: the sweep's values.
    settings = plots.swept_settings(scenario)
    sites = [
        {
            "name": s.name,
            "x400": plots.swept_at(settings, ("sites", i, "addresses", "x400")) or s.addresses.x400 or "-",
            "smtp": plots.swept_at(settings, ("sites", i, "addresses", "smtp")) or s.addresses.smtp or "-",
            "servers": ", ".join(v.name for v in scenario.servers if v.site == s.name),
        }
        for i, s in enumerate(scenario.sites)
    ]
    history = plots.final_versions(scenario)
    swept = plots.swept_versions(scenario)
    servers = []
    for s in scenario.servers:
        # A swept version differs per point: the point's row of the summary names it.
        start = swept.get(s.name, history[s.name][0][1])
        servers.append(
            {
                "name": s.name,
                "site": s.site,
                "start": start,
                "end": history[s.name][-1][1] if len(history[s.name]) > 1 else start,
                "changes": ", ".join(f"{v} at {timestamp(at):%a %H:%M}" for at, v in history[s.name][1:])
                or "-",
            }
        )
    connectors = []
    for c in scenario.connectors:
        where = " ↔ ".join(c.sites) if hasattr(c, "sites") else f"on {c.server}"
        spaces = ", ".join(f"{a.type}:{a.pattern or '(blank)'} ({a.cost})" for a in c.address_spaces) or "-"
        connectors.append(
            {
                "name": c.name,
                "kind": c.kind,
                "where": where,
                "cost": getattr(c, "cost", "-"),
                "spaces": spaces,
            }
        )
    # "shown", not "values": in the template ``v.values`` would be the dict's method.
    sweep = [
        {
            "name": v.name,
            "path": v.path,
            "shown": ", ".join(
                label if label == sweep_label(value) else f"{label} ({sweep_label(value)})"
                for label, value in zip(plots.sweep_labels(v), v.values, strict=True)
            ),
        }
        for v in scenario.sweep.variables
    ]
    # The timed events as the figures' event lane names them, with when and what changed.
    events = [{"what": what, "when": when} for what, when in timeline.listed(scenario)]
    return {"sites": sites, "servers": servers, "connectors": connectors, "sweep": sweep, "events": events}


def _completeness(results: Results) -> dict[str, Any]:
    """How many of the experiment's runs the directory holds, and how to make it whole.

    An interrupted ``exsim run`` (Ctrl-C, SIGTERM, a cluster that gave out) still writes
    complete tables of the runs that finished, so a report of it looks finished unless it says
    otherwise. ``scenario.toml`` is the scenario exactly as run (every --set and --baseline
    applied, seed and replications filled in), so running it again with --resume finishes the
    same experiment wherever the original command was typed."""
    replications = int(results.meta.get("replications", results.scenario.run.replications))
    expected = len(expand_sweep(results.scenario)) * replications
    finished = len(results.runs)
    directory = shlex.quote(str(results.directory))
    scenario = shlex.quote(str(results.directory / "scenario.toml"))
    return {
        "finished": finished,
        "expected": expected,
        "complete": finished >= expected,
        "resume": f"exsim run {scenario} --out {directory} --resume",
    }


def _versions(results: Results) -> dict[str, str]:
    made_with = dict(results.meta.get("versions", {}))
    for name in ("matplotlib", "pandas", "jinja2"):
        made_with[f"{name} (report)"] = package_version(name)
    made_with.setdefault("python", platform.python_version())
    return made_with


def render_report(results: Results, command: str | None = None) -> str:
    """The report of a results directory as one HTML string."""
    figures = []
    for name, figure in plots.make_figures(results).items():
        if isinstance(figure, str):
            figures.append({"name": name, "skipped": figure})
        else:
            figures.append({"name": name, "uri": _data_uri(figure), "caption": CAPTIONS[name]})
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("exsim", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    meta = results.meta
    files = listing(results.directory)
    if "report.html" not in files:
        files = sorted([*files, "report.html"])
    return environment.get_template("report.html.j2").render(
        scenario=results.scenario,
        meta=meta,
        summary=_summary_table(results),
        differences=_differences_table(results),
        ndrs=_ndrs(results),
        variables=results.variables,
        events=_event_excerpts(results),
        organization=_organization(results),
        figures=figures,
        files=[(f, RESULTS_FILES.get(f, "")) for f in files],
        command=command or f"exsim report {results.directory}",
        versions=_versions(results),
        runs=len(results.runs),
        completeness=_completeness(results),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(directory: Path, output: Path | None = None, command: str | None = None) -> Path:
    """Write the report of ``directory`` (default ``DIR/report.html``); return its path.

    A path the page cannot be written to is refused before anything is read or drawn
    (:class:`~exsim.outputs.OutputPathError`); the page is written whole or not at all."""
    path = Path(output) if output is not None else Path(directory) / "report.html"
    check_output_file(path)
    html = render_report(read_results(directory), command)
    write_whole(path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return path


__all__ = ["CAPTIONS", "render_report", "write_report"]
