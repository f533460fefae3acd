"""Addresses an Exchange 5.0 organization uses: X.400 O/R, SMTP, MS Mail, EX.

Exchange wrote X.400 originator/recipient (O/R) addresses in a mnemonic string
form, ``c=US;a= ;p=Contoso;o=Redmond;s=Smith;g=Jo``. Every site has one such
*site address* per address type, and every mailbox's proxy addresses are made
from them. The first three attributes of a site's X.400 address, country (c),
ADMD (a) and PRMD (p), form its *global domain identifier* (GDI); the MTA stamps
the GDI into message identifiers and into the bilateral-information entries it
adds as a message enters a site. A site address without ``p=`` is legal X.400
(p is optional once o or a surname is present), which is exactly what lets the
SP1 defect of KB Q166866 bite.

This module only parses, formats, validates and derives addresses; matching a
recipient against a routing table lives in :mod:`exsim.routing`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

# Canonical order in which Exchange printed the attributes.
X400_KEYS: tuple[str, ...] = (
    "c",
    "a",
    "p",
    "o",
    "ou1",
    "ou2",
    "ou3",
    "ou4",
    "cn",
    "s",
    "g",
    "i",
    "q",
)
#: Longest value allowed per attribute, in characters (DDA type 8, value 128).
X400_MAX_LENGTH: dict[str, int] = {
    "c": 3,
    "a": 16,
    "p": 16,
    "o": 64,
    "ou1": 32,
    "ou2": 32,
    "ou3": 32,
    "ou4": 32,
    "cn": 64,
    "s": 40,
    "g": 16,
    "i": 5,
    "q": 3,
}
DDA_TYPE_MAX_LENGTH = 8
DDA_VALUE_MAX_LENGTH = 128
_KEY_ALIASES = {"ou": "ou1"}
_PERSONAL_NAME = ("s", "g", "i", "q")
# X.208 PrintableString: letters, digits, space and ' ( ) + , - . / : = ?
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")
_BLANK = " "

AddressType = Literal["EX", "X400", "SMTP", "MS"]
_ADDRESS_TYPES: dict[str, AddressType] = {"EX": "EX", "X400": "X400", "SMTP": "SMTP", "MS": "MS"}


class AddressError(ValueError):
    """An address that cannot be parsed or breaks the rules of its type."""


@dataclass(frozen=True, slots=True)
class GDI:
    """Global domain identifier: country, ADMD and (possibly absent) PRMD."""

    c: str
    a: str
    p: str | None

    @property
    def has_prmd(self) -> bool:
        """False when the PRMD is absent or blank, the case Q166866 is about."""
        return self.p is not None and self.p.strip() != ""

    def __str__(self) -> str:
        parts = [f"c={self.c}", f"a={self.a}"]
        if self.p is not None:
            parts.append(f"p={self.p}")
        return ";".join(parts)


@dataclass(frozen=True, slots=True)
class ORAddress:
    """An X.400 O/R address as ``(attribute, value)`` pairs in canonical order.

    Values are kept exactly as written, so the ADMD's single space (``a= ``,
    "no ADMD") survives a round trip. Domain-defined attributes are kept as
    ``("dda:TYPE", value)``.
    """

    attributes: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        key = _KEY_ALIASES.get(key.lower(), key.lower())
        for k, v in self.attributes:
            if k.lower() == key:
                return v
        return None

    def as_dict(self) -> dict[str, str]:
        return dict(self.attributes)

    @property
    def gdi(self) -> GDI:
        return GDI(c=self.get("c") or "", a=self.get("a") or "", p=self.get("p"))

    def with_attributes(self, **values: str | None) -> ORAddress:
        """A copy with attributes set (or removed when given ``None``)."""
        merged = self.as_dict()
        for key, value in values.items():
            key = _KEY_ALIASES.get(key.lower(), key.lower())
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return ORAddress(_canonical(merged))

    def __str__(self) -> str:
        return format_x400(self)


def _canonical(values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    ordered = [(k, values[k]) for k in X400_KEYS if k in values]
    ordered += sorted((k, v) for k, v in values.items() if k.startswith("dda:"))
    return tuple(ordered)


def parse_x400(text: str) -> ORAddress:
    """Parse Exchange's string form; keys are case-insensitive and order-free.

    Raises :class:`AddressError` for text that is not ``key=value`` pairs
    separated by ``;``, an unknown attribute or a repeated one. Whether the
    result is a *valid* address is :func:`validate_x400`'s business.
    """
    if not isinstance(text, str) or not text.strip():
        raise AddressError("an X.400 address cannot be empty")
    # Split before trimming anything: the last value may be the single space of a blank
    # ADMD ("c=US;a= "), which trimming the whole text would turn into an empty one.
    parts = text.split(";")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # a trailing ';'
    values: dict[str, str] = {}
    for position, part in enumerate(parts, start=1):
        if "=" not in part:
            raise AddressError(f"part {position} {part!r} of X.400 address {text!r} is not key=value")
        raw_key, value = part.split("=", 1)
        key = raw_key.strip().lower()
        key = _KEY_ALIASES.get(key, key)
        if key.startswith("dda:"):
            dda_type = raw_key.strip()[4:]
            if not dda_type:
                raise AddressError(f"DDA in X.400 address {text!r} has no type (dda:TYPE=value)")
            key = "dda:" + dda_type
        elif key not in X400_MAX_LENGTH:
            known = ", ".join(X400_KEYS)
            raise AddressError(
                f"unknown X.400 attribute {raw_key.strip()!r} in {text!r} (known: {known}, dda:TYPE)"
            )
        if key in values:
            raise AddressError(f"X.400 attribute {key!r} appears twice in {text!r}")
        # A value that is only spaces means "blank" (a= is the usual case):
        # keep it as a single space, as Exchange did; trim any other value.
        values[key] = _BLANK if value and not value.strip() else value.strip()
    return ORAddress(_canonical(values))


def format_x400(address: ORAddress) -> str:
    """Exchange's string form, attributes in canonical order."""
    return ";".join(f"{k}={v}" for k, v in address.attributes)


