"""How an import is worded on the accountant's pages: the Polish (or English) labels of its
status, refusal, source and stages, counts and sizes as a person reads them, and `HELPERS`, the
names every import and generation template is rendered with.

The pages themselves are imports_views (the list and uploads), import_job_views (one import's
progress, result and re-run) and generations_views (rollback); they share this wording so that
an import reads the same on each of them.
"""

from __future__ import annotations

from typing import Any

from portal.i18n import N_, Labels, current_locale, plural_pl
from portal.i18n import gettext as _
from portal.panel.importer import (
    FAILED,
    INTERRUPTED,
    PUBLISHED,
    QUEUED,
    REJECTED,
    RUNNING,
    UNCHANGED,
    ImportRecord,
)

STATUS = Labels(
    {
        QUEUED: N_("W kolejce"),
        RUNNING: N_("W toku"),
        PUBLISHED: N_("Opublikowano"),
        UNCHANGED: N_("Bez zmian"),
        REJECTED: N_("Odrzucono"),
        FAILED: N_("Błąd wewnętrzny"),
        INTERRUPTED: N_("Przerwano"),
    }
)
REFUSALS = Labels(
    {
        "shrink": N_("Wstrzymano: usunąłby opublikowane dane"),
        "history": N_("Wstrzymano: saldo otwarcia nie pasuje do historii"),
    }
)
VIA = Labels(
    {
        "upload": N_("wysłany w panelu"),
        "sync": N_("skrzynka (ebok sync)"),
        "import": N_("ebok import"),
    }
)
WHO = Labels({"sync": N_("automat (ebok sync)"), "cli": N_("serwer (ebok import)")})
STAGES = Labels(
    {
        "": N_("Czeka w kolejce na swoją kolej."),
        "waiting": N_("Czeka na zakończenie innego importu (np. automatycznego ebok sync)."),
        "reading": N_("Odczyt i sprawdzanie plików…"),
        "publishing": N_("Zapisywanie danych lokali…"),
        "archiving": N_("Archiwizowanie plików i raportu…"),
    }
)
COUNTS = (
    ("premises", N_("Lokale")),
    ("ledger", N_("Wiersze kartoteki (obroty)")),
    ("fees", N_("Składniki opłat")),
    ("allowances", N_("Dodatki mieszkaniowe")),
)


def status_label(record: ImportRecord) -> str:
    if record.status == REJECTED and record.refusal in REFUSALS:
        return REFUSALS[record.refusal]
    return STATUS.get(record.status, record.status)


def who_label(record: ImportRecord) -> str:
    return WHO.get(record.who, record.who) if record.via != "upload" else record.who


def size_text(size: int | None) -> str:
    """`532 B`, `12,4 kB`, `3,1 MB` (English: `12.4 kB`)."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value, unit = (size / 1024, "kB") if size < 1024 * 1024 else (size / 1024 / 1024, "MB")
    text = f"{value:.1f} {unit}"
    return text if current_locale() == "en" else text.replace(".", ",")


def number_text(value: Any) -> str:
    """`12 345` (a thin space between thousands), or an empty string."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}".replace(",", "\u202f")


def plural(n: int, one: str, few: str, many: str) -> str:
    """`1 lokal`, `2 lokale`, `5 lokali`, `22 lokale`, `112 lokali` (Polish plural forms)."""
    return f"{number_text(n)} {plural_pl(n, one, few, many)}"


NOUNS = {
    "premises": ("lokal", "lokale", "lokali"),
    "ledger": ("wiersz kartoteki", "wiersze kartoteki", "wierszy kartoteki"),
    "fees": ("składnik opłat", "składniki opłat", "składników opłat"),
    "allowances": ("dodatek", "dodatki", "dodatków"),
    "problems": ("problem", "problemy", "problemów"),
    "files": ("plik", "pliki", "plików"),
}
# The contract's tables as an accountant names them (docs/import-format.md).
TABLES = Labels(
    {
        "communities": N_("wspólnoty"),
        "premises": N_("lokale"),
        "ledger": N_("obroty"),
        "fees": N_("opłaty"),
        "allowances": N_("dodatki"),
    }
)


# The same nouns in English (singular, plural), for pages in English (portal.i18n).
NOUNS_EN = {
    "premises": ("premises", "premises"),
    "ledger": ("ledger row", "ledger rows"),
    "fees": ("fee component", "fee components"),
    "allowances": ("allowance", "allowances"),
    "problems": ("problem", "problems"),
    "files": ("file", "files"),
}


def count_text(n: Any, what: str) -> str:
    """`5 lokali` (English: `5 premises`, `1 problem`, `2 problems`)."""
    n = int(n or 0)
    if current_locale() == "en":
        one, many = NOUNS_EN[what]
        return f"{number_text(n)} {one if n == 1 else many}"
    return plural(n, *NOUNS[what])


def table_label(table: str) -> str:
    """`obroty (ledger)`: the accountant's word and the contract's."""
    return f"{TABLES[table]} ({table})" if table in TABLES else table


def source_label(record: ImportRecord) -> str:
    """The export's name; for many uploaded files, how many and the first two."""
    if record.via == "upload" and len(record.files) > 3:
        names = ", ".join(f["name"] for f in record.files[:2])
        return f"{count_text(len(record.files), 'files')}: {names}, …"
    return record.source


def change_text(before: Any, after: Any) -> str:
    if before is None or after is None or before == after:
        return _("bez zmian")
    diff = int(after) - int(before)
    return ("+" if diff > 0 else "−") + number_text(abs(diff))


HELPERS = {
    "status_label": status_label,
    "who_label": who_label,
    "source_label": source_label,
    "count_text": count_text,
    "table_label": table_label,
    "via_labels": VIA,
    "size_text": size_text,
    "number_text": number_text,
    "change_text": change_text,
    "count_labels": COUNTS,
}
