"""The KB conformance scenarios pass `exsim check`, and a wrong expectation fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from exsim.cli import cli
from exsim.expect import evaluate
from exsim.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS

KB = sorted((SCENARIOS / "kb").glob("*.toml"))


def test_every_article_in_the_table_has_a_scenario_and_back():
    table = (ROOT / "docs" / "kb.md").read_text()
    listed = {
        line.split("]")[0].removeprefix("| [") for line in table.splitlines() if line.startswith("| [Q")
    }
    assert listed == {p.stem for p in KB}
    assert len(listed) == 14


def test_the_readme_counts_the_articles_there_are():
    words = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    count = words.split()[len(KB)].capitalize()
    assert (
        f"{count} Knowledge Base articles that document transport behaviour"
        in (ROOT / "README.md").read_text()
    )


@pytest.mark.parametrize("path", KB, ids=[p.stem for p in KB])
def test_kb_scenario_passes_its_expectations(path: Path):
    scenario = load_scenario(path)
    assert scenario.expect, "a KB scenario without expectations checks nothing"
    assert path.read_text().startswith("# KB "), "each opens with what the article documents"
    lines = evaluate(scenario)
    failed = [str(line) for line in lines if not line.passed]
    assert not failed, "\n".join(failed)


def test_a_wrong_expectation_fails_and_the_command_exits_1(tmp_path):
    text = (SCENARIOS / "kb" / "Q166866.toml").read_text()
    # Claim RTM fails every outbound SMTP recipient: it does not.
    wrong = (
        text
        + """
[[expect]]
name = "deliberately wrong"
kind = "outcome"
point = { version = "5.0", prmd = "without p=", ims = "running" }
metric = "failure_rate"
recipient_class = "internet"
equals = 1.0
"""
    )
    path = tmp_path / "wrong.toml"
    path.write_text(wrong)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    assert (
        "FAIL  deliberately wrong [version=5.0, prmd=without p=, ims=running]: "
        "expected failure_rate of internet = 1; observed 0" in result.output
    )


def test_check_refuses_a_scenario_without_expectations():
    result = CliRunner().invoke(cli, ["check", str(SCENARIOS / "contoso.toml")])
    assert result.exit_code == 2
    assert "no [[expect]] entries" in result.output


def test_the_builds_table_in_the_model_docs_matches_the_defect_table():
    from exsim.versions import DEFECTS

    text = (ROOT / "docs" / "model.md").read_text()
    rows = {
        line.split("|")[1].strip(): line.split("|")[2]
        for line in text.splitlines()
        if line.startswith("| 5.0")
    }
    versions = {"5.0": "5.0 (RTM, 1457)", "5.0-sp1": "5.0 SP1 (1458)", "5.0-sp2": "5.0 SP2 (1460)"}
    for version, label in versions.items():
        listed = {kb for kb in rows[label].replace(",", " ").split() if kb.startswith("Q")}
        assert listed == {d.kb for d in DEFECTS if version in d.versions}, version


def test_mailbox_expectation_counts_deliveries_to_one_mailbox(tmp_path):
    # In Q193322 every recipient is bob@B: all of them must show up as deliveries to bob. A's 10
    # heavy users send 10 x 38.6 x 3 / 24 = 48.25 messages in the 3 hours, each naming bob once
    # (Poisson: 30 is 2.6 standard deviations below).
    text = (
        (SCENARIOS / "kb" / "Q193322.toml").read_text()
        + """
[[expect]]
name = "bob gets mail"
kind = "mailbox"
alias = "bob"
at_least = 30
"""
    )
    path = tmp_path / "bob.toml"
    path.write_text(text)
    lines = [line for line in evaluate(load_scenario(path)) if line.name == "bob gets mail"]
    assert len(lines) == 3, [str(line) for line in lines]
    assert all(line.passed for line in lines), [str(line) for line in lines]
    delivered = [
        line for line in evaluate(load_scenario(path)) if line.name.startswith("everything is delivered")
    ]
    assert all(line.passed for line in delivered)