def validate_x400(address: ORAddress | str) -> list[str]:
    """Every rule the address breaks, one message each (empty when valid)."""
    if isinstance(address, str):
        try:
            address = parse_x400(address)
        except AddressError as exc:
            return [str(exc)]
    values = address.as_dict()
    problems: list[str] = []
    # An empty a= is present but empty: the loop below says so, once.
    if not values.get("c"):
        problems.append("missing mandatory attribute c= (country)")
    if "a" not in values:
        problems.append("missing mandatory attribute a= (ADMD; use 'a= ' for none)")
    country = values.get("c")
    if country and not re.fullmatch(r"[A-Za-z]{2}|[0-9]{3}", country):
        problems.append(f"c={country!r} must be 2 letters or 3 digits")
    if not any(k in values for k in ("p", "o", "ou1", "ou2", "ou3", "ou4", "cn", *_PERSONAL_NAME)):
        problems.append("needs at least one of p=, o=, ou=, cn= or a personal name (s=)")
    given = [k for k in ("g", "i", "q") if k in values]
    if given and "s" not in values:
        problems.append(f"{'/'.join(given)}= given without a surname s=")
    for level in (2, 3, 4):
        if f"ou{level}" in values and f"ou{level - 1}" not in values:
            problems.append(f"ou{level}= given without ou{level - 1}=")
    for key, value in values.items():
        if key.startswith("dda:"):
            dda_type = key[4:]
            if len(dda_type) > DDA_TYPE_MAX_LENGTH:
                problems.append(
                    f"DDA type {dda_type!r} is {len(dda_type)} characters (at most {DDA_TYPE_MAX_LENGTH})"
                )
            limit = DDA_VALUE_MAX_LENGTH
        else:
            limit = X400_MAX_LENGTH[key]
        if key not in ("c",) and len(value) > limit:
            problems.append(f"{key}={value!r} is {len(value)} characters (at most {limit})")
        if key == "a" and value == "":
            # The ADMD is mandatory, so leaving it out is no cure: 'no ADMD' is one space.
            problems.append("a= is empty; the ADMD is mandatory: write 'a= ' (a single space) for none")
        elif key != "c" and value == "":
            problems.append(f"{key}= is empty: give it a value or leave it out")
        if not _PRINTABLE.fullmatch(value):
            bad = sorted({ch for ch in value if not _PRINTABLE.fullmatch(ch)})
            problems.append(f"{key}={value!r} has characters X.400 cannot carry: {''.join(bad)!r}")
    return problems


# --- SMTP -----------------------------------------------------------------

_DOMAIN_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")


