"""Password recovery by e-mail: /password/forgot and /password/reset/{token}.

The link's token is an itsdangerous timed signature over {account id, fingerprint of the current
password hash}. Setting a password (by this link, at the office or after signing in) changes the
hash, so the token dies once used or once the password changes; the signature's age limits it to
an hour. Nothing about tokens is stored.

The forgot form never tells whether a login exists or has an e-mail: the page is the same, and
so is the work behind it (look-up, token and message are made in every case; only a real one is
queued, and delivery runs off the request path), so timing does not tell either. Requests are
throttled per login and per client address.

Tokens travel in the URL path, so uvicorn's access log would print them: a log filter replaces
them with `…`. The reset pages send no Referer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ebok.database import Database
from ebok.settings import Settings
from portal.accounts import passwords
from portal.accounts.auth import client_address
from portal.accounts.lifecycle import notify_password_changed
from portal.accounts.mail import Mailer, compose, mailer_for
from portal.accounts.service import ACTIVE, AccountRecord, Accounts
from portal.accounts.throttle import Policy, Throttle
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.web.templating import templates

log = logging.getLogger("ebok.recovery")

SALT = "password-reset"
MAX_AGE_SECONDS = 3600
RESET_SUBJECT = N_("Ustawienie nowego hasła w EBOK")  # compose() translates it
MSG_MISMATCH = N_("Nowe hasło i jego powtórzenie różnią się.")
MSG_NO_LOGIN = N_("Podaj login.")
# Per login: three requests free, then waits doubling from a minute; per address: more lenient,
# as many residents may share one.
LOGIN_POLICY = Policy(free_failures=3, base_delay=60.0, max_delay=3600.0)
ADDRESS_POLICY = Policy(free_failures=20, base_delay=30.0, max_delay=3600.0)
_DUMMY_ADDRESS = "nobody@invalid"
# Stands in for a password hash when there is no account: same length and shape, no hashing.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "A" * 22 + "$" + "A" * 43


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


class ResetTokens:
    """Issues and checks reset tokens. `clock` (epoch seconds) is swappable for tests."""

    def __init__(
        self, secret: str, clock: Callable[[], float] = time.time, max_age: int = MAX_AGE_SECONDS
    ) -> None:
        self.clock = clock
        self.max_age = max_age
        owner = self

        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(owner.clock())

        self._serializer = URLSafeTimedSerializer(secret, salt=SALT, signer=_Signer)

    def issue(self, account_id: int, password_hash: str) -> str:
        return self._serializer.dumps({"a": account_id, "f": fingerprint(password_hash)})

    def check(self, token: str, accounts: Accounts) -> AccountRecord | None:
        """The account the token may reset, or None (forged, expired, used, account gone)."""
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            return None
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("a"), int):
            return None
        record = accounts.get(payload["a"])
        if record is None or record.status != ACTIVE:
            return None
        if not hmac.compare_digest(str(payload.get("f", "")), fingerprint(record.password_hash)):
            return None
        return record


# -- app state, all of it made by create_app ----------------------------------------------------
def _settings(request: Request) -> Settings:
    return request.app.state.settings


def reset_tokens(state: Any) -> ResetTokens:
    """The app's signer, made by create_app from the app's secret key."""
    return state.reset_tokens


def new_throttle(db: Callable[[], Database] | None = None) -> Throttle:
    """The throttle of reset requests; create_app keeps one as `app.state.recovery_throttle`,
    counting in the accounts database (`db`: Accounts.db)."""
    return Throttle(
        login_policy=LOGIN_POLICY, address_policy=ADDRESS_POLICY, db=db, scope="recovery"
    )


def _throttle(state: Any) -> Throttle:
    return state.recovery_throttle


def _mailer(request: Request) -> Mailer:
    return mailer_for(request.app.state, _settings(request))


def reset_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/password/reset/{token}"


# -- /password/forgot ---------------------------------------------------------------------------
def _forgot_page(request: Request, *, sent: bool = False, error: str | None = None, status=200):
    return templates.TemplateResponse(
        request,
        "password_forgot.html",
        {"sent": sent, "error": error, "valid_minutes": MAX_AGE_SECONDS // 60},
        status_code=status,
    )


async def forgot_page(request: Request) -> Response:
    return _forgot_page(request)


async def forgot_submit(request: Request) -> Response:
    settings = _settings(request)
    accounts: Accounts = request.app.state.accounts
    form = await request.form()
    login = str(form.get("login") or "").strip()[:200]
    if not login:
        return _forgot_page(request, error=_(MSG_NO_LOGIN), status=400)
    client = client_address(request)
    throttle = _throttle(request.app.state)
    wait = throttle.wait_seconds(login, client)
    if wait > 0:
        minutes = -(-wait // 60)
        response = _forgot_page(
            request,
            error=_("Zbyt wiele próśb o nowe hasło. Spróbuj ponownie za %(minutes)d min.")
            % {"minutes": minutes},
            status=429,
        )
        response.headers["retry-after"] = str(wait)
        return response
    throttle.failed(login, client)  # every request counts, whatever its outcome

    record = accounts.by_login(login)
    target = record if record is not None and record.can_recover else None
    # The same work whether or not a message goes out (see the module docstring).
    token = reset_tokens(request.app.state).issue(
        target.id if target else 0,
        target.password_hash if target else _DUMMY_HASH,
    )
    msg = compose(
        settings,
        target.email if target else _DUMMY_ADDRESS,  # type: ignore[arg-type]
        RESET_SUBJECT,
        "password_reset",
        {
            "login": target.login if target else login,
            "link": reset_link(settings, token),
            "valid_minutes": MAX_AGE_SECONDS // 60,
        },
    )
    response = _forgot_page(request, sent=True)
    # Queued only once the page has gone out, so delivery work cannot slow this response.
    response.background = BackgroundTask(
        _queue_reset, _mailer(request), msg if target else None, record
    )
    return response


def _queue_reset(mailer: Mailer, msg: EmailMessage | None, record: AccountRecord | None) -> None:
    if msg is not None and record is not None:
        mailer.send(msg)
        log.info("password reset link queued for account %s", record.login)
    elif record is not None:
        log.info(
            "password reset asked for account %s, which cannot recover by e-mail", record.login
        )


# -- /password/reset/{token} --------------------------------------------------------------------
def _reset_page(
    request: Request,
    record: AccountRecord | None,
    errors: list[str] | None = None,
    status: int | None = None,
) -> Response:
    response = templates.TemplateResponse(
        request,
        "password_reset.html",
        {
            "invalid": record is None,
            "login": record.login if record else "",
            "errors": errors or [],
            "action": request.url.path,
            "min_length": passwords.MIN_LENGTH,
            "valid_minutes": MAX_AGE_SECONDS // 60,
        },
        status_code=status or (400 if record is None else 200),
    )
    response.headers["referrer-policy"] = "no-referrer"
    return response


async def reset_page(request: Request) -> Response:
    tokens = reset_tokens(request.app.state)
    record = tokens.check(request.path_params["token"], request.app.state.accounts)
    return _reset_page(request, record)


async def reset_submit(request: Request) -> Response:
    settings = _settings(request)
    accounts: Accounts = request.app.state.accounts
    tokens = reset_tokens(request.app.state)
    token = request.path_params["token"]
    record = tokens.check(token, accounts)
    if record is None:
        return _reset_page(request, None)
    form = await request.form()
    new = str(form.get("new_password") or "")[: passwords.MAX_LENGTH * 4]
    repeat = str(form.get("new_password_repeat") or "")[: passwords.MAX_LENGTH * 4]
    errors = passwords.check_new_password(record.login, new)
    if new != repeat:
        errors.append(_(MSG_MISMATCH))
    if errors:
        return _reset_page(request, record, errors, status=400)

    new_hash = await run_in_threadpool(passwords.hash_password, new)
    # Check again after the slow hashing: a second submission of the same link may have won.
    if tokens.check(token, accounts) is None:
        return _reset_page(request, None)
    accounts.set_password(record.id, new_hash, must_change=False)
    request.app.state.throttle.succeeded(record.login)
    log.info("account %s: password set through a reset link", record.login)
    notify_password_changed(_mailer(request), settings, record, "reset-link")
    return RedirectResponse("/login?changed=1", status_code=303)


# -- keep tokens out of access logs -------------------------------------------------------------
# Also the unsubscribe links of e-mail notices (portal.notices.tokens).
_TOKEN_IN_PATH = re.compile(r"(/password/reset/|/notices/unsubscribe/)[^\s?\"']+")
_TOKEN_PATHS = ("/password/reset/", "/notices/unsubscribe/")


class RedactResetTokens(logging.Filter):
    """Replaces the token in `/password/reset/<token>` in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and any(p in record.msg for p in _TOKEN_PATHS):
            record.msg = _TOKEN_IN_PATH.sub(r"\1…", record.msg)
        args = record.args
        if isinstance(args, tuple) and any(
            isinstance(a, str) and any(p in a for p in _TOKEN_PATHS) for a in args
        ):
            record.args = tuple(
                _TOKEN_IN_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in args
            )
        return True


def install_log_filter() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactResetTokens) for f in logger.filters):
            logger.addFilter(RedactResetTokens())


install_log_filter()

routes = [
    Route("/password/forgot", forgot_page, methods=["GET"]),
    Route("/password/forgot", forgot_submit, methods=["POST"]),
    Route("/password/reset/{token}", reset_page, methods=["GET"]),
    Route("/password/reset/{token}", reset_submit, methods=["POST"]),
]
