"""Each KB scenario fails when the behaviour it names is broken.

A KB scenario that passes whatever the model does proves nothing. Each case
below breaks one documented behaviour on purpose (a *mutation* of the model,
applied with ``monkeypatch``: one retry more, a filter removed, a threshold
moved by a minute, a defect on the wrong build or keyed on the wrong clock) and
asserts that ``exsim check`` reports the named expectation of that scenario
FAILED. ``tests/test_kb.py`` shows the same expectations pass on the real
model. docs/kb.md lists the mutations and the expectation that catches each.

Only the catching expectation is evaluated (so only its sweep points run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from exsim import routing, versions
from exsim.expect import evaluate
from exsim.scenario import Override, Scenario, load_scenario
from exsim.sim import gateways, model, mta, resolver
from tests.conftest import SCENARIOS


@dataclass(frozen=True)
class Mutation:
    article: str
    what: str
    apply: Callable[[pytest.MonkeyPatch], None]
    caught_by: str
    """Name of the expectation of the article's scenario that must fail."""


# --- ways of breaking the model ----------------------------------------------------


def _defect(monkeypatch: pytest.MonkeyPatch, kb: str, **changes) -> None:
    """Change one row of the defect table (its builds, its trigger, where it bites)."""
    table = tuple(dataclasses.replace(d, **changes) if d.kb == kb else d for d in versions.DEFECTS)
    monkeypatch.setattr(versions, "DEFECTS", table)


def _scenario_as_run(monkeypatch: pytest.MonkeyPatch, change: Callable[[Scenario], None]) -> None:
    """The model runs a changed copy of every scenario it is given (the file stays as written)."""
    original = model.Simulation.__init__

    def init(self, scenario, seed=None, **kwargs):  # type: ignore[no-untyped-def]
        copy = scenario.model_copy(deep=True)
        change(copy)
        original(self, copy, seed, **kwargs)

    monkeypatch.setattr(model.Simulation, "__init__", init)


def _after_init(monkeypatch: pytest.MonkeyPatch, cls: type, change: Callable) -> None:
    original = cls.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        change(self)

    monkeypatch.setattr(cls, "__init__", init)


def _each_link_override(change: Callable[[Override], None]) -> Callable[[Scenario], None]:
    def apply(scenario: Scenario) -> None:
        for connector in scenario.connectors:
            if connector.kind in ("site", "x400", "ras"):
                change(connector.override)

    return apply


def one_open_retry_more(monkeypatch: pytest.MonkeyPatch) -> None:
    def more(override: Override) -> None:
        override.max_open_retries += 1

    _scenario_as_run(monkeypatch, _each_link_override(more))


def override_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    def defaults(scenario: Scenario) -> None:
        for connector in scenario.connectors:
            connector.override = Override()

    _scenario_as_run(monkeypatch, defaults)


def retries_never_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def endless(override: Override) -> None:
        override.max_open_retries = 10**6

    _scenario_as_run(monkeypatch, _each_link_override(endless))


def schedules_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    from exsim.schedule import Activation, Schedule

    monkeypatch.setattr(Schedule, "state_at", lambda self, t_s: Activation.NOW)


def selection_order(monkeypatch: pytest.MonkeyPatch, name: str, order: tuple) -> None:
    monkeypatch.setattr(routing, name, order)


def gwart_recalculated(monkeypatch: pytest.MonkeyPatch, after_end: Callable[[float], float]) -> None:
    """The incomplete GWART is replaced ``after_end(recalculation_delay)`` seconds after each
    replication event ends, not ``model.recalculation_delay`` after it."""

    def when(sim) -> None:  # type: ignore[no-untyped-def]
        delay = after_end(sim.scenario.model.recalculation_delay)
        sim._hidden_until = [(e, e.end + delay) for e in sim.replication]
        sim._replication_over = max(until for _, until in sim._hidden_until)

    _after_init(monkeypatch, model.Simulation, when)


def ims_retry_delay(monkeypatch: pytest.MonkeyPatch, delay: Callable) -> None:
    original = gateways.InternetMailService.retry_delay_s

    def patched(self, failures: int) -> float:  # type: ignore[no-untyped-def]
        return delay(self, failures, original(self, failures))

    monkeypatch.setattr(gateways.InternetMailService, "retry_delay_s", patched)


