"""Forms are refused without this site's token, or when the browser says they came from
elsewhere."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from portal.accounts.passwords import hash_password
from portal.app import SESSION_COOKIE
from tests.conftest import SIGNED_IN_PASSWORD
from tests.forms import csrf_token


def token(response) -> str:
    return csrf_token(response.text)


@pytest.fixture
def jan(app):
    return app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), [], must_change_password=False
    )


def credentials(**extra):
    return {"login": "jan", "password": SIGNED_IN_PASSWORD, **extra}


def test_login_form_carries_a_token_that_works(client, jan):
    page = client.get("/login")
    response = client.post(
        "/login", data=credentials(csrf_token=token(page)), follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


@pytest.mark.parametrize("bad", [None, "", "forged-token-value"])
def test_login_without_the_right_token_is_refused(client, jan, bad):
    client.get("/login")  # the visitor has a pre-session token...
    data = credentials() if bad is None else credentials(csrf_token=bad)
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403  # ...but the form did not carry it
    assert "Odmowa" in response.text
    assert "set-cookie" not in response.headers


def test_login_post_from_a_visitor_with_no_session_is_refused(app, jan):
    """The case asgi-csrf lets through: a cross-site form hitting /login with no cookie."""
    with TestClient(app) as fresh:
        response = fresh.post("/login", data=credentials(csrf_token="anything"))
    assert response.status_code == 403


def test_token_of_another_visitor_is_refused(app, client, jan):
    with TestClient(app) as attacker:
        stolen = token(attacker.get("/login"))
    client.get("/login")
    response = client.post("/login", data=credentials(csrf_token=stolen))
    assert response.status_code == 403


def test_token_from_before_sign_in_is_replaced(client, jan):
    page = client.get("/login")
    before = token(page)
    client.post("/login", data=credentials(csrf_token=before))
    after = token(client.get("/password/change"))
    assert after != before
    refused = client.post("/logout", data={"csrf_token": before}, follow_redirects=False)
    assert refused.status_code == 403


def test_logout_needs_the_token(signed_in):
    client = signed_in(login="jan")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf_token": "x" * 43}).status_code == 403
    # still signed in
    assert client.get("/password/change", follow_redirects=False).status_code == 200
    ok = client.post(
        "/logout",
        data={"csrf_token": token(client.get("/password/change"))},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_token_in_a_header_is_accepted(signed_in):
    client = signed_in(login="jan")
    value = token(client.get("/password/change"))
    response = client.post("/logout", headers={"X-CSRF-Token": value}, follow_redirects=False)
    assert response.status_code == 303


def test_cross_origin_post_is_refused_even_with_a_valid_token(signed_in):
    client = signed_in(login="jan")
    value = token(client.get("/password/change"))
    foreign = client.post(
        "/logout",
        data={"csrf_token": value},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403
    cross_site = client.post(
        "/logout",
        data={"csrf_token": value},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403
    assert client.get("/password/change", follow_redirects=False).status_code == 200
    same_origin = client.post(
        "/logout",
        data={"csrf_token": value},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert same_origin.status_code == 303


def test_multipart_forms_are_checked_too(signed_in):
    client = signed_in(login="jan")
    value = token(client.get("/password/change"))
    refused = client.post("/logout", files={"csrf_token": (None, "wrong")})
    assert refused.status_code == 403
    accepted = client.post("/logout", files={"csrf_token": (None, value)}, follow_redirects=False)
    assert accepted.status_code == 303


def test_session_cookie_is_signed(client, jan):
    client.get("/login")
    client.cookies.set(SESSION_COOKIE, "eyJhaWQiOiAxfQ==.forged.signature")
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/login"


def test_refusal_is_the_portals_polish_page(client, jan):
    client.get("/login")
    response = client.post("/login", data=credentials(csrf_token="forged"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Formularz wygasł" in response.text
    assert "Odmowa: nieprawidłowy token formularza." in response.text
    assert 'href="/login"' in response.text


def test_middleware_works_without_the_portals_templates():
    """The middleware knows nothing of templates: an app that gives it no refusal page still
    gets the checks and a plain 403."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from portal.web.csrf import CSRFMiddleware, csrf_token

    async def form(request):
        return PlainTextResponse(csrf_token(request))

    async def submit(request):
        return PlainTextResponse("przyjęto")

    bare = Starlette(
        routes=[Route("/", form), Route("/", submit, methods=["POST"])],
        middleware=[
            Middleware(SessionMiddleware, secret_key="another-app-0123456789abcdef"),
            Middleware(CSRFMiddleware),
        ],
    )
    with TestClient(bare) as visitor:
        value = visitor.get("/").text
        refused = visitor.post("/", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert refused.text == "Odmowa: nieprawidłowy token formularza."
        assert visitor.post("/", data={"csrf_token": value}).text == "przyjęto"
