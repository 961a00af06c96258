"""The 'password changed' notice, and the names portal.accounts.recovery still imports."""

from __future__ import annotations

from ebok.settings import Settings
from portal.accounts.lifecycle import notify_password_changed
from portal.accounts.mail import Mailer
from portal.accounts.passwords import hash_password
from portal.accounts.service import Accounts


def make_account(accounts: Accounts, login: str = "anna", email: str | None = "anna@example.com"):
    return accounts.create(login, hash_password("stare-hasło-123"), ["KW5/12"], email=email)


def test_password_changed_notice_goes_to_linked_address(settings: Settings, accounts) -> None:
    mailer = Mailer(settings)
    assert notify_password_changed(mailer, settings, make_account(accounts), "self")
    assert not notify_password_changed(
        mailer, settings, make_account(accounts, "jan", email=None), "self"
    )
    assert mailer.flush(10)
    files = list(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 1
    body = files[0].read_bytes()
    assert b"anna@example.com" in body
    mailer.close()
