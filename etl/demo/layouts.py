"""How each table of `ebok demo-data` is exported: file name, CSV dialect and header spelling.

Each table is written the way a different real export would write it (encoding, separator,
header spelling, number and date format), so a demo bundle exercises the import contract
(docs/import-format.md) rather than one happy path. The CSV writer (etl.demo.csv_writer) uses
the whole dialect; an XLSX workbook (etl.demo.archives) only the header spelling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """How one table is exported: file name, CSV dialect and header spelling."""

    file: str
    encoding: str
    sep: str
    eol: str
    decimal: str  # "," or "."
    thousands: str  # "" or " " (money only)
    date_format: str  # strftime pattern
    headers: dict[str, str]


LAYOUTS = {
    # Excel "CSV UTF-8" export: BOM, headers as a person typed them.
    "communities": Layout(
        "communities.csv",
        "utf-8-sig",
        ";",
        "\r\n",
        ",",
        "",
        "%d.%m.%Y",
        {
            "community_id": "ID wspólnoty",
            "name": "Nazwa",
            "street": "Ulica",
            "postal_code": "Kod pocztowy",
            "city": "Miejscowość",
            "bank_account": "Rachunek",
            "nip": "NIP",
            "as_of": "Stan na",
        },
    ),
    # A Polish ledger program: Windows-1250, `;`, Polish file and header names.
    "premises": Layout(
        "lokale.csv",
        "cp1250",
        ";",
        "\r\n",
        ",",
        "",
        "%d.%m.%Y",
        {
            "premises_id": "ID lokalu",
            "community_id": "ID wspólnoty",
            "number": "Nr lokalu",
            "street": "Ulica",
            "postal_code": "Kod pocztowy",
            "city": "Miejscowość",
            "kind": "Rodzaj",
            "area_m2": "Powierzchnia",
            "share": "Udział",
            "occupants": "Liczba osób",
            "payer_name": "Płatnik",
            "payer_address": "Adres korespondencyjny",
            "bank_account": "Rachunek indywidualny",
        },
    ),
    "ledger": Layout(
        "ledger.csv",
        "cp1250",
        ";",
        "\r\n",
        ",",
        " ",
        "%d.%m.%Y",
        {
            "premises_id": "id_lokalu",
            "date": "data",
            "description": "opis",
            "document": "dokument",
            "period": "okres",
            "charge": "naliczenie",
            "payment": "wplata",
        },
    ),
    # A script's export: UTF-8, comma, English headers, ISO dates.
    "fees": Layout(
        "fees.csv",
        "utf-8",
        ",",
        "\n",
        ".",
        "",
        "%Y-%m-%d",
        {
            "premises_id": "premises_id",
            "component": "component",
            "basis": "basis",
            "quantity": "quantity",
            "rate": "rate",
            "amount": "amount",
            "valid_from": "valid_from",
        },
    ),
    # An older system: ISO-8859-2, tab-separated, DD-MM-YYYY.
    "allowances": Layout(
        "dodatki.csv",
        "iso-8859-2",
        "\t",
        "\r\n",
        ",",
        "",
        "%d-%m-%Y",
        {
            "premises_id": "id_lokalu",
            "decision": "nr_decyzji",
            "issuer": "organ",
            "valid_from": "od",
            "valid_to": "do",
            "monthly_amount": "kwota",
        },
    ),
    # The optional tables (docs/import-format.md). Meter readings from a billing program:
    # Windows-1250, `;`, Polish headers.
    "readings": Layout(
        "odczyty.csv",
        "cp1250",
        ";",
        "\r\n",
        ",",
        "",
        "%d.%m.%Y",
        {
            "premises_id": "ID lokalu",
            "meter": "Licznik",
            "serial": "Nr licznika",
            "date": "Data odczytu",
            "reading": "Odczyt",
            "unit": "Jednostka",
            "consumption": "Zużycie",
        },
    ),
    # Typed by the office in Excel, saved as "CSV UTF-8": texts with line breaks, quoted.
    "announcements": Layout(
        "ogloszenia.csv",
        "utf-8-sig",
        ";",
        "\r\n",
        ",",
        "",
        "%d.%m.%Y",
        {
            "community_id": "ID wspólnoty",
            "valid_from": "Ważne od",
            "valid_to": "Ważne do",
            "title": "Tytuł",
            "text": "Treść",
        },
    ),
    "documents": Layout(
        "dokumenty.csv",
        "utf-8-sig",
        ";",
        "\r\n",
        ",",
        "",
        "%Y-%m-%d",
        {
            "community_id": "ID wspólnoty",
            "date": "Data",
            "title": "Tytuł",
            "kind": "Rodzaj",
            "file": "Plik",
        },
    ),
}
