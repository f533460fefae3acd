"""``exsim schema --format markdown``: the scenario reference, and docs/scenario.md kept equal to it."""

from __future__ import annotations

import re

from exsim.scenario import Scenario, json_schema
from exsim.scenario.reference import schema_markdown, type_of
from tests.clikit import exsim
from tests.conftest import ROOT

DOC = ROOT / "docs" / "scenario.md"
REGENERATE = "exsim schema --format markdown > docs/scenario.md"


def test_docs_scenario_md_is_the_current_reference():
    assert DOC.read_text(encoding="utf-8") == schema_markdown(), (
        f"docs/scenario.md is out of date with the schema; regenerate it with: {REGENERATE}"
    )


def test_the_command_prints_the_reference():
    result = exsim("schema", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout == schema_markdown()
    assert exsim("schema", "--format", "yaml").returncode == 2


def rows(text: str, section: str) -> dict[str, list[str]]:
    """The table of one section: key -> [type, default, meaning]."""
    body = text.split(f'<a id="{section}"></a>', 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in body.splitlines():
        match = re.match(r"^\| `([^`]+)` \| (.*) \|$", line)
        if match:
            found[match[1]] = [cell.strip() for cell in re.split(r"(?<!\\)\|", match[2])]
    return found


def test_every_key_of_every_table_is_listed():
    text = schema_markdown()
    definitions = json_schema()["$defs"] | {"Scenario": json_schema()}
    for name, definition in definitions.items():
        if "properties" not in definition:
            continue
        listed = rows(text, name.lower())
        assert set(listed) == set(definition["properties"]), name
        for key, (kind, default, meaning) in listed.items():
            assert kind, (name, key)
            assert default, (name, key)
            assert meaning, f"{name}.{key} has no meaning"


def test_types_defaults_and_meanings_read_as_written():
    text = schema_markdown()
    server = rows(text, "server")
    # Server.users: Field(0, ge=0); gateway threads 1 to 32; the client mix from its default factory.
    assert server["users"] == ["integer ≥ 0", "`0`", "Number of mailboxes homed on the server"]
    assert server["gateway_in_threads"][:2] == ["integer 1 to 32", "`1`"]
    assert server["clients"][:2] == ["table of numbers 0 to 1", "`{ exchange_5_0 = 1.0 }`"]
    assert server["name"][1] == "*required*"
    assert server["profile"][0] == 'one of `"light"`, `"medium"`, `"heavy"`, `"mmb"` (optional)'
    link = rows(text, "link")
    assert link["bandwidth"][:2] == ["rate", '`"64kbps"`']
    assert link["latency"][:2] == ["duration", '`"50ms"`']
    # A kind-selected table starts with its kind, and says where it goes.
    ras = text.split('<a id="rasconnector"></a>', 1)[1]
    assert ras.startswith('RasConnector (`kind = "ras"`)\n\nWhere: `connectors[]`')
    assert next(iter(rows(text, "rasconnector"))) == "kind"
    assert rows(text, "rasconnector")["link"][1] == '`{ bandwidth = "28.8kbps", latency = "200ms" }`'
    # Nested tables are sections of their own, linked from the key that holds them.
    assert rows(text, "scenario")["sites"][0] == "array (at least 1) of tables [Site](#site)"
    assert "Where: `connectors[].override`" in text


def test_type_names_for_json_schema_shapes():
    assert type_of({"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}) == (
        "array of 2 of strings"
    )
    assert (
        type_of({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}) == "integer ≥ 1 (optional)"
    )
    assert Scenario.model_fields["run"].description  # every top-level key documented in the model
