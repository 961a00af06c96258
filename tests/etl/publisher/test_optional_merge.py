"""Readings, announcements and documents across imports: a bundle without a table keeps what
was published; a bundle with it replaces it for what it touches (docs/import-format.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from etl.snapshot.document import reading_rows
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import minimal_tables, write_csv_bundle
from tests.etl.optional_builders import (
    announcements,
    documents,
    full_tables,
    import_bundle,
    pdf,
    readings,
    write_bundle,
)

OTHER = {
    "communities": [
        {
            "community_id": "WM-LI7",
            "name": "Wspólnota Mieszkaniowa Lipowa 7",
            "street": "ul. Lipowa 7",
            "postal_code": "30-002",
            "city": "Kraków",
            "bank_account": "61109010140000071219812874",
            "as_of": "20.11.2026",
        }
    ],
    "premises": [
        {
            "premises_id": "LI7/1",
            "community_id": "WM-LI7",
            "number": "1",
            "street": "ul. Lipowa 7",
            "payer_name": "Anna Nowak",
        },
    ],  # fmt: skip
    "ledger": [
        {
            "premises_id": "LI7/1",
            "date": "01.01.2026",
            "description": "Naliczenie",
            "charge": "10,00",
        },
    ],  # fmt: skip
}


def published(store: SnapshotStore, community: str = "WM-KW5") -> tuple[list, list, list]:
    generation = store.current()
    assert generation is not None
    return (
        [a["title"] for a in generation.announcements([community])],
        [d["title"] for d in generation.community_documents([community])],
        [(r.meter, r.date, r.reading) for r in reading_rows(generation.document("KW5/1"))],
    )


def test_everything_is_published_once_per_community_and_content(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    result = import_bundle(store, write_bundle(tmp_path / "b"))
    assert result.communities["WM-KW5"] == {
        "as_of": "2026-11-20", "premises": 2, "ledger": 4, "fees": 2, "allowances": 1,
        "readings": 4, "announcements": 2, "documents": 2,
    }  # fmt: skip
    assert result.counts == {"premises": 2, "ledger": 4, "fees": 2, "allowances": 1}
    titles, docs, rows = published(store)
    assert titles == ["Przegląd <b>gazowy</b>", "Stare"]
    assert docs == ["Uchwała nr 1/2026", "Sprawozdanie finansowe"]
    assert rows[1] == ("cold_water", "2026-02-28", "103.5")
    generation = store.current()
    garage = generation.document("KW5/G-3")
    assert "readings" not in garage  # a premises without readings: its document as before
    for document in generation.community_documents(["WM-KW5"]):
        path = generation.document_file(document["document_id"])
        assert path is not None and path.parent.name == "files"
        assert path.name == f"{document['document_id']}.pdf"
        assert path.read_bytes().startswith(b"%PDF-")
    # Per community, not per premises: no document carries them.
    body = json.dumps(generation.document("KW5/1"), ensure_ascii=False)
    assert "Przegląd" not in body and "Uchwała" not in body
    # Nobody else's: another community's documents are not found by id.
    some_id = generation.community_documents(["WM-KW5"])[0]["document_id"]
    assert generation.community_document(some_id, ["WM-LI7"]) is None
    assert generation.community_document(some_id, ["WM-KW5"])["title"] == "Uchwała nr 1/2026"
    assert generation.document_file("../../premises.sqlite3") is None


def test_a_bundle_without_the_tables_keeps_what_was_published(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    import_bundle(store, write_bundle(tmp_path / "b"))
    first = store.current()
    before = published(store)
    tables = minimal_tables()
    tables["ledger"].append({**tables["ledger"][-1], "date": "28.02.2026", "charge": "1,00"})
    result = import_bundle(store, write_csv_bundle(tmp_path / "c", tables))
    assert result.changed
    assert published(store) == before
    second = store.current()
    [one, _] = second.community_documents(["WM-KW5"])
    kept, old = second.document_file(one["document_id"]), first.document_file(one["document_id"])
    assert kept != old and os.stat(kept).st_ino == os.stat(old).st_ino  # a hard link
    store.prune(1)
    assert not first.path.exists() and kept.read_bytes().startswith(b"%PDF-")
    assert store.current().manifest["communities"]["WM-KW5"]["readings"] == 4


def test_a_table_given_replaces_it_for_the_communities_the_bundle_touches(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    tables = full_tables()
    for table, rows in OTHER.items():
        tables[table] += rows
    tables["ogloszenia"].append({**announcements()[0], "ID wspólnoty": "WM-LI7"})
    import_bundle(store, write_bundle(tmp_path / "b", tables))
    assert published(store, "WM-LI7")[0] == ["Przegląd <b>gazowy</b>"]

    # KW5's full export with an announcements table that has nothing for it: none left;
    # LI7, not in this bundle, keeps its own.
    tables = minimal_tables()
    tables["ogloszenia"] = [{**announcements()[0], "ID wspólnoty": "WM-KW5", "Tytuł": "Nowe"}]
    tables["ogloszenia"][0]["ID wspólnoty"] = "WM-KW5"
    import_bundle(store, write_csv_bundle(tmp_path / "c", tables))
    assert published(store)[0] == ["Nowe"]
    assert published(store, "WM-LI7")[0] == ["Przegląd <b>gazowy</b>"]
    assert len(published(store)[1]) == 2  # no documents table: documents kept

    # An announcements file alone replaces those of the communities it names only.
    alone = write_csv_bundle(
        tmp_path / "d", {"ogloszenia": [{**announcements()[1], "ID wspólnoty": "WM-LI7"}]}
    )
    import_bundle(store, alone)
    assert published(store, "WM-LI7")[0] == ["Stare"]
    assert published(store)[0] == ["Nowe"]


def test_documents_given_again_replace_the_communitys_list(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    import_bundle(store, write_bundle(tmp_path / "b"))
    tables = minimal_tables()
    tables["dokumenty"] = [documents()[1]]
    result = import_bundle(
        store, write_bundle(tmp_path / "c", tables, {"sprawozdanie.pdf": pdf("Sprawozdanie")})
    )
    assert result.changed
    generation = store.current()
    assert [d["title"] for d in generation.community_documents(["WM-KW5"])] == [
        "Sprawozdanie finansowe"
    ]
    assert len(list((generation.path / "files").iterdir())) == 1


def test_the_same_bundle_twice_changes_nothing_and_a_changed_text_does(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    assert import_bundle(store, write_bundle(tmp_path / "b")).changed
    assert not import_bundle(store, write_bundle(tmp_path / "b")).changed
    tables = full_tables()
    tables["ogloszenia"][1]["Treść"] = "Poprawione."
    assert import_bundle(store, write_bundle(tmp_path / "c", tables)).changed


def test_readings_follow_the_premises_rules(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    import_bundle(store, write_bundle(tmp_path / "b"))
    # A readings file alone refreshes the readings of the premises it lists.
    alone = [r | {"Odczyt": "200"} for r in readings()[2:3]]
    import_bundle(store, write_csv_bundle(tmp_path / "c", {"odczyty": alone}))
    assert published(store)[2] == [("hot_water", "2026-02-28", "200")]
    # A complete export without readings keeps them (found without reading documents whole).
    tables = minimal_tables()
    tables["ledger"].append({**tables["ledger"][-1], "date": "28.02.2026", "charge": "1,00"})
    import_bundle(store, write_csv_bundle(tmp_path / "d", tables))
    assert published(store)[2] == [("hot_water", "2026-02-28", "200")]
    # A full export whose readings table has none for KW5/1: it has none.
    tables = minimal_tables()
    tables["odczyty"] = [readings()[0] | {"ID lokalu": "KW5/G-3"}]
    import_bundle(store, write_csv_bundle(tmp_path / "e", tables))
    generation = store.current()
    assert "readings" not in generation.document("KW5/1")
    assert [r.serial for r in reading_rows(generation.document("KW5/G-3"))] == ["ZW-1"]
