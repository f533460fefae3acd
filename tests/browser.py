"""Headless Chromium for the browser tests: Debian's system browser driven by Playwright,
every request that is not a local file or a data URI blocked and recorded.

Tests skip, saying how to install, only when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("EXSIM_CHROMIUM", "/usr/bin/chromium"))

HOW_TO_INSTALL = (
    "needs Chromium and Playwright: apt-get install -y chromium && pip install '.[browser]' "
    "(the system browser is used; no 'playwright install')"
)


def sync_playwright():  # type: ignore[no-untyped-def]
    """Playwright's entry point, or a skip saying how to install what is missing."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} not found: {HOW_TO_INSTALL}")
    try:
        from playwright.sync_api import sync_playwright as entry
    except ImportError:
        pytest.skip(f"playwright is not installed: {HOW_TO_INSTALL}")
    return entry


@dataclass
class OfflinePage:
    page: Any
    problems: list[str] = field(default_factory=list)
    """Console errors and warnings, and uncaught exceptions."""
    blocked: list[str] = field(default_factory=list)
    """Requests for anything but a local file or a data URI (none should be made)."""


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Playwright and one headless Chromium, both closed on leaving (see the ``chromium`` fixture)."""
    entry = sync_playwright()
    with entry() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_page(browser: Any, path: Path, viewport: dict[str, int] | None = None) -> Iterator[OfflinePage]:
    """Open a local HTML file with the network blocked, in a browser context of its own: a fresh
    profile that shares no cookies, storage or cache with any other page the browser opened."""
    context = browser.new_context(viewport=viewport) if viewport else browser.new_context()
    try:
        page = context.new_page()
        opened = OfflinePage(page)
        page.on(
            "console",
            lambda m: opened.problems.append(m.text) if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: opened.problems.append(str(e)))

        def route(r):  # type: ignore[no-untyped-def]
            if r.request.url.startswith(("file://", "data:")):
                r.continue_()
            else:
                opened.blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        yield opened
    finally:
        context.close()
