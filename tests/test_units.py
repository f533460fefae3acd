"""Durations, sizes and rates with units."""

import pytest

from exsim.units import (
    format_duration,
    parse_duration_s,
    parse_rate_bps,
    parse_size_bytes,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("600s", 600),
        ("10m", 600),
        ("24h", 86400),
        ("7d", 604800),
        ("250ms", 0.25),
        ("1.5h", 5400),
        ("1h30m", 5400),
        ("1d 12h", 129600),
    ],
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == pytest.approx(seconds)


def test_sizes_and_rates():
    assert parse_size_bytes("30KB") == 30 * 1024
    assert parse_size_bytes("2MB") == 2 * 1024 * 1024
    assert parse_rate_bps("64kbps") == 64_000
    assert parse_rate_bps("1.544Mbps") == pytest.approx(1_544_000)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (600, "has no unit"),
        ("600", "not a number with a unit"),
        ("10 parsecs", "unknown unit"),
        (None, "must be a string"),
    ],
)
def test_refused(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_duration_s(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # Read as the parts '1e' and '308d': the message must still quote what the file says.
        (
            "1e308d",
            "duration '1e308d': unknown unit 'e' (use one of ms, s, m, min, h, d, w); "
            "write the number out in full (no exponent)",
        ),
        ("1h 30x", "duration '1h 30x': unknown unit 'x' (use one of ms, s, m, min, h, d, w)"),
        (
            "1e3",
            "duration '1e3' is not a number with a unit, e.g. '600s'; write the number out in full (no exponent)",
        ),
        ("1..5h", "duration '1..5h' is not a number with a unit, e.g. '600s'"),
        ("1h-30m", "duration '1h-30m' is not a number with a unit, e.g. '600s' or '1h30m'"),
        ("9" * 400 + "d", "duration '" + "9" * 57 + "...' is too large"),
    ],
)
def test_a_malformed_value_is_quoted_whole_in_its_message(value, message):
    with pytest.raises(ValueError, match=r"^duration ") as caught:
        parse_duration_s(value)
    assert str(caught.value) == message


def test_format_duration_round_trips():
    for seconds in (86400, 3600, 600, 45, 0.25):
        assert parse_duration_s(format_duration(seconds)) == pytest.approx(seconds)
    assert format_duration(86400) == "1d"


def test_a_unit_in_another_case_is_read_where_the_case_changes_nothing():
    assert parse_rate_bps("64Kbps") == 64_000
    assert parse_rate_bps("10mbps") == 10_000_000  # mega: a rate in millibits makes no sense
    assert parse_size_bytes("30kB") == 30 * 1024
    assert parse_duration_s("1H") == 3600
    assert parse_duration_s("10MIN") == 600


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        # kilobytes a second: 8 times the 64kbps the model would otherwise read
        (
            parse_rate_bps,
            "64KBps",
            "rate '64KBps': 'B' is bytes, and a rate is in bits per second (bps) "
            "(use one of bps, kbps, Mbps, Gbps)",
        ),
        (parse_rate_bps, "10MBps", "rate '10MBps': 'B' is bytes"),
        # kilobits: an eighth of the 30KB it would otherwise be read as
        (
            parse_size_bytes,
            "30Kb",
            "size '30Kb': 'b' is bits, and a size is in bytes (B) (use one of B, KB, MB, GB)",
        ),
        (parse_size_bytes, "2mb", "size '2mb': 'b' is bits"),
        # months, or 10 minutes?
        (
            parse_duration_s,
            "10M",
            "duration '10M': 'M' could be read as months: write minutes as 'm' or 'min', "
            "milliseconds as 'ms' (use one of ms, s, m, min, h, d, w)",
        ),
        (parse_duration_s, "1h10M", "duration '1h10M': 'M' could be read as months"),
    ],
)
def test_a_unit_whose_case_is_its_meaning_is_refused(parse, value, message):
    with pytest.raises(ValueError, match=r"^(rate|size|duration) ") as caught:
        parse(value)
    assert str(caught.value).startswith(message)
