"""`ebok backup DIR` and `ebok restore DIR`: a portal brought back elsewhere serves the same pages
to the same accounts."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ebok.backup import BackupError, backup, restore
from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.cli import NEW_PASSWORD, change_password, ebok, one_time_password, sign_in
from tests.database import TEST_DATABASE_URL, another_database

OVERVIEW = "/premises/KW5%2F12"


@pytest.fixture
def portal_data(settings, store, capsys):
    """A data dir as a running portal leaves it: two generations, an account whose resident
    set a password of their own, the key in DATA/secret_key, the manager's TOML files."""
    settings = Settings.from_env({}, data_dir=settings.data_dir)  # the key file, not a variable
    publish_documents(store, [make_document("KW5/12", as_of="2026-10-31")])
    publish_documents(store, [make_document("KW5/12")])
    ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    one_time = one_time_password(capsys.readouterr().out)
    client, answer = sign_in(create_app(settings), "jan", one_time)
    assert answer.status_code == 303
    assert change_password(client, one_time, NEW_PASSWORD).status_code == 303
    (settings.data_dir / "aliases.toml").write_text('[headers]\nlokal = ["nr lokalu"]\n')
    (settings.data_dir / "communities.toml").write_text('[WM-KW5]\nname = "Kwiatowa 5"\n')
    return settings, client


def _page(client: TestClient) -> str:
    """The premises page's content (its header tells who signed in and when, last time)."""
    response = client.get(OVERVIEW)
    assert response.status_code == 200 and "KW5/12" in response.text
    return response.text.split("<main", 1)[1]


def test_a_restored_portal_serves_the_same_pages_to_the_same_accounts(portal_data, tmp_path):
    settings, client = portal_data
    before = _page(client)
    target = tmp_path / "kopia"
    assert ebok(settings, "backup", str(target)) == 0

    manifest = json.loads((target / "manifest.json").read_text())
    names = {entry["path"] for entry in manifest["files"]}
    generation = manifest["generation"]
    assert {"ebok.sqlite3", "secret_key", "aliases.toml", "communities.toml"} <= names
    assert f"snapshots/{generation}/manifest.json" in names and "snapshots/CURRENT" in names
    assert len([n for n in names if n.endswith("/manifest.json")]) == 1  # the current only
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "secret_key").stat().st_mode) == 0o600

    fresh = Settings.from_env({}, data_dir=tmp_path / "restored" / "data")
    assert ebok(fresh, "restore", str(target)) == 0
    restored = create_app(fresh)
    assert restored.state.store.current().id == generation
    # The resident signs in with the password they set, and sees the same page.
    again, answer = sign_in(restored, "jan", NEW_PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert _page(again) == before
    assert "Poprzednie logowanie" in again.get(OVERVIEW).text  # the sign-in history came along
    # Same key, same database: a session from before the move is still one.
    moved = TestClient(restored, cookies=client.cookies)
    assert _page(moved) == before
    for name in ("ebok.sqlite3", "secret_key"):
        assert stat.S_IMODE((fresh.data_dir / name).stat().st_mode) == 0o600
    assert (fresh.data_dir / "aliases.toml").read_text() == (
        settings.data_dir / "aliases.toml"
    ).read_text()


def test_a_backup_while_the_database_is_being_written_is_consistent(portal_data, tmp_path):
    settings, _ = portal_data
    writer = sqlite3.connect(settings.accounts_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE accounts SET email = 'half@example.pl'")  # not committed
    backup(settings, tmp_path / "kopia")
    writer.execute("ROLLBACK")
    with sqlite3.connect(tmp_path / "kopia" / "ebok.sqlite3") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT email FROM accounts").fetchall() == [(None,)]


def test_restore_refuses_a_data_dir_that_is_not_empty(portal_data, tmp_path, capsys):
    settings, _ = portal_data
    backup(settings, tmp_path / "kopia")
    assert ebok(settings, "restore", str(tmp_path / "kopia")) == 1
    assert "not empty" in capsys.readouterr().err


def test_restore_refuses_a_damaged_backup_and_writes_nothing(portal_data, tmp_path):
    settings, _ = portal_data
    target = tmp_path / "kopia"
    backup(settings, target)
    with (target / "ebok.sqlite3").open("r+b") as fh:
        fh.seek(5000)
        fh.write(b"\xff")
    fresh = Settings.from_env({}, data_dir=tmp_path / "new")
    with pytest.raises(BackupError, match="ebok.sqlite3 differs"):
        restore(fresh, target)
    assert not fresh.data_dir.exists()


def test_restore_refuses_paths_outside_the_data_dir(portal_data, tmp_path):
    settings, _ = portal_data
    target = tmp_path / "kopia"
    backup(settings, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["files"].append({"path": "../escape", "kind": "file", "bytes": 0, "sha256": ""})
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="bad path"):
        restore(Settings.from_env({}, data_dir=tmp_path / "new"), target)
    assert not (tmp_path / "escape").exists()


def test_backup_refuses_a_folder_that_is_not_empty_and_leaves_nothing_behind(portal_data, tmp_path):
    settings, _ = portal_data
    target = tmp_path / "kopia"
    target.mkdir()
    (target / "old.txt").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(settings, target)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".kopia")) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    assert backup(settings, empty)["generation"]  # an empty folder will do


