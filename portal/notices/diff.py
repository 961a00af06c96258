"""What changed for one account between the previous generation and the new one.

Only opted-in accounts are looked at (few), and for each only its own premises and their
communities, read through the snapshot contract: a premises' balance, the charge rows its
ledger gained, and the documents and announcements its community gained. A premises or a
community that is not the account's is never read, so a notice can name nothing else.

Ledger rows are compared without their `file` and `row` (a later export of the same rows
points at other lines of other files), as a multiset: two equal charges on one day are two.
An announcement that is no longer valid on the day of the import is not news.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from etl.snapshot.document import Announcement, CommunityDocument, Document, ledger_rows
from etl.snapshot.store import Generation

MAX_LISTED = 10  # charges, documents or announcements named one by one in a message


@dataclass(frozen=True)
class NewCharge:
    date: str
    description: str
    period: str


@dataclass
class PremisesChanges:
    premises_id: str
    community_id: str
    label: str  # "ul. Kwiatowa 5/12" as the resident knows it
    community_name: str = ""
    as_of: str = ""
    balance_changed: bool = False
    new_charges: list[NewCharge] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.balance_changed or bool(self.new_charges)


@dataclass
class CommunityChanges:
    community_id: str
    name: str
    announcements: list[Announcement] = field(default_factory=list)
    documents: list[CommunityDocument] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.announcements or self.documents)


@dataclass
class AccountChanges:
    premises: list[PremisesChanges] = field(default_factory=list)
    communities: list[CommunityChanges] = field(default_factory=list)
    as_of: str = ""

    def __bool__(self) -> bool:
        return bool(self.premises or self.communities)

    @property
    def kinds(self) -> list[str]:
        """Which kinds of news there are, in a fixed order: balance, charges, documents,
        announcements."""
        found = []
        if any(p.balance_changed for p in self.premises):
            found.append("balance")
        if any(p.new_charges for p in self.premises):
            found.append("charges")
        if any(c.documents for c in self.communities):
            found.append("documents")
        if any(c.announcements for c in self.communities):
            found.append("announcements")
        return found


# -- pure comparisons -------------------------------------------------------------------------
def _charge_key(row: Any) -> tuple:
    return (row.date, row.document, row.description, row.period, row.charge)


def premises_label(document: Document) -> str:
    premises = document["premises"]
    street, number = premises.get("street", ""), premises.get("number", "")
    if street and number:
        return f"{street}/{number}"
    return street or number or document["premises_id"]


def _unchanged(document: Document) -> PremisesChanges:
    community = document["community"]
    return PremisesChanges(
        document["premises_id"],
        community["community_id"],
        premises_label(document),
        community["name"],
        community.get("as_of") or "",
    )


def compare_premises(old: Document | None, new: Document) -> PremisesChanges:
    """A premises' news: its balance moved, and the charge rows (any non-zero charge,
    corrections included) the new ledger has that the old one had not."""
    changes = _unchanged(new)
    old_balance = old["totals"]["balance"] if old is not None else 0
    changes.balance_changed = new["totals"]["balance"] != old_balance
    before = Counter(_charge_key(r) for r in ledger_rows(old) if r.charge) if old else Counter()
    for row in ledger_rows(new):
        if not row.charge:
            continue
        key = _charge_key(row)
        if before[key]:
            before[key] -= 1
        else:
            changes.new_charges.append(NewCharge(row.date, row.description, row.period))
    return changes


def _announcement_key(item: Announcement) -> tuple:
    return (item["title"], item["text"], item["valid_from"], item["valid_to"])


def new_announcements(
    old: Iterable[Announcement], new: Iterable[Announcement], today: date
) -> list[Announcement]:
    """Announcements not published before that are still (or will be) valid today."""
    seen = {_announcement_key(a) for a in old}
    return [
        a
        for a in new
        if _announcement_key(a) not in seen
        and (not a["valid_to"] or a["valid_to"] >= today.isoformat())
    ]


def new_documents(
    old: Iterable[CommunityDocument], new: Iterable[CommunityDocument]
) -> list[CommunityDocument]:
    """Documents (by content) a community did not publish before."""
    seen = {d["document_id"] for d in old}
    return [d for d in new if d["document_id"] not in seen]


# -- reading two generations ------------------------------------------------------------------
class GenerationDiff:
    """Compares `previous` (None: nothing was published) with `current` for one account after
    another, reading each community's tables once."""

    def __init__(self, previous: Generation | None, current: Generation, today: date) -> None:
        self.previous = previous
        self.current = current
        self.today = today
        self._communities: dict[str, CommunityChanges] = {}

    def premises(self, premises_id: str) -> PremisesChanges | None:
        """The premises' news (empty when its document is unchanged; None when it is not
        published now)."""
        body = self.current.document_json(premises_id)
        if body is None:
            return None
        new = json.loads(body)
        old_body = self.previous.document_json(premises_id) if self.previous else None
        if old_body == body:
            return _unchanged(new)
        return compare_premises(None if old_body is None else json.loads(old_body), new)

    def community(self, community_id: str, name: str) -> CommunityChanges:
        found = self._communities.get(community_id)
        if found is None:
            ids = [community_id]
            old_a = self.previous.announcements(ids) if self.previous else []
            old_d = self.previous.community_documents(ids) if self.previous else []
            found = CommunityChanges(
                community_id,
                name,
                new_announcements(old_a, self.current.announcements(ids), self.today),
                new_documents(old_d, self.current.community_documents(ids)),
            )
            self._communities[community_id] = found
        return found

    def account(self, premises_ids: Iterable[str]) -> AccountChanges:
        """Everything new for the holder of `premises_ids`, about those premises and their
        communities only."""
        changes = AccountChanges()
        communities: dict[str, str] = {}
        for premises_id in premises_ids:
            found = self.premises(premises_id)
            if found is None:
                continue
            if found:
                changes.premises.append(found)
            communities.setdefault(found.community_id, found.community_name)
            changes.as_of = max(changes.as_of, found.as_of)
        for community_id, name in communities.items():
            community = self.community(community_id, name)
            if community:
                changes.communities.append(community)
        return changes
