"""/panel/imports: the accountant uploads an export, follows its progress, reads its result or
its rejection report, re-runs a shrink refusal, and sees every import (uploads, `ebok sync`,
`ebok import`) in the history. The app is made as `ebok serve` makes it (ebok.serve)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import ebok.serve
import portal.panel.uploads
from ebok.cli import main
from etl.snapshot.store import SnapshotStore
from etl.sync import import_lock
from tests.cli import ebok as ebok_command
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle, zip_dir
from tests.etl.test_sync import broken_tables, settle
from tests.forms import csrf_token
from tests.portal.panel.flows import audit_entries


@pytest.fixture
def app(settings):
    """The portal as `ebok serve` makes it: with etl's import service injected."""
    return ebok.serve.create_app(settings)


@pytest.fixture
def accountant(staff_client):
    return staff_client("accountant", login="anna")


def files_of(folder: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]


def send(client: TestClient, files: list[tuple[str, bytes]], **options: str):
    """Upload `files` through the form (its CSRF token first, as a browser sends it)."""
    token = csrf_token(client.get("/panel/imports").text)
    return client.post(
        "/panel/imports",
        data={"csrf_token": token, **options},
        files=[("bundle", (name, data, "application/octet-stream")) for name, data in files],
        follow_redirects=False,
    )


def finished(app, client: TestClient, answer):
    """Wait for the import an upload started; its page."""
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    import_id = location.rsplit("/", 1)[-1]
    assert app.state.importer.wait(import_id).finished
    return client.get(location)


def current_id(settings) -> str | None:
    generation = SnapshotStore(settings.snapshots_dir).current()
    return generation.id if generation is not None else None


def cut_fees(folder: Path) -> Path:
    tables = minimal_tables()
    del tables["fees"]
    write_csv_bundle(folder, tables)
    write_csv(folder / "fees.csv", [], header=["premises_id", "component"])
    return folder


def cells(html: str) -> list[str]:
    """The text of every table cell, in order."""
    found = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in found]


def publish_minimal(app, client: TestClient, folder: Path):
    """Upload the minimal tables and wait for them to be published."""
    page = finished(app, client, send(client, files_of(write_csv_bundle(folder, minimal_tables()))))
    assert "Opublikowano." in page.text
    return page


def test_a_good_export_is_published_and_its_figures_shown(app, settings, accountant, tmp_path):
    answer = send(accountant, files_of(write_csv_bundle(tmp_path / "k", minimal_tables())))
    page = finished(app, accountant, answer)

    assert "Opublikowano" in page.text and "Co się zmieniło" in page.text
    generation = current_id(settings)
    assert generation is not None and generation in page.text
    table = cells(page.text)
    assert table[table.index("Lokale") : table.index("Lokale") + 4] == ["Lokale", "—", "2", "+2"]
    assert "WM-KW5" in table and "20.11.2026" in table
    [archived] = [p for p in settings.archive_dir.iterdir() if p.is_dir()]
    assert archived.name.endswith("-upload-anna") and (archived / "ledger.csv").exists()
    assert list(settings.uploads_dir.iterdir()) == []

    history = accountant.get("/panel/imports").text
    assert "5 plików: allowances.csv, communities.csv, …" in history
    assert "Opublikowano" in history
    [upload, result] = audit_entries(app, action="upload") + audit_entries(
        app, action="import-result"
    )
    assert upload.staff_login == result.staff_login == "anna"
    assert upload.target == result.target == answer.headers["location"].rsplit("/", 1)[-1]
    assert f"opublikowano generację {generation}" in result.details


def test_the_same_export_again_changes_nothing_and_says_so(app, accountant, tmp_path):
    bundle = zip_dir(write_csv_bundle(tmp_path / "k", minimal_tables()))
    finished(app, accountant, send(accountant, [(bundle.name, bundle.read_bytes())]))
    page = finished(app, accountant, send(accountant, [(bundle.name, bundle.read_bytes())]))
    assert "Bez zmian." in page.text and "nic nie zostało zmienione" in page.text


