"""Checks of the Python API's arguments, shared by its entry points.

``load_scenario``, ``simulate``, ``run_experiment`` and ``read_results`` take from a Python caller
what the command line takes as options and arguments. The command line's parser refuses a count
below 1 or a word where a number belongs; these checks do the same for a Python caller, before
anything runs or is written, with a :class:`TypeError` (the wrong kind of value) or a
:class:`ValueError` (a value out of range) that names the argument and says what it must be.
"""

from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Any


def _shown(value: Any) -> str:
    """The value as a message quotes it: its repr, and its type when the repr does not say."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(value, (bool, int, float, str)) or value is None:
        return text
    return f"{text} (a {type(value).__name__})"


def whole_number(name: str, value: Any, *, minimum: int, optional: bool = True) -> int | None:
    """``value`` when it is a whole number >= ``minimum`` (or None, when ``optional``).

    True and False are refused although Python counts them as integers: ``seed=True`` is a slip,
    not seed 1. A float is refused even when whole (``replications=2.0``), as the CLI refuses it."""
    wanted = f"a whole number >= {minimum}"  # None, where allowed, is the default: not worth saying
    if value is None and optional:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # an int, or numpy's integer taken from a DataFrame
    except TypeError:
        raise TypeError(f"{name} must be {wanted}, not {_shown(value)}") from None
    if number < minimum:
        raise ValueError(f"{name} must be {wanted}, not {number}")
    return number


def flag(name: str, value: Any) -> bool:
    """``value`` when it is True or False (``resume="no"`` would otherwise count as true)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {_shown(value)}")
    return value


def path(name: str, value: Any, *, what: str = "a path (a str or a pathlib.Path)") -> Path:
    """``value`` as a Path when it is a ``str`` or an ``os.PathLike`` (not a number, not bytes);
    ``what`` says what it must be, in the message that refuses anything else."""
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        return Path(value)
    raise TypeError(f"{name} must be {what}, not {_shown(value)}")


def scenario(name: str, value: Any, kind: type) -> Any:
    """``value`` when it is a ``kind`` (a Scenario); a path or TOML text gets told how to make one."""
    if isinstance(value, kind):
        return value
    if isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a Scenario, not {_shown(value)}: pass load_scenario({str(value)!r}), "
            "which reads and validates the file"
        )
    raise TypeError(f"{name} must be a Scenario (from load_scenario), not {_shown(value)}")
