"""Connector activation schedules.

An Exchange connector's schedule was one of *Always*, *Never*, *Remote
Initiated* (the other side calls in) or *Selected Times* (a weekly grid).
Route selection (KB Q193322, filter 3) ranks candidates by it: active now,
active later, then never / remote-initiated. Simulated time 0 is Monday 00:00
local time, so a window ``"Mon-Fri 18:00-06:00"`` is active from 18:00 Monday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

DAY_S = 86400.0
WEEK_S = 7 * DAY_S
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_WINDOW = re.compile(
    r"^(?:(?P<d1>[A-Za-z]{3})(?:-(?P<d2>[A-Za-z]{3}))?\s+)?"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$"
)


class Activation(IntEnum):
    """Schedule states in the order route selection prefers them."""

    NOW = 0
    LATER = 1
    NEVER = 2
    REMOTE = 2  # remote-initiated ranks with never: this side cannot call out


@dataclass(frozen=True, slots=True)
class Schedule:
    """``kind`` is always / never / remote / selected; windows in seconds of the week."""

    kind: str
    windows: tuple[tuple[float, float], ...] = ()
    text: str = "always"

    def state_at(self, t_s: float) -> Activation:
        if self.kind == "always":
            return Activation.NOW
        if self.kind == "never":
            return Activation.NEVER
        if self.kind == "remote":
            return Activation.REMOTE
        week_t = t_s % WEEK_S
        if any(start <= week_t < end for start, end in self.windows):
            return Activation.NOW
        return Activation.LATER if self.windows else Activation.NEVER

    def next_active_s(self, t_s: float) -> float | None:
        """Earliest time >= t_s at which the connector may open, or None if never."""
        state = self.state_at(t_s)
        if state is Activation.NOW:
            return t_s
        if state is not Activation.LATER:
            return None
        week_start = t_s - (t_s % WEEK_S)
        week_t = t_s % WEEK_S
        starts = [s for s, _ in self.windows if s > week_t]
        if starts:
            return week_start + min(starts)
        return week_start + WEEK_S + min(s for s, _ in self.windows)


def _day_index(name: str, window: str) -> int:
    try:
        return DAYS.index(name.lower())
    except ValueError:
        raise ValueError(f"unknown day {name!r} in schedule window {window!r} (use Mon..Sun)") from None


def _window_s(match: re.Match[str], what: str) -> tuple[float, float]:
    """Start and end of an ``HH:MM-HH:MM`` window in seconds from midnight (24:00 is the end of
    the day); an impossible time (``25:99``) or an empty window (start equals end) is refused."""
    h1, m1, h2, m2 = (int(match[k]) for k in ("h1", "m1", "h2", "m2"))
    if max(h1, h2) > 24 or max(m1, m2) > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise ValueError(f"{what} has an impossible time (hours 00-24, minutes 00-59)")
    start_s, end_s = h1 * 3600.0 + m1 * 60.0, h2 * 3600.0 + m2 * 60.0
    if start_s % DAY_S == end_s % DAY_S and {start_s, end_s} != {0.0, DAY_S}:
        raise ValueError(f"{what} is empty: it starts when it ends")
    return start_s, end_s


_HOURS = re.compile(r"^(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$")


def parse_daily_hours(text: str) -> tuple[float, float]:
    """A daily window such as working hours, ``"09:00-17:00"``, as seconds from midnight.

    The end may be earlier than the start (a night shift, ``"22:00-06:00"``).
    """
    match = _HOURS.match(text.strip())
    if match is None:
        raise ValueError(f"hours {text!r} are not 'HH:MM-HH:MM', e.g. '09:00-17:00'")
    return _window_s(match, f"hours {text!r}")


def parse_schedule(value: object) -> Schedule:
    """``"always"``, ``"never"``, ``"remote"`` or a list of windows like ``"Mon-Fri 18:00-06:00"``."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        if value in ("always", "never", "remote"):
            return Schedule(kind=value, text=value)
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(
            "schedule must be 'always', 'never', 'remote' or a list of windows like 'Mon-Fri 18:00-06:00'"
        )
    windows: list[tuple[float, float]] = []
    for window in value:
        if not isinstance(window, str):
            raise ValueError(f"schedule window {window!r} must be a string like '22:00-06:00'")
        match = _WINDOW.match(window.strip())
        if match is None:
            raise ValueError(
                f"schedule window {window!r} is not '[Day[-Day]] HH:MM-HH:MM', e.g. 'Mon-Fri 18:00-06:00'"
            )
        start_s, end_s = _window_s(match, f"schedule window {window!r}")
        first = _day_index(match["d1"], window) if match["d1"] else 0
        last = _day_index(match["d2"], window) if match["d2"] else (first if match["d1"] else 6)
        day = first
        while True:
            base = day * DAY_S
            if end_s > start_s:
                windows.append((base + start_s, base + end_s))
            else:  # crosses midnight into the next day (and Sunday into Monday)
                windows.append((base + start_s, base + DAY_S))
                nxt = (base + DAY_S) % WEEK_S
                windows.append((nxt, nxt + end_s))
            if day == last:
                break
            day = (day + 1) % 7
    return Schedule(kind="selected", windows=tuple(sorted(windows)), text=", ".join(value))