def ims_reroutes_queued_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused delivery is handed back to the MTA to be routed again (what 5.0 does not do)."""

    def retry(self, envelope):  # type: ignore[no-untyped-def]
        self.first_try.pop(id(envelope), None)
        self._refuse(envelope)
        yield self.env.timeout(0)

    monkeypatch.setattr(gateways.InternetMailService, "_retry", retry)


def lifetime_moved(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    original = model.Simulation.past_lifetime

    def moved(self, envelope, server, lifetime_s=None):  # type: ignore[no-untyped-def]
        lifetime = self.lifetime_normal_s if lifetime_s is None else lifetime_s
        return original(self, envelope, server, lifetime + seconds)

    monkeypatch.setattr(model.Simulation, "past_lifetime", moved)


def lifetime_by_the_senders_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The age judged by the clock of the server that sent the mail, not the one holding it."""
    original = model.Simulation.past_lifetime

    def wrong_server(self, envelope, server, lifetime_s=None):  # type: ignore[no-untyped-def]
        return original(self, envelope, envelope.message.origin_server or server, lifetime_s)

    monkeypatch.setattr(model.Simulation, "past_lifetime", wrong_server)


def mta_size_limit_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    _after_init(monkeypatch, mta.MTA, lambda m: setattr(m, "size_limit", None))


def reroute_remembers_sites(monkeypatch: pytest.MonkeyPatch) -> None:
    original = gateways.Gateway._refuse

    def refuse(self, envelope):  # type: ignore[no-untyped-def]
        passed = envelope.visited_sites
        original(self, envelope)
        envelope.visited_sites = passed

    monkeypatch.setattr(gateways.Gateway, "_refuse", refuse)


def hop_limit_halved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "MAX_HOPS", 256)
    monkeypatch.setattr(mta, "MAX_HOPS", 256)


def interchange_recovers_after_one_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    original = gateways.MsMailConnector.blocked
    polled: set[int] = set()

    def blocked(self, envelope):  # type: ignore[no-untyped-def]
        if id(envelope) in polled:
            return False
        polled.add(id(envelope))
        return original(self, envelope)

    monkeypatch.setattr(gateways.MsMailConnector, "blocked", blocked)


def lowest_cost_flag_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model.Simulation, "lowest_cost_only", lambda self, server: False)


def open_retry_mark_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connector stays in open retry until an open succeeds, though no mail is left to retry."""
    monkeypatch.setattr(mta.NextHopQueue, "_retry_timer_ended", lambda self: None)


def defect_needs_the_ims_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Q166866 failure placed in the IMS rather than in the store."""
    original = model.Simulation.defect

    def defect(self, where, server, message):  # type: ignore[no-untyped-def]
        found = original(self, where, server, message)
        if (
            found is not None
            and where == "gateway_in:ims"
            and not self.uptime.running(server, "ims", self.env.now)
        ):
            return None
        return found

    monkeypatch.setattr(model.Simulation, "defect", defect)


