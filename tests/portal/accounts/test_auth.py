"""Signing in and out, sessions that end when they should, throttling, security headers."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

import portal.accounts.auth
import portal.accounts.passwords
from portal.accounts.passwords import hash_password
from portal.accounts.service import DISABLED
from portal.accounts.throttle import Throttle
from portal.app import SESSION_COOKIE, create_app
from tests.builders import make_document, publish_documents
from tests.conftest import SIGNED_IN_PASSWORD
from tests.database import dump as database_text
from tests.forms import csrf_token


def token(response) -> str:
    return csrf_token(response.text)


def login(client: TestClient, login: str, password: str):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token(page)},
        follow_redirects=False,
    )


def logout(client: TestClient):
    page = client.get("/password/change")  # any signed-in page with a form token
    return client.post("/logout", data={"csrf_token": token(page)}, follow_redirects=False)


def copy_of(client: TestClient, app) -> TestClient:
    """Another browser holding a copy of `client`'s session cookie."""
    thief = TestClient(app)
    thief.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    return thief


def signed_in_ok(client: TestClient) -> bool:
    response = client.get("/password/change", follow_redirects=False)
    return response.status_code == 200


@pytest.fixture
def published(store):
    return publish_documents(
        store,
        [
            make_document("KW5/12"),
            make_document("KW5/13", payer_name="Anna Nowak", number="13"),
        ],
    )


# -- signed out ---------------------------------------------------------------------------------
def test_signed_out_visitor_is_sent_to_login(client):
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/login"
    page = client.get("/premises/KW5%2F12/ledger?year=2026", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    assert client.get("/login").status_code == 200


def test_next_returns_to_the_page_asked_for_but_never_off_site(app, client):
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), ["KW5/12"], must_change_password=False
    )
    asked = client.get("/premises/KW5%2F12/ledger?year=2026", follow_redirects=False)
    page = client.get(asked.headers["location"])
    response = client.post(
        "/login",
        data={
            "login": "jan",
            "password": SIGNED_IN_PASSWORD,
            "csrf_token": token(page),
            "next": re.search(r'name="next" value="([^"]+)"', page.text).group(1),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/premises/KW5%2F12/ledger?year=2026"
    logout(client)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "login": "jan",
            "password": SIGNED_IN_PASSWORD,
            "csrf_token": token(page),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


# -- signing in ---------------------------------------------------------------------------------
def test_correct_password_signs_in_with_a_safe_cookie(app, client):
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), ["KW5/12"], must_change_password=False
    )
    response = login(client, "jan", SIGNED_IN_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # served over plain http in this test
    assert signed_in_ok(client)


def test_cookie_is_secure_when_served_over_https(settings):
    app = create_app(settings.with_overrides(base_url="https://ebok.example.pl"))
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), [], must_change_password=False
    )
    with TestClient(app, base_url="https://ebok.example.pl") as client:
        response = login(client, "jan", SIGNED_IN_PASSWORD)
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()
        assert "strict-transport-security" in response.headers


def test_unknown_login_and_wrong_password_get_the_same_answer(app, client, monkeypatch):
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), [], must_change_password=False
    )
    verified = []
    real_verify = portal.accounts.passwords.verify_password
    monkeypatch.setattr(
        portal.accounts.passwords,
        "verify_password",
        lambda h, p: verified.append(h) or real_verify(h, p),
    )
    wrong = login(client, "jan", "not-the-password")
    unknown = login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Nieprawidłowy login lub hasło." in wrong.text
    assert "Nieprawidłowy login lub hasło." in unknown.text
    # The unknown login still paid for a hash verification (similar timing).
    assert verified[1] == portal.accounts.passwords.dummy_hash()
    assert not signed_in_ok(client)


def test_sign_ins_are_logged_without_the_password(app, client, caplog):
    caplog.set_level("INFO")
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), [], must_change_password=False
    )
    login(client, "jan", "wrong-password-123")
    login(client, "jan", SIGNED_IN_PASSWORD)
    record = app.state.accounts.by_login("jan")
    history = app.state.accounts.sign_in_history(record.id)
    assert [h["success"] for h in history] == [True, False]
    dump = database_text(app.state.accounts.db())
    assert "wrong-password-123" not in dump and SIGNED_IN_PASSWORD not in dump
    assert "sign-in failed: login='jan'" in caplog.text and "signed in: login='jan'" in caplog.text
    assert "wrong-password-123" not in caplog.text and SIGNED_IN_PASSWORD not in caplog.text


