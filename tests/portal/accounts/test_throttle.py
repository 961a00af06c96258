"""portal/accounts/throttle.py: counts kept in the accounts database, shared by every process
that opens it (ebok serve --workers N; the multi-process test is tests/ebok/test_workers.py)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from portal.accounts import throttle as throttle_module
from portal.accounts.service import Accounts
from portal.accounts.throttle import Policy, Throttle


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def accounts(tmp_path):
    accounts = Accounts(tmp_path / "ebok.sqlite3")
    accounts.migrate()
    yield accounts
    accounts.close()


def test_two_throttles_on_one_database_count_the_same_failures(accounts):
    """Two app instances (as two worker processes have) on one database: one count."""
    clock = Clock()
    first = Throttle(clock=clock, db=accounts.db)
    second = Throttle(clock=clock, db=Accounts(accounts.path).db)
    for throttle in (first, second, first, second):
        throttle.failed("Jan", "203.0.113.7")
    assert second.failures("jan", "203.0.113.7") == {"login": 4, "address": 4}
    assert first.wait_seconds("JAN", None) == 1  # 4 failures, 3 free: 1 s
    second.succeeded("jan")
    assert first.failures("jan", "203.0.113.7") == {"login": 0, "address": 4}


def test_scopes_keep_throttles_apart(accounts):
    clock = Clock()
    residents = Throttle(clock=clock, db=accounts.db, scope="sign-in")
    panel = Throttle(clock=clock, db=accounts.db, scope="panel")
    for _ in range(5):
        residents.failed("ewa", "198.51.100.1")
    assert residents.wait("ewa", None) > 0
    assert panel.wait("ewa", "198.51.100.1") == 0
    assert panel.failures("ewa", "198.51.100.1") == {"login": 0, "address": 0}


def test_waits_double_up_to_the_cap_and_are_forgotten_after_an_hour(accounts):
    clock = Clock()
    throttle = Throttle(clock=clock, db=accounts.db)
    waits = []
    for _ in range(12):
        throttle.failed("anna", None)
        waits.append(throttle.wait_seconds("anna", None))
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    clock.t += 3601
    assert throttle.wait("anna", None) == 0
    throttle.failed("anna", None)  # a failure after the hour starts the count afresh
    assert throttle.failures("anna") == {"login": 1}


def test_forgotten_rows_are_pruned(accounts, monkeypatch):
    clock = Clock()
    throttle = Throttle(
        Policy(3, forget_after=60), Policy(10, forget_after=120), clock, db=accounts.db
    )
    throttle.failed("old", "192.0.2.1")
    clock.t += 1000  # past forget_after and PRUNE_EVERY
    throttle.failed("new", None)
    keys = {row[0] for row in accounts.db().execute("SELECT key FROM throttle")}
    assert keys == {"new"}
    monkeypatch.setattr(throttle_module, "PRUNE_EVERY", 10_000.0)
    clock.t += 1000
    throttle.failed("newer", None)  # no prune this time: too soon
    assert accounts.db().execute("SELECT count(*) FROM throttle").fetchone()[0] == 2


def test_without_a_database_counts_are_the_process_own():
    clock = Clock()
    one, other = Throttle(clock=clock), Throttle(clock=clock)
    for _ in range(4):
        one.failed("jan", "203.0.113.7")
    assert one.wait_seconds("jan", "203.0.113.7") == 1
    assert other.wait("jan", "203.0.113.7") == 0


def _fail_many(path: str, count: int) -> None:
    throttle = Throttle(db=Accounts(Path(path)).db)
    for _ in range(count):
        throttle.failed("target", "203.0.113.9")


def test_processes_failing_at_once_lose_no_count(accounts):
    """Upserts from several processes at once: every failure is counted."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_fail_many, args=(str(accounts.path), 50)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert Throttle(db=accounts.db).failures("target", "203.0.113.9") == {
        "login": 150,
        "address": 150,
    }


def test_a_check_and_a_failure_cost_little(accounts):
    """The sign-in path adds one read and one upsert (two rows); next to a ~50 ms argon2 check
    they must not count. Generous bound: a loaded CI machine."""
    throttle = Throttle(db=accounts.db)
    throttle.failed("warm", "192.0.2.9")
    rounds = 500
    start = time.perf_counter()
    for i in range(rounds):
        throttle.wait_seconds(f"login{i % 50}", "192.0.2.9")
        throttle.failed(f"login{i % 50}", "192.0.2.9")
    per_attempt = (time.perf_counter() - start) / rounds
    assert per_attempt < 0.005, f"{per_attempt * 1e6:.0f} µs per attempt"
