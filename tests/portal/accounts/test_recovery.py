"""Forgotten password through the real application and a real SMTP server on loopback."""

from __future__ import annotations

import logging
import re
import statistics
import threading
import time
from email import policy
from email.parser import BytesParser
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from ebok.settings import Settings
from portal.accounts import passwords, recovery
from portal.accounts.mail import Mailer
from portal.accounts.recovery import RedactResetTokens, ResetTokens
from portal.accounts.throttle import Policy, Throttle
from portal.app import create_app
from tests.portal.accounts.smtp_server import Inbox, smtp_server

OLD = "stara-łąka-47-kwiatowa"
NEW = "nowe-źdźbło-88-polne"
SENT = "Jeśli konto o podanym loginie ma przypisany adres e-mail"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _link(msg) -> str:
    text = msg.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/password/reset/\S+", text).group(0)


def _path(link: str) -> str:
    return urlsplit(link).path


@pytest.fixture
def inbox():
    inbox = Inbox()
    with smtp_server(inbox) as port:
        inbox.port = port
        yield inbox


@pytest.fixture
def app(settings: Settings, inbox: Inbox):
    cfg = settings.with_overrides(
        smtp_host="127.0.0.1", smtp_port=inbox.port, base_url="http://ebok.example.pl"
    )
    app = create_app(cfg)
    yield app
    mailer = getattr(app.state, "mailer", None)
    if mailer is not None:
        mailer.close()


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def add_account(app, login="anna", email="anna@example.com"):
    record = app.state.accounts.create(
        login, passwords.hash_password(OLD), ["KW5/12"], email=email, must_change_password=False
    )
    return record


def ask_reset(client: TestClient, login: str):
    page = client.get("/password/forgot")
    assert page.status_code == 200
    return client.post("/password/forgot", data={"login": login, "csrf_token": _csrf(page.text)})


def delivered(app, inbox: Inbox) -> list:
    mailer = getattr(app.state, "mailer", None)
    if mailer is not None:
        assert mailer.flush(10)
    return inbox.messages


def set_password(client: TestClient, path: str, new: str = NEW, repeat: str | None = None):
    page = client.get(path)
    forgot = client.get("/password/forgot")  # a form token even when the link is dead
    return client.post(
        path,
        data={
            "new_password": new,
            "new_password_repeat": new if repeat is None else repeat,
            "csrf_token": _csrf(page.text if page.status_code == 200 else forgot.text),
        },
        follow_redirects=False,
    )


def sign_in(app, login: str, password: str) -> int:
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/login")
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    ).status_code


