"""The one place configuration comes from: environment variables, overridden by CLI flags.

Every path the application touches is derived here from the data dir, so code elsewhere never
joins a path from imported data by itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    keep_generations: int = 10
    session_idle_minutes: int = 30
    closed_account_retention_days: int = 30
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    mail_from: str = "EBOK <ebok@localhost>"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("EBOK_DATA_DIR") or "data"),
            "secret_key": env.get("EBOK_SECRET_KEY") or None,
            "base_url": (env.get("EBOK_BASE_URL") or cls.base_url).rstrip("/"),
            "host": env.get("EBOK_HOST") or cls.host,
            "port": int(env.get("EBOK_PORT") or cls.port),
            "keep_generations": int(env.get("EBOK_KEEP_GENERATIONS") or cls.keep_generations),
            "session_idle_minutes": int(
                env.get("EBOK_SESSION_IDLE_MINUTES") or cls.session_idle_minutes
            ),
            "closed_account_retention_days": int(
                env.get("EBOK_CLOSED_RETENTION_DAYS") or cls.closed_account_retention_days
            ),
            "smtp_host": env.get("EBOK_SMTP_HOST") or None,
            "smtp_port": int(env.get("EBOK_SMTP_PORT") or cls.smtp_port),
            "smtp_user": env.get("EBOK_SMTP_USER") or None,
            "smtp_password": env.get("EBOK_SMTP_PASSWORD") or None,
            "smtp_starttls": _bool(env.get("EBOK_SMTP_STARTTLS"), False),
            "mail_from": env.get("EBOK_MAIL_FROM") or cls.mail_from,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data_dir"] = Path(values["data_dir"]).resolve()  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

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
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def accounts_db(self) -> Path:
        return self.data_dir / "ebok.sqlite3"

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
