"""The directory's resolution of an X.400 address to a mailbox, as the 5.0 MTA did it.

Pure data and functions, no clock: routing asks this module when an address
is not any mailbox's exact proxy.

* **Exact first.** An address that is some mailbox's proxy resolves to it
  (:meth:`exsim.org.Organization.find_mailbox`); nothing here is asked. The
  store delivers only such exact matches itself; any other address goes to the
  MTA, whose registry value governs the search (so mail between two users of
  one server can be misdirected by that server's MTA too).
* **"Allow fuzzy proxy search"**, a DWORD under the MTA's Parameters key, set
  per server (KB Q176046, Q159184):

  - absent or 1: *full fuzzy search*. The attributes the address leaves out
    are ignored: ``c=US;a=PTT;s=USER1`` (a user of a foreign X.400 system,
    whose GDI has no PRMD) matches the local ``c=US;a=PTT;p=COMPANY;s=USER1``
    and the mail is delivered to the wrong person, silently.
  - 0: *restricted*: besides the exact match, only a unique match on surname
    and given name (the address must carry both).
  - 2: *exact only*.

* **The 5.0 defect (Q176046, on RTM and SP1; SP2 honours the value).** The
  article says the fuzzy algorithm is still used "in certain cases" with fuzzy
  search switched off, and shows one case: an address without a PRMD meeting a
  local proxy with one. The model takes that case, and only that one, as the
  defect's reach (a documented choice; the sources name no other): on a build
  that carries it, an address with no ``p=`` is fuzzily matched against the
  proxies that *have* a PRMD whatever the value. Every other fuzzy match
  follows the value. Which builds carry it is one row of
  :data:`exsim.versions.DEFECTS`.
* **Choices where the sources are silent.** Several mailboxes matching is no
  match: the directory cannot tell which one was meant, so the address routes
  on as a foreign one (through the GWART), as does an address nothing matches.
  Only X.400 addresses are searched fuzzily (the articles' examples are all
  X.400 proxies); builds before the fix read the value 2 as exact-only outside
  the defect's case.
* **Cost (Q159184).** A fuzzy search reads the whole address list, so it costs
  the MTA directory time in proportion to the number of entries
  (``model.directory.fuzzy_search_per_1000_entries``); a restricted search
  costs less (``restricted_search_per_1000_entries``); an exact lookup is an
  index hit and costs nothing extra. With 20,000 mailboxes and full fuzzy
  search, mail for addresses that miss the exact match backs the MTA up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exsim.address import AddressError, parse_x400
from exsim.org import Mailbox
from exsim.versions import defect_at

#: "Allow fuzzy proxy search" values.
RESTRICTED, FULL, EXACT_ONLY = 0, 1, 2
#: The MTA's assumption when the value is absent.
DEFAULT_SETTING = FULL
SETTING_NAMES = {RESTRICTED: "0 (restricted)", FULL: "1 (full fuzzy)", EXACT_ONLY: "2 (exact only)"}


@dataclass(frozen=True, slots=True)
class Policy:
    """How one MTA searches: its registry value and whether its build carries Q176046."""

    setting: int = DEFAULT_SETTING
    defect: bool = False

    @classmethod
    def of(cls, setting: int | None, version: str) -> Policy:
        """The policy of a server with this registry value (None: absent) and build."""
        defect = defect_at("directory_fuzzy")
        return cls(
            DEFAULT_SETTING if setting is None else setting,
            defect is not None and version in defect.versions,
        )

    def describe(self) -> str:
        return f"'Allow fuzzy proxy search' = {SETTING_NAMES.get(self.setting, str(self.setting))}"


#: What routing assumes when no server's policy is given: exact lookups only.
EXACT = Policy(EXACT_ONLY, False)


@dataclass(frozen=True, slots=True)
class DirectoryMatch:
    """The outcome of the searches that followed a missed exact match.

    ``mailbox`` is None when nothing (or more than one mailbox) matched; ``searches``
    lists the searches run ('fuzzy', 'restricted'), which is what they cost;
    ``why`` says in words how the directory got its answer.
    """

    mailbox: Mailbox | None
    searches: tuple[str, ...]
    why: str

    @property
    def defect(self) -> str | None:
        """The KB article of the fuzzy search when it found the mailbox (Q176046), else None.

        Whether the build searched fuzzily against its setting or the setting asked for it, the
        cure is the row's: SP2 with the value 2 (exact matches only)."""
        if self.mailbox is None or not self.searches or self.searches[-1] != "fuzzy":
            return None
        row = defect_at("directory_fuzzy")
        return row.kb if row is not None else None


