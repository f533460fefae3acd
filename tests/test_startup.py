"""Start-up: the quick commands must not pay for the heavy libraries.

``exsim --help``, ``exsim validate``, ``exsim route`` and ``exsim gwart`` need
the scenario loader, the organization and the router, never pandas (results
tables), SciPy (confidence intervals), matplotlib (figures), Dask (clusters),
networkx (figures; routing's path search is a plain heap), NumPy or SimPy (the
simulation); importing those took over a second. Nor does each need all of
exsim's own: ``--help`` loads no scenario (pydantic), a command that prints only
lines of plain text needs no rich console, one without a table no rich table
(nor one whose tables of plain text go to a pipe or a file: they are drawn as rich
would draw them, without rich), validating a scenario needs neither the router nor the event log,
and only a command that prints JSON needs json. This
checks what a fresh interpreter has imported, not how long it took, so it holds
on a loaded machine too.
"""

import inspect
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.stall import run

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
CONTOSO = str(SCENARIOS / "contoso.toml")
# Every bundled scenario: sweeps, constraints and expectations are checked too (a sweep's
# variable names against the results' columns, which once imported the whole simulator).
BUNDLED = sorted(str(p) for p in [*SCENARIOS.glob("*.toml"), *SCENARIOS.glob("kb/*.toml")])

HEAVY = ("pandas", "scipy", "matplotlib", "dask", "distributed", "networkx", "numpy", "simpy")

# Every probe below asks what a fresh interpreter has imported after it imported some modules or ran
# a command: one interpreter runs them all. It imports what every probe starts with (click's runner
# and exsim's command line), then forks a child per probe, which runs the probe as if in an
# interpreter of its own that had imported just those, and reports which of the watched modules (or
# their submodules) are in sys.modules, or the exception that stopped it. The probes of commands that
# load a scenario are forked from a child that has imported the scenario loader first (SCENARIO_LOADER:
# what each of those commands imports anyway, about 0.25 CPU-s a probe): importing it earlier only
# adds to what a probe sees in sys.modules, never hides anything. The probes import nothing but os
# and sys themselves (json is watched too): the cases are a Python literal in the source and each
# report is a line of text. A probe that asks something else of a fresh interpreter (what pydantic
# looked up, which validators it built) puts its answer, a line of words, in the variable 'found'
# instead. Each test asserts its own probe's report.
PROBE = """
import os
import sys

import click.testing
import exsim.cli


def probe(cases):
    for name, (modules, action, watched) in cases.items():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                for module in modules:
                    __import__(module)
                namespace = {{}}
                exec(action, namespace)
                report = " ".join(w for w in watched if any(m == w or m.startswith(w + ".") for m in sys.modules))
                report = namespace.get("found", report)
            except BaseException as exc:
                report = "!" + " ".join(repr(exc).split())
            os.write(write, report.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            report = pipe.read().decode()
        os.waitpid(pid, 0)
        print(name + ":" + report, flush=True)


sys.stdout.flush()
for first, cases in {groups!r}:
    if not first:
        probe(cases)
        continue
    pid = os.fork()
    if pid == 0:
        try:
            for module in first:
                __import__(module)
        except BaseException as exc:
            for name in cases:
                print(name + ":!" + " ".join(repr(exc).split()), flush=True)
        else:
            probe(cases)
        os._exit(0)
    os.waitpid(pid, 0)
"""


# Settings that make rich treat a pipe as a terminal, so that a table goes through rich (styled):
# the probe runs without them, as a command whose output is piped or redirected normally does.
TERMINAL_SETTINGS = ("FORCE_COLOR", "TTY_COMPATIBLE")

ROUTE = ["route", CONTOSO, "--from", "RED-EX1", "--to", "BJones"]

#: The quick commands, and what each must not import besides the heavy libraries.
QUICK = {
    "help": (["--help"], ("pydantic", "rich", "exsim.scenario", "json")),
    "validate": (["validate", CONTOSO], ("rich", "exsim.routing", "exsim.logs", "json")),
    "validate-all": (["validate", *BUNDLED], ("rich", "exsim.routing")),
    "gwart-json": (["gwart", CONTOSO, "--json"], ("rich", "exsim.logs")),
    "gwart": (["gwart", CONTOSO], ("rich", "exsim.logs", "json")),
    "route": (ROUTE, ("rich.table", "exsim.logs", "json")),
}


