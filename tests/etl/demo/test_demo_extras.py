"""`ebok demo-data` includes the optional tables: readings, announcements and documents, and
they import and read back as written (figures checked against the files, in Decimal)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdf

from ebok.cli import main
from etl.demo.generate import generate
from etl.snapshot.document import reading_rows
from etl.snapshot.store import SnapshotStore

SMALL = {"communities": 3, "premises": 40, "months": 15, "seed": 7}


def rows_of(path: Path, encoding: str) -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def test_the_demo_has_readings_announcements_and_documents(tmp_path: Path) -> None:
    summary = generate(tmp_path / "b", **SMALL)
    out = tmp_path / "b"
    readings = rows_of(out / "odczyty.csv", "cp1250")
    assert {r["Licznik"] for r in readings} == {"zimna woda", "ciepła woda", "ciepło", "gaz"}
    by_meter = defaultdict(list)
    for r in readings:
        by_meter[(r["ID lokalu"], r["Nr licznika"])].append(r)
    for rows in by_meter.values():
        assert len(rows) == 12  # monthly, the last twelve months
        for before, after in zip(rows, rows[1:], strict=False):
            used = decimal(after["Odczyt"]) - decimal(before["Odczyt"])
            assert used == decimal(after["Zużycie"]) >= 0

    notices = rows_of(out / "ogloszenia.csv", "utf-8-sig")
    assert len(notices) == 3 * SMALL["communities"]
    as_of = summary.as_of
    starts = [date(*map(int, reversed(n["Ważne od"].split(".")))) for n in notices]
    assert any(s <= as_of for s in starts) and any(s > as_of for s in starts)
    assert any(not n["Ważne do"] for n in notices), "one until further notice"
    assert any("\n\n" in n["Treść"] and "https://" in n["Treść"] for n in notices)

    listed = rows_of(out / "dokumenty.csv", "utf-8-sig")
    assert {d["Rodzaj"] for d in listed} == {
        "uchwała", "protokół", "sprawozdanie finansowe", "regulamin"
    }  # fmt: skip
    for d in listed:
        pdf = out / "dokumenty" / d["Plik"]
        text = pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text()
        assert text.startswith(d["Tytuł"]), (d["Tytuł"], text[:80])


def test_the_demo_imports_with_all_three(tmp_path: Path) -> None:
    for fmt in ("csv", "zip"):
        summary = generate(tmp_path / fmt, fmt=fmt, **SMALL)
        bundle = tmp_path / fmt if fmt == "csv" else summary.paths[0]
        data = tmp_path / f"data-{fmt}"
        assert main(["--data-dir", str(data), "import", str(bundle)]) == 0
        generation = SnapshotStore(data / "snapshots").current()
        communities = summary.community_ids
        assert len(generation.announcements(communities)) == 3 * len(communities)
        documents = generation.community_documents(communities)
        assert len(documents) == 5 * len(communities)
        assert all(generation.document_file(d["document_id"]) for d in documents)
        flats = [d for d in generation.documents() if d["premises"]["kind"] == "mieszkalny"]
        assert flats and all(len(reading_rows(d)) >= 24 for d in flats)
        assert all(not reading_rows(d) for d in generation.documents()
                   if d["premises"]["kind"] in ("garaż", "komórka"))  # fmt: skip


def test_same_arguments_same_pdfs(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", **SMALL)
    second = generate(tmp_path / "b", **SMALL)
    pdfs = [p for p in first.paths if p.suffix == ".pdf"]
    assert len(pdfs) == 15
    assert [p.read_bytes() for p in pdfs] == [
        p.read_bytes() for p in second.paths if p.suffix == ".pdf"
    ]
