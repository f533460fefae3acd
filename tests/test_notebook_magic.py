"""``%exsim`` (exsim/notebook.py): the command line run in the notebook's own process prints what the
installed console script prints, and a command that fails raises."""

from __future__ import annotations

import builtins
import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from exsim.notebook import CommandFailed, Output, exsim_magic
from tests.stall import run

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = ROOT / "scenarios" / "contoso.toml"
# A --set whose path has spaces and parentheses and whose value has double quotes and braces: the
# magic splits its line as a shell does, so it takes the quoting `!exsim` would.
SPACE = 'connectors.Site Connector (Dublin).address_spaces=[{type="SMTP", pattern="*.example.org", cost=1, site="Dublin"}]'

COMMANDS = {
    # a table (drawn by the command line's plain writer, or by rich), a story, and JSON
    "gwart-set": ["gwart", str(CONTOSO), "--site", "Dublin", "--set", SPACE],
    "route": ["route", str(CONTOSO), "--from", "PAR-EX1", "--to", "someone@x.example.org"],
    "gwart-json": ["gwart", str(CONTOSO), "--site", "Redmond", "--site", "Tokyo", "--json"],
}


class ZMQInteractiveShell:
    """What rich's and exsim's printers look for to tell that they run in a notebook's kernel:
    ``get_ipython()`` in the builtins, returning an object of this class name."""


@pytest.fixture(params=[False, True], ids=["python", "kernel"])
def where(request, monkeypatch) -> str:
    """The magic called in plain Python, and as in a Jupyter kernel (``get_ipython`` about)."""
    if request.param:
        monkeypatch.setattr(builtins, "get_ipython", ZMQInteractiveShell, raising=False)
    return "kernel" if request.param else "python"


def console(args: list[str]):
    script = shutil.which("exsim", path=str(Path(sys.executable).parent))
    assert script is not None, "the exsim console script is not installed next to this Python"
    return run([script, *args])


#: A command that fails: an unknown server is bad input (exit code 2, a one-line message).
FAILING = ["route", str(CONTOSO), "--from", "NO-SUCH-SERVER", "--to", "BJones"]


@pytest.fixture(scope="module")
def printed() -> dict:
    """What the installed console script printed for each command, in processes of its own (once
    for the module: the magic is compared with them in plain Python and as in a kernel)."""
    return {name: console(args) for name, args in [*COMMANDS.items(), ("failing", FAILING)]}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_magic_gives_what_the_console_script_prints(name, printed, where, capsys):
    expected = printed[name]
    assert expected.returncode == 0, expected.stderr
    value = exsim_magic(shlex.join(COMMANDS[name]))
    assert isinstance(value, Output)
    assert value == expected.stdout
    assert capsys.readouterr().err == expected.stderr  # the command's standard error, as a shell shows it
    if name == "gwart-json":
        assert set(json.loads(value)) == {"Redmond", "Tokyo"}
    if name == "gwart-set":  # the quoted --set arrived whole: gwart says why it ignores the space
        assert "Ignored: SMTP:*.example.org on Dublin's end of Site Connector (Dublin)" in value


def test_a_failing_command_raises_with_its_exit_code_and_message(printed, where, capsys):
    args = FAILING
    expected = printed["failing"]
    assert expected.returncode == 2  # bad input: a one-line message, exit code 2
    assert expected.stderr.count("\n") == 1
    with pytest.raises(CommandFailed) as failed:
        exsim_magic(shlex.join(args))
    assert failed.value.returncode == 2
    assert failed.value.cmd == ["exsim", *args]
    assert failed.value.stderr == expected.stderr
    assert str(failed.value).endswith(expected.stderr.rstrip())  # the traceback says what was wrong
    assert capsys.readouterr().err == expected.stderr


def test_the_value_shows_as_the_text_itself():
    from IPython.lib.pretty import pretty

    assert pretty(Output("a 'table'\nline two\n")) == "a 'table'\nline two"
