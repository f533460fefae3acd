"""The organization graph and directory."""

from exsim.org import Organization
from exsim.scenario import load_scenario
from tests.conftest import SCENARIOS


def contoso() -> Organization:
    return Organization(load_scenario(SCENARIOS / "contoso.toml"))


def test_one_edge_per_connector_direction():
    org = contoso()
    # 5 site-linking connectors, two directions each; gateways are not edges.
    assert org.graph.number_of_edges() == 10
    assert set(org.graph.nodes) == {"Redmond", "Dublin", "Paris", "Tokyo", "Sydney"}
    edge = org.graph.get_edge_data("Tokyo", "Sydney")["Dynamic RAS Tokyo-Sydney"]
    assert (edge["cost"], edge["kind"]) == (5, "ras")
    assert org.graph.has_edge("Sydney", "Tokyo")


def test_where_things_are():
    org = contoso()
    assert org.site_of("TOK-EX1") == "Tokyo"
    assert org.servers_of("Redmond") == ["RED-EX1", "RED-EX2"]
    assert set(org.connectors_on("RED-EX1")) == {
        "Site Connector (Dublin)",
        "X.400 Redmond-Sydney",
        "Internet Mail Service (RED-EX1)",
    }
    assert org.hosts_in("X.400 Redmond-Tokyo", "Redmond") == ["RED-EX2"]
    assert org.gateways_in("Dublin") == ["Internet Mail Service (DUB-EX1)"]


def test_directory_resolves_every_proxy():
    org = contoso()
    box = org.mailboxes["KSato"]
    assert box.proxies.x400 == "c=JP;a= ;o=Tokyo;s=Sato;g=Ken"
    assert org.find_mailbox("SMTP", "ksato@TOKYO.contoso.com") is box
    assert org.find_mailbox("ALIAS", "ksato") is box
    assert org.find_mailbox("EX", "/o=Contoso/ou=Tokyo/cn=Recipients/cn=KSato") is box
    # named mailboxes plus one per anonymous user
    assert len(org.mailboxes) == 6 + (40 + 40 + 30 + 20 + 20 + 10)
