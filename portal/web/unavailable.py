"""The database gone (PostgreSQL stopped, SQLite locked past its timeout): a 503 page, not a
traceback, and nothing to restart when it is back.

ebok.database raises DatabaseUnavailable wherever a statement cannot run: in the session check
of any middleware, in a view. Starlette's error layer hands it to the app's 500 handler, which
answers 503 with `unavailable(exc)`'s text and a Retry-After (portal.premises.views.http_error;
the panel's handler sends it there). Starlette then raises the exception again for the server to
log with a traceback; `DatabaseGuard`, just outside, takes it back: one warning line instead,
and a plain 503 in the rare case nobody answered yet. The next request opens a new connection
(ebok.database), so the portal recovers by itself when the database does.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ebok.database import DatabaseUnavailable

log = logging.getLogger("ebok.database")

RETRY_AFTER_SECONDS = 30


def unavailable(message: str) -> HTTPException:
    """The 503 to answer with (`message`: in the visitor's language)."""
    return HTTPException(503, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class DatabaseGuard:
    """Outside an app whose error handler answers DatabaseUnavailable (see the docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except DatabaseUnavailable as exc:
            log.warning("503 for %s: %s", scope.get("path", ""), exc)
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b"503"})
