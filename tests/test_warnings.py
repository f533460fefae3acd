"""Scenarios that are valid but surely not what the user meant: `exsim validate` says so in a
`warning:` line with the file, line and key (exit 0), and `exsim run` says so before it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from exsim.cli import cli

# Two sites with an X.400 connector and an IMS on RED-EX1; each case edits one line of it.
BASE = """\
[organization]
name = "Contoso"

[[sites]]
name = "Redmond"
addresses = { x400 = "c=US;a= ;p=Contoso;o=Redmond", smtp = "@redmond.contoso.com" }

[[sites]]
name = "Dublin"
addresses = { x400 = "c=IE;a= ;p=Contoso;o=Dublin", smtp = "@dublin.contoso.com" }

[[servers]]
name = "RED-EX1"
site = "Redmond"
users = 5

[[servers]]
name = "DUB-EX1"
site = "Dublin"
users = 5

[[connectors]]
name = "Redmond-Dublin"
kind = "x400"
sites = ["Redmond", "Dublin"]
bridgeheads = ["RED-EX1", "DUB-EX1"]

[[connectors]]
name = "IMS"
kind = "ims"
server = "RED-EX1"

[workload]
spread = "all_day"
inbound_msmail_per_hour = 0
mix = { same_server = 0.3, same_site = 0.0, other_site = 0.3, internet = 0.2, msmail = 0.0, distribution_list = 0.2 }

[run]
duration = "10m"
drain = "5m"
time_series = false

