"""The result columns are named once (exsim/columns.py); the run rows, the summaries and the
``outcome`` expectation's metrics all take them from there."""

from __future__ import annotations

import json

import pytest

from exsim.columns import (
    BOOK_COLUMNS,
    COUNT_COLUMNS,
    INTERVAL_COLUMNS,
    OUTCOME_METRICS,
    RUN_COLUMNS,
    is_reserved_column,
)
from exsim.experiment import run_experiment
from exsim.metrics import Outcomes
from exsim.scenario import validate_raw
from exsim.scenario.schema import OutcomeExpectation
from exsim.sim import simulate
from tests.simkit import mix, one_site

# PRODUCT.md's runs.csv contract, written out here by hand.
CONTRACT = [
    "recipients",
    "delivered",
    "misdelivered",
    "ndr",
    "pending",
    "failure_rate",
    "ndr_rate",
    "misdelivery_rate",
    "latency_p50_s",
    "latency_p95_s",
]


def test_a_runs_rows_and_summary_carry_the_named_columns():
    raw = one_site(duration="1h", shares=mix(same_server=0.5, internet=0.5))
    experiment = run_experiment(validate_raw(raw), workers=1, replications=2)
    columns = list(experiment.runs.columns)
    start = columns.index("seed") + 1
    assert columns[start : start + len(CONTRACT)] == CONTRACT
    assert list(BOOK_COLUMNS) == CONTRACT
    summary = set(experiment.summary.columns)
    for column in ("recipients", "delivered", "misdelivered", "ndr", "pending", "lost", "unreported_ndr"):
        assert f"{column}_mean" in summary
        assert f"{column}_lo" not in summary  # counts are summarised by their mean alone
    for column in ("failure_rate", "ndr_rate", "misdelivery_rate", "latency_p50_s", "latency_p95_s"):
        assert {f"{column}_mean", f"{column}_lo", f"{column}_hi"} <= summary
    assert set(COUNT_COLUMNS) | set(INTERVAL_COLUMNS) >= set(CONTRACT)


def test_a_runs_row_starts_with_the_columns_every_run_has():
    # Validating a sweep checks its names against RUN_COLUMNS without importing the simulator;
    # a run's own row must agree with that list, name for name and in order.
    raw = one_site(duration="1h", shares=mix(same_server=0.5, internet=0.5))
    row = simulate(validate_raw(raw), seed=1).row()
    assert list(row)[: len(RUN_COLUMNS)] == list(RUN_COLUMNS)
    assert [c for c in row if not is_reserved_column(c)] == []


def test_every_outcome_metric_but_the_delivery_rate_is_a_count_or_rate_of_the_books():
    books = Outcomes(recipients=10, delivered=6, misdelivered=1, ndr=2, lost=1, unreported_ndr=1)
    expected = {
        "recipients": 10,
        "delivered": 6,
        "misdelivered": 1,
        "ndr": 2,
        "pending": 1,
        "lost": 1,
        "unreported_ndr": 1,
        "failure_rate": 0.3,
        "ndr_rate": 0.2,
        "misdelivery_rate": 0.1,
    }
    assert set(OUTCOME_METRICS) == {*expected, "delivery_rate"}
    for metric, value in expected.items():
        assert getattr(books, metric) == pytest.approx(value), metric


def test_the_schema_accepts_the_metrics_and_refuses_others():
    base = {"name": "x", "kind": "outcome", "at_most": 1}
    for metric in OUTCOME_METRICS:
        assert OutcomeExpectation.model_validate({**base, "metric": metric}).metric == metric
    with pytest.raises(ValueError, match="delivery_rate"):
        OutcomeExpectation.model_validate({**base, "metric": "failures"})
    enum = OutcomeExpectation.model_json_schema()["properties"]["metric"]["enum"]
    assert enum == list(OUTCOME_METRICS)


def test_a_sweep_column_holds_numbers_without_labels_as_numbers(tmp_path):
    # users is swept over numbers, a flag (Use Lowest Cost Routes Only) over true/false, the
    # version over strings with labels: summary[summary.users == 5] must find the rows in memory
    # as it does in a summary.csv read back with pandas; true/false stay text as the scenario
    # writes them (and the CSV files hold them), labels stay what the tables show.
    import pandas as pd

    raw = one_site(duration="30m", shares=mix(same_server=1.0))
    raw["sweep"] = {
        "variables": [
            {"name": "users", "path": "servers.*.users", "values": [5, 7]},
            {"name": "lowest", "path": "model.lowest_cost_routes_only", "values": [False, True]},
            {
                "name": "version",
                "path": "servers.*.version",
                "values": ["5.0", "5.0-sp1"],
                "labels": ["RTM", "SP1"],
            },
        ],
        "constraint": "users == 5 or lowest",
    }
    experiment = run_experiment(validate_raw(raw), workers=1, replications=1, out=tmp_path / "out")
    expected = [
        (5, "false", "RTM"),
        (5, "false", "SP1"),
        (5, "true", "RTM"),
        (5, "true", "SP1"),
        (7, "true", "RTM"),
        (7, "true", "SP1"),
    ]
    for frame in (experiment.runs, experiment.summary):
        assert list(frame[["users", "lowest", "version"]].itertuples(index=False, name=None)) == expected
        assert len(frame[frame.users == 7]) == 2
    read_back = pd.read_csv(tmp_path / "out" / "summary.csv", dtype={"lowest": str})
    assert list(read_back[["users", "lowest", "version"]].itertuples(index=False, name=None)) == expected
    points = json.loads((tmp_path / "out" / "summary.json").read_text())["points"]
    assert [(p["users"], p["lowest"], p["version"]) for p in points] == expected
