"""X.400, SMTP and MS Mail addresses (DOMAIN section 2)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exsim.address import (
    AddressError,
    classify_recipient,
    format_x400,
    ms_proxy,
    parse_dn,
    parse_ms,
    parse_smtp,
    parse_x400,
    proxies,
    smtp_proxy,
    validate_smtp_site_address,
    validate_x400,
    x400_proxy,
)


def test_parse_keeps_values_and_blank_admd():
    address = parse_x400("c=US;a= ;p=Contoso;o=Redmond;s=Smith;g=Jo")
    assert address.get("c") == "US"
    assert address.get("a") == " "
    assert address.get("p") == "Contoso"
    assert address.get("s") == "Smith"


def test_keys_are_case_insensitive_order_free_and_trailing_semicolon_allowed():
    a = parse_x400("O=Redmond;P=Contoso;A= ;C=US;")
    assert format_x400(a) == "c=US;a= ;p=Contoso;o=Redmond"


def test_ou_alone_means_ou1():
    assert parse_x400("c=US;a= ;o=R;ou=Sales").get("ou1") == "Sales"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("c=US;a= ;p=X;zz=1", "unknown X.400 attribute 'zz'"),
        ("c=US;a= ;c=GB;o=X", "appears twice"),
        ("c=US;a ;o=X", "is not key=value"),
        ("", "cannot be empty"),
    ],
)
def test_unparseable_addresses(text, fragment):
    with pytest.raises(AddressError, match=fragment):
        parse_x400(text)


def test_gdi_with_and_without_prmd():
    with_p = parse_x400("c=US;a= ;p=Contoso;o=Redmond").gdi
    without_p = parse_x400("c=US;a= ;o=Redmond").gdi
    blank_p = parse_x400("c=US;a= ;p= ;o=Redmond").gdi
    assert (with_p.c, with_p.a, with_p.p, with_p.has_prmd) == ("US", " ", "Contoso", True)
    assert (without_p.p, without_p.has_prmd) == (None, False)
    assert blank_p.has_prmd is False
    assert str(with_p) == "c=US;a= ;p=Contoso"
    assert str(without_p) == "c=US;a= "


@pytest.mark.parametrize(
    "text",
    [
        "c=US;a= ;p=Contoso;o=Redmond",  # setup's default shape
        "c=US;a= ;o=Redmond",  # no PRMD: legal, o is present
        "c=US;a= ;s=Smith",  # a personal name alone
        "c=826;a=TMAILUK;p=Contoso",  # numeric country
        "c=US;a= ;p=P;o=O;ou1=A;ou2=B;cn=Jo Smith",
        "c=US;a= ;o=R;s=Smith;g=Jo;i=JQ;q=Jr",
    ],
)
def test_valid_addresses(text):
    assert validate_x400(text) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a= ;o=Redmond", "missing mandatory attribute c="),
        ("c=US;o=Redmond", "missing mandatory attribute a="),
        ("c=US;a= ", "needs at least one of p=, o=, ou=, cn= or a personal name"),
        ("c=US;a= ;o=R;g=Jo", "g= given without a surname s="),
        ("c=USA;a= ;o=R", "must be 2 letters or 3 digits"),
        ("c=US;a=ABCDEFGHIJKLMNOPQ;o=R", "a='ABCDEFGHIJKLMNOPQ' is 17 characters (at most 16)"),
        ("c=US;a= ;p=ABCDEFGHIJKLMNOPQ", "is 17 characters (at most 16)"),
        ("c=US;a= ;o=" + "x" * 65, "is 65 characters (at most 64)"),
        ("c=US;a= ;o=R;ou1=" + "x" * 33, "is 33 characters (at most 32)"),
        ("c=US;a= ;s=" + "x" * 41, "is 41 characters (at most 40)"),
        ("c=US;a= ;s=S;g=" + "x" * 17, "is 17 characters (at most 16)"),
        ("c=US;a= ;s=S;i=ABCDEF", "is 6 characters (at most 5)"),
        ("c=US;a= ;s=S;q=ABCD", "is 4 characters (at most 3)"),
        ("c=US;a= ;o=R;ou2=B", "ou2= given without ou1="),
        ("c=US;a= ;o=R&D", "characters X.400 cannot carry: '&'"),
        ("c=US;a= ;o=R;dda:LONGTYPE9=x", "DDA type 'LONGTYPE9' is 9 characters (at most 8)"),
    ],
)
def test_invalid_addresses(text, fragment):
    problems = validate_x400(text)
    assert any(fragment in p for p in problems), problems


def test_each_violation_is_reported_separately():
    problems = validate_x400("a= ;g=Jo")
    assert len(problems) == 2  # no c=, g without s=  (g counts as a name part)
    assert any("c=" in p for p in problems)
    assert any("surname" in p for p in problems)


printable = (
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij0123456789 -.", min_size=1, max_size=16)
    .map(str.strip)
    .filter(bool)
)


@given(c=st.sampled_from(["US", "GB", "826"]), p=st.none() | printable, o=printable, s=st.none() | printable)
def test_format_then_parse_is_identity(c, p, o, s):
    text = f"c={c};a= ;" + (f"p={p};" if p else "") + f"o={o}" + (f";s={s}" if s else "")
    once = parse_x400(text)
    assert parse_x400(format_x400(once)) == once
    assert validate_x400(once) == []


def test_proxy_generation_from_site_addresses():
    assert (
        x400_proxy("c=US;a= ;p=Contoso;o=Redmond", "Smith", "Jo")
        == "c=US;a= ;p=Contoso;o=Redmond;s=Smith;g=Jo"
    )
    assert smtp_proxy("JSmith", "@Redmond.Contoso.com") == "JSmith@redmond.contoso.com"
    assert ms_proxy("JSmith", "CONTOSO/REDMOND/") == "CONTOSO/REDMOND/JSMITH"
    box = proxies("Contoso", "Redmond", "JSmith", "Smith", "Jo", "c=US;a= ;o=Redmond", "@redmond.contoso.com")
    assert box.ex == "/o=Contoso/ou=Redmond/cn=Recipients/cn=JSmith"
    assert box.x400 == "c=US;a= ;o=Redmond;s=Smith;g=Jo"
    assert box.ms is None


def test_x400_proxies_of_one_site_keep_canonical_order():
    # The site address is read once per site and given name; each mailbox's proxy still puts
    # its surname and given name where the canonical order wants them: after the ou's, before
    # a DDA, replacing any s= the site address itself carried (and its g=, which no given name
    # removes).
    site = "c=US;a= ;p=Contoso;o=Redmond;ou=Sales;dda:RFC-822=x@y"
    assert (
        x400_proxy(site, "Smith", "Jo")
        == "c=US;a= ;p=Contoso;o=Redmond;ou1=Sales;s=Smith;g=Jo;dda:RFC-822=x@y"
    )
    assert (
        x400_proxy(site, "Jones", "Jo")
        == "c=US;a= ;p=Contoso;o=Redmond;ou1=Sales;s=Jones;g=Jo;dda:RFC-822=x@y"
    )
    assert x400_proxy(site, "Lee", None) == "c=US;a= ;p=Contoso;o=Redmond;ou1=Sales;s=Lee;dda:RFC-822=x@y"
    assert x400_proxy("c=US;a= ;o=Oslo;s=Old;g=Gone", "New", None) == "c=US;a= ;o=Oslo;s=New"
    assert x400_proxy("c=US;a= ;o=Oslo;s=Old;g=Gone", "New", "G") == "c=US;a= ;o=Oslo;s=New;g=G"


def test_smtp_and_ms_parsing():
    assert str(parse_smtp("Jo.Smith@Example.COM")) == "Jo.Smith@example.com"
    with pytest.raises(AddressError):
        parse_smtp("no-at-sign")
    with pytest.raises(AddressError, match="invalid label"):
        parse_smtp("jo@bad_domain.com")
    assert validate_smtp_site_address("redmond.contoso.com")[0].startswith("SMTP site address")
    assert validate_smtp_site_address("@redmond.contoso.com") == []
    assert parse_ms("msnet/po1/jsmith") == ("MSNET", "PO1", "JSMITH")
    with pytest.raises(AddressError, match="longer than 10"):
        parse_ms("NETWORKNAME1/PO1")
    assert parse_dn("/o=Contoso/ou=Redmond/cn=Recipients/cn=JSmith") == {
        "o": "Contoso",
        "ou": "Redmond",
        "cn": "JSmith",
    }


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("jo@example.com", "SMTP"),
        ("SMTP:jo@example.com", "SMTP"),
        ("c=US;a= ;o=R;s=S", "X400"),
        ("X400:c=US;a= ;o=R;s=S", "X400"),
        ("MSNET/PO1/JO", "MS"),
        ("/o=Contoso/ou=Redmond/cn=Recipients/cn=JSmith", "EX"),
        ("JSmith", "ALIAS"),
    ],
)
def test_recipient_types(text, kind):
    assert classify_recipient(text)[0] == kind


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        # A blank ADMD at the very end of the text is still the single space of "no ADMD".
        ("c=US;a= ", ["needs at least one of p=, o=, ou=, cn= or a personal name (s=)"]),
        ("c=US;a= ;", ["needs at least one of p=, o=, ou=, cn= or a personal name (s=)"]),
        # An empty a= is there but empty: said once, not also as missing. Both messages give the
        # one cure, a single space: the ADMD is mandatory, so leaving it out is no way out.
        ("c=US;a=;o=R", ["a= is empty; the ADMD is mandatory: write 'a= ' (a single space) for none"]),
        ("c=US;o=R", ["missing mandatory attribute a= (ADMD; use 'a= ' for none)"]),
        # An optional attribute written empty may simply be left out.
        ("c=US;a= ;o=R;ou1=", ["ou1= is empty: give it a value or leave it out"]),
        ("c=;a= ;o=R", ["missing mandatory attribute c= (country)"]),
    ],
)
def test_a_blank_or_empty_admd_gets_one_consistent_message(text, problems):
    assert validate_x400(text) == problems


def test_a_trailing_blank_admd_parses_as_blank():
    assert parse_x400("c=US;a= ").get("a") == " "
    assert parse_x400("c=US;a= ;o=R") == parse_x400("c=US;a= ;o=R;")