NO_SEARCH = DirectoryMatch(None, (), "")


def _lower(attributes: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v.strip().lower() for k, v in attributes}


class Directory:
    """Every mailbox's X.400 proxy, parsed once, for the fuzzy and restricted searches."""

    def __init__(self, mailboxes: Iterable[Mailbox]):
        self.entries: list[tuple[Mailbox, dict[str, str]]] = [
            (box, _lower(parse_x400(box.proxies.x400).attributes)) for box in mailboxes
        ]
        self._by_name: dict[tuple[str, str], list[Mailbox]] = {}
        for box, proxy in self.entries:
            if "s" in proxy and "g" in proxy:
                self._by_name.setdefault((proxy["s"], proxy["g"]), []).append(box)

    def __len__(self) -> int:
        return len(self.entries)

    def fuzzy(self, address: dict[str, str], *, with_prmd_only: bool = False) -> list[Mailbox]:
        """Mailboxes whose proxy has every attribute of the address with the same value;
        the attributes the address leaves out are ignored."""
        found = []
        for box, proxy in self.entries:
            if with_prmd_only and not proxy.get("p"):
                continue
            if all(proxy.get(key) == value for key, value in address.items()):
                found.append(box)
        return found

    def by_name(self, address: dict[str, str]) -> list[Mailbox]:
        """Mailboxes with the address's surname and given name (both needed)."""
        if "s" not in address or "g" not in address:
            return []
        return list(self._by_name.get((address["s"], address["g"]), ()))

    def resolve(self, address: str, policy: Policy) -> DirectoryMatch:
        """Search for an X.400 address that matched no proxy exactly, as ``policy`` allows."""
        try:
            wanted = _lower(parse_x400(address).attributes)
        except AddressError:
            return NO_SEARCH
        searches: list[str] = []
        missed = "no exact match"
        if policy.setting == FULL:
            return self._decide(self.fuzzy(wanted), ("fuzzy",), f"full fuzzy search ({policy.describe()})")
        if policy.defect and not wanted.get("p"):
            searches.append("fuzzy")
            match = self._decide(
                self.fuzzy(wanted, with_prmd_only=True),
                ("fuzzy",),
                f"fuzzy search although {policy.describe()}: this build searches fuzzily when the "
                "address has no PRMD (KB Q176046)",
            )
            if match.mailbox is not None:
                return match
            missed = match.why
        if policy.setting == RESTRICTED:
            searches.append("restricted")
            return self._decide(
                self.by_name(wanted),
                tuple(searches),
                f"restricted search on surname and given name ({policy.describe()})",
            )
        return DirectoryMatch(None, tuple(searches), missed if searches else "")

    @staticmethod
    def _decide(found: list[Mailbox], searches: tuple[str, ...], how: str) -> DirectoryMatch:
        if len(found) == 1:
            box = found[0]
            return DirectoryMatch(box, searches, f"{how} matched {box.proxies.x400} (mailbox {box.alias})")
        if found:
            names = ", ".join(sorted(b.alias for b in found)[:5])
            return DirectoryMatch(None, searches, f"{how}: ambiguous, {len(found)} mailboxes match ({names})")
        return DirectoryMatch(None, searches, f"{how}: nothing matches")


def search_cost_s(
    searches: tuple[str, ...], entries: int, fuzzy_per_1000_s: float, restricted_per_1000_s: float
) -> float:
    """Directory time the searches cost the MTA on an address list of ``entries`` (Q159184)."""
    per_1000 = {"fuzzy": fuzzy_per_1000_s, "restricted": restricted_per_1000_s}
    return sum(per_1000[s] for s in searches) * entries / 1000.0
