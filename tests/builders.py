"""Builders for published data, so portal tests need no import run: they write a generation
straight through the store, in the format of docs/snapshots.md; `page` and `zl` read the
published data back as a resident reads it on the page."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from etl.snapshot.document import LEDGER_COLUMNS
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.snapshot.writer import body_digest


def ledger_row(
    date: str,
    description: str,
    *,
    charge: int = 0,
    payment: int = 0,
    document: str = "",
    period: str = "",
    row: int = 2,
    details: list[dict[str, Any]] | None = None,
) -> list[Any]:
    """One ledger row; money in grosze."""
    return [date, document, description, period, charge, payment, "ledger.csv", row, details]


def make_document(
    premises_id: str = "KW5/12",
    *,
    community_id: str = "WM-KW5",
    community_name: str = "Wspólnota Mieszkaniowa Kwiatowa 5",
    as_of: str = "2026-11-20",
    number: str = "12",
    payer_name: str = "Jan Kowalski",
    bank_account: str = "",
    community_account: str = "61109010140000071219812874",
    ledger: list[list[Any]] | None = None,
    fees: list[dict[str, Any]] | None = None,
    allowances: list[dict[str, Any]] | None = None,
    **premises_fields: Any,
) -> dict[str, Any]:
    if ledger is None:
        ledger = [
            ledger_row("2026-01-01", "Bilans otwarcia", charge=10000, row=2),
            ledger_row("2026-01-10", "Naliczenie 01/2026", charge=45000, period="2026-01", row=3),
            ledger_row("2026-01-15", "Wpłata", payment=40000, document="WB/1", row=4),
        ]
    if fees is None:
        fees = [
            {
                "component": "Zaliczka na koszty zarządu",
                "basis": "m2",
                "quantity": "54.30",
                "rate": "2.10",
                "amount": 11403,
                "valid_from": "2026-01-01",
                "file": "fees.csv",
                "row": 2,
            },
            {
                "component": "Fundusz remontowy",
                "basis": "m2",
                "quantity": "54.30",
                "rate": "3.15",
                "amount": 17105,
                "valid_from": "2026-01-01",
                "file": "fees.csv",
                "row": 3,
            },
        ]
    allowances = allowances or []
    ledger = sorted(ledger, key=lambda r: (r[0], r[7]))
    charges = sum(r[4] for r in ledger)
    payments = sum(r[5] for r in ledger)
    premises = {
        "number": number,
        "street": "ul. Kwiatowa 5",
        "postal_code": "30-001",
        "city": "Kraków",
        "kind": "mieszkalny",
        "area_m2": "54.30",
        "share": "0.0523",
        "occupants": 3,
        "payer_name": payer_name,
        "payer_address": "ul. Kwiatowa 5/12, 30-001 Kraków",
        "bank_account": bank_account,
        "email": "",
    }
    premises.update(premises_fields)
    return {
        "schema": 1,
        "premises_id": premises_id,
        "community": {
            "community_id": community_id,
            "name": community_name,
            "street": "ul. Kwiatowa 5",
            "postal_code": "30-001",
            "city": "Kraków",
            "bank_account": community_account,
            "nip": "",
            "as_of": as_of,
            "fee_notes": None,
        },
        "premises": premises,
        "ledger": {"columns": list(LEDGER_COLUMNS), "rows": ledger},
        "fees": fees,
        "allowances": allowances,
        "totals": {
            "charges": charges,
            "payments": payments,
            "balance": payments - charges,
            "monthly_fees": sum(f["amount"] for f in fees),
        },
    }


def publish_documents(store: SnapshotStore, docs: list[dict[str, Any]]) -> Generation:
    """Publish `docs` as a new current generation."""
    writer = store.start()
    bodies = [(d, json.dumps(d, ensure_ascii=False)) for d in docs]
    writer.add_digested(
        [
            (d["premises_id"], d["community"]["community_id"], body_digest(body), body)
            for d, body in bodies
        ]
    )
    communities = {}
    for d in docs:
        c = communities.setdefault(d["community"]["community_id"], {"premises": 0})
        c["as_of"] = d["community"]["as_of"]
        c["premises"] += 1
    return writer.commit(
        {
            "imported_at": "2026-11-25T02:00:00+00:00",
            "sources": [],
            "communities": communities,
            "counts": {"premises": len(docs)},
            "content_digest": writer.content_digest(),
        }
    )


def page(resident, premises_id: str, sub: str = "") -> str:
    """A page's text as the resident reads it: tags out, entities and spaces plain."""
    from portal.premises.page import premises_url

    response = resident.get(premises_url(premises_id, sub))
    assert response.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", "", response.text))
    return " ".join(text.replace("\xa0", " ").split())


def zl(grosze: int) -> str:
    """An amount as the page shows it: `1 234,56 zł`."""
    from portal.web.format import money

    return html.unescape(money(grosze)).replace("\xa0", " ")
