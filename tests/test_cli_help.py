"""The command line teaches itself: every command's --help has an example, and ``exsim --help``
shows each command's summary whole.

The examples are checked, not just found: each one parses as its command's arguments (so
an option renamed in the code cannot leave an example behind), the scenario files it
names exist, and the quick ones (nothing simulated, nothing written) run and exit 0.
"""

from __future__ import annotations

import inspect
import shlex

import pytest
from click.testing import CliRunner

from exsim.cli import cli
from tests.clikit import exsim
from tests.conftest import ROOT

COMMANDS = sorted(cli.commands)
#: Commands whose examples are run whole: they print and exit, simulating and writing nothing.
QUICK = {"validate", "schema", "show", "gwart", "route"}


def help_text(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def examples(text: str) -> list[list[str]]:
    """The example command lines under 'Example:' (each up to a shell redirection)."""
    lines = text.split("Example:", 1)[1].splitlines()[1:]
    found = []
    for line in lines:
        if not line.strip().startswith("exsim"):
            break
        words = shlex.split(line)
        found.append(words[: words.index(">")] if ">" in words else words)
    return found


def test_there_are_commands_to_walk():
    assert {"run", "route", "gwart", "trace", "check", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_has_an_example_that_parses(name):
    text = help_text(name)
    found = examples(text)
    assert found, f"exsim {name} --help shows no example"
    for words in found:
        assert words[:2] == ["exsim", name], words
        # Parsing the arguments checks every option and argument as the command would.
        cli.commands[name].make_context(name, words[2:])
        for word in words[2:]:
            if word.endswith(".toml"):
                assert (ROOT / word).is_file(), f"example names a missing scenario {word}"


@pytest.mark.parametrize("name", sorted(QUICK))
def test_quick_examples_run(name):
    for words in examples(help_text(name)):
        result = exsim(*words[1:], cwd=ROOT)
        assert result.returncode == 0, f"{shlex.join(words)}: {result.stderr}"


def test_no_example_sets_what_its_scenarios_sweep_overwrites():
    # run refuses a --set that a sweep variable overwrites at every point: an example doing it
    # would be refused (run's once set the version that Q166866.toml sweeps).
    from exsim.scenario import load_scenario
    from exsim.scenario.paths import split_assignment
    from exsim.scenario.sweep import swept_setting

    checked = 0
    for name in COMMANDS:
        for words in examples(help_text(name)):
            settings = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "--set"]
            files = [word for word in words if word.endswith(".toml")]
            for file in files if settings else []:
                paths = [split[0] for setting in settings if (split := split_assignment(setting))]
                assert swept_setting(load_scenario(ROOT / file), paths) is None, shlex.join(words)
                checked += 1
    assert checked


def test_the_top_level_help_has_an_example():
    assert examples(help_text())


def test_command_summaries_are_whole():
    text = help_text()
    listing = " ".join(text.split("Commands:", 1)[1].split())
    for name in COMMANDS:
        summary = " ".join(inspect.cleandoc(cli.commands[name].help or "").split("\n\n")[0].split())
        assert summary, f"exsim {name} has no summary"
        assert f"{name} {summary}" in listing, f"exsim --help cuts the summary of {name}"
    assert "..." not in listing
