"""etl.imports, etl.import_history, etl.uploads and etl.import_service: uploads imported as
`ebok sync` imports the inbox, the import history that every way of importing records into, the
background service the panel is given, and rollback."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ebok.settings import Settings
from etl.import_history import ImportHistory, import_history
from etl.import_service import ImportService
from etl.imports import rollback, run_import
from etl.snapshot.store import SnapshotStore
from etl.sync import import_lock
from etl.uploads import new_upload, safe_name
from tests.cli import ebok
from tests.database import sqlite_only
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle, zip_dir
from tests.etl.legacy_builders import klonowa
from tests.etl.test_sync import broken_tables, settle


def upload_of(settings: Settings, source: Path):
    """An upload holding the files of `source` (a folder) or `source` itself (a file)."""
    upload = new_upload(settings)
    files = sorted(p for p in source.iterdir()) if source.is_dir() else [source]
    for path in files:
        with upload.create(path.name) as out:
            out.write(path.read_bytes())
    return upload


def current(settings: Settings) -> str | None:
    generation = SnapshotStore(settings.snapshots_dir).current()
    return generation.id if generation is not None else None


def cut_fees(directory: Path) -> Path:
    """A bundle of the minimal tables with its fees file cut down to its header: a shrink."""
    tables = minimal_tables()
    del tables["fees"]
    write_csv_bundle(directory, tables)
    write_csv(directory / "fees.csv", [], header=["premises_id", "component"])
    return directory


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("lokale.csv", "lokale.csv"),
        ("../x.csv", "x.csv"),
        ("..\\..\\x.csv", "x.csv"),
        ("C:\\Users\\Księgowa\\Obroty 2026.xlsx", "Obroty 2026.xlsx"),
        ("/etc/passwd", "passwd"),
        ("..", "plik"),
        (".hidden.csv", "hidden.csv"),
        ("a\x00b;c|d.csv", "a_b_c_d.csv"),
        ("", "plik"),
        ("x" * 300 + ".csv", "x" * 116 + ".csv"),
    ],
)
def test_uploaded_names_become_plain_names(name: str, kept: str) -> None:
    assert safe_name(name) == kept


def test_an_upload_keeps_every_file_inside_its_folder(settings: Settings) -> None:
    upload = new_upload(settings)
    for name in ("../ledger.csv", "ledger.csv", "/tmp/ledger.csv"):
        with upload.create(name) as out:
            out.write(b"x")
    assert upload.names == ["ledger.csv", "ledger-2.csv", "ledger-3.csv"]
    assert sorted(p.name for p in upload.directory.iterdir()) == sorted(upload.names)
    assert upload.directory.parent == settings.uploads_dir
    assert not (settings.data_dir / "ledger.csv").exists()


# -- run_import -------------------------------------------------------------------------------
def test_an_upload_is_published_archived_and_recorded(settings: Settings, tmp_path) -> None:
    upload = upload_of(settings, write_csv_bundle(tmp_path / "kwiatowa", minimal_tables()))
    record = run_import(upload.directory, settings, who="ewa")

    assert record.status == "published" and record.generation == current(settings)
    assert record.counts["premises"] == 2 and record.previous_generation is None
    assert record.communities["WM-KW5"]["as_of"] == "2026-11-20"
    assert not upload.directory.exists()
    archived = settings.data_dir / record.stored_as
    assert archived.parent == settings.archive_dir and archived.name.endswith("-upload-ewa")
    assert (archived / "ledger.csv").exists()
    assert "published as generation" in (settings.data_dir / record.report).read_text("utf-8")
    [saved] = import_history(settings)
    assert (saved.id, saved.who, saved.via) == (record.id, "ewa", "upload")
    assert saved.status == "published"


def test_a_single_file_upload_is_the_bundle_itself(settings: Settings, tmp_path) -> None:
    bundle = zip_dir(write_csv_bundle(tmp_path / "kwiatowa", minimal_tables()))
    upload = upload_of(settings, bundle)
    record = run_import(upload.directory, settings, who="ewa")
    assert record.status == "published"
    assert record.stored_as.startswith("archive/") and record.stored_as.endswith("-kwiatowa.zip")


def test_a_rejected_upload_publishes_nothing_and_keeps_every_problem(
    settings: Settings, tmp_path
) -> None:
    run_import(upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())).directory,
               settings, who="ewa")  # fmt: skip
    before = current(settings)
    upload = upload_of(settings, write_csv_bundle(tmp_path / "b", broken_tables()))
    record = run_import(upload.directory, settings, who="ewa")

    assert record.status == "rejected" and record.refusal == ""
    assert current(settings) == before and record.generation is None
    assert record.problems[0] | {"reason": ""} == {
        "file": "ledger.csv", "table": "ledger", "row": 3, "column": "charge", "value": "12,3x",
        "reason": "",
    }  # fmt: skip
    assert (settings.data_dir / record.stored_as).parent == settings.rejected_dir
    saved = ImportHistory(settings.imports_database).get(record.id)
    assert saved.problems == record.problems and saved.problem_total == 1


def test_refusals_an_option_would_publish_say_which(settings: Settings, tmp_path) -> None:
    run_import(upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())).directory,
               settings, who="ewa")  # fmt: skip
    shrink = run_import(
        upload_of(settings, cut_fees(tmp_path / "b")).directory,
        settings,
        who="ewa",
    )
    assert (shrink.status, shrink.refusal) == ("rejected", "shrink")
    assert shrink.problems[0]["value"] == "2 -> 0"
    tables = minimal_tables()
    tables["ledger"] = [
        {"premises_id": "KW5/1", "date": "01.01.2027", "description": "Saldo początkowe",
         "payment": "10,00"},
    ]  # fmt: skip
    history = run_import(
        upload_of(settings, write_csv_bundle(tmp_path / "c", tables)).directory, settings, who="ewa"
    )
    assert (history.status, history.refusal) == ("rejected", "history")
    allowed = run_import(
        upload_of(settings, cut_fees(tmp_path / "d")).directory,
        settings,
        who="ewa",
        allow_shrink=True,
    )
    assert allowed.status == "published" and allowed.allow_shrink


def test_loose_legacy_files_are_refused_not_published_as_a_community(
    settings: Settings, tmp_path
) -> None:
    folder = klonowa().write(tmp_path)
    record = run_import(upload_of(settings, folder).directory, settings, who="ewa")
    assert record.status == "rejected" and "must be sent as one ZIP" in record.problems[0]["reason"]
    assert current(settings) is None


def test_a_legacy_zip_upload_takes_its_community_id_from_the_zip(
    settings: Settings, tmp_path
) -> None:
    from tests.etl.legacy_builders import communities_toml

    communities_toml(settings.communities_file)
    bundle = klonowa().write_zip(tmp_path / "KLO11.zip", top_folder=False)
    record = run_import(upload_of(settings, bundle).directory, settings, who="ewa")
    assert record.status == "published", record.problems
    assert list(record.communities) == ["KLO11"]


# -- every way of importing is recorded -------------------------------------------------------
def test_sync_and_the_command_line_record_their_imports_too(settings: Settings, tmp_path) -> None:
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "kwiatowa", minimal_tables()), 200)
    settle(write_csv_bundle(settings.inbox_dir / "broken", broken_tables()), 100)
    assert ebok(settings, "sync") == 1
    bundle = write_csv_bundle(tmp_path / "again", minimal_tables())
    assert ebok(settings, "import", str(bundle)) == 0
    assert ebok(settings, "import", str(tmp_path / "none")) == 1

    records = import_history(settings)
    assert [(r.via, r.who, r.status) for r in records] == [
        ("import", "cli", "rejected"),
        ("import", "cli", "unchanged"),
        ("sync", "sync", "rejected"),
        ("sync", "sync", "published"),
    ]
    assert records[1].source == str(bundle) and records[1].counts["premises"] == 2
    assert records[3].source == "kwiatowa" and records[3].stored_as.startswith("archive/")
    assert [f["name"] for f in records[3].files] == [
        "allowances.csv", "communities.csv", "fees.csv", "ledger.csv", "premises.csv",
    ]  # fmt: skip
    assert records[2].problem_total == 1


@sqlite_only
def test_the_history_is_etls_own_sqlite_file_in_the_data_dir(settings: Settings, tmp_path) -> None:
    run_import(upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())).directory,
               settings, who="ewa")  # fmt: skip
    assert settings.imports_db == settings.data_dir / "imports.sqlite3"
    with sqlite3.connect(settings.imports_db) as db:
        assert db.execute("SELECT count(*) FROM imports").fetchone() == (1,)
    assert not settings.accounts_db.exists()


# -- the service ------------------------------------------------------------------------------
def test_the_service_imports_in_the_background_one_at_a_time(settings: Settings, tmp_path) -> None:
    service = ImportService(settings, poll=0.05)
    first = service.start(
        upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())), who="ewa"
    )
    second = service.start(upload_of(settings, cut_fees(tmp_path / "b")), who="ewa")
    done = service.wait(second)
    assert service.job(first).status == "published"
    assert done.status == "rejected" and done.refusal == "shrink"
    assert service.active() == []
    records, total = service.history()
    assert total == 2 and [r.id for r in records] == [second, first]


def test_an_upload_waits_while_another_import_holds_the_lock(settings: Settings, tmp_path) -> None:
    service = ImportService(settings, poll=0.05)
    with import_lock(settings, wait=False):
        job = service.start(
            upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())), who="ewa"
        )
        deadline = time.monotonic() + 5
        while service.job(job).stage != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert [r.id for r in service.active()] == [job] and current(settings) is None
    assert service.wait(job).status == "published"


def test_imports_a_restart_cut_short_are_shown_as_interrupted(settings: Settings, tmp_path) -> None:
    service = ImportService(settings, poll=0.05)
    with import_lock(settings, wait=False):
        job = service.start(
            upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())), who="ewa"
        )
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        history = ImportHistory(settings.imports_database).database
        (text,) = history.execute("SELECT record FROM imports").fetchone()
        gone_runner = {**json.loads(text), "runner": f"{socket.gethostname()}:{gone}"}
        history.execute(  # as if run by a process now gone
            "UPDATE imports SET record = ?", (json.dumps(gone_runner, ensure_ascii=False),)
        )
        assert ImportService(settings).job(job).status == "interrupted"  # a new process


def test_other_server_processes_show_an_uploads_progress_and_leave_it_running(
    settings: Settings, tmp_path
) -> None:
    """ebok serve --workers N: the panel's page may be served by a process that is not running
    the import; it shows the same stage, and starting does not mark it interrupted."""
    service = ImportService(settings, poll=0.05)
    with import_lock(settings, wait=False):
        job = service.start(
            upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())), who="ewa"
        )
        other = ImportService(settings)  # another worker starting (this process is alive)
        deadline = time.monotonic() + 5
        while other.job(job).stage != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert other.job(job).status == "queued"
        assert [r.id for r in other.active()] == [job]
    assert service.wait(job).status == "published"
    assert other.job(job).status == "published" and other.active() == []


def test_a_refused_export_can_be_imported_again_with_its_option(
    settings: Settings, tmp_path
) -> None:
    service = ImportService(settings, poll=0.05)
    service.wait(
        service.start(
            upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())), who="ewa"
        )
    )
    refused = service.wait(service.start(upload_of(settings, cut_fees(tmp_path / "b")), who="ewa"))
    assert service.retry(service.history()[0][1].id, who="ewa") is None  # not a refusal
    again = service.wait(service.retry(refused.id, who="jan"))
    assert again.status == "published" and again.allow_shrink and again.retry_of == refused.id
    assert again.who == "jan" and again.source == refused.source
    doc = SnapshotStore(settings.snapshots_dir).current().document("KW5/1")
    assert doc["fees"] == []
    assert (settings.data_dir / refused.stored_as).exists()  # the refused files stay as they were


def test_an_inbox_refusal_can_be_retried_too(settings: Settings, tmp_path) -> None:
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "full", minimal_tables()), 200)
    one_fee = minimal_tables()["fees"][:1]  # of KW5/1's two
    settle(write_csv(settings.inbox_dir / "fees.csv", one_fee), 100)
    ebok(settings, "sync")
    refused = import_history(settings)[0]
    assert refused.refusal == "shrink" and refused.source == "fees.csv"
    service = ImportService(settings, poll=0.05)
    again = service.wait(service.retry(refused.id, who="ewa"))
    assert again.status == "published", again.problems
    assert again.files[0]["name"] == "fees.csv"


# -- rollback ---------------------------------------------------------------------------------
def test_rollback_switches_to_a_kept_generation_under_the_lock(
    settings: Settings, tmp_path
) -> None:
    run_import(upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())).directory,
               settings, who="ewa")  # fmt: skip
    first = current(settings)
    run_import(
        upload_of(settings, cut_fees(tmp_path / "b")).directory,
        settings,
        who="ewa",
        allow_shrink=True,
    )
    second = current(settings)
    assert first != second
    assert rollback(settings, "20000101T000000000000Z").reason == "unknown"
    assert rollback(settings, second).reason == "current"
    with import_lock(settings, wait=False):
        assert rollback(settings, first).reason == "busy"
    assert current(settings) == second
    done = rollback(settings, first)
    assert done.done and done.was == second and current(settings) == first
