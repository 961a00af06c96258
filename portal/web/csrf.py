"""Cross-site request forgery protection for plain HTML forms.

Two independent checks on every unsafe request (NOTES: asgi-csrf lets cookie-less POSTs through,
starlette-csrf reads headers only):

1. The browser's own word: a cross-site `Sec-Fetch-Site` or a foreign `Origin` is refused.
2. A token field: every form carries `csrf_token`, which must equal the random token kept in the
   signed session cookie. A visitor who is not signed in gets a token too (a pre-session token),
   so the login form is covered; signing in starts a fresh session with a fresh token, so a token
   planted before sign-in is worthless afterwards.

The middleware must sit inside SessionMiddleware (it reads `scope["session"]`). How a refusal
looks is the app's business: the app factory passes a `refusal(request, problem)` that renders
the Polish page, so this module needs no templates (and templating can import `csrf_token`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Forms in this portal are a few fields; a body larger than this is not one of ours.
MAX_FORM_BYTES = 64 * 1024


def csrf_token(request: Request) -> str:
    """The token for hidden form fields; creates one (and so a session cookie) when missing."""
    session = request.session
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def new_token(session: dict) -> str:
    """Replace the session's token, e.g. when a sign-in starts a new session."""
    token = secrets.token_urlsafe(32)
    session[SESSION_KEY] = token
    return token


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _extract_token(content_type: str, body: bytes) -> str | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD)
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        # Rare here (no uploads), so the simple route: let python-multipart parse a replay.
        return None
    return None


Refusal = Callable[[Request, str], Response]


def plain_refusal(request: Request, problem: str) -> Response:
    """The refusal when the app gives no page of its own: a plain-text 403."""
    return PlainTextResponse(f"Odmowa: {problem}", status_code=403)


class CSRFMiddleware:
    """Refuses (403) unsafe requests that fail the origin check or carry a wrong token.
    `refusal(request, problem)` makes the 403 response; `problem` is a Polish sentence."""

    def __init__(
        self,
        app: ASGIApp,
        trusted_origins: tuple[str, ...] = (),
        refusal: Refusal = plain_refusal,
    ) -> None:
        self.app = app
        self.trusted_origins = frozenset(_origin(o) for o in trusted_origins)
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        problem = self._origin_problem(request)
        if problem is None:
            body, receive = await _buffer_body(receive)
            if body is None:
                problem = "Zbyt duże zgłoszenie."
            else:
                problem = await self._token_problem(scope, request, body)
        if problem is not None:
            await self.refusal(request, problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _origin_problem(self, request: Request) -> str | None:
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return "żądanie z innej witryny."
        origin = request.headers.get("origin")
        if origin is not None:
            own = _origin(str(request.base_url))
            if origin.lower() != own and _origin(origin) not in self.trusted_origins:
                return "żądanie z innej witryny."
        return None

    async def _token_problem(self, scope: Scope, request: Request, body: bytes) -> str | None:
        expected = scope.get("session", {}).get(SESSION_KEY)
        if not isinstance(expected, str) or not expected:
            return "brak ważnej sesji formularza."
        given = request.headers.get(HEADER.decode())
        if given is None:
            content_type = request.headers.get("content-type", "")
            given = _extract_token(content_type, body)
            if given is None and content_type.startswith("multipart/form-data"):
                given = await _multipart_token(scope, body)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return "nieprawidłowy token formularza."
        return None


async def _buffer_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole body and hand back a receive callable that replays it downstream."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _multipart_token(scope: Scope, body: bytes) -> str | None:
    sent = False

    async def once() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    try:
        form = await Request(scope, once).form()
    except Exception:
        return None
    value = form.get(FIELD)
    return value if isinstance(value, str) else None
