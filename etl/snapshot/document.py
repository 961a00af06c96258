"""The per-premises document a generation publishes (docs/snapshots.md), typed.

One JSON document per premises; `FORMAT_VERSION` is its `schema` field and the manifest's.
Money is integer grosze, dates ISO `YYYY-MM-DD`, `file`/`row` point at the source row an
accountant can find in the export (row numbers as the spreadsheet shows them, header = 1).
Ledger rows are lists in `LEDGER_COLUMNS` order (5 million dicts would cost seconds to write);
readers look columns up by name through `ledger_rows`, so a later version may add columns.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict

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


def fields(section: type) -> tuple[str, ...]:
    """The keys of a document section, in declaration order."""
    return tuple(section.__annotations__)


COMMUNITY_FIELDS = fields(Community)
PREMISES_FIELDS = fields(Premises)
# The source columns of the fee and allowance entries are `file` and `row`.
FEE_FIELDS = fields(Fee)[:-2]
ALLOWANCE_FIELDS = fields(Allowance)[:-2]


def ledger_rows(document: Document) -> list[LedgerRow]:
    """The ledger's rows as named tuples, columns found by name (KeyError for a document
    that lacks one: it was not written to this contract)."""
    ledger = document["ledger"]
    at = {name: i for i, name in enumerate(ledger["columns"])}
    picks = [at[name] for name in LEDGER_COLUMNS]
    return [LedgerRow(*(row[i] for i in picks)) for row in ledger["rows"]]