def test_disabled_account_cannot_sign_in(app, client):
    record = app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), [], must_change_password=False
    )
    app.state.accounts.set_status(record.id, DISABLED)
    assert "Nieprawidłowy login lub hasło." in login(client, "jan", "wrong-password-1").text
    right = login(client, "jan", SIGNED_IN_PASSWORD)
    assert "zablokowane" in right.text
    assert not signed_in_ok(client)


def test_previous_sign_in_time_is_shown(signed_in, published, app):
    first = signed_in("KW5/12", login="jan")
    assert "Poprzednie logowanie" not in first.get("/").text
    second = signed_in(login="jan")
    page = second.get("/")
    assert page.status_code == 200
    assert re.search(r"Poprzednie logowanie: .*\d\d\.\d\d\.\d{4} \d\d:\d\d", page.text)


# -- the forced first change and password changes ------------------------------------------------
def test_one_time_password_forces_a_change_before_anything_else(app, client, published):
    app.state.accounts.create("jan", hash_password("one-time-pass"), ["KW5/12"])
    response = login(client, "jan", "one-time-pass")
    assert response.headers["location"] == "/password/change"
    assert client.get("/", follow_redirects=False).headers["location"] == "/password/change"
    page = client.get("/password/change")
    assert "hasłem jednorazowym" in page.text

    weak = client.post(
        "/password/change",
        data={
            "csrf_token": token(page),
            "current_password": "one-time-pass",
            "new_password": "password123",
            "new_password_repeat": "password123",
        },
    )
    assert weak.status_code == 400 and "zbyt popularne" in weak.text
    wrong = client.post(
        "/password/change",
        data={
            "csrf_token": token(page),
            "current_password": "guess-guess",
            "new_password": "Zielony-kot-na-dachu",
            "new_password_repeat": "Zielony-kot-na-dachu",
        },
    )
    assert wrong.status_code == 400 and "Obecne hasło jest nieprawidłowe." in wrong.text

    done = client.post(
        "/password/change",
        data={
            "csrf_token": token(page),
            "current_password": "one-time-pass",
            "new_password": "Zielony-kot-na-dachu",
            "new_password_repeat": "Zielony-kot-na-dachu",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/premises/KW5%2F12", follow_redirects=False).status_code == 200
    # The one-time password works once only.
    other = TestClient(app)
    assert login(other, "jan", "one-time-pass").status_code == 400
    assert login(other, "jan", "Zielony-kot-na-dachu").headers["location"] == "/"


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("krotkie1", "co najmniej 10 znaków"),
        ("jan.kowalski", "takie samo jak login"),
        ("qwertyuiop", "zbyt popularne"),
    ],
)
def test_password_rules_are_enforced_on_change(signed_in, new, message):
    client = signed_in(login="jan.kowalski")
    page = client.get("/password/change")
    response = client.post(
        "/password/change",
        data={
            "csrf_token": token(page),
            "current_password": SIGNED_IN_PASSWORD,
            "new_password": new,
            "new_password_repeat": new,
        },
    )
    assert response.status_code == 400 and message in response.text


def test_password_change_ends_other_sessions_but_keeps_this_one(signed_in, app):
    laptop = signed_in(login="jan")
    phone = signed_in(login="jan")
    copied = copy_of(laptop, app)
    page = laptop.get("/password/change")
    laptop.post(
        "/password/change",
        data={
            "csrf_token": token(page),
            "current_password": SIGNED_IN_PASSWORD,
            "new_password": "Zielony-kot-na-dachu",
            "new_password_repeat": "Zielony-kot-na-dachu",
        },
    )
    assert signed_in_ok(laptop)
    assert not signed_in_ok(phone)
    assert not signed_in_ok(copied)


# -- ending sessions ---------------------------------------------------------------------------
def test_logout_ends_the_session_and_any_copy_of_its_cookie(signed_in, app):
    client = signed_in(login="jan")
    other_device = signed_in(login="jan")
    copied = copy_of(client, app)
    assert signed_in_ok(copied)
    response = logout(client)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert "Wylogowano." in client.get(response.headers["location"]).text
    assert not signed_in_ok(client)
    assert not signed_in_ok(copied)
    assert signed_in_ok(other_device)  # logging out here does not log out the phone


def test_an_altered_copy_of_a_valid_cookie_is_refused_every_time(signed_in, app):
    """The portal remembers cookies it has verified; a changed one must still be checked."""
    client = signed_in(login="jan")
    value = client.cookies[SESSION_COOKIE]
    payload, stamp, signature = value.rsplit(".", 2)
    swapped = "B" if signature[0] != "B" else "C"  # the first character: all its bits count
    for altered in (
        f"{payload}.{stamp}.{swapped}{signature[1:]}",
        f"{payload}x.{stamp}.{signature}",
    ):
        thief = TestClient(app)
        for _ in range(2):
            thief.cookies.set(SESSION_COOKIE, altered)
            assert not signed_in_ok(thief)
    assert signed_in_ok(client)


