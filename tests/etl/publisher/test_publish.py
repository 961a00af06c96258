"""Publishing bundles: documents as docs/snapshots.md says, the merge rules of
docs/import-format.md, no-op re-imports and pruning. Bundles are built straight from
DataFrames (the normalised tables of etl/model.py, tests/etl/builders.py), so these tests need
no reader. History across imports is tested in test_history.py, the shrink guard in
test_shrink.py."""

from __future__ import annotations

import pytest

from etl.model import BundleRejected
from etl.publisher.publish import publish
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import COMMUNITY_ACCOUNT as ACCOUNT
from tests.etl.builders import allowance, bundle, community, entry, fee, full, premises


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
