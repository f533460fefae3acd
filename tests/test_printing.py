"""What the commands print: the text as it is spelt, whichever way it reaches the terminal.

The commands print through rich's console, made only when something needs it (a table, a
styled cell); a line of plain printable text is written directly, so that ``exsim validate``
need not import rich at all. The two ways must never differ in what comes out.
"""

from __future__ import annotations

import contextlib
import io

from hypothesis import given
from hypothesis import strategies as st

from exsim.cli import _Printer
from tests.clikit import exsim


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