def test_a_bad_export_shows_its_report_and_publishes_nothing(app, settings, accountant, tmp_path):
    publish_minimal(app, accountant, tmp_path / "a")
    before = current_id(settings)
    broken = files_of(write_csv_bundle(tmp_path / "b", broken_tables()))
    page = finished(app, accountant, send(accountant, broken))

    assert "Odrzucono." in page.text and "Nic z tego eksportu nie zostało opublikowane" in page.text
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', page.text.split("Problemy:")[1])
    assert headers[:6] == ["Plik", "Tabela", "Wiersz", "Kolumna", "Wartość", "Powód"]
    row = cells(page.text)
    start = row.index("ledger.csv")
    assert row[start : start + 5] == ["ledger.csv", "obroty (ledger)", "3", "charge", "12,3x"]
    assert "not a number" in row[start + 5]
    assert current_id(settings) == before
    assert len(SnapshotStore(settings.snapshots_dir).generation_ids()) == 1
    [rejected] = [p.name for p in settings.rejected_dir.iterdir() if p.is_dir()]
    assert rejected.endswith("-upload-anna")
    [result] = audit_entries(app, action="import-result")[1:]
    assert "odrzucono (1 probl.)" in result.details


def test_a_shrink_refusal_shows_the_figures_then_publishes_when_allowed(
    app, settings, accountant, tmp_path
):
    publish_minimal(app, accountant, tmp_path / "a")
    before = current_id(settings)
    page = finished(app, accountant, send(accountant, files_of(cut_fees(tmp_path / "b"))))
    assert "Wstrzymano: ten eksport usunąłby opublikowane dane" in page.text
    figures = cells(page.text.split("Co usunąłby ten eksport")[1])
    assert figures[5:10] == ["WM-KW5", "opłaty (fees)", "2", "0", "2 (100%)"]
    assert current_id(settings) == before
    refused_id = re.search(r'href="/panel/imports/([^/"]+)/retry"', page.text).group(1)

    confirm = accountant.get(f"/panel/imports/{refused_id}/retry")
    assert "Opublikować mimo zmniejszenia danych?" in confirm.text
    forged = accountant.post(f"/panel/imports/{refused_id}/retry", data={"csrf_token": "x"})
    assert forged.status_code == 403
    answer = accountant.post(
        f"/panel/imports/{refused_id}/retry",
        data={"csrf_token": csrf_token(confirm.text)},
        follow_redirects=False,
    )
    again = finished(app, accountant, answer)
    assert "Opublikowano." in again.text and "zezwolono na zmniejszenie danych" in again.text
    assert current_id(settings) != before
    assert SnapshotStore(settings.snapshots_dir).current().document("KW5/1")["fees"] == []
    [retried] = audit_entries(app, action="import-retry")
    assert f"ponownie po wstrzymaniu {refused_id}" in retried.details


def test_the_options_on_the_form_reach_the_import(app, settings, accountant, tmp_path):
    publish_minimal(app, accountant, tmp_path / "a")
    answer = send(accountant, files_of(cut_fees(tmp_path / "b")), allow_shrink="1")
    assert "Opublikowano." in finished(app, accountant, answer).text
    [upload] = audit_entries(app, action="upload")[1:]
    assert upload.details.endswith("zezwolono na zmniejszenie danych")


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(
    app, settings, accountant, monkeypatch
):
    monkeypatch.setattr(portal.panel.uploads, "MAX_UPLOAD_BYTES", 100_000)
    answer = send(accountant, [("ledger.csv", b"x" * 150_000)])
    assert answer.status_code == 413 and "Wysyłka jest większa niż" in answer.text
    assert not settings.uploads_dir.exists()  # refused by its Content-Length, before a byte
    assert "Nie było jeszcze żadnego importu." in answer.text


