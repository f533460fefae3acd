"""``exsim explore``: the offline page, checked in headless Chromium against ``exsim route``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser import offline_page
from tests.clikit import exsim
from tests.conftest import SCENARIOS

CONTOSO = str(SCENARIOS / "contoso.toml")
README_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "explorer.png"


@pytest.fixture(scope="module")
def page_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "contoso.html"
    result = exsim("explore", CONTOSO, "-o", str(path))
    assert result.returncode == 0, result.stdout
    return path


def test_explore_writes_a_self_contained_page(page_path):
    text = page_path.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    assert "<script src" not in text


def test_explore_refuses_a_missing_directory(tmp_path):
    result = exsim("explore", CONTOSO, "-o", str(tmp_path / "nowhere" / "x.html"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_explorer_in_headless_chromium_shows_gwart_and_routes_as_exsim_route(page_path):
    with offline_page(page_path, viewport={"width": 1400, "height": 900}) as opened:
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
        page.fill("#to", "BJones")
        page.click("#show")
        page.wait_for_timeout(1500)  # let the animation show two hops for the screenshot
        page.screenshot(path=str(README_SCREENSHOT))
        assert opened.blocked == []
        assert opened.problems == []


def test_explorer_replays_a_trace_file(page_path, tmp_path):
    story = exsim("trace", str(SCENARIOS / "q166866.toml"), "--first-ndr", "--point", "3", "--json").stdout
    trace_file = tmp_path / "trace.json"
    trace_file.write_text(story)
    lines = json.loads(story)["lines"]
    with offline_page(page_path) as opened:
        page = opened.page
        page.set_input_files("#trace-file", str(trace_file))
        page.wait_for_function(f"document.querySelectorAll('#sequence .mark').length === {len(lines)}")
        ndr_marks = page.locator("#sequence .mark.ndr").count()
        assert ndr_marks == sum(1 for line in lines if line["kind"] == "ndr") >= 1
        servers = page.locator("#sequence > text[font-weight='bold']").evaluate_all(
            "nodes => nodes.map(n => n.textContent)"
        )
        assert servers == list(dict.fromkeys(line["server"] for line in lines))
        assert opened.problems == []
