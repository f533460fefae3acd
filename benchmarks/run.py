"""exsim against the yardsticks, side by side in one invocation.

    python benchmarks/run.py [--repetitions N] [--shapes org,mesh,...] [--quick] [--cpu] [--big] [--json]

Prints:

* for each traffic shape of ``shapes.py`` (the 10-site benchmark organization,
  single-recipient mail across a full mesh and across a ring of sites, heavy Internet
  mail through one IMS, a large distribution list): the median recipients simulated
  per wall second of exsim, the bare-SimPy reference (``reference_simpy.py``) and the
  Ciw network (``ciw_model.py``), run alternately in this one process so that machine
  noise hits all three alike, and exsim's ratio to each (``--cpu``: per CPU second,
  for a machine other jobs are loading);
* for the organization, exsim with its time series on at a 10-minute resolution, to
  show what collecting them costs;
* unless ``--quick``: exsim's peak resident memory for 1 and 10 simulated days of the
  organization (each in a fresh process) and their ratio — memory must stay flat in
  simulated time — the wall time of a sweep (8 runs) on 2 worker processes
  against 1, and the bytes a queued recipient holds (``memory.py``);
* with ``--big``: a simulated week of the 20-site, 10,000-user organization
  (``scenarios/bench20.toml``), and of the 100-site, 300-server, 60,000-user hub-and-spoke
  one (``scenarios/bench100.toml``) the first 30 minutes of the working day and the whole
  day, each in a fresh process: CPU seconds, peak memory, the recipients still pending at
  the end, and what building the 100-site simulation costs before any mail moves.

exsim runs with the event log on and the tracking log off. Ciw comes with the
benchmarks' own extra, ``pip install ".[bench]"`` (it is not a dependency of exsim).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes

HERE = Path(__file__).resolve().parent
BENCH10 = HERE / "scenarios" / "bench10.toml"
BENCH20 = HERE / "scenarios" / "bench20.toml"
BENCH100 = HERE / "scenarios" / "bench100.toml"
#: What --big runs, each in a fresh interpreter: a week of the 20-site organization, and of the
#: 100-site one the first 30 minutes of the working day (09:00-09:30) and the whole day.
BIG_RUNS = (
    ("big_week", BENCH20, "7d"),
    ("bench100_30min", BENCH100, "9h30m"),
    ("bench100_day", BENCH100, "1d"),
)
BIG_LABELS = {"big_week": "7 days", "bench100_30min": "to 09:30", "bench100_day": "1 day"}

#: What the rates are measured with: wall time, or with --cpu this process's CPU time (all
#: three models run single-threaded in this process, so on a machine that other jobs load,
#: CPU seconds still compare them fairly where wall seconds do not).
clock = time.perf_counter

# Run in a fresh interpreter: build the simulation, run it, and report as JSON what that cost
# (CPU and wall seconds, peak RSS in KB after set-up and at the end) and what it simulated.
CHILD = """
import json, resource, sys, time
from exsim import load_scenario
from exsim.sim.model import Simulation
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu, wall = time.process_time(), time.perf_counter()
sim = Simulation(load_scenario(sys.argv[1]).modified({"run.duration": sys.argv[2]}))
setup_cpu, setup_rss = time.process_time() - cpu, rss()
result = sim.run()
print(json.dumps({
    "recipients": result.recipients, "delivered": result.delivered, "pending": result.pending,
    "ndr": result.ndr, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
    "setup_cpu_s": setup_cpu, "setup_rss_kb": setup_rss, "peak_rss_kb": rss(),
}))
"""


def exsim_rate(path: Path = BENCH10, time_series: bool = False) -> float:
    from exsim import load_scenario, simulate

    scenario = load_scenario(path).modified(
        {"run.time_series": time_series, "run.time_series_interval": "10m"}
    )
    started = clock()
    result = simulate(scenario)
    return result.recipients / (clock() - started)


def reference_rate(path: Path = BENCH10) -> float:
    import reference_simpy

    started = clock()
    _, delivered = reference_simpy.simulate(1.0, path)
    return delivered / (clock() - started)


def ciw_rate(path: Path = BENCH10) -> float | None:
    try:
        import ciw_model
    except ImportError:
        return None
    started = clock()
    completed = ciw_model.simulate(1.0, path)
    return completed / (clock() - started)


def warm_up(path: Path) -> None:
    """Each model's first hour of the working day on ``path``, untimed, so that no model's timed
    runs include what its first run alone does (exsim imports its simulator when it first
    builds a simulation, for example)."""
    from exsim import load_scenario, simulate

    simulate(load_scenario(path).modified({"run.duration": "10h", "run.time_series": False}))
    import reference_simpy

    reference_simpy.simulate(10 / 24, path)  # days from midnight: 09:00-10:00 is working time
    try:
        import ciw_model
    except ImportError:
        return
    ciw_model.simulate(1 / 8, path)  # working days of 8 hours: the first hour


def timed(model: Callable[[Path], float | None], path: Path) -> float | None:
    """One model's run on ``path`` (its rate), started in the same state as every other run.

    Whatever the models before it left in this process (above all Ciw's large heap) is collected
    and then frozen, out of the collector's reach, until the run is over: no model's collections
    scan another model's objects, and none starts with a young generation half full of
    another's."""
    gc.collect()
    gc.freeze()
    try:
        return model(path)
    finally:
        gc.unfreeze()


def shape_rates(shape: str, path: Path, repetitions: int) -> dict[str, float | None]:
    """Median rates of the three models on one shape, run alternately, and exsim's ratios.

    Each model first runs an hour of the working day untimed (:func:`warm_up`).
    The order of the models reverses at every repetition (exsim, reference, Ciw, then Ciw,
    reference, exsim), so that no model always runs first or after the same one. A ratio is the
    median of the repetitions' own ratios, each exsim run against the yardstick's run of the
    same repetition: on a shared machine the speed of everything drifts over seconds, and runs
    close in time share most of that drift, where two medians taken apart (the ratio of the
    medians) do not.
    """
    models: dict[str, Callable[[Path], float | None]] = {"exsim": exsim_rate}
    if shape == "org":  # next to exsim's own run, which its slowdown is measured against
        models["exsim_time_series"] = partial(exsim_rate, time_series=True)
    models |= {"reference": reference_rate, "ciw": ciw_rate}
    warm_up(path)
    rates: dict[str, list[float]] = {name: [] for name in models}
    for repetition in range(repetitions):
        for name in list(models)[:: 1 if repetition % 2 == 0 else -1]:
            rate = timed(models[name], path)
            if rate is not None:
                rates[name].append(rate)
    median: dict[str, float | None] = {k: statistics.median(v) if v else None for k, v in rates.items()}
    exsim, reference, ciw = rates["exsim"], rates["reference"], rates["ciw"]
    median["over_reference"] = statistics.median(e / r for e, r in zip(exsim, reference, strict=True))
    median["over_ciw"] = statistics.median(e / c for e, c in zip(exsim, ciw, strict=True)) if ciw else None
    if shape == "org":
        median["time_series_slowdown"] = statistics.median(
            e / t - 1 for e, t in zip(exsim, rates["exsim_time_series"], strict=True)
        )
    return median


def fresh_run(scenario: Path, duration: str) -> dict[str, float]:
    """One run of ``scenario`` for ``duration`` in a fresh interpreter: what ``CHILD`` reports."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(scenario), duration], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def sweep_wall(workers: int) -> float:
    from exsim import load_scenario, run_experiment

    scenario = load_scenario(BENCH10)
    started = time.perf_counter()
    run_experiment(scenario, workers=workers, replications=8)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3, help="alternating repetitions (default 3)")
    parser.add_argument(
        "--shapes", default=",".join(shapes.SHAPES), help="comma-separated traffic shapes (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="only the shapes' rates (no memory, no sweep)")
    parser.add_argument("--big", action="store_true", help="also run the 20-site week and the 100-site day")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--cpu", action="store_true", help="rates per CPU second instead of wall second")
    args = parser.parse_args()
    global clock
    if args.cpu:
        clock = time.process_time
    chosen = args.shapes.split(",")
    for shape in chosen:
        if shape not in shapes.SHAPES:
            parser.error(f"--shapes: unknown shape {shape!r} (shapes: {', '.join(shapes.SHAPES)})")

    folder = Path(tempfile.mkdtemp(prefix="exsim-bench-"))
    by_shape = {shape: shape_rates(shape, shapes.write(shape, folder), args.repetitions) for shape in chosen}
    results: dict = {"shapes": by_shape, "repetitions": args.repetitions}
    org = by_shape.get("org")
    if org is not None:
        results["time_series_slowdown"] = org["time_series_slowdown"]
    if not args.quick:
        one_day, ten_days = fresh_run(BENCH10, "1d"), fresh_run(BENCH10, "10d")
        wall_1, wall_2 = sweep_wall(1), sweep_wall(2)
        import memory

        per_recipient, _ = memory.bytes_per_queued_recipient()
        results |= {
            "bytes_per_queued_recipient": per_recipient,
            "peak_rss_kb": {"1d": one_day["peak_rss_kb"], "10d": ten_days["peak_rss_kb"]},
            "rss_ratio_10d_over_1d": ten_days["peak_rss_kb"] / one_day["peak_rss_kb"],
            "sweep_wall_s": {"1 worker": wall_1, "2 workers": wall_2},
            "sweep_ratio_2_over_1": wall_2 / wall_1,
        }
    if args.big:
        for key, path, duration in BIG_RUNS:
            results[key] = fresh_run(path, duration)
    if args.json:
        print(json.dumps(results, indent=2))
        return

    rows = []
    for shape, m in by_shape.items():
        ciw = f"{m['ciw']:,.0f}" if m["ciw"] else "ciw not installed"
        rows += [
            (f"{shape}: recipients / s, exsim", f"{m['exsim']:,.0f}", ""),
            (f"{shape}: recipients / s, bare-SimPy reference", f"{m['reference']:,.0f}", ""),
            (f"{shape}: completed customers / s, Ciw", ciw, ""),
            (f"{shape}: exsim / reference", f"{m['over_reference']:.2f}x", ">= 1.5x"),
            (f"{shape}: exsim / Ciw", f"{m['over_ciw']:.2f}x" if m["over_ciw"] else "-", ">= 5x"),
        ]
    if "time_series_slowdown" in results:
        rows.append(
            ("slowdown with time series on (10 min)", f"{results['time_series_slowdown']:+.1%}", "<= 10 %")
        )
    if not args.quick:
        rows += [
            ("exsim peak RSS, 1 day", f"{one_day['peak_rss_kb'] / 1024:,.0f} MB", ""),
            ("exsim peak RSS, 10 days", f"{ten_days['peak_rss_kb'] / 1024:,.0f} MB", ""),
            ("RSS 10 days / 1 day", f"{results['rss_ratio_10d_over_1d']:.2f}", "<= 1.25"),
            ("sweep of 8 runs, 1 worker", f"{wall_1:.1f} s", ""),
            ("sweep of 8 runs, 2 workers", f"{wall_2:.1f} s", ""),
            ("2 workers / 1 worker", f"{results['sweep_ratio_2_over_1']:.2f}", "<= 0.6"),
            ("memory per queued recipient (memory.py)", f"{per_recipient:,.0f} bytes", "<= 1 KB"),
        ]
    if args.big:
        for key, path, _duration in BIG_RUNS:
            big = results[key]
            rows += [
                (
                    f"{path.stem}, {BIG_LABELS[key]}",
                    f"{big['recipients']:,} recipients, {big['cpu_s']:,.0f} CPU-s",
                    "< 120 s" if key == "bench100_day" else "",
                ),
                (
                    "  its peak RSS",
                    f"{big['peak_rss_kb'] / 1024:,.0f} MB",
                    "< 1 GB" if key == "bench100_day" else "",
                ),
                ("  left pending at the end", f"{big['pending']:,} recipients", ""),
            ]
        first = results["bench100_30min"]
        rows.append(
            (
                "bench100, set-up (load, organization, GWARTs, components)",
                f"{first['setup_cpu_s']:.1f} CPU-s, {first['setup_rss_kb'] / 1024:,.0f} MB",
                "",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>34}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>34}  {target}")


if __name__ == "__main__":
    main()
