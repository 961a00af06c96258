"""The overview's lane (portal.overview_lane) answers exactly as the stack behind it would, and
only when nothing in the stack would act: every other request goes down the stack."""

from __future__ import annotations

import asyncio
import re

import pytest
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route, Router
from starlette.testclient import TestClient

import portal.accounts.auth
from portal.accounts.auth import AuthMiddleware
from portal.app import SESSION_COOKIE, create_app
from portal.overview_lane import OverviewLane
from portal.panel.app import PanelSplit
from portal.web.csrf import CSRFMiddleware
from portal.web.locale import LocaleMiddleware
from portal.web.metrics import RequestMetrics
from portal.web.security import SecurityHeadersMiddleware
from portal.web.session import SessionMiddleware
from portal.web.unavailable import DatabaseGuard
from tests.builders import make_document, publish_documents
from tests.forms import csrf_token

OVERVIEW = "/premises/KW5%2F12"


@pytest.fixture
def published(store):
    publish_documents(store, [make_document("KW5/12"), make_document("KW5/13", number="13")])


def _asgi(app, target, path: str, cookie: str | None, method: str = "GET"):
    """(status, headers, body) of one request to `target` (an ASGI callable of `app`)."""
    raw_path, _, query = path.partition("?")
    headers = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path.replace("%2F", "/"),
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "app": app,
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(target(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], list(sent[0]["headers"]), body


def _masked(response):
    """A response with signed cookie values (they carry a time stamp) and CSRF fields masked."""
    status, headers, body = response
    headers = [
        (k, re.sub(rb"ebok_session=[^;]+", b"ebok_session=X", v) if k == b"set-cookie" else v)
        for k, v in headers
    ]
    return status, headers, body


class Spy:
    """Counts the requests that reach the stack behind the lane."""

    def __init__(self, app) -> None:
        measured = app.middleware_stack
        assert isinstance(measured, RequestMetrics)  # outermost: it counts the lane's answers
        self.lane: OverviewLane = measured.app
        assert isinstance(self.lane, OverviewLane)
        self.stack = self.lane.app
        self.paths: list[str] = []

        async def spy(scope, receive, send):
            self.paths.append(scope["path"])
            await self.stack(scope, receive, send)

        self.lane.app = spy


def _compare(app, spy: Spy, path: str, cookie: str | None, method: str = "GET") -> tuple:
    """The response through the stack alone and through the lane: equal. Returns (the lane's
    response, whether the lane answered it)."""
    alone = _asgi(app, spy.stack, path, cookie, method)
    before = len(spy.paths)
    through = _asgi(app, app, path, cookie, method)
    assert _masked(through) == _masked(alone)
    return through, len(spy.paths) == before


def _cookie(client: TestClient) -> str:
    return client.cookies[SESSION_COOKIE]


def test_the_lane_answers_a_settled_session_as_the_stack_does(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    assert client.get(OVERVIEW).status_code == 200  # the cookie is verified once
    spy = Spy(app)
    (status, headers, body), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert answered and status == 200
    assert b"Zalogowano jako <strong>jan</strong>" in body
    names = [name for name, _ in headers]
    assert names[:3] == [b"content-length", b"content-type", b"vary"]
    assert (b"cache-control", b"no-store") in headers and b"set-cookie" not in names
    assert any(name == b"content-security-policy" for name in names)


def test_each_session_gets_its_own_header_from_the_lane(app, signed_in, published):
    """Co-owners share the cached page, and two sign-ins of one account share even the login
    and previous sign-in time: each still gets its own login and CSRF token."""
    anna = signed_in("KW5/12", login="anna")
    jan = signed_in("KW5/12", login="jan")
    jan_again = signed_in("KW5/12", login="jan")
    spy = Spy(app)
    tokens = set()
    for client, login in ((anna, "anna"), (jan, "jan"), (jan_again, "jan")):
        cookie = _cookie(client)
        _asgi(app, app, OVERVIEW, cookie)  # verified by the stack
        (status, _, body), answered = _compare(app, spy, OVERVIEW, cookie)
        assert answered and status == 200
        assert f"Zalogowano jako <strong>{login}</strong>".encode() in body
        token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1)
        assert token.decode() == csrf_token(client.get("/password/change").text)
        tokens.add(token)
    assert len(tokens) == 3


@pytest.mark.parametrize(
    "path, method",
    [
        ("/premises/KW5%2F13", "GET"),  # a premises the account does not hold
        ("/premises/NOPE", "GET"),  # no such premises
        (OVERVIEW + "?password_changed=1", "GET"),  # a query string
        (OVERVIEW, "HEAD"),
        (OVERVIEW, "POST"),
        (OVERVIEW + "/ledger", "GET"),  # another page
        ("/panel/", "GET"),
    ],
)
def test_other_requests_go_down_the_stack(app, signed_in, published, path, method):
    client = signed_in("KW5/12", login="jan")
    client.get(OVERVIEW)
    spy = Spy(app)
    _, answered = _compare(app, spy, path, _cookie(client), method)
    assert not answered


def test_a_cookie_is_answered_only_after_the_stack_verified_it(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    spy = Spy(app)
    _asgi(app, app, OVERVIEW, _cookie(client))
    assert spy.paths == ["/premises/KW5/12"]  # a new cookie: the stack verified it
    _asgi(app, app, OVERVIEW, _cookie(client))
    assert spy.paths == ["/premises/KW5/12"]  # now the lane answers


def test_an_altered_or_missing_cookie_goes_down_the_stack(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    client.get(OVERVIEW)
    payload, stamp, signature = _cookie(client).rsplit(".", 2)
    swapped = "B" if signature[0] != "B" else "C"
    spy = Spy(app)
    for cookie in (f"{payload}.{stamp}.{swapped}{signature[1:]}", None):
        (status, headers, _), answered = _compare(app, spy, OVERVIEW, cookie)
        assert not answered and status == 303
        assert dict(headers)[b"location"].startswith(b"/login")


def test_a_session_due_for_a_new_cookie_goes_down_the_stack(app, signed_in, published, monkeypatch):
    client = signed_in("KW5/12", login="jan")
    client.get(OVERVIEW)
    spy = Spy(app)
    start = portal.accounts.auth.now()
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 70)  # `seen` is due
    (status, headers, _), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert not answered and status == 200 and b"set-cookie" in dict(headers)
    monkeypatch.setattr(portal.accounts.auth, "now", lambda: start + 31 * 60)  # idle
    (status, headers, _), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert not answered and dict(headers)[b"location"] == b"/login?expired=1"


def test_revoked_sessions_go_down_the_stack_from_the_next_request(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    copied = _cookie(client)
    client.get(OVERVIEW)
    spy = Spy(app)
    assert _compare(app, spy, OVERVIEW, copied)[1]
    page = client.get(OVERVIEW).text
    response = client.post("/logout", data={"csrf_token": csrf_token(page)}, follow_redirects=False)
    assert response.status_code == 303
    (status, headers, _), answered = _compare(app, spy, OVERVIEW, copied)
    assert not answered and status == 303
    assert dict(headers)[b"location"].startswith(b"/login")


def test_unlinking_a_premises_closes_it_from_the_next_request(app, signed_in, published):
    client = signed_in("KW5/12", "KW5/13", login="jan")
    client.get(OVERVIEW)
    spy = Spy(app)
    assert _compare(app, spy, OVERVIEW, _cookie(client))[1]
    app.state.accounts.unlink(client.account_id, "KW5/12")
    (status, _, _), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert not answered and status == 404


def test_a_pending_password_change_goes_down_the_stack(app, signed_in, published):
    from portal.accounts.passwords import hash_password
    from tests.conftest import SIGNED_IN_PASSWORD

    app.state.accounts.create(
        "ola", hash_password(SIGNED_IN_PASSWORD), ["KW5/12"], must_change_password=True
    )
    client = signed_in(login="ola")
    client.get(OVERVIEW, follow_redirects=False)
    spy = Spy(app)
    (status, headers, _), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert not answered and dict(headers)[b"location"] == b"/password/change"


def test_a_route_put_before_the_overview_is_respected(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    client.get(OVERVIEW)
    spy = Spy(app)

    async def other(request):
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("another page")

    app.router.routes.insert(0, Route("/premises/KW5/12", other))
    (status, _, body), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert not answered and body == b"another page"


def test_over_https_the_lane_sends_hsts_as_the_stack_does(settings, store):
    publish_documents(store, [make_document("KW5/12")])
    app = create_app(settings.with_overrides(base_url="https://ebok.example.pl"))
    from portal.accounts.passwords import hash_password

    app.state.accounts.create(
        "jan", hash_password("Kwiatowa-5-lokal-12"), ["KW5/12"], must_change_password=False
    )
    with TestClient(app, base_url="https://ebok.example.pl") as client:
        token = csrf_token(client.get("/login").text)
        client.post(
            "/login",
            data={"login": "jan", "password": "Kwiatowa-5-lokal-12", "csrf_token": token},
            headers={"origin": "https://ebok.example.pl"},
        )
        client.get(OVERVIEW)
        cookie = client.cookies[SESSION_COOKIE]
    spy = Spy(app)
    (status, headers, _), answered = _compare(app, spy, OVERVIEW, cookie)
    assert status == 200 and answered
    assert dict(headers)[b"strict-transport-security"] == b"max-age=31536000"


def test_the_lane_knows_every_layer_it_stands_in_for(app, client):
    """The lane answers the overview without the layers behind it, applying their rules
    itself. A new layer in the residents' stack must be taught to the lane (or the lane must
    step aside for it): this list is what portal/overview_lane.py was written for."""
    client.get("/healthz")
    layers = []
    layer = app.middleware_stack
    while layer is not None:
        layers.append(type(layer))
        layer = getattr(layer, "residents", None) or getattr(layer, "app", None)
        if isinstance(layer, Router):
            layers.append(Router)
            break
    assert layers == [
        RequestMetrics,
        OverviewLane,
        SecurityHeadersMiddleware,
        LocaleMiddleware,
        DatabaseGuard,  # the lane steps aside when the database raises: the stack answers 503
        PanelSplit,
        ServerErrorMiddleware,
        SessionMiddleware,
        CSRFMiddleware,
        AuthMiddleware,
        ExceptionMiddleware,
        Router,
    ]
    assert app.routes[0].name == "premises"


def test_the_lane_answers_in_the_cookies_language_as_the_stack_does(app, signed_in, published):
    """`ebok_lang=en` beside the session: the English page, `Content-Language: en`, the same
    bytes and headers as the stack's; the Polish page stays cached apart."""
    client = signed_in("KW5/12", login="jan")
    cookie = f"{_cookie(client)}; ebok_lang=en"
    _asgi(app, app, OVERVIEW, cookie)  # verified by the stack
    spy = Spy(app)
    (status, headers, body), answered = _compare(app, spy, OVERVIEW, cookie)
    assert answered and status == 200
    assert (b"content-language", b"en") in headers
    assert b"Signed in as <strong>jan</strong>" in body and b'<html lang="en">' in body
    (_, headers, body), answered = _compare(app, spy, OVERVIEW, _cookie(client))
    assert answered and (b"content-language", b"pl") in headers
    assert b"Zalogowano jako <strong>jan</strong>" in body
