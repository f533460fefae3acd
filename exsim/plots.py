"""Figures of a results directory; each function returns a matplotlib ``Figure``.

* :func:`failure_curve` — failure rate (95 % interval) against one swept
  variable, a series per value of a second one; a categorical variable is drawn
  as points with interval bars (never joined by a line);
* :func:`failure_matrix` — address configuration x version: the overall failure
  rate and the outbound Internet failure share, intervals where n > 1;
* :func:`rollout` — NDRs per hour stacked by the server that generated them
  (misdeliveries too, when the results have them), with every timed event
  labelled, on a weekday-and-hour axis of simulated time;
* :func:`latency` — latency CDF of *delivered* mail per sweep point, next to
  the failure share of each point (the mail the curves leave out);
* :func:`queues` — every message each server holds over time (store and MTA
  queues, gateway MTS-OUT, gateway retry waits), outages and stops shaded and
  labelled;
* :func:`topology` — sites, connectors with their costs, servers with their
  versions at the start and end of the run, gateways with their address spaces.

A figure of one sweep point names the point in its title. By default it draws
every point when there are few (small multiples), otherwise the point with the
most failures. A figure the results cannot support, or whose data are all zero,
raises :class:`NothingToPlot` with a one-line reason; :func:`plot_results`
turns that into the line ``exsim plot`` prints.

Nothing here picks a matplotlib backend: the figures are plain ``Figure``
objects (shown inline by a notebook, saved by :func:`plot_results`); the
command line chooses Agg.
"""

from __future__ import annotations

import functools
import io
import math
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from exsim.address import parse_x400
from exsim.logs import timestamp
from exsim.outputs import check_output_file, make_output_dir, write_whole
from exsim.results import Results, read_results
from exsim.scenario import LINK_CONNECTORS, Scenario, SweepVariable
from exsim.scenario.paths import Location, resolve_path, sweep_label
from exsim.timeline import Mark, event_marks, merged, point_marks

DPI = 110
KIND_STYLE = {"site": ("tab:blue", "solid"), "x400": ("tab:green", "dashed"), "ras": ("tab:orange", "dotted")}
FIGURES = ("failure_curve", "failure_matrix", "rollout", "latency", "queues", "topology")
#: Up to this many sweep points, a per-point figure draws them all (small multiples).
SMALL_MULTIPLES = 4


class NothingToPlot(Exception):
    """The results cannot support this figure (or its data are all zero); the message says why."""


class AveragingRefused(Exception):
    """Drawing the figure would average over a variable that changes the failure rate."""


class NotebookFigure(Figure):
    """A ``Figure`` that a notebook shows inline as the value of a cell, even when pyplot (and with
    it the notebook's inline backend hook) was never imported."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    fig = NotebookFigure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # a canvas to measure text with; saving picks its own by file type
    return fig


def _renderer(fig: Figure) -> RendererBase:
    """The renderer of the canvas :func:`_figure` gave the figure (to measure text with)."""
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    renderer: RendererBase = canvas.get_renderer()  # type: ignore[no-untyped-call]  # Agg's canvas is unannotated
    return renderer


# --- sweep variables -----------------------------------------------------------------------


def _variable(scenario: Scenario, name: str) -> SweepVariable:
    return next(v for v in scenario.sweep.variables if v.name == name)


def is_numeric(scenario: Scenario, name: str) -> bool:
    """A variable whose values are numbers (and not relabelled): an axis, not categories."""
    variable = _variable(scenario, name)
    return variable.labels is None and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in variable.values
    )


def version_variable(scenario: Scenario) -> str | None:
    """The sweep variable that sets server versions, if any."""
    for variable in scenario.sweep.variables:
        if variable.name == "version" or variable.path.endswith(".version"):
            return variable.name
    return None


def changes_failure_rate(summary: pd.DataFrame, variable: str, kept: list[str]) -> bool:
    """Whether ``variable`` moves the mean failure rate while the ``kept`` variables stay fixed.

    Replication k of every sweep point sees the same traffic (common random
    numbers), so a variable with no effect gives exactly the same mean at each
    of its values: any difference counts. (A variable that changes the traffic
    itself may differ by chance; ``--average`` is there for that.)
    """
    groups = summary.groupby(kept, sort=False) if kept else [((), summary)]
    for _, group in groups:
        mean = group["failure_rate_mean"].dropna()
        if len(mean) and mean.max() - mean.min() > 1e-9:
            return True
    return False


def _averaged(
    results: Results, kept: list[str], average: bool, figure: str, facets: bool = False
) -> tuple[list[str], list[str]]:
    """The variables a figure averages over, and those it draws as small multiples instead.

    A variable that changes the failure rate is never averaged silently: it
    becomes one panel per value when ``facets`` allows (a default figure), else
    the figure is refused unless ``average`` says to average anyway.
    """
    others = [v for v in results.variables if v not in kept]
    moving = [v for v in others if changes_failure_rate(results.summary, v, kept)]
    if not moving or average:
        return others, []
    if facets and results.summary.groupby(moving, sort=False).ngroups <= SMALL_MULTIPLES:
        return [v for v in others if v not in moving], moving
    raise AveragingRefused(
        f"{figure} would average over {', '.join(moving)} (it changes the failure rate), mixing "
        f"configurations into a rate none of them has; put it on the axis with --x, or pass "
        f"--average to average anyway"
    )


def _panels(summary: pd.DataFrame, facets: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per small multiple: one per combination of the faceted variables."""
    if not facets:
        return [("", summary)]
    return [
        (
            ", ".join(
                f"{v}={k}" for v, k in zip(facets, key if isinstance(key, tuple) else (key,), strict=True)
            ),
            rows,
        )
        for key, rows in summary.groupby(facets, sort=False)
    ]


