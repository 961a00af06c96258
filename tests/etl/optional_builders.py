"""Builders for bundles with the optional tables (readings, announcements, documents and the
PDFs of the documents folder), written the way an accountant's export writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etl.demo.pdf import document_pdf
from etl.model import Bundle
from etl.publisher.publish import PublishResult, publish
from etl.reader.bundle import read_bundle
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import minimal_tables, write_csv_bundle


def readings() -> list[dict[str, Any]]:
    return [
        {"ID lokalu": "KW5/1", "Licznik": "zimna woda", "Nr licznika": "ZW-1",
         "Data odczytu": "31.01.2026", "Odczyt": "100,125", "Jednostka": "m3", "Zużycie": ""},
        {"ID lokalu": "KW5/1", "Licznik": "zimna woda", "Nr licznika": "ZW-1",
         "Data odczytu": "28.02.2026", "Odczyt": "103,5", "Jednostka": "m3", "Zużycie": ""},
        {"ID lokalu": "KW5/1", "Licznik": "Ciepła woda", "Nr licznika": "CW-7",
         "Data odczytu": "28.02.2026", "Odczyt": "1 204,1", "Jednostka": "", "Zużycie": "1,1"},
        {"ID lokalu": "KW5/1", "Licznik": "CIEPŁO", "Nr licznika": "CO-3",
         "Data odczytu": "28.02.2026", "Odczyt": "12,345", "Jednostka": "gj", "Zużycie": "0,75"},
    ]  # fmt: skip


def announcements() -> list[dict[str, Any]]:
    return [
        {"ID wspólnoty": "WM-KW5", "Ważne od": "01.11.2026", "Ważne do": "",
         "Tytuł": "Przegląd <b>gazowy</b>",
         "Treść": "Pierwszy akapit.\n\nDrugi: https://example.com/a?b=1&c=2"},
        {"ID wspólnoty": "WM-KW5", "Ważne od": "01.01.2026", "Ważne do": "31.01.2026",
         "Tytuł": "Stare", "Treść": ""},
    ]  # fmt: skip


def documents() -> list[dict[str, Any]]:
    return [
        {"ID wspólnoty": "WM-KW5", "Data": "25.03.2026", "Tytuł": "Uchwała nr 1/2026",
         "Rodzaj": "uchwała", "Plik": "2026/uchwala-1.pdf"},
        {"ID wspólnoty": "WM-KW5", "Data": "10.03.2026", "Tytuł": "Sprawozdanie finansowe",
         "Rodzaj": "Sprawozdanie finansowe", "Plik": "sprawozdanie.pdf"},
    ]  # fmt: skip


def pdf(title: str = "Uchwała") -> bytes:
    return document_pdf(title, ["Treść dokumentu."])


def full_tables() -> dict[str, list[dict[str, Any]]]:
    """minimal_tables() and the three optional tables, under Polish file names."""
    tables = minimal_tables()
    tables["odczyty"] = readings()
    tables["ogloszenia"] = announcements()
    tables["dokumenty"] = documents()
    return tables


def write_bundle(
    directory: Path,
    tables: dict[str, list[dict[str, Any]]] | None = None,
    files: dict[str, bytes] | None = None,
) -> Path:
    """The tables as CSV files (named by their keys) and `files` under `dokumenty/` (by
    default the PDFs documents() lists)."""
    tables = full_tables() if tables is None else tables
    write_csv_bundle(directory, tables)
    if files is None:
        files = {"2026/uchwala-1.pdf": pdf("Uchwała"), "sprawozdanie.pdf": pdf("Sprawozdanie")}
    for name, data in files.items():
        path = directory / "dokumenty" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return directory


def read(store: SnapshotStore, path: Path) -> Bundle:
    return read_bundle(path, previous=store.current())


def import_bundle(store: SnapshotStore, path: Path) -> PublishResult:
    return publish(read(store, path), store)
