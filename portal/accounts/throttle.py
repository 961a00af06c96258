"""Failed sign-in throttling: growing waits per login and per client address, no hard lockout.

A hard lockout after N failures lets anyone lock a resident out by typing their login. Instead,
after a few free failures each further attempt must wait twice as long as the last, capped, so an
attacker gets at most a few dozen guesses an hour (OWASP ASVS V2.2.1: at most 100) while the
resident can still sign in a minute later. Counts are per login and, separately and more
leniently (many residents may share one address), per client address.

State lives in memory: `ebok serve` runs one process, and a restart forgetting a count costs an
attacker's hour, not a resident's account.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    free_failures: int
    base_delay: float = 1.0
    max_delay: float = 60.0
    forget_after: float = 3600.0  # a key with no failure for this long starts afresh

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * (2 ** min(over - 1, 32)))


LOGIN_POLICY = Policy(free_failures=3)
ADDRESS_POLICY = Policy(free_failures=10)


class Throttle:
    """Counts failures per key; `wait` tells how long the next attempt has to wait."""

    def __init__(
        self,
        login_policy: Policy = LOGIN_POLICY,
        address_policy: Policy = ADDRESS_POLICY,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.policies = {"login": login_policy, "address": address_policy}
        self.clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        # (kind, key) -> (failures, time of the last failure)
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}

    def _keys(self, login: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("login", login.strip().lower())]
        if address:
            keys.append(("address", address))
        return keys

    def wait(self, login: str, address: str | None) -> float:
        """Seconds until an attempt for this login from this address will be considered."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            for key in self._keys(login, address):
                entry = self._failures.get(key)
                if entry is None:
                    continue
                failures, last = entry
                policy = self.policies[key[0]]
                if now - last > policy.forget_after:
                    continue
                longest = max(longest, last + policy.delay(failures) - now)
        return max(0.0, longest)

    def wait_seconds(self, login: str, address: str | None) -> int:
        """`wait` rounded up to whole seconds, for the message to the resident."""
        return math.ceil(self.wait(login, address))

    def failed(self, login: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.max_keys:
                self._prune(now)
            for key in self._keys(login, address):
                failures, last = self._failures.get(key, (0, now))
                if now - last > self.policies[key[0]].forget_after:
                    failures = 0
                self._failures[key] = (failures + 1, now)

    def succeeded(self, login: str) -> None:
        """A correct password clears the login's count; the address keeps its own."""
        with self._lock:
            self._failures.pop(("login", login.strip().lower()), None)

    def failures(self, login: str, address: str | None = None) -> dict[str, int]:
        with self._lock:
            return {
                kind: self._failures.get((kind, key), (0, 0.0))[0]
                for kind, key in self._keys(login, address)
            }

    def _prune(self, now: float) -> None:
        stale = [
            key
            for key, (_, last) in self._failures.items()
            if now - last > self.policies[key[0]].forget_after
        ]
        for key in stale:
            del self._failures[key]
        if len(self._failures) >= self.max_keys:
            # Still full: drop the oldest half rather than grow without bound.
            ordered = sorted(self._failures.items(), key=lambda item: item[1][1])
            for key, _ in ordered[: len(ordered) // 2]:
                del self._failures[key]
