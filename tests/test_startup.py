"""Start-up: the quick commands must not pay for the heavy libraries.

``exsim --help``, ``exsim validate``, ``exsim route`` and ``exsim gwart`` need
the scenario loader, the organization and the router, never pandas (results
tables), SciPy (confidence intervals), matplotlib (figures), Dask (clusters),
networkx (figures; routing's path search is a plain heap) or NumPy (the
simulation's random streams and counters); importing those took over a second. This checks what a fresh interpreter has
imported, not how long it took, so it holds on a loaded machine too.
"""

import json
import sys
from pathlib import Path

import pytest

from tests.stall import run

CONTOSO = str(Path(__file__).resolve().parent.parent / "scenarios" / "contoso.toml")

HEAVY = ("pandas", "scipy", "matplotlib", "dask", "distributed", "networkx", "numpy")

# Import the modules, then report which heavy top-level packages ended up in sys.modules.
PROBE = """
import json, sys
for module in sys.argv[2:]:
    __import__(module)
{action}
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set(sys.argv[1].split(",")))))
"""


def heavy_imports(*modules: str, action: str = "") -> list[str]:
    done = run([sys.executable, "-c", PROBE.format(action=action), ",".join(HEAVY), *modules], check=True)
    return json.loads(done.stdout)


def test_importing_the_cli_imports_no_heavy_library():
    assert heavy_imports("exsim.cli") == []


def test_the_probe_sees_a_heavy_import():
    # The same probe, on a module that does need pandas: it must report it, or the
    # test above could pass by never seeing anything.
    assert "pandas" in heavy_imports("exsim.experiment")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["validate", CONTOSO],
        ["gwart", CONTOSO],
        ["route", CONTOSO, "--from", "RED-EX1", "--to", "BJones"],
    ],
)
def test_quick_commands_import_no_heavy_library(argv):
    action = (
        "from click.testing import CliRunner\n"
        "from exsim.cli import cli\n"
        f"result = CliRunner().invoke(cli, {argv!r})\n"
        "assert result.exit_code == 0, result.output\n"
    )
    assert heavy_imports(action=action) == []
