"""Figures: each one written from a real results directory."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.image as mpimg

from exsim.experiment import run_experiment
from exsim.plots import plot_results
from exsim.scenario import validate_raw
from tests.simkit import mix, one_site


def test_every_figure_is_written_for_a_swept_scenario(tmp_path):
    raw = one_site(duration="2h", shares=mix(same_server=0.5, internet=0.5))
    raw["events"] = [
        {"kind": "service_stop", "server": "RED-EX2", "service": "mta", "start": "30m", "end": "1h"}
    ]
    raw["sweep"] = {
        "variables": [
            {"name": "version", "path": "servers.*.version", "values": ["5.0", "5.0-sp1"]},
            {
                "name": "prmd",
                "path": "sites.Redmond.addresses.x400",
                "values": ["c=US;a= ;p=Contoso;o=Redmond", "c=US;a= ;o=Redmond"],
                "labels": ["with p=", "without p="],
            },
        ]
    }
    run_experiment(validate_raw(raw), workers=1, out=tmp_path, replications=2)
    made = plot_results(tmp_path)
    names = ["failure_curve", "failure_matrix", "rollout", "latency", "queues", "topology"]
    assert made == [str(tmp_path / "plots" / f"{n}.png") for n in names]
    for name in names:
        image = mpimg.imread(tmp_path / "plots" / f"{name}.png")
        assert image.shape[0] > 300
        assert image.shape[1] > 500


def test_figures_that_do_not_apply_are_skipped_with_a_reason(tmp_path):
    run_experiment(validate_raw(one_site(duration="1h")), workers=1, out=tmp_path)
    made = plot_results(tmp_path)
    assert made[0] == "failure_curve.png skipped: the scenario sweeps no variable"
    assert made[1].startswith("failure_matrix.png skipped")
    assert not (tmp_path / "plots" / "failure_curve.png").exists()


def test_plot_command_refuses_a_directory_that_is_not_results(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "exsim", "plot", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "not a results directory" in result.stderr
