"""The lessons' warm kernels (tests/warm_kernels.py): each is a fresh process with what a kernel
started by jupyter_client would have (working directory, environment, sys.path, matplotlib's inline
figures), an interrupt reaches it, it ends the way its stand-in reports, a lesson that crashes its
kernel leaves the server serving, and nothing outlives the launcher or the server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.stall import wait_for
from tests.warm_kernels import INLINE, KERNEL_NAME, WarmKernels

#: The longest a test waits for a kernel's reply or its end: only a hang takes that long.
LIMIT_S = 60.0

PROBE = """
import json, os, sys
print(json.dumps({
    "pid": os.getpid(), "cwd": os.getcwd(), "path": sys.path, "name": __name__,
    "probe": os.environ.get("EXSIM_PROBE"), "jupyter_path": os.environ.get("JUPYTER_PATH"),
    "argv0": os.path.basename(sys.argv[0]), "mplbackend": os.environ.get("MPLBACKEND"),
    "seen": "left_by_another_kernel" in globals(),
}))
left_by_another_kernel = 1
"""


@contextlib.contextmanager
def kernel(directory: Path, **env: str) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A kernel of the suite's kernelspec, as nbclient starts one: in ``directory``, with this
    process's environment and ``env``; shut down however the test ends."""
    manager = KernelManager(kernel_name=KERNEL_NAME)
    inherited = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    manager.start_kernel(cwd=str(directory), env={**inherited, **env})
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=LIMIT_S)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client: BlockingKernelClient, code: str) -> tuple[dict, list[dict]]:
    """Run ``code``; its reply's content and its output messages."""
    outputs: list[dict] = []
    reply = client.execute_interactive(code, timeout=LIMIT_S, output_hook=outputs.append)
    return reply["content"], outputs


def printed(client: BlockingKernelClient, code: str) -> Any:
    content, outputs = run(client, code)
    assert content["status"] == "ok", content
    text = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")
    return json.loads(text)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_warm_kernel_is_a_fresh_process_with_what_jupyter_client_gave_it(warm_kernels, tmp_path):
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    with kernel(first_dir, EXSIM_PROBE="first") as (_, client):
        first = printed(client, PROBE)
    with kernel(second_dir, EXSIM_PROBE="second") as (_, client):
        second = printed(client, PROBE)
    assert first["pid"] != second["pid"]
    assert warm_kernels.process.pid not in (first["pid"], second["pid"])
    assert first["cwd"] == str(first_dir)
    assert second["cwd"] == str(second_dir)
    assert first["probe"] == "first"
    assert second["probe"] == "second"
    assert not second["seen"]  # a name one kernel defined is not in the next one's namespace
    # As `python -m ipykernel_launcher` has them: the interpreter's own path, with the working
    # directory as '' (the launcher removes it, IPython puts it back), the launcher's name,
    # __main__; ipykernel's inline backend.
    fresh = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        cwd=first_dir,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
        check=True,
    )
    assert [entry for entry in first["path"] if entry != ""] == json.loads(fresh.stdout)
    assert "" in first["path"]
    assert first["argv0"] == "ipykernel_launcher.py"
    assert first["name"] == "__main__"
    assert first["mplbackend"] == INLINE
    # The kernelspec's directory was on JUPYTER_PATH only for jupyter_client to find it.
    assert first["jupyter_path"] == (os.environ["JUPYTER_PATH"].partition(os.pathsep)[2] or None)


@pytest.mark.parametrize("backend", [None, "agg"])
def test_figures_use_the_backend_a_fresh_kernel_would(warm_kernels, tmp_path, backend):
    """Without MPLBACKEND, ipykernel's inline backend, which shows the figure after the cell; with
    it, the backend it names (matplotlib reads it when it is imported), which shows nothing here."""
    env = {} if backend is None else {"MPLBACKEND": backend}
    with kernel(tmp_path, **env) as (_, client):
        content, outputs = run(client, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.get_backend()")
    assert content["status"] == "ok"
    results = [o["content"]["data"] for o in outputs if o["msg_type"] == "execute_result"]
    assert results == [{"text/plain": repr(backend or INLINE)}]
    shown = [o["content"]["data"] for o in outputs if o["msg_type"] == "display_data"]
    if backend is None:
        assert len(shown) == 1  # the figure, drawn after the cell by matplotlib_inline
        assert "image/png" in shown[0]
    else:
        assert shown == []


def test_an_interrupt_reaches_the_kernel_which_keeps_its_namespace(warm_kernels, tmp_path):
    with kernel(tmp_path) as (manager, client):
        run(client, "kept = 42")
        # stop_on_error=False: the interrupted cell's error must not make ipykernel abort the
        # request sent right after it (it aborts what arrives while it clears its queue, a race
        # that failed this test once in CI with {'status': 'aborted'}).
        client.execute("import time\nopen('started', 'w').close()\ntime.sleep(3 * 60)", stop_on_error=False)
        wait_for((tmp_path / "started").exists, "the cell to start", LIMIT_S)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=LIMIT_S)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert printed(client, "print(kept)") == 42


@pytest.mark.parametrize(
    ("ending", "code"),
    [("exit code 3", "import os; os._exit(3)"), ("SIGKILL", "import os; os.kill(os.getpid(), 9)")],
)
def test_a_crashed_kernel_ends_its_launcher_the_same_way_and_the_server_serves_on(
    warm_kernels, tmp_path, ending, code
):
    expected = 3 if ending == "exit code 3" else -signal.SIGKILL
    with kernel(tmp_path) as (manager, client):
        pid = printed(client, PROBE)["pid"]
        client.execute(code)
        launcher = manager.provisioner.process  # type: ignore[union-attr]
        assert launcher.wait(timeout=LIMIT_S) == expected
        assert not alive(pid)  # reaped by the server
    with kernel(tmp_path) as (_, client):
        assert printed(client, "print(6 * 7)") == 42


def test_a_killed_launcher_takes_its_kernel_with_it(warm_kernels, tmp_path):
    with kernel(tmp_path) as (manager, client):
        pid = printed(client, PROBE)["pid"]
        launcher = manager.provisioner.process  # type: ignore[union-attr]
        launcher.kill()
        launcher.wait(timeout=LIMIT_S)
        wait_for(lambda: not alive(pid), "the kernel to end with its launcher", LIMIT_S)


def test_stopping_the_server_ends_its_kernels_and_their_launchers(tmp_path):
    server = WarmKernels(imports=("ipykernel.kernelapp",))
    try:
        with kernel(tmp_path) as (manager, client):
            pid = printed(client, PROBE)["pid"]
            server.stop()
            assert server.process.returncode == 0
            assert not alive(pid)
            launcher = manager.provisioner.process  # type: ignore[union-attr]
            assert launcher.wait(timeout=LIMIT_S) == 1  # the server went away without an answer
    finally:
        server.stop()
    assert not server.directory.exists()
