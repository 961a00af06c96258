"""`ebok accounts ...`, `ebok demo-setup`, `ebok serve`, and the session secret."""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from etl.snapshot.store import RECHECK_SECONDS
from portal.app import create_app, load_secret_key
from tests.builders import make_document, publish_documents
from tests.cli import ebok, one_time_password
from tests.forms import csrf_token

NEW_PASSWORD = "Zielony-kot-na-dachu"


def token(response) -> str:
    return csrf_token(response.text)


def sign_in(app, login: str, password: str) -> tuple[TestClient, object]:
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token(page)},
        follow_redirects=False,
    )
    return client, response


def change_password(client: TestClient, current: str, new: str):
    page = client.get("/password/change")
    return client.post(
        "/password/change",
        data={
            "csrf_token": token(page),
            "current_password": current,
            "new_password": new,
            "new_password_repeat": new,
        },
        follow_redirects=False,
    )


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


@pytest.mark.slow
def test_demo_setup_publishes_demo_data_and_a_working_demo_login(settings, capsys):
    assert ebok(settings, "demo-setup") == 0
    out = capsys.readouterr().out
    premises = re.search(r"Demo account, premises: (.+)", out).group(1).split(", ")
    assert len(premises) == 2
    # Run again: no second import, and the newly printed password is the one that works.
    generations = sorted(p.name for p in settings.snapshots_dir.iterdir() if p.is_dir())
    assert ebok(settings, "demo-setup") == 0
    again = one_time_password(capsys.readouterr().out)
    assert sorted(p.name for p in settings.snapshots_dir.iterdir() if p.is_dir()) == generations
    app = create_app(settings)
    client, response = sign_in(app, "demo", again)
    assert response.headers["location"] == "/password/change"
    change_password(client, again, NEW_PASSWORD)
    listing = client.get("/")
    assert listing.status_code == 200
    for pid in premises:
        assert pid in listing.text


# -- the session secret -------------------------------------------------------------------------
def test_secret_key_is_generated_once_and_kept_private(settings):
    unset = dataclasses.replace(settings, secret_key=None)
    first = load_secret_key(unset)
    path = unset.secret_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 40 and load_secret_key(unset) == first
    # A configured key wins, and no file is needed for it.
    path.unlink()
    assert load_secret_key(settings) == "test-secret-key-0123456789abcdef"
    assert not path.exists()


def test_sessions_survive_a_restart_with_the_stored_secret(settings, capsys):
    unset = dataclasses.replace(settings, secret_key=None)
    ebok(unset, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    password = one_time_password(capsys.readouterr().out)
    client, _ = sign_in(create_app(unset), "jan", password)
    restarted = TestClient(create_app(unset), cookies=client.cookies)
    assert restarted.get("/password/change", follow_redirects=False).status_code == 200


# -- serve --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_on_the_given_port(settings, store):
    publish_documents(store, [make_document("KW5/12")])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ebok.cli",
            "--data-dir",
            str(settings.data_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as r:
            assert "Logowanie" in r.read().decode()
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        # A newly published generation shows up without a restart (within RECHECK_SECONDS).
        newer = publish_documents(store, [make_document("KW5/12", as_of="2026-11-27")])
        deadline = time.monotonic() + RECHECK_SECONDS + 5
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                if newer.id in r.read().decode():
                    break
            assert time.monotonic() < deadline, "the new generation was not picked up"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (settings.data_dir / "ebok.sqlite3").exists()
