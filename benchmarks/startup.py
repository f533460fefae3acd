"""How long the quick commands take to start: ``--help``, ``validate``, ``gwart``, ``route``.

    python benchmarks/startup.py [--repetitions N] [--instructions] [--installed]
                                 [--scenario FILE --from SERVER --to ADDRESS]

Each command runs N times in a fresh interpreter (``python -m exsim ...``, or with
``--installed`` the ``exsim`` console script installed beside this interpreter, as a user
of ``pip install .`` has it); the table gives the least and the median CPU seconds (user +
system, what other jobs on a loaded machine change least) and wall seconds of the runs. The
floors come first, step by step: the interpreter alone, then with click, with pydantic, with
the import of pydantic's plugin loader (``importlib.metadata``), a program that validates one
pydantic model of one field, and one that defines 47 models of one field (as many as the
scenario schema has) and validates one. The floors run with ``PYDANTIC_DISABLE_PLUGINS=__all__``,
as the ``exsim`` command does (so pydantic reads no distribution's entry points; it imports
its plugin loader all the same). What a command takes above its floor is exsim's own start-up.

``--instructions`` runs each once under valgrind's callgrind instead and gives the
instructions it executed, in millions: a figure the machine's load does not change.

Python compiles a module it has no up-to-date ``.pyc`` for at every start when it may
not write one (``PYTHONDONTWRITEBYTECODE``): with an editable install that is all of
exsim, about a tenth of a second. The script says so when it sees that case;
``python -m compileall exsim`` writes the ``.pyc`` files once.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOORS = {
    "python": "pass",
    "+ click": "import click",
    "+ pydantic": "import click; from pydantic import BaseModel",
    "+ plugin loader imported": "import click; from pydantic import BaseModel; import pydantic.plugin._loader",
    "+ one model validated": (
        "import click\nfrom pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM.model_validate({'x': 1})"
    ),
    # pydantic's own cost per model class, whatever its fields: exsim's schema has 47.
    "+ 47 one-field models": (
        "import click\nfrom pydantic import BaseModel, ConfigDict\n"
        + "".join(
            f"class M{i}(BaseModel):\n    model_config = ConfigDict(defer_build=True)\n    x: int\n"
            for i in range(47)
        )
        + "M0.model_validate({'x': 1})"
    ),
}
#: What the exsim command sets for itself (exsim/cli.py), so the floors set it too.
FLOOR_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}


def measure(argv: list[str], repetitions: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """CPU and wall seconds of each of ``repetitions`` runs of ``argv``."""
    cpus, walls = [], []
    for _ in range(repetitions):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        # wait() without a timeout blocks in waitpid and returns the moment the command ends;
        # with one, Python polls with sleeps of up to 50 ms, which rounded every wall time up to
        # the next 50 ms step. A timer kills a command that hangs instead.
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
        guard = threading.Timer(120, process.kill)
        guard.start()
        try:
            code = process.wait()
        finally:
            guard.cancel()
        walls.append(time.perf_counter() - started)
        if code != 0:
            raise subprocess.CalledProcessError(code, argv)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return cpus, walls


def instructions(argv: list[str], env: dict[str, str]) -> float:
    """Millions of instructions ``argv`` executes, counted by valgrind's callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=600,
            env=env,
        )
        totals = [line for line in out.read_text().splitlines() if line.startswith(("summary:", "totals:"))]
    return int(totals[0].split()[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind) instead")
    parser.add_argument(
        "--installed", action="store_true", help="run the exsim console script beside this interpreter"
    )
    parser.add_argument("--scenario", default="scenarios/contoso.toml")
    parser.add_argument("--from", dest="server", default="RED-EX1", help="route's --from")
    parser.add_argument("--to", dest="address", default="BJones", help="route's --to")
    args = parser.parse_args()
    no_pyc = not (ROOT / "exsim" / "__pycache__").is_dir()
    if no_pyc and (sys.flags.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE")):
        print("note: PYTHONDONTWRITEBYTECODE is set and exsim has no .pyc files: every start compiles it")
    commands = {f"floor: {name}": [sys.executable, "-c", code] for name, code in FLOORS.items()}
    exsim = [sys.executable, "-m", "exsim"]
    if args.installed:
        script = Path(sys.executable).parent / "exsim"
        if not script.is_file():
            parser.error(f"no console script {script}: pip install . into this interpreter's environment")
        exsim = [str(script)]
    commands |= {
        "exsim --help": [*exsim, "--help"],
        "exsim validate": [*exsim, "validate", args.scenario],
        "exsim gwart": [*exsim, "gwart", args.scenario],
        "exsim route": [*exsim, "route", args.scenario, "--from", args.server, "--to", args.address],
    }
    # The commands run in this environment as it is (exsim sets the plugin switch itself);
    # the floors with the switch the command sets.
    environments = {
        name: os.environ | FLOOR_ENVIRONMENT if name.startswith("floor") else dict(os.environ)
        for name in commands
    }
    if args.instructions:
        print(f"{'command':30s} {'M instructions':>14s}")
        for name, argv in commands.items():
            print(f"{name:30s} {instructions(argv, environments[name]):14.1f}")
        return
    print(f"{'command':30s} {'CPU s min':>9s} {'median':>7s} {'wall s min':>10s} {'median':>7s}")
    for name, argv in commands.items():
        cpus, walls = measure(argv, args.repetitions, environments[name])
        print(
            f"{name:30s} {min(cpus):9.3f} {statistics.median(cpus):7.3f} "
            f"{min(walls):10.3f} {statistics.median(walls):7.3f}"
        )


if __name__ == "__main__":
    main()
