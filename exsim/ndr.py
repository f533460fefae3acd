"""Non-delivery reports: X.411 reason and diagnostic codes and Exchange's texts.

An NDR names why (reason), in more detail (diagnostic), says so in words the
user saw, and carries a footer naming the component that gave up, such as
``MSEXCH:MSExchangeMTA:Redmond:RED-EX1``.
"""

from __future__ import annotations

from dataclasses import dataclass

REASONS: dict[int, str] = {
    0: "transfer-failure",
    1: "unable-to-transfer",
    2: "conversion-not-performed",
    5: "restricted-delivery",
    6: "directory-operation-unsuccessful",
}
DIAGNOSTICS: dict[int, str] = {
    0: "unrecognized-OR-name",
    2: "MTS-congestion",
    3: "loop-detected",
    4: "recipient-unavailable",
    5: "maximum-time-expired",
    7: "content-too-long",
    11: "invalid-arguments",
    13: "size-constraint-violation",
}
#: Short headings for results tables, by diagnostic code: what an administrator called them.
SHORT_HEADINGS: dict[int, str] = {
    0: "NDR unknown name",
    2: "NDR congestion",
    3: "NDR loop",
    5: "NDR time expired",
    7: "NDR too long",
    11: "NDR invalid args",
}


def heading(diagnostic: str) -> str:
    """A table heading for NDRs of a diagnostic, given by name (``invalid-arguments``)."""
    codes = {name: code for code, name in DIAGNOSTICS.items()}
    return SHORT_HEADINGS.get(codes.get(diagnostic, -1), f"NDR {diagnostic}")


@dataclass(frozen=True, slots=True)
class NdrKind:
    reason: int
    diagnostic: int
    text: str

    @property
    def reason_name(self) -> str:
        return REASONS[self.reason]

    @property
    def diagnostic_name(self) -> str:
        return DIAGNOSTICS[self.diagnostic]


INVALID_ARGUMENTS = NdrKind(1, 11, "One or more arguments in the recipient was detected as being invalid")
CONGESTION = NdrKind(
    0, 2, "The recipient could not be processed due to congestion in the message transfer service"
)
MAX_TIME_EXPIRED = NdrKind(1, 5, "The maximum time for delivering the message expired")
UNRECOGNIZED = NdrKind(1, 0, "The recipient name is not recognized")
LOOP = NdrKind(1, 3, "The recipient was detected looping within the message transfer service")
CONTENT_TOO_LONG = NdrKind(
    1, 7, "The content length of the message is too long for the recipient to take delivery"
)


def no_route_ndr(reason: str) -> NdrKind:
    """The NDR an MTA returns when route selection leaves no connector: loop-detected when every
    candidate led back the way the mail came ('loop'), MTS congestion when every one is past its
    max open retries ('retries')."""
    return LOOP if reason == "loop" else CONGESTION


def footer(service: str, site: str, server: str) -> str:
    """The NDR footer naming the component that gave up, e.g. MSEXCH:MSExchangeMTA:Redmond:RED-EX1."""
    return f"MSEXCH:{service}:{site}:{server}"
