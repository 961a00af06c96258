"""What goes on a payment slip: the amount a resident asked for, checked and in words, the
recipient's account in NRB groups, a default title, and the QR payload a banking app reads.

Pure functions over a published premises document (docs/snapshots.md); the views and the
templates only lay out what `build_slip` returns.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import date

import slownie

from etl.snapshot.accounts import group_nrb, nrb_digits
from etl.snapshot.document import Document
from etl.snapshot.money import decimal_text
from portal.i18n import gettext as _

MAX_GROSZE = 9_999_999_999  # 99 999 999,99 zł: the widest amount the form's boxes hold
QR_MAX_GROSZE = 999_999  # the QR amount field has 6 digits; above it the payer types the amount
QR_RECIPIENT_MAX = 20
QR_TITLE_MAX = 32
QR_MAX_LENGTH = 160
TITLE_MAX = 54  # two boxed lines of the form ("tytułem", "tytułem cd.")
BOX_CHARS = 27  # boxes in one line of the Polish transfer form

_AMOUNT = re.compile(r"(?P<zl>[0-9]+)(?:[.,](?P<gr>[0-9]{1,2}))?")
_SPACES = re.compile(r"[ \u00a0\u202f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class SlipError(ValueError):
    """Input a resident typed that cannot go on a slip; the message is Polish, for the form."""


class AmountError(SlipError):
    pass


class TitleError(SlipError):
    pass


class NoAccountError(SlipError):
    """Neither the premises nor the community has a valid account number in the data."""


def parse_amount(text: str) -> int:
    """`123,45`, `123.45` or `1 234,5` → grosze. Anything else, nothing or too much → AmountError.

    Grouping with spaces is accepted (residents copy amounts from statements); grouping with
    `.` or `,` is not, because `1,234` would be ambiguous.
    """
    cleaned = _SPACES.sub("", (text or "").strip())
    if cleaned.lower().endswith("zł"):
        cleaned = cleaned[:-2]
    if not cleaned:
        raise AmountError(_("Podaj kwotę."))
    if cleaned.startswith("-"):
        raise AmountError(_("Kwota musi być większa od zera."))
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        if re.fullmatch(r"[0-9]+[.,][0-9]{3,}", cleaned):
            raise AmountError(_("Kwota może mieć najwyżej dwa miejsca po przecinku, np. 123,45."))
        raise AmountError(_("Kwota musi być liczbą, np. 123,45."))
    zl = match["zl"].lstrip("0")
    if len(zl) > len(str(MAX_GROSZE // 100)):  # before int(): 5,000 digits would raise
        raise AmountError(_("Kwota może wynosić najwyżej 99 999 999,99 zł."))
    grosze = int(zl or "0") * 100 + int((match["gr"] or "0").ljust(2, "0"))
    if grosze <= 0:
        raise AmountError(_("Kwota musi być większa od zera."))
    if grosze > MAX_GROSZE:
        raise AmountError(_("Kwota może wynosić najwyżej 99 999 999,99 zł."))
    return grosze


def amount_plain(grosze: int) -> str:
    """`12345` → `123,45`: the figure for the form's boxes and for the form field."""
    return decimal_text(grosze, ",")


def amount_in_words(grosze: int) -> str:
    """`12345` → `sto dwadzieścia trzy złote 45/100`, the wording banks expect.

    slownie works on floats; handing it whole złote and writing the grosze here keeps large
    amounts exact.
    """
    return f"{slownie.slownie_zl(grosze // 100)} {grosze % 100:02d}/100"


