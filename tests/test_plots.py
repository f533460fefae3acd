"""Figures: each drawn from a real results directory, each checked for saying what it shows."""

from __future__ import annotations

import itertools
import os
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest

from exsim import load_scenario, plots
from exsim.experiment import run_experiment
from exsim.results import read_results
from exsim.scenario import validate_raw
from tests.clikit import exsim
from tests.conftest import SCENARIOS
from tests.simkit import one_site
from tests.stall import run

#: two_ims: version x redmond x dublin; point 3 = SP1, neither site with p= (the most failures).
WORST = 3


@pytest.fixture(scope="module")
def results(two_ims_results):
    return read_results(two_ims_results)


@pytest.fixture(scope="module")
def plotted(two_ims_results):
    """``exsim plot DIR --x version --average`` run once: drawing and saving every figure is the
    expensive part, and both the figure test and the averaging test need a run of it."""
    return exsim("plot", str(two_ims_results), "--x", "version", "--average")


def test_every_figure_is_a_figure_and_plot_results_saves_each(plotted, two_ims_results):
    assert plotted.returncode == 0, plotted.stderr
    # One line per figure, each a saved path: none was skipped, and each was a Figure (savefig).
    expected = [str(two_ims_results / "plots" / f"{n}.png") for n in plots.FIGURES]
    assert plotted.stdout.splitlines() == expected
    for name in plots.FIGURES:
        image = mpimg.imread(two_ims_results / "plots" / f"{name}.png")
        assert image.shape[0] > 300
        assert image.shape[1] > 500


def test_a_figure_shows_itself_in_a_notebook(results):
    png = plots.latency(results)._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def test_importing_the_plots_chooses_no_backend():
    code = "import matplotlib, exsim.plots, exsim.report; print(matplotlib.rcParams._get_backend_or_none())"
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = run([sys.executable, "-c", code], env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"  # still unresolved: a notebook's inline backend can win


def test_ndrs_are_counted_per_generating_server(results):
    series = results.series
    by_server = [c for c in series if c.startswith("ndr_by_")]
    assert sorted(by_server) == ["ndr_by_DUB-EX1", "ndr_by_RED-EX1"]
    assert (series[by_server].fillna(0).sum(axis=1) == series["ndr"]).all()
    per_point = series.groupby("point")[by_server].sum()
    # Dublin without p= on SP1 (points 1, 3): DUB-EX1 returns Dublin's Internet mail; Redmond
    # without p= (points 2, 3): RED-EX1 returns Redmond's. SP2 (points 4-7) returns nothing.
    assert (per_point.loc[[1, 3], "ndr_by_DUB-EX1"] > 0).all()
    assert (per_point.loc[[2, 3], "ndr_by_RED-EX1"] > 0).all()
    assert per_point.loc[[0, 2, 4, 5, 6, 7], "ndr_by_DUB-EX1"].fillna(0).eq(0).all()
    assert per_point.loc[[0, 1, 4, 5, 6, 7], "ndr_by_RED-EX1"].fillna(0).eq(0).all()


def test_rollout_names_the_point_with_most_failures_and_stacks_each_server(results):
    assert results.summary.set_index("point")["ndr_mean"].idxmax() == WORST
    figure = plots.rollout(results)
    panels = [ax for ax in figure.axes if ax.get_title(loc="left")]
    assert len(panels) == 1
    assert panels[0].get_title(loc="left") == (
        f"point {WORST} (version=5.0-sp1, redmond=without p=, dublin=without p=; the point with the most failures)"
    )
    legend = [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert legend == ["NDRs from DUB-EX1", "NDRs from RED-EX1"]
    # A named point is drawn instead.
    other = plots.rollout(results, point=1)
    assert [ax.get_title(loc="left") for ax in other.axes if ax.get_title(loc="left")] == [
        "point 1 (version=5.0-sp1, redmond=with p=, dublin=without p=)"
    ]


def test_timed_events_are_labelled_without_overlap(results):
    figure = plots.queues(results)
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    lane = figure.axes[0]
    labels = {t.get_text().strip(): plots.text_box(t, renderer) for t in lane.texts}
    assert set(labels) == {"IMS down", "RED-EX2 MTA stopped"}
    for a, b in itertools.combinations(labels.values(), 2):
        assert not a.overlaps(b)
    # The time axis reads in weekday and hour.
    ticks = [t.get_text() for t in figure.axes[-1].get_xticklabels()]
    assert ticks[0] == "Mon 00:00"
    assert all(t.startswith("Mon ") for t in ticks)


def test_event_labels_of_the_rollout_week_do_not_overlap():
    scenario = load_scenario(SCENARIOS / "rollout.toml")
    marks = plots.event_marks(scenario)
    assert [m.label for m in marks][:2] == ["SP1 on RED-EX1", "SP1 on RED-EX2"]
    figure, lane, axes = plots._lane_figure(1, marks)
    plots._event_lane(figure, lane, axes, marks, scenario.run.duration / 3600)
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    boxes = [plots.text_box(t, renderer) for t in lane.texts]
    assert len(boxes) == len(marks)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def test_a_figure_with_nothing_to_show_is_skipped_with_a_reason(tmp_path):
    run_experiment(validate_raw(one_site(duration="30m", version="5.0")), workers=1, out=tmp_path)
    results = read_results(tmp_path)
    with pytest.raises(plots.NothingToPlot, match=r"rollout\.png skipped: no recipient failed"):
        plots.rollout(results)
    made = plots.plot_results(tmp_path)
    assert made[0] == "failure_curve.png skipped: the scenario sweeps no variable"
    assert made[2].startswith("rollout.png skipped")
    assert not (tmp_path / "plots" / "rollout.png").exists()


def test_categorical_variables_are_points_with_bars_never_lines(results):
    figure = plots.failure_curve(results, x="dublin", average=True)
    ax = figure.axes[0]
    assert figure.get_suptitle().startswith("small: failure rate by dublin (mean over redmond)")
    for line in ax.lines:
        assert len(line.get_xdata()) <= 1 or line.get_linestyle() == "None"
    # Each marker is the mean of the summary rows it stands for (hand-computed from summary.csv).
    summary = results.summary
    expected = summary.groupby(["version", "dublin"])["failure_rate_mean"].mean() * 100
    markers = [line for line in ax.lines if line.get_marker() not in ("", "None", "_")]
    drawn = sorted(float(y) for line in markers for y in line.get_ydata())
    assert np.allclose(drawn, sorted(expected.to_numpy()))


def test_averaging_over_a_variable_that_changes_the_rate_is_refused(results, two_ims_results, plotted):
    assert plots.changes_failure_rate(results.summary, "dublin", ["version", "redmond"])
    assert not plots.changes_failure_rate(
        results.summary[results.summary["version"] == "5.0-sp2"], "dublin", ["version", "redmond"]
    )
    with pytest.raises(plots.AveragingRefused, match="average over dublin"):
        plots.failure_curve(results, x="version")
    command = ["plot", str(two_ims_results), "--x", "version"]
    refused = exsim(*command)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("--x version: failure_curve.png would average over dublin")
    assert "--average" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert plotted.returncode == 0, plotted.stderr  # the same command with --average draws


def test_failure_matrix_shows_outbound_share_and_intervals(results):
    figure = plots.failure_matrix(results, average=True)
    overall, outbound = figure.axes[:2]
    assert "mean over dublin" in figure.get_suptitle()
    assert outbound.get_title() == "outbound Internet recipients: share failed"
    summary = results.summary
    # Cell (redmond=without p=, version=5.0-sp1) of each panel, averaged over dublin by hand.
    cell = summary[(summary["redmond"] == "without p=") & (summary["version"] == "5.0-sp1")]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in overall.texts}
    assert texts[(1, 0)].split("\n")[0] == f"{cell['failure_rate_mean'].mean():.1%}"
    assert texts[(1, 0)].split("\n")[1].startswith("[")  # n = 2: the interval is shown
    out_texts = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in outbound.texts
    }
    assert out_texts[(1, 0)].split("\n")[0] == f"{cell['internet_failure_rate_mean'].mean():.1%}"