def _mean_over(others: list[str]) -> str:
    return f" (mean over {', '.join(others)})" if others else ""


# --- choosing sweep points ------------------------------------------------------------------


def _failures(summary: pd.DataFrame) -> pd.Series:
    """Mean failed recipients per run, per point: NDRs plus misdeliveries where counted."""
    failed = summary["ndr_mean"].fillna(0).copy()
    if "misdelivered_mean" in summary:
        failed += summary["misdelivered_mean"].fillna(0)
    return failed.set_axis(summary["point"])


def choose_points(results: Results, point: int | None = None, score: pd.Series | None = None) -> list[int]:
    """The sweep points a per-point figure draws.

    One named point; else every point when there are few; else the point with
    the most failures (ties: the highest ``score``, then the lowest index).
    """
    points = results.summary["point"].tolist()
    if point is not None:
        if point not in points:
            raise NothingToPlot(f"point {point} is not in these results (points {points[0]}..{points[-1]})")
        return [point]
    if len(points) <= SMALL_MULTIPLES:
        return [int(p) for p in points]
    failures = _failures(results.summary)
    key = pd.DataFrame({"failures": failures, "score": score if score is not None else 0.0})
    key = key.fillna(0).sort_values(["failures", "score"], ascending=False, kind="stable")
    return [int(key.index[0])]


def _point_title(results: Results, point: int, by_default: bool) -> str:
    label = results.point_label(point)
    if len(results.summary) == 1:
        return "the scenario as written (no sweep)" if label == "as written" else label
    if by_default and len(results.summary) > SMALL_MULTIPLES:
        return f"point {point} ({label}; the point with the most failures)"
    return f"point {point} ({label})"


def _per_interval_mean(series: pd.DataFrame, point: int) -> pd.DataFrame:
    return series[series["point"] == point].groupby("t_s").mean(numeric_only=True)


def _no_run_panel(ax: Axes, results: Results, point: int, by_default: bool, last: bool) -> None:
    """A point's panel when none of its runs finished (an interrupted run): said so, not drawn
    empty and not left out, so the panels still line up with the points."""
    ax.text(0.5, 0.5, "no run finished at this point", transform=ax.transAxes, ha="center", color="grey")
    ax.set_title(_point_title(results, point, by_default), fontsize=9, loc="left")
    ax.set_yticks([])
    if not last:
        ax.tick_params(labelbottom=False)


# --- simulated time ------------------------------------------------------------------------


def _time_axis(ax: Axes, end_h: float) -> None:
    """Ticks in weekday and hour of simulated time (t = 0 is Monday 00:00)."""
    for step in (1, 2, 3, 6, 12, 24, 48):
        if end_h / step <= 9:
            break
    ticks = np.arange(0, end_h + 1e-9, step)
    ax.set_xticks(ticks, [timestamp(t * 3600).strftime("%a %H:%M") for t in ticks])
    ax.set_xlim(0, end_h)


def _overlaps(a: Bbox, b: Bbox, pad: float = 1.0) -> bool:
    return bool(a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad)


def _event_lane(
    fig: Figure,
    lane: Axes,
    axes: list[Axes],
    marks: list[Mark],
    end_h: float,
    per_axis: list[list[Mark]] | None = None,
) -> None:
    """Label each mark in ``lane`` (an axes above the plots) on the first row where it fits.

    ``per_axis``: each panel's own marks (its sweep point's, when a sweep sets an event's time),
    drawn in that panel; by default every panel draws ``marks``."""
    lane.set_xlim(0, end_h)
    lane.set_yticks([])
    lane.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("top", "right", "left"):
        lane.spines[side].set_visible(False)
    if not marks:
        lane.set_visible(False)
        return
    for ax, drawn in [*zip(axes, per_axis or [marks] * len(axes), strict=True), (lane, marks)]:
        for mark in drawn:
            if mark.end_s is None:
                ax.axvline(mark.start_s / 3600, color=mark.color, linestyle="--", linewidth=0.9)
            else:
                ax.axvspan(mark.start_s / 3600, mark.end_s / 3600, color=mark.color, alpha=0.15, lw=0)
    fig.draw_without_rendering()  # settle the layout, so text extents are final
    renderer = _renderer(fig)
    rows: list[list[Bbox]] = []
    texts = []
    right = lane.get_window_extent(renderer).x1
    for mark in marks:
        x = mark.start_s / 3600
        text = lane.text(
            x,
            0,
            " " + mark.label,
            fontsize=7,
            color=mark.color,
            va="center",
            ha="left",
            # A white ground, so the lines of later events do not cross the words.
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 0.5},
        )
        text.set_in_layout(False)
        box = text_box(text, renderer)
        if box.x1 > right:  # near the right edge: the label ends at its event instead
            text.set_horizontalalignment("right")
            text.set_text(mark.label + " ")
            box = text_box(text, renderer)
        row = next((i for i, boxes in enumerate(rows) if not any(_overlaps(box, b) for b in boxes)), None)
        if row is None:
            rows.append([])
            row = len(rows) - 1
        rows[row].append(box)
        texts.append((text, row))
    lane.set_ylim(len(rows), 0)
    for text, row in texts:
        text.set_y(row + 0.5)


