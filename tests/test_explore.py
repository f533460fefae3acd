"""``exsim explore``: the offline page, checked in headless Chromium against ``exsim route``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser import offline_page
from tests.clikit import exsim
from tests.conftest import SCENARIOS

CONTOSO = str(SCENARIOS / "contoso.toml")
README_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "explorer.png"


def screenshot_path(tmp_path: Path) -> Path:
    """Where the test's screenshot of the explorer goes: README's docs/explorer.png when
    EXSIM_UPDATE_DOCS=1 (how it is remade after the page changes), else a temporary file, so
    that a test run leaves the checkout as it found it."""
    return README_SCREENSHOT if os.environ.get("EXSIM_UPDATE_DOCS") == "1" else tmp_path / "explorer.png"


def written_page(tmp_path_factory, scenario: str, *args: str) -> Path:
    """The explorer page ``exsim explore`` writes for a scenario, in a fresh directory."""
    path = tmp_path_factory.mktemp("explore") / f"{Path(scenario).stem}.html"
    result = exsim("explore", scenario, "-o", str(path), *args)
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def page_path(tmp_path_factory) -> Path:
    return written_page(tmp_path_factory, CONTOSO)


def test_explore_writes_a_self_contained_page(page_path):
    text = page_path.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    assert "<script src" not in text


def test_the_page_says_equal_routes_are_drawn_per_message_as_exsim_route_does():
    # tests/test_routing.py's ring: from A1 to C, AB and DA tie at cost 2 (worked out there).
    from exsim.explain import explain_plan
    from exsim.explore import explorer_data
    from exsim.routing import Router
    from tests.test_routing import RING, org_of

    org = org_of(["A", "B", "C", "D"], RING)
    shown = explorer_data(org)["routes"]["A1"]["userC"]
    assert shown["decisions"][0]["tied"] == ["AB", "DA"]
    said = explain_plan(Router(org).plan("A1", "userC"))
    assert "  load share: AB and DA tie (cost 2 each), so each message draws one of them at random" in said
    assert [line for lines in shown["explained"] for line in lines] == said[1 : said.index("Hops:")]
    assert shown["why"] == said[-1]
    assert "tie (cost 2 each)" in shown["why"]


def test_each_sample_address_matches_the_address_space_it_stands_for():
    # The page routes only the addresses it precomputed: a sample of an address space that the
    # space does not match (c=GB;a=XYZ;p=* once gave c=GB;a=XYZ;s=Smith, no p=) shows no route
    # over it. Every bundled scenario's spaces, and X.400 ones with wildcards in p=, o= and c=.
    from exsim.explore import sample_addresses
    from exsim.org import Organization
    from exsim.routing import GwartRow, match_rows
    from exsim.scenario import load_scenario, validate_raw
    from tests.simkit import one_site

    raw = one_site()
    raw["connectors"].append(
        {
            "name": "X400 out",
            "kind": "x400_foreign",
            "server": "RED-EX1",
            "address_spaces": [
                {"type": "X400", "pattern": "c=GB;a=XYZ;p=*", "cost": 1},
                {"type": "X400", "pattern": "c=US;a= ;p=Acme;o=*", "cost": 1},
                {"type": "X400", "pattern": "c=*;a=ZZ", "cost": 1},
            ],
        }
    )
    orgs = [Organization(load_scenario(path)) for path in sorted(SCENARIOS.rglob("*.toml"))]
    orgs.append(Organization(validate_raw(raw)))
    checked = 0
    for org in orgs:
        samples = sample_addresses(org)
        for connector in org.connectors.values():
            for space in connector.address_spaces:
                if space.type == "EX" or (space.type != "SMTP" and not space.pattern.strip()):
                    continue
                row = GwartRow(space.type, space.pattern, space.cost, connector.name, ("X",), connector.name)
                of_type = {
                    "SMTP": [a for a in samples if "@" in a],
                    "MS": [a.removeprefix("MS:") for a in samples if a.startswith("MS:")],
                    "X400": [a for a in samples if "=" in a and not a.startswith("MS:")],
                }[space.type]
                assert any(match_rows([row], space.type, sample) for sample in of_type), space
                checked += 1
    assert checked >= 3
    assert "c=GB;a=XYZ;p=Sample;s=Smith;g=Pat" in sample_addresses(orgs[-1])


def test_explore_refuses_a_missing_directory(tmp_path):
    result = exsim("explore", CONTOSO, "-o", str(tmp_path / "nowhere" / "x.html"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_explore_writes_where_its_help_says_by_default(tmp_path):
    # The default is named after the file, not the scenario's name (which is 'contoso' here).
    source = tmp_path / "my-org.toml"
    source.write_text(Path(CONTOSO).read_text())
    work = tmp_path / "work"
    work.mkdir()
    result = exsim("explore", str(source), cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Wrote my-org.html"
    assert sorted(p.name for p in work.iterdir()) == ["my-org.html"]
    shown = " ".join(exsim("explore", "--help").stdout.split())
    assert "default: the scenario file's name with .html, in the current directory" in shown


def test_explorer_in_headless_chromium_shows_gwart_and_routes_as_exsim_route(chromium, page_path, tmp_path):
    with offline_page(chromium, page_path, viewport={"width": 1400, "height": 900}) as opened:
        page = opened.page
        # Click Redmond: its GWART, Sydney's row via Tokyo broken down 8 = 3 + 5 (contoso.toml:
        # X.400 Redmond-Tokyo 3, Dynamic RAS Tokyo-Sydney 5) and the direct one at 10.
        page.locator('.site[data-site="Redmond"]').click()
        assert page.locator("#gwart-title").inner_text() == "GWART of site Redmond"
        rows = [
            [cell.inner_text() for cell in row.locator("td").all()]
            for row in page.locator("#gwart tbody tr").all()
        ]
        sydney = [r for r in rows if r[0] == "EX" and r[1] == "/o=Contoso/ou=Sydney"]
        assert [(r[2], r[3], r[4]) for r in sydney] == [
            ("8", "8 = 3 + 5", "X.400 Redmond-Tokyo"),
            ("10", "10", "X.400 Redmond-Sydney"),
        ]
        gwart = json.loads(exsim("gwart", CONTOSO, "--site", "Redmond", "--json").stdout)["Redmond"]
        assert len(rows) == len(gwart)
        # A route: the hops shown are those exsim route --json gives.
        for sender, recipient in (("RED-EX2", "BJones"), ("RED-EX2", "user@example.com")):
            page.select_option("#from", sender)
            page.fill("#to", recipient)
            page.click("#show")
            shown = [
                (li.get_attribute("data-from"), li.get_attribute("data-to"), li.get_attribute("data-via"))
                for li in page.locator("#hops > li").all()
            ]
            plan = json.loads(exsim("route", CONTOSO, "--from", sender, "--to", recipient, "--json").stdout)
            assert shown == [(h["from_server"], h["to_server"] or "", h["via"]) for h in plan["hops"]]
            assert page.locator("#outcome").inner_text().endswith(plan["outcome"])
        # The filters at Redmond for BJones: lowest cost dropped the direct connector, and why.
        page.fill("#to", "BJones")
        page.click("#show")
        dropped = page.locator("#decisions .dropped").all_inner_texts()
        assert "dropped X.400 Redmond-Sydney: cost 10 > 8" in dropped
        assert page.locator("#why").inner_text().startswith("Why this route: at RED-EX2 X.400 Redmond-Tokyo")
        # An address that was not precomputed is refused, saying so.
        page.fill("#to", "nobody@nowhere.example")
        page.click("#show")
        assert "not one of the precomputed recipients" in page.locator("#route-error").inner_text()
        # The animation steps a hop every 600 ms: on a clock the test moves, two steps for the
        # screenshot take no waiting.
        page.clock.install(time=0)
        page.clock.pause_at(1)
        page.fill("#to", "BJones")
        page.click("#show")
        page.clock.run_for(1500)
        screenshot = screenshot_path(tmp_path)
        page.screenshot(path=str(screenshot))
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert opened.blocked == []
        assert opened.problems == []


Q166866 = str(SCENARIOS / "q166866.toml")


@pytest.fixture(scope="module")
def q166866_page(tmp_path_factory) -> Path:
    return written_page(tmp_path_factory, Q166866)


def test_explorer_replays_a_trace_file_with_every_step_readable(chromium, q166866_page, tmp_path):
    story_text = exsim("trace", Q166866, "--first-ndr", "--point", "3", "--json").stdout
    trace_file = tmp_path / "trace.json"
    trace_file.write_text(story_text)
    story = json.loads(story_text)
    lines = story["lines"]
    with offline_page(chromium, q166866_page, viewport={"width": 1400, "height": 900}) as opened:
        page = opened.page
        page.set_input_files("#trace-file", str(trace_file))
        page.wait_for_function(f"document.querySelectorAll('#sequence .mark').length === {len(lines)}")
        ndr_marks = page.locator("#sequence .mark.ndr").count()
        assert ndr_marks == sum(1 for line in lines if line["kind"] == "ndr") >= 1
        servers = page.locator("#sequence > text[font-weight='bold']").evaluate_all(
            "nodes => nodes.map(n => n.textContent)"
        )
        assert servers == list(dict.fromkeys(line["server"] for line in lines))
        # Every step in full: a tooltip on its mark and a numbered list item, nothing cut.
        titles = page.locator("#sequence .mark > title").all_text_contents()
        steps = page.locator("#trace-steps li").all_text_contents()
        assert len(titles) == len(steps) == len(lines)
        for line, title, step in zip(lines, titles, steps, strict=True):
            assert title.endswith(f"{line['server']} {line['component']}: {line['text']}")
            assert step.endswith(f"{line['server']} {line['component']}: {line['text']}")
        # The chart is as wide as its lanes (the box around it scrolls), not clipped at 600 px.
        width = float(page.locator("#sequence").get_attribute("width"))
        lanes = page.locator("#sequence > line").evaluate_all(
            "ls => ls.map(l => Number(l.getAttribute('x1')))"
        )
        assert width >= max(lanes) + 200
        assert page.locator("#trace-glossary").inner_text() == story["glossary"]
        assert page.locator("#trace-fixes li").all_inner_texts() == story["fixes"] != []
        assert opened.problems == []


def test_a_bad_trace_file_is_refused_on_the_page_without_errors(chromium, q166866_page, page_path, tmp_path):
    bad = {
        "empty.json": ("", "the file is empty"),
        "text.json": ("not json at all", "not JSON"),
        "list.json": ("[1, 2]", 'it has no "lines" list'),
        "shape.json": ('{"lines": [{"server": "RED-EX1"}]}', "line 1 of the trace lacks"),
    }
    with offline_page(chromium, q166866_page) as opened:
        page = opened.page
        for name, (text, message) in bad.items():
            (tmp_path / name).write_text(text)
            page.set_input_files("#trace-file", str(tmp_path / name))
            page.wait_for_function("document.getElementById('trace-error').textContent !== ''")
            shown = page.locator("#trace-error").inner_text()
            assert shown.startswith(f"Cannot show {name}: "), shown
            assert message in shown, shown
            assert page.locator("#sequence .mark").count() == 0
            page.set_input_files("#trace-file", [])
        assert opened.problems == []
    # A trace from another organization (addressing.toml's HQ servers) on the Contoso page.
    story = exsim("trace", str(SCENARIOS / "addressing.toml"), "--first-misdelivery", "--json").stdout
    (tmp_path / "other.json").write_text(story)
    with offline_page(chromium, page_path) as opened:
        page = opened.page
        page.set_input_files("#trace-file", str(tmp_path / "other.json"))
        page.wait_for_function("document.getElementById('trace-warning').textContent !== ''")
        warning = page.locator("#trace-warning").inner_text()
        assert warning.startswith("This trace is from another organization (scenario addressing)")
        assert "HQ-EX2" in warning
        assert page.locator("#sequence .mark").count() == 0
        assert opened.problems == []


def test_a_trace_of_another_scenario_with_the_same_servers_is_refused(chromium, page_path, tmp_path):
    # Contoso with one connector's cost changed: the same name, organization and servers, but
    # another scenario (its routes differ). Its trace must not be drawn on contoso's page; a
    # trace of contoso itself is, and a trace that carries no scenario hash is refused too.
    changed = ("--set", 'connectors."X.400 Redmond-Sydney".cost=1')
    other = json.loads(exsim("trace", CONTOSO, "--message", "1", "--json", *changed).stdout)
    same = json.loads(exsim("trace", CONTOSO, "--message", "1", "--json").stdout)
    assert other["scenario"] == same["scenario"] == "contoso"
    assert other["scenario_hash"] != same["scenario_hash"]
    hashless = {key: value for key, value in same.items() if key != "scenario_hash"}
    files = {}
    for name, story in (("other.json", other), ("same.json", same), ("hashless.json", hashless)):
        files[name] = tmp_path / name
        files[name].write_text(json.dumps(story))
    with offline_page(chromium, page_path) as opened:
        page = opened.page
        # Every server of the other trace is one of the page's: the old check let it through.
        known = page.evaluate("DATA.sites.flatMap(s => s.servers.map(v => v.name))")
        assert {line["server"] for line in other["lines"]} <= set(known)
        for name, expected in (
            ("other.json", "it is a trace of scenario contoso (hash "),
            ("hashless.json", "it carries no scenario hash"),
        ):
            page.set_input_files("#trace-file", str(files[name]))
            page.wait_for_function("document.getElementById('trace-error').textContent !== ''")
            shown = page.locator("#trace-error").inner_text()
            assert shown.startswith(f"Cannot show {name}: {expected}"), shown
            assert page.locator("#sequence .mark").count() == 0
            if name == "other.json":
                assert f"(hash {other['scenario_hash']}) and this page is of scenario contoso (hash " in shown
                assert f"(hash {same['scenario_hash']}), the same name but not the same scenario" in shown
            page.set_input_files("#trace-file", [])
        page.set_input_files("#trace-file", str(files["same.json"]))
        page.wait_for_function(
            f"document.querySelectorAll('#sequence .mark').length === {len(same['lines'])}"
        )
        assert page.locator("#trace-error").inner_text() == ""
        assert opened.problems == []


def test_route_view_clears_after_an_error_and_reads_recipients_as_the_directory(chromium, page_path):
    with offline_page(chromium, page_path) as opened:
        page = opened.page
        page.clock.install(time=0)  # the animation's first step (600 ms) without waiting for it
        page.clock.pause_at(1)
        page.select_option("#from", "RED-EX2")
        page.fill("#to", "bjones")  # the alias is BJones: exsim route accepts any case
        page.click("#show")
        plan = json.loads(exsim("route", CONTOSO, "--from", "RED-EX2", "--to", "bjones", "--json").stdout)
        shown = [li.get_attribute("data-via") for li in page.locator("#hops > li").all()]
        assert shown == [h["via"] for h in plan["hops"]]
        assert page.locator("#route-error").inner_text() == ""
        page.clock.run_for(600)
        assert page.locator(".link.active").count() > 0  # the route's first link is lit
        page.fill("#to", "nobody@nowhere.example")
        page.click("#show")
        assert "not one of the precomputed recipients" in page.locator("#route-error").inner_text()
        for stale in ("#outcome", "#why", "#route-fix"):
            assert page.locator(stale).inner_text() == "", stale
        assert page.locator("#hops > li, #decisions > div, .link.active").count() == 0
        assert opened.problems == []


def test_route_view_tells_the_story_of_exsim_route_with_misdelivery_and_fix(chromium, tmp_path):
    path = tmp_path / "addressing.html"
    addressing = str(SCENARIOS / "addressing.toml")
    assert exsim("explore", addressing, "-o", str(path)).returncode == 0
    with offline_page(chromium, path) as opened:
        page = opened.page
        recipients = page.locator("#recipients option").evaluate_all("os => os.map(o => o.value)")
        assert "c=US;a=PTT;s=Smith;g=Pat" in recipients  # a sample for the PTT X.400 space
        # The PTT's USER1 lands in the local USER1 (KB Q176046): misdelivered, why, and the fix.
        page.select_option("#from", "HQ-EX2")
        page.fill("#to", "c=US;a=PTT;s=USER1")
        page.click("#show")
        route = exsim("route", addressing, "--from", "HQ-EX2", "--to", "c=US;a=PTT;s=USER1")
        said = route.stdout.splitlines()
        outcome = next(line for line in said if line.startswith("Outcome: ")).removeprefix("Outcome: ")
        assert outcome.startswith("misdelivered (Q176046)")
        assert page.locator("#outcome").inner_text() == f"Total cost 0; {outcome}"
        assert page.locator("#route-fix").inner_text() in said
        # From RED-EX... the Internet sample: the decision lines are exsim route's, word for word.
        page.fill("#to", "user@example.com")
        page.click("#show")
        route = exsim("route", addressing, "--from", "HQ-EX2", "--to", "user@example.com").stdout
        decision = route.split("Hops:")[0].splitlines()[1:]
        shown = page.locator("#decisions .decision").first.locator("h2, div").all_inner_texts()
        assert shown == [" ".join(line.split()) for line in decision]  # HTML collapses runs of spaces
        assert any(line.startswith("filters 3-7 skipped: one candidate left") for line in shown)
        assert opened.problems == []


ROLLOUT = str(SCENARIOS / "rollout.toml")
#: rollout.toml with 5 users a server: the same week of events, a few seconds to simulate.
FEW_USERS = "servers.*.users=5"
#: rollout.toml's events, in hours from Monday 00:00: SP1 on RED-EX1 (1d2h), RED-EX2 (1d3h),
#: DUB-EX1 (2d2h), TOK-EX1 (2d20h), SYD-EX1 (3d2h); Dublin's p= (3d12h); SP2 on TOK-EX1 (5d12h).
ROLLOUT_MARKS = [
    (26, "upgrade"),
    (27, "upgrade"),
    (50, "upgrade"),
    (68, "upgrade"),
    (74, "upgrade"),
    (84, "address_change"),
    (132, "upgrade"),
]


@pytest.fixture(scope="module")
def rollout_page(tmp_path_factory) -> Path:
    return written_page(tmp_path_factory, ROLLOUT, "--set", FEW_USERS)


def shown_rows(page) -> dict[str, list[int]]:
    rows = {}
    for row in page.locator("#site-series tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        rows[cells[0]] = [int(c) for c in cells[1:]]
    return rows


def expected_rows(timeline: dict, k: int) -> dict[str, list[int]]:
    """A site's row at interval k, from the embedded series: in the interval, then so far."""
    return {
        site: [
            s["delivered"][k],
            s["ndr"][k],
            s["queued"][k],
            sum(s["delivered"][: k + 1]),
            sum(s["ndr"][: k + 1]),
        ]
        for site, s in timeline["sites"].items()
    }


