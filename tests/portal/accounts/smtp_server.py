"""A real SMTP server on loopback for mail tests (aiosmtpd), on a free port of its own."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Collects what the server accepted; refuses the first `refuse` DATA commands with a
    temporary error, as a busy or restarting server does."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse
        self.refused = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 Try again later"
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    inbox: Inbox, port: int | None = None, auth: tuple[str, str] | None = None
) -> Iterator[int]:
    """Run an SMTP server for the `with` block; yields its port."""
    port = port or free_port()
    kwargs = {}
    if auth is not None:
        kwargs = {"authenticator": Authenticator(*auth), "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
