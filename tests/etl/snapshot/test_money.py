"""Grosze <-> decimal text: the one conversion the importer and the portal share."""

from decimal import Decimal

import pytest

from etl.snapshot import money


def test_fee_rounding_is_decimal_half_up() -> None:
    assert money.from_decimal(Decimal("54.30") * Decimal("3.15")) == 17105
    assert money.from_decimal(Decimal("-0.005")) == -1


@pytest.mark.parametrize(
    ("grosze", "dot", "comma"),
    [
        (123456, "1234.56", "1234,56"),
        (-5, "-0.05", "-0,05"),
        (0, "0.00", "0,00"),
        (100, "1.00", "1,00"),
        (10**17 - 1, "999999999999999.99", "999999999999999,99"),
    ],
)
def test_decimal_text_is_exact_and_plain(grosze: int, dot: str, comma: str) -> None:
    assert money.decimal_text(grosze) == dot
    assert money.decimal_text(grosze, ",") == comma
    assert money.to_decimal(grosze) == Decimal(dot)


def test_to_decimal_refuses_what_is_not_grosze() -> None:
    with pytest.raises(TypeError):
        money.to_decimal(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        money.to_decimal(True)
