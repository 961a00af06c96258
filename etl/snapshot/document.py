"""The per-premises document a generation publishes (docs/snapshots.md), typed.

One JSON document per premises; `FORMAT_VERSION` is its `schema` field and the manifest's.
Money is integer grosze, dates ISO `YYYY-MM-DD`, `file`/`row` point at the source row an
accountant can find in the export (row numbers as the spreadsheet shows them, header = 1).
Ledger rows are lists in `LEDGER_COLUMNS` order (5 million dicts would cost seconds to write);
readers look columns up by name through `ledger_rows`, so a later version may add columns.

Optional parts, added without a new `FORMAT_VERSION` (a reader of version 1 that does not know
them loses nothing it knew; readers of them treat "missing" as "none"):
- `readings`: a premises' meter readings, in the same columns/rows shape as the ledger
  (`READING_COLUMNS`, read through `reading_rows`); present only when the premises has any, so
  documents without readings stay byte for byte what they were.
- per community, beside the documents rather than inside them (a community's 50,000 premises
  would otherwise carry 50,000 copies): its announcements (`Announcement`) and its documents
  (`CommunityDocument`, the PDF stored once per content under `files/`), read through
  `etl.snapshot.generation.Generation`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, NotRequired, TypedDict

FORMAT_VERSION = 1


class FeeNotes(TypedDict):
    header: str
    footer: str


class Community(TypedDict):
    community_id: str
    name: str
    street: str
    postal_code: str
    city: str
    bank_account: str  # 26 digits
    nip: str  # "" or 10 digits
    as_of: str  # the date the ledger state is valid for
    fee_notes: FeeNotes | None  # only the legacy export fills it
    # Legacy export only (None for contract bundles): the as-of date of each part of the data,
    # ISO, under "premises", "ledger", "fees" (its `.wmb` files may differ; `as_of` is the
    # newest); {} when it had none and `as_of` is the account cards' end date.
    as_of_parts: dict[str, str] | None


class Premises(TypedDict):
    number: str
    street: str
    postal_code: str
    city: str
    kind: str
    area_m2: str  # decimal string or ""
    share: str  # decimal string or ""
    occupants: int | None
    payer_name: str
    payer_address: str
    bank_account: str  # "" or the 26 digits of the premises' own account
    email: str


class ChargeDetail(TypedDict):
    """One line of a charge's breakdown (the legacy export's `nal_czynsz`)."""

    description: str
    quantity: str
    unit: str
    rate: str
    amount: int


class LedgerRow(NamedTuple):
    date: str
    document: str
    description: str
    period: str  # "YYYY-MM" or ""
    charge: int
    payment: int
    file: str
    row: int | None
    details: list[ChargeDetail] | None


LEDGER_COLUMNS: tuple[str, ...] = LedgerRow._fields


class Ledger(TypedDict):
    columns: list[str]
    rows: list[list[Any]]


class Fee(TypedDict):
    component: str
    basis: str
    quantity: str
    rate: str
    amount: int
    valid_from: str
    file: str
    row: int | None


class Allowance(TypedDict):
    decision: str
    issuer: str
    valid_from: str
    valid_to: str
    monthly_amount: int
    file: str
    row: int | None


# Meter kinds of a reading (the export's Polish names are mapped to these by the importer).
METER_KINDS: tuple[str, ...] = ("cold_water", "hot_water", "heat", "gas")


class Reading(NamedTuple):
    """One meter reading. Decimal values are exact decimal text (`"123.456"`), never floats;
    `consumption` is "" when neither the export gave it nor an earlier reading of the same
    meter allowed it to be worked out."""

    meter: str  # one of METER_KINDS
    serial: str  # the meter's serial number, "" when the export has none
    date: str
    reading: str  # decimal text
    unit: str  # "m³", "GJ", "kWh", … as normalised by the importer
    consumption: str  # decimal text or ""
    file: str
    row: int | None


READING_COLUMNS: tuple[str, ...] = Reading._fields


class Readings(TypedDict):
    columns: list[str]
    rows: list[list[Any]]


class Totals(TypedDict):
    charges: int
    payments: int
    balance: int  # Σ payment − Σ charge: above zero an overpayment, below zero arrears
    monthly_fees: int


class Document(TypedDict):
    schema: int
    premises_id: str
    community: Community
    premises: Premises
    ledger: Ledger
    fees: list[Fee]
    allowances: list[Allowance]
    totals: Totals
    readings: NotRequired[Readings]  # only when the premises has readings


# Kinds of a community document (the export's Polish names are mapped to these).
DOCUMENT_KINDS: tuple[str, ...] = (
    "resolution",  # uchwała
    "financial_statement",  # sprawozdanie finansowe
    "rules",  # regulamin
    "minutes",  # protokół
    "other",  # inne
)


class Announcement(TypedDict):
    """A community's announcement: plain text (never HTML), shown while valid."""

    community_id: str
    valid_from: str  # ISO date
    valid_to: str  # ISO date, or "" for "until further notice"
    title: str
    text: str  # plain text; paragraphs are separated by a blank line
    file: str
    row: int | None


class CommunityDocument(TypedDict):
    """A community's document (a PDF checked by the importer), stored once per content."""

    community_id: str
    document_id: str  # SHA-256 of the PDF, 64 hex digits: its file in the generation
    date: str  # ISO date
    title: str
    kind: str  # one of DOCUMENT_KINDS
    name: str  # the file's name inside the export's documents folder (for the office)
    size: int  # bytes
    file: str
    row: int | None


def fields(section: type) -> tuple[str, ...]:
    """The keys of a document section, in declaration order."""
    return tuple(section.__annotations__)


COMMUNITY_FIELDS = fields(Community)
PREMISES_FIELDS = fields(Premises)
# The source columns of the fee and allowance entries are `file` and `row`.
FEE_FIELDS = fields(Fee)[:-2]
ALLOWANCE_FIELDS = fields(Allowance)[:-2]
ANNOUNCEMENT_FIELDS = fields(Announcement)
COMMUNITY_DOCUMENT_FIELDS = fields(CommunityDocument)


def ledger_rows(document: Document) -> list[LedgerRow]:
    """The ledger's rows as named tuples, columns found by name (KeyError for a document
    that lacks one: it was not written to this contract)."""
    ledger = document["ledger"]
    at = {name: i for i, name in enumerate(ledger["columns"])}
    picks = [at[name] for name in LEDGER_COLUMNS]
    return [LedgerRow(*(row[i] for i in picks)) for row in ledger["rows"]]


def reading_rows(document: Document) -> list[Reading]:
    """The premises' meter readings as named tuples, columns found by name; [] for a document
    without readings (or published before they existed)."""
    readings = document.get("readings")
    if not readings:
        return []
    at = {name: i for i, name in enumerate(readings["columns"])}
    picks = [at[name] for name in READING_COLUMNS]
    return [Reading(*(row[i] for i in picks)) for row in readings["rows"]]