def _lane_figure(
    panels: int, marks: list[Mark], width: float = 10, panel_height: float = 2.6
) -> tuple[Figure, Axes, list[Axes]]:
    """A figure with an event lane on top and ``panels`` axes below sharing the time axis."""
    lane_rows = max(1, min(len(marks), 8))
    lane_h = 0.22 * lane_rows + 0.1 if marks else 0.05
    fig = _figure(width, lane_h + panel_height * panels + 0.8)
    grid = fig.add_gridspec(panels + 1, 1, height_ratios=[lane_h, *[panel_height] * panels])
    lane = fig.add_subplot(grid[0])
    axes = [fig.add_subplot(grid[i + 1], sharex=lane) for i in range(panels)]
    return fig, lane, axes


def _timeline(
    results: Results, point: int | None, score: pd.Series
) -> tuple[Figure, Axes, list[Axes], list[int]]:
    """A figure over simulated time: the event lane, and one panel per chosen sweep point."""
    chosen = choose_points(results, point, score)
    fig, lane, axes = _lane_figure(len(chosen), merged(point_marks(results.scenario, chosen), chosen))
    return fig, lane, axes, chosen


def _finish_timeline(
    results: Results,
    fig: Figure,
    lane: Axes,
    axes: list[Axes],
    chosen: list[int],
    title: str,
    note: str,
) -> None:
    """Weekday-and-hour ticks under the last panel, the title, and the events labelled: each
    panel's from its own point's scenario (a swept event time differs per point), the lane
    naming the points of an event not every panel has."""
    end_h = results.series["t_s"].max() / 3600
    _time_axis(axes[-1], end_h)
    axes[-1].set_xlabel(f"simulated time (weekday and hour; {note})")
    fig.suptitle(title, fontsize=10)
    per_axis = point_marks(results.scenario, chosen)
    _event_lane(fig, lane, axes, merged(per_axis, chosen), end_h, per_axis)


# --- the figures ---------------------------------------------------------------------------


def failure_curve(results: Results, x: str | None = None, average: bool = False) -> Figure:
    """Failure rate against ``x`` (default: the first non-version variable), one series per version.

    Other variables are averaged only if they do not change the failure rate (or
    ``average``); by default those that do become small multiples.
    """
    scenario, summary = results.scenario, results.summary
    variables = results.variables
    if not variables:
        raise NothingToPlot("failure_curve.png skipped: the scenario sweeps no variable")
    version = version_variable(scenario)
    chosen = x
    if x is None:
        x = next((v for v in variables if v != version), version)
    if x not in variables:
        raise NothingToPlot(f"failure_curve.png skipped: {x!r} is not a swept variable")
    hue = version if version not in (None, x) else next((v for v in variables if v != x), None)
    kept = [x, *([hue] if hue else [])]
    others, facets = _averaged(results, kept, average, "failure_curve.png", facets=chosen is None)
    numeric = is_numeric(scenario, x)
    panels = _panels(summary, facets)
    fig = _figure(8 if len(panels) == 1 else 5 * min(len(panels), 2), 4.6 * math.ceil(len(panels) / 2))
    axes = fig.subplots(math.ceil(len(panels) / 2), min(len(panels), 2), squeeze=False).flatten()
    order = list(dict.fromkeys(summary[x].astype(str)))
    markers = "osD^v<>"
    top = float((summary["failure_rate_hi"].fillna(summary["failure_rate_mean"]) * 100).max())
    for ax in axes[len(panels) :]:  # an odd number of panels leaves the grid's last cell empty
        ax.set_visible(False)
    for ax, (title, rows) in zip(axes[: len(panels)], panels, strict=True):
        groups = list(rows.groupby(hue, sort=False)) if hue else [(None, rows)]
        for k, (name, group) in enumerate(groups):
            group = group.assign(_x=group[x].astype(str)).groupby("_x", sort=False).mean(numeric_only=True)
            group = group.reindex([o for o in order if o in group.index])
            mean = group["failure_rate_mean"] * 100
            lo = (group["failure_rate_lo"] * 100).fillna(mean)
            hi = (group["failure_rate_hi"] * 100).fillna(mean)
            label = f"{hue} = {name}" if hue else None
            if numeric:
                positions = [float(o) for o in group.index]
                ax.plot(positions, mean, marker=markers[k % len(markers)], label=label)
                ax.fill_between(positions, lo, hi, alpha=0.2)
            else:
                # Categories: points with interval bars, dodged so equal rates stay visible; no
                # line between them, since nothing lies between two configurations.
                dodge = (k - (len(groups) - 1) / 2) * 0.12
                positions = [order.index(o) + dodge for o in group.index]
                ax.errorbar(
                    positions,
                    mean,
                    yerr=[mean - lo, hi - mean],
                    fmt=markers[k % len(markers)],
                    linestyle="none",
                    capsize=4,
                    markersize=7,
                    label=label,
                )
        if not numeric:
            ax.set_xticks(range(len(order)), order)
            ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_ylim(min(-1.0, -0.04 * top), max(5.0, top * 1.08))
        ax.set_xlabel(x)
        ax.set_ylabel("failure rate (% of recipients)")
        if title:
            ax.set_title(title, fontsize=9)
        if hue:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    n = int(summary["n"].max())
    fig.suptitle(
        f"{scenario.name}: failure rate by {x}{_mean_over(others)}"
        + (f", one panel per {', '.join(facets)}" if facets else "")
        + f"\nmean of {n} replication(s)"
        + (", bars: 95 % interval" if n > 1 else ""),
        fontsize=11,
    )
    return fig


