"""/panel/generations: the published generations, and rollback to a chosen one with a
confirmation (POST, CSRF, audited), switched under the import lock."""

from __future__ import annotations

import pytest

import ebok.serve
from etl.snapshot.store import SnapshotStore
from etl.sync import import_lock, import_path
from tests.etl.builders import minimal_tables, write_csv_bundle
from tests.forms import csrf_token
from tests.portal.panel.flows import audit_entries


@pytest.fixture
def app(settings):
    return ebok.serve.create_app(settings)


@pytest.fixture
def accountant(staff_client):
    return staff_client("accountant", login="anna")


@pytest.fixture
def two_generations(settings, tmp_path) -> tuple[str, str]:
    """Two published generations: (older, current)."""
    store = SnapshotStore(settings.snapshots_dir)
    first = import_path(write_csv_bundle(tmp_path / "listopad", minimal_tables()), settings, store)
    tables = minimal_tables()
    tables["communities"][0]["as_of"] = "30.11.2026"
    second = import_path(write_csv_bundle(tmp_path / "grudzien", tables), settings, store)
    return first.generation, second.generation


def current(settings) -> str:
    return SnapshotStore(settings.snapshots_dir).current().id


def test_the_page_shows_each_generation_and_which_is_current(accountant, two_generations):
    older, newer = two_generations
    page = accountant.get("/panel/generations").text
    assert page.index(newer) < page.index(older)  # newest first
    assert page.count("bieżąca</span>") == 1
    assert page.index("bieżąca</span>") < page.index(older)
    assert "communities.csv" in page and "SHA-256" in page
    assert "stan na 30.11.2026" in page and "stan na 20.11.2026" in page
    assert "2 lokale, 4 wiersze kartoteki, 2 składniki opłat, 1 dodatek" in " ".join(page.split())
    assert f'href="/panel/generations/rollback?to={older}"' in page
    assert f'href="/panel/generations/rollback?to={newer}"' not in page


def test_rollback_asks_first_then_switches_back(app, settings, accountant, two_generations):
    older, newer = two_generations
    chooser = accountant.get("/panel/generations/rollback")
    assert chooser.status_code == 200 and f'value="{older}"' in chooser.text
    assert f'value="{newer}"' not in chooser.text
    confirm = accountant.get(f"/panel/generations/rollback?to={older}")
    assert confirm.status_code == 200 and "Przywróć tę generację" in confirm.text
    assert "20.11.2026" in confirm.text and current(settings) == newer  # asking changes nothing

    forged = accountant.post("/panel/generations/rollback", data={"to": older, "csrf_token": "x"})
    assert forged.status_code == 403 and current(settings) == newer
    answer = accountant.post(
        "/panel/generations/rollback",
        data={"to": older, "csrf_token": csrf_token(confirm.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/panel/generations?restored={older}"
    assert current(settings) == older
    page = accountant.get(answer.headers["location"]).text
    assert f"Generacja <code>{older}</code> jest teraz bieżąca" in page
    [entry] = audit_entries(app, action="rollback")
    assert (entry.staff_login, entry.target_kind, entry.target) == ("anna", "generation", older)
    assert entry.details == f"poprzednio bieżąca: {newer}"


def test_rollback_waits_for_a_running_import(settings, accountant, two_generations):
    older, newer = two_generations
    confirm = accountant.get(f"/panel/generations/rollback?to={older}")
    with import_lock(settings, wait=False):
        answer = accountant.post(
            "/panel/generations/rollback",
            data={"to": older, "csrf_token": csrf_token(confirm.text)},
        )
    assert answer.status_code == 409 and "Trwa import danych" in answer.text
    assert current(settings) == newer


def test_an_unknown_generation_is_not_offered(settings, accountant, two_generations):
    assert accountant.get("/panel/generations/rollback?to=nonsense").status_code == 404
    token = csrf_token(accountant.get("/panel/generations").text)
    answer = accountant.post(
        "/panel/generations/rollback", data={"to": "../CURRENT", "csrf_token": token}
    )
    assert answer.status_code == 400 and "Wybierz generację z listy" in answer.text
    assert current(settings) == two_generations[1]


def test_nothing_published_yet(accountant):
    page = accountant.get("/panel/generations")
    assert page.status_code == 200 and "Nie opublikowano jeszcze żadnych danych" in page.text
    chooser = accountant.get("/panel/generations/rollback")
    assert "Nie ma innej przechowywanej generacji" in chooser.text


def test_office_may_not_see_generations(staff_client, two_generations):
    office = staff_client("office")
    assert office.get("/panel/generations").status_code == 404
    token = csrf_token(office.get("/panel/").text)
    answer = office.post(
        "/panel/generations/rollback", data={"to": two_generations[0], "csrf_token": token}
    )
    assert answer.status_code == 404
