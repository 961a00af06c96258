from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portal.web.format import date_pl, datetime_pl, money, money_plain, number

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (123456, f"1{NBSP}234,56{NBSP}zł"),
        (Decimal("1234.56"), f"1{NBSP}234,56{NBSP}zł"),
        (5, f"0,05{NBSP}zł"),
        (0, f"0,00{NBSP}zł"),
        (-1500050, f"-15{NBSP}000,50{NBSP}zł"),
        (123456789012, f"1{NBSP}234{NBSP}567{NBSP}890,12{NBSP}zł"),
    ],
)
def test_money_is_polish_with_no_break_spaces(amount, shown):
    assert money(amount) == shown


def test_money_does_not_wrap_and_reads_as_the_brief_writes_it():
    assert money(123456).replace(NBSP, " ") == "1 234,56 zł"
    assert " " not in money(123456)


def test_money_plain_has_no_currency():
    assert money_plain(123456) == f"1{NBSP}234,56"
    assert money_plain(None) == ""


def test_money_refuses_float_and_bool():
    with pytest.raises(TypeError):
        money(12.5)
    with pytest.raises(TypeError):
        money(True)


def test_number_keeps_the_source_precision_with_a_decimal_comma():
    assert number("54.30") == "54,30"
    assert number("0.0523") == "0,0523"
    assert number("3") == "3"
    assert number("") == ""


def test_dates():
    assert date_pl("2026-11-24") == "24.11.2026"
    assert date_pl(date(2026, 1, 5)) == "05.01.2026"
    assert date_pl(None) == ""


def test_datetime_is_shown_in_polish_local_time():
    # 23:30 UTC on 24 Nov is already 25 Nov in Warsaw (CET, UTC+1); summer time is UTC+2.
    assert datetime_pl(datetime(2026, 11, 24, 23, 30, tzinfo=UTC)) == "25.11.2026 00:30"
    assert datetime_pl(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "01.07.2026 12:00"


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        datetime_pl(datetime(2026, 11, 24, 10, 0))


@pytest.mark.parametrize("grosze", [0, 5, -5, 99, 123456, -1500050, 10**12 + 1])
def test_money_matches_babel_format_currency(grosze):
    from babel.numbers import format_currency

    expected = format_currency(Decimal(grosze) / 100, "PLN", locale="pl_PL")
    assert money(grosze) == expected
    assert money(Decimal(grosze) / 100) == expected


def test_grosze_and_zlote_are_not_confused_by_the_memo():
    assert money(100) == f"1,00{NBSP}zł"
    assert money(Decimal("100")) == f"100,00{NBSP}zł"
