"""ebok/logs.py: JSON lines, and what never gets into a line."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from ebok.logs import JsonFormatter, log_config


@pytest.fixture
def lines(monkeypatch):
    """Logging configured as `ebok serve` does with EBOK_LOG_FORMAT=json, into a buffer."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    monkeypatch.setattr("sys.stderr", stream)
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate, lg.filters[:])
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "ebok", "")
        for lg in [logging.getLogger(name or None)]
    }
    logging.config.dictConfig(log_config("json"))
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for name, (handlers, level, propagate, filters) in saved.items():
        lg = logging.getLogger(name or None)
        lg.handlers, lg.level, lg.propagate, lg.filters = handlers, level, propagate, filters


def test_one_object_per_line_with_the_record_fields(lines):
    logging.getLogger("ebok.mail").info("mail %s: delivered", "reset <x@y>", extra={"kind": "x"})
    logging.getLogger("ebok.auth").warning(
        "oops", extra={"session_cookie": "abc", "password": "p", "reset_token": "t"}
    )
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("ebok.imports").exception("import failed")
    first, second, third = lines()
    assert first["level"] == "INFO" and first["logger"] == "ebok.mail"
    assert first["message"] == "mail reset <x@y>: delivered" and first["kind"] == "x"
    assert first["time"].endswith("+00:00") and isinstance(first["pid"], int)
    assert second["session_cookie"] == second["password"] == second["reset_token"] == "***"
    assert "ValueError: boom" in third["exception"]


def test_access_lines_have_their_fields_and_no_reset_token(lines):
    import portal.accounts.recovery  # noqa: F401  (what the server imports: the filter's home)

    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "192.0.2.1:5000",
        "GET",
        "/password/reset/eyJhIjoxfQ.SECRET.sig?x=1",
        "1.1",
        200,
    )
    [entry] = lines()
    assert "SECRET" not in json.dumps(entry)
    assert entry["path"] == "/password/reset/…?x=1" and entry["status"] == 200
    assert entry["client"] == "192.0.2.1:5000" and entry["method"] == "GET"


def test_text_mode_keeps_uvicorn_formatters():
    config = log_config("text")
    assert config["formatters"]["access"]["()"] == "uvicorn.logging.AccessFormatter"
    assert JsonFormatter.__name__ not in json.dumps(config)