def test_latency_says_delivered_only_and_shows_each_points_failure_share(results):
    figure = plots.latency(results)
    curves, failures = figure.axes[:2]
    assert curves.get_title().startswith("delivered mail only")
    drawn = next(line for line in failures.lines if line.get_marker() == "o").get_xdata()
    assert np.allclose(drawn, results.summary["failure_rate_mean"] * 100)


def _segment_crosses(p, q, box) -> bool:
    """Sampled independently of the placement code: any point of p-q inside the box."""
    return any(box.contains(*(p + (q - p) * t)) for t in np.linspace(0, 1, 400))


@pytest.mark.parametrize("name", ["rollout.toml", "contoso.toml", "faults.toml", "q166866.toml"])
def test_topology_labels_overlap_no_node_edge_or_cost(name):
    scenario = load_scenario(SCENARIOS / name)
    figure = plots.topology(scenario)
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    parts = plots.topology_artists(figure)
    ax = figure.axes[0]
    edges = [(ax.transData.transform(a), ax.transData.transform(b)) for a, b in parts["edges"]]
    nodes = [t.get_bbox_patch().get_window_extent(renderer) for t in parts["nodes"]]
    costs = [t.get_bbox_patch().get_window_extent(renderer) for t in parts["costs"]]
    labels = [t.get_bbox_patch().get_window_extent(renderer) for t in parts["labels"]]
    assert len(nodes) == len(scenario.sites)
    assert len(costs) == len(edges)
    for label in labels:
        assert not any(label.overlaps(other) for other in nodes + costs)
        assert not any(_segment_crosses(p, q, label) for p, q in edges)
    for a, b in itertools.combinations(labels, 2):
        assert not a.overlaps(b)
    for i, cost in enumerate(costs):
        assert not any(cost.overlaps(node) for node in nodes)
        assert not any(_segment_crosses(p, q, cost) for j, (p, q) in enumerate(edges) if j != i)


