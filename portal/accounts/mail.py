"""E-mail to residents: composing plain-text + HTML messages and delivering them.

A message is written in one language (portal.i18n): `compose(…, locale=…)` renders the
templates and translates the subject in it; without `locale`, in the language of the request
that causes the message (a password-reset request in English gets an English message).

Delivery never happens on a request's path. A page that sends mail (the forgotten-password form
above all) must answer in the same time whether or not a message goes out, or its timing would
tell who has an account; so `Mailer.send` only queues, and one background thread delivers.

Where to: with `EBOK_SMTP_HOST` set, SMTP through the standard library; without it, each message
is written as an `.eml` file into `DATA/outbox/` (good enough for a demo and for a manager who
forwards them by hand). A failed SMTP delivery is retried with backoff; after the last attempt
the message is kept in `DATA/outbox/failed/`, and `Mailer.retry_failed` (`ebok accounts
mail-retry`) tries those again.

Several server processes (`ebok serve --workers N`): each worker queues and delivers only the
messages of the requests it served, and at exit keeps what it still holds in `failed/` under a
name of its own; `retry_failed` claims each kept message by renaming it first, so two runs at
once (a timer and a manager's hand) never send one twice.

What the log gets: a message's kind, its Message-ID and where it went or why it failed. Never its
body (a reset message carries a working link), never the SMTP password.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ebok.settings import Settings
from portal import i18n
from portal.web.templating import TEMPLATES_DIR

log = logging.getLogger("ebok.mail")

# Seconds to wait before the 2nd, 3rd, … attempt. Four attempts over about five minutes ride out
# a restarting mail server without holding a resident's reset link back for long.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (5.0, 30.0, 240.0)
SMTP_TIMEOUT = 30.0
KIND_HEADER = "X-EBOK-Kind"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
i18n.install(_env)  # `{% trans %}` and `_()` in the language compose() names


def compose(
    settings: Settings,
    to: str,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    *,
    locale: str | None = None,
) -> EmailMessage:
    """A message from `templates/mail/<template>.txt` and `.html`, both rendered with `context`
    plus `base_url`, in `locale` (default: the current request's language); `subject` is a
    Polish message id (marked with `N_`), translated here. The kind (template name) travels in
    a header so the log can name it."""
    values = {"base_url": settings.base_url, **context}
    with i18n.use_locale(locale or i18n.current_locale()):
        subject = i18n.gettext(subject)
        text = _env.get_template(f"mail/{template}.txt").render(values)
        html = _env.get_template(f"mail/{template}.html").render(values)
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=_domain(settings.mail_from))
    msg[KIND_HEADER] = template
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"


def describe(msg: EmailMessage) -> str:
    """How the log names a message: never its body or recipient's full address."""
    return f"{msg.get(KIND_HEADER, 'message')} {msg.get('Message-ID', '')}".strip()


class Transport(Protocol):
    def deliver(self, msg: EmailMessage) -> str:
        """Deliver or raise; returns where the message went, for the log."""


def _write_eml(directory: Path, msg: EmailMessage) -> Path:
    """Write atomically (temporary file, then rename) and readable by the owner only: the file
    may hold a working reset link."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.eml"
    path = directory / name
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(msg.as_bytes(policy=policy.SMTP))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


class OutboxTransport:
    """The embedded default: one `.eml` file per message in `DATA/outbox/`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def deliver(self, msg: EmailMessage) -> str:
        return str(_write_eml(self.directory, msg))


class SmtpTransport:
    """SMTP through smtplib; STARTTLS and login when configured."""

    def __init__(self, settings: Settings, timeout: float = SMTP_TIMEOUT) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpTransport needs settings.smtp_host")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self._password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.timeout = timeout

    def deliver(self, msg: EmailMessage) -> str:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self._password or "")
            smtp.send_message(msg)
        return f"smtp://{self.host}:{self.port}"


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return OutboxTransport(settings.outbox_dir)


