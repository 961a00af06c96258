"""The one place configuration comes from: environment variables, overridden by CLI flags.

Each setting is declared once, in SETTINGS: its Settings field, environment variable, default,
how the variable's text is read, and what it means. `Settings.from_env` reads them, `ebok
settings` prints them, and a test keeps README.md's configuration table equal to them.

Every path the application touches is derived here from the data dir, so code elsewhere never
joins a path from imported data by itself.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


def _bool(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _url(text: str) -> str:
    return text.rstrip("/")


def _workers(text: str) -> int:
    count = int(text)
    if count < 1:
        raise ValueError(f"EBOK_WORKERS must be at least 1, not {count}")
    return count


def _addresses(text: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks (`10.0.0.0/8`), or `*` for any."""
    found = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item != "*":
            ipaddress.ip_network(item)  # ValueError for anything else (host bits in a network too)
        found.append(item)
    return tuple(found)


def _database_url(text: str) -> str:
    value = text.strip()
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("EBOK_DATABASE_URL must be a postgresql:// URL (unset: SQLite)")
    return value


LOG_FORMATS = ("text", "json")


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"EBOK_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {text!r}")
    return value


@dataclass(frozen=True)
class Setting:
    name: str  # the Settings field
    env: str  # the environment variable
    default: Any
    parse: Callable[[str], Any]  # the variable's text (unset or empty: the default) to a value
    help: str
    shown_default: str | None = None  # how to show a default that is not a plain value
    flag: str | None = None  # the command-line flag that overrides the variable
    secret: bool = False  # never printed, nor in repr()

    @property
    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        return show(self.default)


def show(value: object) -> str:
    """A setting's value as `ebok settings` and README.md show it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value) if value else "—"
    return str(value)


def text(value: object) -> str | None:
    """A value as its variable's text (what `parse` reads back), or None for unset."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "EBOK_DATA_DIR",
        Path("data"),
        Path,
        "runtime data directory",
        shown_default="./data",
        flag="--data-dir",
    ),
    Setting(
        "database_url",
        "EBOK_DATABASE_URL",
        None,
        _database_url,
        "PostgreSQL for accounts, staff, throttles, the audit log and the import history,"
        " shared by several portal hosts (`postgresql://user:password@host/db`); unset: SQLite"
        " files in the data dir",
        shown_default="SQLite: DATA/ebok.sqlite3, DATA/imports.sqlite3",
        secret=True,
    ),
    Setting(
        "secret_key",
        "EBOK_SECRET_KEY",
        None,
        str,
        "session and token signing key",
        shown_default="generated once into DATA/secret_key (0600)",
        secret=True,
    ),
    Setting(
        "base_url",
        "EBOK_BASE_URL",
        "http://127.0.0.1:8000",
        _url,
        "the portal's public address, for e-mail links and letters",
    ),
    Setting(
        "host",
        "EBOK_HOST",
        "127.0.0.1",
        str,
        "address `ebok serve` listens on",
        flag="serve --host",
    ),
    Setting("port", "EBOK_PORT", 8000, int, "port `ebok serve` listens on", flag="serve --port"),
    Setting(
        "workers",
        "EBOK_WORKERS",
        os.cpu_count() or 1,
        _workers,
        "server processes `ebok serve` runs; they share every state through the data dir",
        shown_default="the number of CPUs",
        flag="serve --workers",
    ),
    Setting(
        "trusted_proxies",
        "EBOK_TRUSTED_PROXIES",
        (),
        _addresses,
        "comma-separated addresses (or networks) of reverse proxies whose X-Forwarded-For and"
        " X-Forwarded-Proto are believed; unset: the peer's own address counts and the headers"
        " are ignored",
        shown_default="none",
    ),
    Setting(
        "metrics_allow",
        "EBOK_METRICS_ALLOW",
        ("127.0.0.1", "::1"),
        _addresses,
        "comma-separated addresses (or networks) that may read /metrics (Prometheus); others"
        " get 404. The peer's address decides, or X-Forwarded-For's behind a trusted proxy",
    ),
    Setting(
        "log_format",
        "EBOK_LOG_FORMAT",
        "text",
        _log_format,
        "`ebok serve`'s log lines: text, or json (one object per line: time, level, logger,"
        " message and the record's fields)",
    ),
    Setting("keep_generations", "EBOK_KEEP_GENERATIONS", 10, int, "published generations kept"),
    Setting(
        "session_idle_minutes",
        "EBOK_SESSION_IDLE_MINUTES",
        30,
        int,
        "minutes without a request before a resident is signed out",
    ),
    Setting(
        "closed_account_retention_days",
        "EBOK_CLOSED_RETENTION_DAYS",
        30,
        int,
        "days before a closed account's personal data is erased",
    ),
    Setting(
        "panel",
        "EBOK_PANEL",
        True,
        _bool,
        "the manager's office panel at /panel/; off (or 0, false, no) serves the residents'"
        " portal alone (/panel/…: 404)",
    ),
    Setting(
        "smtp_host",
        "EBOK_SMTP_HOST",
        None,
        str,
        "outgoing mail server; unset: messages are written to DATA/outbox/*.eml",
    ),
    Setting("smtp_port", "EBOK_SMTP_PORT", 25, int, "mail server port"),
    Setting("smtp_user", "EBOK_SMTP_USER", None, str, "mail server login, when it wants one"),
    Setting("smtp_password", "EBOK_SMTP_PASSWORD", None, str, "mail server password", secret=True),
    Setting(
        "smtp_starttls",
        "EBOK_SMTP_STARTTLS",
        False,
        _bool,
        "1 (or true, yes, on) to upgrade the mail connection with STARTTLS (certificate verified)",
    ),
    Setting("mail_from", "EBOK_MAIL_FROM", "EBOK <ebok@localhost>", str, "the From header of mail"),
)

