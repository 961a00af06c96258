"""Telling the resident that their password changed, whoever changed it: the resident after
signing in, a reset link, or the office. The rules about accounts themselves (office reset,
closing, retention) are the account service's: portal.accounts.service.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ebok.settings import Settings
from portal.accounts.mail import Mailer, compose
from portal.accounts.service import utc_now
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.web.format import datetime_pl

log = logging.getLogger("ebok.accounts")

PASSWORD_CHANGED_SUBJECT = N_("Hasło do EBOK zostało zmienione")  # compose() translates it

# How a password changed, as the notice tells the resident (in the language of the request
# that changed it).
HOW_CHANGED = {
    "self": N_("zmiana hasła po zalogowaniu"),
    "reset-link": N_("odnośnik z wiadomości „Nie pamiętam hasła”"),
    "office": N_("nowe hasło jednorazowe wydane w biurze zarządcy"),
}


class HasLoginAndEmail(Protocol):
    login: str
    email: str | None


def notify_password_changed(
    mailer: Mailer, settings: Settings, record: HasLoginAndEmail, how: str
) -> bool:
    """Queue the 'your password changed' notice; False when the account has no e-mail. A
    notice that cannot be delivered never stops the change itself."""
    if not record.email:
        return False
    try:
        msg = compose(
            settings,
            record.email,
            PASSWORD_CHANGED_SUBJECT,
            "password_changed",
            {
                "login": record.login,
                "when": datetime_pl(utc_now()),
                "how": _(HOW_CHANGED.get(how, how)),
            },
        )
        mailer.send(msg)
    except Exception:
        log.exception("account %s: could not queue the password-changed notice", record.login)
        return False
    return True
