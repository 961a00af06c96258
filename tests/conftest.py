"""Shared fixtures. Builders for data live in tests/builders.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from tests.database import (
    TEST_DATABASE_URL,
    create_schema,
    reset_schema,
    schema_url,
    schema_versions,
)


@pytest.fixture(autouse=True)
def _no_ebok_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `ebok` command reads EBOK_* variables; a developer's own must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("EBOK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings on an empty data dir of this test's own, untouched by the environment; in the
    PostgreSQL pass of scripts/test (EBOK_TEST_DATABASE_URL), with a fresh schema of its own."""
    data = tmp_path / "data"
    data.mkdir()
    url = request.getfixturevalue("test_database_url") if TEST_DATABASE_URL else None
    return Settings.from_env(
        {}, data_dir=data, secret_key="test-secret-key-0123456789abcdef", database_url=url
    )


# Schemas taken in turn, each emptied just before a test gets it: a background thread a test
# left behind (an import finishing) writes into a schema that is emptied again before reuse.
TEST_SCHEMAS = 4


@pytest.fixture(scope="session")
def _test_schemas() -> tuple[list[str], dict[str, int], list[int]]:
    """This run's schemas in the test server (EBOK_TEST_DATABASE_URL), made empty once, the
    schema versions the code migrates them to, and whose turn it is."""
    names = [f"ebok_test_{os.getpid()}_{n}" for n in range(TEST_SCHEMAS)]
    for name in names:
        create_schema(name)
    return names, schema_versions(), [0]


@pytest.fixture
def test_database_url(_test_schemas: tuple[list[str], dict[str, int], list[int]]) -> str:
    """A URL to an empty schema in the test server: the next of the run's schemas, its tables
    emptied first (migrating 30 tables for every test would cost more than the test)."""
    names, versions, turn = _test_schemas
    name = names[turn[0] % len(names)]
    turn[0] += 1
    reset_schema(name, versions)
    return schema_url(name)


@pytest.fixture
def store(settings: Settings) -> SnapshotStore:
    return SnapshotStore(settings.snapshots_dir)


# -- portal: the app, a client, and a resident signed in through the real /login form ----------
SIGNED_IN_PASSWORD = "Kwiatowa-5-lokal-12"


@pytest.fixture
def app(settings: Settings):
    from portal.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def signed_in(app):
    """`signed_in("KW5/12", "G/3", login="jan")` -> a TestClient signed in as an account linked
    to those premises (created with SIGNED_IN_PASSWORD and no forced change if missing).
    Pass `client=` to sign an existing client in; `.account_id` holds the account's id."""

    from starlette.testclient import TestClient

    from portal.accounts.passwords import hash_password
    from tests.forms import csrf_token

    clients = []

    def sign_in(
        *premises_ids: str,
        login: str = "resident",
        password: str = SIGNED_IN_PASSWORD,
        email: str | None = None,
        client: TestClient | None = None,
    ) -> TestClient:
        accounts = app.state.accounts
        record = accounts.by_login(login)
        if record is None:
            record = accounts.create(
                login,
                hash_password(password),
                premises_ids,
                email=email,
                must_change_password=False,
            )
        for premises_id in premises_ids:
            accounts.link(record.id, premises_id)
        if client is None:
            client = TestClient(app)
            clients.append(client)
        page = client.get("/login")
        token = csrf_token(page.text)
        response = client.post(
            "/login",
            data={"login": login, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        client.account_id = record.id
        return client

    yield sign_in
    for c in clients:
        c.close()


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Argon2 at production cost takes ~0.3 s a hash; tests check behaviour, not cost."""
    from argon2 import PasswordHasher

    import portal.accounts.passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(portal.accounts.passwords, "_hasher", cheap)
    portal.accounts.passwords.dummy_hash.cache_clear()