def test_disabling_an_account_ends_its_sessions(signed_in, app):
    client = signed_in(login="jan")
    copied = copy_of(client, app)
    app.state.accounts.set_status(client.account_id, DISABLED)
    assert not signed_in_ok(client)
    assert not signed_in_ok(copied)
    app.state.accounts.set_status(client.account_id, "active")
    assert not signed_in_ok(copied)  # re-enabling does not revive old cookies


def test_idle_session_expires(signed_in, monkeypatch):
    client = signed_in(login="jan")
    start = portal.accounts.auth.now()
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 20 * 60)
    assert signed_in_ok(client)  # activity after 20 minutes refreshes the idle clock
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 45 * 60)
    assert signed_in_ok(client)
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 76 * 60)
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/login?expired=1"
    assert "Sesja wygasła" in client.get("/login?expired=1").text
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 77 * 60)
    assert not signed_in_ok(client)


def test_last_seen_is_refreshed_at_most_once_a_minute(signed_in, monkeypatch):
    client = signed_in(login="jan")
    start = portal.accounts.auth.now()
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 10)
    assert "set-cookie" not in client.get("/password/change").headers
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 70)
    assert "set-cookie" in client.get("/password/change").headers


# -- throttling -------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_failed_sign_ins_for_one_login_wait_longer_and_longer(app, client):
    clock = Clock()
    app.state.throttle = Throttle(clock=clock)
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), [], must_change_password=False
    )
    for _ in range(3):  # a few typos cost nothing
        assert login(client, "jan", "typo-typo-typo").status_code == 400
    waits = []
    for _ in range(4):
        assert login(client, "jan", "typo-typo-typo").status_code == 400
        refused = login(client, "jan", SIGNED_IN_PASSWORD)  # even the right password waits
        assert refused.status_code == 429
        assert "Spróbuj ponownie za" in refused.text
        waits.append(int(refused.headers["retry-after"]))
        clock.t += waits[-1]
    assert waits == [1, 2, 4, 8]
    # Not a lockout: once the wait is over, the right password works.
    assert login(client, "jan", SIGNED_IN_PASSWORD).headers["location"] == "/"


def test_failed_sign_ins_from_one_address_are_throttled_across_logins(app):
    clock = Clock()
    app.state.throttle = Throttle(clock=clock)
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    neighbour = TestClient(app, client=("198.51.100.9", 40000))
    for i in range(10):
        assert login(attacker, f"guess{i}", "password-guess").status_code == 400
    waits = []
    for i in range(3):
        assert login(attacker, f"guess-x{i}", "password-guess").status_code == 400
        refused = login(attacker, f"another{i}", "password-guess")
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        clock.t += waits[-1]
    assert waits == [1, 2, 4]
    # Someone else, elsewhere, is not affected.
    assert login(neighbour, "another", "password-guess").status_code == 400


# -- headers ----------------------------------------------------------------------------------
def test_security_headers_on_every_response(client, signed_in):
    responses = [
        client.get("/login"),
        client.get("/", follow_redirects=False),
        client.post("/logout"),  # refused by CSRF
        signed_in(login="jan").get("/password/change"),
    ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"]
        assert response.headers["cache-control"] == "no-store"


def test_static_files_may_be_cached(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers.get("cache-control") != "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_even_an_unexpected_error_page_carries_the_headers(app, signed_in):
    from starlette.routing import Route

    async def boom(request):
        raise RuntimeError("bug")

    app.router.routes.insert(0, Route("/boom", boom))
    client = signed_in(login="jan")
    with TestClient(app, raise_server_exceptions=False, cookies=client.cookies) as browser:
        response = browser.get("/boom")
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "RuntimeError" not in response.text


def test_a_failed_attempt_keeps_the_page_to_return_to(app, client):
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), ["KW5/12"], must_change_password=False
    )
    page = client.get(client.get("/premises/KW5%2F12", follow_redirects=False).headers["location"])
    next_field = re.search(r'name="next" value="([^"]+)"', page.text).group(1)
    data = {"login": "jan", "csrf_token": token(page), "next": next_field}
    failed = client.post("/login", data={**data, "password": "wrong-password"})
    assert f'name="next" value="{next_field}"' in failed.text
    done = client.post(
        "/login", data={**data, "password": SIGNED_IN_PASSWORD}, follow_redirects=False
    )
    assert done.headers["location"] == "/premises/KW5%2F12"
