"""Plain-language explanations of routing decisions, for people learning Exchange."""

from __future__ import annotations

from exsim.routing import Decision, RoutePlan


def explain_decision(decision: Decision) -> list[str]:
    """What one MTA did with the recipient: the match, then each filter."""
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
        for step in selection.steps:
            note = f"  ({step.note})" if step.note else ""
            lines.append(f"  {step.name}: {', '.join(step.survivors) or 'none'}{note}")
        if selection.chosen is not None:
            lines.append(f"  chosen: {selection.chosen.connector}")
        else:
            lines.append(f"  nothing chosen ({selection.reason})")
    return lines


def explain_plan(plan: RoutePlan) -> list[str]:
    """A route plan as numbered decisions, the hop path and the total cost."""
    lines = [f"Route to {plan.recipient}"]
    for decision in plan.decisions:
        lines += explain_decision(decision)
    if plan.hops:
        lines.append("Hops:")
        for number, hop in enumerate(plan.hops, start=1):
            to = hop.to_server or "(out of the organization)"
            cost = f"  cost {hop.cost}" if hop.via != "RPC" else ""
            lines.append(f"  {number}. {hop.from_server} -> {to}  via {hop.via}{cost}")
    lines.append(f"Total cost: {plan.total_cost}")
    lines.append(f"Outcome: {plan.outcome}")
    return lines
