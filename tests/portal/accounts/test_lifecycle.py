"""Office reset, resignation and the erasure of a closed account's personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ebok.settings import Settings
from portal.accounts.lifecycle import (
    close_account,
    closure,
    notify_password_changed,
    office_reset,
    purge_closed,
)
from portal.accounts.mail import Mailer
from portal.accounts.passwords import hash_password, verify_password
from portal.accounts.service import CLOSED, AccountError, Accounts, utc_now


@pytest.fixture
def accounts(settings: Settings) -> Accounts:
    accounts = Accounts(settings.accounts_db)
    yield accounts
    accounts.close()


def make_account(accounts: Accounts, login: str = "anna", email: str | None = "anna@example.com"):
    record = accounts.create(login, hash_password("stare-hasło-123"), ["KW5/12"], email=email)
    accounts.set_password(record.id, hash_password("stare-hasło-123"), must_change=False)
    return accounts.get(record.id)


def test_office_reset_issues_one_time_password_and_ends_sessions(accounts: Accounts) -> None:
    before = make_account(accounts)
    record, password = office_reset(accounts, "anna")
    assert verify_password(record.password_hash, password)
    assert not verify_password(record.password_hash, "stare-hasło-123")
    assert record.must_change_password
    assert record.auth_version > before.auth_version  # old session cookies stop counting
    assert accounts.session_account(before.id, before.auth_version, "x") is None


def test_office_reset_refused_for_closed_account(accounts: Accounts) -> None:
    make_account(accounts)
    close_account(accounts, "anna")
    with pytest.raises(AccountError, match="closed"):
        office_reset(accounts, "anna")


def test_close_ends_sessions_and_cannot_repeat(accounts: Accounts) -> None:
    before = make_account(accounts)
    stamp = accounts.record_sign_in("anna", before.id, success=True)
    assert accounts.session_account(before.id, before.auth_version, stamp) is not None
    closed = close_account(accounts, "anna")
    assert closed.status == CLOSED
    assert accounts.session_account(before.id, closed.auth_version, stamp) is None
    with pytest.raises(AccountError, match="already closed"):
        close_account(accounts, "anna")


def test_personal_data_kept_during_retention_then_erased(accounts: Accounts) -> None:
    record = make_account(accounts)
    make_account(accounts, "bartek", "b@example.com")
    accounts.record_sign_in("anna", record.id, success=True, client="203.0.113.5")
    accounts.record_sign_in("anna", record.id, success=False, client="203.0.113.5")
    close_account(accounts, "anna")

    assert purge_closed(accounts, retention_days=30) == []  # still within retention
    assert accounts.get(record.id).email == "anna@example.com"
    info = closure(accounts, accounts.get(record.id), 30)
    assert info is not None and not info.erased
    assert info.erase_after - info.closed_at == timedelta(days=30)

    later = utc_now() + timedelta(days=31)
    assert purge_closed(accounts, retention_days=30, now=later) == ["anna"]
    erased = accounts.get(record.id)
    assert erased.email is None
    assert accounts.sign_in_history(record.id) == []
    assert erased.login == "anna" and erased.status == CLOSED  # the manager still sees it
    assert closure(accounts, erased, 30).erased
    # idempotent, and open accounts are never touched
    assert purge_closed(accounts, retention_days=30, now=later) == []
    assert accounts.by_login("bartek").email == "b@example.com"


def test_zero_retention_erases_at_once(accounts: Accounts) -> None:
    record = make_account(accounts)
    close_account(accounts, "anna")
    assert purge_closed(accounts, retention_days=0, now=utc_now() + timedelta(seconds=1)) == [
        "anna"
    ]
    assert accounts.get(record.id).email is None


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