@dataclass(frozen=True, slots=True)
class SmtpAddress:
    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def validate_domain(domain: str) -> list[str]:
    """Problems with an SMTP domain such as ``redmond.contoso.com``."""
    if not domain:
        return ["SMTP domain is empty"]
    if len(domain) > 253:
        return [f"SMTP domain {domain!r} is longer than 253 characters"]
    bad = [label for label in domain.split(".") if not _DOMAIN_LABEL.fullmatch(label)]
    if bad:
        return [f"SMTP domain {domain!r} has an invalid label {bad[0]!r}"]
    return []


def parse_smtp(text: str) -> SmtpAddress:
    """Parse ``local@domain``; raises :class:`AddressError` when malformed."""
    local, at, domain = text.strip().rpartition("@")
    if not at or not local:
        raise AddressError(f"SMTP address {text!r} is not local@domain")
    if not _LOCAL_PART.fullmatch(local) or local.startswith(".") or local.endswith("."):
        raise AddressError(f"SMTP address {text!r} has an invalid local part {local!r}")
    problems = validate_domain(domain)
    if problems:
        raise AddressError(problems[0])
    return SmtpAddress(local, domain.lower())


BLANK = -1
"""How specific a blank address space is: it takes every address, and anything beats it, even '*'."""


def smtp_specificity(pattern: str, domain: str) -> int | None:
    """How specifically an SMTP address space ``pattern`` takes ``domain``, or None when it does
    not: '*' takes every domain (0), '*.ie' takes 'example.ie' (3, its characters besides the
    wildcards), a blank one takes every domain least of all (:data:`BLANK`). The most
    specific space wins whatever the costs (KB Q193322)."""
    pattern = pattern.strip().lower().lstrip("@")
    if pattern == "":
        return BLANK
    if pattern == "*":
        return 0
    regex = "^" + re.escape(pattern).replace(r"\*", ".*") + "$"
    if re.match(regex, domain):
        return len(pattern.replace("*", ""))
    return None


def smtp_site_domain(site_address: str) -> str:
    """The domain of a site SMTP address, written ``@redmond.contoso.com``."""
    return site_address.strip().lstrip("@").lower()


def validate_smtp_site_address(site_address: str) -> list[str]:
    text = site_address.strip()
    if not text.startswith("@"):
        return [f"SMTP site address {site_address!r} must start with '@' (e.g. '@redmond.contoso.com')"]
    return validate_domain(text[1:])


# --- MS Mail --------------------------------------------------------------

MS_COMPONENT_MAX = 10


def parse_ms(text: str) -> tuple[str, ...]:
    """MS Mail ``NETWORK/POSTOFFICE/MAILBOX`` (mailbox may be absent in a site address)."""
    parts = tuple(p.strip().upper() for p in text.strip().split("/"))
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if len(parts) not in (2, 3) or any(not p for p in parts):
        raise AddressError(f"MS Mail address {text!r} is not NETWORK/POSTOFFICE[/MAILBOX]")
    too_long = [p for p in parts if len(p) > MS_COMPONENT_MAX]
    if too_long:
        raise AddressError(
            f"MS Mail address {text!r}: component {too_long[0]!r} is longer than {MS_COMPONENT_MAX} characters"
        )
    return parts


def validate_ms_site_address(site_address: str) -> list[str]:
    try:
        parts = parse_ms(site_address)
    except AddressError as exc:
        return [str(exc)]
    if len(parts) != 2:
        return [f"MS site address {site_address!r} must be NETWORK/POSTOFFICE/ (no mailbox)"]
    return []


# --- EX distinguished names -----------------------------------------------


def site_dn(organization: str, site: str) -> str:
    """The site's distinguished name, the EX address space in every GWART."""
    return f"/o={organization}/ou={site}"


def mailbox_dn(organization: str, site: str, alias: str) -> str:
    return f"{site_dn(organization, site)}/cn=Recipients/cn={alias}"


def parse_dn(text: str) -> dict[str, str]:
    """``/o=Org/ou=Site/cn=...`` as a dict of its first o, ou and last cn (lower-case keys)."""
    parts = [p for p in text.strip().split("/") if p]
    out: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq:
            raise AddressError(f"EX address {text!r}: part {part!r} is not key=value")
        key = key.strip().lower()
        if key in ("o", "ou") and key in out:
            continue
        out[key] = value.strip()
    if "o" not in out:
        raise AddressError(f"EX address {text!r} has no /o=")
    return out