def failure_matrix(results: Results, average: bool = False) -> Figure:
    """Address configuration x version: overall failure rate and outbound Internet failure share."""
    scenario, summary = results.scenario, results.summary
    version = version_variable(scenario)
    others = [v for v in results.variables if v != version]
    if version is None or not others:
        raise NothingToPlot(
            "failure_matrix.png skipped: needs a version variable and an address-configuration variable"
        )
    config = others[0]
    averaged, facets = _averaged(results, [config, version], average, "failure_matrix.png", facets=True)
    kinds = [("failure_rate", "all recipients: failure rate")]
    if "misdelivery_rate_mean" in summary and bool(summary["misdelivery_rate_mean"].fillna(0).gt(0).any()):
        # Loud and silent failures told apart (NDRs; misdeliveries, KB Q176046).
        kinds += [("ndr_rate", "of which NDR'd"), ("misdelivery_rate", "of which misdelivered (silent)")]
    if "internet_failure_rate_mean" in summary:
        kinds.append(("internet_failure_rate", "outbound Internet recipients: share failed"))
    rows = list(dict.fromkeys(summary[config]))
    columns = list(dict.fromkeys(summary[version]))
    panels = _panels(summary, facets)
    fig = _figure(2.5 + 1.6 * len(columns) * len(kinds), (1.4 + 0.75 * len(rows)) * len(panels) + 0.6)
    axes = fig.subplots(len(panels), len(kinds), squeeze=False)
    n = int(summary["n"].max())
    for (facet, subset), row_axes in zip(panels, axes, strict=True):
        cells = subset.groupby([config, version], sort=False).mean(numeric_only=True)
        for ax, (column, title) in zip(row_axes, kinds, strict=True):
            grid = np.full((len(rows), len(columns)), np.nan)
            for i, row in enumerate(rows):
                for j, col in enumerate(columns):
                    if (row, col) not in cells.index:
                        continue
                    cell = cells.loc[(row, col)]
                    grid[i, j] = cell[f"{column}_mean"]
                    text = "-" if math.isnan(grid[i, j]) else f"{grid[i, j]:.1%}"
                    lo, hi = cell.get(f"{column}_lo", np.nan), cell.get(f"{column}_hi", np.nan)
                    if n > 1 and not math.isnan(lo):
                        text += f"\n[{lo:.1%}, {hi:.1%}]"
                    color = "white" if grid[i, j] > 0.6 else "black"
                    ax.text(j, i, text, ha="center", va="center", fontsize=9, color=color)
            ax.imshow(np.nan_to_num(grid) * 100, cmap="Reds", vmin=0, vmax=100, aspect="auto")
            ax.set_xticks(range(len(columns)), columns)
            ax.set_yticks(range(len(rows)), rows)
            ax.set_xlabel(version)
            ax.set_ylabel(config)
            ax.set_title(f"{title}" + (f"\n{facet}" if facet else ""), fontsize=9)
    fig.suptitle(
        f"{scenario.name}: failed recipients by {config} and {version}{_mean_over(averaged)}\n"
        f"mean of {n} replication(s)" + ("; 95 % interval below each rate" if n > 1 else ""),
        fontsize=11,
    )
    return fig


def _stack_columns(series: pd.DataFrame) -> list[tuple[str, str, bool]]:
    """(column, legend label, is misdelivery) for each layer of the rollout stack."""
    layers = [(c, f"NDRs from {c.removeprefix('ndr_by_')}", False) for c in series if c.startswith("ndr_by_")]
    if not layers and "ndr" in series:
        layers = [("ndr", "NDRs (generator not recorded)", False)]
    misdelivered = [c for c in series if c.startswith("misdelivered_by_")]
    layers += [(c, f"misdelivered at {c.removeprefix('misdelivered_by_')}", True) for c in misdelivered]
    if not misdelivered and "misdelivered" in series:
        layers.append(("misdelivered", "misdelivered (all servers)", True))
    return layers


