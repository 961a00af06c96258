"""The community row of a legacy export, whose files lack the bank account and name.

They come from the manager's `communities.toml` beside the inbox (Settings.communities_file);
failing that, from what was last published for the community (e.g. from the contract's
communities table), with a warning saying so. The address defaults to the premises' in lok.txt.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from etl.legacy.records import Person
from etl.model import Problem
from etl.reader import cells
from etl.snapshot.store import Generation


def _load(path: Path | None, problems: list[Problem]) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, "communities", None, "", "", f"not valid TOML: {exc}"))
        return {}
    table = data.get("communities", {})
    return table if isinstance(table, dict) else {}


def _published(previous: Generation | None, community_id: str) -> dict[str, Any]:
    if previous is None:
        return {}
    ids = previous.premises_ids(community_id)
    doc = previous.document(ids[0]) if ids else None
    return dict(doc.get("community") or {}) if doc else {}


def community_settings(
    community_id: str,
    communities_file: Path | None,
    previous: Generation | None,
    people: list[Person],
    problems: list[Problem],
    warnings: list[str],
) -> dict[str, Any]:
    """community_id, name, street, postal_code, city, bank_account, nip, _file, _row."""
    where = communities_file.name if communities_file else "communities.toml"
    shown = str(communities_file) if communities_file else "communities.toml beside the inbox"
    entry = _load(communities_file, problems).get(community_id)
    entry = entry if isinstance(entry, dict) else {}
    published = _published(previous, community_id)
    section = f'[communities."{community_id}"]'

    def fail(column: str, value: str, reason: str) -> None:
        problems.append(Problem(where, "communities", None, column, value, reason))

    addresses = Counter(
        (" ".join(f"{p.street} {p.building}".split()), p.postal_code, p.city) for p in people
    )
    street, postal_code, city = addresses.most_common(1)[0][0] if addresses else ("", "", "")

    account = str(entry.get("bank_account", "") or "")
    nrb: str | None = None
    if account:
        try:
            nrb = cells.parse_nrb(account)
        except ValueError as exc:
            fail("bank_account", account, f"community {community_id}: {section} bank_account "
                 f"in {shown} is not a valid NRB: {exc}")  # fmt: skip
    elif published.get("bank_account"):
        nrb = published["bank_account"]
        warnings.append(
            f"community {community_id}: no bank_account in {shown}; using the published one"
        )
    else:
        fail("bank_account", "", f"community {community_id}: the legacy export does not carry "
             f"the bank account; add {section} with bank_account = \"…\" to {shown}")  # fmt: skip

    nip = str(entry.get("nip", published.get("nip", "")) or "")
    if nip:
        try:
            nip = cells.parse_nip(nip)
        except ValueError as exc:
            fail("nip", nip, f"community {community_id}: {section} nip in {shown}: {exc}")

    name = str(entry.get("name", "") or published.get("name", "") or "")
    if not name:
        name = f"Wspólnota Mieszkaniowa {street}".strip()
        warnings.append(
            f'community {community_id}: no name in {shown} ({section} name = "…"); '
            f"shown as {name!r}"
        )
    return {
        "community_id": community_id,
        "name": name,
        "street": str(entry.get("street", "") or street),
        "postal_code": str(entry.get("postal_code", "") or postal_code),
        "city": str(entry.get("city", "") or city),
        "bank_account": nrb or "",
        "nip": nip,
        "_file": where,
        "_row": None,
    }
