"""The accounts database file: how a connection to it is opened, and its schema as an ordered
list of migrations.

`PRAGMA user_version` counts how many migrations ran. Append new ones at the end, never edit one
that has shipped. Each migration runs in one transaction with its version bump, so a failing one
leaves the schema as it was (executescript would commit behind our back, hence the splitting).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, foreign keys
    on. A new database file is created readable by the service user only: it holds password
    hashes and e-mail addresses, and SQLite gives the -wal and -shm files the file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


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
    """
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
    CREATE TRIGGER audit_log_append_only BEFORE DELETE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE TRIGGER audit_log_keeps_events
    BEFORE UPDATE OF id, at, staff_id, staff_login, client, action, target_kind ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    """,
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


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migrations on `conn` (autocommit mode); returns the schema version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return max(version, len(MIGRATIONS))


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit behind our back);
    sqlite3.complete_statement knows whether a `;` ends one or sits inside a literal."""
    statements, start = [], 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            statements.append(script[start : end + 1].strip())
            start = end + 1
    if script[start:].strip():
        statements.append(script[start:].strip())
    return statements
