"""The shapes that pass between reading a bundle and publishing it.

Readers (`etl.reader.bundle` for CSV/XLSX/ZIP bundles, `etl.legacy.reader` for the `#`-delimited
export) turn files into a `Bundle` of validated, normalised tables; `etl.publisher.publish`
merges a `Bundle` with the current generation and writes the next one. Nothing here does I/O.

Normalised table columns (pandas DataFrames; every table also has `_file` (source file name)
and `_row` (row number as the spreadsheet shows it, header = 1) for traceability):

- communities: community_id, name, street, postal_code, city, bank_account (26 digits), nip
  ("" or 10 digits), as_of (ISO date "YYYY-MM-DD"), fee_notes (object: None or
  {"header": str, "footer": str}) and as_of_parts (object: None or {"premises"|"ledger"|"fees":
  ISO date}); only the legacy export fills the last two
- premises: premises_id, community_id, number, street, postal_code, city, kind, area_m2 (decimal
  string or ""), share (decimal string or ""), occupants (int or None), payer_name,
  payer_address, bank_account ("" or 26 digits), email ("" unless the export carries one)
- ledger: premises_id, date (ISO), description, document, period ("YYYY-MM" or ""),
  charge (int64 grosze), payment (int64 grosze), details (object: None or a list of dicts
  {description, quantity, unit, rate, amount(grosze)} — the legacy export's charge breakdown)
- fees: premises_id, component, basis, quantity (decimal string or ""), rate (decimal string
  or ""), amount (int64 grosze), valid_from (ISO or "")
- allowances: premises_id, decision, issuer, valid_from (ISO), valid_to (ISO),
  monthly_amount (int64 grosze)
- readings (optional): premises_id, meter (one of METER_KINDS), serial, date (ISO), reading
  (decimal string), unit, consumption (decimal string or "")
- announcements (optional): community_id, valid_from (ISO), valid_to (ISO or ""), title, text
- documents (optional): community_id, document_id (SHA-256 of the PDF; its bytes are in
  `Bundle.files`), date (ISO), title, kind (one of DOCUMENT_KINDS), name (the file inside the
  documents folder), size (bytes)

Money is integer grosze everywhere below the parsers; it becomes Decimal only for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from etl.snapshot.document import (
    ALLOWANCE_FIELDS,
    ANNOUNCEMENT_FIELDS,
    COMMUNITY_DOCUMENT_FIELDS,
    COMMUNITY_FIELDS,
    FEE_FIELDS,
    PREMISES_FIELDS,
    READING_COLUMNS,
)

if TYPE_CHECKING:  # only Bundle's annotation: `ebok generations` and the like need no pandas
    import pandas as pd

# The normalised columns of each table, in order (documented above); every validated frame
# also carries SOURCE_COLUMNS. What a published document carries of each comes from the
# snapshot contract, so the two cannot drift apart.
COLUMNS: dict[str, tuple[str, ...]] = {
    "communities": COMMUNITY_FIELDS,
    "premises": ("premises_id", "community_id", *PREMISES_FIELDS),
    "ledger": (
        "premises_id", "date", "description", "document", "period", "charge", "payment",
        "details",
    ),
    "fees": ("premises_id", *FEE_FIELDS),
    "allowances": ("premises_id", *ALLOWANCE_FIELDS),
    "readings": ("premises_id", *READING_COLUMNS[:-2]),
    "announcements": ANNOUNCEMENT_FIELDS[:-2],
    "documents": COMMUNITY_DOCUMENT_FIELDS[:-2],
}  # fmt: skip
SOURCE_COLUMNS = ("_file", "_row")

MAX_PROBLEMS = 200


@dataclass(frozen=True)
class Problem:
    """One reason a bundle was rejected, addressed the way an accountant finds it in the file."""

    file: str
    table: str
    row: int | None
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, {self.table or '-'}, "
        where += f"row {self.row}, " if self.row is not None else "-, "
        where += f"{self.column or '-'}, "
        value = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"{where}{value!r}: {self.reason}"


class BundleRejected(Exception):
    """The bundle is invalid; nothing of it may be published."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.total = total if total is not None else len(problems)
        super().__init__(f"{self.total} problem(s) in the bundle")

    def report(self) -> str:
        lines = [f"Rejected: {self.total} problem(s)"]
        lines += [f"  {p}" for p in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems)} more")
        return "\n".join(lines)


def unknown_premises(premises_id: str) -> str:
    """Why a row naming a premises that neither this bundle nor the published data has is
    refused: the one wording of that rule, wherever it is found."""
    return f"unknown premises {premises_id}: not in this export's premises nor published"


@dataclass(frozen=True)
class SourceFile:
    name: str  # as the accountant named it, relative to the bundle
    sha256: str
    size: int


@dataclass
class Bundle:
    """Validated tables from one export. A table absent from `tables` was not in the export."""

    tables: dict[str, pd.DataFrame]
    sources: list[SourceFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = "contract"  # "contract" (CSV/XLSX/ZIP) or "legacy" (the `#` export)
    files: dict[str, bytes] = field(default_factory=dict)  # the documents' PDFs by SHA-256
    # Premises whose every input is the one their published document was built from (a
    # ledger read as its changes, etl.reader.ledger_delta): their rows are not in `tables`,
    # their documents are copied from the current generation (etl.publisher.publish).
    kept: frozenset[str] = frozenset()
    # What besides the files decided how they were read (a digest of the aliases file): a
    # document kept unread is copied only from a generation read the same way.
    setup: str = ""

    def communities(self) -> set[str]:
        """Communities this bundle speaks for (and therefore replaces)."""
        ids: set[str] = set()
        for table in ("communities", "premises"):
            if table in self.tables:  # distinct first: 50,000 premises name 50 communities
                ids.update(self.tables[table]["community_id"].unique().tolist())
        return ids
