"""The audit log: who did what in the panel (or with `ebok staff`), when, from which address, on
which staff member, account or premises. Its table is `audit_log` (migration 2 of
portal.accounts.schema).

Writing: `audit(request, action, target_kind=…, target=…, account_id=…, details=…)` from a
panel route (the actor is the signed-in member, or the one half-way through signing in), or
`AuditLog.append` with an explicit actor (the command line: `CLI`). These are the only writers.
The database refuses to delete a row or to change who, when, from where or what (triggers in
the migration); the one change it allows is erasing a closed resident account's personal data
after the retention period, which portal.accounts.closing does: an entry with `account_id` gets
`konto #<id> (usunięte)` in place of the login and e-mail address in its target and details,
and the event itself stays.

Pass `account_id` whenever an entry names a resident account (target or details), or its
personal data would outlive the account's. Every action has a Polish label in ACTIONS (add
yours there); `append` refuses an action without one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request

from ebok.database import Database
from portal.accounts.auth import client_address
from portal.accounts.model import iso, parse_iso, utc_now
from portal.i18n import N_, Labels
from portal.web.format import LOCAL_ZONE

# action -> how the log page and the CSV name it
# Message ids (portal.i18n): a Labels table reads them in the current language.
ACTIONS: dict[str, str] = Labels({
    "sign-in": N_("Logowanie"),
    "sign-in-failed": N_("Nieudane logowanie"),
    "sign-out": N_("Wylogowanie"),
    "password-changed": N_("Zmiana hasła"),
    "totp-enrolled": N_("Dodanie aplikacji uwierzytelniającej"),
    "staff-created": N_("Utworzenie konta pracownika"),
    "staff-disabled": N_("Zablokowanie konta pracownika"),
    "staff-enabled": N_("Odblokowanie konta pracownika"),
    "staff-reset": N_("Nowe hasło jednorazowe pracownika"),
    "account-created": N_("Założenie konta mieszkańca"),
    "account-letter": N_("Pobranie listu z hasłem jednorazowym"),
    "account-linked": N_("Przypisanie lokali do konta"),
    "account-unlinked": N_("Odłączenie lokalu od konta"),
    "account-email": N_("Zmiana adresu e-mail konta"),
    "account-disabled": N_("Zablokowanie konta mieszkańca"),
    "account-enabled": N_("Odblokowanie konta mieszkańca"),
    "account-reset": N_("Nowe hasło jednorazowe mieszkańca"),
    "account-closed": N_("Zamknięcie konta mieszkańca (rezygnacja)"),
    "preview": N_("Podgląd jak mieszkaniec"),
    "upload": N_("Wysłanie eksportu do importu"),
    "import-retry": N_("Ponowienie wstrzymanego importu"),
    "import-result": N_("Wynik importu"),
    "rollback": N_("Przywrócenie generacji danych"),
})

# target_kind -> label
TARGET_KINDS: dict[str, str] = Labels({
    "staff": N_("pracownik"),
    "account": N_("konto mieszkańca"),
    "premises": N_("lokal"),
    "generation": N_("generacja danych"),
    "import": N_("import"),
})

PAGE_SIZE = 100
CSV_LIMIT = 100_000  # rows in one download: years of a manager's office


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff member (id and login), or `CLI`, or a login typed at sign-in."""

    id: int | None
    login: str


CLI = Actor(None, "cli")


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    staff_id: int | None
    staff_login: str
    client: str | None
    action: str
    target_kind: str | None
    target: str | None
    account_id: int | None
    details: str | None

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)

    @property
    def target_kind_label(self) -> str:
        return TARGET_KINDS.get(self.target_kind or "", self.target_kind or "")

    @property
    def local_time(self) -> str:
        """`24.11.2026 14:05:09`, Polish local time."""
        return self.at.astimezone(LOCAL_ZONE).strftime("%d.%m.%Y %H:%M:%S")


