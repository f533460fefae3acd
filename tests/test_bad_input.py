"""The bad-input corpus: every malformed scenario gets a clear message and exit 2.

Each file in ``tests/bad_scenarios/`` names the fragment of the message it must
produce in a ``# expect:`` comment (files that cannot carry a comment, the
empty and the binary one, are listed in ``expectations.json``). ``exsim
validate`` and ``exsim run`` must both exit 2 with that fragment, print no
traceback, and leave no results directory behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exsim.cli import cli

CORPUS = Path(__file__).parent / "bad_scenarios"
LISTED = json.loads((CORPUS / "expectations.json").read_text())


def expectation(path: Path) -> str:
    if path.stem in LISTED:
        return LISTED[path.stem]
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            return line.removeprefix("# expect: ")
    raise AssertionError(f"{path.name} has no '# expect:' line")


FILES = sorted(CORPUS.glob("*.toml"))


def test_the_corpus_is_large_enough():
    assert len(FILES) >= 30


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_validate_explains_and_exits_2(path):
    result = invoke("validate", str(path))
    assert result.exit_code == 2, result.output
    assert expectation(path) in result.output
    assert "Traceback" not in result.output
    # Click reports a clean exit(2) as a SystemExit; anything else escaped the CLI's error handling.
    assert isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_run_refuses_without_writing_anything(path, tmp_path):
    out = tmp_path / "results"
    result = invoke("run", str(path), "--out", str(out), "--quiet")
    assert result.exit_code == 2, result.output
    assert expectation(path) in result.output
    assert not out.exists()


def test_line_numbers_point_at_the_problem():
    result = invoke("validate", str(CORPUS / "unknown_site.toml"))
    # The header takes two lines; 'site = "Redmnd"' is on line 12 of the file.
    assert f"{CORPUS / 'unknown_site.toml'}:12: servers[0].site:" in result.output


@pytest.mark.parametrize(("target", "fragment"), [("missing.toml", "no such file"), (".", "is a directory")])
def test_paths_that_are_not_files(target, fragment, tmp_path):
    path = tmp_path / target
    for command in (("validate", str(path)), ("run", str(path), "--out", str(tmp_path / "r"))):
        result = invoke(*command)
        assert result.exit_code == 2
        assert fragment in result.output
    assert not (tmp_path / "r").exists()


def test_long_run_is_allowed_when_asked(tmp_path):
    text = (
        (CORPUS / "duration_too_long.toml")
        .read_text()
        .replace('duration = "73000d"', 'duration = "73000d"\nallow_long = true')
    )
    path = tmp_path / "long.toml"
    path.write_text(text)
    assert invoke("validate", str(path)).exit_code == 0


def test_a_site_connector_schedule_is_refused_by_set_and_by_sweeps(tmp_path):
    # KB Q190022: a site connector is always active. The schema refuses a schedule on one
    # wherever it comes from: the file (the corpus), --set, or a sweep value.
    text = "\n".join(
        line
        for line in (CORPUS / "site_connector_schedule.toml").read_text().splitlines()
        if not line.startswith("schedule")
    )
    plain = tmp_path / "plain.toml"
    plain.write_text(text + "\n")
    assert invoke("validate", str(plain)).exit_code == 0
    out = tmp_path / "r"
    result = invoke(
        "run", str(plain), "--set", 'connectors.AB.schedule="never"', "--out", str(out), "--quiet"
    )
    assert result.exit_code == 2, result.output
    assert "connectors[0].schedule: a site connector cannot be scheduled ('never')" in result.output
    assert 'use an X.400 connector (kind = "x400")' in result.output
    assert not out.exists()
    # "always" says what a site connector is anyway: accepted.
    always = invoke(
        "run", str(plain), "--set", 'connectors.AB.schedule="always"', "--out", str(out), "--quiet"
    )
    assert always.exit_code == 0, always.output
    swept = tmp_path / "swept.toml"
    swept.write_text(
        text + '\n[[sweep.variables]]\nname = "s"\npath = "connectors.AB.schedule"\n'
        'values = ["always", ["20:00-06:00"]]\n'
    )
    lines = swept.read_text().splitlines()
    result = invoke("validate", str(swept))
    assert result.exit_code == 2, result.output
    assert f"{swept}:{len(lines)}: sweep.variables[0].values[1]:" in result.output
    assert "a site connector cannot be scheduled ('20:00-06:00')" in result.output


def test_a_sweep_value_that_moves_a_crash_into_another_is_refused_at_its_line_and_gateway_moves_are_run(
    tmp_path,
):
    # A sweep value is a scenario of its own: one that puts the second crash inside the first's
    # downtime is bad input at validate, at the value's line (exit 2), not an "internal error"
    # when that point is run. The other value (after the restart) is fine.
    base = (CORPUS / "crash_while_down.toml").read_text().replace('at = "30m"', 'at = "50m"')
    swept = tmp_path / "swept.toml"
    swept.write_text(
        base + '\n[[sweep.variables]]\nname = "second"\npath = "events.1.at"\nvalues = ["45m", "20m"]\n'
    )
    result = CliRunner().invoke(cli, ["validate", str(swept)])
    assert result.exit_code == 2, result.output
    line = len(swept.read_text().splitlines())  # the values line
    assert (
        f"{swept}:{line}: sweep.variables[0].values[1]: value '20m' for 'events.1.at' gives events[1].at: "
        "the crash of RED-EX1 at 20m comes while RED-EX1 is still down from its crash at 10m"
    ) in result.output, result.output
    # An IMS stop on the server a sweep moves the IMS away from stops nothing at that point, but
    # matters at the other: accepted, and every point runs (before: "internal error" at run time).
    moved = tmp_path / "moved.toml"
    moved.write_text(
        base.replace("users = 10", 'users = 10\n\n[[servers]]\nname = "RED-EX2"\nsite = "Redmond"\nusers = 5')
        + '\n[[events]]\nkind = "service_stop"\nserver = "RED-EX1"\nservice = "ims"\nstart = "5m"\nend = "8m"\n'
        + '\n[[sweep.variables]]\nname = "host"\npath = "connectors.IMS.server"\nvalues = ["RED-EX1", "RED-EX2"]\n'
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(moved), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    runs = pd.read_csv(out / "runs.csv", keep_default_na=False)
    assert list(runs["host"]) == ["RED-EX1", "RED-EX2"]
    assert (runs["error"] == "").all(), runs["error"].tolist()
