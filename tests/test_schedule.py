"""Connector schedules: states route selection ranks (Q193322 filter 3)."""

import pytest

from exsim.schedule import Activation, parse_schedule

H = 3600.0
DAY = 24 * H


def test_fixed_states():
    assert parse_schedule("always").state_at(123) is Activation.NOW
    assert parse_schedule("never").state_at(123) is Activation.NEVER
    assert parse_schedule("remote").state_at(123) == Activation.NEVER  # ranks with never


def test_window_crossing_midnight_on_weekdays():
    nights = parse_schedule(["Mon-Fri 22:00-06:00"])
    assert nights.state_at(21 * H) is Activation.LATER  # Monday 21:00
    assert nights.state_at(23 * H) is Activation.NOW  # Monday 23:00
    assert nights.state_at(DAY + 5 * H) is Activation.NOW  # Tuesday 05:00
    assert nights.next_active_s(12 * H) == 22 * H
    # Saturday 12:00: Friday's window ended Saturday 06:00; next is Monday 22:00.
    saturday_noon = 5 * DAY + 12 * H
    assert nights.next_active_s(saturday_noon) == 7 * DAY + 22 * H


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (["25:00-26:00"], "impossible time"),
        (["Xyz 10:00-11:00"], "unknown day 'Xyz'"),
        (["10:00-10:00"], "is empty"),
        ([], "schedule must be"),
        ("sometimes", "is not '\\[Day"),
    ],
)
def test_bad_schedules(bad, says):
    with pytest.raises(ValueError, match=says):
        parse_schedule(bad)
