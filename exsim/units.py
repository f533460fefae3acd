"""Quantities with units, as scenario files write them.

Durations (``600s``, ``10m``, ``24h``, ``7d``, ``250ms``), sizes (``30KB``,
``2MB``) and link rates (``64kbps``, ``1.544Mbps``) are parsed here into plain
floats in SI base units the model uses throughout: seconds, bytes (as KB where
a name says ``_kb``) and bits per second. A bare number is refused on purpose:
``600`` could be seconds or minutes, and a scenario must say which.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from exsim.names import shortened

_NUMBER = r"(?P<value>[0-9]+(?:\.[0-9]+)?)\s*"

DURATION_UNITS_S: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
#: Binary multiples, as Exchange's size limits were written (a KB is 1,024 bytes).
BYTES_PER_KB = 1024
SIZE_UNITS_BYTES: dict[str, float] = {
    "B": 1.0,
    "KB": float(BYTES_PER_KB),
    "MB": float(BYTES_PER_KB) ** 2,
    "GB": float(BYTES_PER_KB) ** 3,
}
RATE_UNITS_BPS: dict[str, float] = {
    "bps": 1.0,
    "kbps": 1e3,
    "Mbps": 1e6,
    "Gbps": 1e9,
}


#: The unit letters whose case is part of the meaning, and what the other case would say.
_CASE_MATTERS: dict[str, str] = {
    "B": "is bits, and a size is in bytes (B)",
    "b": "is bytes, and a rate is in bits per second (bps)",
    "m": "could be read as months: write minutes as 'm' or 'min', milliseconds as 'ms'",
}

# A number in exponent notation ("1e308"): TOML and Python read it, a unit string does not.
_EXPONENT = re.compile(r"[0-9.][eE][+-]?[0-9]")


def _malformed(what: str, text: str, problem: str) -> ValueError:
    """The error for a value that is not a number with a unit: the whole value quoted (shortened
    only when very long), what is wrong, and a hint when it uses an exponent."""
    hint = "; write the number out in full (no exponent)" if _EXPONENT.search(text) else ""
    return ValueError(f"{what} {shortened(text)}{problem}{hint}")


def _parse(
    text: object, units: dict[str, float], what: str, example: str, *, whole: str | None = None
) -> float:
    """``text`` (one number and its unit) in base units. ``whole``: the value ``text`` is a part of
    (a duration such as '1h30m'), quoted in messages instead of the part."""
    if isinstance(text, bool) or not isinstance(text, str):
        if isinstance(text, (int, float)):
            raise ValueError(f"{what} {text!r} has no unit; write it with one, e.g. '{example}'")
        raise ValueError(f"{what} must be a string with a unit, e.g. '{example}'")
    shown = text if whole is None else whole
    match = re.fullmatch(_NUMBER + r"(?P<unit>[A-Za-z]+)", text.strip())
    if match is None:
        raise _malformed(what, shown, f" is not a number with a unit, e.g. '{example}'")
    unit = match["unit"]
    factor = units.get(unit)
    if factor is None:
        # A unit in another case is accepted ('KBPS' is 'kbps') unless the case of one letter
        # changes the quantity: B is bytes and b bits (8x apart), M reads as months but m is
        # minutes. Those are refused rather than taken either way.
        known = ", ".join(units)
        folded = [u for u in units if u.lower() == unit.lower()]
        if len(folded) != 1:
            raise _malformed(what, shown, f": unknown unit '{unit}' (use one of {known})")
        # 'MIN' is minutes however it is written: only a unit that could be another is refused.
        checked = "" if folded[0] == "min" else folded[0]
        for canonical_letter, written_letter in zip(checked, unit[: len(checked)], strict=True):
            meaning = _CASE_MATTERS.get(canonical_letter)
            if meaning is not None and written_letter != canonical_letter:
                raise _malformed(what, shown, f": '{written_letter}' {meaning} (use one of {known})")
        factor = units[folded[0]]
    value = float(match["value"]) * factor
    if not math.isfinite(value):  # hundreds of digits: a float overflows to inf
        raise _malformed(what, shown, " is too large")
    return value


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*")


def parse_duration_s(text: object) -> float:
    """Seconds in a duration such as ``'600s'``, ``'10m'``, ``'24h'``, ``'7d'`` or ``'1h30m'``.

    Every message quotes the whole value as written, not the part that is wrong: in
    ``'1e308d'`` the parts are ``1e`` and ``308d``, and a message about ``'1e'`` alone would
    send the reader looking for text that is not in the file.
    """
    if isinstance(text, str) and len(_DURATION_PART.findall(text)) > 1:
        if re.fullmatch(r"(?:[0-9]+(?:\.[0-9]+)?\s*[A-Za-z]+\s*)+", text.strip()) is None:
            raise _malformed("duration", text, " is not a number with a unit, e.g. '600s' or '1h30m'")
        total = sum(
            _parse(f"{n}{u}", DURATION_UNITS_S, "duration", "600s", whole=text)
            for n, u in _DURATION_PART.findall(text)
        )
        if not math.isfinite(total):
            raise _malformed("duration", text, " is too large")
        return total
    return _parse(text, DURATION_UNITS_S, "duration", "600s")


def parse_size_bytes(text: object) -> float:
    """Bytes in a size such as ``'30KB'`` or ``'2MB'`` (binary multiples)."""
    return _parse(text, SIZE_UNITS_BYTES, "size", "2MB")


def parse_rate_bps(text: object) -> float:
    """Bits per second in a link rate such as ``'64kbps'`` or ``'1.544Mbps'``."""
    return _parse(text, RATE_UNITS_BPS, "rate", "64kbps")


def format_duration(seconds: float) -> str:
    """The shortest exact unit spelling of a duration, e.g. ``86400 -> '1d'``."""
    for unit in ("d", "h", "m", "s"):
        factor = DURATION_UNITS_S[unit]
        if seconds >= factor and float(seconds / factor).is_integer():
            return f"{int(seconds // factor)}{unit}"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds * 1000:g}ms"


def _format_size(n_bytes: float) -> str:
    for unit in ("GB", "MB", "KB"):
        if n_bytes >= SIZE_UNITS_BYTES[unit] and (n_bytes / SIZE_UNITS_BYTES[unit]).is_integer():
            return f"{int(n_bytes // SIZE_UNITS_BYTES[unit])}{unit}"
    return f"{n_bytes:g}B"


def _format_rate(bps: float) -> str:
    for unit in ("Gbps", "Mbps", "kbps"):
        if bps >= RATE_UNITS_BPS[unit]:
            return f"{bps / RATE_UNITS_BPS[unit]:g}{unit}"
    return f"{bps:g}bps"


#: The JSON Schema patterns of the three unit types (the scenario reference names them by these).
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?\s*(ms|s|m|min|h|d|w)\s*)+$"
SIZE_PATTERN = r"^[0-9]+(\.[0-9]+)?\s*([KMG]?B)$"
RATE_PATTERN = r"^[0-9]+(\.[0-9]+)?\s*([kMG]?bps)$"

# Each unit type is a float to the code and a string with a unit in the file: parsed on the
# way in, written back with its unit (so a results directory's scenario.toml reads like the
# input), and described by its pattern in the JSON Schema. Spelled out for each so that type
# checkers see a float.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration_s),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]
"""A duration in seconds, written with a unit in scenario files."""
Size = Annotated[
    float,
    BeforeValidator(parse_size_bytes),
    PlainSerializer(_format_size, return_type=str),
    WithJsonSchema({"type": "string", "pattern": SIZE_PATTERN}),
]
"""A size in bytes, written with a unit in scenario files."""
Rate = Annotated[
    float,
    BeforeValidator(parse_rate_bps),
    PlainSerializer(_format_rate, return_type=str),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN}),
]
"""A link rate in bits per second, written with a unit in scenario files."""


BITS_PER_KB = 8 * BYTES_PER_KB


def transfer_s(size_kb: float, bandwidth_bps: float, latency_s: float) -> float:
    """Seconds to send a message over a link: the one-way latency, then its bits at the link's rate."""
    return latency_s + size_kb * BITS_PER_KB / bandwidth_bps
