"""``%exsim``: the ``exsim`` command line inside a notebook (or any Python process), without a shell.

In Jupyter or IPython::

    %load_ext exsim.notebook
    %exsim route ../scenarios/contoso.toml --from RED-EX1 --to BJones
    table = %exsim gwart ../scenarios/contoso.toml --site Dublin --json

A line ``%exsim ARGS`` is the command ``exsim ARGS``: the same arguments, quoted as in a shell
(``--set 'connectors.A-B.cost=2'``), with IPython's ``{expression}`` and ``$name`` filled in first,
as for ``!exsim ARGS``, which runs the installed console script in a shell and prints the same.
The difference is where it runs: ``!exsim`` starts a shell and a fresh Python interpreter that
imports exsim again (about half a second of CPU for ``exsim route``), ``%exsim`` calls the console
script's own entry point in the notebook's process, which has usually imported exsim already.

The line's value is what the command wrote to standard output, a ``str`` (``json.loads`` reads
``--json`` output from it); as the last line of a cell it is shown as the command printed it, and a
``;`` at the end of the line hides it. What the command writes to standard error goes to the
notebook's standard error, as a shell's would. A command that exits with a code other than 0 (2 for
bad input or usage, 1 for a failed simulation) raises :class:`CommandFailed`, so a notebook stops at
the cell whose command failed instead of reading on from output that is not there.

:func:`run_command` is the same without IPython: it returns the exit code and both outputs.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import shlex
import subprocess
import sys
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
        return f"{super().__str__()}\n{self.stderr}".rstrip()


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
    with standard output not a terminal, everything is written as ``exsim ... | cat`` prints it."""
    hidden = builtins.__dict__.pop("get_ipython", None)
    try:
        yield
    finally:
        if hidden is not None:
            builtins.get_ipython = hidden  # type: ignore[attr-defined]  # IPython's own, put back


def run_command(args: Sequence[str | os.PathLike[str]], cwd: Path | None = None) -> Completed:
    """Run ``exsim ARGS`` in this process (in ``cwd``), as the installed console script would:
    its own entry point (:func:`exsim.cli.main`, with its exit codes) reads the arguments from
    ``sys.argv``, and standard output and standard error are captured apart, through click's
    runner, which also gives the command an empty standard input."""
    from click.testing import CliRunner

    from exsim.cli import main

    code: int | str | None = 0
    with (
        CliRunner().isolation() as (stdout, stderr, _),
        contextlib.chdir(cwd or Path.cwd()),
        mock.patch.object(sys, "argv", ["exsim", *(os.fspath(arg) for arg in args)]),
        _outside_ipython(),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return Completed(returncode, stdout.getvalue().decode(), stderr.getvalue().decode())


def exsim_magic(line: str) -> Output:
    """``%exsim ARGS``: run ``exsim ARGS`` in this process; the value is its standard output.

    Raises :class:`CommandFailed` when the command exits with a code other than 0."""
    args = shlex.split(line)
    done = run_command(args)
    if done.stderr:
        sys.stderr.write(done.stderr)
        sys.stderr.flush()
    if done.returncode != 0:
        raise CommandFailed(done.returncode, ["exsim", *args], done.stdout, done.stderr)
    return Output(done.stdout)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext exsim.notebook``: register the ``%exsim`` line magic."""
    from IPython.core.magic import output_can_be_silenced

    ipython.register_magic_function(
        output_can_be_silenced(exsim_magic), magic_kind="line", magic_name="exsim"
    )