def command(argv: list[str], *checks: str) -> str:
    """A probe's action: run the command in-process, as `exsim ARGV` would, and expect success."""
    return "\n".join(
        [
            "from click.testing import CliRunner",
            "from exsim.cli import cli",
            f"result = CliRunner().invoke(cli, {argv!r})",
            "assert result.exit_code == 0, result.output",
            *checks,
        ]
    )


#: Each probe: the modules it imports, the code it runs, the modules it watches.
PROBES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "import exsim.cli": (("exsim.cli",), "", HEAVY),
    # exsim.results reads results tables with pandas at import, and imports less else than the
    # experiment runner (SciPy's statistics).
    "import exsim.results": (("exsim.results",), "", HEAVY),
    **{name: ((), command(argv), HEAVY + unneeded) for name, (argv, unneeded) in QUICK.items()},
    # show prints contoso's sites with a styled cell (Tokyo's PRMD 'none' in red), so rich's
    # table module draws that table.
    "show": ((), command(["show", CONTOSO]), ("rich.table", "exsim.routing")),
    # trace simulates (SimPy, NumPy), but picking a sweep point needs nothing of the experiment
    # runner's tables and statistics: the lessons call it often, at a second of imports each.
    "trace": (
        (),
        command(
            ["trace", str(SCENARIOS / "q166866.toml"), "--point", "3", "--first-ndr"],
            "assert 'non-delivery' in result.output.lower() or 'ndr' in result.output.lower(), result.output",
        ),
        ("pandas", "scipy", "exsim.experiment"),
    ),
}


# The console entry point with importlib.metadata.entry_points watched: pydantic's plugin look-up
# reads every installed distribution's entry points through it (pydantic.plugin._loader imports the
# function when a validator is first built, so replacing it beforehand catches the call). Found: the
# entry-point groups read, in order.
PLUGIN_PROBE = """
import contextlib, importlib.metadata, io, os, sys
{setting}
groups = []
real = importlib.metadata.entry_points
def watched(*args, **options):
    groups.append(options.get("group"))
    return real(*args, **options)
importlib.metadata.entry_points = watched
from exsim.cli import main
sys.argv = ["exsim", "validate", {scenario!r}]
printed = io.StringIO()
try:
    with contextlib.redirect_stdout(printed):
        main()
except SystemExit as exc:
    assert exc.code == 0, exc.code
assert "valid" in printed.getvalue(), printed.getvalue()
found = " ".join(map(str, groups))
"""
#: The plugin probes: the variable unset, and set by the user (empty: every plugin enabled).
PLUGIN_SETTINGS = {
    "plugins unset": 'os.environ.pop("PYDANTIC_DISABLE_PLUGINS", None)',
    "plugins enabled by the user": 'os.environ["PYDANTIC_DISABLE_PLUGINS"] = ""',
}
PROBES.update(
    {
        name: ((), PLUGIN_PROBE.format(setting=setting, scenario=CONTOSO), ())
        for name, setting in PLUGIN_SETTINGS.items()
    }
)
# validate, gwart and route one after the other, then which scenario models pydantic reports complete.
VALIDATOR_PROBE = """
from click.testing import CliRunner
from pydantic import BaseModel
from exsim.cli import cli
for argv in {commands!r}:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
from exsim.scenario import schema
models = [m for m in vars(schema).values() if isinstance(m, type) and issubclass(m, BaseModel)]
assert len(models) > 40, len(models)
found = " ".join(m.__name__ for m in models if m.__pydantic_complete__)
"""
PROBES["validators built"] = (
    (),
    VALIDATOR_PROBE.format(commands=[["validate", CONTOSO], ["gwart", CONTOSO], ROUTE]),
    (),
)


#: What every command that loads a scenario file imports first.
SCENARIO_LOADER = ("exsim.scenario",)
#: The probes that run such a command: forked from a child that has imported SCENARIO_LOADER.
LOADING_A_SCENARIO = ("validate", "validate-all", "gwart-json", "gwart", "route", "show", "trace")


@pytest.fixture(scope="module")
def probed() -> dict[str, str]:
    """Each probe's report: the watched modules imported, space-separated, or '!' and an error."""
    env = {name: value for name, value in os.environ.items() if name not in TERMINAL_SETTINGS}
    groups = [
        ((), {name: case for name, case in PROBES.items() if name not in LOADING_A_SCENARIO}),
        (SCENARIO_LOADER, {name: PROBES[name] for name in LOADING_A_SCENARIO}),
    ]
    output = run([sys.executable, "-c", PROBE.format(groups=groups)], check=True, env=env).stdout
    reports = dict(line.split(":", 1) for line in output.splitlines() if line.split(":", 1)[0] in PROBES)
    assert set(reports) == set(PROBES)  # every probe reported
    return reports


