"""Figures from a results directory, written into ``DIR/plots/`` (matplotlib, Agg).

* ``failure_curve.png`` — failure rate with its 95 % band against a swept
  variable, one line per version;
* ``failure_matrix.png`` — mean failure rate for address configuration x version;
* ``rollout.png`` — NDRs per hour and cumulative NDRs over simulated time, with
  the scenario's upgrades, address changes, outages and service stops marked;
* ``latency.png`` — delivery-latency distributions (CDF) per sweep point;
* ``queues.png`` — mail queued per server over time, outages shaded;
* ``topology.png`` — sites and connectors (costs on the edges), servers and
  gateways, sites whose X.400 address lacks ``p=`` marked.

A figure that the results cannot support (a matrix without a version variable,
say) is skipped with the reason, never drawn empty.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd

from exsim.address import parse_x400
from exsim.scenario import Scenario, validate_raw

DPI = 110
KIND_STYLE = {"site": ("tab:blue", "solid"), "x400": ("tab:green", "dashed"), "ras": ("tab:orange", "dotted")}


def _version_variable(scenario: Scenario) -> str | None:
    for variable in scenario.sweep.variables:
        if variable.name == "version" or variable.path.endswith(".version"):
            return variable.name
    return None


def _save(fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _point_label(row: pd.Series, variables: list[str]) -> str:
    return ", ".join(f"{v}={row[v]}" for v in variables) if variables else "as written"


def failure_curve(scenario: Scenario, summary: pd.DataFrame, path: Path, x: str | None = None) -> Path | str:
    variables = [v.name for v in scenario.sweep.variables]
    version = _version_variable(scenario)
    candidates = [v for v in variables if v != version]
    x = x or (candidates[0] if candidates else version)
    if x is None:
        return "failure_curve.png skipped: the scenario sweeps no variable"
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    groups = summary.groupby(version, sort=False) if version and version != x else [("all", summary)]
    order = list(dict.fromkeys(summary[x].astype(str)))
    groups = list(groups)
    markers = "osD^v<>"
    for k, (name, group) in enumerate(groups):
        group = group.assign(_x=group[x].astype(str)).groupby("_x", sort=False).mean(numeric_only=True)
        group = group.reindex([o for o in order if o in group.index])
        # Dodge the lines a little so versions with equal rates stay visible.
        dodge = (k - (len(groups) - 1) / 2) * 0.04
        positions = [order.index(o) + dodge for o in group.index]
        mean = group["failure_rate_mean"] * 100
        ax.plot(
            positions,
            mean,
            marker=markers[k % len(markers)],
            label=f"{version} {name}" if version and version != x else None,
        )
        lo, hi = group["failure_rate_lo"] * 100, group["failure_rate_hi"] * 100
        if lo.notna().any():
            ax.fill_between(positions, lo, hi, alpha=0.2)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlabel(x)
    ax.set_ylabel("failure rate (% of recipients NDR'd)")
    ax.set_title(f"{scenario.name}: failure rate by {x}" + (" and version (95 % band)" if version else ""))
    if version and version != x:
        ax.legend(title="server build")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def failure_matrix(scenario: Scenario, summary: pd.DataFrame, path: Path) -> Path | str:
    version = _version_variable(scenario)
    others = [v.name for v in scenario.sweep.variables if v.name != version]
    if version is None or not others:
        return "failure_matrix.png skipped: needs a version variable and an address-configuration variable"
    config = others[0]
    table = summary.pivot_table(
        index=config, columns=version, values="failure_rate_mean", aggfunc="mean", sort=False
    )
    fig, ax = plt.subplots(figsize=(3.0 + 1.3 * len(table.columns), 1.6 + 0.7 * len(table.index)))
    image = ax.imshow(
        table.values * 100, cmap="Reds", vmin=0, vmax=max(1.0, float(np.nanmax(table.values * 100)))
    )
    for (i, j), value in np.ndenumerate(table.values):
        ax.text(
            j,
            i,
            f"{value:.1%}",
            ha="center",
            va="center",
            fontsize=11,
            color="white" if value * 100 > 0.6 * image.get_clim()[1] else "black",
        )
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table.index)), table.index)
    ax.set_xlabel(version)
    ax.set_ylabel(config)
    ax.set_title(f"{scenario.name}: mean failure rate")
    fig.colorbar(image, ax=ax, label="failure rate (%)")
    return _save(fig, path)


def _event_marks(scenario: Scenario) -> list[tuple[float, str]]:
    marks = []
    builds = {"5.0": "RTM", "5.0-sp1": "SP1", "5.0-sp2": "SP2"}
    for event in scenario.events:
        if event.kind == "upgrade":
            marks.append((event.at, f"{builds[event.version]} on {event.server}"))
        elif event.kind == "address_change":
            what = (
                "adds p="
                if event.type == "x400" and parse_x400(event.value).gdi.has_prmd
                else f"new {event.type}"
            )
            marks.append((event.at, f"{event.site} {what}"))
        elif event.kind == "outage":
            marks.append((event.start, f"{event.connector} down"))
        elif event.kind == "service_stop":
            marks.append((event.start, f"{event.server} {event.service} stopped"))
    return marks


def rollout(scenario: Scenario, series: pd.DataFrame, path: Path, point: int = 0) -> Path | str:
    if series.empty:
        return "rollout.png skipped: no time series in the results"
    mine = series[series["point"] == point].groupby("t_s").mean(numeric_only=True)
    hours = mine.index.to_numpy() / 3600
    interval_h = (hours[1] - hours[0]) if len(hours) > 1 else 1.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.bar(hours, mine["ndr"] / interval_h, width=interval_h, align="edge", color="tab:red", alpha=0.8)
    top.set_ylabel("NDRs per hour")
    bottom.plot(hours, np.cumsum(mine["ndr"]), color="tab:red")
    bottom.set_ylabel("cumulative NDRs")
    bottom.set_xlabel("simulated time (hours from Monday 00:00)")
    for k, (t_s, label) in enumerate(sorted(_event_marks(scenario))):
        for ax in (top, bottom):
            ax.axvline(t_s / 3600, color="grey", linestyle="--", linewidth=0.8)
        # Stagger the labels so events close in time stay readable.
        top.annotate(
            label,
            (t_s / 3600, 0.97 - 0.22 * (k % 3)),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            va="top",
            ha="left",
            color="dimgrey",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    top.set_title(f"{scenario.name}: non-delivery reports over time (mean over replications)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def latency(scenario: Scenario, latency_bins: pd.DataFrame, summary: pd.DataFrame, path: Path) -> Path | str:
    if latency_bins.empty:
        return "latency.png skipped: no deliveries"
    variables = [v.name for v in scenario.sweep.variables]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for _, row in summary.iterrows():
        mine = (
            latency_bins[latency_bins["point"] == row["point"]].groupby("upper_s")["count"].sum().sort_index()
        )
        if mine.empty:
            continue
        ax.step(
            mine.index,
            np.cumsum(mine.values) / mine.values.sum(),
            where="post",
            label=_point_label(row, variables),
        )
    ax.set_xscale("log")
    ax.set_xlabel("delivery latency (s, log scale)")
    ax.set_ylabel("share of delivered recipients")
    ax.set_title(f"{scenario.name}: delivery latency distribution per sweep point")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def queues(scenario: Scenario, series: pd.DataFrame, path: Path, point: int = 0) -> Path | str:
    columns = [c for c in series.columns if c.startswith("queued_")]
    if series.empty or not columns:
        return "queues.png skipped: no queue samples in the results"
    mine = series[series["point"] == point].groupby("t_s").mean(numeric_only=True)
    hours = mine.index.to_numpy() / 3600
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for column in columns:
        ax.plot(hours, mine[column], label=column.removeprefix("queued_"))
    for event in scenario.events:
        if event.kind == "outage":
            ax.axvspan(event.start / 3600, event.end / 3600, color="tab:red", alpha=0.1)
            ax.annotate(
                f"{event.connector} down",
                (event.start / 3600, 0.95),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color="tab:red",
            )
        elif event.kind == "service_stop":
            end = (event.end if event.end is not None else hours[-1] * 3600) / 3600
            ax.axvspan(event.start / 3600, end, color="tab:orange", alpha=0.1)
    ax.set_xlabel("simulated time (hours from Monday 00:00)")
    ax.set_ylabel("messages queued (store, MTA and gateways)")
    ax.set_title(f"{scenario.name}: mail waiting on each server (sampled each interval)")
    ax.legend(fontsize=7, ncols=2)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def topology(scenario: Scenario, path: Path) -> Path:
    graph = nx.MultiGraph()
    for site in scenario.sites:
        graph.add_node(site.name)
    for connector in scenario.connectors:
        if connector.kind in KIND_STYLE:
            graph.add_edge(*connector.sites, key=connector.name, kind=connector.kind, cost=connector.cost)
    layout = nx.spring_layout(nx.Graph(graph), seed=3) if len(graph) > 2 else nx.circular_layout(graph)
    fig, ax = plt.subplots(figsize=(10, 6.5))
    for kind, (color, style) in KIND_STYLE.items():
        edges = [(a, b) for a, b, data in graph.edges(data=True) if data["kind"] == kind]
        nx.draw_networkx_edges(nx.Graph(edges), layout, ax=ax, edge_color=color, style=style, width=2)
        ax.plot([], [], color=color, linestyle=style, label=f"{kind} connector")
    labels: dict = {}
    for a, b, data in graph.edges(data=True):
        labels[(a, b)] = (labels.get((a, b), "") + f"\n{data['cost']}").strip()
    nx.draw_networkx_edge_labels(nx.Graph(graph), layout, edge_labels=labels, ax=ax, font_size=9)
    no_prmd = [
        s.name for s in scenario.sites if s.addresses.x400 and not parse_x400(s.addresses.x400).gdi.has_prmd
    ]
    colors = ["#f4a3a3" if s in no_prmd else "#cfe2f3" for s in graph.nodes]
    nx.draw_networkx_nodes(graph, layout, ax=ax, node_color=colors, node_size=1500, edgecolors="black")
    gateways: dict[str, list[str]] = {}
    for c in scenario.connectors:
        if c.kind in ("ims", "msmail"):
            gateways.setdefault(c.server, []).append("IMS" if c.kind == "ims" else "MS Mail")
    for site in scenario.sites:
        x, y = layout[site.name]
        servers = [
            f"{s.name} ({s.version})" + "".join(f" +{g}" for g in gateways.get(s.name, []))
            for s in scenario.servers
            if s.site == site.name
        ]
        ax.text(x, y, site.name, ha="center", va="center", fontsize=9, fontweight="bold")
        ax.text(
            x,
            y - 0.09,
            "\n".join(servers),
            ha="center",
            va="top",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    ax.scatter(
        [], [], color="#f4a3a3", edgecolors="black", s=80, label="site without p= in its X.400 address"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    xs, ys = zip(*layout.values(), strict=True)
    for low_high, setter in ((xs, ax.set_xlim), (ys, ax.set_ylim)):
        low, high = min(low_high), max(low_high)
        pad = max(0.35, 0.2 * (high - low))  # room for the server lists, even when all sites line up
        setter(low - pad, high + pad)
    ax.set_title(f"{scenario.name}: sites, connectors (cost on each edge), servers (+gateways)")
    ax.axis("off")
    return _save(fig, path)


def plot_results(directory: Path, x: str | None = None) -> list[str]:
    """Write every figure the results support; return one line per figure (path or why skipped)."""
    directory = Path(directory)
    scenario = validate_raw(
        tomllib.loads((directory / "scenario.toml").read_text()), str(directory / "scenario.toml")
    )
    read = lambda name: pd.read_csv(directory / name) if (directory / name).exists() else pd.DataFrame()  # noqa: E731
    summary, series, latency_bins = read("summary.csv"), read("series.csv"), read("latency.csv")
    plots = directory / "plots"
    plots.mkdir(exist_ok=True)
    made = [
        failure_curve(scenario, summary, plots / "failure_curve.png", x),
        failure_matrix(scenario, summary, plots / "failure_matrix.png"),
        rollout(scenario, series, plots / "rollout.png"),
        latency(scenario, latency_bins, summary, plots / "latency.png"),
        queues(scenario, series, plots / "queues.png"),
        topology(scenario, plots / "topology.png"),
    ]
    return [str(item) for item in made]
