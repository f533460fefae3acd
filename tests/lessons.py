"""The lessons in ``notebooks/`` as tests: each lesson is executed cell by cell, solutions
included, in a real Jupyter kernel (nbclient and ipykernel, as Jupyter runs it), and fails on
the first cell that raises.

One kernel serves every lesson a test process runs, one after another. Starting a kernel and
importing what a lesson imports (matplotlib, pandas, exsim) costs about 2.5 CPU-seconds, more
than most lessons' own work; nbmake, which this replaces, started a kernel per lesson. Before
each lesson the kernel's namespace is wiped (IPython's ``%reset -f``), its figures closed and
its working directory set to the lesson's folder, so a lesson sees what a fresh kernel would
show it: no name, figure or directory left by another lesson. What stays is what Python keeps
per process, the imported modules, which is the point. A lesson that fails, or outlives its
cell timeout, takes the kernel with it: the next lesson gets a fresh one.

Every wait is bounded: a cell by ``CELL_TIMEOUT_S``, the kernel's start by nbclient's start-up
timeout, its shutdown by jupyter_client's (then the process is killed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: The longest one cell may run. Generous: only a hang exceeds it (a cell simulates seconds).
CELL_TIMEOUT_S = 300

#: Run in the kernel before each lesson (its output is not part of the lesson).
PREPARE = """\
get_ipython().run_line_magic("reset", "-f")
import os as _os, sys as _sys
_os.chdir({folder!r})
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
del _os, _sys
"""


class LessonKernel:
    """The kernel the lessons of this test process share, started when the first needs it."""

    def __init__(self) -> None:
        self.km: Any = None
        self.kc: Any = None

    def run(self, path: Path) -> None:
        """Execute the lesson at ``path``; raise nbclient's error for the cell that failed."""
        import nbformat
        from nbclient import NotebookClient

        lesson = nbformat.read(path, as_version=4)
        prepare = nbformat.v4.new_code_cell(PREPARE.format(folder=str(path.parent)))
        lesson.cells.insert(0, prepare)
        if self.km is None:
            from jupyter_client.manager import AsyncKernelManager

            self.km = AsyncKernelManager(kernel_name="python3")
        client = NotebookClient(lesson, km=self.km, timeout=CELL_TIMEOUT_S, kernel_name="python3")
        client.kc = self.kc
        try:
            client.execute(cwd=str(path.parent))
        except BaseException:
            self.kc = client.kc
            self.stop()
            raise
        self.kc = client.kc

    def stop(self) -> None:
        """Shut the kernel down (killed if it does not stop within jupyter_client's wait)."""
        from nbclient.util import run_sync

        km, kc, self.km, self.kc = self.km, self.kc, None, None
        if kc is not None:
            kc.stop_channels()
        if km is not None and km.has_kernel:
            run_sync(km.shutdown_kernel)(now=False)
            run_sync(km.cleanup_resources)()


_KERNEL = pytest.StashKey[LessonKernel]()


class LessonFile(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        yield Lesson.from_parent(self, name=self.path.name)


class Lesson(pytest.Item):
    """One lesson, executed whole."""

    def runtest(self) -> None:
        kernel = self.config.stash.setdefault(_KERNEL, LessonKernel())
        from nbclient.exceptions import CellExecutionError

        try:
            kernel.run(self.path)
        except CellExecutionError as error:
            raise LessonFailed(str(error)) from None

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        if isinstance(excinfo.value, LessonFailed):
            return f"{self.path.name}: a cell failed\n{excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, 0, f"lesson {self.path.name}"


class LessonFailed(Exception):
    """A cell of a lesson raised: the message is nbclient's, the cell's source and traceback."""


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> LessonFile | None:
    if file_path.suffix == ".ipynb" and file_path.parent == parent.config.rootpath / "notebooks":
        return LessonFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    kernel = session.config.stash.get(_KERNEL, None)
    if kernel is not None:
        kernel.stop()
