"""The notices job after a publish: one message per account and import, about that account's
premises and communities only, nothing when nothing of theirs changed, never twice."""

from __future__ import annotations

import re

import pytest

from etl.snapshot.store import SnapshotStore
from portal.accounts.service import Accounts
from portal.notices.job import NoticeJob
from portal.notices.store import NoticesStore
from tests.builders import ledger_row, make_document
from tests.portal.notices.conftest import (
    announcement,
    community_document,
    html_of,
    publish,
    text_of,
)

BASE_LEDGER = [
    ledger_row("2026-01-01", "Bilans otwarcia", charge=10000, row=2),
    ledger_row("2026-10-10", "Naliczenie 10/2026", charge=45000, period="2026-10", row=3),
    ledger_row("2026-10-15", "Wpłata", payment=55000, document="WB/1", row=4),
]
NEW_CHARGE = ledger_row("2026-11-10", "Naliczenie 11/2026", charge=45678, period="2026-11", row=5)


def kw5(premises_id: str = "KW5/12", ledger=None, number: str = "12") -> dict:
    return make_document(premises_id, number=number, ledger=ledger or BASE_LEDGER)


def lipowa(premises_id: str = "LP7/3", ledger=None) -> dict:
    return make_document(
        premises_id,
        community_id="WM-LP7",
        community_name="Wspólnota Mieszkaniowa Lipowa 7",
        number="3",
        street="ul. Lipowa 7",
        ledger=ledger or BASE_LEDGER,
    )


def subscribe(accounts: Accounts, store: NoticesStore, login: str, *premises: str, **kw):
    record = accounts.create(
        login, "x", premises, email=kw.pop("email", f"{login}@example.pl"), **kw
    )
    store.subscribe(record.id, "pl")
    return record


@pytest.fixture
def before(store: SnapshotStore):
    return publish(store, [kw5(), kw5("KW5/14", number="14"), lipowa()])


def test_a_new_charge_sends_one_message_saying_what_changed(
    store, before, accounts, notices_store, job: NoticeJob, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    after = publish(
        store, [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()]
    )

    assert job(before, after) == 1
    (msg,) = sent()
    assert msg["To"] == "anna@example.pl"
    assert msg["Subject"] == "Nowości w EBOK: saldo, naliczenia"
    text = text_of(msg)
    assert "Saldo lokalu zmieniło się." in text
    assert "Nowe naliczenia (1):" in text and "10.11.2026 Naliczenie 11/2026" in text
    assert "http://127.0.0.1:8000/premises/KW5%2F12/ledger" in text
    # No figure anywhere: neither the charge nor the balance.
    for body in (text, html_of(msg)):
        assert "456,78" not in body and "zł" not in body
    assert "Naliczenie 11/2026" in html_of(msg)


def test_nothing_changed_sends_nothing(store, before, accounts, notices_store, job, sent) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    # Another premises' charge and another community's news are not anna's.
    after = publish(
        store,
        [kw5(), kw5("KW5/14", number="14", ledger=[*BASE_LEDGER, NEW_CHARGE]), lipowa()],
        announcements=[announcement("WM-LP7", "Przegląd kominiarski")],
        documents=[community_document("WM-LP7", "Uchwała Lipowej")],
    )
    assert job(before, after) == 0
    assert sent() == []


def test_one_message_per_account_for_several_premises_and_communities(
    store, before, accounts, notices_store, job, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12", "LP7/3")
    subscribe(accounts, notices_store, "jan", "KW5/14")
    after = publish(
        store,
        [
            kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]),
            kw5("KW5/14", number="14"),
            lipowa(ledger=[*BASE_LEDGER, NEW_CHARGE]),
        ],
        announcements=[announcement("WM-KW5", "Przerwa w dostawie wody")],
        documents=[community_document("WM-LP7", "Uchwała nr 5/2026")],
    )

    assert job(before, after) == 2
    by_to = {m["To"]: m for m in sent()}
    anna, jan = by_to["anna@example.pl"], by_to["jan@example.pl"]
    assert anna["Subject"] == ("Nowości w EBOK: saldo, naliczenia, dokumenty wspólnoty, ogłoszenia")
    text = text_of(anna)
    assert "Lokal ul. Kwiatowa 5/12" in text and "Lokal ul. Lipowa 7/3" in text
    assert "Nowe ogłoszenie: Przerwa w dostawie wody" in text
    assert "Nowy dokument: Uchwała nr 5/2026 (Uchwała, 28.11.2026)" in text
    # jan's premises did not change; only his community's announcement is news to him.
    assert jan["Subject"] == "Nowości w EBOK: ogłoszenia"
    assert "Przerwa w dostawie wody" in text_of(jan)
    assert "Lipowa" not in text_of(jan) and "Uchwała" not in text_of(jan)