def test_the_embedded_run_is_the_scenario_run_once_split_by_site(rollout_page):
    from exsim import load_scenario, simulate

    text = rollout_page.read_text()
    data = json.loads(text.split('<script id="data" type="application/json">', 1)[1].split("</script>", 1)[0])
    timeline = data["timeline"]
    result = simulate(load_scenario(ROLLOUT).modified({"servers.*.users": 5}))
    series = result.series
    assert timeline["seed"] == result.seed
    assert timeline["interval_s"] == 3600.0
    home = {
        "RED-EX1": "Redmond",
        "RED-EX2": "Redmond",
        "DUB-EX1": "Dublin",
        "TOK-EX1": "Tokyo",
        "SYD-EX1": "Sydney",
    }
    for site, kinds in timeline["sites"].items():
        for key, by_server in (
            ("delivered", series.delivered_by_server),
            ("ndr", series.ndr_by_server),
            ("queued", series.queue_samples),
        ):
            servers = [s for s in home if home[s] == site]
            expected = [
                sum(int(by_server[s][i]) for s in servers if s in by_server)
                for i in range(len(series.delivered))
            ]
            assert kinds[key] == expected, (site, key)
    # The sites' shares add up to the organization's count in every interval: nothing lost or doubled.
    for key, whole in (("delivered", series.delivered), ("ndr", series.ndr)):
        assert [
            sum(s[key][i] for s in timeline["sites"].values()) for i in range(len(whole))
        ] == whole.tolist()
    assert sum(series.delivered.tolist()) == result.outcomes.delivered
    assert [(m["time_s"] / 3600, m["kind"]) for m in timeline["marks"]] == ROLLOUT_MARKS


