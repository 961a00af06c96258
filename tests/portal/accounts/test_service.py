"""The account service (opening, reading and changing accounts, one-time passwords), its
schema, and the password rules. Sessions and sign-ins: test_sessions.py, test_sign_ins.py."""

from __future__ import annotations

import sqlite3
import stat
import threading
import unicodedata

import pytest
from argon2 import PasswordHasher

from portal.accounts import schema as accounts_schema
from portal.accounts.passwords import (
    check_new_password,
    generate_one_time_password,
    hash_password,
    verify_password,
)
from portal.accounts.service import ACTIVE, CLOSED, DISABLED, AccountError, Accounts
from tests.database import sqlite_only


def new(accounts: Accounts, login: str = "jan", premises=("KW5/12",), **kw):
    return accounts.create(login, hash_password("Zielony-kot-na-dachu"), premises, **kw)


# -- schema -----------------------------------------------------------------------------------
def test_schema_is_versioned_and_migrations_run_once(settings, accounts, monkeypatch):
    assert accounts.migrate() == len(accounts_schema.MIGRATIONS)
    new(accounts)
    if accounts.database.backend == "sqlite":
        conn = sqlite3.connect(settings.accounts_db)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(accounts_schema.MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()

    # A later release appends a migration: it runs on the existing data, once.
    extra = "ALTER TABLE accounts ADD COLUMN phone TEXT; UPDATE accounts SET phone = '-';"
    monkeypatch.setattr(accounts_schema, "MIGRATIONS", [*accounts_schema.MIGRATIONS, extra])
    upgraded = Accounts(settings.accounts_database)
    assert upgraded.migrate() == len(accounts_schema.MIGRATIONS)
    assert upgraded.migrate() == len(accounts_schema.MIGRATIONS)
    row = upgraded.db().execute("SELECT login, phone FROM accounts").fetchall()
    assert row == [("jan", "-")]


def test_failed_migration_leaves_the_schema_as_it_was(settings, accounts, monkeypatch):
    new(accounts)
    shipped = accounts_schema.MIGRATIONS
    broken = "ALTER TABLE accounts ADD COLUMN phone TEXT; THIS IS NOT SQL;"
    monkeypatch.setattr(accounts_schema, "MIGRATIONS", [*shipped, broken])
    with pytest.raises(Exception, match="syntax error"):
        Accounts(settings.accounts_database).migrate()
    if accounts.database.backend == "sqlite":
        conn = sqlite3.connect(settings.accounts_db)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(shipped)
    # The column the failed migration added first is not there, and the fixed release runs.
    fixed = "ALTER TABLE accounts ADD COLUMN phone TEXT; UPDATE accounts SET phone = '+48';"
    monkeypatch.setattr(accounts_schema, "MIGRATIONS", [*shipped, fixed])
    upgraded = Accounts(settings.accounts_database)
    assert upgraded.migrate() == len(shipped) + 1
    assert upgraded.db().execute("SELECT phone FROM accounts").fetchall() == [("+48",)]


@sqlite_only
def test_database_file_is_private(settings, accounts):
    new(accounts)
    assert stat.S_IMODE(settings.accounts_db.stat().st_mode) == 0o600


@sqlite_only
def test_each_thread_gets_its_own_connection(accounts):
    new(accounts)
    seen = []

    def work():
        seen.append((accounts.by_login("jan").login, id(accounts.db().connection())))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [login for login, _ in seen] == ["jan"] * 3
    assert len({conn for _, conn in seen} | {id(accounts.db().connection())}) == 4


# -- accounts and premises --------------------------------------------------------------------
def test_logins_are_unique_ignoring_case(accounts):
    new(accounts, "Jan")
    with pytest.raises(AccountError, match="already taken"):
        new(accounts, "jan")
    assert accounts.by_login("JAN").login == "Jan"
    with pytest.raises(AccountError):
        new(accounts, "   ")


@pytest.mark.parametrize("login", ["jan kowalski", "jan\tk", "x" * 65, "bell\x07"])
def test_logins_are_one_typeable_word(accounts, login):
    with pytest.raises(AccountError):
        new(accounts, login)
    assert accounts.list() == []


def test_premises_ids_must_not_be_empty(accounts):
    with pytest.raises(AccountError, match="premises id"):
        new(accounts, "jan", ("KW5/12", " "))
    assert accounts.list() == []
    record = new(accounts, "jan", ("G 3",))
    with pytest.raises(AccountError, match="premises id"):
        accounts.link(record.id, "")


def test_an_account_holds_several_premises_and_a_premises_several_accounts(accounts):
    jan = new(accounts, "jan", ("KW5/12", "G 3"))
    anna = new(accounts, "anna", ("KW5/12",))
    assert jan.premises_ids == ("G 3", "KW5/12")
    assert [a.login for a in accounts.by_premises("KW5/12")] == ["anna", "jan"]
    assert accounts.link(anna.id, "G 3") is True
    assert accounts.link(anna.id, "G 3") is False
    assert accounts.unlink(jan.id, "KW5/12") is True
    assert accounts.unlink(jan.id, "KW5/12") is False
    assert accounts.get(jan.id).premises_ids == ("G 3",)
    assert accounts.get(anna.id).premises_ids == ("G 3", "KW5/12")


def test_new_accounts_must_change_their_password(accounts):
    record = new(accounts)
    assert record.must_change_password and record.status == ACTIVE
    version = accounts.set_password(record.id, hash_password("Zielony-kot-na-dachu-2"))
    after = accounts.get(record.id)
    assert version == record.auth_version + 1 == after.auth_version
    assert not after.must_change_password
    assert verify_password(accounts.password_hash(record.id), "Zielony-kot-na-dachu-2")


def test_closing_is_final_and_ends_sessions(accounts):
    record = new(accounts)
    stamp = accounts.record_sign_in("jan", record.id, success=True)
    accounts.set_status(record.id, CLOSED)
    closed = accounts.get(record.id)
    assert accounts.session_account(record.id, closed.auth_version, stamp) is None
    changed_at = accounts.db().execute("SELECT status_changed_at FROM accounts").fetchone()
    accounts.set_status(record.id, CLOSED)  # closing again does not restart the retention
    assert accounts.db().execute("SELECT status_changed_at FROM accounts").fetchone() == changed_at
    for status in (ACTIVE, DISABLED):
        with pytest.raises(AccountError, match="cannot be reopened"):
            accounts.set_status(record.id, status)
    assert accounts.get(record.id).status == CLOSED


def test_email_and_status_changes_need_an_existing_account(accounts):
    record = new(accounts, email="jan@example.com")
    assert record.email == "jan@example.com"
    accounts.set_email(record.id, None)
    assert accounts.get(record.id).email is None
    with pytest.raises(AccountError):
        accounts.set_email(999, "x@example.com")
    with pytest.raises(AccountError):
        accounts.set_status(record.id, "frozen")
    with pytest.raises(AccountError):
        accounts.set_status(999, DISABLED)
    with pytest.raises(AccountError):
        accounts.link(999, "KW5/12")


def test_email_addresses_are_checked_and_stored_stripped(accounts):
    record = new(accounts, email=" jan@example.com ")
    assert record.email == "jan@example.com"
    for bad in ("", "jan", "jan@localhost", "jan @example.com", "@example.com"):
        with pytest.raises(AccountError, match="not an e-mail address"):
            accounts.set_email(record.id, bad)
        with pytest.raises(AccountError, match="not an e-mail address"):
            new(accounts, "ewa", email=bad)
    assert accounts.get(record.id).email == "jan@example.com"
    assert accounts.by_login("ewa") is None


def test_only_an_active_account_with_an_address_can_recover_its_password(accounts):
    assert new(accounts, "jan", email="jan@example.com").can_recover
    assert not new(accounts, "ewa").can_recover
    anna = new(accounts, "anna", email="anna@example.com")
    accounts.set_status(anna.id, DISABLED)
    assert not accounts.get(anna.id).can_recover


# -- one-time passwords: opening an account, the office reset ---------------------------------
def test_open_account_hands_out_a_one_time_password(accounts):
    record, password = accounts.open_account("jan", ["KW5/12"], email="jan@example.com")
    assert record.must_change_password and record.status == ACTIVE
    assert verify_password(record.password_hash, password)
    assert check_new_password("jan", password) == []
    with pytest.raises(AccountError, match="already taken"):
        accounts.open_account("JAN", ["KW5/13"])


def test_office_reset_issues_one_time_password_and_ends_sessions(accounts):
    before = new(accounts, "anna", must_change_password=False)
    record, password = accounts.office_reset("anna")
    assert verify_password(record.password_hash, password)
    assert not verify_password(record.password_hash, "Zielony-kot-na-dachu")
    assert record.must_change_password
    assert record.auth_version > before.auth_version  # old session cookies stop counting
    assert accounts.session_account(before.id, before.auth_version, "x") is None
    with pytest.raises(AccountError, match="no account"):
        accounts.office_reset("nobody")


# -- passwords --------------------------------------------------------------------------------
def test_hashes_are_argon2id_and_verify():
    stored = hash_password("Zielony-kot-na-dachu")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "Zielony-kot-na-dachu")
    assert not verify_password(stored, "zielony-kot-na-dachu")
    assert not verify_password("not a hash", "Zielony-kot-na-dachu")


