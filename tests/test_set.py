"""``--set PATH=VALUE``: a scenario changed for one command, without editing the file."""

from __future__ import annotations

import json

from tests.clikit import exsim
from tests.conftest import SCENARIOS

CONTOSO = str(SCENARIOS / "contoso.toml")


def test_set_changes_a_connector_cost_for_route_and_gwart():
    # connectors.2 is X.400 Redmond-Tokyo (cost 3). At 20, Redmond-Tokyo-Sydney costs 20 + 5 = 25,
    # dearer than the direct X.400 Redmond-Sydney at 10, which now carries the mail.
    result = exsim("route", CONTOSO, "--from", "RED-EX2", "--to", "BJones", "--set", "connectors.2.cost=20")
    assert result.returncode == 0, result.stderr
    assert "    dropped X.400 Redmond-Tokyo: cost 25 > 10" in result.stdout
    rows = json.loads(
        exsim("gwart", CONTOSO, "--site", "Redmond", "--json", "--set", "connectors.2.cost=20").stdout
    )
    sydney = sorted(
        (r["cost"], r["connector"]) for r in rows["Redmond"] if r["space"] == "/o=Contoso/ou=Sydney"
    )
    assert sydney == [(10, "X.400 Redmond-Sydney"), (25, "X.400 Redmond-Tokyo")]


def test_set_refuses_bad_values_with_exit_2():
    bad = exsim("route", CONTOSO, "--from", "RED-EX2", "--to", "BJones", "--set", "connectors.2.cost=oops")
    assert bad.returncode == 2
    assert "--set connectors.2.cost=oops: 'oops' is not a TOML value" in bad.stderr
    no_equals = exsim("gwart", CONTOSO, "--set", "connectors.2.cost")
    assert no_equals.returncode == 2
    assert "expected PATH=VALUE" in no_equals.stderr
    nothing = exsim("gwart", CONTOSO, "--set", "connectors.99.cost=1")
    assert nothing.returncode == 2
    assert "names nothing in the scenario" in nothing.stderr
    # A value the schema refuses is reported like a bad scenario file (exit 2, no traceback).
    refused = exsim("gwart", CONTOSO, "--set", "connectors.2.cost=-5")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