@dataclass(frozen=True)
class Filter:
    """What the log page asks for; empty fields filter nothing."""

    staff: str = ""  # a staff login (or `cli`), exactly, any case
    action: str = ""
    target: str = ""  # part of the target
    since: date | None = None  # local dates, both included
    until: date | None = None

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.staff:
            clauses.append("staff_login = ? COLLATE NOCASE")
            params.append(self.staff)
        if self.action:
            clauses.append("action = ?")
            params.append(self.action)
        if self.target:
            escaped = self.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("target LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if self.since:
            clauses.append("at >= ?")
            params.append(iso(_local_midnight(self.since)))
        if self.until:
            clauses.append("at < ?")
            params.append(iso(_local_midnight(self.until + timedelta(days=1))))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL_ZONE).astimezone(UTC)


_COLUMNS = "id, at, staff_id, staff_login, client, action, target_kind, target, account_id, details"


def _entry(row: tuple) -> Entry:
    return Entry(row[0], parse_iso(row[1]), *row[2:])  # type: ignore[arg-type]


class AuditLog:
    """The audit_log table. `db` gives this thread's connection (`Accounts.db`)."""

    def __init__(self, db: Callable[[], Database]) -> None:
        self.db = db

    def append(
        self,
        action: str,
        *,
        actor: Actor,
        client: str | None = None,
        target_kind: str | None = None,
        target: str | None = None,
        account_id: int | None = None,
        details: str | None = None,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"audit action {action!r} has no label in portal.panel.audit.ACTIONS")
        self.db().execute(
            "INSERT INTO audit_log (at, staff_id, staff_login, client, action, target_kind,"
            " target, account_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                iso(utc_now()),
                actor.id,
                actor.login[:200],
                client,
                action,
                target_kind,
                None if target is None else target[:500],
                account_id,
                None if details is None else details[:2000],
            ),
        )

    def search(self, query: Filter, *, limit: int = PAGE_SIZE, offset: int = 0) -> list[Entry]:
        where, params = query.where()
        rows = self.db().execute(
            f"SELECT {_COLUMNS} FROM audit_log{where} ORDER BY id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_entry(r) for r in rows]

    def count(self, query: Filter) -> int:
        where, params = query.where()
        return self.db().execute(f"SELECT count(*) FROM audit_log{where}", params).fetchone()[0]

    def actions_used(self) -> list[str]:
        rows = self.db().execute("SELECT DISTINCT action FROM audit_log ORDER BY action")
        return [r[0] for r in rows]


def audit(
    request: Request,
    action: str,
    *,
    target_kind: str | None = None,
    target: str | None = None,
    account_id: int | None = None,
    details: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Append one entry for a panel request: the actor is the signed-in member (or the one
    signing in), the address the request's client."""
    if actor is None:
        member = getattr(request.state, "staff", None) or getattr(request.state, "pending", None)
        actor = Actor(member.id, member.login) if member else Actor(None, "-")
    request.app.state.audit.append(
        action,
        actor=actor,
        client=client_address(request),
        target_kind=target_kind,
        target=target,
        account_id=account_id,
        details=details,
    )


# -- CSV --------------------------------------------------------------------------------------
CSV_HEADER = ("Czas", "Pracownik", "Adres", "Czynność", "Rodzaj obiektu", "Obiekt", "Szczegóły")


def _cell(value: str | None) -> str:
    """Text Excel would run as a formula gets a leading apostrophe (CSV injection): logins
    typed at sign-in and details are anybody's text."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(entries: Sequence[Entry]) -> bytes:
    """UTF-8 with BOM, `;`, CRLF: what Polish Excel opens without an import wizard."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        writer.writerow(
            (
                e.local_time,
                _cell(e.staff_login),
                _cell(e.client),
                _cell(e.action_label),
                _cell(e.target_kind_label),
                _cell(e.target),
                _cell(e.details),
            )
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