def rollout(results: Results, point: int | None = None) -> Figure:
    """NDRs (and misdeliveries) per hour, stacked by generating server, with the timed events."""
    scenario, series = results.scenario, results.series
    if series.empty:
        raise NothingToPlot("rollout.png skipped: no time series in the results")
    layers = _stack_columns(series)
    totals = series.groupby("point")[[c for c, _, _ in layers]].sum().sum(axis=1)
    if not totals.any():
        raise NothingToPlot("rollout.png skipped: no recipient failed at any sweep point (nothing to stack)")
    fig, lane, axes, chosen = _timeline(results, point, totals)
    step_h = (series["t_s"].drop_duplicates().sort_values().diff().min() or 3600) / 3600
    colors = dict(zip([c for c, _, m in layers if not m], [f"C{i}" for i in range(10)] * 3, strict=False))
    for ax, p in zip(axes, chosen, strict=True):
        mine = _per_interval_mean(series, p)
        if mine.empty:
            _no_run_panel(ax, results, p, point is None, ax is axes[-1])
            continue
        edges = np.append(mine.index.to_numpy(), mine.index[-1] + step_h * 3600) / 3600
        bottom = np.zeros(len(mine))
        drawn = False
        for column, label, misdelivery in layers:
            if column not in mine or not mine[column].any():
                continue
            values = mine[column].to_numpy() / step_h
            ax.stairs(
                bottom + values,
                edges,
                baseline=bottom,
                fill=True,
                label=label,
                color=colors.get(column, "black"),
                hatch="///" if misdelivery else None,
                alpha=0.85,
            )
            bottom = bottom + values
            drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "no failures at this point", transform=ax.transAxes, ha="center", color="grey")
        ax.set_ylabel("per hour")
        ax.set_title(_point_title(results, p, point is None), fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if drawn:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    n = int(results.summary["n"].max())
    _finish_timeline(
        results,
        fig,
        lane,
        axes,
        chosen,
        f"{scenario.name}: failed recipients per hour, by the server whose component generated "
        f"the NDR (mean of {n} replication(s))",
        "the run starts Monday 00:00",
    )
    return fig


def latency(results: Results) -> Figure:
    """Latency CDF of delivered mail per point, beside each point's failure share."""
    scenario, latency_bins, summary = results.scenario, results.latency, results.summary
    if latency_bins.empty:
        raise NothingToPlot("latency.png skipped: no mail was delivered")
    fig = _figure(11, 4.8)
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    labels = []
    for _, row in summary.iterrows():
        mine = (
            latency_bins[latency_bins["point"] == row["point"]].groupby("upper_s")["count"].sum().sort_index()
        )
        label = f"{int(row['point'])}: {results.point_label(int(row['point']))}"
        labels.append(label)
        if mine.empty:
            continue
        # Wider lines first: a curve identical to a later one still shows around it.
        width = 1.2 + 2.5 * (1 - len(labels) / len(summary))
        left.step(
            mine.index, np.cumsum(mine.values) / mine.values.sum(), where="post", label=label, linewidth=width
        )
    left.set_xscale("log")
    left.set_xlabel("delivery latency (s, log scale)")
    left.set_ylabel("share of delivered recipients")
    left.set_title(
        "delivered mail only: NDR'd, misdelivered and pending mail are not in these curves", fontsize=9
    )
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=7, loc="lower right")
    mean = summary["failure_rate_mean"].to_numpy() * 100
    lo = (summary["failure_rate_lo"] * 100).fillna(pd.Series(mean)).to_numpy()
    hi = (summary["failure_rate_hi"] * 100).fillna(pd.Series(mean)).to_numpy()
    y = np.arange(len(summary))
    right.errorbar(
        mean, y, xerr=[mean - lo, hi - mean], fmt="o", color="tab:red", capsize=3, linestyle="none"
    )
    right.set_yticks(y, labels, fontsize=7)
    right.invert_yaxis()
    right.set_xlim(left=0, right=max(5.0, float(np.nanmax(hi)) * 1.15) if len(hi) else 5.0)
    right.set_xlabel("failure rate (% of recipients)")
    right.set_title("left out of the curves: failed recipients per point", fontsize=9)
    right.grid(alpha=0.3)
    fig.suptitle(f"{scenario.name}: delivery latency per sweep point (delivered mail only)", fontsize=11)
    return fig


def queues(results: Results, point: int | None = None) -> Figure:
    """Messages held per server over time, outages and service stops shaded and labelled."""
    scenario, series = results.scenario, results.series
    columns = [c for c in series.columns if c.startswith("queued_")]
    if series.empty or not columns:
        raise NothingToPlot("queues.png skipped: no queue samples in the results")
    peak = series.groupby("point")[columns].max().max(axis=1)
    if not peak.any():
        raise NothingToPlot("queues.png skipped: no server held any mail at any sample")
    fig, lane, axes, chosen = _timeline(results, point, peak)
    for ax, p in zip(axes, chosen, strict=True):
        mine = _per_interval_mean(series, p)
        if mine.empty:
            _no_run_panel(ax, results, p, point is None, ax is axes[-1])
            continue
        hours = mine.index.to_numpy() / 3600
        for k, column in enumerate(columns):
            # A sample is what a server held at that instant: a point, joined to the next by a
            # straight line. Held as a step over the interval after it, a backlog that built up
            # at 10:40 would seem to start at 11:00 and to last an interval past its end.
            ax.plot(
                hours,
                mine[column],
                marker="o",
                markersize=2.5,
                label=column.removeprefix("queued_"),
                color=f"C{k % 10}",
            )
        ax.set_ylabel("messages held")
        ax.set_title(_point_title(results, p, point is None), fontsize=9, loc="left")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    _finish_timeline(
        results,
        fig,
        lane,
        axes,
        chosen,
        f"{scenario.name}: messages each server holds (store and MTA queues, gateway MTS-OUT and "
        "retry waits; mean over replications)",
        "a dot per sample of what each server held",
    )
    return fig


