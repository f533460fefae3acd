"""Exchange 5.0 builds and the transport defects each carries, as one table.

The simulation never asks "is this SP1?"; it asks whether the server's build
carries a given defect (:func:`carries`). Each defect is a small rule object
named by its Knowledge Base article.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Build:
    version: str
    build: int
    label: str


BUILDS: dict[str, Build] = {
    "5.0": Build("5.0", 1457, "Exchange Server 5.0 (RTM)"),
    "5.0-sp1": Build("5.0-sp1", 1458, "Exchange Server 5.0 Service Pack 1"),
    "5.0-sp2": Build("5.0-sp2", 1460, "Exchange Server 5.0 Service Pack 2"),
}


@dataclass(frozen=True, slots=True)
class Defect:
    """A documented defect: which builds carry it and what it breaks."""

    kb: str
    title: str
    versions: frozenset[str]
    component: str


DEFECTS: dict[str, Defect] = {
    "Q166866": Defect(
        kb="Q166866",
        title="IS gateway transfer-in of outbound SMTP fails when the site GDI has no PRMD",
        versions=frozenset({"5.0-sp1"}),
        component="MSExchangeIS",
    ),
    "Q176194": Defect(
        kb="Q176194",
        title="Mail entering from MS Mail fails in the store when the site GDI has no PRMD (event 2025)",
        versions=frozenset({"5.0", "5.0-sp1"}),
        component="MSExchangeIS",
    ),
    "Q165485": Defect(
        kb="Q165485",
        title="MS Mail interchange transfers nothing outbound when the site PRMD is blank (events 2335/2380)",
        versions=frozenset({"5.0", "5.0-sp1", "5.0-sp2"}),
        component="MSExchangeMSMI",
    ),
}


def carries(version: str, kb: str, *, q165485_fixed_in_sp2: bool = False) -> bool:
    """Whether a server of this version carries the defect of article ``kb``."""
    if kb == "Q165485" and q165485_fixed_in_sp2 and version == "5.0-sp2":
        return False
    return version in DEFECTS[kb].versions