def proxy_loop_on_any_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Q185024 loop without its same-server condition (the recipient's mailbox is asked
    about as if it were on the sender's server)."""
    original = resolver.proxy_loop

    def anywhere(routing, builds, server, message, recipient):  # type: ignore[no-untyped-def]
        box = routing.mailbox_of(recipient.address)
        if box is None or box.server == server:
            return original(routing, builds, server, message, recipient)
        mailbox_of = routing.mailbox_of
        routing.mailbox_of = lambda address: dataclasses.replace(box, server=server)
        try:
            return original(routing, builds, server, message, recipient)
        finally:
            routing.mailbox_of = mailbox_of

    monkeypatch.setattr(mta, "proxy_loop", anywhere)


BUILDS = frozenset({"5.0", "5.0-sp1", "5.0-sp2"})

MUTATIONS = [
    # Q145976: the incomplete GWART on RTM only, until the recalculation after replication.
    Mutation(
        "Q145976",
        "defect gone from RTM",
        lambda mp: _defect(mp, "Q145976", versions=frozenset()),
        "RTM: mail to C comes back while replication is incomplete",
    ),
    Mutation(
        "Q145976",
        "defect on SP1 too",
        lambda mp: _defect(mp, "Q145976", versions=frozenset({"5.0", "5.0-sp1"})),
        "SP1: everything is delivered",
    ),
    Mutation(
        "Q145976",
        "recalculation delay ignored at replication's end",
        lambda mp: gwart_recalculated(mp, lambda delay: 0.0),
        "RTM: NDRs go on after replication completes, until the GWART is recalculated",
    ),
    Mutation(
        "Q145976",
        "GWART recalculated an hour late",
        lambda mp: gwart_recalculated(mp, lambda delay: delay + 3600.0),
        "RTM: no NDR once the GWART is recalculated after replication completes",
    ),
    # Q146669: an IMS retry interval of 0 means no retry.
    Mutation(
        "Q146669",
        "interval 0 read as 'retry at once'",
        lambda mp: ims_retry_delay(mp, lambda self, n, d: d if d > 0 else 0.001),
        "interval 0: about half fail at the first refusal",
    ),
    Mutation(
        "Q146669",
        "one retry more (a minute later) before interval 0 gives up",
        lambda mp: ims_retry_delay(mp, lambda self, n, d: 60.0 if d <= 0 and n == 1 else d),
        "interval 0: about half fail at the first refusal",
    ),
    Mutation(
        "Q146669",
        "the default list is not repeated: the IMS gives up after its fourth retry",
        lambda mp: ims_retry_delay(mp, lambda self, n, d: 0.0 if n > 4 else d),
        "default intervals: retried until delivered",
    ),
    # Q152666: Dynamic RAS with a busy modem: congestion NDR when the Override's retries run out.
    Mutation(
        "Q152666",
        "one open retry more",
        one_open_retry_more,
        "the NDR comes when the 6 retries 10 minutes apart are used up",
    ),
    Mutation(
        "Q152666",
        "connector schedules ignored (always dials)",
        schedules_ignored,
        "dialling at night: everything is delivered",
    ),
    # Q156063: the 5.0 IMS does not reroute mail queued to it.
    Mutation(
        "Q156063",
        "the IMS hands refused mail back to the MTA to be rerouted",
        ims_reroutes_queued_mail,
        "mail queued to IMS-1 while its route is down times out",
    ),
    Mutation(
        "Q156063",
        "the IMS gives up at the first refusal instead of at its timeout",
        lambda mp: ims_retry_delay(mp, lambda self, n, d: 0.0),
        "not before the 4-hour timeout",
    ),
    # Q157630: 289/301 every open interval, congestion NDR after max open retries.
    Mutation(
        "Q157630",
        "one open retry more",
        one_open_retry_more,
        "default: first NDR 24 h after the first failed open",
    ),
    Mutation(
        "Q157630",
        "one open retry more (Override)",
        one_open_retry_more,
        "12 retries of 5 min: first NDR after 1 h",
    ),
    Mutation(
        "Q157630",
        "the connector's Override ignored (defaults used)",
        override_ignored,
        "12 retries of 5 min: first NDR after 1 h",
    ),
    # Q158399: mail older than 7 days by the deciding MTA's clock expires.
    Mutation(
        "Q158399",
        "lifetime threshold one minute later",
        lambda mp: lifetime_moved(mp, 60.0),
        "30 s past the lifetime: mail arriving at RED-EX2 expires",
    ),
    Mutation(
        "Q158399",
        "lifetime threshold one minute earlier",
        lambda mp: lifetime_moved(mp, -60.0),
        "30 s inside the lifetime: nothing fails",
    ),
    Mutation(
        "Q158399",
        "age judged by the sending server's clock (keyed on the wrong server)",
        lifetime_by_the_senders_clock,
        "mail arriving at the server 8 days ahead expires",
    ),
    # Q160534: per-connector size limits make oversized mail bounce to the 512-hop limit.
    Mutation(
        "Q160534",
        "MTA size limit not enforced",
        mta_size_limit_ignored,
        "with the limit on every MTA nothing crosses the X.400 connector",
    ),
    Mutation(
        "Q160534",
        "a reroute remembers the sites passed (loop caught at once)",
        reroute_remembers_sites,
        "oversized mail bounces between the sites 256 times each",
    ),
    Mutation(
        "Q160534",
        "hop limit 256 instead of 512",
        hop_limit_halved,
        "oversized mail bounces between the sites 256 times each",
    ),
    # Q165485: blank PRMD -> the interchange sends nothing, and the mail waits.
    Mutation(
        "Q165485",
        "defect also with a PRMD",
        lambda mp: _defect(mp, "Q165485", needs_missing_prmd=False),
        "a dummy PRMD makes it flow",
    ),
    Mutation(
        "Q165485",
        "the interchange recovers after one failed poll",
        interchange_recovers_after_one_poll,
        "with a blank PRMD nothing reaches MS Mail",
    ),
    # Q166567: Use Lowest Cost Routes Only.
    Mutation(
        "Q166567",
        "flag ignored",
        lowest_cost_flag_ignored,
        "flag on: mail waits for the cheap connector, never the dear one",
    ),
    Mutation(
        "Q166567",
        "flag ignored (the outage's mail leaves by the dear connector within seconds)",
        lowest_cost_flag_ignored,
        "flag on: the mail sent during the outage waits for the cheap one",
    ),
    Mutation(
        "Q166567",
        "flag puts cost before schedule too (no exception for an inactive schedule)",
        lambda mp: selection_order(
            mp,
            "_LOWEST_COST_ORDER",
            (
                routing._by_cost,
                routing._by_schedule,
                routing._by_attempts,
                routing._by_open_retry,
                routing._by_locality,
            ),
        ),
        "flag on, cheap connector inactive by schedule: the dear one carries the mail",
    ),
    Mutation(
        "Q166567",
        "open retry mark kept once no mail is left to retry",
        open_retry_mark_kept,
        "flag off: the cheap connector carries the mail again once it is back",
    ),
    # Q166866: SP1 without a PRMD, in the store, IMS running or not.
    Mutation(
        "Q166866",
        "defect on SP2 too",
        lambda mp: _defect(mp, "Q166866", versions=frozenset({"5.0-sp1", "5.0-sp2"})),
        "SP2 never fails",
    ),
    Mutation(
        "Q166866",
        "defect also with a PRMD",
        lambda mp: _defect(mp, "Q166866", needs_missing_prmd=False),
        "SP1 with p= delivers",
    ),
    Mutation(
        "Q166866",
        "failure in the IMS (only while it runs), not in the store",
        defect_needs_the_ims_running,
        "SP1 without p= fails every outbound SMTP recipient",
    ),
    # Q176046: RTM and SP1 search fuzzily for an address without a PRMD whatever the setting.
    Mutation(
        "Q176046",
        "defect gone from RTM and SP1 (the setting honoured everywhere)",
        lambda mp: _defect(mp, "Q176046", versions=frozenset()),
        "SP1 with exact-only search still misdelivers",
    ),
    Mutation(
        "Q176046",
        "defect on SP2 too",
        lambda mp: _defect(mp, "Q176046", versions=BUILDS),
        "SP2 with exact-only search delivers every PTT recipient to the PTT",
    ),
    # Q185024: an SP2 bridgehead beside SP1 user servers loops proxy-addressed same-server mail.
    Mutation(
        "Q185024",
        "defect gone from SP2 bridgeheads",
        lambda mp: _defect(mp, "Q185024", versions=frozenset()),
        "an SP2 bridgehead beside SP1 user servers: the loop NDR, from the sender's MTA",
    ),
    Mutation(
        "Q185024",
        "proxy-addressed mail to another server of the site loops too",
        proxy_loop_on_any_server,
        "mail to the other server is delivered",
    ),
    # Q176194: inbound MS Mail fails in the store on RTM and SP1 without a PRMD.
    Mutation(
        "Q176194",
        "defect fixed in SP1 already",
        lambda mp: _defect(mp, "Q176194", versions=frozenset({"5.0"})),
        "SP1: every inbound MS Mail recipient fails",
    ),
    Mutation(
        "Q176194",
        "defect on SP2 too",
        lambda mp: _defect(mp, "Q176194", versions=BUILDS),
        "SP2 delivers inbound MS Mail",
    ),
    Mutation(
        "Q176194",
        "defect also with a PRMD",
        lambda mp: _defect(mp, "Q176194", needs_missing_prmd=False),
        "with a PRMD every build delivers inbound MS Mail",
    ),
    # Q193322: the route-selection filters.
    Mutation(
        "Q193322",
        "schedule filter removed",
        lambda mp: selection_order(
            mp,
            "_ORDER",
            (routing._by_attempts, routing._by_open_retry, routing._by_cost, routing._by_locality),
        ),
        "everything is delivered over the active connector",
    ),
    Mutation(
        "Q193322",
        "max-open-retries filter never removes a connector",
        retries_never_run_out,
        "everything is delivered over the active connector",
    ),
]


def test_every_article_has_mutations_and_the_docs_list_them():
    from tests.conftest import ROOT

    kb = {p.stem for p in (SCENARIOS / "kb").glob("*.toml")}
    assert {m.article for m in MUTATIONS} == kb
    doc = (ROOT / "docs" / "kb.md").read_text()
    for mutation in MUTATIONS:
        assert f"| {mutation.article} | {mutation.what} | {mutation.caught_by} |" in doc, mutation


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[f"{m.article}-{m.what}" for m in MUTATIONS])
def test_the_kb_scenario_catches_the_mutation(mutation: Mutation, monkeypatch: pytest.MonkeyPatch):
    scenario = load_scenario(SCENARIOS / "kb" / f"{mutation.article}.toml")
    catching = [e for e in scenario.expect if e.name == mutation.caught_by]
    assert len(catching) == 1, f"no expectation named {mutation.caught_by!r}"
    mutation.apply(monkeypatch)
    lines = evaluate(scenario.model_copy(update={"expect": catching}))
    assert any(not line.passed for line in lines), "\n".join(str(line) for line in lines)
