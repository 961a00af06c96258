"""The notice message: what changed, in words, and where to look; no amounts anywhere.

The subject names only the kinds of news ("saldo, naliczenia"), as the brief asks; the body
goes no further than that either: a balance "changed", a charge's date and description, a
document's title. Figures stay behind the sign-in: a message passes through mail servers and
sits in mailboxes that others may read, and the resident who wants them is one link away.

The unsubscribe link is in the body and in the `List-Unsubscribe` header, with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), so a mail program's own
"unsubscribe" button works by a POST without opening a page.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from ebok.settings import Settings
from portal.accounts.mail import compose as compose_mail
from portal.i18n import N_, use_locale
from portal.i18n import gettext as _
from portal.notices.diff import MAX_LISTED, AccountChanges
from portal.notices.tokens import unsubscribe_url
from portal.premises.community import DOCUMENTS_URL, KIND_LABELS
from portal.premises.page import premises_url
from portal.web.format import date_pl

TEMPLATE = "notice"
SETTINGS_PATH = "/settings"
KIND_WORDS = {
    "balance": N_("saldo"),
    "charges": N_("naliczenia"),
    "documents": N_("dokumenty wspólnoty"),
    "announcements": N_("ogłoszenia"),
}


def subject(changes: AccountChanges) -> str:
    """`Nowości w EBOK: saldo, naliczenia`: the kinds of news, never a figure (in the
    current language)."""
    kinds = ", ".join(_(KIND_WORDS[k]) for k in changes.kinds)
    return _("Nowości w EBOK: %(kinds)s") % {"kinds": kinds}


def _listed(items: list[Any]) -> tuple[list[Any], int]:
    return items[:MAX_LISTED], max(0, len(items) - MAX_LISTED)


def context(settings: Settings, login: str, changes: AccountChanges, token: str) -> dict:
    """What templates/mail/notice.{txt,html} show (links absolute, dates formatted in the
    current language)."""
    base = settings.base_url
    premises = []
    for p in changes.premises:
        charges, more = _listed(p.new_charges)
        premises.append(
            {
                "premises_id": p.premises_id,
                "label": p.label,
                "community": p.community_name,
                "balance_changed": p.balance_changed,
                "charges": [
                    {"date": date_pl(c.date), "description": c.description, "period": c.period}
                    for c in charges
                ],
                "charge_count": len(p.new_charges),
                "more_charges": more,
                "url": base + premises_url(p.premises_id),
                "ledger_url": base + premises_url(p.premises_id, "ledger"),
            }
        )
    communities = []
    for c in changes.communities:
        announcements, more_a = _listed(c.announcements)
        documents, more_d = _listed(c.documents)
        communities.append(
            {
                "name": c.name,
                "announcements": [
                    {
                        "title": a["title"],
                        "valid_from": date_pl(a["valid_from"]),
                        "valid_to": date_pl(a["valid_to"]) if a["valid_to"] else "",
                    }
                    for a in announcements
                ],
                "more_announcements": more_a,
                "documents": [
                    {
                        "title": d["title"],
                        "kind": _(KIND_LABELS.get(d["kind"], KIND_LABELS["other"])),
                        "date": date_pl(d["date"]),
                    }
                    for d in documents
                ],
                "more_documents": more_d,
                "home_url": base + "/",
                "documents_url": base + DOCUMENTS_URL,
            }
        )
    return {
        "login": login,
        "as_of": date_pl(changes.as_of) if changes.as_of else "",
        "premises": premises,
        "communities": communities,
        "unsubscribe_url": unsubscribe_url(base, token),
        "settings_url": base + SETTINGS_PATH,
    }


def notice_message(
    settings: Settings,
    to: str,
    login: str,
    changes: AccountChanges,
    token: str,
    language: str = "pl",
) -> EmailMessage:
    """The notice in `language` (the one the resident opted in with)."""
    with use_locale(language):
        msg = compose_mail(
            settings, to, subject(changes), TEMPLATE, context(settings, login, changes, token)
        )
    msg["List-Unsubscribe"] = f"<{unsubscribe_url(settings.base_url, token)}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg
