"""`ebok demo-setup`: demo data and a working `demo` login (what `scripts/server` runs)."""

from __future__ import annotations

import re

import pytest

from ebok.demo_setup import DEMO_EMAIL, DEMO_LOGIN, demo_premises
from portal.accounts.service import CLOSED, DISABLED, Accounts
from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.cli import NEW_PASSWORD, change_password, ebok, one_time_password, sign_in


@pytest.mark.slow
def test_demo_setup_publishes_demo_data_and_a_working_demo_login(settings, capsys):
    assert ebok(settings, "demo-setup") == 0
    out = capsys.readouterr().out
    premises = re.search(r"Demo account, premises: (.+)", out).group(1).split(", ")
    assert len(premises) == 2
    # Run again: no second import, and the newly printed password is the one that works.
    generations = sorted(p.name for p in settings.snapshots_dir.iterdir() if p.is_dir())
    assert ebok(settings, "demo-setup") == 0
    again = one_time_password(capsys.readouterr().out)
    assert sorted(p.name for p in settings.snapshots_dir.iterdir() if p.is_dir()) == generations
    app = create_app(settings)
    client, response = sign_in(app, "demo", again)
    assert response.headers["location"] == "/password/change"
    change_password(client, again, NEW_PASSWORD)
    listing = client.get("/")
    assert listing.status_code == 200
    for pid in premises:
        assert pid in listing.text


def test_demo_account_is_enabled_again_and_gets_its_address(settings, store, capsys):
    publish_documents(store, [make_document("KW5/12")])
    assert demo_premises(settings) == ["KW5/12"]
    assert ebok(settings, "demo-setup") == 0
    accounts = Accounts(settings.accounts_database)
    record = accounts.require(DEMO_LOGIN)
    assert record.email == DEMO_EMAIL and record.premises_ids == ("KW5/12",)
    accounts.set_status(record.id, DISABLED)
    accounts.set_email(record.id, None)
    capsys.readouterr()
    assert ebok(settings, "demo-setup") == 0
    password = one_time_password(capsys.readouterr().out)
    assert sign_in(create_app(settings), DEMO_LOGIN, password)[1].status_code == 303
    assert accounts.require(DEMO_LOGIN).email == DEMO_EMAIL


def test_a_closed_demo_account_stays_closed(settings, store, capsys):
    publish_documents(store, [make_document("KW5/12")])
    assert ebok(settings, "demo-setup") == 0
    accounts = Accounts(settings.accounts_database)
    accounts.close_account(DEMO_LOGIN)
    assert ebok(settings, "demo-setup") == 1
    assert "closed" in capsys.readouterr().err
    assert accounts.require(DEMO_LOGIN).status == CLOSED
