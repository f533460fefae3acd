"""exsim against the yardsticks, side by side in one invocation.

    python benchmarks/run.py [--repetitions N] [--big] [--json]

Prints, for the 10-site benchmark organization (``scenarios/bench10.toml``):

* median recipients simulated per wall second for exsim (time series off, and
  on at a 10-minute resolution, to show what collecting them costs), the bare-SimPy
  reference (``reference_simpy.py``) and the Ciw network (``ciw_model.py``),
  run alternately so that machine noise hits all three alike, and the ratios;
* exsim's peak resident memory for 1 and 10 simulated days (each in a fresh
  process) and their ratio — memory must stay flat in simulated time;
* the wall time of a sweep (8 runs) on 2 worker processes against 1;
* with ``--big``: a simulated week of the 20-site, 10,000-user organization
  (``scenarios/bench20.toml``), its wall time and peak memory.

exsim runs with the event log on and the tracking log off. Ciw needs
``pip install ciw`` (it is not a dependency of exsim).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCH10 = HERE / "scenarios" / "bench10.toml"
BENCH20 = HERE / "scenarios" / "bench20.toml"

# Run in a fresh interpreter: simulate, then report recipients, wall seconds and peak RSS (KB).
CHILD = """
import resource, sys, time
from exsim import load_scenario, simulate
scenario = load_scenario(sys.argv[1]).modified({"run.duration": sys.argv[2]})
started = time.perf_counter()
result = simulate(scenario)
wall = time.perf_counter() - started
print(result.recipients, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def exsim_rate(time_series: bool = False) -> float:
    from exsim import load_scenario, simulate

    scenario = load_scenario(BENCH10).modified(
        {"run.time_series": time_series, "run.time_series_interval": "10m"}
    )
    started = time.perf_counter()
    result = simulate(scenario)
    return result.recipients / (time.perf_counter() - started)


def reference_rate() -> float:
    import reference_simpy

    started = time.perf_counter()
    _, delivered = reference_simpy.simulate(1.0)
    return delivered / (time.perf_counter() - started)


def ciw_rate() -> float | None:
    try:
        import ciw_model
    except ImportError:
        return None
    started = time.perf_counter()
    completed = ciw_model.simulate(1.0)
    return completed / (time.perf_counter() - started)


def fresh_run(scenario: Path, duration: str) -> tuple[int, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(scenario), duration], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def sweep_wall(workers: int) -> float:
    from exsim import load_scenario, run_experiment

    scenario = load_scenario(BENCH10)
    started = time.perf_counter()
    run_experiment(scenario, workers=workers, replications=8)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3, help="alternating repetitions (default 3)")
    parser.add_argument("--big", action="store_true", help="also run the 20-site, 10,000-user week")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    rates: dict[str, list[float]] = {"exsim": [], "reference": [], "ciw": [], "exsim_time_series": []}
    for _ in range(args.repetitions):
        rates["exsim"].append(exsim_rate())
        rates["exsim_time_series"].append(exsim_rate(time_series=True))
        rates["reference"].append(reference_rate())
        rate = ciw_rate()
        if rate is not None:
            rates["ciw"].append(rate)
    median = {k: statistics.median(v) if v else None for k, v in rates.items()}
    one_day, ten_days = fresh_run(BENCH10, "1d"), fresh_run(BENCH10, "10d")
    wall_1, wall_2 = sweep_wall(1), sweep_wall(2)
    results = {
        "recipients_per_second": median,
        "exsim_over_reference": median["exsim"] / median["reference"],
        "exsim_over_ciw": median["exsim"] / median["ciw"] if median["ciw"] else None,
        "time_series_slowdown": median["exsim"] / median["exsim_time_series"] - 1,
        "peak_rss_kb": {"1d": one_day[2], "10d": ten_days[2]},
        "rss_ratio_10d_over_1d": ten_days[2] / one_day[2],
        "sweep_wall_s": {"1 worker": wall_1, "2 workers": wall_2},
        "sweep_ratio_2_over_1": wall_2 / wall_1,
        "repetitions": args.repetitions,
    }
    if args.big:
        recipients, wall, rss = fresh_run(BENCH20, "7d")
        results["big_week"] = {"recipients": recipients, "wall_s": wall, "peak_rss_kb": rss}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    rows = [
        ("exsim recipients / s (median)", f"{median['exsim']:,.0f}", "target >= reference"),
        ("bare-SimPy reference recipients / s", f"{median['reference']:,.0f}", ""),
        (
            "Ciw completed customers / s",
            f"{median['ciw']:,.0f}" if median["ciw"] else "ciw not installed",
            "",
        ),
        ("exsim / reference", f"{results['exsim_over_reference']:.2f}x", ">= 1.0x (aim 1.5x)"),
        ("exsim / Ciw", f"{results['exsim_over_ciw']:.2f}x" if results["exsim_over_ciw"] else "-", ""),
        ("slowdown with time series on (10 min)", f"{results['time_series_slowdown']:+.1%}", "<= 10 %"),
        ("exsim peak RSS, 1 day", f"{one_day[2] / 1024:,.0f} MB", ""),
        ("exsim peak RSS, 10 days", f"{ten_days[2] / 1024:,.0f} MB", ""),
        ("RSS 10 days / 1 day", f"{results['rss_ratio_10d_over_1d']:.2f}", "<= 1.25"),
        ("sweep of 8 runs, 1 worker", f"{wall_1:.1f} s", ""),
        ("sweep of 8 runs, 2 workers", f"{wall_2:.1f} s", ""),
        ("2 workers / 1 worker", f"{results['sweep_ratio_2_over_1']:.2f}", "<= 0.6"),
    ]
    if args.big:
        big = results["big_week"]
        rows += [
            (
                "20 sites, 10,000 users, 7 days",
                f"{big['recipients']:,} recipients in {big['wall_s']:.0f} s",
                "",
            ),
            ("  its peak RSS", f"{big['peak_rss_kb'] / 1024:,.0f} MB", ""),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>34}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>34}  {target}")


if __name__ == "__main__":
    main()