def test_the_same_letters_typed_differently_are_the_same_password():
    composed = "Zażółć gęślą jaźń"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert verify_password(hash_password(composed), decomposed)


def test_weaker_hash_is_upgraded_at_sign_in(app, client):
    import re

    weak = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    record = app.state.accounts.create(
        "jan", weak.hash("Zielony-kot-na-dachu"), [], must_change_password=False
    )
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(
        "/login",
        data={"login": "jan", "password": "Zielony-kot-na-dachu", "csrf_token": token},
    )
    upgraded = app.state.accounts.password_hash(record.id)
    assert upgraded != record.password_hash and "m=256" not in upgraded
    assert verify_password(upgraded, "Zielony-kot-na-dachu")
    assert client.get("/password/change", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("krotkie", "co najmniej 10 znaków"),
        ("Jan.Kowalski", "takie samo jak login"),
        ("password123", "zbyt popularne"),
        ("1234567890", "zbyt popularne"),
        ("ZAQ12WSXCDE", "zbyt popularne"),  # a Polish favourite, any case
        ("x" * 300, "najwyżej"),
    ],
)
def test_password_rules_name_the_problem_in_polish(password, problem):
    problems = check_new_password("jan.kowalski", password)
    assert any(problem in p for p in problems), problems


def test_good_password_passes_the_rules():
    assert check_new_password("jan.kowalski", "Zielony-kot-na-dachu") == []
    assert check_new_password("jan.kowalski", "kot pies 1234") == []


def test_one_time_passwords_pass_the_rules_and_differ():
    generated = {generate_one_time_password() for _ in range(20)}
    assert len(generated) == 20
    assert all(check_new_password("jan", p) == [] for p in generated)
