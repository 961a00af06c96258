"""Publishing bundles: documents as docs/snapshots.md says, the merge rules of
docs/import-format.md, no-op re-imports and pruning. Bundles are built straight from
DataFrames (the normalised tables of etl/model.py), so these tests need no reader."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import pytest

from etl.model import Bundle, BundleRejected, SourceFile
from etl.publisher.history import HistoryMismatch, is_opening
from etl.publisher.publish import publish
from etl.publisher.shrink import ShrinkRefused
from etl.snapshot.store import SnapshotStore

ACCOUNT = "61109010140000071219812874"


def community(cid: str = "WM-KW5", **fields: Any) -> dict[str, Any]:
    return {
        "community_id": cid,
        "name": f"Wspólnota Mieszkaniowa {cid}",
        "street": "ul. Kwiatowa 5",
        "postal_code": "30-001",
        "city": "Kraków",
        "bank_account": ACCOUNT,
        "nip": "",
        "as_of": "2026-11-20",
        "fee_notes": None,
        **fields,
    }


def premises(pid: str, cid: str = "WM-KW5", **fields: Any) -> dict[str, Any]:
    return {
        "premises_id": pid,
        "community_id": cid,
        "number": pid.rsplit("/", 1)[-1],
        "street": "ul. Kwiatowa 5",
        "postal_code": "30-001",
        "city": "Kraków",
        "kind": "mieszkalny",
        "area_m2": "54.30",
        "share": "0.0523",
        "occupants": 3,
        "payer_name": "Jan Kowalski",
        "payer_address": "ul. Kwiatowa 5/12, 30-001 Kraków",
        "bank_account": "",
        "email": "",
        **fields,
    }


def entry(pid: str, date: str, description: str, **fields: Any) -> dict[str, Any]:
    return {
        "premises_id": pid,
        "date": date,
        "description": description,
        "document": "",
        "period": "",
        "charge": 0,
        "payment": 0,
        "details": None,
        **fields,
    }


def fee(pid: str, component: str, amount: int) -> dict[str, Any]:
    return {
        "premises_id": pid,
        "component": component,
        "basis": "m2",
        "quantity": "54.30",
        "rate": "3.15",
        "amount": amount,
        "valid_from": "2026-01-01",
    }


def allowance(pid: str, amount: int) -> dict[str, Any]:
    return {
        "premises_id": pid,
        "decision": "DM/123/2026",
        "issuer": "Prezydent Miasta Krakowa",
        "valid_from": "2026-01-01",
        "valid_to": "2026-06-30",
        "monthly_amount": amount,
    }


def bundle(**tables: list[dict[str, Any]]) -> Bundle:
    """A Bundle of these tables, each from `<table>.csv`, rows numbered from 2 (header = 1)."""
    frames, sources = {}, []
    for name, rows in tables.items():
        frame = pd.DataFrame(rows)
        frame["_file"] = f"{name}.csv"
        frame["_row"] = range(2, 2 + len(rows))
        frames[name] = frame
        text = repr(rows).encode()
        sources.append(SourceFile(f"{name}.csv", hashlib.sha256(text).hexdigest(), len(text)))
    return Bundle(tables=frames, sources=sources)


def full(cid: str = "WM-KW5", pids: tuple[str, ...] = ("KW5/1", "KW5/2"), payer: str = "Jan"):
    return bundle(
        communities=[community(cid)],
        premises=[premises(p, cid, payer_name=payer) for p in pids],
        ledger=[
            row
            for p in pids
            for row in (
                entry(p, "2026-01-01", "Bilans otwarcia", charge=10000),
                entry(p, "2026-01-15", "Wpłata", payment=45000, document="WB/1"),
            )
        ],
        fees=[fee(p, "Fundusz remontowy", 17105) for p in pids],
        allowances=[],
    )


def test_document_holds_the_rows_sorted_by_date_then_source_order(store: SnapshotStore) -> None:
    result = publish(
        bundle(
            communities=[community()],
            premises=[premises("KW5/12"), premises("KW5/13", payer_name="Zofia Żak")],
            ledger=[
                entry("KW5/12", "2026-02-10", "Naliczenie 02/2026", charge=45000),
                entry("KW5/13", "2026-01-01", "Bilans otwarcia", payment=500),
                entry("KW5/12", "2026-01-10", "Naliczenie 01/2026", charge=45000),
                entry("KW5/12", "2026-01-10", "Wyrównanie zaliczek", charge=-1200),
                entry("KW5/12", "2026-01-01", "Bilans otwarcia", payment=12000),
            ],
            fees=[fee("KW5/12", "Fundusz remontowy", 17105), fee("KW5/12", "Woda", 12000)],
            allowances=[allowance("KW5/12", 25000)],
        ),
        store,
    )
    doc = store.current().document("KW5/12")
    assert [(r[0], r[2], r[4], r[5], r[6], r[7]) for r in doc["ledger"]["rows"]] == [
        ("2026-01-01", "Bilans otwarcia", 0, 12000, "ledger.csv", 6),
        ("2026-01-10", "Naliczenie 01/2026", 45000, 0, "ledger.csv", 4),
        ("2026-01-10", "Wyrównanie zaliczek", -1200, 0, "ledger.csv", 5),
        ("2026-02-10", "Naliczenie 02/2026", 45000, 0, "ledger.csv", 2),
    ]
    assert doc["ledger"]["columns"][:6] == [
        "date", "document", "description", "period", "charge", "payment"
    ]  # fmt: skip
    assert doc["totals"] == {
        "charges": 88800,
        "payments": 12000,
        "balance": -76800,
        "monthly_fees": 29105,
    }
    assert [(f["component"], f["amount"], f["row"]) for f in doc["fees"]] == [
        ("Fundusz remontowy", 17105, 2),
        ("Woda", 12000, 3),
    ]
    assert doc["allowances"][0]["monthly_amount"] == 25000
    assert doc["allowances"][0]["file"] == "allowances.csv"
    assert doc["community"]["bank_account"] == ACCOUNT
    assert doc["premises"]["occupants"] == 3
    other = store.current().document("KW5/13")
    assert other["premises"]["payer_name"] == "Zofia Żak"
    assert other["totals"]["balance"] == 500 and other["fees"] == []
    manifest = store.current().manifest
    assert manifest["counts"] == {"premises": 2, "ledger": 5, "fees": 2, "allowances": 1}
    assert manifest["communities"]["WM-KW5"]["as_of"] == "2026-11-20"
    assert {s["name"] for s in manifest["sources"]} == {
        "communities.csv", "premises.csv", "ledger.csv", "fees.csv", "allowances.csv"
    }  # fmt: skip
    assert manifest["previous"] is None and result.generation == manifest["generation"]


def test_other_communities_keep_their_documents(store: SnapshotStore) -> None:
    publish(full("WM-A", ("A/1", "A/2")), store)
    publish(full("WM-B", ("B/1",)), store)
    gen = store.current()
    assert gen.community_ids() == ["WM-A", "WM-B"]
    body_a = gen.document_json("A/1")
    publish(full("WM-B", ("B/1",), payer="Anna Nowak"), store)
    gen = store.current()
    assert gen.document("B/1")["premises"]["payer_name"] == "Anna Nowak"
    assert gen.document_json("A/1") == body_a
    assert gen.manifest["counts"]["premises"] == 3
    assert set(gen.manifest["communities"]) == {"WM-A", "WM-B"}
    assert gen.manifest["communities"]["WM-A"]["premises"] == 2


def test_replaced_community_loses_premises_missing_from_the_export(store: SnapshotStore) -> None:
    publish(full("WM-A", ("A/1", "A/2")), store)
    result = publish(full("WM-A", ("A/1",)), store, allow_shrink=True)
    assert store.current().premises_ids() == ["A/1"]
    assert any("A/2" in w for w in result.warnings)


def test_lone_ledger_refreshes_only_the_ledger_of_the_premises_it_lists(
    store: SnapshotStore,
) -> None:
    publish(full("WM-A", ("A/1", "A/2")), store)
    before = store.current()
    untouched = before.document_json("A/2")
    result = publish(
        bundle(
            ledger=[
                entry("A/1", "2026-01-01", "Naliczenie", charge=20000),
                entry("A/1", "2026-02-01", "Wpłata", payment=30000, document="WB/9"),
            ]
        ),
        store,
    )
    gen = store.current()
    assert result.generation == gen.id and gen.manifest["previous"] == before.id
    doc = gen.document("A/1")
    assert [r[2] for r in doc["ledger"]["rows"]] == ["Naliczenie", "Wpłata"]
    assert doc["totals"]["balance"] == 10000 and doc["totals"]["monthly_fees"] == 17105
    assert doc["fees"] == before.document("A/1")["fees"]
    assert doc["premises"] == before.document("A/1")["premises"]
    assert gen.document_json("A/2") == untouched
    assert gen.manifest["counts"] == {"premises": 2, "ledger": 4, "fees": 2, "allowances": 0}
    assert gen.manifest["communities"]["WM-A"]["as_of"] == "2026-11-20"


def test_communities_table_alone_refreshes_details_and_keeps_ledgers(store: SnapshotStore) -> None:
    publish(full("WM-A", ("A/1",)), store)
    ledger = store.current().document("A/1")["ledger"]
    publish(bundle(communities=[community("WM-A", name="Nowa nazwa", as_of="2026-12-01")]), store)
    doc = store.current().document("A/1")
    assert doc["community"]["name"] == "Nowa nazwa"
    assert doc["ledger"] == ledger
    assert store.current().manifest["communities"]["WM-A"]["as_of"] == "2026-12-01"


def test_ledger_for_unknown_premises_is_rejected_and_nothing_changes(store: SnapshotStore) -> None:
    first = publish(full("WM-A", ("A/1",)), store)
    lone = bundle(
        ledger=[
            entry("A/1", "2026-02-01", "Wpłata", payment=100),
            entry("A/404", "2026-02-01", "Wpłata", payment=100),
        ]
    )
    with pytest.raises(BundleRejected) as caught:
        publish(lone, store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "ledger.csv", 3, "premises_id", "A/404"
    )  # fmt: skip
    assert store.current().id == first.generation
    assert store.generation_ids() == [first.generation]
    assert not list(store.root.glob(".tmp-*"))


def test_importing_the_same_bundle_twice_changes_nothing(store: SnapshotStore) -> None:
    first = publish(full(), store)
    again = publish(full(), store)
    assert again.generation is None and not again.changed
    assert store.generation_ids() == [first.generation]
    assert store.current().id == first.generation
    assert not list(store.root.glob(".tmp-*"))


def test_only_the_newest_generations_are_kept(store: SnapshotStore) -> None:
    ids = [publish(full(payer=f"Payer {i}"), store, keep=2).generation for i in range(4)]
    assert store.generation_ids() == ids[-2:]
    assert store.current().document("KW5/1")["premises"]["payer_name"] == "Payer 3"


def test_legacy_details_and_odd_ids_survive(store: SnapshotStore) -> None:
    details = [
        {"description": "Woda", "quantity": "3", "unit": "m3", "rate": "12.5", "amount": 3750}
    ]
    publish(
        bundle(
            communities=[community()],
            premises=[premises("../../x"), premises("KW5 / 7 ' \" ;")],
            ledger=[entry("../../x", "2026-01-10", "Naliczenie", charge=3750, details=details)],
        ),
        store,
    )
    gen = store.current()
    assert gen.document("../../x")["ledger"]["rows"][0][8] == details
    assert gen.document("KW5 / 7 ' \" ;")["premises_id"] == "KW5 / 7 ' \" ;"
    assert {p.name for p in store.root.iterdir()} == {"CURRENT", gen.id}


def test_each_premises_gets_its_own_rows_whatever_the_export_order(store: SnapshotStore) -> None:
    pids = ["P/2", "P/10", "P/1", "P/3"]  # neither sorted nor in the order documents are built
    ledger = [
        entry(pid, f"2026-0{month}-01", f"{pid} month {month}", charge=100 * n + month)
        for n, pid in enumerate(pids)
        for month in (3, 1, 2)
    ]
    publish(
        bundle(
            communities=[community()],
            premises=[premises(p) for p in pids],
            ledger=ledger,
            fees=[fee(p, "Fundusz", 1000 + n) for n, p in enumerate(reversed(pids))],
        ),
        store,
    )
    gen = store.current()
    for n, pid in enumerate(pids):
        doc = gen.document(pid)
        assert [r[2] for r in doc["ledger"]["rows"]] == [f"{pid} month {m}" for m in (1, 2, 3)]
        assert doc["totals"]["charges"] == 3 * 100 * n + 6
        assert doc["totals"]["monthly_fees"] == 1000 + (len(pids) - 1 - n)


def test_premises_table_alone_replaces_the_list_and_keeps_the_rest(store: SnapshotStore) -> None:
    publish(full("WM-A", ("A/1", "A/2")), store)
    before = store.current()
    result = publish(
        bundle(premises=[premises("A/1", "WM-A", payer_name="Nowy"), premises("A/3", "WM-A")]),
        store,
        allow_shrink=True,
    )
    gen = store.current()
    assert gen.premises_ids() == ["A/1", "A/3"]
    assert any("A/2" in w for w in result.warnings)
    one = gen.document("A/1")
    assert one["premises"]["payer_name"] == "Nowy"
    assert one["ledger"] == before.document("A/1")["ledger"]
    assert one["fees"] == before.document("A/1")["fees"]
    new = gen.document("A/3")
    assert new["community"] == before.document("A/1")["community"]
    assert new["ledger"]["rows"] == [] and new["totals"]["balance"] == 0


# -- history across imports (etl/publisher/history.py) ------------------------------------------


def export(rows: list[dict[str, Any]], pids: tuple[str, ...] = ("KW5/12",)) -> Bundle:
    """A whole export of community WM-KW5 with these ledger rows."""
    return bundle(
        communities=[community()],
        premises=[premises(p) for p in pids],
        ledger=rows,
        fees=[fee(p, "Fundusz remontowy", 17105) for p in pids],
        allowances=[],
    )


YEAR_2025 = [  # an opening debt of 50,00, two charges and two payments: 100,00 overpaid
    entry("KW5/12", "2025-01-01", "Bilans otwarcia", charge=5000),
    entry("KW5/12", "2025-01-10", "Naliczenie 01/2025", charge=45000),
    entry("KW5/12", "2025-01-20", "Wpłata", payment=40000),
    entry("KW5/12", "2025-12-10", "Naliczenie 12/2025", charge=45000),
    entry("KW5/12", "2025-12-20", "Wpłata", payment=65000),
]


def year_2026(opening: int = 10000, description: str = "Bilans otwarcia") -> list[dict]:
    return [
        entry("KW5/12", "2026-01-01", description, payment=max(opening, 0),
              charge=max(-opening, 0)),
        entry("KW5/12", "2026-01-10", "Naliczenie 01/2026", charge=46000),
        entry("KW5/12", "2026-01-15", "Wpłata", payment=46000),
    ]  # fmt: skip


def described(doc: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(r[0], r[2], r[4], r[5]) for r in doc["ledger"]["rows"]]


def test_an_export_of_the_current_year_keeps_the_earlier_years(store: SnapshotStore) -> None:
    publish(export(YEAR_2025), store)
    result = publish(export(year_2026(10000)), store)
    assert result.changed
    doc = store.current().document("KW5/12")
    # 2025 as published (its opening row included: nothing was published before it), then
    # 2026 without its opening row: the kept rows already come to its 100,00.
    assert described(doc) == [
        ("2025-01-01", "Bilans otwarcia", 5000, 0),
        ("2025-01-10", "Naliczenie 01/2025", 45000, 0),
        ("2025-01-20", "Wpłata", 0, 40000),
        ("2025-12-10", "Naliczenie 12/2025", 45000, 0),
        ("2025-12-20", "Wpłata", 0, 65000),
        ("2026-01-10", "Naliczenie 01/2026", 46000, 0),
        ("2026-01-15", "Wpłata", 0, 46000),
    ]
    assert doc["totals"] == {
        "charges": 141000,
        "payments": 151000,
        "balance": 10000,
        "monthly_fees": 17105,
    }
    # Kept rows still point at the export they came from.
    assert [r[7] for r in doc["ledger"]["rows"]] == [2, 3, 4, 5, 6, 3, 4]
    assert store.current().manifest["communities"]["WM-KW5"]["ledger"] == 7
    # The same export again changes nothing.
    assert not publish(export(year_2026(10000)), store).changed


def test_an_overlapping_export_replaces_the_published_rows_from_its_first_date_on(
    store: SnapshotStore,
) -> None:
    publish(export(YEAR_2025), store)
    publish(export(year_2026(10000)), store)
    november = [
        *year_2026(10000),
        entry("KW5/12", "2026-02-10", "Naliczenie 02/2026", charge=46000),
        entry("KW5/12", "2026-02-11", "Korekta wpłaty", payment=-1000),
    ]
    publish(export(november), store)
    doc = store.current().document("KW5/12")
    assert [d for d, *_ in described(doc)] == [
        "2025-01-01", "2025-01-10", "2025-01-20", "2025-12-10", "2025-12-20",
        "2026-01-10", "2026-01-15", "2026-02-10", "2026-02-11",
    ]  # fmt: skip
    assert doc["totals"]["balance"] == 10000 - 46000 - 1000
    # An export from an earlier date on replaces more: from 2025-12-01, with an opening
    # balance equal to the published one on 2025-11-30 (-100,00).
    december = [
        entry("KW5/12", "2025-12-01", "BO 12/2025", charge=10000),
        entry("KW5/12", "2025-12-10", "Naliczenie 12/2025", charge=45000),
        entry("KW5/12", "2025-12-20", "Wpłata", payment=65000),
        entry("KW5/12", "2026-01-10", "Naliczenie 01/2026", charge=46000),
        entry("KW5/12", "2026-01-15", "Wpłata", payment=46000),
        entry("KW5/12", "2026-02-10", "Naliczenie 02/2026", charge=46000),
        entry("KW5/12", "2026-02-15", "Wpłata", payment=46000),
    ]
    publish(export(december), store)
    doc = store.current().document("KW5/12")
    assert [r[1] for r in described(doc)] == [
        "Bilans otwarcia", "Naliczenie 01/2025", "Wpłata", "Naliczenie 12/2025", "Wpłata",
        "Naliczenie 01/2026", "Wpłata", "Naliczenie 02/2026", "Wpłata",
    ]  # fmt: skip
    assert doc["totals"]["balance"] == 10000


def test_an_opening_balance_that_differs_from_the_published_one_is_refused(
    store: SnapshotStore,
) -> None:
    first = publish(export(YEAR_2025), store)
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(year_2026(12000)), store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "ledger.csv", "ledger", 2, "payment", "120,00"
    )  # fmt: skip
    assert problem.reason == (
        "opening balance 120,00 differs from the published balance 100,00 on 2025-12-31 "
        "for premises KW5/12"
    )
    assert "--replace-history" in caught.value.report()
    assert store.current().id == first.generation
    assert store.current().document("KW5/12")["totals"]["balance"] == 10000
    # A debt as the opening balance: the charge cell, and the balance with its sign.
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(year_2026(-10000)), store)
    (problem,) = caught.value.problems
    assert (problem.column, problem.value) == ("charge", "100,00")
    assert problem.reason.startswith("opening balance -100,00 differs from the published")


@pytest.mark.parametrize(
    "description",
    ["Bilans otwarcia", "BILANS OTWARCIA 2026", "Saldo początkowe", "saldo poczatkowe",
     "Saldo początkowe na dzień 01.01.2026 r.", "BO", "B.O. 2026", "Saldo otwarcia"],
)  # fmt: skip
def test_opening_rows_are_recognised_by_their_description(description: str) -> None:
    assert is_opening(description)


@pytest.mark.parametrize(
    "description", ["", "Bonifikata", "Bilans zamknięcia", "Wpłata BO", "Saldo", "Obroty"]
)
def test_other_rows_are_not_opening_rows(description: str) -> None:
    assert not is_opening(description)


def test_an_export_without_an_opening_row_continues_a_settled_history(
    store: SnapshotStore,
) -> None:
    settled = [*YEAR_2025, entry("KW5/12", "2025-12-31", "Zwrot nadpłaty", payment=-10000)]
    publish(export(settled), store)
    publish(export(year_2026()[1:]), store)
    doc = store.current().document("KW5/12")
    assert len(doc["ledger"]["rows"]) == 8 and doc["totals"]["balance"] == 0


def test_an_export_without_an_opening_row_after_an_unsettled_history_is_refused(
    store: SnapshotStore,
) -> None:
    publish(export(YEAR_2025), store)
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(year_2026()[1:]), store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "ledger.csv", 2, "description", "Naliczenie 01/2026"
    )  # fmt: skip
    assert problem.reason == (
        "opening balance 0,00 (no opening balance row such as `Bilans otwarcia` on 2026-01-10, "
        "the export's first date) differs from the published balance 100,00 on 2026-01-09 "
        "for premises KW5/12"
    )


def test_a_premises_without_rows_in_the_export_keeps_its_history_only_when_settled(
    store: SnapshotStore,
) -> None:
    settled = [entry("KW5/13", "2025-03-01", "Naliczenie", charge=100),
               entry("KW5/13", "2025-03-02", "Wpłata", payment=100)]  # fmt: skip
    publish(export([*YEAR_2025, *settled], ("KW5/12", "KW5/13")), store)
    publish(export(year_2026(), ("KW5/12", "KW5/13")), store)
    gen = store.current()
    assert len(gen.document("KW5/13")["ledger"]["rows"]) == 2
    assert gen.document("KW5/13")["totals"]["balance"] == 0
    # KW5/12 owes nothing either way, but a premises with a balance cannot lose it silently.
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(settled, ("KW5/12", "KW5/13")), store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "ledger.csv", "ledger", None, "premises_id", "KW5/12"
    )  # fmt: skip
    assert problem.reason == (
        "no ledger rows for premises KW5/12 in this export, so its balance would be 0,00, "
        "but the published balance on 2026-01-15 is 100,00 (is the export cut short?)"
    )


def test_a_legacy_opening_may_differ_by_a_grosz_and_the_card_balance_is_shown(
    store: SnapshotStore,
) -> None:
    publish(export(YEAR_2025), store)
    contract = export(year_2026(10001))
    with pytest.raises(HistoryMismatch):
        publish(contract, store)
    legacy = export(year_2026(10001))
    legacy.kind = "legacy"
    publish(legacy, store)
    doc = store.current().document("KW5/12")
    assert described(doc)[5:] == [
        ("2026-01-01", "Zaokrąglenie do salda karty", 0, 1),
        ("2026-01-10", "Naliczenie 01/2026", 46000, 0),
        ("2026-01-15", "Wpłata", 0, 46000),
    ]
    assert doc["totals"]["balance"] == 10001  # the card's: its opening 100,01 + 0
    off_by_two = export(year_2026(10003))
    off_by_two.kind = "legacy"
    with pytest.raises(HistoryMismatch):
        publish(off_by_two, store)


def test_replace_history_drops_the_earlier_years(store: SnapshotStore) -> None:
    publish(export(YEAR_2025[:2]), store)
    publish(export(year_2026(12000)), store, replace_history=True)
    doc = store.current().document("KW5/12")
    assert [r[1] for r in described(doc)] == ["Bilans otwarcia", "Naliczenie 01/2026", "Wpłata"]
    assert doc["totals"]["balance"] == 12000


def test_a_lone_ledger_for_a_later_period_keeps_history_too(store: SnapshotStore) -> None:
    publish(export(YEAR_2025), store)
    publish(bundle(ledger=year_2026(10000)), store)
    doc = store.current().document("KW5/12")
    assert len(doc["ledger"]["rows"]) == 7 and doc["totals"]["balance"] == 10000


# -- the shrink guard (etl/publisher/shrink.py) ----------------------------------------------------


def test_an_export_that_loses_a_premises_is_refused_with_the_figures(
    store: SnapshotStore,
) -> None:
    first = publish(full("WM-A", ("A/1", "A/2", "A/3")), store)
    with pytest.raises(ShrinkRefused) as caught:
        publish(full("WM-A", ("A/1", "A/2")), store)
    problems = {p.table: p for p in caught.value.problems}
    assert set(problems) == {"premises", "ledger", "fees"}
    premises_problem = problems["premises"]
    assert (premises_problem.file, premises_problem.column, premises_problem.value) == (
        "premises.csv", "premises", "3 -> 2"
    )  # fmt: skip
    assert premises_problem.reason == (
        "community WM-A: this export would remove 1 of the 3 published premises (A/3) "
        "(33.3%; none may be removed): published 3, this export 2"
    )
    assert problems["ledger"].reason == (
        "community WM-A: this export would remove 2 of the 6 published ledger rows "
        "(33.3%; at most 20%): published 6, this export 4"
    )
    assert "--allow-shrink" in caught.value.report()
    assert store.current().id == first.generation
    assert publish(full("WM-A", ("A/1", "A/2")), store, allow_shrink=True).changed
    assert store.current().premises_ids() == ["A/1", "A/2"]


def test_fee_lines_may_shrink_by_a_fifth_at_most(store: SnapshotStore) -> None:
    pids = tuple(f"A/{n}" for n in range(1, 6))
    publish(full("WM-A", pids), store)
    fewer = full("WM-A", pids)
    fewer.tables["fees"] = fewer.tables["fees"].iloc[:4]  # 5 -> 4: 20%, allowed
    assert publish(fewer, store).changed
    fewer.tables["fees"] = fewer.tables["fees"].iloc[:3]  # 4 -> 3: 25%
    with pytest.raises(ShrinkRefused) as caught:
        publish(fewer, store)
    (problem,) = caught.value.problems
    assert (problem.table, problem.value) == ("fees", "4 -> 3")
    assert "remove 1 of the 4 published fee lines (25%; at most 20%)" in problem.reason


def test_kept_history_is_not_a_shrink(store: SnapshotStore) -> None:
    many = [*YEAR_2025] + [
        entry("KW5/12", f"2025-06-{day:02d}", "Naliczenie", charge=0, payment=1) for day in (1, 2)
    ]
    many.append(entry("KW5/12", "2025-12-31", "Korekta", charge=2))
    publish(export(many), store)  # 8 rows, 100,00 overpaid
    publish(export(year_2026(10000)), store)  # 3 rows of which 1 opening: 10 rows in all
    assert store.current().manifest["communities"]["WM-KW5"]["ledger"] == 10


def test_an_export_cut_short_in_the_ledger_is_refused(store: SnapshotStore) -> None:
    publish(export(YEAR_2025), store)
    publish(export(year_2026(10000)), store)
    cut = [*year_2026(10000)[:1]]  # the 2026 rows are gone but the opening is there
    cut_all = export(cut)
    before = store.current().id
    # 7 published rows -> 5 kept + 0: 28.6% of the rows would go.
    with pytest.raises(ShrinkRefused) as caught:
        publish(cut_all, store)
    (problem,) = caught.value.problems
    assert (problem.table, problem.value) == ("ledger", "7 -> 5")
    assert store.current().id == before
    # A header-only ledger with --replace-history would wipe everything: refused as well.
    empty = export([])
    with pytest.raises(ShrinkRefused) as caught:
        publish(empty, store, replace_history=True)
    (problem,) = caught.value.problems
    assert (problem.table, problem.value) == ("ledger", "7 -> 0")
    publish(empty, store, replace_history=True, allow_shrink=True)
    assert store.current().document("KW5/12")["totals"]["balance"] == 0
