"""The results directory is exsim's, and only exsim's.

Three rules keep a results directory from hurting anyone:

* **A marker says exsim made it.** When exsim creates the directory (or takes
  an empty one) it writes :data:`MARKER` into it. ``--force`` empties only a
  directory holding that marker; any other non-empty directory is refused with
  the list of what would have been deleted, and nothing is deleted. So
  ``--out ~/thesis --force`` cannot cost anybody a thesis.
* **A lock keeps runs apart.** While an experiment runs, :data:`LOCK` holds the
  owner's pid, host and process start time. It is created with ``O_EXCL``, so of
  two runs (or two ``--resume``\\ s) on one directory exactly one gets it; the
  other is refused and told who holds it. A lock whose process is gone (killed
  with ``kill -9``, a power cut) is recognised as stale when the owner was on
  this host, and taken over with a note. A lock from another host cannot be
  checked from here; the message says how to remove it by hand.
* **A failed start leaves nothing.** A directory this invocation created is
  removed again when the experiment fails before its first run is recorded
  (an unreachable ``--scheduler``, say), along with parents it created that
  are still empty. A directory that cannot be made at all (a regular file in
  its path, no permission, /proc) is refused as a bad ``--out`` with the path
  and the reason, after removing the parents made on the way.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exsim.names import shortened
from exsim.outputs import why_not_made

#: exsim's own marker: written into every results directory exsim creates.
MARKER = ".exsim-results"
#: The lock file of a running experiment (JSON: pid, host, process start time).
LOCK = ".exsim.lock"
#: A lock file that cannot be read (its writer died between creating and filling it)
#: counts as stale once it is this old.
UNREADABLE_LOCK_STALE_S = 30.0
_MARKER_TEXT = "This directory was made by exsim; `exsim run --force` may empty it.\n"


class ResultsDirectoryError(Exception):
    """A results directory that cannot be used as asked (exists, not writable, in use, not exsim's)."""


@dataclass
class ResultsDirectory:
    """A results directory opened for one experiment: locked until :meth:`release`."""

    path: Path
    created: list[Path] = field(default_factory=list)
    """Directories this invocation created, the deepest first (``path`` itself, then new parents)."""
    notes: list[str] = field(default_factory=list)
    """Things the user should hear about (a stale lock taken over)."""

    def release(self) -> None:
        """Remove the lock, if it is still ours."""
        lock = self.path / LOCK
        owner = _read_owner(lock)
        if owner is not None and owner.get("pid") == os.getpid() and owner.get("host") == _host():
            lock.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove what this invocation created (a start that failed before any run finished)."""
        if not self.created:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        for parent in self.created[1:]:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only while still empty: someone else may have put things there


def _host() -> str:
    return socket.gethostname()


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    """Whether ``pid`` on this host is still the process that wrote the lock."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    if state == "Z":
        return False  # a zombie has finished; its parent has not yet collected it
    return started is None or _process_start(pid) in (None, started)


def _read_owner(lock: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads(lock.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _describe(owner: dict[str, Any]) -> str:
    since = owner.get("since")
    when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" if since else ""
    return f"exsim (pid {owner['pid']} on {owner.get('host', '?')}{when})"


def running_in(directory: Path) -> str | None:
    """Who holds ``directory``'s lock and may still be writing there (``exsim (pid ...)``), or
    None: no lock, or the lock of a process on this host that has ended. A lock from another
    host counts as held (this host cannot tell)."""
    owner = _read_owner(directory / LOCK)
    if owner is None or (owner.get("host") == _host() and not _alive(owner["pid"], owner.get("started"))):
        return None
    return _describe(owner)


@contextlib.contextmanager
def _directory_flock(directory: Path) -> Iterator[None]:
    """Serialise stale-lock takeovers on one directory (two takers must not both win)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _acquire(directory: Path, notes: list[str]) -> None:
    lock = directory / LOCK
    me = {"pid": os.getpid(), "host": _host(), "started": _process_start(os.getpid()), "since": time.time()}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _read_owner(lock)
            if owner is None:
                try:
                    age = time.time() - lock.stat().st_mtime
                except FileNotFoundError:
                    continue
                if age < UNREADABLE_LOCK_STALE_S:
                    raise ResultsDirectoryError(
                        f"--out {directory}: another exsim is just starting on it ({lock} is being "
                        "written); wait for it to finish or use another --out"
                    ) from None
                stale = "an unreadable lock file"
            elif owner.get("host") != _host():
                raise ResultsDirectoryError(
                    f"--out {directory}: in use by {_describe(owner)}; this host cannot tell whether "
                    f"it still runs: if it does not, delete {lock}"
                ) from None
            elif _alive(owner["pid"], owner.get("started")):
                raise ResultsDirectoryError(
                    f"--out {directory}: in use by {_describe(owner)}; wait for it to finish "
                    "or use another --out"
                ) from None
            else:
                stale = f"the stale lock of {_describe(owner)}, which is no longer running"
            with _directory_flock(directory):
                if _read_owner(lock) == owner:  # still the same stale lock: nobody took it meanwhile
                    lock.unlink(missing_ok=True)
            notes.append(f"--out {directory}: took over {stale}")
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(me, handle)
        return
    raise ResultsDirectoryError(f"--out {directory}: could not take the lock {lock}; try again")


def _foreign_listing(entries: list[Path], limit: int = 10) -> str:
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in entries)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _create(out: Path) -> list[Path]:
    """Create ``out`` and its missing parents; return those this call created, deepest first.

    A directory that cannot be made is the user's choice of ``--out`` gone wrong, not a failure
    of the experiment: :class:`ResultsDirectoryError` says which path and why (a file where a
    directory should be, no permission, a read-only or special file system such as /proc),
    after removing the parents this call made. ``[]`` when another run made ``out`` meanwhile.
    """
    missing: list[Path] = []
    node = out
    while not node.exists():
        missing.append(node)
        if node.parent == node:
            break
        node = node.parent
    made: list[Path] = []
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            if directory.is_dir():
                if directory == out:
                    made = []  # another run created it a moment ago: treat it as existing
                continue
            _discard_made(made)
            raise ResultsDirectoryError(_cannot_create(out, directory, None)) from None
        except OSError as exc:
            _discard_made(made)
            raise ResultsDirectoryError(_cannot_create(out, directory, exc)) from None
        made.append(directory)
    return made[::-1]


def _discard_made(made: list[Path]) -> None:
    for directory in reversed(made):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _cannot_create(out: Path, directory: Path, exc: OSError | None) -> str:
    """Why ``directory`` (``out`` or a parent of it) cannot be made, as the message for the user."""
    why = why_not_made(directory, exc, "directory")
    return f"--out {out}: cannot create the results directory: {why}; choose another --out"


def open_results_dir(out: Path, *, resume: bool, force: bool) -> ResultsDirectory:
    """Create or reuse ``out`` for an experiment, locked; refuse anything that could hurt.

    Fresh directory: created, marked, locked. Existing empty directory: marked
    and locked. Non-empty: ``resume`` continues it, ``force`` empties it if and
    only if it carries exsim's marker, otherwise it is refused (as ``resume`` is then: what is
    there is not exsim's to continue, and its files could be overwritten).
    """
    try:
        exists = out.exists()
    except OSError as exc:  # a name longer than the file system allows: the look itself fails
        raise ResultsDirectoryError(
            f"--out {shortened(str(out))}: cannot use it as the results directory: "
            f"{exc.strerror or exc}; choose another --out"
        ) from None
    if exists and not out.is_dir():
        raise ResultsDirectoryError(f"--out {out}: exists and is not a directory")
    created = [] if exists else _create(out)
    entries = [e for e in out.iterdir() if e.name not in (MARKER, LOCK)]
    marked = (out / MARKER).exists()
    if entries and not marked and (resume or not force):
        # Not exsim's: it can neither be resumed nor replaced, only avoided (a --resume would
        # write its results over files of the same names, and beside the rest).
        raise ResultsDirectoryError(
            f"--out {out}: directory is not empty and exsim did not make it (no {MARKER})"
            + (", so there is nothing of exsim's to resume" if resume else "")
            + f"; choose another --out, e.g. a new directory such as {out / 'results'}"
        )
    if entries and not resume:
        if not force:
            owner = _read_owner(out / LOCK)
            busy = f" (in use by {_describe(owner)})" if owner else ""
            raise ResultsDirectoryError(
                f"--out {out}: directory is not empty{busy}; use --resume to finish it or --force "
                "to replace it"
            )
        if not marked:
            raise ResultsDirectoryError(
                f"--out {out}: --force empties only a directory exsim made (one holding {MARKER}); "
                f"this one would lose {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} exsim "
                f"did not make: {_foreign_listing(entries)}. Nothing was deleted; choose another --out"
            )
    directory = ResultsDirectory(out, created)
    try:
        _acquire(out, directory.notes)
    except OSError as exc:  # an existing directory exsim may not write in
        directory.discard()
        raise ResultsDirectoryError(
            f"--out {out}: cannot write in this directory ({exc.strerror or exc}); choose another --out"
        ) from None
    except BaseException:
        directory.discard()
        raise
    if entries and force and not resume:
        for entry in out.iterdir():
            if entry.name in (MARKER, LOCK):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        entries = []
    if not entries and not marked:
        (out / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    return directory
