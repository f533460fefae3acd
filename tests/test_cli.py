"""The command line, run in-process (``tests.clikit.exsim``) as the console script would run it.

The last test runs the installed ``exsim`` script itself, once.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

from tests.clikit import exsim
from tests.conftest import SCENARIOS
from tests.stall import run
from tests.test_set import SP1_NO_PRMD


def test_validate_bundled_scenarios_exits_0():
    result = exsim("validate", *(str(p) for p in sorted(SCENARIOS.glob("*.toml"))))
    assert result.returncode == 0, result.stderr
    assert "contoso.toml: valid (5 sites, 6 servers, 8 connectors)" in result.stdout


def test_validate_counts_one_of_a_kind_in_the_singular(tmp_path):
    one = tmp_path / "one.toml"
    one.write_text(
        '[organization]\nname = "Contoso"\n[[sites]]\nname = "Dublin"\naddresses = { x400 = "c=IE;a= ;p=Contoso;o=Dublin" }\n[[servers]]\nname = "D1"\nsite = "Dublin"\n'
    )
    result = exsim("validate", str(one))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{one}: valid (1 site, 1 server, 0 connectors)\n"


def test_validate_bad_file_exits_2_with_every_problem_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[organization]\nname = "Contoso"\n[[sites]]\nname = "Dublin"\n'
        'addresses = { x400 = "c=IE;a= " }\n[[servers]]\nname = "D1"\nsite = "Dubln"\nusres = 1\n'
    )
    result = exsim("validate", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(bad))]
    assert len(lines) == 3
    assert f"{bad}:5: sites[0].addresses.x400:" in lines[0]
    assert f"{bad}:8: servers[0].site: unknown site 'Dubln'; did you mean 'Dublin'?" == lines[1]
    assert f"{bad}:9: servers[0].usres: unknown key 'usres'; did you mean 'users'?" == lines[2]


def test_validate_mixed_files_exits_2(tmp_path):
    result = exsim("validate", str(SCENARIOS / "contoso.toml"), str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml: no such file" in result.stderr
    assert "contoso.toml: valid" in result.stdout


def test_usage_errors_exit_2():
    assert exsim("validate").returncode == 2
    assert exsim("no-such-command").returncode == 2


def test_schema_is_json():
    result = exsim("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "exsim scenario"


def test_show_prints_the_organization():
    result = exsim("show", str(SCENARIOS / "contoso.toml"))
    assert result.returncode == 0
    for word in ("Redmond", "TOK-EX1", "Dynamic RAS Tokyo-Sydney", "1458"):
        assert word in result.stdout
    assert "Timed events" not in result.stdout  # contoso has none


def test_show_lists_the_timed_events_in_time_order():
    # scenarios/rollout.toml: SP1 reaches DUB-EX1 on Wednesday at 02:00 and Dublin's X.400
    # address gains p= on Thursday at noon (3d12h).
    lines = exsim("show", str(SCENARIOS / "rollout.toml")).stdout.splitlines()
    start = lines.index("Timed events")
    rows = [line for line in lines[start:] if "│" in line]
    dublin = next(i for i, row in enumerate(rows) if "Dublin adds p=" in row)
    assert "x400 address c=IE;a= ;p=Contoso;o=Dublin" in rows[dublin]
    assert "Thu 12:00" in rows[dublin]
    upgrade = next(i for i, row in enumerate(rows) if "SP1 on DUB-EX1" in row)
    assert "Wed 02:00" in rows[upgrade]
    assert upgrade < dublin


def test_gwart_prints_every_site_and_json():
    result = exsim("gwart", str(SCENARIOS / "contoso.toml"))
    assert result.returncode == 0
    for site in ("Redmond", "Dublin", "Paris", "Tokyo", "Sydney"):
        assert f"GWART of site {site}" in result.stdout
    rows = json.loads(exsim("gwart", str(SCENARIOS / "contoso.toml"), "--site", "Redmond", "--json").stdout)[
        "Redmond"
    ]
    sydney = sorted((r["cost"], r["connector"]) for r in rows if r["space"] == "/o=Contoso/ou=Sydney")
    assert sydney == [(8, "X.400 Redmond-Tokyo"), (10, "X.400 Redmond-Sydney")]
    bad = exsim("gwart", str(SCENARIOS / "contoso.toml"), "--site", "Tokio")
    assert bad.returncode == 2
    assert "unknown site 'Tokio'" in bad.stderr


def test_gwart_notes_site_connector_address_spaces_it_ignores(tmp_path):
    # A's end of a site connector holds SMTP:*.fabrikam.com; B has an IMS (KB Q182128).
    text = """
