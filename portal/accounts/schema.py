"""The accounts database: its schema as an ordered list of migrations, for SQLite (the file
DATA/ebok.sqlite3) and PostgreSQL (EBOK_DATABASE_URL) alike.

SQLite counts the migrations that ran in `PRAGMA user_version`, PostgreSQL in the table
`schema_versions` (ebok.database.migrate). Append new ones at the end, never edit one that has
shipped. Each runs in one transaction with its version bump, so a failing one leaves the schema
as it was. On PostgreSQL a migration runs as written in POSTGRESQL (below) when it is there,
else translated (ebok.database.dialect.ddl_to_postgresql: identity ids, double precision for
REAL, no WITHOUT ROWID); the PostgreSQL test pass of scripts/test runs every one of them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ebok import database
from ebok.database.dialect import ddl_to_postgresql


def connect(path: Path) -> sqlite3.Connection:
    """A connection to a SQLite accounts file (ebok.database.sqlite_connect)."""
    return database.sqlite_connect(path)


# Migration 2's tables, the same on both backends; the append-only triggers differ (PostgreSQL's
# call a function).
_STAFF_AND_AUDIT_LOG = """
    CREATE TABLE staff (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        email TEXT,
        role TEXT NOT NULL CHECK (role IN ('admin', 'office', 'accountant')),
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
        must_change_password INTEGER NOT NULL DEFAULT 1,
        auth_version INTEGER NOT NULL DEFAULT 1,
        totp_secret TEXT,
        totp_pending_secret TEXT,
        totp_last_step INTEGER,
        created_at TEXT NOT NULL,
        password_changed_at TEXT,
        status_changed_at TEXT,
        last_login_at TEXT
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        staff_id INTEGER REFERENCES staff(id),
        staff_login TEXT NOT NULL,
        client TEXT,
        action TEXT NOT NULL,
        target_kind TEXT,
        target TEXT,
        account_id INTEGER REFERENCES accounts(id),
        details TEXT
    );
    CREATE INDEX audit_log_by_at ON audit_log (at);
    CREATE INDEX audit_log_by_account ON audit_log (account_id) WHERE account_id IS NOT NULL;
"""
_SQLITE_AUDIT_LOG_TRIGGERS = """
    CREATE TRIGGER audit_log_append_only BEFORE DELETE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE TRIGGER audit_log_keeps_events
    BEFORE UPDATE OF id, at, staff_id, staff_login, client, action, target_kind ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
"""
_POSTGRESQL_AUDIT_LOG_TRIGGERS = """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only'
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$;
    CREATE TRIGGER audit_log_append_only BEFORE DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_log_keeps_events
        BEFORE UPDATE OF id, at, staff_id, staff_login, client, action, target_kind ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""

MIGRATIONS: list[str] = [
    # 1: accounts, their premises, the sign-in history and sessions ended by logout.
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        email TEXT,
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'disabled', 'closed')),
        must_change_password INTEGER NOT NULL DEFAULT 1,
        auth_version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        password_changed_at TEXT,
        status_changed_at TEXT
    );
    CREATE TABLE account_premises (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        premises_id TEXT NOT NULL,
        PRIMARY KEY (account_id, premises_id)
    ) WITHOUT ROWID;
    CREATE INDEX account_premises_by_premises ON account_premises (premises_id);
    CREATE TABLE sign_ins (
        id INTEGER PRIMARY KEY,
        account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
        login TEXT NOT NULL,
        client TEXT,
        at TEXT NOT NULL,
        success INTEGER NOT NULL,
        reason TEXT
    );
    CREATE INDEX sign_ins_by_account ON sign_ins (account_id, success, at);
    CREATE TABLE ended_sessions (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        issued_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        PRIMARY KEY (account_id, issued_at)
    ) WITHOUT ROWID;
    """,
    # 2: the manager's staff (portal.panel.staff) and the panel's audit log (portal.panel.audit).
    # The log is append-only: deleting a row or rewriting who, when, from where or what is
    # refused by the database itself; only the target and details may change, which is how a
    # closed account's personal data is erased from it (portal.accounts.closing).
    _STAFF_AND_AUDIT_LOG + _SQLITE_AUDIT_LOG_TRIGGERS,
    # 3: the signed application an account was opened on (its date and number), as the office
    # records it in the panel (portal.panel.accounts_views); NULL for accounts opened before.
    """
    ALTER TABLE accounts ADD COLUMN application_date TEXT;
    ALTER TABLE accounts ADD COLUMN application_number TEXT;
    """,
    # 4: failed attempts counted by the throttles (portal.accounts.throttle), here so that every
    # server process (ebok serve --workers) counts the same ones. `scope` names the throttle
    # (sign-in, recovery, panel), `kind` login or address; `last` is epoch seconds.
    """
    CREATE TABLE throttle (
        scope TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        failures INTEGER NOT NULL,
        last REAL NOT NULL,
        PRIMARY KEY (scope, kind, key)
    ) WITHOUT ROWID;
    CREATE INDEX throttle_by_last ON throttle (last);
    """,
    # 5: e-mail notices about new data (portal.notices). One row per account that ever opted
    # in: `enabled` 1/0; `version` grows with every opt-in, and unsubscribe links carry it, so
    # an old link stops working once the resident subscribes again; `language` of the message.
    # `notices_sent` remembers each (account, generation) notified and the generation's
    # content digest, so a re-run or a rollback and republish of the same data sends nothing.
    """
    CREATE TABLE notice_subscriptions (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        enabled INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        language TEXT NOT NULL DEFAULT 'pl',
        changed_at TEXT NOT NULL
    );
    CREATE TABLE notices_sent (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        generation TEXT NOT NULL,
        content_digest TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (account_id, generation)
    );
    CREATE INDEX notices_sent_by_digest ON notices_sent (account_id, content_digest);
    """,
    # 6: letters waiting for the office to download them once (portal.panel.letters_store),
    # here so that any server process hands them out. A row is found by a hash of the link's
    # random token, and the letter (with its one-time password and its owner) is sealed with
    # a key derived from that token: the database alone reveals neither. `expires`: epoch s.
    """
    CREATE TABLE office_letters (
        token_hash TEXT PRIMARY KEY,
        sealed TEXT NOT NULL,
        expires REAL NOT NULL
    );
    CREATE INDEX office_letters_by_expires ON office_letters (expires);
    """,
]


# Migrations whose PostgreSQL text differs beyond what ebok.database.dialect.ddl_to_postgresql
# does, by number. 2: PostgreSQL's triggers call a function.
POSTGRESQL: dict[int, str] = {
    2: ddl_to_postgresql(_STAFF_AND_AUDIT_LOG) + _POSTGRESQL_AUDIT_LOG_TRIGGERS,
}


def migrate(db: database.Database | sqlite3.Connection) -> int:
    """Apply the missing migrations (a Database, or a SQLite connection in autocommit mode);
    returns the schema version."""
    if isinstance(db, sqlite3.Connection):
        return database.sqlite_migrate(db, MIGRATIONS)
    return database.migrate(db, "accounts", MIGRATIONS, POSTGRESQL)


def _statements(script: str) -> list[str]:
    return database.sqlite_statements(script)