def imported(probed: dict[str, str], name: str) -> list[str]:
    report = probed[name]
    assert not report.startswith("!"), report
    return report.split()


def test_importing_the_cli_imports_no_heavy_library(probed):
    assert imported(probed, "import exsim.cli") == []


def test_the_probe_sees_a_heavy_import(probed):
    # The same probe, on a module that does need pandas: it must report it, or the test above
    # could pass by never seeing anything.
    assert "pandas" in imported(probed, "import exsim.results")


@pytest.mark.parametrize("name", list(QUICK))
def test_quick_commands_import_no_heavy_library(probed, name):
    assert imported(probed, name) == []


def test_the_probe_sees_what_a_command_imports(probed):
    # The probe must see what a command imports, or the test above could pass by never seeing it.
    assert imported(probed, "show") == ["rich.table", "exsim.routing"]


def test_tracing_one_sweep_point_imports_no_pandas_or_scipy(probed):
    assert imported(probed, "trace") == []


def _scenario_models() -> list[Any]:
    from pydantic import BaseModel

    from exsim.scenario import schema

    models = [m for m in vars(schema).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    assert len(models) > 40  # every model of the scenario file, not an empty list by mistake
    return models


def test_the_scenario_models_annotations_are_objects_not_text():
    # Written as text (``from __future__ import annotations``), every field's annotation would be
    # compiled and evaluated by pydantic when the models are defined, at each start of a command
    # that loads a scenario. Written as objects, pydantic reads them as they are.
    models = _scenario_models()
    as_text = [
        f"{model.__name__}.{name}"
        for model in models
        for name, annotation in vars(model).get("__annotations__", {}).items()
        if isinstance(annotation, str)
    ]
    assert as_text == []


def test_the_scenario_models_default_factories_are_python_functions():
    # pydantic reads each default factory's signature when it builds the validator (does the
    # factory take the data validated so far?). A builtin's, such as list's, is text that
    # inspect tokenizes, compiling the tokenize module's regular expressions at each start of a
    # command that loads a scenario; a Python function's is read directly.
    factories = [
        (f"{model.__name__}.{name}", field.default_factory)
        for model in _scenario_models()
        for name, field in model.model_fields.items()
        if field.default_factory is not None
    ]
    assert len(factories) > 10  # the lists' defaults are among them
    assert [name for name, factory in factories if not inspect.isfunction(factory)] == []


@pytest.mark.parametrize(
    ("name", "groups"),
    [("plugins unset", []), ("plugins enabled by the user", ["pydantic"])],
    ids=["unset-no-look-up", "user-enables-plugins"],
)
def test_the_command_makes_no_pydantic_plugin_look_up_unless_the_user_asks(probed, name, groups):
    # Unset, the command disables pydantic's plugins and no entry point is read; a user who sets
    # the variable (here empty: every plugin enabled) keeps it, and pydantic looks plugins up.
    assert imported(probed, name) == groups


@pytest.mark.parametrize("setting", [None, "some_plugin"], ids=["unset", "set-by-the-user"])
def test_the_entry_point_disables_plugins_only_while_it_runs_and_only_when_unset(monkeypatch, setting):
    # What the command sees while it runs, and what is left afterwards: a notebook running
    # %exsim (exsim.notebook calls main in its own process) must keep its own environment.
    from exsim import cli

    seen = []
    monkeypatch.setattr(cli.cli, "main", lambda **options: seen.append(os.environ.get(cli.PLUGINS_VARIABLE)))
    if setting is None:
        monkeypatch.delenv(cli.PLUGINS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(cli.PLUGINS_VARIABLE, setting)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == cli.EXIT_OK
    assert seen == ["__all__" if setting is None else setting]
    assert os.environ.get(cli.PLUGINS_VARIABLE) == setting


def test_the_quick_commands_build_one_validator_the_scenarios(probed):
    # The scenario models defer building their validators (defer_build): a scenario is validated
    # as a whole, so the quick commands build one validator, the Scenario's, which covers every
    # nested model, instead of one for each of the 47 models at import (about 30 million more
    # instructions at each start). Checked by which models pydantic reports complete afterwards.
    assert imported(probed, "validators built") == ["Scenario"]