def test_a_resident_never_hears_of_another_community(
    store, before, accounts, notices_store, job, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    after = publish(
        store,
        [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()],
        announcements=[announcement("WM-LP7", "Tajne zebranie Lipowej")],
        documents=[community_document("WM-LP7", "Uchwała Lipowej")],
    )
    assert job(before, after) == 1
    (msg,) = sent()
    for body in (text_of(msg), html_of(msg)):
        assert "Lipow" not in body and "Tajne" not in body


def test_no_amounts_in_the_subject(store, before, accounts, notices_store, job, sent) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    big = ledger_row("2026-11-10", "Fundusz 2026", charge=1234567, period="2026-11", row=5)
    after = publish(store, [kw5(ledger=[*BASE_LEDGER, big]), kw5("KW5/14", number="14"), lipowa()])
    job(before, after)
    (msg,) = sent()
    assert not re.search(r"\d", msg["Subject"]) and "zł" not in msg["Subject"]


def test_never_twice_for_one_generation_nor_for_the_same_data_again(
    store, before, accounts, notices_store, job, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    docs = [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()]
    after = publish(store, docs)
    assert job(before, after) == 1
    assert job(before, after) == 0  # the hook run again for the same generation

    # Rolled back, then the same data published again: a new generation, the same content.
    store.set_current(before.id)
    again = publish(store, docs)
    assert again.id != after.id
    assert job(before, again) == 0
    assert len(sent()) == 1


def test_closed_disabled_unsubscribed_and_addressless_accounts_get_nothing(
    store, before, accounts, notices_store, job, sent
) -> None:
    closed = subscribe(accounts, notices_store, "closed", "KW5/12")
    accounts.close_account("closed")
    disabled = subscribe(accounts, notices_store, "disabled", "KW5/12")
    accounts.set_status(disabled.id, "disabled")
    off = subscribe(accounts, notices_store, "off", "KW5/12")
    notices_store.unsubscribe(off.id)
    nomail = subscribe(accounts, notices_store, "nomail", "KW5/12")
    accounts.set_email(nomail.id, None)
    accounts.create("never", "x", ["KW5/12"], email="never@example.pl")  # never opted in
    assert closed.id

    after = publish(
        store, [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()]
    )
    assert job(before, after) == 0
    assert sent() == []


def test_the_message_carries_one_click_unsubscribe_headers(
    store, before, accounts, notices_store, job, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    after = publish(
        store, [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()]
    )
    job(before, after)
    (msg,) = sent()
    link = re.fullmatch(
        r"<(http://127\.0\.0\.1:8000/notices/unsubscribe/[^>]+)>", msg["List-Unsubscribe"]
    )
    assert link is not None
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.group(1) in text_of(msg) and link.group(1) in html_of(msg)


def test_an_expired_announcement_is_not_news(
    store, before, accounts, notices_store, job, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    after = publish(
        store,
        [kw5(), kw5("KW5/14", number="14"), lipowa()],
        announcements=[announcement("WM-KW5", "Stare", "2026-10-01", "2026-10-31")],
    )
    assert job(before, after) == 0


def test_one_accounts_trouble_does_not_stop_the_others(
    store, before, accounts, notices_store, job, sent, monkeypatch
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    subscribe(accounts, notices_store, "jan", "KW5/14")
    after = publish(
        store,
        [
            kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]),
            kw5("KW5/14", number="14", ledger=[*BASE_LEDGER, NEW_CHARGE]),
            lipowa(),
        ],
    )
    import portal.notices.job as job_module

    real = job_module.notice_message

    def failing_for_anna(settings, to, login, changes, token, language):
        if login == "anna":
            raise RuntimeError("boom")
        return real(settings, to, login, changes, token, language)

    monkeypatch.setattr(job_module, "notice_message", failing_for_anna)
    assert job(before, after) == 1
    assert [m["To"] for m in sent()] == ["jan@example.pl"]


def test_the_message_speaks_the_language_the_resident_opted_in_with(
    store, before, accounts, notices_store, job, sent
) -> None:
    record = accounts.create("john", "x", ["KW5/12"], email="john@example.com")
    notices_store.subscribe(record.id, "en")
    after = publish(
        store, [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()]
    )
    job(before, after)
    (msg,) = sent()
    assert msg["Subject"] == "News in EBOK: balance, charges"
    text = text_of(msg)
    assert "The premises' balance has changed." in text
    assert "10 Nov 2026 Naliczenie 11/2026" in text  # the export's own words stay as they are
    assert 'lang="en"' in html_of(msg)


def test_nothing_when_the_previous_generation_was_pruned(
    store, before, accounts, notices_store, job, sent
) -> None:
    subscribe(accounts, notices_store, "anna", "KW5/12")
    after = publish(
        store, [kw5(ledger=[*BASE_LEDGER, NEW_CHARGE]), kw5("KW5/14", number="14"), lipowa()]
    )
    store.prune(1)  # EBOK_KEEP_GENERATIONS=1 removes `before` as the publish ends
    assert job(before, after) == 0
    assert sent() == []