[[events]]
kind = "outage"
connector = "Redmond-Dublin"
start = "1m"
end = "2m"
"""

OUTAGE = 'kind = "outage"\nconnector = "Redmond-Dublin"\nstart = "1m"\nend = "2m"'


def write(tmp_path: Path, *edits: tuple[str, str]) -> tuple[Path, str]:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path, text


def line_of(text: str, fragment: str) -> int:
    return next(n for n, row in enumerate(text.splitlines(), start=1) if fragment in row)


CASES = [
    (
        # The IMS removed: the Internet share has nowhere to go.
        [('[[connectors]]\nname = "IMS"\nkind = "ims"\nserver = "RED-EX1"\n', "")],
        "internet = 0.2",
        "workload.mix.internet: 0.2 of the addressed recipients are internet mail but no IMS (no SMTP address space) "
        "is in the organization: every one of them will be NDR'd as not recognized",
    ),
    (
        # An IMS for Irish domains only: of the workload's 22 Internet domains (example1.com to
        # example20.com, example.ie, example.co.uk, each as likely) 21 have no route.
        [
            (
                'server = "RED-EX1"\n\n[workload]',
                'server = "RED-EX1"\naddress_spaces = [{ type = "SMTP", pattern = "*.ie" }]\n\n[workload]',
            )
        ],
        "address_spaces",
        "connectors[1].address_spaces: the SMTP address spaces ('*.ie' on 'IMS') take 1 of the 22 Internet "
        "domains the workload mails; no IMS serves the other 21 (example1.com, example2.com, example3.com, "
        "example4.com and 17 more), so 95% of the Internet recipients (0.19 of all addressed) will be NDR'd "
        "as not recognized; the SMTP address space '*' takes every domain",
    ),
    (
        # Two spaces between them take the 20 .com domains and example.co.uk: 1 of 22 is left.
        [
            (
                'server = "RED-EX1"\n\n[workload]',
                'server = "RED-EX1"\naddress_spaces = [\n  { type = "SMTP", pattern = "*.com" },\n'
                '  { type = "SMTP", pattern = "@*.uk", cost = 2 },\n]\n\n[workload]',
            )
        ],
        "address_spaces",
        "connectors[1].address_spaces: the SMTP address spaces ('*.com' on 'IMS', '@*.uk' on 'IMS') take 21 of "
        "the 22 Internet domains the workload mails; no IMS serves the other 1 (example.ie), so 5% of the "
        "Internet recipients (0.0091 of all addressed) will be NDR'd as not recognized",
    ),
    (
        [("msmail = 0.0", "msmail = 0.1"), ("same_server = 0.3", "same_server = 0.2")],
        "msmail = 0.1",
        "workload.mix.msmail: 0.1 of the addressed recipients are msmail mail but no MS Mail connector (no MS address "
        "space) is in the organization",
    ),
    (
        [("inbound_msmail_per_hour = 0", "inbound_msmail_per_hour = 3")],
        "inbound_msmail_per_hour",
        "workload.inbound_msmail_per_hour: no MS Mail connector is in the organization, so no such mail "
        "will arrive",
    ),
    (
        # The run ends at 10 min + 5 min of drain: an outage from 40 days never happens.
        [('start = "1m"\nend = "2m"', 'start = "40d"\nend = "41d"')],
        'start = "40d"',
        "events[0].start: the outage at 40d comes at or after the run ends (run.duration + run.drain = 15m), "
        "so it never happens",
    ),
    (
        # An outage from the very end of the run (10 min + 5 min of drain) never happens either.
        [('start = "1m"\nend = "2m"', 'start = "15m"\nend = "20m"')],
        'start = "15m"',
        "events[0].start: the outage at 15m comes at or after the run ends (run.duration + run.drain = 15m), "
        "so it never happens",
    ),
    (
        # New mail stops at 10 min; all of it is sent in a 1 h warm-up, which outlasts the drain too.
        [('duration = "10m"', 'duration = "10m"\nwarmup = "1h"')],
        'warmup = "1h"',
        "run.warmup: the warm-up (1h) lasts as long as the sending (run.duration = 10m) or longer: no mail "
        "of the run is counted, nor any fault or transfer",
    ),
    (
        # A 12 min warm-up: the run ends at 15 min, so 3 min of the drain are counted.
        [('duration = "10m"', 'duration = "10m"\nwarmup = "12m"')],
        'warmup = "12m"',
        "run.warmup: the warm-up (12m) lasts as long as the sending (run.duration = 10m) or longer: no mail "
        "of the run is counted, only the faults and transfers of the last 3m",
    ),
    (
        [("c=IE;a= ;p=Contoso;o=Dublin", "c=US;a= ;p=Contoso;o=Redmond")],
        'name = "Dublin"',  # the addresses line follows the name
        "sites[1].addresses.x400: site 'Dublin' has the same X.400 site address as site 'Redmond' "
        "(c=US;a= ;p=Contoso;o=Redmond): mail to a mailbox still resolves through the directory",
    ),
    (
        [("@dublin.contoso.com", "@Redmond.contoso.com")],
        'name = "Dublin"',
        "sites[1].addresses.smtp: site 'Dublin' has the same SMTP site address as site 'Redmond' "
        "(@Redmond.contoso.com): their users' SMTP addresses differ by alias only",
    ),
    (
        # An address change to the address the file already gives the site changes nothing.
        [
            (
                OUTAGE,
                'kind = "address_change"\nat = "5m"\nsite = "Dublin"\ntype = "x400"\nvalue = "c=IE;a= ;p=Contoso;o=Dublin"',
            )
        ],
        'value = "c=IE',
        "events[0].value: the address_change at 5m sets Dublin's x400 site address to 'c=IE;a= ;p=Contoso;o=Dublin', "
        "the address it already has then (as the file gives it in sites), so it changes nothing",
    ),
    (
        # The second of two changes to one address (case aside), although listed first: by time.
        [
            (
                OUTAGE,
                'kind = "address_change"\nat = "5m"\nsite = "Dublin"\ntype = "smtp"\nvalue = "@EIRE.contoso.com"\n\n'
                '[[events]]\nkind = "address_change"\nat = "2m"\nsite = "Dublin"\ntype = "smtp"\nvalue = "@eire.contoso.com"',
            )
        ],
        'value = "@EIRE',
        "events[0].value: the address_change at 5m sets Dublin's smtp site address to '@EIRE.contoso.com', "
        "the address it already has then (since the address_change events[1]), so it changes nothing",
    ),
]


@pytest.mark.parametrize(("edits", "fragment", "message"), CASES)
def test_validate_warns_naming_the_key_and_line_and_exits_0(tmp_path, edits, fragment, message):
    path, text = write(tmp_path, *edits)
    line = line_of(text, fragment) + (1 if fragment.startswith("name = ") else 0)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: valid" in result.output
    warnings = [row for row in result.output.splitlines() if row.startswith("warning: ")]
    assert len(warnings) == 1, result.output
    assert warnings[0].startswith(f"warning: {path}:{line}: {message}"), warnings[0]


def test_the_scenario_as_meant_has_no_warning(tmp_path):
    path, _ = write(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0
    assert "warning" not in result.output


def test_run_prints_the_warnings_before_it_runs(tmp_path):
    path, text = write(tmp_path, ('start = "1m"\nend = "2m"', 'start = "40d"\nend = "41d"'))
    out = tmp_path / "r"
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(out), "--quiet", "--workers", "1"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    line = line_of(text, 'start = "40d"')
    assert first.startswith(f"warning: {path}:{line}: events[0].start: "), first
    assert (out / "runs.csv").exists()


def test_a_warning_about_a_value_given_by_set_names_the_setting_and_the_others_keep_their_line(tmp_path):
    # The file's outage starts after the run's end (at its line); --set gives an MS Mail share
    # with no MS Mail connector to carry it, and the same start again.
    path, text = write(tmp_path, ('start = "1m"\nend = "2m"', 'start = "40d"\nend = "41d"'))
    msmail, shares, start = "workload.mix.msmail=0.1", "workload.mix.same_server=0.2", 'events.0.start="40d"'
    args = ["run", str(path), "--out", str(tmp_path / "r"), "--quiet", "--workers", "1"]
    result = CliRunner().invoke(cli, [*args, "--set", msmail, "--set", shares, "--set", start])
    assert result.exit_code == 0, result.output
    warnings = [row for row in result.output.splitlines() if row.startswith("warning: ")]
    never = "comes at or after the run ends (run.duration + run.drain = 15m), so it never happens"
    assert warnings == [
        f"warning: {path} as changed by --set {msmail}: workload.mix.msmail: 0.1 of the addressed recipients "
        "are msmail mail but no MS Mail connector (no MS address space) is in the organization: every one of "
        "them will be NDR'd as not recognized",
        f"warning: {path} as changed by --set {start}: events[0].start: the outage at 40d {never}",
    ]
    # A --set of the whole event list gives the start too; one of the outage's end does not.
    outages = 'events=[{kind="outage",connector="IMS",start="30d",end="31d"}]'
    result = CliRunner().invoke(cli, [*args[:3], str(tmp_path / "r2"), *args[4:], "--set", outages])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"warning: {path} as changed by --set {outages}: events[0].start: the outage at 30d {never}"
    )
    result = CliRunner().invoke(
        cli, [*args[:3], str(tmp_path / "r3"), *args[4:], "--set", 'events.0.end="42d"']
    )
    assert result.exit_code == 0, result.output
    line = line_of(text, 'start = "40d"')
    assert (
        result.output.splitlines()[0] == f"warning: {path}:{line}: events[0].start: the outage at 40d {never}"
    )