[organization]
name = "Contoso"
[[sites]]
name = "A"
addresses = { x400 = "c=US;a= ;p=Contoso;o=A" }
[[sites]]
name = "B"
addresses = { x400 = "c=US;a= ;p=Contoso;o=B" }
[[servers]]
name = "A1"
site = "A"
[[servers]]
name = "B1"
site = "B"
[[connectors]]
name = "AB"
kind = "KIND"
sites = ["A", "B"]
bridgeheads = ["A1", "B1"]
address_spaces = [{ type = "SMTP", pattern = "*.fabrikam.com" }]
[[connectors]]
name = "IMS-B"
kind = "ims"
server = "B1"
"""
    path = tmp_path / "ends.toml"
    path.write_text(text.replace("KIND", "site"))
    site_connector = exsim("gwart", str(path), "--site", "A")
    assert site_connector.returncode == 0, site_connector.stderr
    assert "*.fabrikam.com" not in site_connector.stdout.split("Ignored:")[0]
    assert "Ignored: SMTP:*.fabrikam.com on A's end of AB: the two sites replicate" in site_connector.stdout
    path.write_text(text.replace("KIND", "x400"))
    x400 = exsim("gwart", str(path), "--site", "A", "--json")
    rows = [(r["space"], r["connector"], r["route"]) for r in json.loads(x400.stdout)["A"]]
    assert ("*.fabrikam.com", "AB", ["A", "B"]) in rows
    assert "Ignored" not in exsim("gwart", str(path), "--site", "A").stdout


def test_route_explains_and_json():
    result = exsim("route", str(SCENARIOS / "contoso.toml"), "--from", "RED-EX1", "--to", "BJones")
    assert result.returncode == 0
    assert "6. lowest cost:\n    dropped X.400 Redmond-Sydney: cost 10 > 8" in result.stdout
    assert "Total cost: 8" in result.stdout
    plan = json.loads(
        exsim(
            "route",
            str(SCENARIOS / "contoso.toml"),
            "--from",
            "RED-EX1",
            "--to",
            "c=GB;a=BT;o=X;s=Y",
            "--json",
        ).stdout
    )
    assert plan["outcome"].startswith("unroutable")
    bad = exsim("route", str(SCENARIOS / "contoso.toml"), "--from", "NOPE", "--to", "x")
    assert bad.returncode == 2
    assert "unknown server 'NOPE'" in bad.stderr


def test_route_says_the_scenarios_timed_events_are_not_applied():
    # faults.toml has an outage, service stops and crashes; contoso.toml has no [[events]].
    faults = exsim("route", str(SCENARIOS / "faults.toml"), "--from", "RED-EX2", "--to", "DUB-EX1-u0001")
    assert faults.returncode == 0
    assert faults.stdout.splitlines()[-1] == (
        "Note: not applied here, the scenario's 6 timed event(s) (crash, outage, service_stop); "
        "`exsim trace` follows a message through them in a run."
    )
    quiet = exsim("route", str(SCENARIOS / "contoso.toml"), "--from", "RED-EX1", "--to", "BJones")
    assert "Note: not applied" not in quiet.stdout
    # With --json the plan alone is on stdout and the note on stderr.
    plan = exsim(
        "route", str(SCENARIOS / "faults.toml"), "--from", "RED-EX2", "--to", "DUB-EX1-u0001", "--json"
    )
    assert json.loads(plan.stdout)["outcome"] == "delivered to DUB-EX1"
    assert plan.stderr.startswith("Note: not applied here, the scenario's 6 timed event(s)")


#: Two hours of mail around the clock instead of a working day: the same six points and the same
#: single failing one, in a ninth of the time.
SHORT = ("--set", 'run.duration="2h"', "--set", 'workload.spread="all_day"')


def test_run_default_scenario_shows_only_sp1_without_prmd_failing(tmp_path):
    result = exsim("run", "--out", str(tmp_path / "r"), "--workers", "2", "--quiet", *SHORT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import pandas as pd

    runs = pd.read_csv(tmp_path / "r" / "runs.csv")
    assert len(runs) == 6  # 3 versions x 2 site addresses
    assert (runs["recipients"] == runs["delivered"] + runs["ndr"] + runs["pending"]).all()
    failing = runs[runs["ndr"] > 0]
    assert failing[["version", "site_address"]].values.tolist() == [["5.0-sp1", "without p="]]
    row = failing.iloc[0]
    assert row["internet_ndr"] == row["internet_recipients"] == row["ndr_invalid-arguments"] > 0
    assert row["failure_rate"] == row["ndr"] / row["recipients"]
    assert "NDR invalid args" in result.stdout
    for name in ("runs.csv", "summary.csv", "summary.json", "events.csv", "scenario.toml"):
        assert (tmp_path / "r" / name).exists()
    events = pd.read_csv(tmp_path / "r" / "events.csv")
    assert set(events["event_id"]) == {1026, 2007}
    assert list(events.columns[2:]) == ["time_s", "server", "source", "event_id", "type", "category", "text"]
    # A non-empty results directory is not overwritten silently.
    again = exsim("run", "--out", str(tmp_path / "r"), "--quiet", cwd=tmp_path)
    assert again.returncode == 2
    assert "not empty" in again.stderr


def test_run_into_a_full_directory_exsim_did_not_make_suggests_another_out(tmp_path):
    # --resume and --force work only on exsim's own directories: for anyone else's, the only
    # advice that works is another --out. Nothing in it is touched.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    result = exsim("run", "--out", str(theirs), "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"--out {theirs}: directory is not empty and exsim did not make it (no .exsim-results); "
        f"choose another --out, e.g. a new directory such as {theirs / 'results'}"
    )
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    # Nor does --resume take it over: a summary.csv of the user's would have been overwritten
    # by exsim's, and its results written beside the rest (outside tester: 0 of 6 runs finished).
    (theirs / "summary.csv").write_text("my precious data")
    result = exsim("run", "--out", str(theirs), "--resume", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"--out {theirs}: directory is not empty and exsim did not make it (no .exsim-results), so there "
        f"is nothing of exsim's to resume; choose another --out, e.g. a new directory such as "
        f"{theirs / 'results'}"
    )
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt", "summary.csv"]
    assert (theirs / "summary.csv").read_text() == "my precious data"


def test_run_shows_ndrs_whose_report_was_lost(tmp_path):
    # KB Q197058: B1's MTA refuses A1's larger mail by size; every such NDR's report is lost.
    import pandas as pd

    from tests.conftest import to_toml
    from tests.simkit import size_limited

    path = tmp_path / "q197058.toml"
    path.write_text(to_toml(size_limited("B1", "5.0-sp2")))
    result = exsim("run", str(path), "--out", str(tmp_path / "r"), "--quiet")
    assert result.returncode == 0, result.stderr
    runs = pd.read_csv(tmp_path / "r" / "runs.csv")
    assert runs["unreported_ndr"].iloc[0] == runs["ndr"].iloc[0] > 0
    assert "NDRs never reported" in result.stdout
    events = pd.read_csv(tmp_path / "r" / "events.csv")
    assert (events["event_id"] == 141).sum() == runs["reports"].iloc[0]


def test_trace_first_ndr_tells_the_q166866_story():
    result = exsim("trace", str(SCENARIOS / "q166866.toml"), "--first-ndr")
    assert result.returncode == 0, result.stderr
    story = result.stdout
    for fragment in (
        "submitted by",
        "matched SMTP:*",
        "gateway transfer-in",
        "ecObjectInvalid 0xBB8",
        "event 1026",
        "event 2007",
        "ma_open returned error 22.",
        "One or more arguments in the recipient was detected as being invalid",
        "report: delivered to",
    ):
        assert fragment in story, fragment
    assert exsim("trace", str(SCENARIOS / "q166866.toml")).returncode == 2


def test_trace_seed_and_replication_are_runs_so_a_runs_csv_row_can_be_traced(tmp_path):
    # run --seed 7 seeds replication k with replication_seed(7, k); trace --seed 7 --replication k
    # must simulate that same run: its message count is the row's `messages` and its header
    # names the row's seed. The two replications make different counts, so a trace of the wrong
    # run (or of seed 7 itself, as trace --seed once meant) shows.
    import pandas as pd

    scenario = tmp_path / "sp1.toml"
    scenario.write_text(SP1_NO_PRMD)
    out = tmp_path / "results"
    assert (
        exsim("run", str(scenario), "--seed", "7", "--replications", "2", "--out", str(out)).returncode == 0
    )
    rows = pd.read_csv(out / "runs.csv").set_index("replication")
    assert rows.loc[0, "messages"] != rows.loc[1, "messages"]
    for k in (0, 1):
        beyond = exsim("trace", str(scenario), "--seed", "7", "--replication", str(k), "--message", "9999")
        assert beyond.returncode == 2
        assert f"the run numbered {rows.loc[k, 'messages']} messages" in beyond.stderr, beyond.stderr
        story = exsim(
            "trace", str(scenario), "--seed", "7", "--replication", str(k), "--message", "1", "--json"
        )
        header = json.loads(story.stdout)
        assert (header["seed"], header["scenario_seed"], header["replication"]) == (rows.loc[k, "seed"], 7, k)
    text = exsim("trace", str(scenario), "--seed", "7", "--replication", "1", "--message", "1").stdout
    assert text.startswith(
        f"Message 1 of scenario sp1-no-prmd (run seed {rows.loc[1, 'seed']}: replication 1 of seed 7)"
    )


def test_trace_point_0_of_a_scenario_without_a_sweep_says_it_is_the_scenario_as_written():
    result = exsim("trace", str(SCENARIOS / "contoso.toml"), "--message", "1", "--point", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Sweep point 0: the scenario as written (no sweep)"


def test_trace_of_a_reports_number_names_the_message_it_reports_on(tmp_path):
    """Users' mail and NDR reports share one numbering. One user on SP1 in a site without p=
    sends only Internet mail, every message NDR'd within a second by its own store (Q166866),
    and a heavy user's messages are minutes apart: numbers alternate, message 1, the report on
    it (2), message 3, the report on it (4)... A report's number is refused (exit 2) naming
    the message it reports on and the command that tells that story, options kept."""
    scenario = tmp_path / "one.toml"
    scenario.write_text(SP1_NO_PRMD)
    one_user = ("servers.RED-EX1.users=1", "workload.mix.same_server=0.0", "workload.mix.internet=1.0")
    options = (
        "--seed",
        "1",
        *(part for setting in (*one_user, 'run.duration="6h"') for part in ("--set", setting)),
    )
    report = exsim("trace", str(scenario), "--message", "4", *options)
    assert report.returncode == 2
    again = f"exsim trace {scenario} --message 3 " + shlex.join(options)
    assert report.stderr == (
        "message 4 is not mail anyone sent but the non-delivery report the run generated on message 3 "
        f"(reports share the messages' numbers); the report's steps end message 3's story: {again}\n"
    )
    story = exsim(*shlex.split(again)[1:])
    assert story.returncode == 0, story.stderr
    from exsim.randomness import replication_seed

    # --seed 1 is the scenario seed, as run's: the run traced is its replication 0.
    run_seed = replication_seed(1, 0)
    assert f"Message 3 of scenario sp1-no-prmd (run seed {run_seed}: replication 0 of seed 1)" in story.stdout
    assert "report (NDR) sent from RED-EX1 back to RED-EX1-u0001" in story.stdout
    assert "report: delivered to RED-EX1-u0001" in story.stdout
    # Past the end: the count names what shares the numbers. It is even (each message, then its
    # report), the last number a report on the one before.
    beyond = exsim("trace", str(scenario), "--message", "999", *options)
    assert beyond.returncode == 2
    made = int(beyond.stderr.split("numbered ")[1].split()[0])
    assert beyond.stderr == (
        f"message 999 was never made: the run numbered {made} messages (users' mail, mail from outside "
        f"and the NDR reports the run generated, numbered together); trace one of 1..{made}\n"
    )
    assert made > 4
    assert made % 2 == 0
    last = exsim("trace", str(scenario), "--message", str(made), *options)
    assert f"generated on message {made - 1} " in last.stderr
    nothing = exsim("trace", str(scenario), "--message", "1", "--set", 'workload.spread="working_hours"')
    assert nothing.stderr == "message 1 was never made: the run made no message at all\n"


def test_an_out_that_cannot_be_made_is_bad_usage_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    long_name = "x" * 300  # longer than any file system's 255 bytes for one name
    cases = [
        (blocker / "r", f"{blocker} is a file, not a directory"),
        (blocker / "r" / "deeper", f"{blocker} is a file, not a directory"),
        # 'new' can be made, the long name inside it cannot: 'new' is removed again.
        (
            tmp_path / "new" / long_name,
            f"the name {long_name[:40]!r}... is longer than the file system allows",
        ),
    ]
    if Path("/proc/self").is_dir():  # Linux: /proc takes no new directories, even from root
        cases.append(
            (Path("/proc/exsim-test"), "/proc does not accept a new directory (No such file or directory)")
        )
    for out_dir, why in cases:
        result = exsim("run", str(SCENARIOS / "q166866.toml"), "--out", str(out_dir), "--quiet")
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"--out {out_dir}: cannot create the results directory: {why}; choose another --out\n"
        )
    # A name too long in an existing directory: even looking it up fails, and is bad usage too.
    result = exsim("run", str(SCENARIOS / "q166866.toml"), "--out", str(tmp_path / long_name), "--quiet")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"--out '{str(tmp_path)[:40]}")
    assert "x" * 60 not in result.stderr  # the name shortened, not all 300 characters
    assert result.stderr.endswith(
        "...': cannot use it as the results directory: File name too long; choose another --out\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert blocker.read_text() == "not a directory"


def test_baseline_option_sets_the_paired_comparison(tmp_path):
    result = exsim(
        "run",
        str(SCENARIOS / "q166866.toml"),
        "--baseline",
        "site_address=with p=",
        "--out",
        str(tmp_path / "r"),
        "--quiet",
        "--workers",
        "2",
        *SHORT,
    )
    assert result.returncode == 0, result.stderr
    import pandas as pd

    diff = pd.read_csv(tmp_path / "r" / "differences.csv")
    assert set(diff["site_address_baseline"]) == {"with p="}
    assert (diff[diff.version != "5.0-sp1"]["failure_rate_diff_mean"] == 0).all()
    assert (diff[diff.version == "5.0-sp1"]["failure_rate_diff_mean"] > 0).all()
    bad = exsim(
        "run", str(SCENARIOS / "q166866.toml"), "--baseline", "colour=red", "--out", str(tmp_path / "x")
    )
    assert bad.returncode == 2
    assert "--baseline" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_an_option_of_one_value_given_twice_is_refused(tmp_path):
    # Click would keep the last --baseline and compare with it, though the line also asked for
    # the first. Refused before anything runs or is written; repeatable options stay repeatable.
    q = str(SCENARIOS / "q166866.toml")
    twice = exsim(
        "run", q, "--baseline", "version=5.0", "--baseline", "version=5.0-sp1", "--out", str(tmp_path / "r")
    )
    assert twice.returncode == 2
    assert twice.stderr == "--baseline is given 2 times; it takes one value: give it once\n"
    assert not (tmp_path / "r").exists()
    seeds = exsim("trace", q, "--message", "1", "--seed", "1", "--seed=2", "--seed", "3")
    assert (seeds.returncode, seeds.stderr) == (
        2,
        "--seed is given 3 times; it takes one value: give it once\n",
    )
    output = exsim("explore", q, "-o", str(tmp_path / "a.html"), "--output", str(tmp_path / "b.html"))
    assert output.stderr == "-o / --output is given 2 times; it takes one value: give it once\n"
    assert list(tmp_path.iterdir()) == []
    contoso = str(SCENARIOS / "contoso.toml")
    sites = exsim(
        "gwart",
        contoso,
        "--site",
        "Redmond",
        "--site",
        "Tokyo",
        "--json",
        "--set",
        "run.seed=1",
        "--set",
        "run.seed=2",
    )
    assert sites.returncode == 0, sites.stderr
    assert sorted(json.loads(sites.stdout)) == ["Redmond", "Tokyo"]


def test_resume_refuses_results_of_another_scenario(tmp_path):
    first = exsim("run", str(SCENARIOS / "kb" / "Q158399.toml"), "--out", str(tmp_path / "r"), "--quiet")
    assert first.returncode == 0, first.stderr
    other = exsim(
        "run", str(SCENARIOS / "kb" / "Q146669.toml"), "--out", str(tmp_path / "r"), "--resume", "--quiet"
    )
    assert other.returncode == 2
    assert "different scenario" in other.stderr
    assert "Traceback" not in other.stderr


def test_installed_console_script_runs():
    # The one command that goes through the installed entry point in a process of its own:
    # the script pip wrote must reach exsim.cli:main and pass the exit code back.
    script = shutil.which("exsim", path=str(Path(sys.executable).parent))
    assert script is not None, "the exsim console script is not installed next to this Python"
    ok = run([script, "validate", str(SCENARIOS / "contoso.toml")])
    assert ok.returncode == 0, ok.stderr
    assert "contoso.toml: valid" in ok.stdout
    bad = run([script, "no-such-command"])
    assert bad.returncode == 2


def test_a_run_that_sends_nothing_says_why(tmp_path):
    # q166866.toml: users send 09:00-17:00 and 20 Internet messages an hour come in; with the
    # inbound mail off, one hour from Monday 00:00 sees no mail at all.
    def one_hour(out: str, *settings: str) -> str:
        sets = [arg for setting in settings for arg in ("--set", setting)]
        result = exsim(
            "run", str(SCENARIOS / "q166866.toml"), "--out", str(tmp_path / out), "--quiet",
            "--set", 'run.duration="1h"', "--set", "workload.inbound_internet_per_hour=0", *sets,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    early = one_hour("a")
    assert "No mail was sent: users send only in working hours (09:00-17:00" in early
    # All day, but nobody has a mailbox: the other reason.
    empty = one_hour("b", 'workload.spread="all_day"', "servers.*.users=0")
    assert "no user or inbound workload sent any" in empty
    # Mail sent: no note.
    assert "No mail was" not in one_hour("c", 'workload.spread="all_day"')


def test_the_resume_command_reads_back_as_the_same_run_even_for_names_like_options():
    # A scenario file named '-x.toml' (reachable after '--') must not come back as an option in
    # the printed resume command: read back by the same command line, it names the same file.
    from exsim.cli import _resume_command, cli

    run = cli.commands["run"]
    given = run.make_context("run", ["--out=-odir", "--seed", "3", "--", "-x.toml"])
    command = _resume_command(given, given.params["out_dir"])
    assert command == ["exsim", "run", "./-x.toml", "--out", "-odir", "--resume", "--seed", "3"]
    again = run.make_context("run", command[2:])
    assert Path(again.params["scenario"]) == Path(given.params["scenario"])
    assert (again.params["out_dir"], again.params["seed"], again.params["resume"]) == ("-odir", 3, True)


def test_run_and_report_print_a_zero_width_interval_with_more_than_one_run(tmp_path):
    import tomli_w

    from tests.simkit import mix, one_site

    # SP2 and mail within the server and to the Internet: nothing fails in any of 3 runs, so every
    # rate is 0 with the interval [0, 0] (summary.csv's lo = hi = 0), which n = 3 must print.
    raw = one_site(version="5.0-sp2", duration="30m", shares=mix(same_server=0.5, internet=0.5))
    raw["run"]["replications"] = 3
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    out = tmp_path / "r"
    result = exsim("run", str(path), "--out", str(out), "--report", "--workers", "1")
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if "%" in line and "│" in line]
    assert row.count("0.00% [0.00%, 0.00%]") == 2, row  # failure rate, outbound SMTP failure
    page = (out / "report.html").read_text()
    assert page.count(">0.00% [0.00%, 0.00%]</td>") == 2


def test_a_refused_resume_names_the_set_that_gave_a_setting_not_the_option(tmp_path):
    """run.seed came from --set both times: the message names that --set, not --seed, which
    was never used (and --seed, when it is used, is still the one named)."""
    path = tmp_path / "small.toml"
    path.write_text(SP1_NO_PRMD.replace('duration = "1h"', 'duration = "10m"'))
    out = tmp_path / "out"
    first = exsim("run", str(path), "--out", str(out), "--quiet", "--set", "run.seed=5")
    assert first.returncode == 0, first.stderr
    refused = exsim(
        "run", str(path), "--out", str(out), "--resume", "--replications", "1", "--set", "run.seed=6"
    )
    assert refused.returncode == 2
    assert "(run.seed is 5 there, 6 now (--set run.seed=6))" in refused.stderr
    # --seed given as well wins over the --set (run_experiment's seed replaces run.seed) ...
    by_option = exsim("run", str(path), "--out", str(out), "--resume", "--seed", "7", "--set", "run.seed=6")
    assert "(run.seed is 5 there, 7 now (--seed))" in by_option.stderr
    # ... and with neither, the scenario's own seed is what --seed would set.
    bare = exsim("run", str(path), "--out", str(out), "--resume")
    assert "(run.seed is 5 there, 1 now (--seed sets it))" in bare.stderr
