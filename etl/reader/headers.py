"""Which table a file or sheet holds, and which column each header names.

Ledger systems spell headers every which way (`Nr lokalu`, `NR_LOKALU`, `nr-lokalu`,
`Kwota WN`), so names are compared by a key that ignores case, diacritics and punctuation,
against the aliases of docs/import-format.md plus whatever the manager adds in a TOML file:

    [ledger]
    charge = ["kwota_wn", "obciazenia"]
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# Canonical column -> aliases, per table. Order is the order of the normalised frames.
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "communities": {
        "community_id": ("id_wspolnoty", "wspolnota"),
        "name": ("nazwa",),
        "street": ("ulica", "adres"),
        "postal_code": ("kod_pocztowy", "kod"),
        "city": ("miejscowosc", "miasto"),
        "bank_account": ("rachunek", "nr_rachunku", "konto"),
        "nip": (),
        "as_of": ("stan_na", "data_stanu"),
    },
    "premises": {
        "premises_id": ("id_lokalu",),
        "community_id": ("id_wspolnoty", "wspolnota"),
        "number": ("nr_lokalu", "lokal"),
        "street": ("ulica", "adres"),
        "postal_code": ("kod_pocztowy", "kod"),
        "city": ("miejscowosc", "miasto"),
        "kind": ("rodzaj", "typ"),
        "area_m2": ("powierzchnia", "pow_m2"),
        "share": ("udzial",),
        "occupants": ("liczba_osob", "osoby"),
        "payer_name": ("platnik", "wlasciciel", "nazwa_platnika"),
        "payer_address": ("adres_platnika", "adres_korespondencyjny"),
        "bank_account": ("rachunek_indywidualny", "konto_indywidualne"),
        "email": ("e-mail", "adres_email"),
    },
    "ledger": {
        "premises_id": ("id_lokalu",),
        "date": ("data", "data_operacji"),
        "description": ("opis", "tytul", "tresc"),
        "document": ("dokument", "nr_dokumentu"),
        "period": ("okres",),
        "charge": ("naliczenie", "wn", "winien", "obciazenie"),
        "payment": ("wplata", "ma", "uznanie"),
    },
    "fees": {
        "premises_id": ("id_lokalu",),
        "component": ("skladnik", "nazwa"),
        "basis": ("podstawa", "jednostka"),
        "quantity": ("ilosc",),
        "rate": ("stawka",),
        "amount": ("kwota",),
        "valid_from": ("od", "obowiazuje_od"),
    },
    "allowances": {
        "premises_id": ("id_lokalu",),
        "decision": ("nr_decyzji", "decyzja"),
        "issuer": ("organ", "wydajacy"),
        "valid_from": ("od",),
        "valid_to": ("do",),
        "monthly_amount": ("kwota", "kwota_miesieczna"),
    },
    # The optional tables (issue 13): meter readings, announcements, community documents.
    "readings": {
        "premises_id": ("id_lokalu",),
        "meter": ("licznik", "medium", "rodzaj_licznika"),
        "serial": ("nr_licznika", "numer_licznika", "nr_fabryczny", "numer_seryjny"),
        "date": ("data_odczytu", "data"),
        "reading": ("odczyt", "stan_licznika", "stan", "wskazanie"),
        "unit": ("jednostka",),
        "consumption": ("zuzycie",),
    },
    "announcements": {
        "community_id": ("id_wspolnoty", "wspolnota"),
        "valid_from": ("wazne_od", "od", "obowiazuje_od"),
        "valid_to": ("wazne_do", "do", "obowiazuje_do"),
        "title": ("tytul",),
        "text": ("tresc",),
    },
    "documents": {
        "community_id": ("id_wspolnoty", "wspolnota"),
        "date": ("data", "data_dokumentu"),
        "title": ("tytul", "nazwa"),
        "kind": ("rodzaj", "typ"),
        "file": ("plik", "nazwa_pliku"),
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "communities": (
        "community_id",
        "name",
        "street",
        "postal_code",
        "city",
        "bank_account",
        "as_of",
    ),
    "premises": ("premises_id", "community_id", "number", "street", "payer_name"),
    "ledger": ("premises_id", "date", "description"),
    "fees": ("premises_id", "component"),
    "allowances": ("premises_id", "valid_from", "valid_to", "monthly_amount"),
    "readings": ("premises_id", "meter", "date", "reading"),
    "announcements": ("community_id", "valid_from", "title"),
    "documents": ("community_id", "date", "title", "file"),
}

TABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "communities": ("wspolnoty",),
    "premises": ("lokale",),
    "ledger": ("obroty",),
    "fees": ("oplaty", "naliczenia"),
    "allowances": ("dodatki", "dodatki_mieszkaniowe"),
    "readings": ("odczyty", "odczyty_licznikow", "liczniki"),
    "announcements": ("ogloszenia", "komunikaty"),
    "documents": ("dokumenty", "dokumenty_wspolnoty"),
}


# Words of the aliases above as an accountant writes them, for naming a column in a message.
_DIACRITICS = {
    "ilosc": "ilość",
    "miejscowosc": "miejscowość",
    "obciazenie": "obciążenie",
    "obowiazuje": "obowiązuje",
    "osob": "osób",
    "platnik": "płatnik",
    "platnika": "płatnika",
    "skladnik": "składnik",
    "tresc": "treść",
    "tytul": "tytuł",
    "udzial": "udział",
    "wlasciciel": "właściciel",
    "wplata": "wpłata",
    "wspolnota": "wspólnota",
    "wspolnoty": "wspólnoty",
    "wydajacy": "wydający",
    "miesieczna": "miesięczna",
    "wazne": "ważne",
    "zuzycie": "zużycie",
    "licznikow": "liczników",
}


def polish_label(table: str, column: str) -> str:
    """How a Polish export most likely heads `column`: its first Polish alias, with spaces and
    diacritics (`payer_name` -> `Płatnik`, `premises_id` -> `Id lokalu`); the contract name
    when it has no alias."""
    aliases = COLUMNS[table][column]
    if not aliases:
        return column
    words = [_DIACRITICS.get(w, w) for w in aliases[0].split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def key(name: str) -> str:
    """`  Nr_Lokalu ` and `nr lokalu` and `Nr-lokalu` all give `nrlokalu`; `Płatnik` gives
    `platnik`."""
    text = unicodedata.normalize("NFKD", name.strip().lower().replace("ł", "l"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", "", text)


_TABLE_KEYS = {key(alias): table for table, names in TABLE_ALIASES.items() for alias in names}
_TABLE_KEYS.update({key(table): table for table in TABLE_ALIASES})


def table_for(name: str) -> str | None:
    """The table a file stem or sheet name stands for, if any."""
    return _TABLE_KEYS.get(key(name))


class AliasFileError(ValueError):
    """The manager's alias file cannot be used; the message says why."""