# --- topology ------------------------------------------------------------------------------


def final_versions(scenario: Scenario) -> dict[str, list[tuple[float, str]]]:
    """Per server, its version at the start and after each upgrade event: [(time_s, version)]."""
    history: dict[str, list[tuple[float, str]]] = {s.name: [(0.0, s.version)] for s in scenario.servers}
    for event in sorted((e for e in scenario.events if e.kind == "upgrade"), key=lambda e: e.at):
        for name in history if event.server == "*" else [event.server]:
            if name in history and history[name][-1][1] != event.version:
                history[name].append((event.at, event.version))
    return history


def swept_settings(scenario: Scenario) -> dict[Location, str]:
    """Per place in the scenario a sweep variable sets (``('servers', 0, 'version')``,
    ``('sites', 1, 'addresses', 'x400')``), what the results show for it:
    ``swept (version): RTM, SP1, SP2`` (the labels, as the summary's rows name the points).

    Each sweep point runs one of these values, so no single value is "the" setting: the
    scenario's own is only what a point that does not set it would run."""
    shown: dict[Location, str] = {}
    for variable in scenario.sweep.variables:
        for location in resolve_path(scenario.raw, variable.path):
            shown[location] = f"swept ({variable.name}): " + ", ".join(sweep_labels(variable))
    return shown


def swept_at(swept: dict[Location, str], location: Location) -> str | None:
    """What :func:`swept_settings` shows for ``location``, also when a sweep sets a table
    holding it (``sites.Redmond.addresses`` sets the X.400 address too); None when unswept."""
    for end in range(len(location), 0, -1):
        if location[:end] in swept:
            return swept[location[:end]]
    return None


def swept_versions(scenario: Scenario) -> dict[str, str]:
    """Per server whose version a sweep variable sets, what the results show for it:
    ``swept (version): RTM, SP1, SP2``."""
    swept = swept_settings(scenario)
    shown = {
        s.name: swept_at(swept, ("servers", index, "version")) for index, s in enumerate(scenario.servers)
    }
    return {name: text for name, text in shown.items() if text is not None}


def sweep_labels(variable: SweepVariable) -> list[str]:
    """How a sweep variable's values are named in tables: its labels, or the values themselves."""
    return variable.labels or [sweep_label(v) for v in variable.values]


def _swept_versions(scenario: Scenario) -> list[str] | None:
    version = version_variable(scenario)
    return [str(v) for v in _variable(scenario, version).values] if version else None


def _server_lines(scenario: Scenario, site: str) -> list[str]:
    history = final_versions(scenario)
    index = next(i for i, s in enumerate(scenario.sites) if s.name == site)
    address = swept_at(swept_settings(scenario), ("sites", index, "addresses", "x400"))
    lines = [f"X.400 site address {address}"] if address else []
    swept = swept_versions(scenario)
    for server in (s for s in scenario.servers if s.site == site):
        if server.name in swept:
            version = swept[server.name]
        else:
            steps = history[server.name]
            version = steps[0][1]
            for at, v in steps[1:]:
                version += f" → {v} ({timestamp(at):%a %H:%M})"
            if len(steps) == 1:
                version += " throughout"
        lines.append(f"{server.name}: {version}")
        for c in scenario.connectors:
            if c.kind in ("ims", "msmail") and c.server == server.name:
                spaces = ", ".join(f"{a.type}:{a.pattern or '(blank)'} ({a.cost})" for a in c.address_spaces)
                lines.append(f"  gateway {c.name}: {spaces}")
    return lines


def _segment_hits_box(p: np.ndarray, q: np.ndarray, box: Bbox) -> bool:
    """Whether the segment p-q (display coordinates) crosses the box (Liang-Barsky clipping)."""
    t0, t1 = 0.0, 1.0
    d = q - p
    for edge_p, edge_q in (
        (-d[0], p[0] - box.x0),
        (d[0], box.x1 - p[0]),
        (-d[1], p[1] - box.y0),
        (d[1], box.y1 - p[1]),
    ):
        if edge_p == 0:
            if edge_q < 0:
                return False
            continue
        t = edge_q / edge_p
        if edge_p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def text_box(text: Text, renderer: RendererBase) -> Bbox:
    """The display extent of a text including its box (what the eye sees as the label)."""
    patch = text.get_bbox_patch()
    if patch is None:
        return text.get_window_extent(renderer)
    text.update_bbox_position_size(renderer)
    return patch.get_window_extent(renderer)


_TOPOLOGY_PARTS: weakref.WeakKeyDictionary[Figure, dict[str, list[Any]]] = weakref.WeakKeyDictionary()


