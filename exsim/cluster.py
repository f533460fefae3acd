"""Running an experiment's runs on a Dask distributed cluster.

``scheduler`` is the address of an existing scheduler (``tcp://host:8786``) or
``"local"``, which starts a LocalCluster of worker processes on this machine
(for a demonstration, or a machine without a cluster). Runs are submitted as
plain data and come back as plain records, in whatever order they finish; the
experiment sorts them, so the results equal a serial run's.

A cluster can give out under a running experiment. When it has had no worker
at all, or exsim has lost its connection to the scheduler, for
:data:`CLUSTER_TIMEOUT_S` seconds (60 by default; the environment variable
``EXSIM_CLUSTER_TIMEOUT`` changes it), the experiment stops with a
:class:`ClusterError` saying which; the runs finished so far are saved and
``exsim run ... --resume`` finishes the rest once the cluster is back.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Iterable
from typing import Any

#: Seconds without a worker, or without the scheduler, before an experiment gives up.
CLUSTER_TIMEOUT_S = 60.0
#: How long a Client waits for a scheduler's answer before exsim says "cannot connect".
CONNECT_TIMEOUT = "10s"
#: LocalCluster options for a cluster that listens on no fixed port: no dashboard, and the
#: scheduler's own HTTP endpoint (which it starts even without one, on 8787 by default) on a
#: free port, so two clusters on one machine never contend for a port.
NO_FIXED_PORTS: dict[str, Any] = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
#: How often the wait for results looks at the cluster's health.
_POLL_S = 1.0


class ClusterError(Exception):
    """The cluster cannot be used (Dask missing, a bad or unreachable scheduler, no workers left)."""


def cluster_timeout_s() -> float:
    """:data:`CLUSTER_TIMEOUT_S`, or ``EXSIM_CLUSTER_TIMEOUT`` when set to a positive number."""
    try:
        value = float(os.environ.get("EXSIM_CLUSTER_TIMEOUT", CLUSTER_TIMEOUT_S))
    except ValueError:
        return CLUSTER_TIMEOUT_S
    return value if 0 < value < float("inf") else CLUSTER_TIMEOUT_S


def execute_on_dask(args: list[tuple[Any, ...]], scheduler: str) -> Iterable[dict[str, Any]]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("--scheduler needs Dask: pip install 'exsim[cluster]'") from None
    from exsim.experiment import execute_run

    cluster = None
    failure: str | None = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(
                n_workers=min(len(args), os.cpu_count() or 1),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                **NO_FIXED_PORTS,
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except Exception as exc:
        # OSError/TimeoutError: nobody answers; ValueError/TypeError: not an address at all.
        # Dask raises other kinds too (an AssertionError from its connection set-up was seen
        # in CI for an unknown protocol): any failure to make the client is "cannot connect".
        failure = f"--scheduler {scheduler}: cannot connect ({exc})"
    if failure is not None:
        # The Client that failed half-way lives on in a reference cycle. Collected at some
        # later moment, its __del__ closes Dask's shared event-loop runner; if that moment
        # falls inside the next Client's start-up (a second run in the same process), the
        # close waits for a lock the start-up holds, for ever. Collect it now, while nothing
        # holds that lock (the exception, which kept its frames alive, is gone).
        gc.collect()
        if cluster is not None:
            cluster.close()
        raise ClusterError(failure)
    try:
        futures = [client.submit(execute_run, *arg, pure=False) for arg in args]
        yield from _results(client, futures, scheduler)
    finally:
        with contextlib.suppress(Exception):  # a client of a lost scheduler may not close cleanly
            client.close(timeout=5)
        if cluster is not None:
            cluster.close()


def _results(client: Any, futures: list[Any], scheduler: str) -> Iterable[dict[str, Any]]:
    """Each run's record as it finishes; a :class:`ClusterError` when the cluster stays unusable."""
    from dask.distributed import wait

    timeout = cluster_timeout_s()
    pending = set(futures)
    unhealthy_since: float | None = None
    while pending:
        try:
            finished, pending = wait(pending, timeout=_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished within the poll: look at the cluster's health
            finished = set()
        for future in finished:
            try:
                yield future.result()
            except Exception as exc:  # execute_run never raises: the cluster failed
                raise ClusterError(
                    f"--scheduler {scheduler}: a run was lost ({type(exc).__name__}: {exc})"
                ) from None
        if finished:
            unhealthy_since = None
            continue
        problem = _health_problem(client)
        if problem is None:
            unhealthy_since = None
            continue
        now = time.monotonic()
        unhealthy_since = unhealthy_since if unhealthy_since is not None else now
        if now - unhealthy_since >= timeout:
            raise ClusterError(f"--scheduler {scheduler}: {problem} for {timeout:g} s")


def _health_problem(client: Any) -> str | None:
    """What keeps the cluster from running anything, or None when it can."""
    if client.status != "running":
        return "lost the connection to the scheduler"
    try:
        workers = client.scheduler_info().get("workers", {})
    except Exception:  # any failure to ask is the scheduler gone
        return "no answer from the scheduler"
    return None if workers else "the cluster has had no workers"
