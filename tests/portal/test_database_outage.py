"""The database going away: residents get the 503 page in their words, never a traceback, and
the portal serves again by itself once the database is back (issue 12, "Load and faults").

PostgreSQL: a private throwaway cluster (tests/postgres.py) is stopped and started under a
running app. SQLite: a write that waits for a lock past the timeout."""

from __future__ import annotations

import sqlite3

import pytest
from starlette.testclient import TestClient

import ebok.database.errors
from ebok.settings import Settings
from portal.accounts.sessions import SESSION_CACHE_SECONDS
from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.conftest import SIGNED_IN_PASSWORD
from tests.database import TEST_DATABASE_URL
from tests.forms import csrf_token
from tests.postgres import Cluster, bin_dir

MESSAGE = "Baza danych portalu jest chwilowo niedostępna."


def sign_in(client: TestClient, login: str = "jan", password: str = SIGNED_IN_PASSWORD):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert MESSAGE in response.text and "Traceback" not in response.text
    assert response.headers["retry-after"] == "30"


def open_account(app, store) -> None:
    from portal.accounts.passwords import hash_password

    publish_documents(store, [make_document("KW5/12")])
    app.state.accounts.create(
        "jan", hash_password(SIGNED_IN_PASSWORD), ["KW5/12"], must_change_password=False
    )


@pytest.mark.slow
@pytest.mark.skipif(bin_dir() is None, reason="PostgreSQL is not installed (scripts/setup --test)")
@pytest.mark.skipif(TEST_DATABASE_URL is not None, reason="runs in the first pass (own cluster)")
def test_postgresql_stopped_gives_503_pages_and_the_portal_recovers_when_it_returns(
    tmp_path, store, caplog
):
    cluster = Cluster()
    cluster.init()  # not started: the portal starts before its database
    try:
        data = tmp_path / "data"
        settings = Settings.from_env(
            {}, data_dir=data, secret_key="k" * 40, database_url=cluster.url
        )
        store_here = type(store)(settings.snapshots_dir)
        app = create_app(settings)
        with TestClient(app) as early:
            assert_unavailable(sign_in(early))
        cluster.start()
        open_account(app, store_here)  # the schema is made on first use
        with TestClient(app) as resident, TestClient(app) as visitor:
            assert sign_in(resident).status_code == 303
            assert resident.get("/premises/KW5/12").status_code == 200

            cluster.stop()
            # Past the second for which a session's answer is reused (SESSION_CACHE_SECONDS).
            seconds = app.state.accounts.clock() + SESSION_CACHE_SECONDS
            app.state.accounts.clock = lambda: seconds
            assert_unavailable(resident.get("/premises/KW5/12"))  # the session check
            assert_unavailable(resident.get("/"))
            assert_unavailable(sign_in(visitor))  # the sign-in itself
            health = visitor.get("/healthz")  # what Docker's and a load balancer's check see
            assert health.status_code == 503
            assert health.json()["status"] == "database unavailable"
            assert "Traceback" not in caplog.text

            cluster.start()
            assert visitor.get("/healthz").status_code == 200
            assert resident.get("/premises/KW5/12").status_code == 200  # same session
            assert sign_in(visitor).status_code == 303
    finally:
        cluster.destroy()


def test_sqlite_locked_past_the_timeout_gives_a_503_and_then_serves(
    settings, store, monkeypatch, caplog
):
    if settings.database_url:
        pytest.skip("about the SQLite file")
    monkeypatch.setattr(ebok.database.errors, "SQLITE_TIMEOUT", 0.2)
    app = create_app(settings)
    open_account(app, store)
    holder = sqlite3.connect(settings.accounts_db, isolation_level=None)
    with TestClient(app) as client:
        holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than allowed
        assert_unavailable(sign_in(client))  # recording the sign-in must wait for the lock
        holder.execute("ROLLBACK")
        assert sign_in(client).status_code == 303
        assert client.get("/premises/KW5/12").status_code == 200
    holder.close()
    assert "Traceback" not in caplog.text