def server_builds(page) -> dict[str, str]:
    """Each server's build as the map labels it: ``RED-EX1 (5.0-sp1)``."""
    builds = {}
    for label in page.locator("#map .server").all_text_contents():
        name, _, version = label.partition(" (")
        builds[name] = version.rstrip(")")
    return builds


def test_the_time_slider_shows_each_site_at_the_time_chosen(chromium, rollout_page):
    text = rollout_page.read_text()
    timeline = json.loads(
        text.split('<script id="data" type="application/json">', 1)[1].split("</script>", 1)[0]
    )["timeline"]
    with offline_page(chromium, rollout_page, viewport={"width": 1400, "height": 900}) as opened:
        page = opened.page
        slider = page.locator("#slider")
        assert slider.get_attribute("max") == str(len(timeline["times_s"]) - 1)
        assert page.locator("#slider-time").inner_text().startswith("Interval 0: Mon 00:00 to Mon 01:00")
        assert set(server_builds(page).values()) == {"5.0"}
        assert shown_rows(page) == expected_rows(timeline, 0)
        # Step it with the keyboard, as a student would, then jump.
        slider.focus()
        for k in range(1, 4):
            page.keyboard.press("ArrowRight")
            assert slider.input_value() == str(k)
            assert shown_rows(page) == expected_rows(timeline, k)
        # Wednesday afternoon: SP1 reached Dublin at 02:00 and its site address has no p=, so
        # Dublin's Internet mail comes back; Redmond (p=Contoso) NDRs nothing.
        slider.fill("62")
        assert page.locator("#slider-time").inner_text().startswith("Interval 62: Wed 14:00 to Wed 15:00")
        rows = shown_rows(page)
        assert rows == expected_rows(timeline, 62)
        assert sum(timeline["sites"]["Dublin"]["ndr"][:50]) == 0
        assert rows["Dublin"][4] > 0
        assert rows["Redmond"][4] == 0
        # The map shows each server's build at that time (rollout.toml: RED-EX1 SP1 at 26 h,
        # RED-EX2 at 27 h, DUB-EX1 at 50 h, TOK-EX1 at 68 h and SP2 at 132 h, SYD-EX1 at 74 h).
        assert server_builds(page) == {
            "RED-EX1": "5.0-sp1",
            "RED-EX2": "5.0-sp1",
            "DUB-EX1": "5.0-sp1",
            "TOK-EX1": "5.0",
            "SYD-EX1": "5.0",
        }
        map_label = page.locator('.site-series[data-site="Dublin"]').text_content()
        assert (
            map_label == f"{rows['Dublin'][0]} delivered, {rows['Dublin'][1]} NDR, {rows['Dublin'][2]} queued"
        )
        # The events are marked on the slider; a click on one moves the slider to its time.
        ticks = page.locator("#marks .tick").all()
        assert [
            (int(t.get_attribute("data-index")), t.get_attribute("data-kind")) for t in ticks
        ] == ROLLOUT_MARKS
        page.locator('#marks .tick[data-kind="address_change"]').dispatch_event("click")
        assert slider.input_value() == "84"
        assert server_builds(page)["TOK-EX1"] == "5.0-sp1"
        slider.fill("25")  # the interval before RED-EX1's upgrade at 26 h, then the one it starts
        assert server_builds(page)["RED-EX1"] == "5.0"
        slider.fill("26")
        assert server_builds(page)["RED-EX1"] == "5.0-sp1"
        slider.fill("132")
        assert server_builds(page)["TOK-EX1"] == "5.0-sp2"
        slider.fill("84")
        assert shown_rows(page) == expected_rows(timeline, 84)
        assert (
            page.locator("#marks-list li")
            .nth(5)
            .inner_text()
            .startswith("Thu 12:00 (t = 84.0 h) address change")
        )
        assert opened.blocked == []
        assert opened.problems == []