# --- Proxy generation -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proxies:
    """The proxy addresses Exchange generated for one mailbox."""

    ex: str
    x400: str
    smtp: str | None
    ms: str | None


def x400_proxy(site_address: str, surname: str, given: str | None = None) -> str:
    """A mailbox's X.400 address: the site address plus its personal name."""
    before, after = _x400_proxy_around(site_address, given)
    return before + surname + after


#: Stands for the surname while a site's proxy is formatted once: a control character, which
#: no X.400 attribute value may hold, so it cannot occur in the rest of the address.
_SURNAME_MARK = "\x00"


@lru_cache(maxsize=4096)
def _x400_proxy_around(site_address: str, given: str | None) -> tuple[str, str]:
    """What comes before and after the surname in the proxies of a site's mailboxes that share
    a given name: the site address is parsed and put in canonical order once, not once for each
    of a big organization's 60,000 mailboxes."""
    text = format_x400(parse_x400(site_address).with_attributes(s=_SURNAME_MARK, g=given))
    before, _, after = text.partition(_SURNAME_MARK)
    return before, after


def smtp_proxy(alias: str, site_smtp: str) -> str:
    return f"{alias}@{smtp_site_domain(site_smtp)}"


def ms_proxy(alias: str, site_ms: str) -> str:
    network, postoffice = parse_ms(site_ms)[:2]
    return f"{network}/{postoffice}/{alias.upper()[:MS_COMPONENT_MAX]}"


def anonymous_alias(server: str, number: int) -> str:
    """Alias of the n-th (from 1) anonymous user a scenario puts on a server, e.g. ``RED-EX1-u0007``."""
    return f"{server}-u{number:04d}"


def alias_as_written(alias: str, servers: Iterable[tuple[str, int, Iterable[str]]]) -> str | None:
    """The mailbox alias ``alias`` names, spelt as the scenario gives it, or None when no mailbox
    has it. The directory matches aliases whatever their case (``annl`` is ``AnnL``), so this does
    too. ``servers``: each server's name, its number of anonymous users and its named mailboxes'
    aliases. An anonymous user's alias is recognised from its form (``<server>-uNNNN``, 1 to
    users): a server of 10^9 users must not make a list of 10^9 names."""
    folded = alias.lower()
    servers = list(servers)
    named = [name for _, _, aliases in servers for name in aliases]
    if alias in named:
        return alias
    found = next((name for name in named if name.lower() == folded), None)
    if found is not None:
        return found
    server_name, separator, number = folded.rpartition("-u")
    if separator and number.isdigit():
        for server, users, _ in servers:
            if server.lower() == server_name and 1 <= int(number) <= users:
                written = anonymous_alias(server, int(number))
                return written if written.lower() == folded else None
    return None


def proxies(
    organization: str,
    site: str,
    alias: str,
    surname: str,
    given: str | None,
    site_x400: str,
    site_smtp: str | None = None,
    site_ms: str | None = None,
) -> Proxies:
    """Every proxy address of a mailbox from its site's addresses."""
    return Proxies(
        ex=mailbox_dn(organization, site, alias),
        x400=x400_proxy(site_x400, surname, given),
        smtp=smtp_proxy(alias, site_smtp) if site_smtp else None,
        ms=ms_proxy(alias, site_ms) if site_ms else None,
    )


def classify_recipient(text: str) -> tuple[AddressType | Literal["ALIAS"], str]:
    """Split ``TYPE:address`` or guess the type of a bare address.

    ``SMTP:``, ``X400:``, ``MS:`` and ``EX:`` prefixes are honoured; otherwise
    an ``@`` means SMTP, a leading ``/o=`` EX, ``key=value;`` pairs X.400 and a
    ``/`` MS Mail. Anything else is taken as a mailbox alias.
    """
    raw = text.strip()
    prefix, colon, rest = raw.partition(":")
    typed = _ADDRESS_TYPES.get(prefix.upper()) if colon else None
    if typed is not None:
        return typed, rest.strip()
    if "@" in raw:
        return "SMTP", raw
    if raw.lower().startswith("/o="):
        return "EX", raw
    if "=" in raw and (";" in raw or raw.lower().startswith("c=")):
        return "X400", raw
    if "/" in raw:
        return "MS", raw
    return "ALIAS", raw
