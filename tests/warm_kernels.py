"""Lessons' kernels that start warm: each lesson still runs in a kernel process of its own, forked
from a server that has already imported what every lesson's kernel imports.

A lesson's kernel (``python -m ipykernel_launcher``) spends about 2.4 of its 3-7 CPU-seconds before
the lesson's first cell: importing ipykernel (with IPython and debugpy), NumPy, pandas, matplotlib
and exsim. The suite pays that once per test process instead: :class:`WarmKernels` starts this
module as a server, which imports them all (no kernel, thread or socket of ipykernel's exists yet)
and then, for each lesson, forks a child that becomes the kernel, with the standard streams, working
directory, environment and connection file that jupyter_client gave the process it started. That
process is tests/kernel_launcher.py, named by a kernelspec only the test run installs (in a
temporary ``JUPYTER_PATH`` directory); it stands for the kernel (signals passed on, the kernel's
way of ending passed back). What the lesson sees is a fresh process with a fresh namespace, as
before: the imports are shared copy-on-write, nothing a lesson does reaches another.

What a fresh import would have read from the kernel's environment, the child sets as that import
would have: sys.path (ipykernel's launcher drops the working directory, IPython adds it back),
sys.argv, and matplotlib's backend (matplotlib reads ``MPLBACKEND`` when it is imported; ipykernel
sets it to its inline backend when it starts, before any cell). Modules that act on IPython when
they are imported (matplotlib_inline's backend) are not imported before the fork.

Nothing outlives the test session: the server ends when the test process closes the pipe to its
standard input (or dies), killing any kernel still running; a kernel whose launcher is killed is
killed; a kernel whose server dies sees its parent change and ends (ipykernel's parent poller).
``python -m pytest --nbmake-kernel python3`` runs the lessons in ordinary kernels instead."""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The kernelspec's name: distinct from the lessons' own ("python3"), so that only the suite's
#: notebook runs, to which conftest.py gives it, start their kernels here.
KERNEL_NAME = "exsim-tests-warm"
#: What ipykernel sets ``MPLBACKEND`` to when the environment does not (ipykernel.kernelapp).
INLINE = "module://matplotlib_inline.backend_inline"
#: What every lesson's kernel imports: ipykernel's own (its debugger imports debugpy), and what the
#: lessons import (tests/test_notebooks.py asserts that each imports pyplot and exsim): the
#: simulator, and the command line and click's runner for ``%exsim``.
WARM_IMPORTS = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "exsim",
    "exsim.notebook",
    "exsim.experiment",
    "exsim.sim",
    "exsim.explain",
    "exsim.cli",
    "click.testing",
)
#: The longest the server is waited for when it is stopped, before it is killed.
STOP_TIMEOUT_S = 30.0


# --- the server (this module run as a program) -------------------------------------------------


@dataclass
class _Kernel:
    pid: int
    pidfd: int
    conn: socket.socket | None


@dataclass
class _Server:
    """The server's state: the connections of the launchers and the kernels they stand for."""

    listener: socket.socket
    report: Path
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    kernels: dict[int, _Kernel] = field(default_factory=dict)  # by pid
    by_conn: dict[int, _Kernel] = field(default_factory=dict)  # by the launcher's socket's fd
    cpu_s: float = 0.0

    def serve(self) -> tuple[dict, list[int]] | None:
        """Serve until the test process goes away; in a forked child, return its request."""
        self.selector.register(self.listener, selectors.EVENT_READ, "listener")
        self.selector.register(sys.stdin, selectors.EVENT_READ, "parent")
        while True:
            for key, _ in self.selector.select():
                if key.data == "parent":
                    return None  # the pipe closed: the test process is done (or dead)
                if key.data == "listener":
                    conn, _ = self.listener.accept()
                    self.selector.register(conn, selectors.EVENT_READ, ("launcher", conn))
                elif key.data[0] == "launcher":
                    child = self._message(key.data[1])
                    if child is not None:
                        return child
                else:
                    self._reap(key.data[1])

    def _message(self, conn: socket.socket) -> tuple[dict, list[int]] | None:
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        kernel = self.by_conn.get(conn.fileno())
        if not message:  # the launcher ended (killed: it waits for its kernel otherwise)
            self.selector.unregister(conn)
            if kernel is not None:
                del self.by_conn[conn.fileno()]
                kernel.conn = None
                os.kill(kernel.pid, signal.SIGKILL)
            conn.close()
            return None
        request = json.loads(message)
        if "signal" in request:
            if kernel is not None:
                os.kill(kernel.pid, request["signal"])  # not reaped yet: the pid is still its own
            return None
        pid = os.fork()
        if pid == 0:
            self._close_all()
            return request, fds
        for fd in fds:
            os.close(fd)
        kernel = _Kernel(pid, os.pidfd_open(pid), conn)
        self.kernels[pid] = kernel
        self.by_conn[conn.fileno()] = kernel
        self.selector.register(kernel.pidfd, selectors.EVENT_READ, ("kernel", pid))
        return None

    def _reap(self, pid: int) -> None:
        kernel = self.kernels.pop(pid)
        _, status, usage = os.wait4(pid, 0)
        self.selector.unregister(kernel.pidfd)
        os.close(kernel.pidfd)
        self.cpu_s += usage.ru_utime + usage.ru_stime
        partial = self.report.with_suffix(".partial")
        partial.write_text(repr(self.cpu_s))
        partial.replace(self.report)  # before the launcher hears of it: then the test's CPU counts it
        if kernel.conn is not None:
            del self.by_conn[kernel.conn.fileno()]
            self.selector.unregister(kernel.conn)
            with contextlib.suppress(OSError):  # a launcher killed meanwhile
                kernel.conn.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
            kernel.conn.close()

    def _close_all(self) -> None:
        """In a forked child: let go of everything the server holds (its copies of the sockets)."""
        for kernel in self.kernels.values():
            os.close(kernel.pidfd)
        for kernel in self.by_conn.values():
            if kernel.conn is not None:
                kernel.conn.close()
        for key in list(self.selector.get_map().values()):
            if isinstance(key.data, tuple) and key.data[0] == "launcher":
                key.data[1].close()
        self.selector.close()
        self.listener.close()

    def stop(self) -> None:
        """Kill the kernels still running and wait for them (SIGKILL: they end at once)."""
        for pid in list(self.kernels):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _become_kernel(request: dict, fds: list[int]) -> None:
    """In a forked child: become the kernel jupyter_client asked the launcher for."""
    os.setsid()  # a session of its own, as jupyter_client starts kernels
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # `python -m ipykernel_launcher`: its sys.argv, and its sys.path without the working directory
    # (the launcher drops it; IPython's shell adds '' back). The server was started with -m too.
    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *request["args"]]  # type: ignore[union-attr]
    del sys.path[0]
    # What importing matplotlib in the kernel would have read from its environment.
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        matplotlib.rcParams["backend"] = os.environ.get("MPLBACKEND") or INLINE
    # What the imports set in the environment when it lacked it (debugpy: PYDEVD_USE_FRAME_EVAL).
    for name, value in request["set_by_imports"].items():
        os.environ.setdefault(name, value)
    from ipykernel import kernelapp

    # ipykernel_launcher's launch_new_instance(), with the parent poller watching this server (the
    # kernel's parent, where jupyter_client's JPY_PARENT_PID names the test process): it ends the
    # kernel if the server goes away.
    kernelapp.IPKernelApp.launch_instance(parent_handle=os.getppid())


