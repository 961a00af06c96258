"""`ebok accounts create --letter | reset | close | purge | mail-retry`."""

from __future__ import annotations

import io
import re
import stat
from email import policy
from email.parser import BytesParser
from pathlib import Path

from pypdf import PdfReader
from starlette.testclient import TestClient

from portal.accounts.mail import Mailer, compose
from portal.accounts.service import Accounts
from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.cli import ebok, one_time_password

COMMUNITY = "Wspólnota Mieszkaniowa Źródlana 7"


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def sign_in_status(settings, login: str, password: str) -> int:
    client = TestClient(create_app(settings))
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf},
        follow_redirects=False,
    ).status_code


def create(settings, capsys, login="łucja", *extra: str) -> str:
    assert (
        ebok(settings, "accounts", "create", "--login", login, "--premises", "ZR7/12", *extra) == 0
    )
    return one_time_password(capsys.readouterr().out)


def test_create_with_letter_prints_credentials_and_premises(settings, store, tmp_path, capsys):
    publish_documents(store, [make_document("ZR7/12", community_name=COMMUNITY, number="12")])
    letter = tmp_path / "list-łucja.pdf"
    password = create(
        settings, capsys, "łucja", "--email", "l@example.com", "--letter", str(letter)
    )
    text = pdf_text(letter)
    assert "łucja" in text and password in text
    assert COMMUNITY in text and "lok. 12" in text
    assert settings.base_url in text
    assert stat.S_IMODE(letter.stat().st_mode) == 0o600
    assert sign_in_status(settings, "łucja", password) == 303


def test_create_refuses_an_existing_letter_file_before_creating(settings, tmp_path, capsys):
    letter = tmp_path / "taken.pdf"
    letter.write_bytes(b"someone else's letter")
    code = ebok(
        settings,
        "accounts",
        "create",
        "--login",
        "jan",
        "--premises",
        "A/1",
        "--letter",
        str(letter),
    )
    assert code == 1
    assert "already exists" in capsys.readouterr().err
    assert Accounts(settings.accounts_db).by_login("jan") is None
    assert letter.read_bytes() == b"someone else's letter"


def test_office_reset_with_letter_replaces_the_password(settings, tmp_path, capsys):
    old = create(settings, capsys, "anna", "--email", "anna@example.com")
    letter = tmp_path / "reset.pdf"
    assert ebok(settings, "accounts", "reset", "anna", "--letter", str(letter)) == 0
    new = one_time_password(capsys.readouterr().out)
    assert new != old and new in pdf_text(letter)
    assert "Nowe hasło" in pdf_text(letter)
    assert sign_in_status(settings, "anna", old) == 400
    assert sign_in_status(settings, "anna", new) == 303
    # the resident is told by e-mail (outbox: no SMTP host configured)
    [eml] = settings.outbox_dir.glob("*.eml")
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert msg["To"] == "anna@example.com"
    assert "biurze zarządcy" in msg.get_body(("plain",)).get_content()


def test_reset_password_command_is_the_same_office_reset(settings, capsys):
    create(settings, capsys, "anna")
    assert ebok(settings, "accounts", "reset-password", "--login", "anna") == 0
    new = one_time_password(capsys.readouterr().out)
    assert sign_in_status(settings, "anna", new) == 303


def test_close_refuses_sign_in_reset_and_enable(settings, capsys):
    password = create(settings, capsys, "anna", "--email", "anna@example.com")
    assert ebok(settings, "accounts", "close", "anna") == 0
    out = capsys.readouterr().out
    assert "closed" in out and "will be erased after" in out
    assert sign_in_status(settings, "anna", password) == 403
    assert ebok(settings, "accounts", "reset", "anna") == 1
    assert "closed" in capsys.readouterr().err
    assert ebok(settings, "accounts", "enable", "--login", "anna") == 1
    assert ebok(settings, "accounts", "close", "anna") == 1  # already closed
    capsys.readouterr()
    assert ebok(settings, "accounts", "list") == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("anna")]
    assert "\tclosed (data erased after 20" in row


def test_any_accounts_command_erases_data_after_retention(settings, monkeypatch, capsys):
    create(settings, capsys, "anna", "--email", "anna@example.com")
    create(settings, capsys, "bartek", "--email", "b@example.com")
    assert ebok(settings, "accounts", "close", "anna") == 0
    assert ebok(settings, "accounts", "purge") == 0
    assert "nothing to erase" in capsys.readouterr().out  # 30 days by default
    assert Accounts(settings.accounts_db).by_login("anna").email == "anna@example.com"

    monkeypatch.setenv("EBOK_CLOSED_RETENTION_DAYS", "0")
    assert ebok(settings, "accounts", "list") == 0
    captured = capsys.readouterr()
    assert "anna: closed account's personal data erased" in captured.err
    assert "anna@example.com" not in captured.out
    assert "closed (personal data erased)" in captured.out
    assert Accounts(settings.accounts_db).by_login("anna").email is None
    assert Accounts(settings.accounts_db).by_login("bartek").email == "b@example.com"


def test_mail_retry_delivers_kept_messages(settings, capsys):
    mailer = Mailer(settings)
    msg = compose(
        settings,
        "a@example.com",
        "Temat",
        "password_changed",
        {"login": "anna", "when": "dziś", "how": "test"},
    )
    failed = settings.outbox_dir / "failed"
    failed.mkdir(parents=True)
    (failed / "kept.eml").write_bytes(msg.as_bytes())
    assert ebok(settings, "accounts", "mail-retry") == 0
    assert "delivered 1, still failed 0" in capsys.readouterr().out
    assert list(failed.iterdir()) == []
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1
    mailer.close()