def test_an_upload_that_streams_past_the_limit_is_cut_off(app, settings, accountant, monkeypatch):
    """No Content-Length (a chunked body): the limit is checked as the bytes arrive."""
    monkeypatch.setattr(portal.panel.uploads, "MAX_UPLOAD_BYTES", 200_000)
    token = csrf_token(accountant.get("/panel/imports").text)
    boundary = "grenze"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    def body():
        yield head
        for _ in range(10):
            yield b"y" * 50_000
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = accountant.post(
        "/panel/imports",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413 and "większa niż" in answer.text
    assert list(settings.uploads_dir.iterdir()) == []


def test_a_large_upload_streams_through_the_csrf_check(app, settings, accountant, tmp_path):
    """The form's token comes first; the body after it is not held by the CSRF middleware."""
    files = files_of(write_csv_bundle(tmp_path / "k", minimal_tables()))
    files.append(("notatki.csv", b"premises_id;x\r\n" + b"KW5/1;" + b"z" * 300_000 + b"\r\n"))
    page = finished(app, accountant, send(accountant, files))
    assert "Odrzucono." in page.text or "Opublikowano." in page.text
    assert "notatki.csv" in page.text


def test_an_upload_without_the_token_is_refused(app, settings, accountant, tmp_path):
    answer = accountant.post(
        "/panel/imports", files=[("bundle", ("a.csv", b"x"))], follow_redirects=False
    )
    assert answer.status_code == 403
    assert not settings.uploads_dir.exists() or list(settings.uploads_dir.iterdir()) == []


def _multipart(token: str, *, token_first: bool, pieces: int) -> list[bytes]:
    """A multipart body in pieces as a server receives them: a file of `pieces` × 10 kB, and
    the token before or after it."""
    field = f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
    head = '--b\r\nContent-Disposition: form-data; name="bundle"; filename="a.csv"\r\n\r\n'
    body = [head.encode(), *([b"x" * 10_000] * pieces), b"\r\n"]
    body = [field.encode(), *body] if token_first else [*body, field.encode()]
    return [*body, b"--b--\r\n"]


def _through_csrf(pieces: list[bytes], *, allowed: int | None = None) -> tuple[int, bytes, int]:
    """Send `pieces` through the CSRF middleware: (status, what the endpoint read, how many
    pieces the middleware had read when the endpoint started)."""
    import anyio

    from portal.web.csrf import CSRFMiddleware, allow_upload

    read = {"pieces": 0, "at_start": 0, "body": b""}
    sent: list[dict] = []

    async def receive():
        if read["pieces"] < len(pieces):
            read["pieces"] += 1
            more = read["pieces"] < len(pieces)
            return {"type": "http.request", "body": pieces[read["pieces"] - 1], "more_body": more}
        return {"type": "http.disconnect"}

    async def endpoint(scope, receive, send):
        from starlette.requests import ClientDisconnect, Request
        from starlette.responses import Response

        read["at_start"] = read["pieces"]
        request = Request(scope, receive)
        if allowed:
            allow_upload(request, allowed)
        try:
            async for chunk in request.stream():
                read["body"] += chunk
            status = 200
        except ClientDisconnect:
            status = 499
        await Response(status_code=status)(scope, receive, send)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/panel/imports", "query_string": b"",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
        "session": {"csrf": "tok"}, "scheme": "http", "server": ("testserver", 80),
    }  # fmt: skip
    anyio.run(CSRFMiddleware(endpoint), scope, receive, send)
    return sent[0]["status"], read["body"], read["at_start"]


def test_the_csrf_check_reads_an_upload_only_as_far_as_its_token():
    big = _multipart("tok", token_first=True, pieces=30)
    status, body, at_start = _through_csrf(big, allowed=10**6)
    assert status == 200 and at_start == 2  # the token, and the piece where its part ends
    assert body == b"".join(_multipart("tok", token_first=True, pieces=30))
    # Without the endpoint's allowance, a body past 64 kB is cut off.
    assert _through_csrf(_multipart("tok", token_first=True, pieces=30))[0] == 499
    # The token must come within the first 64 kB; a wrong one is refused as ever.
    assert _through_csrf(_multipart("tok", token_first=False, pieces=30))[0] == 403
    assert _through_csrf(_multipart("bad", token_first=True, pieces=1))[0] == 403
    assert _through_csrf(_multipart("tok", token_first=False, pieces=1))[0] == 200


def test_an_empty_form_asks_for_a_file(app, accountant):
    token = csrf_token(accountant.get("/panel/imports").text)
    answer = accountant.post(
        "/panel/imports",
        data={"csrf_token": token},
        files=[("bundle", ("", b""))],
    )
    assert answer.status_code == 400 and "Wybierz plik eksportu" in answer.text


def test_file_names_with_paths_are_kept_inside_the_upload(app, settings, accountant, tmp_path):
    files = files_of(write_csv_bundle(tmp_path / "k", minimal_tables()))
    hostile = [(prefix + name, data) for (name, data), prefix in zip(files, (
        "../", "..\\..\\", "/etc/", "../../../", "C:\\Windows\\",
    ), strict=True)]  # fmt: skip
    page = finished(app, accountant, send(accountant, hostile))
    assert "Opublikowano." in page.text
    [archived] = [p for p in settings.archive_dir.iterdir() if p.is_dir()]
    assert sorted(p.name for p in archived.iterdir()) == sorted(name for name, _ in files)
    for name, _ in files:
        for where in (settings.data_dir, settings.uploads_dir, tmp_path, Path("/etc")):
            assert not (where / name).exists() or where == tmp_path / "k"


