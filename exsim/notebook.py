"""``%exsim``: the ``exsim`` command line inside a notebook (or any Python process), without a shell.

In Jupyter or IPython::

    %load_ext exsim.notebook
    %exsim route ../scenarios/contoso.toml --from RED-EX1 --to BJones
    table = %exsim gwart ../scenarios/contoso.toml --site Dublin --json

A line ``%exsim ARGS`` is the command ``exsim ARGS``: the same arguments, quoted as in a shell
(``--set 'connectors.A-B.cost=2'``), a ``#`` that starts a word beginning a comment, with IPython's
``{expression}`` and ``$name`` filled in first, as for ``!exsim ARGS``, which runs the installed
console script in a shell and prints the same. IPython fills in the braces only when every ``{...}``
on the line is an expression it can evaluate, and otherwise leaves the whole line as written: a
literal brace (a TOML inline table in a ``--set`` value) is written doubled, ``{{`` and ``}}``, or the
value is put in a variable first.
The difference is where it runs: ``!exsim`` starts a shell and a fresh Python interpreter that
imports exsim again (about half a second of CPU for ``exsim route``), ``%exsim`` calls the console
script's own entry point in the notebook's process, which has usually imported exsim already.
What the command prints is shown when it ends, not as it goes (a long ``run`` shows its progress
at the end), and it prints as into a pipe: no colours, whatever the kernel's ``FORCE_COLOR``.

The line's value is what the command wrote to standard output, a ``str`` (``json.loads`` reads
``--json`` output from it); as the last line of a cell it is shown as the command printed it, and a
``;`` at the end of the line hides it. What the command writes to standard error goes to the
notebook's standard error, as a shell's would. A command that exits with a code other than 0 (2 for
bad input or usage, 1 for a failed simulation) raises :class:`CommandFailed`, so a notebook stops at
the cell whose command failed instead of reading on from output that is not there; what it printed
on standard output before it failed is shown first, and IPython shows the error as one line (the
command's own message is just above it), not as a traceback. A line that cannot be split (a quote
left open) raises :class:`CommandFailed` with exit code 2 without running anything.

``%exsim`` needs IPython (``pip install jupyterlab`` for the lessons, or ``pip install ipython``);
:func:`run_command` is the same without it.

:func:`run_command` returns the exit code and both outputs instead of raising.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import shlex
import subprocess
import sys
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

__all__ = ["CommandFailed", "Completed", "Output", "load_ipython_extension", "run_command"]


@dataclass
class Completed:
    """What a command did: its exit code and what it wrote to standard output and to standard
    error (the parts of ``subprocess.CompletedProcess`` that say so)."""

    returncode: int
    stdout: str
    stderr: str


class CommandFailed(subprocess.CalledProcessError):
    """An ``exsim`` command exited with a code other than 0; its message ends with what the
    command wrote to standard error (which says what was wrong, and where)."""

    def __str__(self) -> str:
        return f"{self._headline()}\n{self.stderr}".rstrip()

    def _headline(self) -> str:
        return f"`{shlex.join(self.cmd)}` exited with code {self.returncode}"

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for the error: one line, since the command's own message was
        written to standard error just above it and a traceback into this module tells nothing."""
        return [f"CommandFailed: {self._headline()}"]


class Output(str):
    """What a command wrote to standard output. A ``str``; IPython shows it as the text itself
    (as the command printed it), not as the quoted, escaped repr of a string."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self).rstrip("\n"))


@contextlib.contextmanager
def _outside_ipython() -> Iterator[None]:
    """While the command runs, IPython's ``get_ipython`` is out of sight. The command line decides
    how to print from it as rich does: in a notebook, rich would show its tables and text as the
    notebook's own display items, past the standard output this module captures; outside IPython,
    with standard output not a terminal, everything is written as ``exsim ... | cat`` prints it.
    So are the variables that force a terminal's colours and styles (a Jupyter kernel sets
    ``FORCE_COLOR``): the value is text to read and parse, not escape codes."""
    hidden = builtins.__dict__.pop("get_ipython", None)
    try:
        with mock.patch.dict(os.environ):
            for name in _FORCING_A_TERMINAL:
                os.environ.pop(name, None)
            yield
    finally:
        if hidden is not None:
            builtins.get_ipython = hidden  # type: ignore[attr-defined]  # IPython's own, put back


#: Variables with which rich and click write a terminal's escape codes into a pipe.
_FORCING_A_TERMINAL = ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def run_command(args: Sequence[str | os.PathLike[str]], cwd: Path | None = None) -> Completed:
    """Run ``exsim ARGS`` in this process (in ``cwd``), as the installed console script would:
    its own entry point (:func:`exsim.cli.execute`, with its exit codes; without the console
    script's switching pydantic's plugins off, as this process is the user's) reads the arguments from
    ``sys.argv``, and standard output and standard error are captured apart, through click's
    runner, which also gives the command an empty standard input."""
    from click.testing import CliRunner

    from exsim.cli import execute

    code: int | str | None = 0
    with (
        CliRunner().isolation() as (stdout, stderr, _),
        contextlib.chdir(cwd or Path.cwd()),
        mock.patch.object(sys, "argv", ["exsim", *(os.fspath(arg) for arg in args)]),
        _outside_ipython(),
    ):
        try:
            execute()
        except SystemExit as exc:
            code = exc.code
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return Completed(returncode, stdout.getvalue().decode(), stderr.getvalue().decode())


def exsim_magic(line: str) -> Output:
    """``%exsim ARGS``: run ``exsim ARGS`` in this process; the value is its standard output.

    Raises :class:`CommandFailed` when the command exits with a code other than 0."""
    try:
        args = shlex.split(_without_comment(_without_silencing_semicolon(line)))
    except ValueError as exc:  # shlex: a quote left open
        done = Completed(2, "", f"%exsim: {exc}: {line.strip()}\n")
        args = [line.strip()]
    else:
        done = run_command(args)
    if done.returncode != 0:
        # What it printed before it failed (a first file found valid, say), then why it failed.
        _write(sys.stdout, done.stdout)
        _write(sys.stderr, done.stderr)
        raise CommandFailed(done.returncode, ["exsim", *args], done.stdout, done.stderr)
    _write(sys.stderr, done.stderr)
    return Output(done.stdout)


def _write(stream: Any, text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()


def _without_silencing_semicolon(line: str) -> str:
    """The line without the ``;`` that ends it to hide the value. IPython passes it on to the magic
    and hides the value by its own rule (the last Python token of the line is ``;``), which this
    follows; anything else is left as written."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return line
    ignored = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    last = next((token for token in reversed(tokens) if token.type not in ignored), None)
    if last is None or last.type != tokenize.OP or last.string != ";":
        return line
    return line[: last.start[1]] + line[last.end[1] :]


def _without_comment(line: str) -> str:
    """The line up to a shell comment: a ``#`` at the start of a word, outside quotes (``shlex``'s
    own comments would also end a word at a ``#`` inside it, as in ``a#b``, which a shell keeps)."""
    quote = ""
    escaped = False
    word_start = True
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char.isspace():
            word_start = True
            continue
        elif char == "#" and word_start:
            return line[:i]
        word_start = False
    return line


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext exsim.notebook``: register the ``%exsim`` line magic."""
    from IPython.core.magic import output_can_be_silenced

    ipython.register_magic_function(
        output_can_be_silenced(exsim_magic), magic_kind="line", magic_name="exsim"
    )
