"""The unsubscribe link's token: an itsdangerous timed signature, keyed by the portal's secret
key, over {account id, subscription version}.

- Its own salt, so it is worth nothing as any other token of the portal (a password-reset
  token is not an unsubscribe token, nor the other way round), and all it can do is switch
  notices off for that one account.
- The version: switching notices on again bumps it (portal.notices.store), so a link from
  before stops working; a resident who opted in again is not opted out by an old message.
- Valid for a year: a link in a message read months later still works, yet one leaked long
  ago does not for ever. Every new message carries a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

SALT = "notices-unsubscribe"
MAX_AGE_SECONDS = 366 * 24 * 3600
UNSUBSCRIBE_PATH = "/notices/unsubscribe/"


@dataclass(frozen=True)
class Checked:
    """What a token said: `problem` is None, "expired" or "invalid"."""

    account_id: int = 0
    version: int = 0
    problem: str | None = None


class UnsubscribeTokens:
    """Issues and checks tokens. `clock` (epoch seconds) is swappable for tests."""

    def __init__(
        self, secret: str, clock: Callable[[], float] = time.time, max_age: int = MAX_AGE_SECONDS
    ) -> None:
        self.max_age = max_age
        owner_clock = clock

        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(owner_clock())

        self._serializer = URLSafeTimedSerializer(secret, salt=SALT, signer=_Signer)

    def issue(self, account_id: int, version: int) -> str:
        return self._serializer.dumps({"a": account_id, "v": version})

    def check(self, token: str) -> Checked:
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            return Checked(problem="expired")
        except BadSignature:
            return Checked(problem="invalid")
        if (
            not isinstance(payload, dict)
            or type(payload.get("a")) is not int
            or type(payload.get("v")) is not int
        ):
            return Checked(problem="invalid")
        return Checked(payload["a"], payload["v"])


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url}{UNSUBSCRIBE_PATH}{token}"
