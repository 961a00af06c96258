"""Validation: raw tables of text become the normalised frames of etl.model, or problems.

Every rule of docs/import-format.md is checked here, and every failure becomes a Problem that
names the file, row and column. The big tables (ledger) are checked column-at-a-time with the
vectorised parsers of etl.reader.cells; only rows that failed are revisited one by one to say why.
Problems beyond the cap are counted, not built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.model import COLUMNS, Problem
from etl.reader import attachments, cells, references
from etl.reader.headers import key
from etl.reader.raw import Problems, RawTable, column_of
from etl.snapshot import money
from etl.snapshot.store import Generation

_POSTAL = re.compile(r"^([0-9]{2})-?([0-9]{3})$")  # 0-9: `\d` takes Arabic-Indic digits too
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _why(parser: Callable[[str], object]) -> Callable[[str], str]:
    def reason(value: str) -> str:
        try:
            parser(value)
        except ValueError as exc:
            return str(exc)
        return "invalid value"

    return reason


def _required(raw: RawTable, names: Iterable[str], problems: Problems) -> None:
    for name in names:
        empty = np.flatnonzero((column_of(raw, name) == "").to_numpy(dtype=bool))
        why = f"{raw.name(name)} must not be empty"
        problems.rows(raw, empty, name, lambda _v, why=why: why, named=True)


def _written(raw: RawTable, name: str, where: np.ndarray) -> np.ndarray:
    """Which of the rows `where` marks hold more than white space in column `name` (as
    str.strip() sees it; the other rows are False)."""
    out = np.zeros(len(where), dtype=bool)
    at = np.flatnonzero(where)
    if len(at):
        texts = column_of(raw, name).iloc[at]
        out[at] = [bool(text.strip()) for text in texts]
    return out


def _duplicates(raw: RawTable, column: str, problems: Problems) -> None:
    series = column_of(raw, column)
    dup = series.duplicated(keep="first").to_numpy(dtype=bool) & (series != "").to_numpy(bool)
    if dup.any():
        first: dict[str, int] = {}
        for value, row in zip(series, raw.frame["_row"], strict=True):
            first.setdefault(value, int(row))
        label = raw.name(column)
        problems.rows(
            raw,
            np.flatnonzero(dup),
            column,
            lambda v: f"duplicate {label}: already in row {first[v]}",
            named=True,
        )


def _money(raw: RawTable, name: str, problems: Problems) -> cells.Parsed:
    parsed = cells.money_column(column_of(raw, name))
    bad = np.flatnonzero(parsed.bad)
    if len(bad) and raw.number_cells is not None and name in raw.number_cells.columns:
        # An XLSX number cell with more than two decimals: round it as Excel shows it.
        numbers = raw.number_cells[name].to_numpy(dtype=bool)
        texts = column_of(raw, name).to_numpy(dtype=object)
        still = []
        for i in bad:
            if numbers[i]:
                try:
                    parsed.values[i] = cells.parse_money(texts[i], from_number_cell=True)
                    parsed.bad[i] = False
                    continue
                except ValueError:
                    pass
            still.append(i)
        bad = np.array(still, dtype=np.int64)
    problems.rows(raw, bad, name, _why(cells.parse_money))
    return parsed


def _dates(raw: RawTable, name: str, problems: Problems, *, required: bool) -> pd.Series:
    parsed = cells.date_column(column_of(raw, name))
    problems.rows(raw, np.flatnonzero(parsed.bad), name, _why(cells.parse_date))
    if required:
        problems.rows(raw, np.flatnonzero(parsed.empty), name, lambda _v: "empty date")
    return parsed.values


def _decimals(raw: RawTable, name: str, problems: Problems) -> pd.Series:
    parsed = cells.decimal_column(column_of(raw, name))
    problems.rows(raw, np.flatnonzero(parsed.bad), name, _why(cells.parse_decimal))
    return parsed.values


def _per_value(
    raw: RawTable,
    name: str,
    parser: Callable[[str], object],
    problems: Problems,
    *,
    column: Callable[[pa.Array], tuple[pa.Array, np.ndarray]] | None = None,
) -> pd.Series:
    """Parse each distinct non-empty value once (few distinct values, or small tables) and
    spread the answers back by index. `column`, a vectorised parser, may answer first for the
    distinct values it can, (texts, answered); `parser` takes the others."""
    series = column_of(raw, name)
    encoded = pc.dictionary_encode(cells._arrow(series))
    codes = encoded.indices
    distinct = encoded.dictionary.to_pylist()
    answered = np.zeros(len(distinct), dtype=bool)
    out: list[object] = [""] * len(distinct)
    if column is not None and distinct:
        texts, answered = column(encoded.dictionary)
        out = texts.to_pylist()
    failed: dict[str, str] = {}
    for i, value in enumerate(distinct):
        if answered[i] or not value.strip():
            continue
        try:
            out[i] = parser(value)
        except ValueError as exc:
            failed[value] = str(exc)
    if failed:
        refused = [i for i, value in enumerate(distinct) if value in failed]
        bad = np.flatnonzero(np.isin(codes.to_numpy(zero_copy_only=False), refused))
        problems.rows(raw, bad, name, lambda v: failed[v])
    if all(isinstance(value, str) for value in out):
        values = pa.array(out, pa.large_string()).take(codes)
        return pd.Series(values.to_pandas().array, index=series.index)
    at = codes.to_numpy(zero_copy_only=False)
    return pd.Series(np.array(out, dtype=object)[at], index=series.index, dtype=object)


def _per_distinct(
    raw: RawTable, name: str, parser: Callable[[str], str], problems: Problems
) -> pd.Series:
    """`_per_value` for a big table of text: each distinct value parsed once and spread back by
    index in Arrow, never a Python call per row. "" where empty or refused."""
    series = column_of(raw, name)
    indices, distinct = cells.distinct(series)
    out: list[str] = []
    failed: dict[int, str] = {}
    for i, value in enumerate(distinct.to_pylist()):
        try:
            out.append(parser(value) if value else "")
        except ValueError as exc:
            failed[i] = str(exc)
            out.append("")
    if failed:
        bad = np.flatnonzero(np.isin(indices, list(failed)))
        reasons = {i: failed[indices[i]] for i in bad.tolist()}
        for i in bad:
            problems.rows(raw, np.array([i]), name, lambda _v, r=reasons[int(i)]: r)
    values = pa.array(out, pa.large_string()).take(pa.array(indices))
    return pd.Series(values.to_pandas().array, index=series.index)


def _frame(raw: RawTable, table: str, columns: dict[str, object]) -> pd.DataFrame:
    out = pd.DataFrame(columns, index=raw.frame.index)[list(COLUMNS[table])]
    out["_file"] = raw.file
    out["_row"] = raw.frame["_row"].to_numpy()
    return out.reset_index(drop=True)


def _postal(text: str) -> str:
    found = _POSTAL.match(text)
    if not found:
        raise ValueError("a postal code is NN-NNN")
    return f"{found.group(1)}-{found.group(2)}"


def _email(text: str) -> str:
    if not _EMAIL.match(text):
        raise ValueError("not an e-mail address")
    return text


def communities(raw: RawTable, problems: Problems) -> pd.DataFrame:
    _required(raw, ["community_id", "name", "street", "postal_code", "city"], problems)
    _duplicates(raw, "community_id", problems)
    account = column_of(raw, "bank_account")
    empty = np.flatnonzero((account == "").to_numpy(dtype=bool))
    problems.rows(raw, empty, "bank_account", lambda _v: "the community's account is required")
    as_of = _dates(raw, "as_of", problems, required=True)
    return _frame(
        raw,
        "communities",
        {
            **{c: column_of(raw, c) for c in ("community_id", "name", "street", "city")},
            "postal_code": _per_value(raw, "postal_code", _postal, problems),
            "bank_account": _per_value(raw, "bank_account", cells.parse_nrb, problems),
            "nip": _per_value(raw, "nip", cells.parse_nip, problems),
            "as_of": as_of,
            "fee_notes": [None] * len(raw.frame),
            "as_of_parts": [None] * len(raw.frame),
        },
    )


def _per_community(
    community: pd.Series, places: dict[str, tuple[str, str]]
) -> tuple[pd.Series, pd.Series]:
    """Each row's community's (postal code, city), looked up once per community."""
    encoded = pc.dictionary_encode(cells._arrow(community))
    known = [places.get(c, ("", "")) for c in encoded.dictionary.to_pylist()]
    postal, city = (
        pa.array([k[part] for k in known], pa.large_string()).take(encoded.indices)
        for part in (0, 1)
    )
    return (
        pd.Series(postal.to_pandas().array, index=community.index),
        pd.Series(city.to_pandas().array, index=community.index),
    )


def premises(
    raw: RawTable, problems: Problems, community_places: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    _required(raw, ["premises_id", "community_id", "number", "street", "payer_name"], problems)
    _duplicates(raw, "premises_id", problems)
    area = _decimals(raw, "area_m2", problems)
    negative = np.flatnonzero(area.str.startswith("-").to_numpy(dtype=bool))
    problems.rows(raw, negative, "area_m2", lambda _v: "an area cannot be negative")
    shares = _per_value(
        raw,
        "share",
        lambda v: cells.decimal_text(cells.parse_share(v)),
        problems,
        column=cells.share_texts,
    )

    def occupants_of(text: str) -> int:
        value = cells.parse_int(text)
        if value < 0:
            raise ValueError("the number of occupants cannot be negative")
        return value

    occupants = _per_value(raw, "occupants", occupants_of, problems)
    occupants = pd.Series(
        [None if v == "" else int(v) for v in occupants], dtype=object, index=raw.frame.index
    )
    community = column_of(raw, "community_id")
    postal = _per_value(raw, "postal_code", _postal, problems)
    default_postal, default_city = _per_community(community, community_places)
    postal = postal.where(postal != "", default_postal)
    city = column_of(raw, "city")
    city = city.where(city != "", default_city)
    street, number = column_of(raw, "street"), column_of(raw, "number")
    place = (postal + " " + city).str.strip()
    address = street + "/" + number + (", " + place).where(place != "", "")
    payer_address = column_of(raw, "payer_address")
    payer_address = payer_address.where(payer_address != "", address)
    return _frame(
        raw,
        "premises",
        {
            **{c: column_of(raw, c) for c in ("premises_id", "community_id", "kind", "payer_name")},
            "number": number,
            "street": street,
            "postal_code": postal,
            "city": city,
            "area_m2": area,
            "share": shares,
            "occupants": occupants,
            "payer_address": payer_address,
            "bank_account": _per_value(raw, "bank_account", cells.parse_nrb, problems),
            "email": _per_value(raw, "email", _email, problems),
        },
    )


def ledger(raw: RawTable, problems: Problems) -> pd.DataFrame:
    _required(raw, ["premises_id"], problems)
    dates = _dates(raw, "date", problems, required=True)
    period = cells.period_column(column_of(raw, "period"))
    problems.rows(raw, np.flatnonzero(period.bad), "period", _why(cells.parse_period))
    charge = _money(raw, "charge", problems)
    payment = _money(raw, "payment", problems)
    neither = np.flatnonzero(charge.empty & payment.empty)
    both = f"a {raw.name('charge')} or a {raw.name('payment')}"
    problems.rows(
        raw,
        neither,
        "charge",
        lambda _v: f"a ledger row needs {both} (both are empty)",
        named=True,
    )
    return _frame(
        raw,
        "ledger",
        {
            **{c: column_of(raw, c) for c in ("premises_id", "description", "document")},
            "date": dates,
            "period": period.values,
            "charge": charge.values,
            "payment": payment.values,
            "details": None,
        },
    )


def fees(raw: RawTable, problems: Problems) -> pd.DataFrame:
    _required(raw, ["premises_id", "component"], problems)
    quantity = _decimals(raw, "quantity", problems)
    rate = _decimals(raw, "rate", problems)
    amount = _money(raw, "amount", problems)
    values = amount.values.copy()
    missing = amount.empty
    has_q, has_r = (quantity != "").to_numpy(bool), (rate != "").to_numpy(bool)
    # A quantity or rate written but not a number is reported already: no second problem.
    refused = _written(raw, "quantity", missing & ~has_q) | _written(raw, "rate", missing & ~has_r)
    computed = np.flatnonzero(missing & ~refused & has_q & has_r)
    if len(computed):
        at = pa.array(computed)
        grosze, exact = cells.product_grosze(
            pa.array(quantity.array).take(at), pa.array(rate.array).take(at)
        )
        values[computed] = grosze
        huge: list[int] = []
        for i in computed[~exact]:  # too many digits for int64 arithmetic: in Decimal
            q, r = Decimal(quantity.iloc[i]), Decimal(rate.iloc[i])
            product = money.from_decimal(q * r)
            if abs(product) >= cells.MAX_GROSZE:
                huge.append(int(i))
            else:
                values[i] = product
        huge += computed[np.abs(values[computed]) >= cells.MAX_GROSZE].tolist()
        values[huge] = 0
        problems.rows(
            raw,
            np.array(sorted(set(huge)), dtype=np.int64),
            "amount",
            lambda _v: "quantity × rate is too large an amount",
        )
    problems.rows(
        raw,
        np.flatnonzero(missing & ~refused & ~(has_q & has_r)),
        "amount",
        lambda _v: "no amount, and no quantity and rate to compute it from",
    )
    return _frame(
        raw,
        "fees",
        {
            **{c: column_of(raw, c) for c in ("premises_id", "component", "basis")},
            "quantity": quantity,
            "rate": rate,
            "amount": values,
            "valid_from": _dates(raw, "valid_from", problems, required=False),
        },
    )


def allowances(raw: RawTable, problems: Problems) -> pd.DataFrame:
    _required(raw, ["premises_id"], problems)
    start = _dates(raw, "valid_from", problems, required=True)
    end = _dates(raw, "valid_to", problems, required=True)
    amount = _money(raw, "monthly_amount", problems)
    problems.rows(raw, np.flatnonzero(amount.empty), "monthly_amount", lambda _v: "empty amount")
    backwards = np.flatnonzero(((start != "") & (end != "") & (end < start)).to_numpy(bool))
    order = f"{raw.name('valid_to')} is before {raw.name('valid_from')}"
    problems.rows(raw, backwards, "valid_to", lambda _v: order, named=True)
    return _frame(
        raw,
        "allowances",
        {
            **{c: column_of(raw, c) for c in ("premises_id", "decision", "issuer")},
            "valid_from": start,
            "valid_to": end,
            "monthly_amount": amount.values,
        },
    )


# -- the optional tables: meter readings, announcements, community documents ---------------

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
    _required(raw, ["premises_id", "meter"], problems)
    dates = _dates(raw, "date", problems, required=True)
    reading = _decimals(raw, "reading", problems)
    empty = np.flatnonzero((column_of(raw, "reading").str.strip() == "").to_numpy(dtype=bool))
    problems.rows(raw, empty, "reading", lambda _v: "empty reading")
    _not_negative(raw, "reading", reading, problems)
    consumption = _decimals(raw, "consumption", problems)
    _not_negative(raw, "consumption", consumption, problems)
    meter = _per_distinct(raw, "meter", _meter, problems)
    units = _per_distinct(raw, "unit", _unit, problems)
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
    return _frame(
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
    _required(raw, ["community_id", "title"], problems)
    start = _dates(raw, "valid_from", problems, required=True)
    end = _dates(raw, "valid_to", problems, required=False)
    backwards = np.flatnonzero(((start != "") & (end != "") & (end < start)).to_numpy(bool))
    order = f"{raw.name('valid_to')} is before {raw.name('valid_from')}"
    problems.rows(raw, backwards, "valid_to", lambda _v: order, named=True)
    _too_long(raw, "title", MAX_TITLE, problems)
    _too_long(raw, "text", MAX_TEXT, problems)
    text = column_of(raw, "text").str.replace("\r\n", "\n").str.replace("\r", "\n")
    return _frame(
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
    _required(raw, ["community_id", "title"], problems)
    dates = _dates(raw, "date", problems, required=True)
    _too_long(raw, "title", MAX_TITLE, problems)
    kind = _per_value(raw, "kind", _document_kind, problems)
    kind = kind.where(column_of(raw, "kind").str.strip() != "", "other")
    name = _per_value(raw, "file", attachments.document_name, problems)
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
    return _frame(
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


def _community_places(
    raws: dict[str, RawTable], previous: Generation | None
) -> dict[str, tuple[str, str]]:
    """(postal code, city) of every community a premises row may default to."""
    places: dict[str, tuple[str, str]] = {}
    if "communities" in raws:
        for cid, postal, city in zip(
            column_of(raws["communities"], "community_id"),
            column_of(raws["communities"], "postal_code"),
            column_of(raws["communities"], "city"),
            strict=True,
        ):
            try:
                postal = _postal(postal)
            except ValueError:
                pass
            places.setdefault(cid, (postal, city))
    if previous is not None and "premises" in raws:
        wanted = set(column_of(raws["premises"], "community_id")) - set(places)
        for cid in wanted & set(previous.community_ids()):
            for doc in previous.documents([cid]):
                c = doc.get("community", {})
                places[cid] = (c.get("postal_code", ""), c.get("city", ""))
                break
    return places


VALIDATORS = {
    "communities": communities,
    "ledger": ledger,
    "fees": fees,
    "allowances": allowances,
    "readings": readings,
    "announcements": announcements,
    "documents": documents,
}


def validate(
    raw_tables: list[RawTable],
    previous: Generation | None,
    *,
    unreadable: Iterable[str] = (),
) -> tuple[dict[str, pd.DataFrame], list[Problem], int]:
    """(normalised tables, the first problems, total number of problems). `unreadable` names
    tables the bundle has but that could not be read (their problem is already said): rows of
    other tables are not checked against them, lest one cause give a problem per row."""
    problems = Problems()
    raws = {raw.table: raw for raw in raw_tables}
    tables: dict[str, pd.DataFrame] = {}
    for table, raw in raws.items():
        if raw.done is not None:  # validated as it was read
            tables[table] = raw.done
            if raw.found is not None:
                problems.extend(raw.found)
        elif table == "premises":
            tables[table] = premises(raw, problems, _community_places(raws, previous))
        else:
            tables[table] = VALIDATORS[table](raw, problems)
    references.check(tables, raws, previous, problems, unreadable=set(unreadable))
    return tables, problems.items, problems.total
