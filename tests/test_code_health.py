"""Rules of the code base that no linter checks: type-checking exemptions say why, no code
compares a KB number, and no module is exempt from strict type checking."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = sorted((ROOT / "exsim").rglob("*.py"))

# `# type: ignore[code]  # why`: the code, then a reason of its own on the same line.
JUSTIFIED = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(,\s*[a-z-]+)*\]\s+#\s*\S.{3,}")
KB_NUMBER = re.compile(r"Q\d{6}")


def unjustified_ignores(text: str) -> list[str]:
    return [
        line.strip() for line in text.splitlines() if "type: ignore" in line and not JUSTIFIED.search(line)
    ]


def kb_literals(text: str) -> list[str]:
    """String constants that are nothing but a KB number (docstrings and messages mention them
    inside sentences; a bare one is a comparison or a lookup by article)."""
    return [
        node.value
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KB_NUMBER.fullmatch(node.value)
    ]


def test_every_type_ignore_names_its_code_and_says_why():
    found = {str(p.relative_to(ROOT)): unjustified_ignores(p.read_text()) for p in PACKAGE}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_ignore_rule_tells_a_reason_from_none():
    assert (
        unjustified_ignores("x = f()  # type: ignore[no-untyped-call]  # Agg's canvas is unannotated") == []
    )
    assert unjustified_ignores("x = f()  # type: ignore[no-untyped-call]") != []
    assert unjustified_ignores("x = f()  # type: ignore  # no code") != []


def test_only_the_defect_table_names_a_kb_number_as_a_value():
    found = {str(p.relative_to(ROOT)): kb_literals(p.read_text()) for p in PACKAGE}
    assert {path: kbs for path, kbs in found.items() if kbs} == {
        "exsim/versions.py": found["exsim/versions.py"]
    }
    assert kb_literals('defect = "Q197058" if lost else None') == ["Q197058"]
    assert kb_literals('"""As KB Q197058 says."""') == []


def test_no_module_is_exempt_from_strict_type_checking():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert not any(override.get("ignore_errors") for override in config.get("overrides", []))
