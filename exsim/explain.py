"""Plain-language explanations of routing decisions, for people learning Exchange.

``exsim route`` prints these: at each MTA the candidate GWART rows, then every
selection filter with what it dropped and why; the hops with the server that decided
each one; and a closing line saying why this route won.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from exsim.names import spoken_list
from exsim.ndr import UNRECOGNIZED, NdrKind, no_route_ndr
from exsim.routing import Decision, FilterStep, RoutePlan

if TYPE_CHECKING:  # exsim.sim is the simulation: ``exsim route`` need not import it
    from exsim.scenario import Scenario
    from exsim.sim.message import TraceLine

#: Filters that only choose among several candidates: with one left, they have nothing to do.
_CHOOSING = ("3.", "4.", "5.", "6.", "7.", "load share")


def explain_decision(decision: Decision) -> list[str]:
    """What one MTA did with the recipient: the match, then each filter and what it dropped."""
    res = decision.resolution
    lines = [f"At {decision.server} (site {decision.site}):"]
    if res.kind == "mailbox":
        lines.append(f"  {res.matched_as}: delivered inside the site")
        return lines
    if res.kind == "unroutable":
        lines.append(f"  unroutable: {res.reason}")
        lines.append(_ndr_line(UNRECOGNIZED))
        return lines
    lines.append(f"  matched {res.matched_as}; candidate rows:")
    for row in res.rows:
        last = "  (cost 100 on the way: last resort)" if row.last_resort else ""
        lines.append(
            f"    {row.type}:{row.space or '(blank)'}  cost {row.cost}  via {row.connector}"
            f"  [{' > '.join(row.route)}]{last}"
        )
    selection = decision.selection
    if selection is not None:
        left = len(res.rows)
        for number, step in enumerate(selection.steps):
            if left == 1 and step.name.startswith(_CHOOSING):
                rest = [s.name.split(".")[0] for s in selection.steps[number:] if s.name[0].isdigit()]
                which = (
                    f"filters {rest[0]}-{rest[-1]}"
                    if len(rest) > 1
                    else f"filter {rest[0]}"
                    if rest
                    else "load share"
                )
                lines.append(f"  {which} skipped: one candidate left ({step.survivors[0]})")
                break
            if step.name == "load share" and not step.dropped and selection.chosen is not None:
                lines.append(f"  load share: {_tie(selection.tied, selection.chosen.cost)}")
            else:
                lines += _explain_step(step)
            left = len(step.survivors)
        if selection.chosen is not None and selection.tied and not selection.steps[-1].dropped:
            lines.append(
                f"  chosen: one of {spoken_list(selection.tied)}, drawn at random for each message "
                f"(followed here: {selection.chosen.connector}, the first by name)"
            )
        elif selection.chosen is not None:
            lines.append(f"  chosen: {selection.chosen.connector}")
        else:
            lines.append(f"  nothing chosen ({selection.reason})")
            lines.append(_ndr_line(no_route_ndr(selection.reason)))
    return lines


def _ndr_line(ndr: NdrKind) -> str:
    return f"  -> NDR '{ndr.text}' ({ndr.reason_name} / {ndr.diagnostic_name})"


def _tie(tied: Sequence[str], cost: int, named: bool = True) -> str:
    """Equal routes left after the filters: the MTA spreads the mail among them at random."""
    return f"{spoken_list(tied) + ' ' if named else ''}tie (cost {cost} each), so each message draws one of them at random"


def _explain_step(step: FilterStep) -> list[str]:
    note = f"  ({step.note})" if step.note else ""
    if not step.dropped:
        return [f"  {step.name}: dropped nothing{note}"]
    lines = [f"  {step.name}:{note}"]
    lines += [
        f"    dropped {connector}: {why}" if why else f"    dropped {connector}"
        for connector, why in step.dropped
    ]
    return lines


def why_this_route(plan: RoutePlan) -> str:
    """One line: at each MTA that chose, the filter that decided, then the outcome."""
    reasons = []
    for decision in plan.decisions:
        selection = decision.selection
        if selection is None or selection.chosen is None:
            continue
        chosen = selection.chosen.connector
        deciding = [s for s in selection.steps if s.dropped and s.name != "load share"]
        drawn = bool(selection.tied) and not selection.steps[-1].dropped
        followed = f" (followed here: {chosen})"
        if not deciding:
            reasons.append(
                f"at {decision.server} "
                + (
                    _tie(selection.tied, selection.chosen.cost) + followed
                    if drawn
                    else f"{chosen} was the only candidate"
                )
            )
            continue
        last = deciding[-1]
        name = last.name.split(". ", 1)[-1]
        beaten = "; ".join(f"{c}: {why}" for c, why in last.dropped)
        won = f"{spoken_list(selection.tied) if drawn else chosen} won on '{name}' ({beaten})"
        if drawn:
            won += f" and {_tie(selection.tied, selection.chosen.cost, named=False)}{followed}"
        reasons.append(f"at {decision.server} {won}")
    reasons.append(plan.outcome)
    return "Why this route: " + "; then ".join(reasons) + "."


def explain_plan(plan: RoutePlan) -> list[str]:
    """A route plan as numbered decisions, the hops with who decided each, the total and why."""
    lines = [f"Route to {plan.recipient}"]
    for decision in plan.decisions:
        lines += explain_decision(decision)
    if plan.hops:
        lines.append("Hops:")
        for number, hop in enumerate(plan.hops, start=1):
            to = hop.to_server or "(out of the organization)"
            cost = f"  cost {hop.cost}" if hop.via != "RPC" else ""
            lines.append(f"  {number}. {hop.from_server} -> {to}  via {hop.via}{cost}")
            if hop.why:
                lines.append(f"     {hop.why}")
    lines.append(f"Total cost: {plan.total_cost}")
    lines.append(f"Outcome: {plan.outcome}")
    if plan.fix:
        lines.append(f"Fix: {plan.fix}.")
    lines.append(why_this_route(plan))
    return lines


# --- a traced message's story ---------------------------------------------------------

#: Words ``exsim trace`` uses that a student may not know: the pattern that finds the word in
#: a trace, and what it means.
GLOSSARY: dict[str, tuple[str, str]] = {
    "GDI": (
        r"\bGDI\b",
        "global domain identifier, the country, ADMD and PRMD (c=, a=, p=) of a site's X.400 address",
    ),
    "bilateral info": (
        r"bilateral[- ]info",
        "the entry the store builds from the GDI when it hands a message to a gateway",
    ),
    "gateway-in thread": (
        r"gateway[- ]in|gateway transfer-in",
        "the store's worker that moves mail the MTA queued for a gateway into the gateway's MTS-OUT folder",
    ),
    "MTS-IN/MTS-OUT": (r"MTS-(IN|OUT)", "a gateway's incoming and outgoing folders in the store"),
    "NDR": (r"\bNDR\b", "non-delivery report, sent back to the originator"),
    "RPC": (r"\bRPC\b", "how servers in one site pass mail to each other, with no connector"),
}


def glossary_line(texts: Iterable[str]) -> str | None:
    """One line explaining the glossary words that occur in the texts, or None if none does."""
    joined = "\n".join(texts)
    used = [
        f"{word} = {meaning}" for word, (pattern, meaning) in GLOSSARY.items() if re.search(pattern, joined)
    ]
    return "Glossary: " + "; ".join(used) + "." if used else None


def defect_fixes(lines: Sequence[TraceLine], scenario: Scenario | None = None) -> list[str]:
    """'Fix for Q...: ...' for each defect that bit in a trace, once each, in order; with the
    scenario, each defect that looks at a site's X.400 address names that site.

    The site is not always the sender's: by default (``model.q166866_gdi_site = "transfer_in"``)
    Q166866 reads the address of the site whose store hands the message to its IMS, so mail
    from a site with p= fails when it leaves through an IMS in a site without it.
    """
    from exsim.versions import defect_by_kb

    first = {line.defect: line for line in reversed(lines) if line.defect}
    fixes = []
    for kb in dict.fromkeys(line.defect for line in lines if line.defect):
        assert kb is not None
        defect = defect_by_kb(kb)
        if not defect.fix:
            continue
        fix = f"Fix for {kb}: {defect.fix_for(_gateway_kinds(lines, scenario))}."
        if scenario is not None and defect.needs_missing_prmd:
            fix += " " + _gdi_site(scenario, defect.gdi_site_is_a_setting, first[kb].server, lines[0].server)
        fixes.append(fix)
    return fixes


def _gateway_kinds(lines: Sequence[TraceLine], scenario: Scenario | None) -> set[str]:
    """The kinds of the gateways that worked on the message (each names its own trace lines)."""
    if scenario is None:
        return set()
    kinds = {connector.name: connector.kind for connector in scenario.connectors}
    return {kinds[line.component] for line in lines if line.component in kinds}


def _gdi_site(scenario: Scenario, a_setting: bool, failed_on: str, submitted_on: str) -> str:
    """Which site's X.400 address a defect read, and why that one."""
    site_of = {server.name: server.site for server in scenario.servers}
    address = {site.name: site.addresses.x400 for site in scenario.sites}
    setting = scenario.model.q166866_gdi_site
    if a_setting and setting == "originator":
        # A trace starts where the message was submitted: the originator's home server.
        site, why = site_of[submitted_on], 'the originator\'s site (model.q166866_gdi_site = "originator")'
    elif a_setting:
        site = site_of[failed_on]
        why = (
            f"the site whose store handed the message to its gateway on {failed_on} "
            f'(model.q166866_gdi_site = "{setting}"), whatever the sender\'s own address'
        )
    else:
        site, why = site_of[failed_on], f"the site of {failed_on}, where it failed"
    return f"The address that counted here is site {site}'s ({address[site]}): {why}."


def trace_story(lines: Sequence[TraceLine], scenario: Scenario | None = None) -> dict[str, Any]:
    """A traced message as data: its lines, and the hops (consecutive lines on one server) with
    their components, times, event ids and whether an NDR was generated there."""
    hops: list[dict[str, Any]] = []
    for line in lines:
        if not hops or hops[-1]["server"] != line.server:
            hops.append(
                {"server": line.server, "start_s": line.time_s, "components": [], "events": [], "ndr": False}
            )
        hop = hops[-1]
        hop["end_s"] = line.time_s
        if line.component not in hop["components"]:
            hop["components"].append(line.component)
        if line.event_id is not None:
            hop["events"].append(line.event_id)
        hop["ndr"] = hop["ndr"] or line.kind == "ndr"
    return {
        "lines": [asdict(line) for line in lines],
        "hops": hops,
        "ndr": any(line.kind == "ndr" for line in lines),
        "delivered": any(line.kind == "delivered" for line in lines),
        "fixes": defect_fixes(lines, scenario),
        "glossary": glossary_line(line.text for line in lines),
    }
