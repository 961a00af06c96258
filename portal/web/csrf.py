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

Bodies are read here only as far as the token: a urlencoded form whole (at most MAX_FORM_BYTES),
a multipart form up to its `csrf_token` field, which must come within the first MAX_FORM_BYTES
(forms put it first). The rest of a multipart body streams on to the endpoint, cut off (as a
disconnect) past MAX_FORM_BYTES unless the endpoint takes uploads and said how much
(`allow_upload`), so a file upload is never held in memory here.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.i18n import N_
from portal.i18n import gettext as _

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Forms in this portal are a few fields; a body larger than this is not one of ours.
MAX_FORM_BYTES = 64 * 1024
# Where an endpoint that takes uploads puts the multipart body size it accepts (allow_upload).
UPLOAD_LIMIT = "ebok.upload_limit"


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


def allow_upload(request: Request, limit: int) -> None:
    """For an endpoint that takes file uploads, before it reads the body: a multipart body of
    up to `limit` bytes reaches it whole (others are cut off past MAX_FORM_BYTES)."""
    request.scope[UPLOAD_LIMIT] = limit


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _extract_token(content_type: str, body: bytes) -> str | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD)
        return values[0] if values else None
    return None


Refusal = Callable[[Request, str], Response]


def plain_refusal(request: Request, problem: str) -> Response:
    """The refusal when the app gives no page of its own: a plain-text 403."""
    return PlainTextResponse(_("Odmowa:") + " " + _(problem), status_code=403)


class CSRFMiddleware:
    """Refuses (403) unsafe requests that fail the origin check or carry a wrong token.
    `refusal(request, problem)` makes the 403 response; `problem` is a Polish sentence, a
    message id of portal.i18n that the refusal translates."""

    def __init__(
        self,
        app: ASGIApp,
        trusted_origins: tuple[str, ...] = (),
        refusal: Refusal = plain_refusal,
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.trusted_origins = frozenset(_origin(o) for o in trusted_origins)
        self.refusal = refusal
        # Paths whose own signed token is the proof of intent and that must take a POST from
        # another site with no session: the one-click unsubscribe link of e-mail notices
        # (RFC 8058: the mail provider's server POSTs it), portal.notices.views.
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or (self.exempt_prefixes and scope["path"].startswith(self.exempt_prefixes))
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        problem = self._origin_problem(request)
        content_type = request.headers.get("content-type", "")
        streamed = content_type.startswith("multipart/form-data") and HEADER.decode() not in (
            request.headers
        )
        if problem is None and streamed:
            given, receive = await _multipart_token(content_type, scope, receive)
            problem = self._token_problem(scope, given)
        elif problem is None:
            body, receive = await _buffer_body(receive)
            if body is None:
                problem = N_("Zbyt duże zgłoszenie.")
            else:
                given = request.headers.get(HEADER.decode())
                if given is None:
                    given = _extract_token(content_type, body)
                problem = self._token_problem(scope, given)
        if problem is not None:
            await self.refusal(request, problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _origin_problem(self, request: Request) -> str | None:
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return N_("żądanie z innej witryny.")
        origin = request.headers.get("origin")
        if origin is not None:
            own = _origin(str(request.base_url))
            if origin.lower() != own and _origin(origin) not in self.trusted_origins:
                return N_("żądanie z innej witryny.")
        return None

    def _token_problem(self, scope: Scope, given: str | None) -> str | None:
        expected = scope.get("session", {}).get(SESSION_KEY)
        if not isinstance(expected, str) or not expected:
            return N_("brak ważnej sesji formularza.")
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return N_("nieprawidłowy token formularza.")
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


async def _multipart_token(
    content_type: str, scope: Scope, receive: Receive
) -> tuple[str | None, Receive]:
    """Read a multipart body as far as its csrf_token field (within MAX_FORM_BYTES); the token
    and a receive callable that replays what was read and then passes the rest on, cut off
    past the endpoint's allowance (allow_upload, at least MAX_FORM_BYTES)."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    header = {b"field": bytearray(), b"value": bytearray()}
    names: list[bytes | None] = [None]  # the current part's field name
    token = bytearray()
    found: list[str] = []

    def header_end() -> None:
        if bytes(header[b"field"]).lower() == b"content-disposition":
            names[0] = parse_options_header(bytes(header[b"value"]))[1].get(b"name")
        header[b"field"].clear()
        header[b"value"].clear()

    def data(chunk: bytes, start: int, end: int) -> None:
        if names[0] == FIELD.encode() and len(token) < 1024:
            token.extend(chunk[start:end])

    def part_end() -> None:
        if names[0] == FIELD.encode() and not found:
            found.append(token.decode("latin-1"))
        names[0] = None

    callbacks = {
        "on_header_field": lambda d, s, e: header[b"field"].extend(d[s:e]),
        "on_header_value": lambda d, s, e: header[b"value"].extend(d[s:e]),
        "on_header_end": header_end,
        "on_part_data": data,
        "on_part_end": part_end,
    }
    parser = MultipartParser(boundary, callbacks) if boundary else None  # type: ignore[arg-type]
    chunks: list[bytes] = []
    size, more = 0, True
    while more and not found and size <= MAX_FORM_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            more = False
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
        if parser is not None:
            try:
                parser.write(chunk)
            except Exception:  # not a form of ours: no token
                parser = None
    body = b"".join(chunks)
    delivered = len(body)
    sent = False

    async def replay() -> Message:
        nonlocal sent, delivered
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        message = await receive()
        if message["type"] == "http.request":
            delivered += len(message.get("body", b""))
            if delivered > max(MAX_FORM_BYTES, scope.get(UPLOAD_LIMIT, 0)):
                return {"type": "http.disconnect"}
        return message

    return (found[0] if found else None), replay
