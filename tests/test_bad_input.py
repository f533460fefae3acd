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
