"""The panel end to end in a real headless Chromium, the way the manager's staff use it.

An administrator (made with the Staff service, as `ebok staff create` makes one) signs in with
the one-time password, sets a password and enrols an authenticator app (the key read from the
page, codes from pyotp), then makes an office clerk and an accountant in the panel. The clerk
signs in likewise, opens a resident account on an application for a published premises and
downloads the activation letter; the one-time password is read from the PDF, and the resident
signs in with it at /login in a browser of their own and sees their balance. The accountant
uploads a bad export (the report table, nothing published: the resident's page unchanged), a
good one (published, its figures shown, the resident sees the new balance) and rolls back with
confirmation (the first generation is current again, and so is the resident's balance).

The server is the one `ebok serve` runs (ebok.serve.create_app: the portal with etl's import
service), under uvicorn in this process. A failed step leaves screenshots and page sources of
every browser in a temporary folder named in the failure. No Content-Security-Policy violation
or failed load may appear in any browser's console.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pyotp
import pytest
from pypdf import PdfReader

import ebok.serve
from ebok.cli import main
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import minimal_tables, write_csv_bundle, zip_dir
from tests.etl.test_sync import broken_tables
from tests.portal.conftest import needs_chromium, wait_for_url

pytestmark = [pytest.mark.browser, needs_chromium]

STAFF_PASSWORD = "Biuro-zarzadcy-2026-wiosna"
RESIDENT_PASSWORD = "kwiatowa-wiosna-2026-sad"
LEDGER = "Wiersze kartoteki (obroty)"  # the import result's row of ledger rows
ONE_TIME = re.compile(r"\b[a-z2-9]{4}(?:-[a-z2-9]{4}){3}\b")


@pytest.fixture
def live_app_factory():
    """The live server serves what `ebok serve` serves: the portal with the import service."""
    return ebok.serve.create_app


class Screens:
    """The browsers of the test, for screenshots when a step fails."""

    def __init__(self) -> None:
        self.browsers: dict[str, object] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            folder = Path(tempfile.mkdtemp(prefix="ebok-panel-browser-"))
            for who, driver in self.browsers.items():
                try:
                    driver.save_screenshot(str(folder / f"{who}.png"))
                    (folder / f"{who}.html").write_text(driver.page_source, encoding="utf-8")
                    (folder / f"{who}.url").write_text(driver.current_url, encoding="utf-8")
                except Exception as failure:  # a dead browser: say so, keep the others
                    (folder / f"{who}.error").write_text(repr(failure), encoding="utf-8")
            raise AssertionError(f"step {name!r} failed: {exc}\nscreenshots: {folder}") from exc


def text_of(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text.replace("\u00a0", " ")


def wait_for_text(driver, text: str, timeout: float = 30) -> str:
    """Wait until the page shows `text` (the import page reloads itself until it is done)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d) -> bool:
        try:
            return text in text_of(d)
        except StaleElementReferenceException:  # the page was reloading
            return False

    WebDriverWait(driver, timeout, poll_frequency=0.2).until(shown)
    return text_of(driver)


def submit(driver, button_text: str) -> None:
    """Click the button (or submit input) with this text."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//button[normalize-space()='{button_text}']").click()


def fill(driver, **fields: str) -> None:
    from selenium.webdriver.common.by import By

    for field_id, value in fields.items():
        element = driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def staff_first_sign_in(driver, base_url: str, login: str, one_time: str) -> None:
    """One-time password, one's own password, the authenticator app: the key read from the
    page as a person types it into the app, the code the app (pyotp) shows now. A code is
    accepted once per member and 30-second step; each member here uses one code only."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/panel/login")
    fill(driver, login=login, password=one_time)
    submit(driver, "Dalej")
    assert wait_for_url(driver, lambda u: u.endswith("/panel/login/password"))
    fill(driver, new_password=STAFF_PASSWORD, new_password_repeat=STAFF_PASSWORD)
    submit(driver, "Ustaw hasło")
    assert wait_for_url(driver, lambda u: u.endswith("/panel/login/enrol"))
    secret = driver.find_element(By.ID, "totp-secret").text.strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    fill(driver, code=pyotp.TOTP(secret).now())
    submit(driver, "Potwierdź i zaloguj")
    assert wait_for_url(driver, lambda u: u == base_url + "/panel/")
    assert f"Zalogowano jako {login}" in text_of(driver)


