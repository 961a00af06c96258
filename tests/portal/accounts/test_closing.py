"""Resignation and the erasure of a closed account's personal data (Accounts, from
portal.accounts.closing)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.accounts.passwords import hash_password
from portal.accounts.service import CLOSED, AccountError, Accounts, utc_now


def make_account(accounts: Accounts, login: str = "anna", email: str | None = "anna@example.com"):
    record = accounts.create(login, hash_password("stare-hasło-123"), ["KW5/12"], email=email)
    accounts.set_password(record.id, hash_password("stare-hasło-123"), must_change=False)
    return accounts.get(record.id)


def test_office_reset_refused_for_closed_account(accounts: Accounts) -> None:
    make_account(accounts)
    accounts.close_account("anna")
    with pytest.raises(AccountError, match="closed"):
        accounts.office_reset("anna")


def test_close_ends_sessions_and_cannot_repeat(accounts: Accounts) -> None:
    before = make_account(accounts)
    stamp = accounts.record_sign_in("anna", before.id, success=True)
    assert accounts.session_account(before.id, before.auth_version, stamp) is not None
    closed = accounts.close_account("anna")
    assert closed.status == CLOSED
    assert accounts.session_account(before.id, closed.auth_version, stamp) is None
    with pytest.raises(AccountError, match="already closed"):
        accounts.close_account("anna")


def test_personal_data_kept_during_retention_then_erased(accounts: Accounts) -> None:
    record = make_account(accounts)
    make_account(accounts, "bartek", "b@example.com")
    accounts.record_sign_in("anna", record.id, success=True, client="203.0.113.5")
    accounts.record_sign_in("anna", record.id, success=False, client="203.0.113.5")
    accounts.close_account("anna")

    assert accounts.purge_closed(retention_days=30) == []  # still within retention
    assert accounts.get(record.id).email == "anna@example.com"
    info = accounts.closure(accounts.get(record.id), 30)
    assert info is not None and not info.erased
    assert info.erase_after - info.closed_at == timedelta(days=30)

    later = utc_now() + timedelta(days=31)
    assert accounts.purge_closed(retention_days=30, now=later) == ["anna"]
    erased = accounts.get(record.id)
    assert erased.email is None
    assert accounts.sign_in_history(record.id) == []
    assert erased.login == "anna" and erased.status == CLOSED  # the manager still sees it
    assert accounts.closure(erased, 30).erased
    # idempotent, and open accounts are never touched
    assert accounts.purge_closed(retention_days=30, now=later) == []
    assert accounts.by_login("bartek").email == "b@example.com"
    assert accounts.closure(accounts.by_login("bartek"), 30) is None


def test_failed_sign_ins_under_a_closed_login_are_erased_too(accounts: Accounts) -> None:
    make_account(accounts)
    accounts.close_account("anna")
    accounts.record_sign_in("ANNA", None, success=False, client="203.0.113.5")
    accounts.record_sign_in("bartek", None, success=False, client="203.0.113.6")
    later = utc_now() + timedelta(days=31)
    assert accounts.purge_closed(retention_days=30, now=later) == ["anna"]
    logins = [r[0] for r in accounts.db().execute("SELECT login FROM sign_ins")]
    assert logins == ["bartek"]


def test_zero_retention_erases_at_once(accounts: Accounts) -> None:
    record = make_account(accounts)
    accounts.close_account("anna")
    assert accounts.purge_closed(retention_days=0, now=utc_now() + timedelta(seconds=1)) == [
        "anna"
    ]
    assert accounts.get(record.id).email is None


def test_erasure_forgets_the_e_mail_notices_opt_in_and_what_was_sent(accounts: Accounts) -> None:
    from portal.notices.store import NoticesStore

    notices = NoticesStore(accounts.db)
    anna = make_account(accounts)
    bartek = make_account(accounts, "bartek", "b@example.com")
    for record in (anna, bartek):
        notices.subscribe(record.id, "en")
        notices.record_sent(record.id, "20261124T000000Z", "digest")
    accounts.close_account("anna")
    later = utc_now() + timedelta(days=31)
    assert accounts.purge_closed(retention_days=30, now=later) == ["anna"]
    assert notices.subscription(anna.id) is None
    assert not notices.already_notified(anna.id, "20261124T000000Z", "digest")
    assert notices.subscription(bartek.id).enabled  # an open account keeps its choice
    assert notices.already_notified(bartek.id, "20261124T000000Z", "digest")
