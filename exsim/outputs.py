"""Writing a file the user asked for: the path checked first, the file written whole or not at all.

Every command that writes one file (``explore``'s page, ``report``'s page, ``plot``'s figures, the
files of a results directory) goes through here:

* :func:`check_output_file` looks at the path before any work is done: a directory where the file
  should be, a regular file where a folder of its path should be, a folder that does not exist or
  does not take new files (no permission, read-only, /proc) is refused with
  :class:`OutputPathError`, which says which path and why. The command line turns that into a
  bad-usage line (exit 2), with nothing written.
* :func:`write_whole` writes into a hidden temporary file beside the target and renames it over
  the target, so a reader never sees half a file; when anything fails the temporary is removed.
* :func:`make_output_dir` makes a folder for output files (``DIR/plots``), or says why it cannot.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path


class OutputPathError(Exception):
    """An output path that cannot be written; the message names the path and the reason."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"cannot write {path}: {why}")
        self.path = path
        self.why = why


def temporary(path: Path) -> Path:
    """The hidden file beside ``path`` that :func:`write_whole` fills before renaming it."""
    return path.with_name(f".{path.name}.tmp")


def why_not_made(path: Path, exc: OSError | None, kind: str = "file") -> str:
    """Why ``path`` (a ``kind``: file or directory) cannot be made, in words for the user."""
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is None and path.exists() and not path.is_dir() and kind == "directory":
        blocker = path
    if blocker is not None:
        return f"{blocker} is a file, not a directory"
    if kind == "file" and path.is_dir():
        return f"{path} is a directory"
    if exc is not None and exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to create a {kind} in {path.parent}"
    if exc is not None and exc.errno == errno.EROFS:
        return f"{path.parent} is on a read-only file system"
    if exc is not None and exc.errno == errno.ENAMETOOLONG:
        return f"the name {path.name[:40]!r}... is longer than the file system allows"
    if not path.parent.exists():
        return f"directory {path.parent} does not exist"
    reason = f" ({exc.strerror})" if exc is not None and exc.strerror else ""
    return f"{path.parent} does not accept a new {kind}{reason}"


def check_output_file(path: Path) -> None:
    """Refuse, before any work, a path the file cannot be written to (:class:`OutputPathError`).

    The check is a real one: the temporary file is created and removed again, so a folder that
    looks fine but takes no files (/proc, a read-only mount, no permission even for root on some
    file systems) is caught here rather than after the page has been rendered.
    """
    path = Path(path)
    try:
        if path.is_dir() or not path.parent.is_dir():
            raise OutputPathError(path, why_not_made(path, None))
        tmp = temporary(path)
        with open(tmp, "x", encoding="utf-8"):
            pass
        tmp.unlink()
    except FileExistsError:  # a temporary left by a write that was killed: it is ours to reuse
        return
    except OSError as exc:
        raise OutputPathError(path, why_not_made(path, exc)) from None


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all: ``write`` fills the hidden temporary beside it (its
    return value, such as a count of characters, is not needed), which then replaces ``path``.
    On any failure (an error, Ctrl-C) the temporary is removed and the error goes on."""
    tmp = temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def make_output_dir(directory: Path) -> None:
    """Make ``directory`` (its parent must exist) for output files, or say why not."""
    try:
        directory.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputPathError(directory, why_not_made(directory, exc, "directory")) from None


__all__ = [
    "OutputPathError",
    "check_output_file",
    "make_output_dir",
    "temporary",
    "why_not_made",
    "write_whole",
]
