"""What the commands print: the text as it is spelt, whichever way it reaches the terminal.

The commands print through rich's console, made only when something needs it (a styled cell,
a terminal's colours); a line of plain printable text is written directly, so that ``exsim
validate`` need not import rich at all, and so is a table of plain text bound for a file or a
pipe, drawn as rich draws it (``exsim gwart``). The two ways must never differ in what comes out.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import string
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from exsim.cli import _plain_table, _Printer
from tests.clikit import exsim

# What rich reads to decide that a stream is a terminal, whatever isatty() says.
TERMINAL_SETTINGS = ("FORCE_COLOR", "TTY_COMPATIBLE")


def _printed(printer: _Printer, text: str) -> str:
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        printer.print(text, markup=False)
    return stdout.getvalue()


@given(st.text(max_size=60))
def test_a_line_written_directly_is_what_rich_prints(text):
    direct = _Printer(stderr=False, width=200)
    through_rich = _Printer(stderr=False, width=200)
    assert through_rich.console is not None  # made: from now on it prints everything
    assert _printed(direct, text) == _printed(through_rich, text)
    # The direct way was taken for printable text (no console made), not only claimed.
    assert ("console" in direct.__dict__) == (not text.isprintable())


def test_markup_and_emoji_codes_in_printed_text_are_printed_as_spelt(tmp_path):
    # A file name (like a scenario's names) may hold what rich would read as markup or an
    # emoji code; the message names the file as the user spelt it.
    result = exsim("validate", "x:fire:[bold].toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "x:fire:[bold].toml: no such file"
    # Through rich too (a tab makes rich print it): 18 characters, so the tab pads to column 24.
    through_rich = _Printer(stderr=False)
    assert (
        _printed(through_rich, "[bold]Tokyo :fire:\tRedmond") == "[bold]Tokyo :fire:" + " " * 6 + "Redmond\n"
    )


def _table_printed(printer: _Printer, title: str, columns: list[str], rows: list[list[str | Text]]) -> str:
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        printer.table(title, columns, rows)
    return stdout.getvalue()


def _environment(**settings: str) -> mock._patch:
    """os.environ without rich's terminal and colour settings (whatever the tests run under), plus
    ``settings``."""
    kept = {name: value for name, value in os.environ.items() if name not in (*TERMINAL_SETTINGS, "NO_COLOR")}
    return mock.patch.dict(os.environ, kept | settings, clear=True)


# Cell text: mostly what routing tables hold, sometimes a space too many or a character rich
# measures itself (a wide one, a tab), so that both ways of drawing are exercised.
_CELL = st.text(alphabet=string.ascii_letters + string.digits + " .;=/>*()-", max_size=30) | st.text(
    alphabet="ab \t\u00e9\u4e2d", max_size=6
)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[str, list[str], list[list[str | Text]]]:
    width = draw(st.integers(1, 6))
    columns = draw(st.lists(_CELL.filter(bool), min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=6))
    return draw(_CELL), columns, rows


@given(_tables(), st.sampled_from([40, 80, 200]))
def test_a_table_drawn_directly_is_what_rich_draws(table, width):
    title, columns, rows = table
    direct = _Printer(stderr=False, width=width)
    through_rich = _Printer(stderr=False, width=width)
    assert through_rich.console is not None  # made: from now on it draws everything
    with _environment():
        assert _table_printed(direct, title, columns, rows) == _table_printed(
            through_rich, title, columns, rows
        )
    # The direct way was taken exactly when it could draw the table, not only claimed.
    assert ("console" in direct.__dict__) == (_plain_table(title, columns, rows, width) is None)


def test_a_routing_table_is_drawn_directly_and_the_odd_one_by_rich():
    columns = ["type", "address space", "cost"]
    rows: list[list[str | Text]] = [["EX", "/o=Contoso/ou=Dublin", "1"], ["X400", "c=JP;a= ;o=Tokyo", "15"]]
    drawn = _plain_table("GWART of site Redmond", columns, rows, 200)
    assert drawn == (
        "GWART of site Redmond\n"
        "┏━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┓\n"
        "┃ type ┃ address space        ┃ cost ┃\n"
        "┡━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━┩\n"
        "│ EX   │ /o=Contoso/ou=Dublin │ 1    │\n"
        "│ X400 │ c=JP;a= ;o=Tokyo     │ 15   │\n"
        "└──────┴──────────────────────┴──────┘\n"
    )
    assert _plain_table("", columns, rows, 200) == drawn.split("\n", 1)[1]
    assert _plain_table("t", columns, rows, 38) is not None  # exactly as wide as the console
    assert _plain_table("t", columns, rows, 37) is None  # rich would shrink a column
    assert _plain_table("t", columns, [*rows, ["EX", Text("none", style="bold red"), "1"]], 200) is None
    assert _plain_table("t", columns, [*rows, ["EX", "Zürich", "1"]], 200) is None
    assert _plain_table("t", columns, [*rows, ["EX", "two  spaces", "1"]], 200) is None
    assert _plain_table("t", columns, [*rows, ["EX", "no cost"]], 200) is None


@pytest.mark.parametrize(
    ("settings", "notebook"),
    [
        ({"FORCE_COLOR": "1"}, False),
        ({"TTY_COMPATIBLE": "1"}, False),
        ({"FORCE_COLOR": ""}, False),
        ({}, True),
    ],
    ids=["FORCE_COLOR", "TTY_COMPATIBLE", "FORCE_COLOR-empty", "notebook"],
)
def test_a_table_goes_through_rich_where_rich_may_style_or_display_it(settings, notebook):
    # rich treats a pipe as a terminal (bold header, italic title) when FORCE_COLOR or
    # TTY_COMPATIBLE says so, and displays tables its own way in a notebook (IPython puts
    # get_ipython in the builtins): there the table is rich's to draw.
    direct = _Printer(stderr=False, width=200)
    through_rich = _Printer(stderr=False, width=200)
    ipython = mock.patch.object(builtins, "get_ipython", return_value=None, create=True)
    with _environment(TERM="xterm", **settings), ipython if notebook else contextlib.nullcontext():
        assert through_rich.console is not None
        printed = _table_printed(direct, "Sites", ["site"], [["Redmond"]])
        assert printed == _table_printed(through_rich, "Sites", ["site"], [["Redmond"]])
    assert "console" in direct.__dict__
    assert ("\x1b[1m" in printed) == (
        settings in ({"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1"})
    )  # bold header
