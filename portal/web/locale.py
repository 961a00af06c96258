"""The browser's language: the `ebok_lang` cookie, set by the header's `?lang=en` / `?lang=pl`.

A GET or HEAD whose query names a known language (`lang=en`) is answered with a redirect to
the same address without `lang` and the cookie set for a year, so that the choice holds on
every later page (signed in or not: /login and password recovery too) and addresses stay
clean. Every other request runs in the cookie's language (portal.i18n's context variable;
Polish without one). The cookie says nothing secret and is readable by no script (httponly).

Pages differ by the cookie, and each already says `Vary: Cookie` where the session is read;
the language is also told in `Content-Language`.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl, urlencode

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.i18n import DEFAULT_LOCALE, LOCALES, reset_locale, set_locale

COOKIE = "ebok_lang"
MAX_AGE = 365 * 24 * 3600


@functools.lru_cache(maxsize=4096)
def locale_from_cookie_header(header: bytes) -> str:
    """The language a Cookie header value asks for ("pl" without a valid `ebok_lang`).
    Remembered per value: a browser sends the same header request after request."""
    if COOKIE.encode() not in header:
        return DEFAULT_LOCALE
    value = cookie_parser(header.decode("latin-1")).get(COOKIE)
    return value if value in LOCALES else DEFAULT_LOCALE


def locale_of(scope: Scope) -> str:
    """The language of a request: its first Cookie header's `ebok_lang`, else Polish."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            return locale_from_cookie_header(value)
    return DEFAULT_LOCALE


def chosen_locale(query_string: bytes) -> tuple[str, str] | None:
    """(language, the query without `lang`) when the query names a known language."""
    if b"lang=" not in query_string:
        return None
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    asked = [value for key, value in pairs if key == "lang"]
    if not asked or asked[-1] not in LOCALES:
        return None
    return asked[-1], urlencode([(k, v) for k, v in pairs if k != "lang"])


def language_cookie(locale: str, *, https: bool = False) -> str:
    cookie = f"{COOKIE}={locale}; Path=/; Max-Age={MAX_AGE}; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if https else "")


class LocaleMiddleware:
    """See the module docstring. `https`: the cookie gets the Secure flag."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope["query_string"]
        if query and scope["method"] in ("GET", "HEAD"):
            choice = chosen_locale(query)
            if choice is not None:
                await self._switch(scope, send, *choice)
                return
        locale = locale_of(scope)
        content_language = (b"content-language", locale.encode())

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), content_language]
                message = {**message, "headers": headers}
            await send(message)

        token = set_locale(locale)
        try:
            await self.app(scope, receive, send_with_language)
        finally:
            reset_locale(token)

    async def _switch(self, scope: Scope, send: Send, locale: str, rest: str) -> None:
        """303 to the same address without `lang`, with the cookie set."""
        raw = scope.get("raw_path") or scope["path"].encode()
        path = "/" + raw.decode("latin-1").lstrip("/")  # never `//host`: stays on this site
        location = path + ("?" + rest if rest else "")
        headers = [
            (b"location", location.encode("latin-1")),
            (b"set-cookie", language_cookie(locale, https=self.https).encode("latin-1")),
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