@dataclass
class HeaderMap:
    """Result of matching one header row: position -> canonical column, and what did not fit."""

    columns: dict[int, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (header, canonical)
    missing: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # canonical -> header as in the file
    polish: bool = False  # more headers are Polish aliases than contract (English) names

    def label(self, table: str, column: str) -> str:
        """A column named the way this file names it: the header as written, or for a column
        the file lacks, the spelling of the file's language (`Płatnik` or `payer_name`)."""
        if column in self.written:
            return self.written[column]
        return polish_label(table, column) if self.polish else column


class Aliases:
    """Built-in aliases plus the manager's own (from `aliases_file`, if it exists)."""

    def __init__(self, extra: dict[str, dict[str, list[str]]] | None = None) -> None:
        self._lookup: dict[str, dict[str, str]] = {}
        for table, columns in COLUMNS.items():
            lookup: dict[str, str] = {}
            for canonical, aliases in columns.items():
                for alias in (canonical, *aliases):
                    lookup[key(alias)] = canonical
            self._lookup[table] = lookup
        for table, columns in (extra or {}).items():
            for canonical, aliases in columns.items():
                for alias in aliases:
                    self._lookup[table][key(alias)] = canonical

    @property
    def digest(self) -> str:
        """Identifies the whole map (which header names which column of which table)."""
        text = repr(sorted((t, sorted(m.items())) for t, m in self._lookup.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def load(cls, path: Path | None) -> Aliases:
        """Read the TOML alias map; a missing file means no extra aliases."""
        if path is None or not path.is_file():
            return cls()
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AliasFileError(f"{path.name}: not valid TOML ({exc})") from None
        extra: dict[str, dict[str, list[str]]] = {}
        for table_name, columns in raw.items():
            table = table_for(table_name)
            if table is None:
                raise AliasFileError(f"{path.name}: [{table_name}] is not a table name")
            if not isinstance(columns, dict):
                raise AliasFileError(f"{path.name}: [{table_name}] must hold column = [aliases]")
            for column, aliases in columns.items():
                if column not in COLUMNS[table]:
                    raise AliasFileError(
                        f"{path.name}: {table_name}.{column} is not a column of {table}"
                    )
                if isinstance(aliases, str):
                    aliases = [aliases]
                if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                    raise AliasFileError(
                        f"{path.name}: {table_name}.{column} must be a list of header names"
                    )
                extra.setdefault(table, {})[column] = aliases
        return cls(extra)

    def match(self, table: str, headers: list[str]) -> HeaderMap:
        lookup = self._lookup[table]
        result = HeaderMap()
        seen: dict[str, str] = {}
        english = polish = 0
        for position, header in enumerate(headers):
            if not header.strip():
                continue
            canonical = lookup.get(key(header))
            if canonical is None:
                result.unknown.append(header)
                continue
            if key(header) == key(canonical):
                english += 1
            else:
                polish += 1
            if canonical in seen:
                result.duplicates.append((header, canonical))
            else:
                seen[canonical] = header.strip()
                result.columns[position] = canonical
        result.missing = [c for c in REQUIRED[table] if c not in seen]
        result.written = seen
        result.polish = polish > english
        return result