def test_an_upload_waits_while_another_import_holds_the_lock(app, settings, accountant, tmp_path):
    files = files_of(write_csv_bundle(tmp_path / "k", minimal_tables()))
    with import_lock(settings, wait=False):  # e.g. cron's `ebok sync`
        answer = send(accountant, files)
        assert answer.status_code == 303
        import_id = answer.headers["location"].rsplit("/", 1)[-1]
        deadline = time.monotonic() + 10
        while app.state.importer.job(import_id).stage != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        page = accountant.get(answer.headers["location"])
        assert "Czeka na zakończenie innego importu" in page.text
        assert page.headers["refresh"] == "2"
        assert '<meta http-equiv="refresh" content="2">' in page.text
        listing = accountant.get("/panel/imports").text
        assert "Czeka na import" in listing and f"/panel/imports/{import_id}" in listing
        assert current_id(settings) is None
    page = finished(app, accountant, answer)
    assert "Opublikowano." in page.text and "refresh" not in page.headers


def test_the_history_lists_sync_and_command_line_imports_too(app, settings, accountant, tmp_path):
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "kwiatowa", minimal_tables()), 200)
    settle(write_csv_bundle(settings.inbox_dir / "zepsuty", broken_tables()), 100)
    ebok_command(settings, "sync")
    ebok_command(settings, "import", str(tmp_path / "nie-ma"))

    page = accountant.get("/panel/imports").text
    rows = cells(page)
    assert "Importy: 3, od najnowszych" in page
    for text in ("skrzynka (ebok sync)", "automat (ebok sync)", "serwer (ebok import)"):
        assert text in page
    assert re.search(r"zepsuty.*?Odrzucono.*?kwiatowa.*?Opublikowano", page, re.S)
    assert "nie-ma" in rows[rows.index("serwer (ebok import)") - 1]
    links = re.findall(r'href="/panel/imports/([^"/]+)"', page)
    assert len(links) == 3
    report = accountant.get(f"/panel/imports/{links[1]}")  # the rejected inbox export
    assert "zepsuty" in report.text and "12,3x" in report.text
    assert "rejected/" in report.text


def test_the_history_is_paginated(app, settings, accountant, monkeypatch, tmp_path):
    import portal.panel.imports_views

    monkeypatch.setattr(portal.panel.imports_views, "PAGE_SIZE", 2)
    for n in range(3):
        ebok_command(settings, "import", str(tmp_path / f"brak-{n}"))
    first = accountant.get("/panel/imports").text
    assert "strona 1 z 2" in first and "brak-2" in first and "brak-0" not in first
    second = accountant.get("/panel/imports?page=2").text
    assert "brak-0" in second and "brak-2" not in second


def test_an_unknown_import_is_not_found(app, accountant):
    assert accountant.get("/panel/imports/20260101T000000000000Z-abcdef").status_code == 404
    assert accountant.get("/panel/imports/..%2F..%2Fetc").status_code == 404
    assert accountant.get("/panel/imports/nonsense/retry").status_code == 404


def test_only_accounting_may_import(app, staff_client, signed_in, tmp_path):
    office = staff_client("office")
    for path in ("/panel/imports", "/panel/generations", "/panel/generations/rollback"):
        assert office.get(path).status_code == 404
    token = csrf_token(office.get("/panel/").text)
    answer = office.post(
        "/panel/imports", data={"csrf_token": token}, files=[("bundle", ("a.csv", b"x"))]
    )
    assert answer.status_code == 404
    assert "Importy" not in office.get("/panel/").text
    resident = signed_in()
    assert resident.get("/panel/imports").status_code == 404
    admin = staff_client("admin")
    assert admin.get("/panel/imports").status_code == 200
    assert 'href="/panel/imports"' in admin.get("/panel/").text


def test_without_the_import_service_the_pages_say_imports_are_unavailable(settings):
    from portal.app import create_app
    from tests.portal.panel.flows import enrol_step, new_password_step, password_step

    alone = create_app(settings)  # the portal without ebok.serve's composition
    _, one_time = alone.state.staff.create("anna", "accountant")
    with TestClient(alone) as client:
        password_step(client, "anna", one_time)
        new_password_step(client)
        enrol_step(client)
        page = client.get("/panel/imports")
        assert page.status_code == 200 and "Importy są niedostępne" in page.text
        token = csrf_token(client.get("/panel/").text)
        answer = client.post("/panel/imports", data={"csrf_token": token})
        assert answer.status_code == 503
        listing = client.get("/panel/generations")
        assert listing.status_code == 200 and "Przywróć" not in listing.text


def test_ebok_serve_serves_the_app_with_the_import_service(settings, monkeypatch):
    served = {}

    def run(app, **options):
        served.update(app=app, **options)

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", run)
    argv = ["--data-dir", str(settings.data_dir), "serve", "--port", "8123", "--workers", "1"]
    assert main(argv) == 0  # one worker: the app is built here (more: tests/ebok/test_serve.py)
    assert served["port"] == 8123
    assert type(served["app"].state.importer).__name__ == "ImportService"