def test_reset_link_by_email_sets_a_new_password_once(app, client, inbox, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    add_account(app)
    response = ask_reset(client, "anna")
    assert response.status_code == 200 and SENT in response.text

    [msg] = delivered(app, inbox)
    assert msg["To"] == "anna@example.com"
    assert msg["Subject"] == "Ustawienie nowego hasła w EBOK"
    link = _link(msg)
    assert link.startswith("http://ebok.example.pl/password/reset/")
    assert f'href="{link}"' in msg.get_body(("html",)).get_content()

    form = client.get(_path(link))
    assert form.status_code == 200 and "anna" in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    done = set_password(client, _path(link))
    assert done.status_code == 303 and done.headers["location"] == "/login?changed=1"

    assert sign_in(app, "anna", NEW) == 303
    assert sign_in(app, "anna", OLD) == 400
    # single use: the link died with the old password
    again = client.get(_path(link))
    assert again.status_code == 400 and "nieważny" in again.text
    assert set_password(client, _path(link), "inne-hasło-na-próbę-9").status_code == 400
    assert sign_in(app, "anna", NEW) == 303

    # the resident is told that the password changed
    notices = [m for m in delivered(app, inbox) if "zmienione" in m["Subject"]]
    assert len(notices) == 1 and notices[0]["To"] == "anna@example.com"
    token = _path(link).rsplit("/", 1)[1]
    # (the test client's own httpx log prints URLs; the portal's loggers must not)
    assert not [r for r in caplog.records if token in r.getMessage() and r.name != "httpx"]


def test_link_expires_after_an_hour(app, client, inbox) -> None:
    add_account(app)
    now = [1_800_000_000.0]
    app.state.reset_tokens = ResetTokens("another-secret-for-this-test", clock=lambda: now[0])
    ask_reset(client, "anna")
    path = _path(_link(delivered(app, inbox)[0]))
    now[0] += 3599
    assert client.get(path).status_code == 200
    now[0] += 2
    response = client.get(path)
    assert response.status_code == 400 and "wygasł" in response.text
    assert set_password(client, path).status_code == 400
    assert sign_in(app, "anna", OLD) == 303


def test_link_dies_when_password_changes_otherwise(app, client, inbox) -> None:
    add_account(app)
    ask_reset(client, "anna")
    path = _path(_link(delivered(app, inbox)[0]))
    app.state.accounts.office_reset("anna")
    assert client.get(path).status_code == 400


def test_forged_or_mangled_token_is_refused(app, client, inbox) -> None:
    record = add_account(app)
    forged = ResetTokens("not-the-portal-secret").issue(record.id, record.password_hash)
    assert client.get(f"/password/reset/{forged}").status_code == 400
    assert client.get("/password/reset/abc.def.ghi").status_code == 400


def test_same_answer_for_unknown_no_email_and_real_account(app, client, inbox) -> None:
    add_account(app, "anna", "anna@example.com")
    add_account(app, "jan", None)
    pages = [ask_reset(client, login) for login in ("anna", "jan", "nikt-taki")]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert pages[0].text == pages[1].text == pages[2].text
    assert [m["To"] for m in delivered(app, inbox)] == ["anna@example.com"]


def test_same_work_and_similar_time_whether_or_not_mail_goes(app, client, monkeypatch):
    """Counts the work (token + message built in every case) and compares median times with a
    wide tolerance. Delivery is held back until each probe has returned, which is what the
    design promises: the request only queues, after its response, and never waits."""
    add_account(app, "anna", "anna@example.com")
    add_account(app, "jan", None)
    unlimited = Policy(free_failures=10_000)
    app.state.recovery_throttle = Throttle(unlimited, unlimited)
    sent: list[str] = []
    gate = threading.Event()

    class Held:
        def deliver(self, msg) -> str:
            assert gate.wait(10)
            sent.append(msg["To"])
            return "held"

    app.state.mailer = Mailer(app.state.settings, transport=Held())
    calls: list[str] = []
    real_compose = recovery.compose
    monkeypatch.setattr(
        recovery, "compose", lambda *a, **k: calls.append(a[1]) or real_compose(*a, **k)
    )
    token = _csrf(client.get("/password/forgot").text)

    def timed(login: str) -> float:
        gate.clear()
        start = time.perf_counter()
        response = client.post("/password/forgot", data={"login": login, "csrf_token": token})
        elapsed = time.perf_counter() - start
        assert response.status_code == 200
        gate.set()
        assert app.state.mailer.flush(10)
        return elapsed

    logins = ("anna", "jan", "nikt")
    for login in logins:  # warm-up
        timed(login)
    assert calls == ["anna@example.com", "nobody@invalid", "nobody@invalid"]
    assert sent == ["anna@example.com"]
    runs: dict[str, list[float]] = {login: [] for login in logins}
    for _ in range(15):  # interleaved, so that load from elsewhere hits all three alike
        for login in logins:
            runs[login].append(timed(login))
    medians = {login: statistics.median(times) for login, times in runs.items()}
    fastest = min(medians.values())
    assert max(medians.values()) < fastest * 2 + 0.005, medians
    app.state.mailer.close()


def test_account_without_email_gets_no_message(app, client, inbox, settings, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ebok.recovery")
    add_account(app, "jan", None)
    assert SENT in ask_reset(client, "jan").text
    assert delivered(app, inbox) == []
    assert "cannot recover by e-mail" in caplog.text
    assert not settings.outbox_dir.exists()


def test_closed_account_cannot_reset_or_sign_in(app, client, inbox) -> None:
    add_account(app)
    ask_reset(client, "anna")
    path = _path(_link(delivered(app, inbox)[0]))
    app.state.accounts.close_account("anna")
    assert client.get(path).status_code == 400  # a link sent before closing dies
    assert set_password(client, path).status_code == 400
    assert SENT in ask_reset(client, "anna").text  # same answer as ever …
    assert len(delivered(app, inbox)) == 1  # … but no new message
    assert sign_in(app, "anna", OLD) == 403
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/login")
    refused = client.post(
        "/login", data={"login": "anna", "password": OLD, "csrf_token": _csrf(page.text)}
    )
    assert "zamknięte" in refused.text


def test_requests_are_throttled_per_login_and_per_address(app, client, inbox) -> None:
    add_account(app)
    statuses = [ask_reset(client, "anna").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200]  # a few requests are free …
    assert 429 in statuses  # … then the login must wait
    limited = ask_reset(client, "anna")
    assert limited.status_code == 429 and "Zbyt wiele" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert len(delivered(app, inbox)) == statuses.count(200)
    # the same address is not blocked for another login yet …
    assert ask_reset(client, "ktos-inny").status_code == 200
    # … but it is after many different logins
    statuses = [ask_reset(client, f"login{i}").status_code for i in range(25)]
    assert statuses[-1] == 429


def test_weak_or_mismatched_new_password_is_explained(app, client, inbox) -> None:
    add_account(app)
    ask_reset(client, "anna")
    path = _path(_link(delivered(app, inbox)[0]))
    short = set_password(client, path, "krótkie")
    assert short.status_code == 400 and "co najmniej" in short.text
    mismatch = set_password(client, path, NEW, NEW + "x")
    assert mismatch.status_code == 400 and "różnią się" in mismatch.text
    assert client.get(path).status_code == 200  # the link still works after a rejected form
    assert sign_in(app, "anna", OLD) == 303


def test_form_without_csrf_token_is_refused(app, client, inbox) -> None:
    add_account(app)
    client.get("/password/forgot")
    response = client.post("/password/forgot", data={"login": "anna"})
    assert response.status_code == 403
    assert delivered(app, inbox) == []


def test_outbox_when_no_smtp_host(settings: Settings) -> None:
    """What a new user sees on scripts/server: the message lands in DATA/outbox/."""
    app = create_app(settings)
    add_account(app)
    client = TestClient(app, base_url="http://testserver")
    ask_reset(client, "anna")
    assert app.state.mailer.flush(10)
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert set_password(client, _path(_link(msg))).status_code == 303
    assert sign_in(app, "anna", NEW) == 303
    assert sign_in(app, "anna", OLD) == 400
    app.state.mailer.close()


def test_access_log_filter_hides_tokens() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/password/reset/eyJhIjo.TOKEN.sig", "1.1", 200),
        None,
    )
    RedactResetTokens().filter(record)
    assert "TOKEN" not in record.getMessage()
    assert "/password/reset/…" in record.getMessage()


def test_changing_password_after_sign_in_notifies_the_resident(app, inbox) -> None:
    add_account(app)
    add_account(app, "jan", None)
    for login in ("anna", "jan"):
        client = TestClient(app, base_url="http://testserver")
        page = client.get("/login")
        client.post(
            "/login", data={"login": login, "password": OLD, "csrf_token": _csrf(page.text)}
        )
        form = client.get("/password/change")
        response = client.post(
            "/password/change",
            data={
                "current_password": OLD,
                "new_password": NEW,
                "new_password_repeat": NEW,
                "csrf_token": _csrf(form.text),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
    [notice] = delivered(app, inbox)  # jan has no e-mail address
    assert notice["To"] == "anna@example.com"
    assert notice["Subject"] == "Hasło do EBOK zostało zmienione"
    assert "zmiana hasła po zalogowaniu" in notice.get_body(("plain",)).get_content()