class Mailer:
    """Queues messages and delivers them from one background thread, with retries.

    `send` returns at once (nothing it does depends on the message's fate); `flush` waits until
    the queue is empty (the command line, tests, and a clean shutdown)."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport | None = None,
        retry_delays: Iterable[float] = DEFAULT_RETRY_DELAYS,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport if transport is not None else transport_for(settings)
        self.retry_delays = tuple(retry_delays)
        self._stopping = threading.Event()
        # Backoff waits end early when the process stops (see `spill`).
        self._sleep = sleep if sleep is not None else self._stopping.wait
        self._current: EmailMessage | None = None
        self._queue: queue.Queue[EmailMessage | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._secrets = tuple(s for s in (settings.smtp_password,) if s)

    @property
    def failed_dir(self) -> Path:
        return self.settings.outbox_dir / "failed"

    @property
    def pending(self) -> int:
        """Messages queued or being delivered now (what /metrics shows as the queue)."""
        return self._queue.unfinished_tasks

    def send(self, msg: EmailMessage) -> None:
        """Queue `msg` for delivery off the caller's path."""
        self._ensure_worker()
        self._queue.put(msg)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued message was delivered or kept as failed."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def spill(self, timeout: float = 5.0) -> int:
        """At process exit: stop retrying and keep every undelivered message in `failed/`, so
        that a restart loses none (`ebok accounts mail-retry` sends them). Returns how many."""
        self._stopping.set()
        kept = 0
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            if msg is not None:
                self._keep(msg, "the process is stopping")
                kept += 1
            self._queue.task_done()
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)  # the worker ends after the message in hand
            thread.join(timeout)
            current = self._current
            if thread.is_alive() and current is not None:
                # Cut off mid-attempt: keeping a copy may send it twice, losing it sends nothing.
                self._keep(current, "interrupted by the process stopping")
                kept += 1
        return kept

    def retry_failed(self) -> tuple[int, int]:
        """Try every message kept in `failed/` once more (each with the usual retries).
        Returns (delivered, still failed)."""
        delivered = still_failed = 0
        if not self.failed_dir.is_dir():
            return 0, 0
        for path in sorted(self.failed_dir.glob("*.eml")):
            # Claimed by renaming it: of two runs at once, one gets each message, so none goes
            # out twice (a failed attempt is kept again under a new name).
            claimed = path.with_name(f".{path.name}.sending-{os.getpid()}")
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another run took it
            with claimed.open("rb") as fh:
                msg = BytesParser(policy=policy.SMTP).parse(fh)
            claimed.unlink()
            if self._deliver(msg):  # type: ignore[arg-type]
                delivered += 1
            else:
                still_failed += 1
        return delivered, still_failed

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ebok-mail", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            msg = self._queue.get()
            try:
                if msg is None:
                    return
                self._current = msg
                self._deliver(msg)
            except Exception:  # never let one message stop the worker
                log.exception("mail worker: unexpected error")
            finally:
                self._current = None
                self._queue.task_done()

    def _deliver(self, msg: EmailMessage) -> bool:
        attempts = len(self.retry_delays) + 1
        for attempt in range(1, attempts + 1):
            try:
                where = self.transport.deliver(msg)
            except Exception as exc:
                log.warning(
                    "mail %s: delivery attempt %d/%d failed: %s",
                    describe(msg),
                    attempt,
                    attempts,
                    self._redact(f"{type(exc).__name__}: {exc}"),
                )
                if attempt < attempts and not self._stopping.is_set():
                    self._sleep(self.retry_delays[attempt - 1])
                if self._stopping.is_set():
                    break
                continue
            log.info("mail %s: delivered to %s", describe(msg), where)
            return True
        self._keep(msg, f"giving up after {attempt} attempts")
        return False

    def _keep(self, msg: EmailMessage, why: str) -> None:
        try:
            path = _write_eml(self.failed_dir, msg)
        except OSError as exc:
            log.error("mail %s: %s, and could not keep it: %s", describe(msg), why, exc)
            return
        log.error("mail %s: %s; kept in %s", describe(msg), why, path)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def mailer_for(state: Any, settings: Settings) -> Mailer:
    """The app's one Mailer, kept on `app.state` (created on first use so the app factory need
    not know about mail)."""
    mailer = getattr(state, "mailer", None)
    if mailer is None:
        mailer = Mailer(settings)
        state.mailer = mailer
        atexit.register(mailer.spill)
    return mailer
