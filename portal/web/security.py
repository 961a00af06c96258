"""Security headers on every response, and `no-store` on everything but static files.

The CSP allows no inline script and no foreign origin at all: the portal ships its own CSS, any
script it has is a file under /static, and QR codes are inline SVG or data: images.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeadersMiddleware:
    """Adds the headers unless a route set its own value (e.g. a PDF's Cache-Control).

    This runs on every response, so the work is done once: the headers to add are encoded
    lists made here (one for pages, with `Cache-Control: no-store`, one for static files), and
    a response that sets none of them (nearly all) gets them appended in one step; only one
    that sets some of its own is merged header by header."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        headers = dict(HEADERS)
        if hsts:
            headers["strict-transport-security"] = "max-age=31536000"
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        # Account pages show personal data: keep them out of every cache.
        self.page_headers = [*self.headers, (b"cache-control", b"no-store")]
        self._names = frozenset(name for name, _ in self.page_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.headers if scope["path"].startswith("/static/") else self.page_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                present = {name.lower() for name, _ in headers}
                if present.isdisjoint(self._names):
                    headers = [*headers, *added]
                else:
                    headers = [*headers, *(h for h in added if h[0] not in present)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