_DECLARED = {s.name: s for s in SETTINGS}


def _declared(name: str) -> Any:
    """A Settings field with its declared default; secrets stay out of repr()."""
    setting = _DECLARED[name]
    return field(default=setting.default, repr=not setting.secret)


@dataclass(frozen=True)
class Settings:
    """The effective configuration. Fields are those of SETTINGS, in the same order."""

    data_dir: Path = _declared("data_dir")
    database_url: str | None = _declared("database_url")
    secret_key: str | None = _declared("secret_key")
    base_url: str = _declared("base_url")
    host: str = _declared("host")
    port: int = _declared("port")
    workers: int = _declared("workers")
    trusted_proxies: tuple[str, ...] = _declared("trusted_proxies")
    metrics_allow: tuple[str, ...] = _declared("metrics_allow")
    log_format: str = _declared("log_format")
    keep_generations: int = _declared("keep_generations")
    session_idle_minutes: int = _declared("session_idle_minutes")
    closed_account_retention_days: int = _declared("closed_account_retention_days")
    panel: bool = _declared("panel")
    smtp_host: str | None = _declared("smtp_host")
    smtp_port: int = _declared("smtp_port")
    smtp_user: str | None = _declared("smtp_user")
    smtp_password: str | None = _declared("smtp_password")
    smtp_starttls: bool = _declared("smtp_starttls")
    mail_from: str = _declared("mail_from")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Each declared variable (unset or empty: the default), then the overrides that are
        not None (command-line flags). The data dir is made absolute."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            text = env.get(setting.env)
            values[setting.name] = setting.parse(text) if text else setting.default
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data_dir"] = Path(values["data_dir"]).resolve()  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def environment(self) -> dict[str, str | None]:
        """Each declared variable with the text that reads back as this value (None: unset),
        so that a process started with it (a server worker) builds the same Settings."""
        return {s.env: text(getattr(self, s.name)) for s in SETTINGS}

    # Everything below the data dir, named once.
    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def rejected_dir(self) -> Path:
        return self.data_dir / "rejected"

    @property
    def uploads_dir(self) -> Path:
        """Exports sent through the panel, each in a folder of its own until it is imported."""
        return self.data_dir / "uploads"

    @property
    def imports_db(self) -> Path:
        """The import history: every `ebok import`, `ebok sync` and panel upload
        (etl.import_history)."""
        return self.data_dir / "imports.sqlite3"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def work_dir(self) -> Path:
        """Scratch space of an import (a ledger too big for memory, etl.reader.spill): on the
        data dir's volume, never in the system's temporary folder, which may be small."""
        return self.data_dir / "work"

    @property
    def accounts_db(self) -> Path:
        return self.data_dir / "ebok.sqlite3"

    @property
    def accounts_database(self) -> Path | str:
        """Where accounts live (ebok.database.open_database): the PostgreSQL URL, or the file."""
        return self.database_url or self.accounts_db

    @property
    def imports_database(self) -> Path | str:
        """Where the import history lives: the PostgreSQL URL, or etl's own file."""
        return self.database_url or self.imports_db

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    @property
    def aliases_file(self) -> Path:
        """The manager's extra header aliases (TOML), kept beside the inbox."""
        return self.data_dir / "aliases.toml"

    @property
    def communities_file(self) -> Path:
        """Per-community settings for exports that lack them (legacy `#` format)."""
        return self.data_dir / "communities.toml"
