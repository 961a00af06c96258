"""The cell parsers: what an accountant's spreadsheet may hold, and what we make of it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from etl.reader import cell_columns, cells


@pytest.mark.parametrize(
    ("text", "grosze"),
    [
        ("1234.56", 123456),
        ("1234,56", 123456),
        ("1 234,56", 123456),
        ("1\u00a0234,56", 123456),
        ("1\u202f234,56", 123456),
        ("1.234,56", 123456),
        ("1.234.567,00", 123456700),
        ("1,234.56", 123456),
        ("-12,00", -1200),
        ("12,00 zł", 1200),
        ("12,00zł", 1200),
        ("12 PLN", 1200),
        ("  7,5 ", 750),
        ("+5", 500),
        ("0,01", 1),
        ("-0,50", -50),
        ("12,", 1200),
    ],
)
def test_money_formats(text: str, grosze: int) -> None:
    assert cells.parse_money(text) == grosze


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "not a number"),
        ("12.345", "more than 2 decimal places"),
        ("1 23,45", "groups of 3"),
        ("1,2,3", "not a number"),
        ("12-00", "not a number"),
        ("", "empty"),
        ("12,00 EUR", "not a number"),
        ("1234567890123456", "too large"),
    ],
)
def test_money_junk_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        cells.parse_money(text)


def test_money_from_an_xlsx_number_cell_rounds_half_up_as_excel_shows_it() -> None:
    # 54,30 × 3,15 computed by Excel: the float 171.04499999999999 shows as 171,05.
    text = f"{54.30 * 3.15:.15g}"
    assert cells.parse_money(text, from_number_cell=True) == 17105
    with pytest.raises(ValueError):
        cells.parse_money(text)


def test_money_column_agrees_with_scalar_parser() -> None:
    texts = [
        "1234,56",
        "",
        "-12,00",
        "1 234,56",
        "1\u00a0234,56 zł",
        "1.234,56",
        "12,00 zł",
        "abc",
        "12.345",
        "+5",
        " 7,5 ",
        "   ",
        "1,5",
        "-0,01",
    ]
    parsed = cell_columns.money_column(pd.Series(texts, dtype="str"))
    for i, text in enumerate(texts):
        if not text.strip():
            assert parsed.empty[i] and not parsed.bad[i]
            continue
        try:
            expected = cells.parse_money(text)
        except ValueError:
            assert parsed.bad[i], text
        else:
            assert not parsed.bad[i] and parsed.values[i] == expected, text


def test_decimal_column_normalises_notation() -> None:
    parsed = cell_columns.decimal_column(pd.Series(["54,30", "1 234,5", "", "x", "-3", "0.0523"]))
    assert list(parsed.values) == ["54.30", "1234.5", "", "", "-3", "0.0523"]
    assert list(parsed.bad) == [False, False, False, True, False, False]
    assert list(parsed.empty) == [False, False, True, False, False, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24.11.2026", date(2026, 11, 24)),
        ("2026-11-24", date(2026, 11, 24)),
        ("24-11-2026", date(2026, 11, 24)),
        ("1.2.2026", date(2026, 2, 1)),
        (" 29.02.2024 ", date(2024, 2, 29)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert cells.parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("31.02.2026", "no such day"),
        ("29.02.2026", "no such day"),
        ("11/24/2026", "not a date"),
        ("2026.11.24", "not a date"),
        ("24.11.26", "not a date"),
        ("24.11-2026", "not a date"),
        ("", "empty"),
    ],
)
def test_bad_dates(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        cells.parse_date(text)


def test_date_column_agrees_with_scalar_parser() -> None:
    texts = [
        "24.11.2026",
        "2026-11-24",
        "24-11-2026",
        "1.2.2026",
        "31.02.2026",
        "x",
        "",
        "24.11-2026",
        "2026-1-5",
    ]
    parsed = cell_columns.date_column(pd.Series(texts, dtype="str"))
    for i, text in enumerate(texts):
        if not text:
            assert parsed.empty[i]
            continue
        try:
            expected = cells.parse_date(text).isoformat()
        except ValueError:
            assert parsed.bad[i], text
        else:
            assert parsed.values.iloc[i] == expected and not parsed.bad[i], text


def test_periods() -> None:
    assert cells.parse_period("2026-01") == "2026-01"
    assert cells.parse_period("01/2026") == "2026-01"
    assert cells.parse_period("1.2026") == "2026-01"
    assert cells.parse_period("2026-03-01") == "2026-03"  # an XLSX date cell
    with pytest.raises(ValueError, match="outside 1-12"):
        cells.parse_period("13/2026")
    parsed = cell_columns.period_column(pd.Series(["2026-01", "01/2026", "zly", ""]))
    assert list(parsed.values) == ["2026-01", "2026-01", "", ""]
    assert list(parsed.bad) == [False, False, True, False]


@pytest.mark.parametrize(
    "text",
    [
        "61109010140000071219812874",
        "61 1090 1014 0000 0712 1981 2874",
        "PL61109010140000071219812874",
        "PL 61 1090 1014 0000 0712 1981 2874",
        "pl61-1090-1014-0000-0712-1981-2874",
    ],
)
def test_nrb_accepts_spaces_and_pl(text: str) -> None:
    assert cells.parse_nrb(text) == "61109010140000071219812874"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("61109010140000071219812875", "check digits"),
        ("6110901014000007121981287", "has 25"),
        ("DE61109010140000071219812874", "only digits"),
        ("6.11090101400001E+25", "stored as a number"),
    ],
)
def test_nrb_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        cells.parse_nrb(text)


def test_nip() -> None:
    assert cells.parse_nip("123-456-32-18") == "1234563218"
    assert cells.parse_nip("PL 1234563218") == "1234563218"
    with pytest.raises(ValueError, match="check digit"):
        cells.parse_nip("1234563219")
    with pytest.raises(ValueError, match="10 digits"):
        cells.parse_nip("12345")


def test_shares() -> None:
    assert cells.parse_share("0,0523") == Decimal("0.0523")
    assert cells.parse_share("523/10000") == Decimal("0.0523")
    assert cells.parse_share("1/1") == Decimal("1")
    assert cells.decimal_text(cells.parse_share("1/2")) == "0.5"
    for bad, reason in [
        ("0", "above 0"),
        ("1,5", "at most 1"),
        ("5/0", "zero"),
        ("a/b", "two whole numbers"),
        ("-1/4", "above 0"),
    ]:
        with pytest.raises(ValueError, match=reason):
            cells.parse_share(bad)


def test_ints() -> None:
    assert cells.parse_int("3") == 3
    assert cells.parse_int("3,0") == 3
    with pytest.raises(ValueError, match="whole number"):
        cells.parse_int("2,5")
    with pytest.raises(ValueError, match="whole number"):
        cells.parse_int("trzy")


def test_money_column_over_chunked_and_sliced_arrow_data() -> None:
    import random

    import pyarrow as pa

    rng = random.Random(7)
    texts = [f"{rng.randint(-(10**14), 10**14) / 100:.2f}".replace(".", ",") for _ in range(3000)]
    texts += ["999999999999999,99", "-999999999999999,99", "0", "", "1 234,50"]
    rng.shuffle(texts)
    chunks = [
        pa.array(["x"] + texts[:1000], pa.large_string()).slice(1),
        pa.array(texts[1000:], pa.large_string()),
    ]
    series = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())))
    parsed = cell_columns.money_column(series)
    expected = [cells.parse_money(t) if t else 0 for t in texts]
    assert parsed.values.tolist() == expected
    assert not parsed.bad.any()
    assert parsed.empty.tolist() == [t == "" for t in texts]


NOT_ASCII = ["٢٠٢٦", "۲۰۲۶", "２０２６", "2０26"]  # Arabic-Indic, Persian, fullwidth, mixed


@pytest.mark.parametrize("digits", NOT_ASCII)
def test_digits_that_are_not_ascii_are_refused_by_scalar_and_column_parsers(digits: str) -> None:
    """`\\d` and int() take any Unicode digit; Arrow's column checks take 0-9 only. A cell the
    column check refuses must get the scalar parser's reason, not a bare "invalid value", and a
    period must not slip through as `2026-01`."""
    for parse, text in [
        (cells.parse_money, f"{digits},50"),
        (cells.parse_decimal, f"{digits},5"),
        (cells.parse_date, f"01.01.{digits}"),
        (cells.parse_date, f"{digits}-01-01"),
        (cells.parse_period, f"{digits}-01"),
        (cells.parse_share, f"1/{digits}"),
        (cells.parse_int, digits),
        (cells.parse_nip, digits * 2 + "00"),
    ]:
        with pytest.raises(ValueError):
            parse(text)
    column = pd.Series([f"{digits},50", "12,50"])
    assert list(cell_columns.money_column(column).bad) == [True, False]
    assert list(cell_columns.period_column(pd.Series([f"{digits}-01"])).bad) == [True]
    assert list(cell_columns.date_column(pd.Series([f"01.01.{digits}"])).bad) == [True]
    assert list(cell_columns.decimal_column(pd.Series([f"{digits},5"])).bad) == [True]


def test_superscript_digits_are_not_a_nip() -> None:
    with pytest.raises(ValueError, match="10 digits"):
        cells.parse_nip("²" * 10)


def test_product_grosze_is_the_decimal_product_rounded_half_up() -> None:
    """quantity × rate in int64 arithmetic gives exactly what Decimal gives (or says it cannot:
    too many digits), halves rounded away from zero included."""
    import random

    import pyarrow as pa

    from etl.snapshot import money

    rng = random.Random(14)

    def number() -> str:
        whole = str(rng.choice([0, 1, 7, rng.randint(0, 999), rng.randint(0, 10**12)]))
        frac = "".join(rng.choice("0123456789") for _ in range(rng.choice([0, 1, 2, 3, 4, 9, 11])))
        return ("-" if rng.random() < 0.2 else "") + whole + (f".{frac}" if frac else "")

    pairs = [(number(), number()) for _ in range(20000)]
    pairs += [("54.30", "3.15"), ("-54.30", "3.15"), ("0.005", "1"), ("-0.005", "1"),
              ("0.0049", "1"), ("2999999999", "2999999999"), ("999999999", "999999999"),
              ("0.000000001", "0.000000005"), ("10", "0"), ("-0", "5.5")]  # fmt: skip
    left, right = (pa.array(side, pa.large_string()) for side in zip(*pairs, strict=True))
    grosze, ok = cell_columns.product_grosze(left, right)
    assert ok[:-10].sum() > 5000  # most take the fast road
    for (q, r), value, exact in zip(pairs, grosze.tolist(), ok.tolist(), strict=True):
        if exact:
            assert value == money.from_decimal(Decimal(q) * Decimal(r)), (q, r)
    assert ok[-10:].tolist() == [True] * 5 + [False] * 2 + [True] * 3  # × 100 would overflow
    assert grosze[-10:-5].tolist() == [17105, -17105, 1, -1, 0]
    assert grosze[-3:].tolist() == [0, 0, 0]


def test_share_texts_agree_with_the_scalar_parser() -> None:
    """The vectorised shares answer exactly as decimal_text(parse_share(v)) would, and leave
    every value they cannot answer so (signs, spaces, zero, above 1, long numbers) to it."""
    import random

    import pyarrow as pa

    rng = random.Random(23)
    texts = ["1/1", "1/2", "1/3", "2/3", "1/999999999", "999999999/999999999", "5/0", "0/5",
             "3/2", "-1/4", "1 /4", "1/4 ", "0,0523", "0.052300", "0,000", "0,", "1", "1,",
             "1.000", "1,5", "0", "00,5", "1234567890/9999999999", "0,123456789012345678901",
             "1/8", "1/16", "1/2048", "7/1024000000"]  # fmt: skip
    for _ in range(5000):
        den = rng.choice([rng.randint(1, 10**9 - 1), rng.randint(1, 1000), 2 ** rng.randint(0, 29)])
        texts.append(f"{rng.randint(1, den)}/{den}")
        texts.append("0," + str(rng.randint(0, 10 ** rng.randint(1, 12))).zfill(rng.randint(1, 14)))
    answers, answered = cell_columns.share_texts(pa.array(texts, pa.large_string()))
    assert answered.sum() > 9000
    for text, answer, done in zip(texts, answers.to_pylist(), answered.tolist(), strict=True):
        try:
            expected = cells.decimal_text(cells.parse_share(text))
        except ValueError:
            assert not done, text
        else:
            assert not done or answer == expected, text
