"""The printed letter a manager hands over with an account's one-time password.

An account is opened only on an application signed at the manager's office, and a reset without
an e-mail address happens there too; in both cases the resident leaves with a sheet of paper
that says where the portal is, which login and one-time password to use and what to do first.
The password is in the PDF only: it is never stored or logged, so the file is the one copy.
A letter is written in its `locale` (Polish unless asked otherwise: `ebok accounts create
--lang en`, or the language the office works in in the panel).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from etl.snapshot.store import SnapshotStore
from portal.i18n import DEFAULT_LOCALE, N_, render, use_locale
from portal.i18n import gettext as _
from portal.pdf import render_pdf
from portal.web.templating import templates

Kind = Literal["activation", "reset"]

_TEXT = {
    "activation": (
        N_("Dostęp do e-Biura Obsługi Klienta (EBOK)"),
        N_(
            "Na podstawie podpisanego wniosku otworzyliśmy konto w EBOK – serwisie, w którym "
            "sprawdzisz saldo, naliczenia i wpłaty swojego lokalu. Poniżej dane do pierwszego "
            "logowania."
        ),
    ),
    "reset": (
        N_("Nowe hasło do e-Biura Obsługi Klienta (EBOK)"),
        N_(
            "Na Twoją prośbę wydaliśmy nowe hasło jednorazowe do konta w EBOK. Poprzednie hasło "
            "przestało działać, a wszystkie sesje zostały zakończone."
        ),
    ),
}


@dataclass(frozen=True)
class Letter:
    kind: Kind
    login: str
    password: str
    base_url: str
    community: str = ""
    places: tuple[str, ...] = ()
    with_email: bool = False
    issued: date = field(default_factory=date.today)
    locale: str = DEFAULT_LOCALE


def letter_html(letter: Letter) -> str:
    with use_locale(letter.locale):
        heading, intro = (_(text) for text in _TEXT[letter.kind])
        community_line = letter.community or _("EBOK – e-Biuro Obsługi Klienta wspólnoty")
    context = {
        "heading": heading,
        "intro": intro,
        "community_line": community_line,
        "places": letter.places or ("—",),
        "login": letter.login,
        "password": letter.password,
        "base_url": letter.base_url,
        "with_email": letter.with_email,
        "issued": letter.issued,
    }
    return render(templates.env, "letter.html", context, locale=letter.locale)


def render_letter(letter: Letter) -> bytes:
    return render_pdf(letter_html(letter))


def write_letter(path: Path, letter: Letter) -> Path:
    """Write the PDF readable by its owner only (it holds a password); never overwrites, so a
    letter already printed for someone else is not lost by a typo."""
    pdf = render_letter(letter)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pdf)
    return path


def describe_premises(
    store: SnapshotStore, premises_ids: Iterable[str]
) -> tuple[str, tuple[str, ...]]:
    """The community name and one line per premises, from the published snapshot; a premises
    not (yet) published is shown by its id."""
    generation = store.current()
    communities: list[str] = []
    places: list[str] = []
    for pid in premises_ids:
        doc = generation.document(pid) if generation is not None else None
        if doc is None:
            places.append(str(pid))
            continue
        community = doc.get("community", {})
        name = community.get("name") or community.get("community_id") or ""
        if name and name not in communities:
            communities.append(name)
        prem = doc.get("premises", {})
        number = prem.get("number") or ""
        address = " ".join(p for p in (prem.get("street", ""), number and f"lok. {number}") if p)
        city = " ".join(p for p in (prem.get("postal_code", ""), prem.get("city", "")) if p)
        places.append(", ".join(p for p in (address, city) if p) + f" ({pid})")
    return "; ".join(communities), tuple(places)