def _server_main(listener_fd: int, report: str, imports: list[str]) -> None:
    listener = socket.socket(fileno=listener_fd)
    # What a kernel would set before any cell imports matplotlib (see INLINE), then the imports.
    os.environ.setdefault("MPLBACKEND", INLINE)
    before = dict(os.environ)
    for name in imports:
        importlib.import_module(name)
    set_by_imports = {k: v for k, v in os.environ.items() if before.get(k) != v}
    # A fork copies only the thread that forks: nothing may be running beside it, and no backend
    # may be chosen yet (each kernel's is chosen by its first figure, as in a fresh kernel).
    assert threading.active_count() == 1, threading.enumerate()
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot._backend_mod is None, "a matplotlib backend was chosen before the fork"
    # Nothing the imports made is garbage: freezing it spares every kernel's collections and keeps
    # the pages shared (a collection writes to every object it walks).
    gc.collect()
    gc.freeze()
    server = _Server(listener, Path(report))
    try:
        child = server.serve()
    finally:
        if os.getpid() == server_pid:
            server.stop()
    if child is not None:
        request, fds = child
        _become_kernel({**request, "set_by_imports": set_by_imports}, fds)


# --- the test process's side --------------------------------------------------------------------


class WarmKernels:
    """The server, started by the test process that runs lessons, and the kernelspec naming it."""

    def __init__(self, imports: tuple[str, ...] = WARM_IMPORTS) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="exsim-warm-kernels-"))
        self.report = self.directory / "kernels-cpu"
        path = str(self.directory / "server")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(path)
        listener.listen(8)
        spec = self.directory / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        launcher = [sys.executable, "-I", "-S", str(ROOT / "tests" / "kernel_launcher.py"), path]
        kernel = {"argv": [*launcher, "{connection_file}"], "display_name": "Python 3", "language": "python"}
        (spec / "kernel.json").write_text(json.dumps(kernel))
        # Launchers connect at once; the server accepts them once it has imported everything.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.warm_kernels", str(listener.fileno()), str(self.report), *imports],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            pass_fds=[listener.fileno()],
            start_new_session=True,  # a terminal's Ctrl-C reaches pytest, which then stops it
        )
        listener.close()
        self.jupyter_path = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(self.directory), self.jupyter_path]))

    def unreaped_cpu_s(self) -> float:
        """CPU-seconds of the kernels that have ended, while the server that reaped them has not
        been waited for (once it has, the test process's own children figure includes them)."""
        if self.process.returncode is not None:
            return 0.0
        try:
            return float(self.report.read_text())
        except FileNotFoundError:
            return 0.0

    def stop(self) -> None:
        """End the server (and any kernel still running), boundedly; remove the kernelspec."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        finally:
            if self.jupyter_path is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = self.jupyter_path
            shutil.rmtree(self.directory, ignore_errors=True)


if __name__ == "__main__":
    server_pid = os.getpid()
    _server_main(int(sys.argv[1]), sys.argv[2], sys.argv[3:])
