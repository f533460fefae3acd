"""Names given by users: when two are the same, which characters are refused, file names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exsim.names import MAX_FILE_NAME, name_key, refused_characters, safe_file_name


def test_names_differing_only_by_case_or_unicode_form_have_one_key():
    assert name_key("Straße") == name_key("STRASSE") == name_key("strasse")
    assert name_key("Z\u00fcrich") == name_key("Zu\u0308rich")  # composed and decomposed ü
    assert name_key("\uff32\uff25\uff24") == name_key("RED")  # fullwidth letters (compatibility form)
    assert name_key("Redmond") != name_key("Redmont")


def test_control_and_format_characters_are_found_by_name():
    assert refused_characters("Redmond") == []
    assert refused_characters("Red\u202emond\u2066") == [
        "U+202E RIGHT-TO-LEFT OVERRIDE",
        "U+2066 LEFT-TO-RIGHT ISOLATE",
    ]
    assert refused_characters("a\x00b\u200bc") == ["U+0000 control character", "U+200B ZERO WIDTH SPACE"]


def test_safe_names_stay_as_they_are_and_others_get_a_hash_of_themselves():
    for name in ("RED-EX1", "Straße", "q166866", "DUB_EX1.v2"):
        assert safe_file_name(name) == name
    # 'a/b' and 'a_b' must not share a file: the changed one carries a hash of the original.
    assert safe_file_name("a/b").startswith("a_b-")
    assert safe_file_name("a/b") != safe_file_name("a_b")
    assert safe_file_name("a/b") != safe_file_name("a\\b")
    assert safe_file_name("..").startswith("_-")
    assert safe_file_name("NUL").startswith("NUL-")  # a Windows device name
    assert len(safe_file_name("x" * 1000)) == MAX_FILE_NAME


@given(st.text(max_size=300))
def test_any_name_becomes_one_harmless_path_component(name):
    safe = safe_file_name(name)
    assert safe == safe_file_name(name)  # deterministic
    assert 0 < len(safe) <= MAX_FILE_NAME
    assert not any(c in safe for c in "/\\\0:")
    assert ".." not in safe
    assert not safe.startswith(".")
    assert refused_characters(safe) == []


@given(st.text(max_size=40), st.text(max_size=40))
def test_different_names_never_share_a_file_name(a, b):
    if a != b:
        assert safe_file_name(a) != safe_file_name(b)


@pytest.mark.parametrize("name", ["RED/EX2", "RED@EX2", "c=US;o=EX2", "X[bold red]Y[/]Z"])
def test_a_server_may_be_called_anything_its_users_are_still_found(name):
    # README: a name may hold slashes, brackets ... A server's users are NAME-u0001...; read as an
    # address, 'RED/EX2-u0001' looked like MS Mail (and 'RED@EX2-u0001' like SMTP), so mail to
    # them was NDR'd as an unknown name. Nothing here can fail (SP2, mail inside one site): every
    # recipient is delivered, as under the plain name.
    from exsim.scenario import validate_raw
    from exsim.sim import simulate
    from tests.simkit import mix, one_site

    raw = one_site(version="5.0-sp2", duration="1h", shares=mix(same_server=0.5, same_site=0.5))
    raw["servers"][1]["name"] = name
    result = simulate(validate_raw(raw), seed=3)
    assert result.recipients > 100
    assert result.row()["ndr"] == 0
    assert result.row()["delivered"] == result.recipients