def clean_text(value: str | None) -> str:
    """Control characters out, runs of whitespace to one space, NFC (what banks store)."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", value or ""))
    return " ".join(text.split())


def clean_title(value: str | None) -> str:
    title = clean_text(value)
    if not title:
        raise TitleError(_("Podaj tytuł przelewu."))
    if len(title) > TITLE_MAX:
        raise TitleError(
            _("Tytuł może mieć najwyżej %(max)d znaki (dwa wiersze formularza); ten ma %(n)d.")
            % {"max": TITLE_MAX, "n": len(title)}
        )
    return title


def default_title(doc: Document) -> str:
    """`Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026`: the month is the data's as-of date.

    Shortened step by step so it always fits the form's two title lines.
    """
    premises = doc["premises"]
    month = date.fromisoformat(doc["community"]["as_of"]).strftime("%m/%Y")
    number = clean_text(str(premises.get("number") or doc["premises_id"]))
    street = clean_text(premises.get("street"))
    candidates = [
        f"Opłaty za lokal {number}, {street}, {month}" if street else "",
        f"Opłaty za lokal {number}, {month}",
        f"Opłaty {number}, {month}",
    ]
    for candidate in candidates:
        if candidate and len(candidate) <= TITLE_MAX:
            return candidate
    return candidates[-1][:TITLE_MAX]


def _field(value: str, limit: int) -> str:
    return clean_text(value.replace("|", " "))[:limit].rstrip()


def qr_payload(*, nip: str, account: str, grosze: int, recipient: str, title: str) -> str:
    """The ZBP recommendation's 2D-code payload for payment documents:
    `NIP|PL|NRB|amount in grosze (6 digits)|recipient (≤20)|title (≤32)|||`.

    An amount the 6 digits cannot hold is written `000000`, which banking apps read as
    "the payer types it".
    """
    nip_digits = re.sub(r"[^0-9]", "", nip or "")
    if len(nip_digits) != 10:
        nip_digits = ""
    amount = f"{grosze:06d}" if 0 < grosze <= QR_MAX_GROSZE else "000000"
    fields = [
        nip_digits,
        "PL",
        account,
        amount,
        _field(recipient, QR_RECIPIENT_MAX),
        _field(title, QR_TITLE_MAX),
        "",
        "",
        "",
    ]
    payload = "|".join(fields)
    assert len(payload) <= QR_MAX_LENGTH, payload  # bounded by the field limits above
    return payload


def box_lines(texts: list[str], lines: int, width: int = BOX_CHARS) -> list[str]:
    """Texts in order of importance wrapped at word boundaries into `lines` boxed lines of
    `width` characters, each starting on a line of its own: the name first, whole if it fits,
    then as much of the address as is left room for. The receipt stub carries both whole."""
    out: list[str] = []
    for text in texts:
        out.extend(textwrap.wrap(clean_text(text), width)[: lines - len(out)])
    return out + [""] * (lines - len(out))


@dataclass(frozen=True)
class Slip:
    recipient_name: str
    recipient_address: str
    account: str  # 26 digits
    account_grouped: str
    grosze: int
    amount: str  # 123,45
    amount_words: str
    payer_name: str
    payer_address: str
    title: str
    qr_payload: str
    recipient_lines: list[str]
    payer_lines: list[str]
    title_lines: list[str]


def payee_account(doc: Document) -> str:
    """The premises' individual account when it has a valid one, otherwise the community's."""
    own = nrb_digits(doc["premises"].get("bank_account"))
    return own or nrb_digits(doc["community"].get("bank_account"))


def build_slip(doc: Document, grosze: int, title: str) -> Slip:
    """Everything the form shows, from a premises document and checked input."""
    account = payee_account(doc)
    if not account:
        raise NoAccountError(
            _("W danych wspólnoty brakuje poprawnego numeru rachunku; skontaktuj się z zarządcą.")
        )
    community = doc["community"]
    premises = doc["premises"]
    recipient_name = clean_text(community.get("name"))
    recipient_address = clean_text(
        f"{community.get('street') or ''}, {community.get('postal_code') or ''} "
        f"{community.get('city') or ''}".strip(" ,")
    )
    payer_name = clean_text(premises.get("payer_name"))
    payer_address = clean_text(premises.get("payer_address"))
    return Slip(
        recipient_name=recipient_name,
        recipient_address=recipient_address,
        account=account,
        account_grouped=group_nrb(account),
        grosze=grosze,
        amount=amount_plain(grosze),
        amount_words=amount_in_words(grosze),
        payer_name=payer_name,
        payer_address=payer_address,
        title=title,
        qr_payload=qr_payload(
            nip=community.get("nip") or "",
            account=account,
            grosze=grosze,
            recipient=recipient_name,
            title=title,
        ),
        recipient_lines=box_lines([recipient_name, recipient_address], 2),
        payer_lines=box_lines([payer_name, payer_address], 2),
        title_lines=box_lines([title], 2),
    )


def default_amount(doc: Document) -> int:
    """The monthly charge; 0 when the data lists no fees (the form then asks for an amount)."""
    return max(0, int(doc["totals"].get("monthly_fees") or 0))


def arrears(doc: Document) -> int:
    """What the resident owes now (−balance when the balance is negative), else 0."""
    balance = int(doc["totals"].get("balance") or 0)
    return -balance if balance < 0 else 0
