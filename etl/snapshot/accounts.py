"""The Polish bank account number (NRB): 26 digits whose first two are IBAN check digits.

The import refuses a community account that fails the check; the slip prints an individual
account only when it passes. Both ask `nrb_digits`."""

from __future__ import annotations

import re

from stdnum.iso7064 import mod_97_10

_SEPARATORS = re.compile(r"[\s\u00a0\-]")


def nrb_digits(text: str | None) -> str:
    """The 26 digits of a valid NRB, from any spacing, dashes or a leading `PL`; '' when the
    text is not a valid NRB (use `nrb_problem` to say why)."""
    digits = _clean(text or "")
    return digits if nrb_problem(digits) is None else ""


def nrb_problem(text: str) -> str | None:
    """Why `text` is not a valid NRB, in words for the accountant; None when it is one."""
    s = _clean(text)
    if re.fullmatch(r"[0-9.]+E\+?\d+", s):
        return (
            "the account number was stored as a number and lost digits; format the column as text"
        )
    if not s.isdigit() or not s.isascii():
        return "an account number has only digits (26, optionally after PL)"
    if len(s) != 26:
        return f"an account number has 26 digits, this one has {len(s)}"
    # ISO 7064 mod 97-10 over the BBAN, the country code (PL = 25 21) and the check digits:
    # the whole IBAN check, since a PL IBAN is just these 26 digits.
    if not mod_97_10.is_valid(s[2:] + "2521" + s[:2]):
        return "wrong account number: the check digits do not match"
    return None


def group_nrb(digits: str) -> str:
    """`61109010140000071219812874` → `61 1090 1014 0000 0712 1981 2874`."""
    return " ".join([digits[:2]] + [digits[i : i + 4] for i in range(2, len(digits), 4)])


def _clean(text: str) -> str:
    s = _SEPARATORS.sub("", text).upper()
    return s[2:] if s.startswith("PL") else s
