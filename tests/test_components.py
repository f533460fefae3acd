"""Components built alone: an MTA, a store and a gateway, each with a SimPy environment and fakes.

Each component gets what it works with through its constructor (:mod:`exsim.sim.ports`), so
these tests build one with a bare ``simpy.Environment``, a fake router that always answers the
same next hop, a neighbour that records what it is handed, books that record what they are told,
and the real event log, then check times worked out by hand from the settings below.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any

import pytest
import simpy

from exsim import logs
from exsim.directory import EXACT, Policy
from exsim.ndr import CONGESTION, INVALID_ARGUMENTS, MAX_TIME_EXPIRED, NdrKind
from exsim.org import Mailbox, Organization
from exsim.routing import Answer, ConnectorStates, Destination, GwartRow, Resolution, Router
from exsim.scenario import DirectorySearch, Override, Scenario
from exsim.scenario import ImsConnector as ImsConnectorSpec
from exsim.sim.gateways import InternetMailService, gateway_settings
from exsim.sim.message import PENDING, Envelope, Message, Recipient
from exsim.sim.mta import MTA, RPC_LATENCY_S, MtaSettings
from exsim.sim.ports import Collaborators, GatewayInbox, MtaInbox, StoreInbox
from exsim.sim.store import InformationStore, StoreSettings
from exsim.sim.uptime import Availability, Uptime
from exsim.versions import Defect, defect_at
from tests.simkit import scenario, two_sites

# --- the settings the hand computations use ------------------------------------------------
ROUTING_S = 2.0  # the MTA's routing thread, per message
OPEN_S = 1.0  # opening an association, before the round trip
LINK_BPS = 64_000.0  # the A-B X.400 connector's link
LINK_LATENCY_S = 0.05
OPEN_INTERVAL_S = 60.0
MAX_OPEN_RETRIES = 2
RPC_BPS = 10_000_000.0
SIZE_KB = 10.0


def organization(site_connector: bool = False, **events: tuple[str, str] | None) -> Scenario:
    """Sites A (server A1) and B (server B1) joined by the X.400 connector AB, whose link and
    Override the hand computations use; ``outage=(start, end)`` takes AB down. With
    ``site_connector``, AB is a site connector with no target servers and B has B2 and B3 too."""
    raw = two_sites(outage=events.get("outage"))
    connector = raw["connectors"][0]
    connector["link"] = {"bandwidth": f"{LINK_BPS:g}bps", "latency": f"{LINK_LATENCY_S * 1000:g}ms"}
    connector["override"] = {"open_interval": f"{OPEN_INTERVAL_S:g}s", "max_open_retries": MAX_OPEN_RETRIES}
    if site_connector:
        connector["kind"] = "site"
        del connector["bridgeheads"]
        raw["servers"] += [{"name": name, "site": "B", "users": 0} for name in ("B2", "B3")]
    raw["servers"].append(
        {"name": "A2", "site": "A", "users": 0, "mailboxes": [{"alias": "ann", "surname": "A"}]}
    )
    return scenario(raw)


# --- fakes --------------------------------------------------------------------------------
ROW_TO_B = GwartRow(
    type="X400", space="c=US;a= ;p=Contoso;o=B", cost=1, connector="AB", route=("A", "B"), target="B"
)


@dataclass
class FixedRouter:
    """A routing table with one answer for every address: by default, leave the site by AB."""

    mailbox: Mailbox | None = None
    """Answer instead: the address is this mailbox (in the MTA's own site)."""

    def resolve(self, site: str, address: str, policy: Policy) -> Resolution:
        if self.mailbox is not None:
            return Resolution(
                kind="mailbox", address_type="EX", address=address, site=site, mailbox=self.mailbox
            )
        return Resolution(kind="route", address_type="X400", address=address, site=site, rows=(ROW_TO_B,))

    def destinations(self, policy: Policy) -> dict[str, Destination]:
        return {}  # nothing remembered: the MTA asks destination() and answer() every time

    def answers(self, site: str) -> dict[object, Answer]:
        return {}

    def destination(self, address: str, policy: Policy) -> Destination:
        return Destination("EX" if self.mailbox else "X400", address, None, self.mailbox)

    def answer(self, site: str, destination: Destination) -> Answer:
        resolution = self.resolve(site, destination.address, EXACT)
        return Answer(resolution.kind, resolution.rows)


@dataclass
class FakeRouting:
    """The organization as it is (the link, the Override), with a fixed routing answer."""

    org: Organization
    router: Any = field(default_factory=FixedRouter)

    def router_for(self, server: str) -> Router:
        return self.router  # type: ignore[no-any-return]

    def replication_recalculation(self) -> tuple[float, float] | None:
        return None

    def lowest_cost_only(self, server: str) -> bool:
        return False

    def directory_policy(self, server: str) -> Policy:
        return EXACT

    def mailbox_of(self, address: str) -> Mailbox | None:
        return self.org.mailboxes.get(address)


@dataclass
class Defects:
    """Every server on SP2, and ``struck`` (if any) the one defect that strikes at its point."""

    struck: Defect | None = None

    def version(self, server: str) -> str:
        return "5.0-sp2"

    def defect(self, where: str, server: str, message: Message) -> Defect | None:
        return self.struck if self.struck is not None and self.struck.where == where else None

    def gdi_for_defect(self, server: str, message: Message) -> str:
        return "c=US;a= ;o=A"


@dataclass
class RecordingBooks:
    """Books that note every outcome with the time it was settled."""

    env: simpy.Environment
    delivered: list[tuple[float, str, str]] = field(default_factory=list)
    ndrs: list[tuple[float, str, NdrKind, str]] = field(default_factory=list)
    story: list[tuple[float, str]] = field(default_factory=list)
    """What the components tell the story of a traced message, and when."""

    def deliver(
        self, envelope: Envelope, recipients: list[Recipient], where: str, server: str, component: str
    ) -> None:
        for recipient in recipients:
            recipient.outcome = "delivered"
            self.delivered.append((self.env.now, recipient.address, where))

    def fail(
        self,
        envelope: Envelope,
        recipients: list[Recipient],
        kind: NdrKind,
        service: str,
        *details: Any,
        **tracking: Any,
    ) -> None:
        for recipient in recipients:
            recipient.outcome = "ndr"
            self.ndrs.append((self.env.now, recipient.address, kind, service))

    def fail_each(
        self, envelope: Envelope, failures: list[tuple[Recipient, NdrKind, str]], service: str, *details: Any
    ) -> None:
        for recipient, kind, _ in failures:
            self.fail(envelope, [recipient], kind, service)

    def lose(
        self, envelope: Envelope, recipients: list[Recipient], server: str, where: str, why: str | None = None
    ) -> None:
        raise AssertionError("nothing is lost here")

    def past_lifetime(self, envelope: Envelope, server: str, lifetime_s: float | None = None) -> bool:
        return False

    def new_message(self, *args: Any, **kwargs: Any) -> Message:
        raise AssertionError("no new message here")

    def trace(self, message: Message, text: str, server: str, component: str, **kwargs: Any) -> None:
        self.story.append((self.env.now, text))

    def trace_events(self, message: Message, entries: list[logs.EventEntry]) -> None:
        pass


@dataclass
class RecordingPost:
    """The neighbours: each MTA, store and gateway notes what it is handed, and when."""

    env: simpy.Environment
    handed: list[tuple[float, str, str, Envelope, str | None]] = field(default_factory=list)
    """(time, component, server, envelope, from_mta)"""

    def mta(self, server: str) -> MtaInbox:
        post = self

        class Neighbour:
            def receive(self, envelope: Envelope, from_mta: str | None = None) -> None:
                post.handed.append((post.env.now, "mta", server, envelope, from_mta))

        return Neighbour()

    def store(self, server: str) -> StoreInbox:
        raise AssertionError(f"nothing for the store on {server} here")

    def gateway(self, name: str) -> GatewayInbox:
        post = self

        class Gateway:
            kind = "ims"
            in_mta = False

            def outbound(self, envelope: Envelope) -> None:
                post.handed.append((post.env.now, "gateway", name, envelope, None))

        found = Gateway()
        found.name = name  # type: ignore[attr-defined]
        return found  # type: ignore[return-value]


def message(*addresses: str, size_kb: float = SIZE_KB) -> Envelope:
    recipients = [Recipient(address, "other_site") for address in addresses]
    sent = Message(
        id=1,
        mts_prefix="c=US;a= ;p=Contoso;l=A1",
        originator="someone",
        origin_server="A1",
        submitted_s=0.0,
        size_kb=size_kb,
        recipients=recipients,
    )
    return Envelope(message=sent, recipients=list(recipients))


def around(
    env: simpy.Environment,
    spec: Scenario,
    books: RecordingBooks,
    post: RecordingPost,
    events: logs.EventLog,
    defects: Defects | None = None,
) -> Collaborators:
    """What a component works with: the organization of ``spec`` with the fixed router, the
    fakes, the real uptime (no stop, crash or outage but those ``spec`` has), the real logs and
    fresh counters."""
    return Collaborators(
        env=env,
        routing=FakeRouting(Organization(spec)),
        builds=defects or Defects(),
        uptime=Uptime(env, Availability(spec), books),
        books=books,
        post=post,
        events=events,
        tracking=logs.TrackingLog(None),
        faults=Counter(),
        transfers=Counter(),
    )


@dataclass
class Bench:
    env: simpy.Environment
    mta: MTA
    books: RecordingBooks
    post: RecordingPost
    events: logs.EventLog
    faults: Counter[str]
    transfers: Counter[str]


def mta_alone(spec: Scenario) -> Bench:
    """The MTA of server A1, alone: nothing but fakes and a real event log around it."""
    env = simpy.Environment()
    books, post, events = RecordingBooks(env), RecordingPost(env), logs.EventLog()
    settings = MtaSettings(
        server="A1",
        site="A",
        clock_offset_s=0.0,
        max_message_size=None,
        routing_time=(ROUTING_S, None),
        open_time=(OPEN_S, None),
        rpc_bandwidth_bps=RPC_BPS,
        default_override=Override(),
        directory_costs=DirectorySearch(),
    )
    mta = MTA(
        around(env, spec, books, post, events),
        settings,
        connector_states=ConnectorStates(),
        routing_rng=Random(1),
        network_rng=Random(2),
    )
    return Bench(env, mta, books, post, events, mta.faults, mta.transfers)


# --- the MTA ------------------------------------------------------------------------------
def test_mta_routes_to_the_connectors_queue_and_hands_over_after_the_transfer_time() -> None:
    bench = mta_alone(organization())
    envelope = message("/o=Contoso/ou=B/cn=bob")
    bench.mta.receive(envelope)
    bench.env.run(until=ROUTING_S + 0.5)  # routed, the association still opening
    assert list(bench.mta.queues) == [("link", "AB")]
    assert bench.post.handed == []

    bench.env.run(until=100)
    # Routed after the routing time; the open costs its time plus a round trip on the link;
    # then 10 KB go at 64 kbit/s after the one-way latency.
    opened = ROUTING_S + OPEN_S + 2 * LINK_LATENCY_S
    transferred = opened + LINK_LATENCY_S + SIZE_KB * 8192 / LINK_BPS
    assert bench.post.handed == [(pytest.approx(transferred), "mta", "B1", envelope, "A1")]
    assert transferred == pytest.approx(4.43)
    assert envelope.arrived_on == "AB"
    assert envelope.hops == 1
    assert bench.transfers == Counter({"AB": 1})
    assert bench.books.ndrs == []


def test_mta_sends_mail_for_another_server_of_its_site_over_rpc() -> None:
    """A mailbox on A2, in A1's own site: the MTA queues it for A2 and sends it over the LAN."""
    bench = mta_alone(organization())
    envelope = message("ann")
    bench.mta.routing.router.mailbox = bench.mta.routing.org.mailboxes["ann"]  # type: ignore[attr-defined]
    bench.mta.receive(envelope)
    bench.env.run(until=100)
    opened = ROUTING_S + OPEN_S + 2 * RPC_LATENCY_S
    transferred = opened + RPC_LATENCY_S + SIZE_KB * 8192 / RPC_BPS
    assert bench.post.handed == [(pytest.approx(transferred), "mta", "A2", envelope, "A1")]
    assert list(bench.mta.queues) == [("rpc", "A2")]
    assert bench.transfers == Counter({"RPC": 1})


def test_mta_routes_an_address_it_knows_by_the_new_table_once_routing_is_recalculated() -> None:
    """The MTA keeps how it routed each address, but only while the routing table it asked stays:
    after a recalculation (a new table) the same address goes where the new table says."""
    bench = mta_alone(organization())
    first = message("ann")  # the fixed table: leave the site by AB
    bench.mta.receive(first)
    bench.env.run(until=ROUTING_S + 0.5)
    assert list(bench.mta.queues) == [("link", "AB")]
    bench.mta.routing.router = FixedRouter(mailbox=bench.mta.routing.org.mailboxes["ann"])  # type: ignore[misc]
    second = message("ann")  # the new table: ann's mailbox, on A2 in this site
    bench.mta.receive(second)
    bench.env.run(until=100)
    assert list(bench.mta.queues) == [("link", "AB"), ("rpc", "A2")]
    assert [(server, envelope) for _, _, server, envelope, _ in bench.post.handed] == [
        ("B1", first),
        ("A2", second),
    ]


def test_mta_retries_a_failed_open_every_open_interval_then_returns_a_congestion_ndr() -> None:
    bench = mta_alone(organization(outage=("0s", "1d")))  # AB down all day: every open fails
    envelope = message("/o=Contoso/ou=B/cn=bob")
    bench.mta.receive(envelope)
    bench.env.run(until=3600)
    # The first open starts when routing is done and fails once the open time has passed;
    # each next one starts an open interval after the one before. Max open retries 2: the
    # first open and two retries fail, then no route is left and the MTA returns the mail.
    first = ROUTING_S + OPEN_S + 2 * LINK_LATENCY_S
    failed_opens = [first + k * OPEN_INTERVAL_S for k in range(MAX_OPEN_RETRIES + 1)]
    assert failed_opens == pytest.approx([3.1, 63.1, 123.1])
    opens = [e for e in bench.events.entries if e.event_id == 289]
    assert [e.time_s for e in opens] == pytest.approx(failed_opens)
    assert bench.faults["open_failures"] == MAX_OPEN_RETRIES + 1
    assert envelope.attempts == {"AB": MAX_OPEN_RETRIES + 1}
    assert bench.books.ndrs == [
        (pytest.approx(failed_opens[-1]), "/o=Contoso/ou=B/cn=bob", CONGESTION, "MSExchangeMTA")
    ]
    assert (CONGESTION.reason, CONGESTION.diagnostic) == (0, 2)  # transfer failure, MTS congestion
    assert bench.post.handed == []
    assert envelope.recipients[0].outcome != PENDING


def test_mta_open_retry_mark_lasts_one_open_interval_after_the_last_failed_open() -> None:
    """KB Q193322 filter 5 avoids a connector whose open retry timer runs. The timer runs for an
    open interval after each failed open; once it has run out with no mail left to retry, the
    connector is no longer in open retry, even while its link stays down."""
    bench = mta_alone(organization(outage=("0s", "1d")))
    bench.mta.receive(message("/o=Contoso/ou=B/cn=bob"))
    retrying = bench.mta.connector_states.open_retry
    # As above: opens start at 2, 62 and 122 s and fail 1.1 s later; the third failure returns
    # the mail (max open retries 2), and its timer runs to 122 + 60 = 182 s.
    bench.env.run(until=4)
    assert retrying == {"AB"}
    bench.env.run(until=181.9)
    assert retrying == {"AB"}
    assert len(bench.books.ndrs) == 1
    bench.env.run(until=182.1)
    assert retrying == set()
    # Nothing waits, so nothing is retried: no open attempt, no event after the NDR.
    bench.env.run(until=3600)
    assert [e.time_s for e in bench.events.entries if e.event_id == 289] == pytest.approx([3.1, 63.1, 123.1])
    assert retrying == set()


@pytest.mark.parametrize("outage", [None, ("1d", "2d")], ids=["calm", "outage-after-the-test"])
def test_mta_keeps_an_open_association_and_its_target_server_until_idle_for_its_lifetime(outage) -> None:
    """KB Q234157: an association stays open for the association lifetime (300 s) after its last
    transfer. A site connector with no target servers draws one of B1, B2, B3 when it opens an
    association; mail sent while it stays open uses it: no open time, no new draw. An outage of
    AB long after the test puts the queue on its careful path (checks at every transfer), which
    must do the same as the fast one."""
    bench = mta_alone(organization(site_connector=True, outage=outage))
    sends = [60.0 * k for k in range(10)] + [1000.0]

    def client():  # type: ignore[no-untyped-def]
        for at in sends:
            yield bench.env.timeout(at - bench.env.now)
            bench.mta.receive(message("/o=Contoso/ou=B/cn=bob"))

    bench.env.process(client())
    bench.env.run(until=1100)
    handed = [(t, server) for t, _, server, _, _ in bench.post.handed]
    transfer = LINK_LATENCY_S + SIZE_KB * 8192 / LINK_BPS  # 1.33 s
    opened = OPEN_S + 2 * LINK_LATENCY_S  # 1.1 s
    # Routed 2 s after it is sent; the first opens the association, the next nine find it open
    # (each within 60 s of the last transfer); at 1000 s it has been idle past 543 + 300 s: a new
    # open, and a new draw of the target server.
    expected = [ROUTING_S + opened + transfer] + [at + ROUTING_S + transfer for at in sends[1:10]]
    expected.append(sends[10] + ROUTING_S + opened + transfer)
    assert [t for t, _ in handed] == pytest.approx(expected)
    assert len({server for _, server in handed[:10]}) == 1
    assert {server for _, server in handed} <= {"B1", "B2", "B3"}


# --- the store ----------------------------------------------------------------------------
SUBMIT_S = 1.0  # a client thread, per submission
DELIVERY_S = 3.0  # the delivery thread, per envelope
GATEWAY_IN_S = 0.5  # a gateway-in thread, per envelope


def store_alone(
    spec: Scenario, struck: Defect | None = None
) -> tuple[simpy.Environment, InformationStore, RecordingBooks, RecordingPost, logs.EventLog]:
    """The store of server A2 (mailbox ann), alone, with one thread of each kind."""
    env = simpy.Environment()
    books, post, events = RecordingBooks(env), RecordingPost(env), logs.EventLog()
    settings = StoreSettings(
        server="A2",
        client_threads=1,
        gateway_in_threads=1,
        gateway_out_threads=1,
        submit_time=(SUBMIT_S, None),
        delivery_time=(DELIVERY_S, None),
        gateway_in_time=(GATEWAY_IN_S, None),
        gateway_out_time=(1.0, None),
    )
    store = InformationStore(around(env, spec, books, post, events, Defects(struck)), settings)
    return env, store, books, post, events


def test_store_delivers_a_local_recipient_after_its_service_time_and_hands_a_remote_one_to_its_mta() -> None:
    env, store, books, post, _ = store_alone(organization())
    sent = message("ann", "bob").message  # ann's mailbox is on A2, bob's on B1
    store.submit(sent)
    env.run(until=60)
    # A client thread takes the submission after its service time; bob goes to the MTA at once,
    # ann waits for the delivery thread's service time after that.
    assert [
        (t, what, server, [r.address for r in e.recipients]) for t, what, server, e, _ in post.handed
    ] == [(pytest.approx(SUBMIT_S), "mta", "A2", ["bob"])]
    assert books.delivered == [(pytest.approx(SUBMIT_S + DELIVERY_S), "ann", "mailbox on A2")]
    assert books.ndrs == []


def test_store_gateway_in_thread_passes_mail_to_the_gateway_or_ndrs_it_where_a_store_defect_strikes() -> None:
    q166866 = defect_at("gateway_in:ims")
    assert q166866 is not None
    for struck in (None, q166866):
        env, store, books, post, events = store_alone(organization(), struck)
        envelope = message("someone@example.com")
        envelope.gateway = "IMS"
        store.gateway_in.put(envelope)
        env.run(until=60)
        if struck is None:
            assert post.handed == [(pytest.approx(GATEWAY_IN_S), "gateway", "IMS", envelope, None)]
            assert books.ndrs == []
            assert events.entries == []
        else:
            # The transfer-in fails in the store: events 1026 and 2007, "invalid arguments".
            assert post.handed == []
            assert books.ndrs == [
                (pytest.approx(GATEWAY_IN_S), "someone@example.com", INVALID_ARGUMENTS, "MSExchangeIS")
            ]
            assert [(e.time_s, e.event_id) for e in events.entries] == [
                (GATEWAY_IN_S, 1026),
                (GATEWAY_IN_S, 2007),
            ]


# --- a gateway ----------------------------------------------------------------------------
IMS_DELAY_S = 5.0  # the Internet's answer
IMS_RETRIES_S = (60.0, 120.0)  # then 120 s again and again
IMS_TIMEOUT_S = 600.0


def test_ims_retries_a_refused_message_at_its_intervals_then_gives_up_at_its_timeout() -> None:
    raw = two_sites()
    raw["connectors"].append(
        {
            "name": "IMS",
            "kind": "ims",
            "server": "A1",
            "link": {"bandwidth": f"{LINK_BPS:g}bps", "latency": f"{LINK_LATENCY_S * 1000:g}ms"},
            "internet": {"delay": f"{IMS_DELAY_S:g}s", "failure_probability": 1.0},
            "retry_intervals": [f"{s:g}s" for s in IMS_RETRIES_S],
            "message_timeout": f"{IMS_TIMEOUT_S:g}s",
        }
    )
    spec = scenario(raw)
    env = simpy.Environment()
    books, post, events = RecordingBooks(env), RecordingPost(env), logs.EventLog()
    connector = spec.connectors[-1]
    assert isinstance(connector, ImsConnectorSpec)
    ims = InternetMailService(
        around(env, spec, books, post, events),
        connector,
        gateway_settings(connector, poll_interval_s=900.0),
        network_rng=Random(3),
    )
    envelope = message("someone@example.com")
    envelope.message.traced = True
    ims.outbound(envelope)
    env.run(until=3600)
    # Each attempt costs the transfer and the Internet's answer; each refusal waits the next
    # interval (the last repeats) unless that would end after the timeout, counted from the
    # first attempt: then the IMS waits for the timeout and gives up.
    attempt = LINK_LATENCY_S + SIZE_KB * 8192 / LINK_BPS + IMS_DELAY_S
    refusals, t = [], 0.0
    for wait in itertools.chain(IMS_RETRIES_S, itertools.repeat(IMS_RETRIES_S[-1])):
        t += attempt
        refusals.append(t)
        if t + wait >= IMS_TIMEOUT_S:
            break
        t += wait
    assert refusals == pytest.approx([6.33, 72.66, 198.99, 325.32, 451.65, 577.98])
    assert [t for t, text in books.story if "refused it" in text] == pytest.approx(refusals)
    assert ims.faults["gateway_retries"] == len(refusals)
    assert envelope.attempts == {"IMS": len(refusals)}
    assert books.ndrs == [
        (pytest.approx(IMS_TIMEOUT_S), "someone@example.com", MAX_TIME_EXPIRED, "MSExchangeIMC")
    ]
    assert books.delivered == []
    assert ims.queued == 0
