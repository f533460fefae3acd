"""The HTML report: complete, self-contained, and working in a real browser (headless Chromium)."""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from exsim import plots
from exsim.columns import is_ndr_diagnostic_column
from exsim.results import listing, read_results
from exsim.resultsdir import LOCK
from tests.browser import offline_page
from tests.clikit import exsim
from tests.conftest import SCENARIOS
from tests.simkit import two_ims


class _Page(HTMLParser):
    """Every tag with its attributes, every table's row count, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.tables: dict[str, int] = {}
        self._table: list[str] = []
        self._in_body = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            name = attributes.get("id") or f"table{len(self.tables)}"
            self._table.append(name)
            self.tables[name] = 0
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[self._table[-1]] += 1

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "table":
            self._table.pop()
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text.append(data)


@pytest.fixture(scope="module")
def made(two_ims_results, tmp_path_factory):
    """``exsim report DIR -o FILE`` run once (drawing every figure is most of a report's cost):
    the file it wrote, what the command printed, and what the report's own call of
    plots.make_figures gave it: each figure's name, with the reason where it was skipped (None
    where it was drawn). Recorded, not asked for again: a second call would draw every figure twice."""
    target = tmp_path_factory.mktemp("report") / "handout.html"
    figures: list[dict[str, str | None]] = []
    real = plots.make_figures

    def recorded(*args, **options):  # type: ignore[no-untyped-def]
        drawn = real(*args, **options)
        figures.append({name: f if isinstance(f, str) else None for name, f in drawn.items()})
        return drawn

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "make_figures", recorded)
        completed = exsim("report", str(two_ims_results), "-o", str(target))
    assert len(figures) == 1  # the report drew its figures once
    return target, completed, figures[0]


@pytest.fixture(scope="module")
def report(made):
    path, _, _ = made
    page = _Page()
    page.feed(path.read_text())
    return path, page


def test_report_needs_no_network(report):
    path, page = report
    html = path.read_text()
    for tag, attributes in page.tags:
        for name in ("src", "href"):
            value = attributes.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, value[:80])
        assert tag != "link"  # no stylesheet or font from elsewhere
    assert "http://" not in html.replace("http://www.w3.org", "")  # SVG namespaces are names, not fetches
    assert "https://" not in html


def test_report_has_every_table_and_figure(report, made, two_ims_results):
    _, page = report
    results = read_results(two_ims_results)
    assert page.tables["table-summary"] == len(results.summary) == 8
    assert page.tables["table-differences"] == len(results.differences)
    assert page.tables["table-servers"] == 3
    assert page.tables["table-connectors"] == 3
    images = [a["src"] for tag, a in page.tags if tag == "img"]
    figures = made[2]
    assert list(figures) == list(plots.FIGURES)
    drawn = [name for name, reason in figures.items() if reason is None]
    assert len(images) == len(drawn) >= 5
    assert all(i.startswith("data:image/svg+xml;base64,") for i in images)
    text = " ".join(page.text)
    for reason in (r for r in figures.values() if r is not None):
        assert reason in text  # a skipped figure says why
    for name in drawn:
        assert plots_caption(name) in " ".join(text.split())
    assert f"exsim report {two_ims_results} -o {report[0]}" in text  # the command that made it
    assert "Incomplete" not in text  # every run of the experiment finished: no notice
    assert listing(two_ims_results) == sorted(listing(two_ims_results))
    assert "report.html" in text


def plots_caption(name: str) -> str:
    from exsim.report import CAPTIONS

    return " ".join(CAPTIONS[name].split())[:60]


def test_report_counts_every_ndr_generator(report, two_ims_results):
    _, page = report
    generators = [a for tag, a in page.tags if tag == "table" and "ndr-generators" in a.get("class", "")]
    assert len(generators) == 1  # one NDR text ...
    # ... generated by two stores, whose counts add up to every NDR in runs.csv.
    runs = pd.read_csv(two_ims_results / "runs.csv")
    meta = json.loads((two_ims_results / "summary.json").read_text())
    counted = {g["component"]: g["recipients"] for g in meta["ndr_generators"]}
    assert set(counted) == {"MSEXCH:MSExchangeIS:Redmond:RED-EX1", "MSEXCH:MSExchangeIS:Dublin:DUB-EX1"}
    assert sum(counted.values()) == runs["ndr"].sum()
    text = " ".join(page.text)
    for component, count in counted.items():
        assert component in text
        assert str(count) in text
    # Where: each generator's sweep points as the summary names them (the version is swept, and
    # only SP1 has the Q166866 defect), not their bare indexes.
    table = text[text.index("at sweep points") :].split("Event log")[0]
    for generator in meta["ndr_generators"]:
        for point in generator["points"]:
            assert runs[runs["point"] == point].iloc[0]["version"] == "5.0-sp1"
    assert table.count("version=5.0-sp1, ") == sum(len(g["points"]) for g in meta["ndr_generators"])
    assert "version=5.0, " not in table


def test_report_lists_the_timed_events_with_when(report):
    # tests.simkit.two_ims: the IMS is down 00:10-00:25 and RED-EX2's MTA stopped 00:20-00:30,
    # on the run's first day (a Monday).
    _, page = report
    text = " ".join(" ".join(page.text).split())
    table = text[text.index("timed event when") :].split("sweep variable")[0]
    assert "IMS down Mon 00:10 to Mon 00:25" in table
    assert "RED-EX2 MTA stopped Mon 00:20 to Mon 00:30" in table


def test_an_address_change_is_listed_with_the_new_address():
    from exsim import load_scenario
    from exsim.timeline import event_marks

    # scenarios/rollout.toml: Dublin's X.400 site address gains p=Contoso on Thursday at noon.
    marks = event_marks(load_scenario(SCENARIOS / "rollout.toml"))
    (dublin,) = [m for m in marks if m.label.startswith("Dublin")]
    assert (dublin.label, dublin.detail) == ("Dublin adds p=", "x400 address c=IE;a= ;p=Contoso;o=Dublin")
    assert dublin.start_s == 3 * 86400 + 12 * 3600


def test_report_has_an_excerpt_per_event_id(report, two_ims_results):
    _, page = report
    events = pd.read_csv(two_ims_results / "events.csv")
    ids = {
        f"event-{s.replace(' ', '-')}-{i}" for s, i in events[["source", "event_id"]].itertuples(index=False)
    }
    headings = {a["id"] for tag, a in page.tags if tag == "h3" and a.get("id", "").startswith("event-")}
    assert ids
    assert headings == ids


def test_report_command_writes_where_told_and_refuses_a_non_results_directory(made, tmp_path):
    target, ok, _ = made
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"Report: {target}"
    assert target.stat().st_size > 10_000
    bad = exsim("report", str(tmp_path))
    assert bad.returncode == 2
    assert "not a results directory" in bad.stderr
    assert "Traceback" not in bad.stderr
    # A directory an experiment is still running in (its lock held by a live process, here
    # this one) is not called "not a results directory": it says who is at work there.
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": 0}))
    for command in ("report", "plot"):
        refused = exsim(command, str(busy))
        assert refused.returncode == 2
        assert refused.stderr.strip() == (
            f"{busy}: in use by exsim (pid {os.getpid()} on {socket.gethostname()}), whose experiment has not "
            "written its results yet; try again when it has finished"
        )
    # A lock whose process has ended is no sign of work: the plain message again.
    ended = subprocess.Popen(["true"])
    ended.wait()
    (busy / LOCK).write_text(json.dumps({"pid": ended.pid, "host": socket.gethostname(), "since": 0}))
    assert "not a results directory" in exsim("report", str(busy)).stderr


def test_run_prints_every_ndr_generator_the_file_list_and_the_wall_time(tmp_path):
    raw = two_ims(duration="30m")
    raw["sweep"] = {}
    raw.pop("events")  # SP1 everywhere, neither site with p=: both IMS servers return mail
    source = tmp_path / "two.toml"
    source.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"
    result = exsim("run", str(source), "--out", str(out), "--quiet", "--report")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    counts = {}
    for line in lines:
        if line.startswith("  MSEXCH:"):
            component, _, rest = line.strip().partition(": ")
            counts[component] = int(rest.split()[0])
    runs = pd.read_csv(out / "runs.csv")
    # The table's NDR columns are the diagnostics seen, headed by name; the total is not one of them.
    header = next(line for line in lines if "recipients" in line and "delivered" in line)
    assert "NDR ndr" not in header
    assert "NDR invalid args" in header
    assert set(counts) == {"MSEXCH:MSExchangeIS:Redmond:RED-EX1", "MSEXCH:MSExchangeIS:Dublin:DUB-EX1"}
    assert sum(counts.values()) == runs["ndr"].sum() > 0
    # exsim's own bookkeeping (the marker that lets --force empty the directory) is hidden.
    assert (out / ".exsim-results").is_file()
    files = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if not p.name.startswith("."))
    assert f"Results in {out}/: {', '.join(files)}" in lines
    assert "report.html" in files
    assert any(
        re.fullmatch(r"Wall time \d+\.\d s \(1 run\(s\); simulation \d+\.\d s\)", line) for line in lines
    )


def test_results_record_the_run_command_and_the_report_shows_it(tmp_path):
    # The results say how they were made: the run's command line, --set included and quoted
    # for the shell, in summary.json, and a report written later shows it as well as its own.
    raw = two_ims(duration="20m")
    raw["sweep"] = {}
    raw.pop("events")
    source = tmp_path / "two.toml"
    source.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"
    setting = 'run.duration="15m"'
    result = exsim("run", str(source), "--out", str(out), "--quiet", "--set", setting)
    assert result.returncode == 0, result.stderr
    command = f"exsim run {source} --out {out} --quiet --set 'run.duration=\"15m\"'"
    assert json.loads((out / "summary.json").read_text())["command"] == command
    target = tmp_path / "handout.html"
    assert exsim("report", str(out), "-o", str(target)).returncode == 0
    page = target.read_text()
    shown = {
        key: html.unescape(re.search(rf'<code id="{key}">(.*?)</code>', page).group(1))
        for key in ("run-command", "report-command")
    }
    assert shown == {"run-command": command, "report-command": f"exsim report {out} -o {target}"}


def test_report_names_each_sweep_value_and_each_swept_servers_versions(report):
    # two_ims sweeps servers.*.version over 5.0-sp1 and 5.0-sp2 (no labels) and each site's
    # X.400 address over two values labelled "with p=" and "without p=".
    path, _ = report
    page = path.read_text()
    rows = {
        html.unescape(name): [html.unescape(c) for c in cells]
        for name, cells in (
            (m.group(1), re.findall(r"<td>(.*?)</td>", m.group(2)))
            for m in re.finditer(r"<tr><td>([^<]*)</td>(.*?)</tr>", page)
        )
    }
    assert rows["version"][-1] == "5.0-sp1, 5.0-sp2"
    assert rows["redmond"][-1] == "with p= (c=US;a= ;p=Contoso;o=Redmond), without p= (c=US;a= ;o=Redmond)"
    assert rows["dublin"][-1] == "with p= (c=IE;a= ;p=Contoso;o=Dublin), without p= (c=IE;a= ;o=Dublin)"
    # Every server's version is swept: no one version is "the" server's (DUB-EX1 is 5.0-sp1 as written).
    for server in ("RED-EX1", "DUB-EX1"):
        assert rows[server][1:3] == ["swept (version): 5.0-sp1, 5.0-sp2"] * 2, server


def test_report_shows_a_swept_site_address_as_its_sweep_values_not_one_address(report):
    # two_ims sweeps each site's X.400 address (not its SMTP one) over two values labelled
    # "with p=" and "without p=": as for a swept version, the sites table names the variable
    # and its values instead of the one address the file gives.
    path, _ = report
    page = path.read_text()
    table = re.search(r'<table class="sortable" id="table-sites">(.*?)</table>', page, re.S).group(1)
    sites = {
        cells[0]: cells[1:3]
        for cells in (
            [html.unescape(re.sub(r"</?code>", "", c)) for c in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr><td>.*?</tr>", table)
        )
    }
    assert sites == {
        "Redmond": ["swept (redmond): with p=, without p=", "@redmond.contoso.com"],
        "Dublin": ["swept (dublin): with p=, without p=", "@dublin.contoso.com"],
    }


def test_report_of_an_interrupted_run_says_it_is_incomplete_and_how_to_finish_it(tmp_path):
    from exsim.experiment import ExperimentInterrupted, run_experiment
    from exsim.report import write_report
    from exsim.scenario import validate_raw

    raw = two_ims(duration="10m")
    raw["sweep"]["variables"][0]["path"] = "servers.DUB-EX1.version"  # one server swept, not all
    raw["sweep"]["variables"][0]["labels"] = ["SP1", "SP2"]
    raw["sweep"]["baseline"] = {"version": "5.0-sp2"}  # a baseline names a value, not a label
    raw["events"] = []
    source = tmp_path / "s.toml"
    source.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out dir"  # a space: the resume command must quote it

    def stop_after_three(finished: int, total: int) -> None:
        if finished == 3:
            raise KeyboardInterrupt  # as Ctrl-C after the third run's row is saved

    with pytest.raises(ExperimentInterrupted):
        run_experiment(validate_raw(raw, str(source)), workers=1, out=out, progress=stop_after_three)
    page = write_report(out).read_text()
    # 2 versions x 2 x 2 addresses, 1 replication: 8 runs, 3 finished.
    assert "Incomplete results: 3 of 8 runs finished." in page
    assert "3 run(s) of 8: seed" in " ".join(page.split())
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><td>([A-Z]+-EX\d)</td>(.*?)</tr>", page)}
    assert "swept (version): SP1, SP2" in rows["DUB-EX1"]
    assert "swept" not in rows["RED-EX1"]
    resume = html.unescape(re.search(r'<code id="resume-command">(.*?)</code>', page).group(1))
    assert resume == f"exsim run '{out}/scenario.toml' --out '{out}' --resume"
    # The command finishes the experiment, from any directory, as if it had never stopped.
    finished = exsim(*shlex.split(resume)[1:], "--quiet", cwd=tmp_path.parent)
    assert finished.returncode == 0, finished.stderr
    fresh = tmp_path / "fresh"
    run_experiment(validate_raw(raw, str(source)), workers=1, out=fresh)
    assert (out / "runs.csv").read_text() == (fresh / "runs.csv").read_text()
    # (That a finished experiment's report has no notice is test_report_has_every_table_and_figure's:
    # a second report here would double this test's cost, nearly all of it drawing the figures.)


def test_report_of_a_run_stopped_before_any_run_finished_says_plainly_that_none_did(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import exsim.experiment
    from exsim.cli import cli

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # as Ctrl-C while the first run is still running
        yield  # a generator, as _execute is

    monkeypatch.setattr(exsim.experiment, "_execute", stopped)
    raw = two_ims(duration="10m")
    raw["events"] = []
    source = tmp_path / "s.toml"
    source.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(source), "--out", str(out), "--quiet", "--workers", "1"])
    assert result.exit_code == 130
    assert result.output.startswith(
        f"Interrupted: no run of 8 finished, so {out}/runs.csv holds no row yet.\n"
    )
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output  # a report of what there is, as of any results directory
    page = (out / "report.html").read_text()
    text = " ".join(page.split())
    # 2 versions x 2 x 2 addresses, 1 replication: 8 runs, none finished.
    assert "No run finished (0 of 8)." in text
    assert f"exsim run {out}/scenario.toml --out {out} --resume" in text
    # Nothing reads as if a run had happened: no table of zeros, no "in any run".
    assert "Incomplete results" not in text
    assert 'id="table-summary"' not in page
    assert "in any run" not in text
    assert text.count("No run finished, so") == 3  # summary, NDRs, event log
    skipped = re.findall(r'<p class="skipped" id="figure-(\w+)">(.*?)</p>', page)
    assert skipped == [
        (name, f"{name}.png skipped: no run finished")
        for name in ("failure_curve", "failure_matrix", "rollout", "latency", "queues")
    ]
    assert 'id="figure-topology"' in page  # the organization needs no run


# --- in a real browser ---------------------------------------------------------------------


def test_report_opens_in_headless_chromium_offline_without_errors(chromium, report):
    path, page_html = report
    with offline_page(chromium, path) as opened:
        page = opened.page
        assert opened.blocked == []
        assert opened.problems == []
        assert page.title() == "exsim report: small"
        tables = page.locator("table")
        assert tables.count() == sum(1 for tag, _ in page_html.tags if tag == "table")
        figures = page.locator("figure img")
        assert figures.count() == sum(1 for tag, _ in page_html.tags if tag == "img") >= 5
        for k in range(figures.count()):
            # An SVG the browser could decode has a size; a broken data URI has none.
            width = figures.nth(k).evaluate("img => img.complete && img.naturalWidth")
            assert width > 300
        # Sorting: a click on "failure rate [95 %]" sorts the summary by the rate.
        summary = page.locator("#table-summary")
        column = summary.locator("thead th").all_inner_texts().index("failure rate [95 %]")
        summary.locator("thead th").nth(column).click()
        cells = summary.locator(f"tbody tr td:nth-child({column + 1})").all_inner_texts()
        rates = [float(c.split("%")[0]) for c in cells]
        assert rates == sorted(rates)
        assert rates[-1] > 0
        summary.locator("thead th").nth(column).click()
        cells = summary.locator(f"tbody tr td:nth-child({column + 1})").all_inner_texts()
        assert [float(c.split("%")[0]) for c in cells] == sorted(rates, reverse=True)
        assert opened.problems == []


def test_readme_results_section_names_every_file_of_a_results_directory():
    from exsim.results import RESULTS_FILES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Results") : readme.index("## The model in brief")]
    for name in RESULTS_FILES:
        assert f"`{name}`" in section, name


def test_rounded_outcomes_add_up_to_the_rounded_recipients():
    from exsim.results import rounded_outcomes

    # The stranger's row: 8,033.6 + 449.6 = 8,483.2 printed one by one as 8,034 + 450 = 8,484.
    row = {"recipients_mean": 8483.2, "delivered_mean": 8033.6, "ndr_x_mean": 449.6, "pending_mean": 0.0}
    counts = rounded_outcomes(row, ["delivered", "ndr_x", "pending"])
    # 8,483 to share: floors 8,033 + 449 + 0 = 8,482, one left for the first of the equal remainders.
    assert counts == {"recipients": 8483, "delivered": 8034, "ndr_x": 449, "pending": 0}
    # Three thirds of 10: floors 3 + 3 + 3, one left, to the first (remainders tie).
    thirds = {"recipients_mean": 10.0, "a_mean": 10 / 3, "b_mean": 10 / 3, "c_mean": 10 / 3}
    assert rounded_outcomes(thirds, ["a", "b", "c"]) == {"recipients": 10, "a": 4, "b": 3, "c": 3}
    # The largest remainder wins: 1.2 + 2.7 + 3.1 = 7.0 -> 1 + 3 + 3.
    parts = {"recipients_mean": 7.0, "a_mean": 1.2, "b_mean": 2.7, "c_mean": 3.1}
    assert rounded_outcomes(parts, ["a", "b", "c"]) == {"recipients": 7, "a": 1, "b": 3, "c": 3}
    nan = float("nan")
    assert rounded_outcomes({"recipients_mean": nan, "a_mean": nan}, ["a"]) is None  # a point with no run


def test_run_table_rows_add_up_and_stay_within_one_recipient_of_the_means(tmp_path):
    raw = two_ims(duration="20m")
    raw["run"].update(replications=2, seed=12)  # 2 of the 8 rows, rounded cell by cell, do not add up
    source = tmp_path / "two.toml"
    source.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"
    result = exsim("run", str(source), "--out", str(out), "--quiet", "--workers", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "recipients" in line and "delivered" in line)
    names = [c.strip() for c in lines[header].split("┃")[1:-1]]
    rows = [line for line in lines[header + 1 :] if line.startswith("│")][:8]  # the summary's 8 points
    means = pd.read_csv(out / "summary.csv")
    outcomes = ["delivered", "misdelivered", *(n for n in names if n.startswith("NDR ")), "pending"]
    rounded_one_by_one = 0
    for row, (_, mean) in zip(rows, means.iterrows(), strict=True):
        cells = dict(zip(names, (c.strip() for c in row.split("│")[1:-1]), strict=True))
        shown = {n: int(cells[n]) for n in ["recipients", *outcomes]}
        assert shown["recipients"] == sum(shown[n] for n in outcomes), row
        for name in ("recipients", "delivered", "pending"):
            assert abs(shown[name] - mean[f"{name}_mean"]) < 1, name
        parts = [mean[f"{n}_mean"] for n in ("delivered", "misdelivered", "pending")]
        parts += [mean[c] for c in means.columns if c.endswith("_mean") and is_ndr_diagnostic_column(c[:-5])]
        rounded_one_by_one += sum(round(p) for p in parts) != round(mean["recipients_mean"])
    assert rounded_one_by_one > 0  # the case the shared-out rounding is for does occur here


def test_a_swept_event_time_is_listed_as_swept_with_each_points_time():
    from exsim.scenario import validate_raw
    from exsim.timeline import listed
    from tests.simkit import one_site

    raw = one_site(duration="1d")
    raw["events"] = [
        {"kind": "outage", "connector": "IMS", "start": "1h", "end": "2h"},
        {"kind": "crash", "server": "RED-EX1", "at": "9h", "restart_after": "30m"},
    ]
    raw["sweep"] = {
        "variables": [{"name": "crash_at", "path": "events.1.at", "values": ["9h", "10h30m", "16h"]}]
    }
    assert listed(validate_raw(raw)) == [
        ("IMS down", "Mon 01:00 to Mon 02:00"),
        (
            "RED-EX1 crashed",
            "swept (crash_at): Mon 09:00 to Mon 09:30, Mon 10:30 to Mon 11:00, Mon 16:00 to Mon 16:30",
        ),
    ]
    # Q166866 sweeps the whole list: its IMS is stopped (for good) at half of its 12 points, none
    # in the file itself.
    from exsim import load_scenario

    assert listed(load_scenario(SCENARIOS / "kb" / "Q166866.toml")) == [
        ("RED-EX1 IMS stopped", "swept (ims): from Mon 00:00, not restarted (at 6 of 12 points)")
    ]


def test_a_service_stop_with_no_end_is_listed_as_not_restarted():
    from exsim.scenario import validate_raw
    from exsim.timeline import event_marks, listed
    from tests.simkit import one_site

    raw = one_site(duration="1d")  # and 1 h of drain
    raw["events"] = [{"kind": "service_stop", "server": "RED-EX2", "service": "mta", "start": "15h"}]
    scenario = validate_raw(raw)
    assert listed(scenario) == [("RED-EX2 MTA stopped", "from Mon 15:00, not restarted")]
    # Shaded through the drain as well: the service never comes back in the simulation.
    (mark,) = event_marks(scenario)
    assert (mark.start_s, mark.end_s, mark.ends) == (15 * 3600, 25 * 3600, False)


def test_report_and_plots_of_an_interrupted_run_with_a_point_without_runs_mark_that_point(tmp_path):
    """Timed events and a sweep point none of whose runs finished (n = 0): the per-point figures
    over time used to take the last sample of that point's empty series (IndexError, exit 1, and
    an empty plots/ left behind). Now the point's panel says no run finished there, every other
    figure is drawn, and the report is the "Incomplete results" one."""
    from exsim.experiment import ExperimentInterrupted, run_experiment
    from exsim.report import write_report
    from exsim.scenario import validate_raw

    raw = two_ims(duration="40m")  # with its timed outage and service stop
    raw["sweep"]["variables"] = raw["sweep"]["variables"][:1]  # version only: 2 points
    del raw["sweep"]["baseline"]
    raw["run"]["replications"] = 2
    source = tmp_path / "s.toml"
    source.write_text(tomli_w.dumps(raw))
    out = tmp_path / "out"

    def stop_after_one(finished: int, total: int) -> None:
        if finished == 1:
            raise KeyboardInterrupt

    with pytest.raises(ExperimentInterrupted):
        run_experiment(validate_raw(raw, str(source)), workers=1, out=out, progress=stop_after_one)
    results = read_results(out)
    counts = dict(zip(results.summary["point"], results.summary["n"], strict=True))
    assert sorted(counts.values()) == [0, 1]  # one point has a run, the other none
    empty = next(p for p, n in counts.items() if n == 0)
    figures = plots.make_figures(results)
    for name in ("rollout", "queues"):
        figure = figures[name]
        if isinstance(figure, str):
            assert "no run finished" not in figure  # skipped only for the figure's own reason
            continue
        texts = [t.get_text() for ax in figure.axes for t in ax.texts]
        titles = [ax.get_title(loc="left") for ax in figure.axes]
        assert "no run finished at this point" in texts, name
        assert any(title.startswith(f"point {empty} ") for title in titles), (name, titles)
    assert not isinstance(figures["rollout"], str)  # point 0's run has NDRs: this one is drawn
    lines = plots.plot_results(out)
    assert all(not line.endswith("skipped: no run finished") for line in lines), lines
    page = write_report(out).read_text()
    assert "Incomplete results: 1 of 4 runs finished." in page
