"""NDR codes, texts and table headings, kept in exsim/ndr.py alone."""

from exsim.ndr import DIAGNOSTICS, INVALID_ARGUMENTS, heading


def test_a_diagnostic_heads_its_column_by_its_short_name_or_its_own():
    assert heading("invalid-arguments") == "NDR invalid args"
    assert heading("unrecognized-OR-name") == "NDR unknown name"
    assert heading("recipient-unavailable") == "NDR recipient-unavailable"  # no short name
    assert heading("made-up") == "NDR made-up"
    assert INVALID_ARGUMENTS.diagnostic_name == DIAGNOSTICS[11] == "invalid-arguments"
