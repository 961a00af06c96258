"""`ebok accounts …`: every action, as the manager types it."""

from __future__ import annotations

import io
import stat
from email import policy
from email.parser import BytesParser
from pathlib import Path

from pypdf import PdfReader

from portal.accounts.mail import Mailer, compose
from portal.accounts.service import Accounts
from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.cli import NEW_PASSWORD, change_password, ebok, one_time_password, sign_in

COMMUNITY = "Wspólnota Mieszkaniowa Źródlana 7"


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def sign_in_status(settings, login: str, password: str) -> int:
    return sign_in(create_app(settings), login, password)[1].status_code


def create(settings, capsys, login="łucja", *extra: str) -> str:
    assert (
        ebok(settings, "accounts", "create", "--login", login, "--premises", "ZR7/12", *extra) == 0
    )
    return one_time_password(capsys.readouterr().out)


def test_create_prints_a_one_time_password_that_works_once(settings, app, capsys):
    assert ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12") == 0
    password = one_time_password(capsys.readouterr().out)
    client, response = sign_in(app, "jan", password)
    assert response.headers["location"] == "/password/change"
    assert change_password(client, password, NEW_PASSWORD).status_code == 303
    assert sign_in(app, "jan", password)[1].status_code == 400
    assert sign_in(app, "jan", NEW_PASSWORD)[1].headers["location"] == "/"


def test_create_refuses_a_taken_login_and_a_bad_email(settings, capsys):
    assert ebok(settings, "accounts", "create", "--login", "jan", "--premises", "A") == 0
    assert ebok(settings, "accounts", "create", "--login", "JAN", "--premises", "B") == 1
    assert "already taken" in capsys.readouterr().err
    args = ("accounts", "create", "--login", "ewa", "--premises", "A", "--email", "ewa at home")
    assert ebok(settings, *args) == 1
    assert "not an e-mail address" in capsys.readouterr().err


def test_linking_a_premises_not_in_the_data_warns_but_links(settings, store, capsys):
    publish_documents(store, [make_document("KW5/12")])
    args = ("accounts", "create", "--login", "jan", "--premises", "KW5/12")
    assert ebok(settings, *args, "--premises", "KW5/99") == 0
    err = capsys.readouterr().err
    assert "KW5/99" in err and "KW5/12" not in err
    assert ebok(settings, "accounts", "list") == 0
    assert "KW5/12,KW5/99" in capsys.readouterr().out


def test_list_shows_every_account(settings, capsys):
    ebok(
        settings,
        "accounts",
        "create",
        "--login",
        "jan",
        "--premises",
        "KW5/12",
        "--premises",
        "G 3",
        "--email",
        "jan@example.com",
    )
    ebok(settings, "accounts", "create", "--login", "anna", "--premises", "KW5/12")
    capsys.readouterr()
    assert ebok(settings, "accounts", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("login")
    assert lines[1].split("\t")[:4] == ["anna", "active (must change password)", "KW5/12", "-"]
    assert lines[2].split("\t")[:4] == [
        "jan",
        "active (must change password)",
        "G 3,KW5/12",
        "jan@example.com",
    ]


def test_disable_ends_sessions_and_enable_allows_sign_in_again(settings, app, capsys):
    ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    password = one_time_password(capsys.readouterr().out)
    client, _ = sign_in(app, "jan", password)
    change_password(client, password, NEW_PASSWORD)
    assert client.get("/password/change", follow_redirects=False).status_code == 200

    assert ebok(settings, "accounts", "disable", "--login", "jan") == 0
    assert client.get("/password/change", follow_redirects=False).status_code == 303
    assert sign_in(app, "jan", NEW_PASSWORD)[1].status_code == 403

    assert ebok(settings, "accounts", "enable", "--login", "jan") == 0
    assert sign_in(app, "jan", NEW_PASSWORD)[1].headers["location"] == "/"
    assert ebok(settings, "accounts", "disable", "--login", "nobody") == 1


def test_link_and_unlink_change_what_the_resident_can_open(settings, store, app, capsys):
    publish_documents(store, [make_document("KW5/12"), make_document("KW5/13", number="13")])
    ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    password = one_time_password(capsys.readouterr().out)
    client, _ = sign_in(app, "jan", password)
    change_password(client, password, NEW_PASSWORD)
    assert client.get("/premises/KW5%2F13").status_code == 404

    assert ebok(settings, "accounts", "link", "--login", "jan", "--premises", "KW5/13") == 0
    assert client.get("/premises/KW5%2F13").status_code == 200
    assert ebok(settings, "accounts", "unlink", "--login", "jan", "--premises", "KW5/12") == 0
    assert client.get("/premises/KW5%2F12").status_code == 404
    assert ebok(settings, "accounts", "unlink", "--login", "jan", "--premises", "KW5/12") == 1
    assert "not linked" in capsys.readouterr().err


def test_set_email(settings, app, capsys):
    ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    assert ebok(settings, "accounts", "set-email", "--login", "jan", "--email", "j@example.pl") == 0
    assert app.state.accounts.by_login("jan").email == "j@example.pl"
    assert ebok(settings, "accounts", "set-email", "--login", "jan", "--email", "nope") == 1
    assert app.state.accounts.by_login("jan").email == "j@example.pl"
    assert ebok(settings, "accounts", "set-email", "--login", "jan", "--clear") == 0
    assert app.state.accounts.by_login("jan").email is None


def test_reset_password_hands_out_a_new_one_time_password(settings, app, capsys):
    ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    first = one_time_password(capsys.readouterr().out)
    client, _ = sign_in(app, "jan", first)
    change_password(client, first, NEW_PASSWORD)
    assert ebok(settings, "accounts", "reset-password", "--login", "jan") == 0
    second = one_time_password(capsys.readouterr().out)
    assert client.get("/password/change", follow_redirects=False).status_code == 303
    assert sign_in(app, "jan", NEW_PASSWORD)[1].status_code == 400
    assert sign_in(app, "jan", second)[1].headers["location"] == "/password/change"


# -- letters, reset, close, purge, mail ---------------------------------------------------------
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


def test_a_letter_in_english_on_request(settings, store, tmp_path, capsys):
    publish_documents(store, [make_document("ZR7/12", community_name=COMMUNITY, number="12")])
    letter = tmp_path / "letter-lucy.pdf"
    password = create(settings, capsys, "lucy", "--letter", str(letter), "--lang", "en")
    text = pdf_text(letter)
    assert "One-time password" in text and "First steps" in text and password in text
    assert "Hasło jednorazowe" not in text


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
    assert Accounts(settings.accounts_database).by_login("jan") is None
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
    assert Accounts(settings.accounts_database).by_login("anna").email == "anna@example.com"

    monkeypatch.setenv("EBOK_CLOSED_RETENTION_DAYS", "0")
    assert ebok(settings, "accounts", "list") == 0
    captured = capsys.readouterr()
    assert "anna: closed account's personal data erased" in captured.err
    assert "anna@example.com" not in captured.out
    assert "closed (personal data erased)" in captured.out
    assert Accounts(settings.accounts_database).by_login("anna").email is None
    assert Accounts(settings.accounts_database).by_login("bartek").email == "b@example.com"


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