def topology_artists(fig: Figure) -> dict[str, list[Any]]:
    """The topology figure's parts, for checking overlaps: nodes, labels, costs (text) and edges
    (pairs of data points)."""
    return _TOPOLOGY_PARTS[fig]


def topology(results: Results | Scenario) -> Figure:
    """Sites and connectors (costs on the edges), servers with versions and gateway address spaces."""
    scenario = results.scenario if isinstance(results, Results) else results
    graph = nx.MultiGraph()
    for site in scenario.sites:
        graph.add_node(site.name)
    for connector in scenario.connectors:
        if isinstance(connector, LINK_CONNECTORS):
            graph.add_edge(*connector.sites, key=connector.name, kind=connector.kind, cost=connector.cost)
    simple = nx.Graph(graph)
    layout = (
        nx.kamada_kawai_layout(simple)
        if len(graph) > 2 and simple.number_of_edges()
        else nx.circular_layout(graph)
    )
    if len(graph) == 1:
        layout = {next(iter(graph)): np.array([0.0, 0.0])}
    fig = _figure(11, 7) if len(graph) > 2 else _figure(9, 4.5)
    ax = fig.add_subplot()
    ax.axis("off")
    xs = [p[0] for p in layout.values()]
    ys = [p[1] for p in layout.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    ax.set_xlim(min(xs) - 0.55 * span, max(xs) + 0.55 * span)
    ax.set_ylim(min(ys) - 0.45 * span, max(ys) + 0.45 * span)
    edges = []
    pair_count: dict[tuple[str, ...], int] = {}
    for a, b, data in graph.edges(data=True):
        color, style = KIND_STYLE[data["kind"]]
        key = tuple(sorted((a, b)))
        k = pair_count[key] = pair_count.get(key, 0) + 1
        # Parallel connectors between two sites are drawn side by side.
        pa, pb = np.array(layout[a]), np.array(layout[b])
        normal = np.array([-(pb - pa)[1], (pb - pa)[0]])
        normal = normal / (np.linalg.norm(normal) or 1) * 0.03 * span * (k - 1)
        pa, pb = pa + normal, pb + normal
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], color=color, linestyle=style, linewidth=2, zorder=1)
        edges.append((pa, pb, data))
    for kind, (color, style) in KIND_STYLE.items():
        if any(data["kind"] == kind for _, _, data in edges):
            ax.plot([], [], color=color, linestyle=style, label=f"{kind} connector (cost on the line)")
    no_prmd = {
        s.name for s in scenario.sites if s.addresses.x400 and not parse_x400(s.addresses.x400).gdi.has_prmd
    }
    swept = {
        site.name
        for site in scenario.sites
        for v in scenario.sweep.variables
        if v.path in (f"sites.{site.name}.addresses.x400", "sites.*.addresses.x400")
    }
    # A site whose X.400 address changes during the run: coloured as it starts, and when its
    # PRMD comes or goes written under its name.
    changes: dict[str, list[str]] = {}
    for event in sorted((e for e in scenario.events if e.kind == "address_change"), key=lambda e: e.at):
        if event.type == "x400":
            prmd = parse_x400(event.value).gdi.has_prmd
            changes.setdefault(event.site, []).append(
                f"{'p= from' if prmd else 'no p= from'} {timestamp(event.at):%a %H:%M}"
            )
    nodes = []
    for site in scenario.sites:
        x, y = layout[site.name]
        nodes.append(
            ax.text(
                x,
                y,
                "\n".join([site.name, *changes.get(site.name, [])]),
                ha="center",
                va="center",
                fontsize=10,
                fontweight="bold",
                zorder=3,
                bbox={
                    "boxstyle": "round,pad=0.6",
                    "facecolor": "#e0e0e0"
                    if site.name in swept
                    else ("#f4a3a3" if site.name in no_prmd else "#cfe2f3"),
                    "edgecolor": "black",
                },
            )
        )
    start = " at the start" if changes else ""
    ax.scatter(
        [], [], color="#f4a3a3", edgecolors="black", s=80, marker="s", label=f"site address without p={start}"
    )
    ax.scatter(
        [], [], color="#cfe2f3", edgecolors="black", s=80, marker="s", label=f"site address with p={start}"
    )
    if swept:
        ax.scatter([], [], color="#e0e0e0", edgecolors="black", s=80, marker="s", label="site address swept")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    title = f"{scenario.name}: sites, connectors and costs; servers with their version at the start and end"
    if _swept_versions(scenario):
        title += "\n(versions are swept: see the summary for each point)"
    ax.set_title(title, fontsize=10)
    fig.draw_without_rendering()
    renderer = _renderer(fig)
    to_display = ax.transData.transform
    segments = [(to_display(pa), to_display(pb)) for pa, pb, _ in edges]
    taken = [text_box(n, renderer) for n in nodes]
    axes_box = ax.get_window_extent(renderer)

    def free(box: Bbox, skip: int | None = None) -> bool:
        inside = (
            fig.bbox.x0 <= box.x0
            and box.x1 <= axes_box.x1 + 5
            and fig.bbox.y0 <= box.y0
            and box.y1 <= axes_box.y1
        )
        return (
            inside
            and not any(_overlaps(box, other, pad=3) for other in taken)
            and not any(
                _segment_hits_box(p, q, box.expanded(1.05, 1.1))
                for i, (p, q) in enumerate(segments)
                if i != skip
            )
        )

    costs = []
    for i, (pa, pb, data) in enumerate(edges):
        label = ax.text(
            0,
            0,
            str(data["cost"]),
            fontsize=9,
            ha="center",
            va="center",
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": KIND_STYLE[data["kind"]][0], "pad": 1.5},
        )
        for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.75, 0.2, 0.8):
            label.set_position(pa + (pb - pa) * t)
            box = text_box(label, renderer)
            if free(box, skip=i):
                break
        taken.append(text_box(label, renderer))
        costs.append(label)
    labels = []
    for site, node in zip(scenario.sites, nodes, strict=True):
        lines = _server_lines(scenario, site.name)
        if not lines:
            continue
        label = ax.text(
            0,
            0,
            "\n".join(lines),
            fontsize=7,
            ha="center",
            va="top",
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "lightgrey", "alpha": 0.95, "pad": 2},
        )
        node_box = text_box(node, renderer)
        cx, cy = (node_box.x0 + node_box.x1) / 2, (node_box.y0 + node_box.y1) / 2
        to_data = ax.transData.inverted().transform
        best = None
        for distance in range(0, 400, 12):
            for angle in (270, 90, 0, 180, 315, 225, 45, 135, 300, 240, 60, 120, 20, 160, 200, 340):
                rad = math.radians(angle)
                gap_x = math.cos(rad) * (distance + node_box.width / 2)
                gap_y = math.sin(rad) * (distance + node_box.height / 2)
                va: Literal["top", "bottom", "center"] = (
                    "top" if angle > 180 else ("bottom" if 0 < angle < 180 else "center")
                )
                ha: Literal["left", "right", "center"] = (
                    "left"
                    if (angle < 90 or angle > 270) and angle not in (90, 270)
                    else ("right" if 90 < angle < 270 else "center")
                )
                label.set_horizontalalignment(ha)
                label.set_verticalalignment(va)
                x, y = to_data((cx + gap_x, cy + gap_y))
                label.set_position((float(x), float(y)))
                box = text_box(label, renderer)
                if free(box):
                    best = box
                    break
            if best is not None:
                break
        if best is None:  # nowhere free: keep the last position, the test will say so
            best = text_box(label, renderer)
        taken.append(best)
        labels.append(label)
    _TOPOLOGY_PARTS[fig] = {
        "nodes": nodes,
        "costs": costs,
        "labels": labels,
        "edges": [(pa, pb) for pa, pb, _ in edges],
    }
    fig.set_layout_engine("none")  # the placement above measured this layout: keep it
    return fig


