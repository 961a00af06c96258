"""The NRB check that the import and the slip share."""

import pytest

from etl.snapshot.accounts import group_nrb, nrb_digits, nrb_problem

VALID = "61109010140000071219812874"


@pytest.mark.parametrize(
    "text",
    [
        VALID,
        "61 1090 1014 0000 0712 1981 2874",
        "PL61109010140000071219812874",
        "pl 61-1090-1014-0000-0712-1981-2874",
    ],
)
def test_a_valid_account_in_any_spelling(text: str) -> None:
    assert nrb_problem(text) is None
    assert nrb_digits(text) == VALID


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("61109010140000071219812875", "check digits"),
        ("6110901014000007121981287", "26 digits"),
        ("6.11090101400000E+25", "stored as a number"),
        ("61109010140000071219812A74", "only digits"),
    ],
)
def test_an_invalid_account_says_why_and_yields_no_digits(text: str, why: str) -> None:
    assert why in (nrb_problem(text) or "")
    assert nrb_digits(text) == ""


def test_grouping_as_printed() -> None:
    assert group_nrb(VALID) == "61 1090 1014 0000 0712 1981 2874"