def sign_out(driver, base_url: str) -> None:
    submit(driver, "Wyloguj")
    assert wait_for_url(driver, lambda u: "logged_out=1" in u) == (
        base_url + "/panel/login?logged_out=1"
    )


def new_staff(driver, base_url: str, login: str, role: str) -> str:
    """The administrator makes a staff member in the panel; the one-time password shown."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/panel/staff/new")
    fill(driver, login=login)
    driver.find_element(By.CSS_SELECTOR, f"input[name=role][value={role}]").click()
    submit(driver, "Utwórz konto")
    assert wait_for_text(driver, "Konto utworzone")
    return driver.find_element(By.ID, "one-time-password").text.strip()


def balance(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CLASS_NAME, "balance-figure").text.replace("\u00a0", " ")


def wait_for_balance(driver, expected: str, timeout: float = 10) -> None:
    """Reload the resident's page until it shows `expected` (the portal notices a newly
    published generation within SnapshotStore.RECHECK_SECONDS)."""
    deadline = time.monotonic() + timeout
    while True:
        driver.refresh()
        shown = balance(driver)
        if shown == expected:
            return
        assert time.monotonic() < deadline, f"balance {shown!r}, expected {expected!r}"
        time.sleep(0.2)


def upload(driver, base_url: str, bundle: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/panel/imports")
    driver.find_element(By.ID, "bundle").send_keys(str(bundle))
    submit(driver, "Wyślij i zaimportuj")
    assert wait_for_url(driver, lambda u: re.search(r"/panel/imports/[^/]+$", u) is not None)


def console_problems(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def good_export(folder: Path) -> Path:
    """The first export with one more payment for KW5/1."""
    tables = minimal_tables()
    tables["ledger"].append(
        {
            "premises_id": "KW5/1",
            "date": "18.11.2026",
            "description": "Wpłata",
            "document": "WB/2",
            "period": "",
            "charge": "",
            "payment": "500,00",
        }
    )
    return zip_dir(write_csv_bundle(folder, tables))


def test_staff_open_an_account_and_publish_data_the_resident_sees(
    live_server, settings, browsers, tmp_path
):
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    app, base_url = live_server
    screens = Screens()

    def current() -> str:
        """The current generation, read afresh (a store looks at the pointer at most every
        SnapshotStore.RECHECK_SECONDS)."""
        return SnapshotStore(settings.snapshots_dir).current().id

    step = screens.step

    with step("publish the first export and make the first administrator"):
        first = zip_dir(write_csv_bundle(tmp_path / "eksport-1", minimal_tables()))
        assert main(["--data-dir", str(settings.data_dir), "import", str(first)]) == 0
        first_generation = current()
        _, admin_password = app.state.staff.create("ewa.admin", "admin")
        downloads = tmp_path / "pobrane"
        downloads.mkdir()
        staff_browser = screens.browsers["staff"] = browsers(downloads=downloads)

    with step("the administrator signs in for the first time and makes two staff members"):
        staff_first_sign_in(staff_browser, base_url, "ewa.admin", admin_password)
        clerk_password = new_staff(staff_browser, base_url, "ola.biuro", "office")
        accountant_password = new_staff(staff_browser, base_url, "adam.ksiegowy", "accountant")
        assert ONE_TIME.fullmatch(clerk_password) and ONE_TIME.fullmatch(accountant_password)
        staff_browser.get(base_url + "/panel/staff")
        listed = text_of(staff_browser)
        assert "ola.biuro" in listed and "adam.ksiegowy" in listed
        sign_out(staff_browser, base_url)

    with step("the clerk signs in and opens an account on an application for KW5/1"):
        staff_first_sign_in(staff_browser, base_url, "ola.biuro", clerk_password)
        staff_browser.find_element(By.LINK_TEXT, "Konta mieszkańców").click()
        fill(staff_browser, q="kwiatowa 5/1")
        submit(staff_browser, "Szukaj")
        assert wait_for_text(staff_browser, "Znaleziono lokali: 1")
        staff_browser.find_element(By.LINK_TEXT, "Załóż konto").click()
        assert wait_for_url(staff_browser, lambda u: "/panel/accounts/new" in u)
        assert staff_browser.find_element(By.ID, "premises").get_attribute("value") == "KW5/1"
        signed_on = staff_browser.find_element(By.ID, "application_date").get_attribute("value")
        assert signed_on  # today in Poland, filled in
        fill(staff_browser, application_number="W/7/2026", login="jan.kowalski")
        submit(staff_browser, "Załóż konto")
        assert wait_for_text(staff_browser, "Konto założone")
        shown_password = staff_browser.find_element(By.ID, "one-time-password").text.strip()
        assert ONE_TIME.fullmatch(shown_password), shown_password

    with step("the clerk downloads the activation letter; its PDF holds the password"):
        submit(staff_browser, "Pobierz list aktywacyjny (PDF)")
        deadline = time.monotonic() + 20
        while not (pdfs := list(downloads.glob("*.pdf"))):
            assert time.monotonic() < deadline, f"no PDF downloaded: {list(downloads.iterdir())}"
            time.sleep(0.1)
        [pdf] = pdfs
        letter = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
        assert "jan.kowalski" in letter and "KW5/1" in letter
        [letter_password] = ONE_TIME.findall(letter)
        assert letter_password == shown_password
        record = app.state.accounts.by_login("jan.kowalski")
        assert record.premises_ids == ("KW5/1",)
        assert app.state.accounts.application(record.id) == (
            date.fromisoformat(signed_on),
            "W/7/2026",
        )
        sign_out(staff_browser, base_url)

    with step("the resident signs in with the letter's password and sees the balance"):
        resident = screens.browsers["resident"] = browsers()
        resident.get(base_url + "/login")
        fill(resident, login="jan.kowalski", password=letter_password)
        submit(resident, "Zaloguj się")
        assert wait_for_url(resident, lambda u: "/login" not in u) == (
            base_url + "/password/change"
        )
        fill(
            resident,
            current_password=letter_password,
            new_password=RESIDENT_PASSWORD,
            new_password_repeat=RESIDENT_PASSWORD,
        )
        submit(resident, "Zmień hasło")
        assert wait_for_url(resident, lambda u: "/premises/" in u).startswith(
            base_url + "/premises/KW5%2F1"
        )
        first_balance = balance(resident)
        assert first_balance == "-334,56 zł zaległość"

    with step("the accountant signs in and uploads a bad export: a report, nothing published"):
        staff_first_sign_in(staff_browser, base_url, "adam.ksiegowy", accountant_password)
        bad = zip_dir(write_csv_bundle(tmp_path / "eksport-zly", broken_tables()))
        upload(staff_browser, base_url, bad)
        page = wait_for_text(staff_browser, "Odrzucono.")
        assert "Nic z tego eksportu nie zostało opublikowane" in page
        table = staff_browser.find_element(By.CSS_SELECTOR, "table.problems")
        headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
        assert headers == ["Plik", "Tabela", "Wiersz", "Kolumna", "Wartość", "Powód"]
        rows = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]
        assert any(r[0] == "ledger.csv" and r[2] == "3" and r[4] == "12,3x" for r in rows), rows
        assert current() == first_generation
        resident.refresh()
        assert balance(resident) == first_balance

    with step("the accountant uploads a good export: published, its figures shown"):
        upload(staff_browser, base_url, good_export(tmp_path / "eksport-2"))
        page = wait_for_text(staff_browser, "Opublikowano.")
        second_generation = current()
        assert second_generation != first_generation and second_generation in page
        figures = staff_browser.find_element(By.CSS_SELECTOR, "table.figures")
        ledger_row = [
            c.text
            for c in figures.find_elements(By.XPATH, f".//tr[th[normalize-space()='{LEDGER}']]/*")
        ]
        assert ledger_row == [LEDGER, "4", "5", "+1"], ledger_row
        wait_for_balance(resident, "165,44 zł nadpłata")

    with step("the accountant rolls back, confirming first: the first generation is back"):
        staff_browser.find_element(By.LINK_TEXT, "Generacje danych").click()
        assert wait_for_text(staff_browser, "Generacje danych")
        staff_browser.find_element(By.LINK_TEXT, "Przywróć tę generację…").click()
        page = wait_for_text(staff_browser, "Przywrócić generację")
        assert first_generation in page
        assert current() == second_generation  # asking changed nothing
        submit(staff_browser, "Przywróć tę generację")
        page = wait_for_text(staff_browser, "jest teraz bieżąca")
        assert f"Generacja {first_generation} jest teraz bieżąca" in page
        assert current() == first_generation
        wait_for_balance(resident, first_balance)

    with step("no CSP violation or failed load in any browser"):
        for who, driver in screens.browsers.items():
            assert console_problems(driver) == [], who
    assert time.monotonic() - started < 60
