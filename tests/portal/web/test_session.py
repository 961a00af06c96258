"""The residents' session layer (portal.web.session): Starlette's cookie, verified once per
value, a fresh session per request, and the response headers Starlette's middleware sends."""

from __future__ import annotations

import json
from base64 import b64encode

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessions
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from portal.web.session import SessionMiddleware

KEY = "session-test-key-0123456789abcdef"
COOKIE = "ebok_session"


async def show(request):
    return PlainTextResponse(repr(sorted(request.session.items())))


async def put(request):
    request.session["n"] = int(request.query_params.get("n", "1"))
    return PlainTextResponse("ok")


async def append(request):
    request.session["items"].append("x")  # a list inside the session
    return PlainTextResponse(repr(request.session["items"]))


async def clear(request):
    request.session.clear()
    return PlainTextResponse("cleared")


async def vary(request):
    request.session.get("n")
    return PlainTextResponse("vary", headers={"vary": "Accept-Encoding"})


async def untouched(request):
    return PlainTextResponse("untouched")


ROUTES = [
    Route("/show", show),
    Route("/put", put),
    Route("/append", append),
    Route("/clear", clear),
    Route("/vary", vary),
    Route("/untouched", untouched),
]


def _app(middleware, **options) -> Starlette:
    kwargs = {"secret_key": KEY, "session_cookie": COOKIE, **options}
    return Starlette(routes=ROUTES, middleware=[Middleware(middleware, **kwargs)])


@pytest.fixture
def ours() -> Starlette:
    return _app(SessionMiddleware)


def _layer(app: Starlette) -> SessionMiddleware:
    layer = app.middleware_stack
    while not isinstance(layer, SessionMiddleware):
        layer = layer.app
    return layer


def test_cookies_are_starlettes_both_ways(ours):
    theirs = _app(StarletteSessions, max_age=None)
    with TestClient(theirs) as a, TestClient(ours) as b:
        a.get("/put?n=7")
        b.cookies.set(COOKIE, a.cookies[COOKIE])
        assert b.get("/show").text == "[('n', 7)]"
        value = b.get("/put?n=8").cookies[COOKIE]
        a.cookies.clear()
        a.cookies.set(COOKIE, value)
        assert a.get("/show").text == "[('n', 8)]"


def test_headers_as_starlette_sends_them(ours):
    theirs = _app(StarletteSessions, max_age=None)
    for path in ("/put?n=3", "/show", "/untouched", "/vary", "/clear", "/show"):
        with TestClient(theirs) as a, TestClient(ours) as b:
            a.get("/put?n=2")
            b.cookies.set(COOKIE, a.cookies[COOKIE])
            expected, got = a.get(path), b.get(path)
            assert got.text == expected.text
            assert got.headers.get("vary") == expected.headers.get("vary")
            cookies = [
                (got.headers.get("set-cookie") or "").split("=", 1)[0],
                (expected.headers.get("set-cookie") or "").split("=", 1)[0],
            ]
            assert cookies[0] == cookies[1], path
            flags = [
                (r.headers.get("set-cookie") or "=;").split(";", 1)[1] for r in (got, expected)
            ]
            assert flags[0] == flags[1], path


def test_a_verified_cookie_is_remembered_and_a_forged_one_never(ours):
    with TestClient(ours) as client:
        client.get("/put?n=5")
        value = client.cookies[COOKIE]
        layer = _layer(ours)
        assert client.get("/show").text == "[('n', 5)]"
        assert layer.remembered(f"{COOKIE}={value}".encode()) == {"n": 5}
        payload, stamp, signature = value.rsplit(".", 2)
        forged = f"{payload}.{stamp}.{'B' if signature[0] != 'B' else 'C'}{signature[1:]}"
        client.cookies.set(COOKIE, forged)
        for _ in range(2):
            assert client.get("/show").text == "[]"
        assert layer.remembered(f"{COOKIE}={forged}".encode()) is None
        assert len(layer._verified) == 1


def test_each_request_gets_its_own_copy(ours):
    """A handler's change to its session never reaches the next request with the same cookie,
    even for a value that is not plain (a list): such sessions are copied whole each time."""
    with TestClient(ours) as client:
        client.get("/show")  # builds the stack
        signed = _layer(ours).signer.sign(b64encode(json.dumps({"items": []}).encode()))
        client.cookies.set(COOKIE, signed.decode())
        assert client.get("/append").text == "['x']"
        assert client.get("/append").text == "['x']"
        assert _layer(ours).remembered(f"{COOKIE}={signed.decode()}".encode()) is None


def test_the_memory_is_bounded(ours):
    small = _app(SessionMiddleware, cache_size=3)
    values = []
    with TestClient(small) as client:
        for n in range(5):
            client.get(f"/put?n={n}")
            values.append(client.cookies[COOKIE])
            client.get("/show")
        layer = _layer(small)
        assert len(layer._verified) == 3
        assert layer.remembered(f"{COOKIE}={values[0]}".encode()) is None
        assert layer.remembered(f"{COOKIE}={values[-1]}".encode()) == {"n": 4}


def test_secure_flag_over_https():
    app = _app(SessionMiddleware, https_only=True)
    with TestClient(app, base_url="https://testserver") as client:
        header = client.get("/put").headers["set-cookie"]
        assert header.endswith("; path=/; httponly; samesite=lax; secure")
        header = client.get("/clear").headers["set-cookie"]
        assert header.startswith(f"{COOKIE}=null; path=/; expires=Thu, 01 Jan 1970")
        assert header.endswith("httponly; samesite=lax; secure")
