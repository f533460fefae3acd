"""Names given by users: suggestions for a misspelt one."""

from __future__ import annotations

import difflib


def did_you_mean(word: str, choices: list[str]) -> str:
    """``"; did you mean 'Dublin'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
