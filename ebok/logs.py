"""`ebok serve`'s logging: the portal's own loggers (ebok.*) and uvicorn's, as text or JSON lines.

`log_config(format)` is a logging.config.dictConfig dictionary that uvicorn applies in the
server process and again in each worker process (so everything named in it is importable by
path). With EBOK_LOG_FORMAT=json every line is one JSON object: `time` (UTC, ISO 8601), `level`,
`logger`, `message`, `pid` (which worker), the fields a record was given with `extra=`, and
for uvicorn's access log `client`, `method`, `path`, `status` and `http_version`; `exception`
holds a traceback.

What never reaches a line, in either format: reset tokens (the password-reset path is shortened
to `/password/reset/…` by portal.accounts.recovery.RedactResetTokens, a filter on every handler
here), and any `extra` field whose name says it holds a secret (`password`, `token`, `cookie`,
`secret`, `authorization`, `session`): its value is written as `***`. Nothing logs request
headers (uvicorn's access line is the request line and status), so cookies never get there.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

REDACT_FILTER = "portal.accounts.recovery.RedactResetTokens"
SECRET_WORDS = ("password", "token", "cookie", "secret", "authorization", "session")
# What every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
    "taskName",
}
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker of `ebok serve --workers N`
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            if len(record.args) == len(_ACCESS_FIELDS):
                entry.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_") or key in entry:
                continue
            entry[key] = "***" if _secret(key) else value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def log_config(log_format: str = "text") -> dict[str, Any]:
    """The dictConfig for `ebok serve`: uvicorn's loggers as uvicorn sets them up (access lines
    on stdout, the rest on stderr), the portal's ebok.* loggers and anything else that reaches
    the root logger on stderr; JSON lines when `log_format` is "json"."""
    if log_format == "json":
        formatters: dict[str, Any] = {
            name: {"()": f"{__name__}.JsonFormatter"} for name in ("default", "access", "plain")
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
            "plain": {"format": "%(levelname)-9s %(name)s: %(message)s"},
        }

    def handler(formatter: str, stream: str) -> dict[str, Any]:
        return {
            "class": "logging.StreamHandler",
            "formatter": formatter,
            "stream": f"ext://sys.{stream}",
            "filters": ["redact"],
        }

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": REDACT_FILTER}},
        "formatters": formatters,
        "handlers": {
            "default": handler("default", "stderr"),
            "access": handler("access", "stdout"),
            "plain": handler("plain", "stderr"),
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "ebok": {"level": "INFO"},
        },
        "root": {"handlers": ["plain"], "level": "WARNING"},
    }
