"""Run ``exsim ARGS`` in the test process, as the installed console script would.

:func:`exsim` calls the console script's own entry point (:func:`exsim.cli.main`, with
its exit-code mapping) with the arguments in ``sys.argv``, capturing stdout and stderr
apart through click's test runner. Starting an interpreter per command was half the
suite's time; tests that must prove the installed script, a fresh interpreter's
imports or signal handling still start a process of their own.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from click.testing import CliRunner

from exsim.cli import main


@dataclass
class Completed:
    """What a command did: the parts of ``subprocess.CompletedProcess`` the tests read."""

    returncode: int
    stdout: str
    stderr: str


def exsim(*args: str, cwd: Path | None = None) -> Completed:
    """Run ``exsim ARGS`` in this process (in ``cwd``), as the console script would."""
    code: int | str | None = 0
    with (
        CliRunner().isolation() as (stdout, stderr, _),
        contextlib.chdir(cwd or Path.cwd()),
        mock.patch.object(sys, "argv", ["exsim", *args]),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return Completed(returncode, stdout.getvalue().decode(), stderr.getvalue().decode())
