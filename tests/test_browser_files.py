"""conftest.py's BROWSER_TEST_FILES names every test file that uses the 'chromium' fixture, and no
other: xdist runs those files in one worker so that one browser serves them all. Its LONGEST_FIRST
names units of work that exist."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import BROWSER_TEST_FILES, BROWSER_TESTS, LESSONS, LONGEST_FIRST

ROOT = Path(__file__).resolve().parent.parent


def _uses_chromium(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.FunctionDef) and any(arg.arg == "chromium" for arg in node.args.args)
        for node in ast.walk(tree)
    )


def test_the_browser_files_are_the_files_whose_tests_use_chromium():
    found = {
        str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").glob("test_*.py")) if _uses_chromium(p)
    }
    assert found
    assert found == BROWSER_TEST_FILES


def test_the_longest_units_are_files_of_the_suite_the_lessons_or_the_browser_tests():
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert LONGEST_FIRST[:2] == (LESSONS, BROWSER_TESTS)
    missing = [unit for unit in LONGEST_FIRST[2:] if not (ROOT / unit).is_file()]
    assert missing == []
