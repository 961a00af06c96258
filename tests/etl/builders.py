"""Builders for import bundles in the contract format (docs/import-format.md).

Tables are given as {table name: [row dicts]}; the keys of the first row are the header, so a
test chooses its own header spelling (`{"Nr lokalu": ...}`) simply by writing it.

The publisher's tests skip the reader: `bundle` makes a `Bundle` straight from rows of the
normalised tables (etl/model.py), and `community`, `premises`, `entry`, `fee`, `allowance`,
`full` and `export` make those rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from etl.model import Bundle, SourceFile

COMMUNITY_ACCOUNT = "61109010140000071219812874"  # a valid NRB (mod-97 checks out)
PREMISES_ACCOUNT = "PL 10 1050 0099 7603 1234 5678 9123"  # valid, with PL and spaces
NIP = "123-456-32-18"


def minimal_tables() -> dict[str, list[dict[str, Any]]]:
    """A valid small data set: 1 community, 2 premises, ledger, fees and an allowance."""
    return {
        "communities": [
            {
                "community_id": "WM-KW5",
                "name": "Wspólnota Mieszkaniowa Kwiatowa 5",
                "street": "ul. Kwiatowa 5",
                "postal_code": "30-001",
                "city": "Kraków",
                "bank_account": COMMUNITY_ACCOUNT,
                "nip": NIP,
                "as_of": "20.11.2026",
            }
        ],
        "premises": [
            {
                "premises_id": "KW5/1",
                "community_id": "WM-KW5",
                "number": "1",
                "street": "ul. Kwiatowa 5",
                "kind": "mieszkalny",
                "area_m2": "54,30",
                "share": "523/10000",
                "occupants": "3",
                "payer_name": "Jan Kowalski",
                "bank_account": PREMISES_ACCOUNT,
            },
            {
                "premises_id": "KW5/G-3",
                "community_id": "WM-KW5",
                "number": "G-3",
                "street": "ul. Kwiatowa 5",
                "kind": "garaż",
                "area_m2": "15",
                "share": "0,0100",
                "occupants": "",
                "payer_name": "Zofia Ślązak",
                "bank_account": "",
            },
        ],
        "ledger": [
            {
                "premises_id": "KW5/1",
                "date": "01.01.2026",
                "description": "Bilans otwarcia",
                "document": "",
                "period": "",
                "charge": "100,00",
                "payment": "",
            },
            {
                "premises_id": "KW5/1",
                "date": "2026-01-10",
                "description": "Naliczenie 01/2026",
                "document": "N/1",
                "period": "2026-01",
                "charge": "1 234,56",
                "payment": "",
            },
            {
                "premises_id": "KW5/1",
                "date": "15-01-2026",
                "description": "Wpłata",
                "document": "WB/1",
                "period": "",
                "charge": "",
                "payment": "1.000,00",
            },
            {
                "premises_id": "KW5/G-3",
                "date": "31.01.2026",
                "description": "Wyrównanie zaliczek",
                "document": "K/1",
                "period": "2026-01",
                "charge": "-12,00",
                "payment": "",
            },
        ],
        "fees": [
            {
                "premises_id": "KW5/1",
                "component": "Fundusz remontowy",
                "basis": "m2",
                "quantity": "54,30",
                "rate": "3,15",
                "amount": "",
                "valid_from": "01.01.2026",
            },
            {
                "premises_id": "KW5/1",
                "component": "Woda i ścieki",
                "basis": "osoba",
                "quantity": "3",
                "rate": "40,00",
                "amount": "120,00 zł",
                "valid_from": "",
            },
        ],
        "allowances": [
            {
                "premises_id": "KW5/1",
                "decision": "DM/123/2026",
                "issuer": "Prezydent Miasta Krakowa",
                "valid_from": "01.01.2026",
                "valid_to": "30.06.2026",
                "monthly_amount": "250,00",
            },
        ],
    }


def csv_text(rows: list[dict[str, Any]], sep: str = ";", header: list[str] | None = None) -> str:
    """CSV text of the rows; the header is `header` or the keys of the first row."""
    names = header or (list(rows[0]) if rows else [])
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(n, "") for n in names])
    return buf.getvalue()


def write_csv(
    path: Path,
    rows: list[dict[str, Any]],
    *,
    encoding: str = "utf-8",
    sep: str = ";",
    header: list[str] | None = None,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(rows, sep, header).encode(encoding))
    return path


def write_csv_bundle(
    directory: Path,
    tables: dict[str, list[dict[str, Any]]],
    *,
    encoding: str = "utf-8",
    sep: str = ";",
    names: dict[str, str] | None = None,
) -> Path:
    """One CSV per table into `directory`; `names` renames files (`{"premises": "lokale.csv"}`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        filename = (names or {}).get(table, f"{table}.csv")
        write_csv(directory / filename, rows, encoding=encoding, sep=sep)
    return directory


def write_xlsx(path: Path, sheets: dict[str, list[dict[str, Any]] | list[list[Any]]]) -> Path:
    """A workbook with one sheet per entry; rows are dicts (header = keys of the first) or
    lists (written as they are, so a test can put numbers, dates or blanks in cells)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        if rows and isinstance(rows[0], dict):
            names = list(rows[0])
            ws.append(names)
            for row in rows:
                ws.append([row.get(n) for n in names])
        else:
            for row in rows:
                ws.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_xlsx_bundle(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """One workbook, one sheet per table (sheet named by the table)."""
    return write_xlsx(path, dict(tables))


def zip_dir(directory: Path, target: Path | None = None, *, prefix: str = "") -> Path:
    """Zip the files of `directory` (members named relative to it, under `prefix`)."""
    target = target or directory.with_suffix(".zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(directory.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(directory).as_posix())
    return target


def write_zip(target: Path, members: dict[str, bytes | str]) -> Path:
    """A ZIP with exactly these member names (hostile names included) and contents."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return target


def edit_ledger_line(ledger: Path, at: float, cells: dict[int, bytes]) -> bytes:
    """The ledger (a demo export: `;`, CRLF) with cells of the line after `at` of it replaced,
    by column position, in place; that line's first cell (its premises id)."""
    data = ledger.read_bytes()
    start = data.index(b"\r\n", int(len(data) * at)) + 2
    end = data.index(b"\r\n", start)
    fields = data[start:end].split(b";")
    for position, value in cells.items():
        fields[position] = value
    ledger.write_bytes(data[:start] + b";".join(fields) + data[end:])
    return fields[0]


def flipped(content: bytes, at: int, bits: int = 0x01) -> bytes:
    """The bytes with these bits of the byte at `at` flipped: a damaged cache file."""
    return content[:at] + bytes([content[at] ^ bits]) + content[at + 1 :]


# -- bundles straight from DataFrames ---------------------------------------------------------
# The publisher's tests build a `Bundle` of normalised tables (etl/model.py) without a reader.


def community(cid: str = "WM-KW5", **fields: Any) -> dict[str, Any]:
    return {
        "community_id": cid,
        "name": f"Wspólnota Mieszkaniowa {cid}",
        "street": "ul. Kwiatowa 5",
        "postal_code": "30-001",
        "city": "Kraków",
        "bank_account": COMMUNITY_ACCOUNT,
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
