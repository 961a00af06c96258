"""The optional tables: meter readings, announcements and community documents
(docs/import-format.md), validated like the others (etl.reader.validate)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from etl.reader import attachments, cells
from etl.reader.column_checks import (
    checked_dates,
    checked_decimals,
    normalised,
    per_distinct,
    per_value,
    required,
)
from etl.reader.headers import key
from etl.reader.raw import Problems, RawTable, column_of

# The export's words for a meter (keys: etl.snapshot.document.METER_KINDS), compared as headers
# are (case, diacritics, spaces ignored).
METER_ALIASES = {
    "cold_water": ("zimna woda", "woda zimna", "zw", "zimna", "cold water"),
    "hot_water": ("ciepła woda", "woda ciepła", "cw", "cwu", "ciepła", "hot water"),
    "heat": ("ciepło", "co", "centralne ogrzewanie", "ogrzewanie", "podzielnik", "heat"),
    "gas": ("gaz", "gas"),
}
_METER_KEYS = {key(a): meter for meter, aliases in METER_ALIASES.items() for a in aliases}
_METER_KEYS.update({key(meter): meter for meter in METER_ALIASES})
# The unit a meter's readings are in when the export does not say.
DEFAULT_UNITS = {"cold_water": "m³", "hot_water": "m³", "heat": "GJ", "gas": "m³"}
_UNITS = {"m3": "m³", "gj": "GJ", "mj": "MJ", "kwh": "kWh", "mwh": "MWh"}
MAX_UNIT = 12
# The export's words for a kind of document (keys: etl.snapshot.document.DOCUMENT_KINDS).
DOCUMENT_KIND_ALIASES = {
    "resolution": ("uchwała", "uchwały", "resolution"),
    "financial_statement": ("sprawozdanie finansowe", "sprawozdanie", "financial statement"),
    "rules": ("regulamin", "rules", "house rules"),
    "minutes": ("protokół", "protokół z zebrania", "minutes"),
    "other": ("inne", "inny", "other"),
}
_KIND_KEYS = {key(a): kind for kind, aliases in DOCUMENT_KIND_ALIASES.items() for a in aliases}
_KIND_KEYS.update({key(kind): kind for kind in DOCUMENT_KIND_ALIASES})
MAX_TITLE = 200
MAX_TEXT = 10_000


def _meter(text: str) -> str:
    found = _METER_KEYS.get(key(text))
    if found is None:
        raise ValueError("not a meter this portal knows (zimna woda, ciepła woda, ciepło or gaz)")
    return found


def _unit(text: str) -> str:
    known = _UNITS.get(key(text))
    if known:
        return known
    if len(text) > MAX_UNIT:
        raise ValueError(f"a unit of at most {MAX_UNIT} characters (m³, GJ, kWh…)")
    return text


def _document_kind(text: str) -> str:
    found = _KIND_KEYS.get(key(text))
    if found is None:
        raise ValueError(
            "not a kind of document (uchwała, sprawozdanie finansowe, regulamin, protokół or inne)"
        )
    return found


def _repeated(
    raw: RawTable,
    keys: dict[str, pd.Series],
    compared: np.ndarray,
    column: str,
    reason: str,
    problems: Problems,
) -> None:
    """A problem for each row (of those `compared`) whose key columns an earlier compared row
    has too; `reason` gets the earlier row's number."""
    frame = pd.DataFrame(keys)
    at = np.flatnonzero(compared)
    dup = frame.iloc[at].duplicated(keep="first").to_numpy(dtype=bool)
    if not dup.any():
        return
    rows = raw.frame["_row"].to_numpy()
    first: dict[tuple, int] = {}
    for i, values in zip(at.tolist(), frame.iloc[at].itertuples(index=False), strict=True):
        first.setdefault(tuple(values), int(rows[i]))
    for i in at[dup]:
        earlier = first[tuple(frame.iloc[i])]
        problems.rows(raw, np.array([i]), column, lambda _v, r=earlier: reason.format(r))


def _too_long(raw: RawTable, name: str, limit: int, problems: Problems) -> None:
    long = np.flatnonzero((column_of(raw, name).str.len() > limit).to_numpy(dtype=bool))
    problems.rows(raw, long, name, lambda v: f"{len(v)} characters; at most {limit}")


def _not_negative(raw: RawTable, name: str, values: pd.Series, problems: Problems) -> None:
    negative = np.flatnonzero(values.str.startswith("-").to_numpy(dtype=bool))
    problems.rows(raw, negative, name, lambda _v: "cannot be negative")


