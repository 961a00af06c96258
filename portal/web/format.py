"""Display formats for money and dates, delegated to Babel's data: pl_PL (`1 234,56 zł`,
`24.11.2026`), or en_GB when the request speaks English (`PLN 1,234.56`, `24 Nov 2026`;
portal.i18n's current locale decides).

Money arrives as integer grosze (the published documents) or as a Decimal; it never passes
through float. Babel separates thousands and the currency with a no-break space, so a figure
never wraps in the middle of `1 234,56 zł`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal, parse_pattern

from etl.snapshot.money import to_decimal as grosze_to_decimal
from portal.i18n import current_locale

LOCALE = "pl_PL"
# Residents read times in the community's local time, whatever the server's zone.
LOCAL_ZONE = ZoneInfo("Europe/Warsaw")
# Babel's own pl_PL patterns ("#,##0.00 ¤"), resolved once: format_currency() looks the locale
# and pattern up on every call, which was most of a premises page's render time. Results are
# memoised too (typed, so 100 grosze and Decimal("100") złote stay apart): a page shows the
# same few figures request after request.
_LOCALE = Locale.parse(LOCALE)
_CURRENCY = _LOCALE.currency_formats["standard"]
_PLAIN = parse_pattern("#,##0.00")
_MEMO = 8192
# English: British data (day before month, `24 Nov 2026`: no 11/24 vs 24/11 ambiguity), the
# currency code in front with a no-break space.
_EN = Locale.parse("en_GB")
_EN_CURRENCY = parse_pattern("¤\xa0#,##0.00")
_BABEL = {"pl": LOCALE, "en": "en_GB"}


def to_decimal(amount: int | Decimal | str) -> Decimal:
    """Grosze (int) to złote; a Decimal or a decimal string is taken as złote already."""
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, str):
        return Decimal(amount)
    return grosze_to_decimal(amount)


def money(amount: int | Decimal | str | None) -> str:
    """`123456` → `1 234,56 zł` (no-break spaces), as babel.numbers.format_currency(…, "PLN",
    locale="pl_PL") writes it; in English `PLN 1,234.56`."""
    return _money(amount, current_locale())


@lru_cache(maxsize=_MEMO, typed=True)
def _money(amount: int | Decimal | str | None, locale: str) -> str:
    if amount is None or amount == "":
        return ""
    if locale == "en":
        return _EN_CURRENCY.apply(to_decimal(amount), _EN, currency="PLN")
    return _CURRENCY.apply(to_decimal(amount), _LOCALE, currency="PLN")


def money_plain(amount: int | Decimal | str | None) -> str:
    """`123456` → `1 234,56` (English: `1,234.56`), for table columns whose header names the
    currency."""
    return _money_plain(amount, current_locale())


@lru_cache(maxsize=_MEMO, typed=True)
def _money_plain(amount: int | Decimal | str | None, locale: str) -> str:
    if amount is None or amount == "":
        return ""
    return _PLAIN.apply(to_decimal(amount), _EN if locale == "en" else _LOCALE)


def number(value: int | Decimal | str | None, digits: int | None = None) -> str:
    """A quantity or rate as the source wrote it (`54.30` → `54,30`), decimal comma."""
    if value is None or value == "":
        return ""
    d = Decimal(str(value))
    if digits is None:
        exponent = d.as_tuple().exponent
        digits = max(0, -exponent) if isinstance(exponent, int) else 0
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(d, format=pattern, locale=_BABEL.get(current_locale(), LOCALE))


def parse_date(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def date_pl(value: str | date | None) -> str:
    """`2026-11-24` → `24.11.2026` (English: `24 Nov 2026`). The name is older than the
    English pages; the Polish slip PDF calls it inside `use_locale("pl")`."""
    return _date(value, current_locale())


@lru_cache(maxsize=_MEMO)
def _date(value: str | date | None, locale: str) -> str:
    if value is None or value == "":
        return ""
    if locale == "en":
        return _babel_date(parse_date(value), "d MMM yyyy", locale=_EN)
    return _babel_date(parse_date(value), "dd.MM.yyyy", locale=LOCALE)


def datetime_pl(value: datetime | str | None) -> str:
    """An aware datetime (UTC in storage) → `24.11.2026 14:05` in Polish local time
    (English: `24 Nov 2026, 14:05`, the same local time)."""
    return _datetime(value, current_locale())


@lru_cache(maxsize=1024)
def _datetime(value: datetime | str | None, locale: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError("naive datetime: storage times are UTC and must say so")
    if locale == "en":
        return _babel_datetime(value, "d MMM yyyy, HH:mm", tzinfo=LOCAL_ZONE, locale=_EN)
    return _babel_datetime(value, "dd.MM.yyyy HH:mm", tzinfo=LOCAL_ZONE, locale=LOCALE)
