"""The residents' signed session cookie, as one pure ASGI layer.

The cookie is Starlette's (`SessionMiddleware`): base64 of the session's JSON, signed with
itsdangerous' TimestampSigner under the app's secret key, `path=/; httponly; samesite=lax`
(`; secure` over https), no Max-Age. Cookies issued by either verify in the other, and the
panel reads it the same way (portal.panel.session.ResidentSessions).

What differs is the cost per request. Starlette's middleware builds a connection object, parses
every cookie, checks the HMAC, base64- and JSON-decodes the payload, and wraps `send` in
a MutableHeaders; a browser sends the same Cookie header on every request until the session
changes, so here the header's value is remembered with the session it decodes to, for headers
whose signature verified (`CACHE_SIZE` at most, oldest out first). A forged or altered cookie
is never remembered, so it is checked (and refused) every time. The cookie carries no expiry of
its own (idle and absolute expiry are checked from timestamps inside the session against the
database, portal.accounts.auth), so a remembered answer is exactly what verifying again would
give. Each request gets its own `Session` (Starlette's dict that records reads and changes)
copied from the remembered payload: what a handler writes never reaches the cache.

On the response: `Vary: Cookie` when the session was read, a new signed cookie when it was
changed and is not empty, an expired one when a non-empty session was emptied (all as
Starlette does).
"""

from __future__ import annotations

import copy
import json
from base64 import b64decode, b64encode
from typing import Any, Literal

import itsdangerous
from starlette.middleware.sessions import Session
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CACHE_SIZE = 4096
_SCALARS = (str, int, float, bool, type(None))


class SessionMiddleware:
    """`scope["session"]` from the signed cookie `session_cookie`; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        session_cookie: str,
        *,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.app = app
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.session_cookie = session_cookie
        self.cache_size = cache_size
        flags = f"path={path}; httponly; samesite={same_site}"
        if https_only:  # the Secure flag only over https
            flags += "; secure"
        self._set_suffix = "; " + flags
        self._clear = (
            f"{session_cookie}=null; path={path}; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
            + flags.split("; ", 1)[1]
        )
        # Cookie header value -> (payload, flat): payloads whose signature verified.
        self._verified: dict[bytes, tuple[dict[str, Any], bool]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                header = value  # the first Cookie header, as Starlette reads it
                break
        session = self._session(header) if header is not None else None
        initially_empty = session is None
        scope["session"] = session = Session() if session is None else session

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start" and (session.accessed or session.modified):
                headers = list(message.get("headers", ()))
                if session.accessed:
                    _add_vary_cookie(headers)
                if session.modified and session:
                    data = self.signer.sign(b64encode(json.dumps(session).encode("utf-8")))
                    cookie = f"{self.session_cookie}={data.decode('utf-8')}{self._set_suffix}"
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                elif session.modified and not initially_empty:
                    headers.append((b"set-cookie", self._clear.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_session)

    def remembered(self, header: bytes) -> dict[str, Any] | None:
        """The session a Cookie header value carries if that exact value verified before and
        holds only plain values, else None. The dict is shared: callers must not change it."""
        hit = self._verified.get(header)
        return hit[0] if hit is not None and hit[1] else None

    def _session(self, header: bytes) -> Session | None:
        """The session the Cookie header `header` carries, or None (no cookie of ours, or one
        that does not verify)."""
        hit = self._verified.get(header)
        if hit is None:
            value = cookie_parser(header.decode("latin-1")).get(self.session_cookie)
            if value is None:
                return None
            try:
                data = self.signer.unsign(value.encode("utf-8"))
            except itsdangerous.BadSignature:
                return None
            payload = json.loads(b64decode(data))
            flat = isinstance(payload, dict) and all(
                isinstance(v, _SCALARS) for v in payload.values()
            )
            if len(self._verified) >= self.cache_size:
                del self._verified[next(iter(self._verified))]
            hit = self._verified[header] = (payload, flat)
        payload, flat = hit
        return Session(payload if flat else copy.deepcopy(payload))


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Starlette's `MutableHeaders.add_vary_header("Cookie")` on a raw header list."""
    found = [i for i, (name, _) in enumerate(headers) if name == b"vary"]
    if not found:
        headers.append((b"vary", b"Cookie"))
        return
    headers[found[0]] = (b"vary", headers[found[0]][1] + b", Cookie")
    for i in reversed(found[1:]):
        del headers[i]
