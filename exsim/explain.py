"""Plain-language explanations of routing decisions, for people learning Exchange.

``exsim route`` prints these: at each MTA the candidate GWART rows, then every
selection filter with what it dropped and why; the hops with the server that decided
each one; and a closing line saying why this route won.
"""

from __future__ import annotations

from exsim.routing import Decision, FilterStep, RoutePlan

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
        lines.append(
            "  -> NDR 'The recipient name is not recognized' (unable-to-transfer / unrecognized-OR-name)"
        )
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
            lines += _explain_step(step)
            left = len(step.survivors)
        if selection.chosen is not None:
            lines.append(f"  chosen: {selection.chosen.connector}")
        else:
            lines.append(f"  nothing chosen ({selection.reason})")
    return lines


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
        deciding = [s for s in selection.steps if s.dropped]
        if not deciding:
            reasons.append(f"at {decision.server} {chosen} was the only candidate")
            continue
        last = deciding[-1]
        name = last.name.split(". ", 1)[-1]
        beaten = "; ".join(f"{c}: {why}" for c, why in last.dropped)
        reasons.append(f"at {decision.server} {chosen} won on '{name}' ({beaten})")
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
    lines.append(why_this_route(plan))
    return lines
