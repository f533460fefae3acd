"""``--set PATH=VALUE``: a scenario changed for one command, without editing the file."""

from __future__ import annotations

import json

import pytest

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


def test_set_names_a_connector_whose_name_holds_a_dot_by_quoting_it():
    # "X.400 Redmond-Tokyo" holds a dot and a space: quoted (or in brackets) it is one segment,
    # and the change is the same as by its index, connectors.2.
    for path in ('connectors."X.400 Redmond-Tokyo".cost', 'connectors["X.400 Redmond-Tokyo"].cost'):
        result = exsim("gwart", CONTOSO, "--site", "Redmond", "--json", "--set", f"{path}=20")
        assert result.returncode == 0, result.stderr
        tokyo = [
            r["cost"] for r in json.loads(result.stdout)["Redmond"] if r["connector"] == "X.400 Redmond-Tokyo"
        ]
        assert 20 in tokyo, path
    # Unquoted, the dots split the name: the message lists the connectors and shows the quoting.
    bare = exsim("gwart", CONTOSO, "--set", "connectors.X.400 Redmond-Tokyo.cost=20")
    assert bare.returncode == 2
    assert "no element of connectors is 'X'; its elements are 'Site Connector (Dublin)', " in bare.stderr
    assert bare.stderr.strip().endswith(
        'a name holding a dot goes in double quotes: connectors."X.400 Redmond-Tokyo".cost'
    )
    misspelt = exsim("gwart", CONTOSO, "--set", "connectors.X400-Redmond-Tokyo.cost=20")
    assert misspelt.stderr.strip().endswith('did you mean connectors."X.400 Redmond-Tokyo".cost?')


def test_set_shows_the_shell_form_of_a_string_value():
    # The shell ate nothing here: 1h is simply not TOML. The fix is TOML's double quotes, kept
    # from the shell by single quotes around the whole setting.
    result = exsim("gwart", CONTOSO, "--set", "run.duration=1h")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "--set run.duration=1h: '1h' is not a TOML value; a string needs double quotes, "
        "kept from the shell by single quotes: --set 'run.duration=\"1h\"'"
    )
    # A missing closing quote: the advice closes it, never offers the broken spelling back.
    unclosed = exsim("gwart", CONTOSO, "--set", 'run.duration="1h')
    assert unclosed.returncode == 2
    assert unclosed.stderr.strip() == (
        '--set run.duration="1h: \'"1h\' is not a TOML value: the " it starts with is never closed; '
        "e.g. --set 'run.duration=\"1h\"'"
    )
    assert exsim("gwart", CONTOSO, "--set", 'run.duration="1h"').returncode == 0
    # Quoted at both ends and still not TOML: no example to copy, the quotes are to check.
    inner = exsim("gwart", CONTOSO, "--set", 'run.duration="1"h"')
    assert inner.stderr.strip() == '--set run.duration="1"h": \'"1"h"\' is not a TOML value; check its quotes'


# One site without a PRMD in its X.400 address, on SP1: every Internet recipient gets the
# Q166866 NDR. Giving the site a p= (or the server another build) removes the defect's cause.
SP1_NO_PRMD = """
name = "sp1-no-prmd"

[organization]
name = "Contoso"

[[sites]]
name = "Redmond"
addresses = { x400 = "c=US;a= ;o=Redmond", smtp = "@redmond.contoso.com" }

[[servers]]
name = "RED-EX1"
site = "Redmond"
users = 5
version = "5.0-sp1"

[[connectors]]
name = "IMS"
kind = "ims"
server = "RED-EX1"

[workload]
profile = "heavy"
spread = "all_day"
mix = { same_server = 0.5, same_site = 0.0, other_site = 0.0, internet = 0.5, msmail = 0.0, distribution_list = 0.0 }

[run]
duration = "1h"
drain = "30m"

[[expect]]
name = "SP1 without p= fails every Internet recipient"
kind = "outcome"
metric = "failure_rate"
recipient_class = "internet"
equals = 1.0
"""
WITH_PRMD = 'sites.Redmond.addresses.x400="c=US;a= ;p=Contoso;o=Redmond"'


@pytest.fixture
def sp1_no_prmd(tmp_path):
    path = tmp_path / "sp1.toml"
    path.write_text(SP1_NO_PRMD)
    return str(path)


def test_set_on_check_changes_what_is_checked(sp1_no_prmd):
    as_written = exsim("check", sp1_no_prmd)
    assert as_written.returncode == 0, as_written.stdout + as_written.stderr
    assert "observed 1" in as_written.stdout
    with_prmd = exsim("check", sp1_no_prmd, "--set", WITH_PRMD)
    assert with_prmd.returncode == 1
    assert "FAIL  SP1 without p= fails every Internet recipient" in with_prmd.stdout
    assert "observed 0" in with_prmd.stdout


def test_set_on_trace_changes_the_run_traced(sp1_no_prmd):
    assert exsim("trace", sp1_no_prmd, "--first-ndr").returncode == 0
    # RTM has no Q166866 defect, so nothing is NDR'd; the settings apply in order, and the
    # later one for RED-EX1 wins over the first for every server.
    rtm = exsim(
        "trace",
        sp1_no_prmd,
        "--first-ndr",
        "--set",
        'servers.*.version="5.0-sp1"',
        "--set",
        'servers.RED-EX1.version="5.0"',
    )
    assert rtm.returncode == 2
    assert "no message got a non-delivery report in this run" in rtm.stderr


