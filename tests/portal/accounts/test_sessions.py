"""The session check of every request (Accounts, from portal.accounts.sessions): stale
versions, inactive accounts and ended sessions refused, its cache never outliving a revocation."""

from __future__ import annotations

import portal.accounts.service
import portal.accounts.sessions
from portal.accounts.passwords import hash_password
from portal.accounts.service import ACTIVE, DISABLED, Accounts
from tests.database import sqlite_only


def new(accounts: Accounts, login: str = "jan", premises=("KW5/12",), **kw):
    return accounts.create(login, hash_password("Zielony-kot-na-dachu"), premises, **kw)


def test_session_lookup_refuses_stale_versions_inactive_accounts_and_ended_sessions(accounts):
    record = new(accounts)
    stamp = accounts.record_sign_in("jan", record.id, success=True)
    account = accounts.session_account(record.id, record.auth_version, stamp)
    assert account.login == "jan" and account.premises_ids == ("KW5/12",)
    assert accounts.session_account(record.id, record.auth_version + 1, stamp) is None

    accounts.set_status(record.id, DISABLED)
    version = accounts.get(record.id).auth_version
    assert accounts.session_account(record.id, version, stamp) is None
    accounts.set_status(record.id, ACTIVE)
    version = accounts.get(record.id).auth_version
    assert accounts.session_account(record.id, version, stamp) is not None

    accounts.end_session(record.id, stamp)
    assert accounts.session_account(record.id, version, stamp) is None
    other = accounts.record_sign_in("jan", record.id, success=True)
    assert accounts.session_account(record.id, version, other) is not None


class FrozenClock:
    """The session cache's clock, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lookups(accounts: Accounts) -> list[str]:
    """The session queries this thread's connection runs from now on."""
    seen: list[str] = []
    accounts.db().connection().set_trace_callback(
        lambda sql: seen.append(sql) if "ended_sessions" in sql else 0
    )
    return seen


def test_revocations_in_this_process_count_at_once_despite_the_session_cache(settings):
    clock = FrozenClock()
    accounts = Accounts(settings.accounts_database, clock=clock)
    record = new(accounts, premises=("KW5/12", "G/3"))
    stamp = accounts.record_sign_in("jan", record.id, success=True)
    version = record.auth_version
    assert accounts.session_account(record.id, version, stamp) is not None

    accounts.unlink(record.id, "G/3")  # the clock never moves in this test
    assert accounts.session_account(record.id, version, stamp).premises_ids == ("KW5/12",)
    accounts.end_session(record.id, stamp)
    assert accounts.session_account(record.id, version, stamp) is None

    stamp = accounts.record_sign_in("jan", record.id, success=True)
    assert accounts.session_account(record.id, version, stamp) is not None
    accounts.set_password(record.id, hash_password("Zielony-kot-na-dachu-2"))
    assert accounts.session_account(record.id, version, stamp) is None

    version = accounts.get(record.id).auth_version
    assert accounts.session_account(record.id, version, stamp) is not None
    accounts.set_status(record.id, DISABLED)
    assert accounts.session_account(record.id, version, stamp) is None


@sqlite_only  # PostgreSQL: within a second, the next test
def test_revocations_by_another_process_count_at_once_despite_the_session_cache(settings):
    """`ebok accounts disable` runs in another process with its own connection: the portal's
    cached answer must not outlive the change, even with its clock standing still."""
    clock = FrozenClock()
    portal_side = Accounts(settings.accounts_database, clock=clock)
    cli_side = Accounts(settings.accounts_database)
    record = new(cli_side)
    stamp = cli_side.record_sign_in("jan", record.id, success=True)
    version = record.auth_version
    assert portal_side.session_account(record.id, version, stamp) is not None
    assert portal_side.session_account(record.id, version, stamp) is not None  # cached

    cli_side.set_status(record.id, DISABLED)
    assert portal_side.session_account(record.id, version, stamp) is None
    cli_side.set_status(record.id, ACTIVE)
    version = cli_side.get(record.id).auth_version
    assert portal_side.session_account(record.id, version, stamp) is not None
    cli_side.office_reset(record.login)  # every session ends
    assert portal_side.session_account(record.id, version, stamp) is None


def test_revocations_by_another_host_count_within_the_session_cache_bound(settings):
    """With PostgreSQL another host's revocation reaches a cached answer when it is
    SESSION_CACHE_SECONDS old at the latest; this service's own count at once."""
    clock = FrozenClock()
    portal_side = Accounts(settings.accounts_database, clock=clock)
    elsewhere = Accounts(settings.accounts_database)
    record = new(elsewhere)
    stamp = elsewhere.record_sign_in("jan", record.id, success=True)
    assert portal_side.session_account(record.id, record.auth_version, stamp) is not None
    elsewhere.set_status(record.id, DISABLED)
    clock.now += portal.accounts.sessions.SESSION_CACHE_SECONDS
    assert portal_side.session_account(record.id, record.auth_version, stamp) is None
    elsewhere.set_status(record.id, ACTIVE)
    version = elsewhere.get(record.id).auth_version
    assert portal_side.session_account(record.id, version, stamp) is not None
    portal_side.end_session(record.id, stamp)  # this service's own: at once
    assert portal_side.session_account(record.id, version, stamp) is None


@sqlite_only  # counts the statements SQLite runs
def test_a_cached_session_answer_is_reused_for_at_most_a_second(settings):
    clock = FrozenClock()
    accounts = Accounts(settings.accounts_database, clock=clock)
    record = new(accounts)
    stamp = accounts.record_sign_in("jan", record.id, success=True)
    ran = lookups(accounts)
    for _ in range(3):
        assert accounts.session_account(record.id, record.auth_version, stamp) is not None
    assert len(ran) == 1
    clock.now += portal.accounts.sessions.SESSION_CACHE_SECONDS - 0.01
    accounts.session_account(record.id, record.auth_version, stamp)
    assert len(ran) == 1
    clock.now += 0.01
    accounts.session_account(record.id, record.auth_version, stamp)
    assert len(ran) == 2


def test_previous_sign_in_is_the_last_successful_one_before_this_session(accounts):
    record = new(accounts)
    first = accounts.record_sign_in("jan", record.id, success=True)
    assert accounts.session_account(record.id, 1, first).previous_login_at is None
    accounts.record_sign_in("jan", record.id, success=False, reason="wrong password")
    second = accounts.record_sign_in("jan", record.id, success=True)
    previous = accounts.session_account(record.id, 1, second).previous_login_at
    assert previous is not None and previous.tzinfo is not None
    assert portal.accounts.service.iso(previous) == first
