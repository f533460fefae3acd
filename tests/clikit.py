"""Run ``exsim ARGS`` in the test process, as the installed console script would.

:func:`exsim` is :func:`exsim.notebook.run_command` (what a notebook's ``%exsim`` runs): the console
script's own entry point, with its exit codes, called in this process with stdout and stderr
captured apart. Starting an interpreter per command was half the suite's time; tests that must
prove the installed script, a fresh interpreter's imports or signal handling still start a process
of their own.
"""

from __future__ import annotations

from pathlib import Path

from exsim.notebook import Completed, run_command

__all__ = ["Completed", "exsim"]


def exsim(*args: str, cwd: Path | None = None) -> Completed:
    """Run ``exsim ARGS`` in this process (in ``cwd``), as the console script would."""
    return run_command(args, cwd=cwd)