def test_set_on_run_is_what_runs_and_what_is_recorded(sp1_no_prmd, tmp_path):
    out = tmp_path / "results"
    result = exsim(
        "run", sp1_no_prmd, "--out", str(out), "--quiet", "--set", "run.replications=2", "--set", WITH_PRMD
    )
    assert result.returncode == 0, result.stderr
    runs = (out / "runs.csv").read_text().splitlines()
    header = runs[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in runs[1:]]
    assert [row["replication"] for row in rows] == ["0", "1"]
    assert all(row["ndr"] == "0" and int(row["recipients"]) > 0 for row in rows)
    # The results directory's scenario.toml is the scenario as run: with the PRMD.
    assert 'x400 = "c=US;a= ;p=Contoso;o=Redmond"' in (out / "scenario.toml").read_text()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("run.replications", "expected PATH=VALUE"),
        (
            "servers.9.users=3",
            "'servers.9.users' names nothing in the scenario: no element of servers is '9'",
        ),
        ("servers..users=3", "has an empty segment"),
        ("run.duration=1h", "'1h' is not a TOML value"),
        (
            "servers.0.users=-1",
            "as changed by --set: servers[0].users: Input should be greater than or equal to 0",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "trace", "check"])
def test_bad_settings_exit_2_before_anything_is_written(sp1_no_prmd, tmp_path, command, setting, message):
    out = tmp_path / "results"
    extra = {"run": ["--out", str(out)], "trace": ["--message", "1"], "check": []}[command]
    result = exsim(command, sp1_no_prmd, *extra, "--set", setting, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sp1.toml"]


def test_overlap_resolves_names_indexes_and_wildcards_before_comparing():
    from exsim.scenario.paths import overlap

    raw = {"servers": [{"name": "A", "version": "5.0"}, {"name": "B", "version": "5.0"}], "run": {}}
    # Every spelling of B's version is location ("servers", 1, "version"), which * also names.
    for path in ("servers.B.version", "servers.1.version", 'servers["B"].version'):
        assert overlap(raw, path, "servers.*.version") == (("servers", 1, "version"),) * 2, path
    assert overlap(raw, "servers.*.version", "servers.*.version") == (("servers", 0, "version"),) * 2
    # A whole server, or the whole array, holds the version a variable sets: they meet there.
    assert overlap(raw, "servers.B", "servers.*.version") == (("servers", 1), ("servers", 1, "version"))
    assert overlap(raw, "servers", "servers.1.version") == (("servers",), ("servers", 1, "version"))
    # And the other way round: a variable over whole servers holds a --set of one key.
    assert overlap(raw, "servers.0.version", "servers.A") == (("servers", 0, "version"), ("servers", 0))
    # Different keys, or different elements, never meet.
    assert overlap(raw, "servers.*.users", "servers.*.version") is None
    assert overlap(raw, "servers.A.version", "servers.B.version") is None
    assert overlap(raw, "run.duration", "servers.*.version") is None


SWEPT = (
    SP1_NO_PRMD
    + """
[sweep]
[[sweep.variables]]
name = "version"
path = "servers.*.version"
values = ["5.0", "5.0-sp1"]
"""
)


@pytest.mark.parametrize("command", ["run", "check", "trace"])
def test_set_where_a_sweep_variable_sets_is_refused(tmp_path, command):
    # Every sweep point puts its version over RED-EX1's: a --set there would run at no point.
    scenario = tmp_path / "swept.toml"
    scenario.write_text(SWEPT)
    extra = {"run": ["--out", str(tmp_path / "results")], "trace": ["--message", "1", "--point", "0"]}
    for setting, where in [
        ('servers.RED-EX1.version="5.0-sp2"', "servers[0].version"),
        ('servers.0={name="RED-EX1", site="Redmond", users=5, version="5.0"}', "servers[0].version"),
    ]:
        result = exsim(command, str(scenario), *extra.get(command, []), "--set", setting, cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith(
            f"--set {setting}: sweep variable 'version' (servers.*.version) sets {where} at every sweep point"
        ), result.stderr
        assert "--set 'sweep.variables.version.values=[...]'" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["swept.toml"]
    # A key the sweep leaves alone is fine, as is a --set that changes the sweep itself.
    fine = ["--set", "servers.0.users=6", "--set", 'sweep.variables.version.values=["5.0-sp1"]']
    kept = exsim(command, str(scenario), *extra.get(command, []), *fine, cwd=tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr


def test_set_is_accepted_once_the_sweep_no_longer_sets_its_path(tmp_path):
    scenario = tmp_path / "swept.toml"
    scenario.write_text(SWEPT)
    # Without the sweep, RTM (5.0) everywhere: no Q166866 NDR, so the expectation of every
    # Internet recipient failing sees 0 and fails (exit 1) -- the --set is what ran.
    rtm = exsim(
        "check", str(scenario), "--set", "sweep.variables=[]", "--set", 'servers.RED-EX1.version="5.0"'
    )
    assert rtm.returncode == 1, rtm.stdout + rtm.stderr
    assert "observed 0" in rtm.stdout
    # trace without --point traces the scenario as written, where the --set holds.
    traced = exsim("trace", str(scenario), "--first-ndr", "--set", 'servers.RED-EX1.version="5.0"')
    assert traced.returncode == 2
    assert "no message got a non-delivery report in this run" in traced.stderr
