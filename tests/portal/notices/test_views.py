"""/settings switches notices on and off for the signed-in resident; the link in a message
switches them off without signing in: a page with one button (GET changes nothing), or a
mail program's one-click POST; a forged, expired or superseded link is refused plainly."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from portal.notices.store import NoticesStore
from portal.notices.tokens import UnsubscribeTokens
from tests.forms import csrf_token
from tests.portal.notices.conftest import SECRET


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def notices(app) -> NoticesStore:
    return NoticesStore(app.state.accounts.db)


def switch(client: TestClient, value: str):
    page = client.get("/settings")
    return client.post(
        "/settings",
        data={"notices": value, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )


def test_the_header_links_to_settings_and_the_resident_opts_in_and_out(signed_in, notices) -> None:
    client = signed_in("KW5/12", login="anna", email="anna@example.pl")
    assert 'href="/settings"' in client.get("/settings").text
    page = client.get("/settings")
    assert page.status_code == 200
    assert "wyłączone" in _text(page.text) and "anna@example.pl" in page.text

    on = switch(client, "on")
    assert "Powiadomienia e-mail są włączone." in on.text
    assert notices.subscription(client.account_id).enabled

    off = switch(client, "off")
    assert "Powiadomienia e-mail są wyłączone." in off.text
    assert not notices.subscription(client.account_id).enabled


def test_settings_need_sign_in_and_a_form_token(client, signed_in, notices) -> None:
    assert client.get("/settings", follow_redirects=False).status_code == 303
    resident = signed_in("KW5/12", login="anna", email="anna@example.pl")
    refused = resident.post("/settings", data={"notices": "on"})
    assert refused.status_code == 403
    assert notices.subscription(resident.account_id) is None


def test_an_account_without_an_address_cannot_opt_in(signed_in, notices) -> None:
    client = signed_in("KW5/12", login="anna")
    page = client.get("/settings")
    assert "nie przypisano adresu e-mail" in page.text
    assert 'value="on"' not in page.text
    switch(client, "on")
    assert notices.subscription(client.account_id) is None


@pytest.fixture
def subscribed(app, notices):
    """An opted-in account's id and a fresh unsubscribe link path."""
    record = app.state.accounts.create("anna", "x", ["KW5/12"], email="anna@example.pl")
    sub = notices.subscribe(record.id, "pl")
    token = UnsubscribeTokens(SECRET).issue(record.id, sub.version)
    return record.id, f"/notices/unsubscribe/{token}"


def test_get_shows_one_button_and_changes_nothing_then_post_unsubscribes(
    client, notices, subscribed
) -> None:
    account_id, path = subscribed
    page = client.get(path)  # no sign-in
    assert page.status_code == 200
    assert page.text.count("<button") == 1  # signed out: no logout button, only the form's
    assert notices.subscription(account_id).enabled  # a link scanner's GET changes nothing
    assert page.headers["referrer-policy"] == "no-referrer"

    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "zostały wyłączone" in done.text
    assert not notices.subscription(account_id).enabled
    assert "są już wyłączone" in client.get(path).text


def test_one_click_post_from_a_mail_provider_needs_no_cookie_nor_token(
    app, notices, subscribed
) -> None:
    account_id, path = subscribed
    with TestClient(app) as provider:
        answer = provider.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "origin": "https://mail.example.com",
                "sec-fetch-site": "cross-site",
            },
        )
    assert answer.status_code == 200
    assert not notices.subscription(account_id).enabled


def test_a_forged_token_is_refused_with_a_clear_page(client, notices, subscribed) -> None:
    account_id, path = subscribed
    forged = UnsubscribeTokens("another-key").issue(account_id, 1)
    for bad in (f"/notices/unsubscribe/{forged}", path[:-3] + "abc", "/notices/unsubscribe/x"):
        assert client.get(bad).status_code == 400
        answer = client.post(bad)
        assert answer.status_code == 400
        assert "Ten link jest nieprawidłowy." in answer.text
    assert notices.subscription(account_id).enabled


def test_an_expired_token_is_refused(client, notices, app) -> None:
    record = app.state.accounts.create("anna", "x", ["KW5/12"], email="anna@example.pl")
    sub = notices.subscribe(record.id, "pl")
    old = UnsubscribeTokens(SECRET, clock=lambda: 1_000_000_000.0).issue(record.id, sub.version)
    answer = client.post(f"/notices/unsubscribe/{old}")
    assert answer.status_code == 410 and "Ten link wygasł." in answer.text
    assert notices.subscription(record.id).enabled


def test_a_link_from_before_a_new_opt_in_no_longer_works(client, notices, subscribed) -> None:
    account_id, path = subscribed
    assert client.post(path).status_code == 200
    notices.subscribe(account_id, "pl")  # the resident switched notices on again
    answer = client.post(path)
    assert answer.status_code == 410 and "ponownie włączone" in answer.text
    assert notices.subscription(account_id).enabled


def test_saving_again_keeps_earlier_links_working(client, notices, subscribed) -> None:
    account_id, path = subscribed
    notices.subscribe(account_id, "pl")  # on while already on: the same version
    assert client.post(path).status_code == 200
    assert not notices.subscription(account_id).enabled


def test_an_unsubscribe_token_is_no_password_reset_token(client, subscribed) -> None:
    _, path = subscribed
    token = path.rsplit("/", 1)[1]
    page = client.get(f"/password/reset/{token}")
    assert page.status_code == 400


def test_notices_switched_on_in_english_are_sent_in_english(signed_in, notices) -> None:
    client = signed_in("KW5/12", login="john", email="john@example.com")
    client.get("/settings?lang=en")
    page = switch(client, "on")
    assert "E-mail notifications" in page.text
    assert notices.subscription(client.account_id).language == "en"
    # Back in Polish, the page offers to send them in Polish instead.
    polish = client.get("/settings?lang=pl")
    assert "Wysyłaj je w języku tej strony" in polish.text
    switch(client, "on")
    assert notices.subscription(client.account_id).language == "pl"


def test_one_click_post_as_multipart_works_too(app, notices, subscribed) -> None:
    account_id, path = subscribed
    with TestClient(app) as provider:
        answer = provider.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200
    assert not notices.subscription(account_id).enabled