def test_a_scenario_without_timed_events_has_no_slider(chromium, page_path):
    assert '"timeline": null' in page_path.read_text()
    with offline_page(chromium, page_path) as opened:
        assert opened.page.locator("#timeline").is_hidden()
        assert opened.page.locator("#no-timeline").is_visible()
        assert opened.problems == []


def test_events_lasting_a_while_are_marked_where_they_start_and_end():
    from exsim import load_scenario
    from exsim.explore import event_marks

    marks = event_marks(load_scenario(SCENARIOS / "faults.toml"))
    outages = [(m["time_s"] / 3600, m["kind"], m["text"]) for m in marks if m["kind"].startswith("outage")]
    # faults.toml: X.400 Redmond-Dublin down 2h-5h, the IMS's Internet side down 14h-20h.
    assert outages == [
        (2, "outage", "X.400 Redmond-Dublin down"),
        (5, "outage_end", "X.400 Redmond-Dublin back"),
        (14, "outage", "Internet Mail Service (RED-EX1) down"),
        (20, "outage_end", "Internet Mail Service (RED-EX1) back"),
    ]
    assert [m["time_s"] for m in marks] == sorted(m["time_s"] for m in marks)


def test_marks_are_listed_in_words_and_a_crash_says_when_it_restarts():
    from exsim import load_scenario
    from exsim.explore import event_marks

    marks = event_marks(load_scenario(SCENARIOS / "faults.toml"))
    # faults.toml: RED-EX2 crashes at 5h0m26.4s for 2 minutes (back 05:02:26) and at 5h10m30.87s
    # for 20 minutes (back 05:30:31); the IMS on RED-EX1 stops 9h-10h.
    crashes = [m["text"] for m in marks if m["kind"] == "crash"]
    assert crashes == [
        "RED-EX2 crashes; restarts at Mon 05:02 (t = 5.0 h)",
        "RED-EX2 crashes; restarts at Mon 05:30 (t = 5.5 h)",
    ]
    ims = [(m["label"], m["text"]) for m in marks if m["text"].startswith("ims on RED-EX1")]
    assert ims == [("service stops", "ims on RED-EX1 stops"), ("service restarts", "ims on RED-EX1 restarts")]
    assert all("_" not in m["label"] for m in marks)


def test_map_labels_do_not_print_over_each_other_and_gateway_boxes_hold_their_text(chromium, page_path):
    with offline_page(chromium, page_path, viewport={"width": 1400, "height": 900}) as opened:
        page = opened.page
        boxes = page.locator("#map .link-label").evaluate_all(
            "ts => ts.map(t => { const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })"
        )
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        gateways = page.locator("#map .gateway rect").evaluate_all(
            "rs => rs.map(r => { const b = r.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })"
        )
        for label in boxes:
            for box in gateways:
                assert label[2] <= box[0] or box[2] <= label[0] or label[3] <= box[1] or box[3] <= label[1]
        assert all(box[0] >= 0 and box[2] <= 620 for box in gateways)  # inside the 620-px map
        fits = page.locator("#map .gateway").evaluate_all(
            "gs => gs.map(g => g.querySelector('text').getBBox().width <= "
            "Number(g.querySelector('rect').getAttribute('width')))"
        )
        assert fits
        assert all(fits)
        assert opened.problems == []
