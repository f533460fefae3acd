"""Names given by users: suggestions for a misspelt one, when two are the same, file names.

A scenario's names (organization, sites, servers, connectors, the scenario
itself) are data typed by someone else, so exsim treats them as text and
nothing more:

* :func:`name_key` decides when two names are the same name. Exchange 5.0 kept
  directory names case-insensitive, and a name typed on one machine can arrive
  composed (``é``) or decomposed (``e`` + combining accent) from another; so
  ``Straße`` and ``STRASSE``, or two Unicode forms of ``Zürich``, are one name.
* :func:`refused_characters` finds the characters a name may not hold: control
  and format characters, the bidirectional overrides among them, which make a
  name *display* as something other than what it is.
* :func:`safe_file_name` is the only way a name becomes part of a file path:
  never a separator, ``..``, NUL or control character, bounded in length, and
  two different names never give the same file name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any


def closest(word: str, choices: list[str]) -> str | None:
    """The choice closest to a misspelt ``word``, or None when none is close."""
    import difflib  # only a misspelling pays for it: a valid scenario never asks

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def spoken_list(words: Sequence[str]) -> str:
    """Words as a sentence lists them: 'A', 'A and B', 'A, B and C'."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]]))


def did_you_mean(word: str, choices: list[str]) -> str:
    """``"; did you mean 'Dublin'?"`` for the closest choice, or ``""`` when none is close."""
    close = closest(word, choices)
    return f"; did you mean {close!r}?" if close else ""


def name_key(name: str) -> str:
    """What two names must share to be the same name: Unicode NFKC with case folded.

    ``name_key("Straße") == name_key("STRASSE")``; composed and decomposed
    accents compare equal. (NFKC again after folding, as Unicode's
    NFKC_Casefold does, because folding can undo the normal form.)
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


# Unicode categories a name may not contain: control (Cc), format (Cf, which holds the
# bidirectional embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069 and the
# zero-width characters), line and paragraph separators, surrogates and unassigned code points.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"}


def refused_characters(name: str) -> list[str]:
    """The characters of ``name`` no name may hold, each as ``U+202E RIGHT-TO-LEFT OVERRIDE``."""
    found = dict.fromkeys(c for c in name if unicodedata.category(c) in _REFUSED_CATEGORIES)
    return [f"U+{ord(c):04X} {unicodedata.name(c, 'control character')}" for c in found]


MAX_FILE_NAME = 80
"""Longest file name :func:`safe_file_name` gives (well under every file system's 255)."""

# Names Windows reserves for devices, in any case and with any extension.
_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def safe_file_name(name: str) -> str:
    """``name`` as one path component that stays where it is put.

    Letters, digits, ``_``, ``-`` and ``.`` are kept (other characters become
    ``_``); a leading dot, ``..``, a Windows device name (``NUL``) and overlong
    names are defused. A name that had to change gets ``-`` and twelve hex digits
    of a hash of the original, so the result is the same on every run and two
    names never share a file: ``RED-EX1`` stays ``RED-EX1``, ``../RED-EX1``
    becomes ``__RED-EX1-<hash>``.
    """
    safe = unicodedata.normalize("NFC", name)
    safe = "".join("_" if unicodedata.category(c) in _REFUSED_CATEGORIES else c for c in safe)
    safe = re.sub(r"[^\w.-]", "_", safe)
    safe = re.sub(r"\.{2,}", "_", safe).strip(".")
    if safe == name and safe and not _DEVICES.match(safe) and len(safe) <= MAX_FILE_NAME:
        return safe
    import hashlib  # imported here: most names are already safe, and it loads OpenSSL

    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{safe[: MAX_FILE_NAME - 13] or '_'}-{digest}"


def shortened(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message (its ``repr``), cut to ``limit`` characters with ``...``
    when longer: a 5,000-character name in a scenario file must not fill the screen."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def listed(items: Sequence[Any], shown: int = 8, *, quoted: bool = True) -> str:
    """The first ``shown`` of ``items`` for a message (each as its ``repr`` when ``quoted``), then
    how many more: a sweep of 90,000 values must not fill the screen either."""
    text = ", ".join(repr(item) if quoted else str(item) for item in items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")