# --- all of them ---------------------------------------------------------------------------


def make_figures(
    results: Results, x: str | None = None, average: bool = False, point: int | None = None
) -> dict[str, Figure | str]:
    """Every figure by name, or the one-line reason it was skipped."""
    makers: dict[str, Callable[[], Figure]] = {
        "failure_curve": lambda: failure_curve(results, x, average),
        "failure_matrix": lambda: failure_matrix(results, average),
        "rollout": lambda: rollout(results, point),
        "latency": lambda: latency(results),
        "queues": lambda: queues(results, point),
        "topology": lambda: topology(results),
    }
    made: dict[str, Figure | str] = {}
    for name, make in makers.items():
        if not len(results.runs) and name != "topology":
            # Stopped before its first run ended: only the organization can be drawn, and "no
            # mail was delivered" would read as if a run had happened.
            made[name] = f"{name}.png skipped: no run finished"
            continue
        try:
            made[name] = make()
        except NothingToPlot as exc:
            made[name] = str(exc)
        except AveragingRefused as exc:
            if x is not None:
                raise  # asked for explicitly: the command line refuses
            made[name] = f"{name}.png skipped: {exc}"  # e.g. "failure_curve.png would average ..."
    return made


def plot_results(
    directory: Path, x: str | None = None, average: bool = False, point: int | None = None
) -> list[str]:
    """Write every figure the results support into DIR/plots/; one line per figure (path or why
    skipped)."""
    results = read_results(directory)
    plots = Path(directory) / "plots"
    # Every figure is made before the folder: a figure that cannot be made leaves no empty plots/.
    figures = make_figures(results, x, average, point)
    make_output_dir(plots)
    for name in figures:
        check_output_file(plots / f"{name}.png")  # before the first is written: all or none
    lines = []
    for name, figure in figures.items():
        path = plots / f"{name}.png"
        if isinstance(figure, str):
            path.unlink(missing_ok=True)  # never leave a stale figure behind
            lines.append(figure)
            continue
        write_whole(path, functools.partial(figure.savefig, dpi=DPI, format="png"))
        lines.append(str(path))
    return lines


__all__ = [
    "AveragingRefused",
    "NothingToPlot",
    "choose_points",
    "event_marks",
    "failure_curve",
    "failure_matrix",
    "latency",
    "make_figures",
    "plot_results",
    "queues",
    "rollout",
    "topology",
]