def test_topology_shows_gateway_address_spaces_and_versions_at_the_end():
    scenario = load_scenario(SCENARIOS / "rollout.toml")
    text = "\n".join(t.get_text() for t in plots.topology_artists(plots.topology(scenario))["labels"])
    assert "SMTP:* (1)" in text
    # Tokyo's server: RTM, SP1 on Wednesday evening, SP2 on Saturday noon (scenarios/rollout.toml).
    line = next(line for line in text.splitlines() if line.startswith("TOK-EX1"))
    assert line.startswith("TOK-EX1: 5.0 → 5.0-sp1 (Wed")
    assert line.endswith("→ 5.0-sp2 (Sat 12:00)")
    history = plots.final_versions(scenario)
    assert history["RED-EX1"][-1][1] == "5.0-sp1"
    # Dublin starts without p= (coloured so) and gains it on Thursday at noon: said under its name.
    figure = plots.topology(scenario)
    nodes = {t.get_text().split("\n")[0]: t.get_text() for t in plots.topology_artists(figure)["nodes"]}
    assert nodes["Dublin"] == "Dublin\np= from Thu 12:00"
    assert nodes["Tokyo"] == "Tokyo"
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "site address without p= at the start" in legend


def test_queues_draw_every_server_that_holds_mail(results):
    figure = plots.queues(results)
    panel = next(ax for ax in figure.axes if ax.get_title(loc="left"))
    drawn = {line.get_label() for line in panel.lines}
    assert drawn == {"RED-EX1", "RED-EX2", "DUB-EX1"}
    series = results.series[results.series["point"] == WORST]
    peak = series.groupby("t_s")["queued_RED-EX1"].mean().max()
    line = next(line for line in panel.lines if line.get_label() == "RED-EX1")
    assert max(line.get_ydata()) == pytest.approx(peak)
    # Each sample is a point at its own time, joined to the next, not held over the interval
    # after it (a step would show a backlog one interval late and one interval too long).
    times = sorted(series["t_s"].unique())
    assert list(line.get_xdata()) == pytest.approx([t / 3600 for t in times])
    assert line.get_drawstyle() == "default"
    assert line.get_marker() == "o"


def test_by_default_a_variable_that_changes_the_rate_gets_a_panel_per_value(results):
    curve = plots.failure_curve(results)
    assert "failure rate by redmond, one panel per dublin" in curve.get_suptitle()
    titles = [ax.get_title() for ax in curve.axes if ax.get_visible()]
    assert titles == ["dublin=with p=", "dublin=without p="]
    matrix = plots.failure_matrix(results)
    assert [ax.get_title().split("\n")[1] for ax in matrix.axes] == [
        "dublin=with p=",
        "dublin=with p=",
        "dublin=without p=",
        "dublin=without p=",
    ]


def swept_crash(tmp_path):
    """one_site, 1 h plus 1 h drain: RED-EX2's MTA stopped 5m-15m, RED-EX1 crashed (20 min),
    the crash's time swept over 10m, 25m and 40m (the file says 5m)."""
    raw = one_site(duration="1h")
    raw["run"]["time_series_interval"] = "5m"
    raw["events"] = [
        {"kind": "service_stop", "server": "RED-EX2", "service": "mta", "start": "5m", "end": "15m"},
        {"kind": "crash", "server": "RED-EX1", "at": "5m", "restart_after": "20m"},
    ]
    raw["sweep"] = {
        "variables": [{"name": "crash_at", "path": "events.1.at", "values": ["10m", "25m", "40m"]}]
    }
    run_experiment(validate_raw(raw), workers=1, out=tmp_path)
    return read_results(tmp_path)


def spans(ax) -> list[tuple[float, float]]:
    """The shaded spans of a panel, in hours (axvspan draws a rectangle from x0 to x1)."""
    return sorted(
        (round(p.get_x(), 4), round(p.get_x() + p.get_width(), 4))
        for p in ax.patches
        if hasattr(p, "get_width") and p.get_height() == 1  # in axes fraction: the full height
    )


def test_each_panel_shades_its_own_points_swept_event_time(tmp_path):
    results = swept_crash(tmp_path)
    figure = plots.queues(results)
    panels = [ax for ax in figure.axes if ax.get_title(loc="left").startswith("point")]
    assert [ax.get_title(loc="left") for ax in panels] == [
        "point 0 (crash_at=10m)",
        "point 1 (crash_at=25m)",
        "point 2 (crash_at=40m)",
    ]
    stop = (5 / 60, 15 / 60)  # the same at every point
    for ax, at in zip(panels, (10, 25, 40), strict=True):
        crash = (round(at / 60, 4), round((at + 20) / 60, 4))  # the point's own time, 20 min long
        assert spans(ax) == sorted([tuple(round(x, 4) for x in stop), crash])
    # The lane names the points of each crash; the stop, common to all, once without a point.
    labels = sorted(t.get_text().strip() for t in figure.axes[0].texts)
    assert labels == [
        "RED-EX1 crashed (point 0)",
        "RED-EX1 crashed (point 1)",
        "RED-EX1 crashed (point 2)",
        "RED-EX2 MTA stopped",
    ]