def readings(raw: RawTable, problems: Problems) -> pd.DataFrame:
    required(raw, ["premises_id", "meter"], problems)
    dates = checked_dates(raw, "date", problems, required=True)
    reading = checked_decimals(raw, "reading", problems)
    empty = np.flatnonzero((column_of(raw, "reading").str.strip() == "").to_numpy(dtype=bool))
    problems.rows(raw, empty, "reading", lambda _v: "empty reading")
    _not_negative(raw, "reading", reading, problems)
    consumption = checked_decimals(raw, "consumption", problems)
    _not_negative(raw, "consumption", consumption, problems)
    meter = per_distinct(raw, "meter", _meter, problems)
    units = per_distinct(raw, "unit", _unit, problems)
    if (units == "").any():
        defaults = pd.Series(meter.map(DEFAULT_UNITS).fillna("").to_numpy(), index=units.index)
        units = units.where(units != "", defaults)
    serial = column_of(raw, "serial")
    pid = column_of(raw, "premises_id")
    known = ((meter != "") & (dates != "")).to_numpy(dtype=bool)
    meter_key = {"premises_id": pid, "meter": meter, "serial": serial}
    _repeated(
        raw,
        {**meter_key, "date": dates},
        known,
        "date",
        "a second reading of this meter on this day (the first is in row {})",
        problems,
    )
    consumption = _worked_out(raw, meter_key, dates, reading, consumption, known, problems)
    return normalised(
        raw,
        "readings",
        {
            "premises_id": pid,
            "meter": meter,
            "serial": serial,
            "date": dates,
            "reading": reading,
            "unit": units,
            "consumption": consumption,
        },
    )


def _worked_out(
    raw: RawTable,
    meter_key: dict[str, pd.Series],
    dates: pd.Series,
    reading: pd.Series,
    consumption: pd.Series,
    known: np.ndarray,
    problems: Problems,
) -> pd.Series:
    """Consumption where the export leaves it empty: the reading less the same meter's
    previous reading (same premises, meter and serial number, by date); "" for a meter's
    first reading. A reading below the previous one is refused: a replaced meter is a new
    serial number, a corrected one needs its consumption given."""
    given = column_of(raw, "consumption").str.strip() != ""
    usable = known & (reading != "").to_numpy(dtype=bool)
    wanted = usable & ~given.to_numpy(dtype=bool)
    if not wanted.any():
        return consumption
    at = np.flatnonzero(usable)
    meters = pd.DataFrame(meter_key).iloc[at]
    codes = meters.groupby(list(meter_key), sort=False).ngroup().to_numpy()
    order = at[np.lexsort((dates.to_numpy()[at], codes))]
    keys = np.empty(len(raw.frame), dtype=np.int64)
    keys[at] = codes
    keys = keys[order]
    values = reading.to_numpy()[order]
    days = dates.to_numpy()[order]
    out = consumption.to_numpy(dtype=object).copy()
    rows = raw.frame["_row"].to_numpy()
    lower = []
    for j in range(1, len(order)):
        i = order[j]
        if not wanted[i] or keys[j] != keys[j - 1]:
            continue
        used = Decimal(values[j]) - Decimal(values[j - 1])
        if used < 0:
            lower.append((i, values[j - 1], days[j - 1], int(rows[order[j - 1]])))
            continue
        out[i] = cells.decimal_text(used)
    for i, previous, day, row in lower:
        problems.rows(
            raw,
            np.array([i]),
            "reading",
            lambda _v, p=previous, d=day, r=row: (
                f"lower than the meter's previous reading {p} of {d} (row {r}); a replaced "
                "meter needs its new serial number, a corrected reading its consumption"
            ),
        )
    return pd.Series(out, index=consumption.index, dtype=object)


def announcements(raw: RawTable, problems: Problems) -> pd.DataFrame:
    required(raw, ["community_id", "title"], problems)
    start = checked_dates(raw, "valid_from", problems, required=True)
    end = checked_dates(raw, "valid_to", problems, required=False)
    backwards = np.flatnonzero(((start != "") & (end != "") & (end < start)).to_numpy(bool))
    order = f"{raw.name('valid_to')} is before {raw.name('valid_from')}"
    problems.rows(raw, backwards, "valid_to", lambda _v: order, named=True)
    _too_long(raw, "title", MAX_TITLE, problems)
    _too_long(raw, "text", MAX_TEXT, problems)
    text = column_of(raw, "text").str.replace("\r\n", "\n").str.replace("\r", "\n")
    return normalised(
        raw,
        "announcements",
        {
            "community_id": column_of(raw, "community_id"),
            "valid_from": start,
            "valid_to": end,
            "title": column_of(raw, "title"),
            "text": text,
        },
    )


def documents(raw: RawTable, problems: Problems) -> pd.DataFrame:
    """The documents table; `document_id` and `size` are filled in when its files are checked
    (etl.reader.attachments.attach)."""
    required(raw, ["community_id", "title"], problems)
    dates = checked_dates(raw, "date", problems, required=True)
    _too_long(raw, "title", MAX_TITLE, problems)
    kind = per_value(raw, "kind", _document_kind, problems)
    kind = kind.where(column_of(raw, "kind").str.strip() != "", "other")
    name = per_value(raw, "file", attachments.document_name, problems)
    empty = np.flatnonzero((column_of(raw, "file").str.strip() == "").to_numpy(dtype=bool))
    problems.rows(raw, empty, "file", lambda _v: "empty file name")
    community = column_of(raw, "community_id")
    _repeated(
        raw,
        {"community_id": community, "name": name},
        (name != "").to_numpy(dtype=bool),
        "file",
        "the community lists this file already (row {})",
        problems,
    )
    return normalised(
        raw,
        "documents",
        {
            "community_id": community,
            "document_id": "",
            "date": dates,
            "title": column_of(raw, "title"),
            "kind": kind,
            "name": name,
            "size": 0,
        },
    )