def test_a_data_dir_without_a_generation_backs_up_and_restores(settings, tmp_path):
    settings = Settings.from_env({}, data_dir=settings.data_dir)  # SQLite, in either pass
    ebok(settings, "accounts", "create", "--login", "ola", "--premises", "G/3")
    manifest = backup(settings, tmp_path / "kopia")
    assert manifest["generation"] is None
    fresh = Settings.from_env({}, data_dir=tmp_path / "new")
    restore(fresh, tmp_path / "kopia")
    assert (fresh.data_dir / "ebok.sqlite3").exists()
    assert not (fresh.data_dir / "snapshots").exists()


def test_restore_into_a_missing_or_empty_data_dir(portal_data, tmp_path: Path):
    settings, _ = portal_data
    backup(settings, tmp_path / "kopia")
    empty = tmp_path / "empty"
    empty.mkdir()
    restore(Settings.from_env({}, data_dir=empty), tmp_path / "kopia")
    assert (empty / "snapshots" / "CURRENT").exists()


def test_everything_inside_the_generation_comes_along(portal_data, tmp_path):
    """A generation's folder may hold more than its documents (files/<sha256>.pdf: the
    communities' PDFs); the backup copies the folder whole."""
    settings, _ = portal_data
    generation = SnapshotStore(settings.snapshots_dir).current()
    (generation.path / "files").mkdir(exist_ok=True)
    (generation.path / "files" / "abc.pdf").write_bytes(b"%PDF-1.4 test")
    manifest = backup(settings, tmp_path / "kopia")
    assert f"snapshots/{generation.id}/files/abc.pdf" in {e["path"] for e in manifest["files"]}
    fresh = Settings.from_env({}, data_dir=tmp_path / "new")
    restore(fresh, tmp_path / "kopia")
    copy = fresh.snapshots_dir / generation.id / "files" / "abc.pdf"
    assert copy.read_bytes() == b"%PDF-1.4 test"


@pytest.mark.skipif(TEST_DATABASE_URL is None, reason="in the PostgreSQL pass of scripts/test")
def test_with_postgresql_the_backup_holds_a_dump_that_restores_into_an_empty_database(
    settings, store, tmp_path, capsys
):
    settings = Settings.from_env(
        {}, data_dir=settings.data_dir, database_url=settings.database_url
    )  # the key in DATA/secret_key
    publish_documents(store, [make_document("KW5/12")])
    ebok(settings, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    one_time = one_time_password(capsys.readouterr().out)
    client, answer = sign_in(create_app(settings), "jan", one_time)
    assert change_password(client, one_time, NEW_PASSWORD).status_code == 303
    before = _page(client)
    assert ebok(settings, "backup", str(tmp_path / "kopia")) == 0
    manifest = json.loads((tmp_path / "kopia" / "manifest.json").read_text())
    names = {entry["path"] for entry in manifest["files"]}
    assert "database.pgdump" in names and not {"ebok.sqlite3", "imports.sqlite3"} & names
    assert stat.S_IMODE((tmp_path / "kopia" / "database.pgdump").stat().st_mode) == 0o600

    with another_database(settings.database_url) as url:
        fresh = Settings.from_env({}, data_dir=tmp_path / "restored", database_url=url)
        assert ebok(fresh, "restore", str(tmp_path / "kopia")) == 0
        restored = create_app(fresh)
        again, answer = sign_in(restored, "jan", NEW_PASSWORD)
        assert answer.status_code == 303 and _page(again) == before
        assert _page(TestClient(restored, cookies=client.cookies)) == before  # same session
        # Into a database that is not empty: refused, and the data dir stays untouched.
        second = Settings.from_env({}, data_dir=tmp_path / "second", database_url=url)
        assert ebok(second, "restore", str(tmp_path / "kopia")) == 1
        assert "empty database" in capsys.readouterr().err
        assert not second.data_dir.exists()
    with pytest.raises(BackupError, match="EBOK_DATABASE_URL"):  # a SQLite portal
        restore(Settings.from_env({}, data_dir=tmp_path / "sqlite"), tmp_path / "kopia")
