"""Letters waiting to be downloaded: the activation or reset letter of an account the office just
opened or reset, offered as a link on the page that shows the one-time password.

The password must not travel in a URL (it would sit in the browser's history and the access
log), so the link carries a random token and the letter waits on the server: for the staff
member's sign-in that made it only (another member, or the same member signed in elsewhere, gets
"gone"), for LETTER_SECONDS at most, and once: the download takes it out. The PDF is rendered
when it is downloaded, not before.

It waits in the accounts database (table `office_letters`, accounts migration 6), so that the
download may land on any process of `ebok serve --workers N` (or, later, any host). The letter
holds a password, so the row must not give it away to whoever reads the database or a backup:
it is found by a hash of the token and sealed (AES-GCM) with a key derived from the token,
which only the page that showed the password and the staff member's browser ever saw. Both are
derived from the token's 256 random bits with SHA-256 under different labels, so one reveals
nothing of the other. An expired row is deleted by the next `put` or `take`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.datastructures import State
from starlette.requests import Request

from portal.accounts import schema

if TYPE_CHECKING:
    from portal.accounts.letters import Letter

LETTER_SECONDS = 10 * 60
MAX_WAITING = 1000  # a bound on the table; the oldest go first

# Who may take a letter: the staff member, their auth version and when their sign-in began,
# i.e. this one sign-in (portal.panel.session keeps `sv` and `iat` in the cookie).
Owner = tuple[int, int, int]


def now() -> float:
    """Epoch seconds (the rows are shared between processes); one name for tests to move."""
    return time.time()


def owner(request: Request) -> Owner:
    session = request.session
    return (request.state.staff.id, int(session.get("sv", 0)), int(session.get("iat", 0)))


@dataclass(frozen=True)
class Waiting:
    """A letter to hand out once, and what the audit entry of the download names."""

    letter: Letter = field(repr=False)  # holds the one-time password
    account_id: int
    login: str
    owner: Owner
    expires: float


def token_hash(token: str) -> str:
    """The row's key: says nothing about the sealing key."""
    return hashlib.sha256(b"ebok office letter id\0" + token.encode()).hexdigest()


def _key(token: str) -> bytes:
    return hashlib.sha256(b"ebok office letter key\0" + token.encode()).digest()


def seal(token: str, waiting: Waiting) -> str:
    """The waiting letter as text only its token opens (the row's key bound in, so a sealed
    letter moved to another row does not open)."""
    plain = json.dumps(_to_json(waiting), ensure_ascii=False).encode()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(token)).encrypt(nonce, plain, token_hash(token).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(token: str, text: str) -> Waiting | None:
    """The letter `seal` sealed with `token`; None when it does not open."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
        plain = AESGCM(_key(token)).decrypt(raw[:12], raw[12:], token_hash(token).encode())
        return _from_json(json.loads(plain))
    except (InvalidTag, ValueError, KeyError, TypeError):
        return None


def _to_json(waiting: Waiting) -> dict[str, Any]:
    letter = dataclasses.asdict(waiting.letter)
    letter["issued"] = waiting.letter.issued.isoformat()
    return {
        "letter": letter,
        "account_id": waiting.account_id,
        "login": waiting.login,
        "owner": list(waiting.owner),
        "expires": waiting.expires,
    }


def _from_json(data: dict[str, Any]) -> Waiting:
    from portal.accounts.letters import Letter  # the PDF stack, lazily

    fields = dict(data["letter"])
    fields["places"] = tuple(fields["places"])
    fields["issued"] = date.fromisoformat(fields["issued"])
    owner_ids = tuple(int(n) for n in data["owner"])
    return Waiting(
        Letter(**fields),
        int(data["account_id"]),
        str(data["login"]),
        owner_ids,  # type: ignore[arg-type]
        float(data["expires"]),
    )


_PRUNE = "DELETE FROM office_letters WHERE expires <= ?"
_OLDEST = (
    "DELETE FROM office_letters WHERE token_hash IN"
    " (SELECT token_hash FROM office_letters ORDER BY expires LIMIT ?)"
)
_TAKE = "DELETE FROM office_letters WHERE token_hash = ? RETURNING sealed, expires"


class LetterStore:
    """Letters by token, in the accounts database. `db` returns this thread's connection
    (Accounts.db); without one (tests) a private in-memory database holds them."""

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        *,
        db: Callable[[], sqlite3.Connection] | None = None,
    ) -> None:
        self.clock = clock or (lambda: now())  # looked up on each call: tests move `now`
        self._db = db
        self._lock: threading.Lock | None = None
        self._memory: sqlite3.Connection | None = None
        if db is None:
            self._lock = threading.Lock()
            self._memory = sqlite3.connect(":memory:", check_same_thread=False)
            self._memory.isolation_level = None
            schema.migrate(self._memory)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if self._db is not None:
            yield self._db()
            return
        assert self._lock is not None and self._memory is not None
        with self._lock:
            yield self._memory

    def put(self, letter: Letter, *, account_id: int, login: str, owner: Owner) -> str:
        token = secrets.token_urlsafe(32)
        moment = self.clock()
        waiting = Waiting(letter, account_id, login, owner, moment + LETTER_SECONDS)
        with self._conn() as conn:
            conn.execute(_PRUNE, (moment,))
            (count,) = conn.execute("SELECT COUNT(*) FROM office_letters").fetchone()
            if count >= MAX_WAITING:
                conn.execute(_OLDEST, (count - MAX_WAITING + 1,))
            conn.execute(
                "INSERT INTO office_letters (token_hash, sealed, expires) VALUES (?, ?, ?)",
                (token_hash(token), seal(token, waiting), waiting.expires),
            )
        return token

    def take(self, token: str, owner: Owner) -> Waiting | None:
        """The letter, once, to its owner before it expires; None otherwise. A token shown to
        anybody else is spent as well: a link that leaked is worth nothing."""
        moment = self.clock()
        with self._conn() as conn:
            row = conn.execute(_TAKE, (token_hash(token),)).fetchone()
            conn.execute(_PRUNE, (moment,))
        if row is None or row[1] <= moment:
            return None
        waiting = unseal(token, row[0])
        if waiting is None or waiting.owner != owner:
            return None
        return waiting

    def __len__(self) -> int:
        """Letters waiting (not expired)."""
        with self._conn() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM office_letters WHERE expires > ?", (self.clock(),)
            ).fetchone()
        return count


def store(state: State) -> LetterStore:
    """The app's store, made on first use, in the app's accounts database."""
    found: Any = getattr(state, "office_letters", None)
    if found is None:
        with _made:
            found = getattr(state, "office_letters", None)
            if found is None:
                found = state.office_letters = LetterStore(db=state.accounts.db)
    return found


_made = threading.Lock()
