"""Letters waiting to be downloaded: the activation or reset letter of an account the office just
opened or reset, offered as a link on the page that shows the one-time password.

The password must not travel in a URL (it would sit in the browser's history and the access
log), so the link carries a random token and the letter waits on the server, in memory
(`app.state.office_letters`): for the staff member's sign-in that made it only (another member,
or the same member signed in elsewhere, gets 404), for LETTER_SECONDS at most, and once: the
download takes it out. Nothing is written to disk, and a restart forgets every waiting letter
(the office then issues a new password). The PDF is rendered when it is downloaded, not before.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.datastructures import State
from starlette.requests import Request

if TYPE_CHECKING:
    from portal.accounts.letters import Letter

LETTER_SECONDS = 10 * 60
MAX_WAITING = 1000  # a bound on memory; the oldest go first

# Who may take a letter: the staff member, their auth version and when their sign-in began,
# i.e. this one sign-in (portal.panel.session keeps `sv` and `iat` in the cookie).
Owner = tuple[int, int, int]


def now() -> float:
    """Monotonic seconds; one name for tests to move the clock."""
    return time.monotonic()


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


class LetterStore:
    """Letters by token. Safe to share between threads."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or (lambda: now())  # looked up on each call: tests move `now`
        self._items: dict[str, Waiting] = {}
        self._lock = threading.Lock()

    def put(self, letter: Letter, *, account_id: int, login: str, owner: Owner) -> str:
        token = secrets.token_urlsafe(32)
        waiting = Waiting(letter, account_id, login, owner, self.clock() + LETTER_SECONDS)
        with self._lock:
            self._prune()
            while len(self._items) >= MAX_WAITING:
                self._items.pop(next(iter(self._items)))
            self._items[token] = waiting
        return token

    def take(self, token: str, owner: Owner) -> Waiting | None:
        """The letter, once, to its owner before it expires; None otherwise. A token shown to
        anybody else is spent as well: a link that leaked is worth nothing."""
        with self._lock:
            self._prune()
            waiting = self._items.pop(token, None)
        if waiting is None or waiting.owner != owner:
            return None
        return waiting

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._items)

    def _prune(self) -> None:
        moment = self.clock()
        for token in [t for t, w in self._items.items() if w.expires <= moment]:
            del self._items[token]


def store(state: State) -> LetterStore:
    """The app's store, made on first use."""
    found: Any = getattr(state, "office_letters", None)
    if found is None:
        with _made:
            found = getattr(state, "office_letters", None)
            if found is None:
                found = state.office_letters = LetterStore()
    return found


_made = threading.Lock()
