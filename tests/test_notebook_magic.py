"""``%exsim`` (exsim/notebook.py): the command line run in the notebook's own process prints what the
installed console script prints, and a command that fails raises."""

from __future__ import annotations

import builtins
import json
import os
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


@pytest.mark.parametrize("ending", [";", " ;", "  # the route, hop by hop", "; # a site's route"])
def test_a_hiding_semicolon_and_a_comment_are_not_arguments(printed, ending):
    # IPython hands the magic its whole line, `;` and comment included (it hides the value of a
    # line whose last Python token is `;` by itself); a shell would drop the comment too.
    value = exsim_magic(shlex.join(COMMANDS["route"]) + ending)
    assert value == printed["route"].stdout


def test_a_hash_inside_a_word_or_quotes_is_not_a_comment(tmp_path, capsys):
    # As in a shell: only a `#` that starts a word begins a comment.
    with pytest.raises(CommandFailed) as failed:
        exsim_magic(f"validate {tmp_path}/a#b.toml '# not a comment.toml'")
    assert failed.value.cmd == ["exsim", "validate", f"{tmp_path}/a#b.toml", "# not a comment.toml"]
    err = capsys.readouterr().err
    assert "a#b.toml: no such file" in err
    assert "# not a comment.toml: no such file" in err


def test_a_line_that_cannot_be_split_fails_as_bad_usage_without_running(capsys, monkeypatch):
    from exsim import notebook

    monkeypatch.setattr(notebook, "run_command", lambda *a, **k: pytest.fail("ran a command"))
    with pytest.raises(CommandFailed) as failed:
        exsim_magic(f'validate "{CONTOSO}')
    assert failed.value.returncode == 2
    assert capsys.readouterr().err == f'%exsim: No closing quotation: validate "{CONTOSO}\n'


def test_a_failing_command_shows_what_it_printed_first_and_a_one_line_error(tmp_path, capsys):
    with pytest.raises(CommandFailed) as failed:
        exsim_magic(f"validate {CONTOSO} {tmp_path}/missing.toml")
    out, err = capsys.readouterr()
    assert out == f"{CONTOSO}: valid (5 sites, 6 servers, 8 connectors)\n"  # before the failure
    assert err.startswith(f"{tmp_path}/missing.toml: no such file\n")
    # IPython shows this instead of a traceback into exsim.notebook: the message is just above.
    assert failed.value._render_traceback_() == [
        f"CommandFailed: `exsim validate {CONTOSO} {tmp_path}/missing.toml` exited with code 2"
    ]


def test_the_value_has_no_escape_codes_where_a_kernel_forces_colour(printed, monkeypatch):
    # A Jupyter kernel sets FORCE_COLOR; the value is text to read, as into a pipe.
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("CLICOLOR_FORCE", "1")
    value = exsim_magic(shlex.join(COMMANDS["gwart-set"]))
    assert value == printed["gwart-set"].stdout
    assert os.environ["FORCE_COLOR"] == "1"  # put back
    assert os.environ["CLICOLOR_FORCE"] == "1"


def test_the_magic_leaves_pydantic_plugins_as_the_notebook_has_them(monkeypatch):
    # Only the console script turns pydantic's plugins off (a process of its own); %exsim runs in
    # the user's process, whose validators are built once for the process.
    from exsim import cli

    seen = []
    monkeypatch.setattr(cli.cli, "main", lambda **options: seen.append(os.environ.get(cli.PLUGINS_VARIABLE)))
    monkeypatch.delenv(cli.PLUGINS_VARIABLE, raising=False)
    exsim_magic("--help")
    assert seen == [None]


IPYTHON_SESSION = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "exsim.notebook")
for cell in CELLS:
    result = shell.run_cell(cell)
    print("RESULT", type(result.error_in_exec).__name__, repr(result.result)[:40], flush=True)
"""


def test_in_ipython_a_semicolon_hides_the_value_and_a_failure_is_one_line(tmp_path):
    # Through IPython itself: its line transformer, its braces, its display hook, its tracebacks.
    cells = [
        f"path = {str(CONTOSO)!r}",
        "%exsim validate {path};",
        "%exsim validate {path}  # a comment",
        "%exsim validate {path} no-such.toml",
    ]
    script = tmp_path / "session.py"
    script.write_text(f"CELLS = {cells!r}\n{IPYTHON_SESSION}")
    done = run([sys.executable, str(script)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    valid = f"{CONTOSO}: valid (5 sites, 6 servers, 8 connectors)"
    lines = done.stdout.splitlines()
    assert lines[0] == "RESULT NoneType None"
    assert lines[1] == "RESULT NoneType None"  # hidden: no Out[...] line
    assert lines[2].startswith("Out[")  # shown as printed
    assert lines[2].endswith(valid)
    assert lines[3] == "RESULT NoneType " + repr(f"{valid}\n")[:40]
    assert lines[4] == valid  # printed before the failure
    assert lines[5] == f"CommandFailed: `exsim validate {CONTOSO} no-such.toml` exited with code 2"
    assert lines[6] == "RESULT CommandFailed None"
    assert "Traceback" not in done.stdout + done.stderr
    assert "no-such.toml: no such file" in done.stderr
