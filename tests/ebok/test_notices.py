"""E-mail notices wired into the imports by the ebok layer: `ebok sync` and `ebok import` send
one message per publish to each opted-in account with news, through the mail queue into
DATA/outbox; an upload in the panel (ebok serve's import service) does the same."""

from __future__ import annotations

import copy
from email import policy
from email.parser import BytesParser
from pathlib import Path

from ebok.notices import nobody_subscribed
from ebok.settings import Settings
from portal.accounts.service import Accounts
from portal.notices.store import NoticesStore
from tests.cli import ebok
from tests.etl.builders import minimal_tables, write_csv_bundle
from tests.etl.test_imports import upload_of
from tests.etl.test_sync import settle


def outbox(settings: Settings) -> list:
    if not settings.outbox_dir.is_dir():
        return []
    found = []
    for path in sorted(settings.outbox_dir.glob("*.eml")):
        with path.open("rb") as fh:
            found.append(BytesParser(policy=policy.default).parse(fh))
    return found


def with_new_charge() -> dict:
    tables = copy.deepcopy(minimal_tables())
    tables["ledger"].append(
        {
            "premises_id": "KW5/1",
            "date": "10.02.2026",
            "description": "Naliczenie 02/2026",
            "document": "N/2",
            "period": "2026-02",
            "charge": "1 234,56",
            "payment": "",
        }
    )
    return tables


def opt_in(settings: Settings, login: str, premises_id: str, email: str | None) -> int:
    accounts = Accounts(settings.accounts_database)
    try:
        record = accounts.create(login, "x", [premises_id], email=email)
        NoticesStore(accounts.db).subscribe(record.id, "pl")
        return record.id
    finally:
        accounts.close()


def drop(settings: Settings, name: str, tables: dict) -> Path:
    settings.inbox_dir.mkdir(exist_ok=True)
    return settle(write_csv_bundle(settings.inbox_dir / name, tables))


def test_ebok_sync_sends_one_notice_per_publish(settings: Settings, tmp_path, capsys) -> None:
    drop(settings, "first", minimal_tables())
    assert ebok(settings, "sync") == 0
    opt_in(settings, "anna", "KW5/1", "anna@example.pl")
    opt_in(settings, "zofia", "KW5/G-3", "zofia@example.pl")  # her garage did not change
    assert outbox(settings) == []

    drop(settings, "second", with_new_charge())
    assert ebok(settings, "sync") == 0
    assert "1 e-mail notice(s) queued" in capsys.readouterr().err
    (msg,) = outbox(settings)
    assert msg["To"] == "anna@example.pl"
    assert msg["Subject"] == "Nowości w EBOK: saldo, naliczenia"
    assert "Naliczenie 02/2026" in msg.get_body(("plain",)).get_content()

    # The same export again publishes nothing, so nothing more is sent.
    drop(settings, "third", with_new_charge())
    assert ebok(settings, "sync") == 0
    assert len(outbox(settings)) == 1

    # `ebok import` of a changed export notifies too.
    tables = with_new_charge()
    tables["ledger"][-1]["charge"] = "99,00"
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "fourth", tables))) == 0
    assert len(outbox(settings)) == 2


def test_an_upload_in_the_panel_sends_notices_through_the_portals_mailer(
    settings: Settings, tmp_path
) -> None:
    from ebok.serve import create_app

    app = create_app(settings)
    service = app.state.importer
    first = service.start(
        upload_of(settings, write_csv_bundle(tmp_path / "a", minimal_tables())), who="ewa"
    )
    assert service.wait(first).status == "published"
    opt_in(settings, "anna", "KW5/1", "anna@example.pl")
    second = service.start(
        upload_of(settings, write_csv_bundle(tmp_path / "b", with_new_charge())), who="ewa"
    )
    assert service.wait(second).status == "published"
    assert app.state.mailer.flush()
    (msg,) = outbox(settings)
    assert msg["To"] == "anna@example.pl"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_import_asks_for_the_portal_only_when_someone_has_notices_on(
    settings: Settings,
) -> None:
    """A manager whose residents never switched notices on pays nothing for them per import."""
    if settings.database_url is None:
        assert nobody_subscribed(settings)  # not even an accounts database yet
    accounts = Accounts(settings.accounts_database)
    try:
        accounts.create("jan", "x", ["KW5/1"], email="jan@example.pl")
    finally:
        accounts.close()
    assert nobody_subscribed(settings)
    account_id = opt_in(settings, "anna", "KW5/1", "anna@example.pl")
    assert not nobody_subscribed(settings)
    accounts = Accounts(settings.accounts_database)
    try:
        NoticesStore(accounts.db).unsubscribe(account_id)
    finally:
        accounts.close()
    assert nobody_subscribed(settings)
