"""Every page a resident can see, checked by axe-core in headless Chromium: no violation
(tests/portal/axe.py: two axe-core releases, all rules), in Polish and in English.

One server and two browsers for the whole module (a visitor who is not signed in, and a
resident with two premises, readings, allowances, an announcement, documents and e-mail
notices switched on), so each page costs a page load and an axe run, not a browser start.
Pages reached by submitting a form (a failed sign-in, a refused slip) are checked as the
resident sees them after it.
"""

from __future__ import annotations

import hashlib

import pytest

from ebok.settings import Settings
from portal.accounts import passwords
from portal.notices.store import NoticesStore
from tests.builders import ledger_row, make_document
from tests.portal.axe import Page, check_page, fill_and_submit
from tests.portal.conftest import (
    cheap_password_hashing,
    needs_chromium,
    serving,
    start_chromium,
)
from tests.portal.premises.test_community_pages import A_OLD, A_PDF, announcement, document, publish
from tests.portal.premises.test_readings_page import with_readings

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "Kwiatowa-5-lokal-12-dostepnosc"
KW12 = "/premises/KW5%2F12"
LANGUAGES = ("pl", "en")


def _expired_form(driver) -> None:
    """A sign-in form whose CSRF token went stale: the "form expired" page."""
    driver.execute_script("document.querySelector('input[name=csrf_token]').value = 'stale';")
    fill_and_submit(login="ktos", password="zle-haslo")(driver)


SLIP = f"{KW12}/slip"
PAGES = [
    Page("login", "visitor", "/login"),
    Page("login, refused", "visitor", "/login", fill_and_submit(login="ktos", password="zle")),
    Page("form expired", "visitor", "/login", _expired_form),
    Page("password forgot", "visitor", "/password/forgot"),
    Page("password forgot, sent", "visitor", "/password/forgot", fill_and_submit(login="jan")),
    Page("password reset", "visitor", "/password/reset/{token}"),
    Page("password reset, link invalid", "visitor", "/password/reset/niewazny"),
    Page("not found, signed out", "visitor", "/nie-ma-takiej-strony"),
    Page("notices, unsubscribe link", "visitor", "/notices/unsubscribe/{unsubscribe}"),
    Page("notices, unsubscribe link invalid", "visitor", "/notices/unsubscribe/niewazny"),
    Page("premises list", "resident", "/"),
    Page("overview", "resident", KW12),
    Page("overview, password changed", "resident", f"{KW12}?password_changed=1"),
    Page("ledger", "resident", f"{KW12}/ledger"),
    Page("ledger, all years", "resident", f"{KW12}/ledger?year=all"),
    Page("fees", "resident", f"{KW12}/fees"),
    Page("allowances", "resident", f"{KW12}/allowances"),
    Page("readings", "resident", f"{KW12}/readings"),
    Page("documents", "resident", "/documents"),
    Page("slip form", "resident", SLIP),
    Page("slip form, refused", "resident", f"{SLIP}?kind=other&other=abc&title="),
    Page("slip ready", "resident", f"{SLIP}?kind=other&other=123,45&title=Op%C5%82ata"),
    Page("slip print view", "resident", f"{SLIP}/print?amount=123,45&title=Op%C5%82ata"),
    Page("settings", "resident", "/settings"),
    Page("settings, saved", "resident", "/settings?saved=on"),
    Page("password change", "resident", "/password/change"),
    Page(
        "password change, refused",
        "resident",
        "/password/change",
        fill_and_submit(
            current_password="zle-haslo",
            new_password="inne-dlugie-haslo-1",
            new_password_repeat="inne-dlugie-haslo-2",
        ),
    ),
    Page("not found, someone else's premises", "resident", "/premises/LI7%2F1"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The portal with its data, a visitor's browser and a signed-in resident's: a dict with
    `base_url`, `token` (a password reset link's) and the two drivers."""
    folder = tmp_path_factory.mktemp("accessibility")
    data = folder / "data"
    data.mkdir()
    settings = Settings.from_env({}, data_dir=data, secret_key="test-secret-key-0123456789abcdef")
    from etl.snapshot.store import SnapshotStore

    allowance = {
        "decision": "DM/7/2026", "issuer": "MOPS Kraków", "valid_from": "2026-01-01",
        "valid_to": "", "monthly_amount": 12000, "file": "dodatki.csv", "row": 2,
    }  # fmt: skip
    ledger = [ledger_row("2025-01-01", "Bilans otwarcia", charge=10000, row=2)] + [
        ledger_row(f"{y}-{m:02}-10", f"Naliczenie {m:02}/{y}", charge=45000, row=3 + 2 * i)
        for i, (y, m) in enumerate((y, m) for y in (2025, 2026) for m in range(1, 11))
    ]
    publish(
        SnapshotStore(settings.snapshots_dir),
        [
            with_readings("KW5/12", allowances=[allowance], ledger=ledger),
            make_document("KW5/G 3", number="G3", kind="garaż"),
            make_document("LI7/1", community_id="WM-LI7", community_name="Wspólnota Lipowa 7"),
        ],
        announcements=[
            announcement(
                "WM-KW5",
                "Przegląd instalacji gazowej",
                "W dniach 1–3 grudnia prosimy o udostępnienie mieszkań.\n\n"
                "Szczegóły: https://example.com/przeglad",
                start="2026-01-01",
            )
        ],
        documents=[
            document("WM-KW5", "Regulamin porządku", A_OLD, "2024-06-12", "rules"),
            document("WM-KW5", "Uchwała nr 1/2026", A_PDF, "2026-03-25"),
        ],
        files={hashlib.sha256(d).hexdigest(): d for d in (A_PDF, A_OLD)},
    )
    with cheap_password_hashing(), serving(settings) as (app, base_url):
        record = app.state.accounts.create(
            "jan", passwords.hash_password(PASSWORD), ["KW5/12", "KW5/G 3"],
            email="jan@example.pl", must_change_password=False,
        )  # fmt: skip
        token = app.state.reset_tokens.issue(record.id, record.password_hash)
        notices = NoticesStore(app.state.accounts.db).subscribe(record.id, "pl")
        unsubscribe = app.state.unsubscribe_tokens.issue(record.id, notices.version)
        visitor = start_chromium(folder / "visitor")
        resident = start_chromium(folder / "resident")
        try:
            resident.get(base_url + "/login")
            fill_and_submit(login="jan", password=PASSWORD)(resident)
            yield {
                "base_url": base_url,
                "values": {"token": token, "unsubscribe": unsubscribe},
                "visitor": visitor,
                "resident": resident,
            }
        finally:
            visitor.quit()
            resident.quit()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_accessibility_violations(site, page: Page, lang: str):
    problems = check_page(site[page.who], site["base_url"], page, lang, **site["values"])
    assert not problems, "\n".join(problems)
