"""The Python API refuses what the command line refuses, before anything runs or is written.

``exsim run`` refuses ``--replications 0``, ``--workers 0``, ``--seed abc`` and ``--resume`` with
``--force`` in its option parser. ``run_experiment``, ``simulate``, ``load_scenario`` and
``read_results`` get the same values from Python: each is refused with a TypeError (wrong kind)
or ValueError (out of range) naming the argument and what it must be, and no directory is made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exsim.experiment import run_experiment
from exsim.results import read_results
from exsim.scenario import load_scenario, validate_raw
from exsim.sim import simulate
from tests.simkit import mix, one_site


@pytest.fixture
def scenario():
    return validate_raw(one_site(duration="10m", shares=mix(same_server=1.0)))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"replications": 0}, ValueError, "replications must be a whole number >= 1, not 0"),
        ({"replications": -3}, ValueError, "replications must be a whole number >= 1, not -3"),
        ({"replications": 1.7}, TypeError, "replications must be a whole number >= 1, not 1.7"),
        ({"replications": True}, TypeError, "replications must be a whole number >= 1, not True"),
        ({"workers": 0}, ValueError, "workers must be a whole number >= 1, not 0"),
        ({"workers": -1}, ValueError, "workers must be a whole number >= 1, not -1"),
        ({"workers": "2"}, TypeError, "workers must be a whole number >= 1, not '2'"),
        ({"seed": "1"}, TypeError, "seed must be a whole number >= 0, not '1'"),
        ({"seed": True}, TypeError, "seed must be a whole number >= 0, not True"),
        ({"seed": -1}, ValueError, "seed must be a whole number >= 0, not -1"),
        ({"resume": True, "force": True}, ValueError, "resume=True and force=True exclude each other"),
        ({"resume": "no"}, TypeError, "resume must be True or False, not 'no'"),
    ],
)
def test_run_experiment_refuses_what_the_cli_refuses_before_writing(
    scenario, tmp_path, arguments, error, message
):
    out = tmp_path / "rep"
    with pytest.raises(error) as refused:
        run_experiment(scenario, out=out, **{"workers": 1, **arguments})
    assert str(refused.value).startswith(message)
    assert "--" not in str(refused.value)  # the argument, not the CLI's option
    assert not out.exists()


def test_a_whole_count_given_as_numpy_integer_is_accepted(scenario):
    import numpy as np

    experiment = run_experiment(scenario, workers=np.int64(1), replications=np.int64(1), seed=np.int64(4))
    assert len(experiment.runs) == 1


@pytest.mark.parametrize("call", [simulate, run_experiment])
def test_a_path_where_a_scenario_belongs_says_to_load_it(call):
    with pytest.raises(TypeError) as refused:
        call("q166866.toml")
    assert str(refused.value) == (
        "scenario must be a Scenario, not 'q166866.toml': pass load_scenario('q166866.toml'), "
        "which reads and validates the file"
    )


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        ("1", TypeError, "seed must be a whole number >= 0, not '1'"),
        (True, TypeError, "seed must be a whole number >= 0, not True"),
        (2.5, TypeError, "seed must be a whole number >= 0, not 2.5"),
        (-1, ValueError, "seed must be a whole number >= 0, not -1"),
    ],
)
def test_simulate_refuses_a_seed_that_is_not_a_whole_number(scenario, seed, error, message):
    with pytest.raises(error) as refused:
        simulate(scenario, seed=seed)
    assert str(refused.value) == message


def test_read_results_of_a_directory_that_is_not_one_says_so(tmp_path):
    with pytest.raises(FileNotFoundError) as refused:
        read_results(tmp_path / "nodir")
    assert str(refused.value).startswith(f"{tmp_path / 'nodir'}: not a results directory (no scenario.toml)")
    with pytest.raises(TypeError, match=r"^directory must be a path \(a str or a pathlib.Path\), not 42$"):
        read_results(42)


def test_load_scenario_of_a_number_is_not_parsed_as_toml():
    with pytest.raises(
        TypeError, match=r"^path_or_text must be a path \(a str or a pathlib.Path\) or TOML text, not 42$"
    ):
        load_scenario(42)
    assert load_scenario(Path(__file__).parent.parent / "scenarios" / "q166866.toml").name


def test_numpy_counts_and_a_str_tracking_dir_are_taken_as_the_cli_takes_them(scenario, tmp_path):
    # A seed or a count taken from a DataFrame is a numpy integer: accepted as the int it is,
    # and written as one (before: "Object of type 'int64' is not TOML serializable" after the
    # directory was made). A str tracking_dir works as a Path does (before: 'str' / 'str').
    import numpy as np

    out = tmp_path / "np"
    experiment = run_experiment(scenario, workers=1, out=out, seed=np.int64(3), replications=np.uint64(2))
    assert list(experiment.runs["replication"]) == [0, 1]
    assert "seed = 3\n" in (out / "scenario.toml").read_text()
    assert read_results(out).runs["seed"].tolist() == experiment.runs["seed"].tolist()
    folder = tmp_path / "logs"
    simulate(scenario, seed=np.int64(1), tracking_dir=str(folder))
    assert any(folder.rglob("*.log"))
