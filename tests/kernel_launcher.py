"""The process jupyter_client starts for a lesson's kernel when the suite runs the lessons: it asks
the warm-kernel server (tests/warm_kernels.py) to fork the kernel, then stands for it until it ends.

Run as ``python -I -S kernel_launcher.py SOCKET CONNECTION_FILE`` (the standard library only, so it
starts in about 20 ms). jupyter_client knows only this process: it signals it (an interrupt is a
SIGINT, a shutdown that takes too long a SIGTERM or SIGKILL) and waits for it to end. So the
launcher passes every signal it can catch on to the kernel, through the server, which is the
kernel's parent and so can never signal a reused process id; it ends when the kernel ends, the way
the kernel ended (its exit code, or the same signal); and if it is killed (SIGKILL cannot be
caught) the server sees its connection close and kills the kernel. The kernel gets this process's
standard streams, working directory and environment, the ones jupyter_client gave the launcher."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

#: Signals passed on to the kernel: what jupyter_client sends (SIGINT to interrupt, SIGTERM and
#: SIGKILL to stop; SIGKILL never reaches a handler) and what a terminal may send.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main(server: str, connection_file: str) -> int:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(server)
    env = dict(os.environ)
    # The kernelspec's directory is on JUPYTER_PATH only so that jupyter_client finds it: the
    # kernel gets the environment it would have had without it.
    ours = os.path.dirname(server)
    kept = [d for d in env.get("JUPYTER_PATH", "").split(os.pathsep) if d and d != ours]
    if kept:
        env["JUPYTER_PATH"] = os.pathsep.join(kept)
    else:
        env.pop("JUPYTER_PATH", None)
    request = {"args": ["-f", connection_file], "cwd": os.getcwd(), "env": env}
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])

    def forward(signum: int, _frame: object) -> None:
        conn.send(json.dumps({"signal": signum}).encode())

    for signum in FORWARDED:
        signal.signal(signum, forward)
    while True:
        message = conn.recv(4096)
        if not message:  # the server went away without saying how the kernel ended
            return 1
        reply = json.loads(message)
        if "exit" in reply:
            break
    code = reply["exit"]
    if code < 0:  # the kernel died of a signal: so does its stand-in, as jupyter_client expects
        if -code in FORWARDED:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
