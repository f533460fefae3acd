"""What one queued recipient costs in memory.

    python benchmarks/memory.py [USERS]

Two sites joined by a site connector whose schedule is ``never``: every message, one
recipient each, to the other site waits in the sending MTA's queue to the end of the
run (the lifetime, 7 days, is not reached). The run is traced with ``tracemalloc`` at
two durations, 1 and 2 days; the difference in peak traced memory divided by the
difference in recipients left pending is what each queued recipient holds (its
recipient record, its message and envelope, its address), free of the fixed cost of
building the organization. Target: at most 1 KB.
"""

from __future__ import annotations

import sys
import tracemalloc

from exsim.scenario import validate_raw
from exsim.sim import simulate


def scenario(users: int, duration: str) -> dict:
    return {
        "name": "backlog",
        "organization": {"name": "Contoso"},
        "sites": [
            {"name": "A", "addresses": {"x400": "c=US;a= ;p=Contoso;o=A"}},
            {"name": "B", "addresses": {"x400": "c=US;a= ;p=Contoso;o=B"}},
        ],
        "servers": [{"name": "A1", "site": "A", "users": users}, {"name": "B1", "site": "B", "users": 1}],
        "connectors": [{"name": "AB", "kind": "site", "sites": ["A", "B"], "schedule": "never"}],
        "workload": {
            "profile": "medium",
            "spread": "all_day",
            "recipients_per_message": 1,
            "mix": {
                "same_server": 0.0,
                "same_site": 0.0,
                "other_site": 1.0,
                "internet": 0.0,
                "msmail": 0.0,
                "distribution_list": 0.0,
            },
        },
        "run": {"duration": duration, "seed": 1, "time_series": False},
    }


def traced(users: int, duration: str) -> tuple[int, int]:
    """Peak traced bytes and recipients left pending of one run."""
    run = validate_raw(scenario(users, duration))
    tracemalloc.start()
    result = simulate(run)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, result.pending


def bytes_per_queued_recipient(users: int = 500) -> tuple[float, int]:
    """Bytes per queued recipient, and how many more were queued in the longer run."""
    peak_1, pending_1 = traced(users, "1d")
    peak_2, pending_2 = traced(users, "2d")
    return (peak_2 - peak_1) / (pending_2 - pending_1), pending_2 - pending_1


if __name__ == "__main__":
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    per_recipient, queued = bytes_per_queued_recipient(users)
    print(f"{per_recipient:,.0f} bytes per queued recipient ({queued:,} more queued in the second day)")
