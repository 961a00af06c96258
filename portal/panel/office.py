"""What the office's pages share (portal.panel.accounts_views, account_actions, preview_views):
the account from the path, its state in Polish words, reading premises from a form and checking
them against the published data, the service's refusals in Polish, and issuing the letter that
goes with a one-time password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from etl.snapshot.store import Generation
from portal.accounts.service import CLOSED, DISABLED, AccountRecord, Accounts, Holder
from portal.i18n import current_locale
from portal.i18n import gettext as _
from portal.panel import letters_store
from portal.panel.search import fold

MAX_PREMISES = 50  # premises in one form: an application names a few


def accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def account(request: Request) -> AccountRecord:
    """The account named by the path's `account_id`, or 404."""
    record = accounts(request).get(request.path_params["account_id"])
    if record is None:
        raise HTTPException(404)
    return record


def account_url(record: AccountRecord) -> str:
    return f"/panel/accounts/{record.id}"


def state_label(record: AccountRecord | Holder) -> str:
    """The account's state as the office says it."""
    if record.status == CLOSED:
        return _("zamknięte (rezygnacja)")
    if record.status == DISABLED:
        return _("zablokowane")
    if record.must_change_password:
        return _("czeka na pierwsze logowanie")
    return _("aktywne")


def premises_from_form(form: FormData, name: str = "premises") -> list[str]:
    """Premises ids from repeated fields and/or one per line, in order, without repeats."""
    ids: list[str] = []
    for value in form.getlist(name):
        for line in str(value).splitlines():
            pid = line.strip()
            if pid and pid not in ids:
                ids.append(pid)
    return ids


def generation(request: Request) -> Generation | None:
    return request.app.state.store.current()


def premises_problem(request: Request, premises_ids: Sequence[str]) -> str | None:
    """Why these premises cannot be linked (none given, too many, not in the published data:
    saying which), or None."""
    if not premises_ids:
        return _("Podaj co najmniej jeden lokal (identyfikator, np. KW5/12).")
    if len(premises_ids) > MAX_PREMISES:
        return _("Najwyżej %(n)d lokali naraz.") % {"n": MAX_PREMISES}
    current = generation(request)
    if current is None:
        return _("Nie ma jeszcze opublikowanych danych, więc nie da się sprawdzić lokali.")
    missing = [pid for pid in premises_ids if current.document_json(pid) is None]
    if missing:
        which = ", ".join(missing)
        return _(
            "Tych lokali nie ma w opublikowanych danych: %(which)s. Sprawdź identyfikator "
            "(wielkość liter ma znaczenie) albo wyszukaj lokal po adresie lub płatniku."
        ) % {"which": which}
    return None


def describe(request: Request, premises_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Each premises with its address, payer and community from the published data (the
    portal's document cache), or only its id when it is not published."""
    current = generation(request)
    cache = request.app.state.documents
    rows = []
    for pid in premises_ids:
        loaded = cache.load(current, pid) if current is not None else None
        if loaded is None:
            rows.append({"id": pid, "published": False})
            continue
        doc = loaded.document
        prem = doc["premises"]
        place = f"{prem['street']}/{prem['number']}" if prem.get("number") else prem["street"]
        town = " ".join(p for p in (prem.get("postal_code", ""), prem.get("city", "")) if p)
        rows.append(
            {
                "id": pid,
                "published": True,
                "address": ", ".join(p for p in (place, town) if p),
                "payer": prem.get("payer_name") or "",
                "community": doc["community"].get("name") or "",
            }
        )
    return rows


def polish(exc: Exception) -> str:
    """The account service's refusals (portal.accounts.model, service), for a form."""
    message = str(exc)
    if "already taken" in message:
        return _("Ten login jest już zajęty. Wybierz inny.")
    if "login must not be empty" in message:
        return _("Podaj login.")
    if "login is longer" in message:
        return _("Login może mieć najwyżej 64 znaki.")
    if "must not contain spaces" in message:
        return _("Login nie może zawierać spacji ani znaków niedrukowalnych.")
    if "e-mail address" in message:
        return _("To nie jest poprawny adres e-mail.")
    if "closed" in message:
        return _("Konto jest zamknięte: nie można go odblokować ani wydać nowego hasła.")
    return _("Nie udało się wykonać tej czynności.")


# -- the letter -------------------------------------------------------------------------------
KIND_NAMES = {"activation": "list aktywacyjny", "reset": "list z nowym hasłem"}


@dataclass(frozen=True)
class Issued:
    """A one-time password to show once, and the token of its letter."""

    record: AccountRecord
    password: str
    kind: str  # "activation" or "reset"
    token: str


def issue(request: Request, record: AccountRecord, password: str, kind: str) -> Issued:
    """Keep the letter for `record` (the one `ebok accounts … --letter` writes) for this
    member's sign-in to download once; returns what the password page shows."""
    from portal.accounts.letters import Letter, describe_premises  # the PDF stack, lazily

    community, places = describe_premises(request.app.state.store, record.premises_ids)
    letter = Letter(
        kind=kind,  # type: ignore[arg-type]
        login=record.login,
        password=password,
        base_url=request.app.state.settings.base_url,
        community=community,
        places=places,
        with_email=bool(record.email),
        locale=current_locale(),  # the letter speaks the office's language of this request
    )
    token = letters_store.store(request.app.state).put(
        letter, account_id=record.id, login=record.login, owner=letters_store.owner(request)
    )
    return Issued(record, password, kind, token)


def letter_filename(login: str, kind: str) -> str:
    """ASCII only, for the Content-Disposition header."""
    safe = re.sub(r"[^a-z0-9._-]+", "-", fold(login)).strip("-.") or "konto"
    prefix = "list-aktywacyjny" if kind == "activation" else "nowe-haslo"
    return f"{prefix}-{safe[:60]}.pdf"

