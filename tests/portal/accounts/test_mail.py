"""Mail composing and delivery, against the outbox and a real SMTP server on loopback."""

from __future__ import annotations

import logging
import stat
import threading
from email import policy
from email.parser import BytesParser

import pytest

from ebok.settings import Settings
from portal.accounts.mail import Mailer, compose
from tests.portal.accounts.smtp_server import Inbox, free_port, smtp_server

LINK = "http://portal.example/password/reset/SECRET-TOKEN-123"


def reset_message(settings: Settings, to: str = "anna@example.com"):
    return compose(
        settings,
        to,
        "Ustawienie nowego hasła w EBOK",
        "password_reset",
        {"login": "anna.żółć", "link": LINK, "valid_minutes": 60},
    )


def test_message_is_polish_plain_text_and_html(settings: Settings) -> None:
    msg = reset_message(settings)
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert parsed["Subject"] == "Ustawienie nowego hasła w EBOK"
    assert parsed["To"] == "anna@example.com"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "anna.żółć" in text and LINK in text
    assert "prośbę" in text
    assert f'href="{LINK}"' in html
    assert "<strong>anna.żółć</strong>" in html


def test_html_part_escapes_data(settings: Settings) -> None:
    msg = compose(
        settings,
        "a@example.com",
        "x",
        "password_changed",
        {"login": "<b>evil</b>", "when": "24.11.2026 10:00", "how": "test"},
    )
    html = msg.get_body(("html",)).get_content()
    assert "<b>evil</b>" not in html and "&lt;b&gt;evil&lt;/b&gt;" in html
    assert "<b>evil</b>" in msg.get_body(("plain",)).get_content()


def test_without_smtp_host_messages_land_in_outbox(settings: Settings, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ebok.mail")
    mailer = Mailer(settings)
    mailer.send(reset_message(settings))
    assert mailer.flush(10)
    files = list(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 1
    # owner-only: the file holds a working link
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    parsed = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert LINK in parsed.get_body(("plain",)).get_content()
    assert str(files[0]) in caplog.text
    assert "SECRET-TOKEN" not in caplog.text
    mailer.close()


def test_send_does_not_wait_for_delivery(settings: Settings) -> None:
    release = threading.Event()
    delivered: list[str] = []

    class Slow:
        def deliver(self, msg) -> str:
            release.wait(10)
            delivered.append(msg["To"])
            return "slow"

    mailer = Mailer(settings, transport=Slow())
    mailer.send(reset_message(settings))
    assert delivered == []  # the caller is back while delivery is still under way
    release.set()
    assert mailer.flush(10)
    assert delivered == ["anna@example.com"]
    mailer.close()


def test_delivers_over_smtp_with_login(settings: Settings) -> None:
    inbox = Inbox()
    with smtp_server(inbox, auth=("ebok", "s3cret-pw")) as port:
        cfg = settings.with_overrides(
            smtp_host="127.0.0.1", smtp_port=port, smtp_user="ebok", smtp_password="s3cret-pw"
        )
        mailer = Mailer(cfg, retry_delays=())
        mailer.send(reset_message(cfg))
        assert mailer.flush()
    assert len(inbox.messages) == 1
    got = inbox.messages[0]
    assert got["Subject"] == "Ustawienie nowego hasła w EBOK"
    assert LINK in got.get_body(("plain",)).get_content()
    assert not settings.outbox_dir.exists()


def test_wrong_smtp_password_is_never_logged(settings: Settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    inbox = Inbox()
    with smtp_server(inbox, auth=("ebok", "right-pw")) as port:
        cfg = settings.with_overrides(
            smtp_host="127.0.0.1", smtp_port=port, smtp_user="ebok", smtp_password="wrong-pw-XYZ"
        )
        mailer = Mailer(cfg, retry_delays=(0, 0), sleep=lambda s: None)
        mailer.send(reset_message(cfg))
        assert mailer.flush()
    assert inbox.messages == []
    assert len(list(mailer.failed_dir.glob("*.eml"))) == 1  # kept for `mail-retry`
    assert "Authentication" in caplog.text  # the reason is logged …
    assert "wrong-pw-XYZ" not in caplog.text  # … the password is not
    assert "SECRET-TOKEN" not in caplog.text
    assert len(list((settings.outbox_dir / "failed").glob("*.eml"))) == 1


def test_temporary_refusals_are_retried_with_backoff(settings: Settings, caplog) -> None:
    inbox = Inbox(refuse=2)
    waits: list[float] = []
    with smtp_server(inbox) as port:
        cfg = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port)
        mailer = Mailer(cfg, retry_delays=(1, 5, 30), sleep=waits.append)
        mailer.send(reset_message(cfg))
        assert mailer.flush(10)
        mailer.close()
    assert len(inbox.messages) == 1
    assert waits == [1, 5]
    assert caplog.text.count("delivery attempt") == 2


def test_undeliverable_message_is_kept_and_retried_later(settings: Settings, caplog) -> None:
    port = free_port()  # nothing listens here yet
    cfg = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port)
    mailer = Mailer(cfg, retry_delays=(0, 0), sleep=lambda s: None)
    mailer.send(reset_message(cfg))
    assert mailer.flush(10)
    failed = list((settings.outbox_dir / "failed").glob("*.eml"))
    assert len(failed) == 1
    assert "giving up after 3 attempts" in caplog.text
    assert "SECRET-TOKEN" not in caplog.text

    inbox = Inbox()
    with smtp_server(inbox, port=port):
        assert mailer.retry_failed() == (1, 0)
    assert list((settings.outbox_dir / "failed").glob("*.eml")) == []
    assert len(inbox.messages) == 1
    assert LINK in inbox.messages[0].get_body(("plain",)).get_content()
    mailer.close()


@pytest.mark.parametrize("template", ["password_reset", "password_changed"])
def test_every_template_renders_both_parts(settings: Settings, template: str) -> None:
    msg = compose(
        settings,
        "a@example.com",
        "Temat",
        template,
        {"login": "jan", "link": LINK, "valid_minutes": 60, "when": "dziś", "how": "x"},
    )
    assert msg.get_body(("plain",)).get_content().strip()
    assert "</html>" in msg.get_body(("html",)).get_content()


def test_stopping_keeps_undelivered_messages_for_later(settings: Settings) -> None:
    """A process stopping while a message waits out its backoff loses nothing."""
    attempted = threading.Event()

    class Down:
        def deliver(self, msg) -> str:
            attempted.set()
            raise ConnectionRefusedError("mail server down")

    mailer = Mailer(settings, transport=Down(), retry_delays=(3600, 3600))
    mailer.send(reset_message(settings, "first@example.com"))
    mailer.send(reset_message(settings, "second@example.com"))
    assert attempted.wait(10)  # the first is now waiting an hour before its next attempt
    assert mailer.spill(timeout=10) >= 1
    assert mailer.flush(10)
    kept = sorted(
        BytesParser(policy=policy.default).parsebytes(p.read_bytes())["To"]
        for p in (settings.outbox_dir / "failed").glob("*.eml")
    )
    assert kept == ["first@example.com", "second@example.com"]
