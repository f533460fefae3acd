"""The directory's resolution of X.400 addresses: exact, full fuzzy, restricted, and Q176046.

The small directory (hand-checked proxies):

    HQ  (c=US;a=PTT;p=COMPANY)   user1  c=US;a=PTT;p=COMPANY;s=USER1
                                 jsmith c=US;a=PTT;p=COMPANY;s=Smith;g=John
                                 asmith c=US;a=PTT;p=COMPANY;s=Smith;g=Anne
                                 klee1  c=US;a=PTT;p=COMPANY;s=Lee;g=Kim
    BR  (c=US;a=PTT;o=BRANCH)    bjones c=US;a=PTT;o=BRANCH;s=Jones;g=Bob
                                 klee2  c=US;a=PTT;o=BRANCH;s=Lee;g=Kim
"""

import pytest

from exsim.directory import EXACT_ONLY, FULL, RESTRICTED, Directory, Policy, search_cost_s
from exsim.org import Organization
from exsim.versions import DEFECTS
from tests.simkit import scenario


def _org() -> Organization:
    def box(alias, surname, given=None):
        return {"alias": alias, "surname": surname, **({"given": given} if given else {})}

    return Organization(
        scenario(
            {
                "organization": {"name": "Org"},
                "sites": [
                    {"name": "HQ", "addresses": {"x400": "c=US;a=PTT;p=COMPANY"}},
                    {"name": "BR", "addresses": {"x400": "c=US;a=PTT;o=BRANCH"}},
                ],
                "servers": [
                    {
                        "name": "HQ1",
                        "site": "HQ",
                        "mailboxes": [
                            box("user1", "USER1"),
                            box("jsmith", "Smith", "John"),
                            box("asmith", "Smith", "Anne"),
                            box("klee1", "Lee", "Kim"),
                        ],
                    },
                    {
                        "name": "BR1",
                        "site": "BR",
                        "mailboxes": [box("bjones", "Jones", "Bob"), box("klee2", "Lee", "Kim")],
                    },
                ],
                "connectors": [{"name": "HQ-BR", "kind": "site", "sites": ["HQ", "BR"]}],
            }
        )
    )


ORG = _org()
DIRECTORY = Directory(ORG.mailboxes.values())
SP2, SP1, RTM = "5.0-sp2", "5.0-sp1", "5.0"


def found(address: str, setting: int | None, version: str = SP2) -> str | None:
    match = DIRECTORY.resolve(address, Policy.of(setting, version))
    return match.mailbox.alias if match.mailbox else None


def test_an_exact_proxy_is_the_organizations_answer_before_any_search():
    assert ORG.find_mailbox("X400", "c=US;a=PTT;p=COMPANY;s=USER1").alias == "user1"
    assert ORG.find_mailbox("X400", "c=US;a=PTT;s=USER1") is None  # the foreign user of Q176046


@pytest.mark.parametrize(
    ("address", "full", "restricted", "exact"),
    [
        # The article's case: no PRMD; full fuzzy ignores the missing p= and finds USER1.
        ("c=US;a=PTT;s=USER1", "user1", None, None),
        # Two Smiths: full fuzzy is ambiguous, so nothing; restricted needs a given name.
        ("c=US;a=PTT;s=Smith", None, None, None),
        # A unique surname + given name: restricted finds Anne even in another country.
        ("c=GB;a=BT;s=Smith;g=Anne", None, "asmith", None),
        ("c=US;a=PTT;s=Smith;g=Anne", "asmith", "asmith", None),
        # Kim Lee twice (HQ and BR): ambiguous for both searches.
        ("c=US;a=PTT;s=Lee;g=Kim", None, None, None),
        # Bob Jones: a proxy without PRMD is found by full fuzzy (o= left out).
        ("c=US;a=PTT;s=Jones;g=Bob", "bjones", "bjones", None),
        # Nobody of that name: no match, the address routes on as foreign.
        ("c=US;a=PTT;s=Nobody", None, None, None),
    ],
)
def test_full_restricted_and_exact_only_on_a_build_that_honours_the_value(address, full, restricted, exact):
    assert found(address, None) == full  # the value absent: the MTA assumes 1
    assert found(address, FULL) == full
    assert found(address, RESTRICTED) == restricted
    assert found(address, EXACT_ONLY) == exact


@pytest.mark.parametrize(("version", "defect"), [(RTM, True), (SP1, True), (SP2, False)])
def test_q176046_defect_per_build(version, defect):
    assert Policy.of(2, version).defect is defect
    row = next(d for d in DEFECTS if d.kb == "Q176046")
    assert (version in row.versions) is defect
    # A missing PRMD against a proxy with one: fuzzy whatever the value on RTM and SP1.
    for setting in (RESTRICTED, EXACT_ONLY):
        assert found("c=US;a=PTT;s=USER1", setting, version) == ("user1" if defect else None)
    match = DIRECTORY.resolve("c=US;a=PTT;s=USER1", Policy.of(EXACT_ONLY, version))
    assert ("Q176046" in match.why) is defect


def test_the_defect_reaches_only_the_missing_prmd_case():
    # Bob Jones's proxy has no PRMD: the defect's fuzzy search skips it, the value is honoured.
    assert found("c=US;a=PTT;s=Jones;g=Bob", EXACT_ONLY, SP1) is None
    assert found("c=US;a=PTT;s=Jones;g=Bob", RESTRICTED, SP1) == "bjones"  # by surname + given name
    # An address with a PRMD is never searched fuzzily against the value.
    assert found("c=US;a=PTT;p=OTHER;s=USER1", EXACT_ONLY, RTM) is None


def test_searches_cost_directory_time_in_proportion_to_the_address_list():
    # 20,000 mailboxes at 25 ms per 1,000 for a full fuzzy search: 0.5 s; restricted at 2.5 ms: 0.05 s.
    assert search_cost_s(("fuzzy",), 20_000, 0.025, 0.0025) == pytest.approx(0.5)
    assert search_cost_s(("restricted",), 20_000, 0.025, 0.0025) == pytest.approx(0.05)
    assert search_cost_s((), 20_000, 0.025, 0.0025) == 0.0
    assert DIRECTORY.resolve("c=US;a=PTT;s=USER1", Policy.of(EXACT_ONLY, SP2)).searches == ()
    assert DIRECTORY.resolve("c=US;a=PTT;s=USER1", Policy.of(RESTRICTED, SP2)).searches == ("restricted",)
    assert DIRECTORY.resolve("c=US;a=PTT;s=USER1", Policy.of(RESTRICTED, SP1)).searches == ("fuzzy",)
