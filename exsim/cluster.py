"""Running an experiment's runs on a Dask distributed cluster.

``scheduler`` is the address of an existing scheduler (``tcp://host:8786``) or
``"local"``, which starts a LocalCluster of worker processes on this machine
(for a demonstration, or a machine without a cluster). Runs are submitted as
plain data and come back as plain records, in whatever order they finish; the
experiment sorts them, so the results equal a serial run's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any


class ClusterError(Exception):
    """The cluster cannot be used (Dask missing, scheduler unreachable)."""


def execute_on_dask(args: list[tuple[Any, ...]], scheduler: str) -> Iterable[dict[str, Any]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ClusterError("--scheduler needs Dask: pip install 'exsim[cluster]'") from None
    from exsim.experiment import execute_run

    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(
                n_workers=min(len(args), os.cpu_count() or 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        futures = [client.submit(execute_run, *arg, pure=False) for arg in args]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
