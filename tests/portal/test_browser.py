"""End to end in a real headless Chromium: sign in with a one-time password, set one's own,
read the balance, open the ledger. Also what only a browser can tell: the strict CSP blocks
nothing on our pages, the skip link comes first on Tab, and a phone-width page does not
scroll sideways."""

from __future__ import annotations

import pytest

from portal.accounts import passwords
from tests.builders import ledger_row, make_document, publish_documents
from tests.portal.conftest import needs_chromium, wait_for_url

pytestmark = [pytest.mark.browser, needs_chromium]


def test_resident_signs_in_changes_password_reads_balance_and_ledger(live_server, store, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    app, base_url = live_server
    publish_documents(
        store,
        [
            make_document(
                "KW5/12",
                ledger=[
                    ledger_row("2026-01-01", "Bilans otwarcia", charge=10000, row=2),
                    ledger_row("2026-01-10", "Naliczenie 01/2026", charge=45000, row=3),
                    ledger_row("2026-01-15", "Wpłata", payment=123456, document="WB/1", row=4),
                ],
            )
        ],
    )
    one_time = passwords.generate_one_time_password()
    app.state.accounts.create(
        "jan.kowalski", passwords.hash_password(one_time), ["KW5/12"], must_change_password=True
    )

    browser.get(base_url + "/")
    assert browser.current_url.startswith(base_url + "/login")
    browser.find_element(By.ID, "login").send_keys("jan.kowalski")
    browser.find_element(By.ID, "password").send_keys(one_time, Keys.ENTER)

    # A one-time password leads straight to setting one's own.
    assert wait_for_url(browser, lambda u: "/login" not in u) == base_url + "/password/change"
    new_password = "kwiatowa-wiosna-2026-sad"
    browser.find_element(By.ID, "current_password").send_keys(one_time)
    browser.find_element(By.ID, "new_password").send_keys(new_password)
    browser.find_element(By.ID, "new_password_repeat").send_keys(new_password, Keys.ENTER)

    # One premises: the home page goes straight to it.
    assert wait_for_url(browser, lambda u: "/password/change" not in u).startswith(
        base_url + "/premises/KW5%2F12"
    )
    body = browser.find_element(By.TAG_NAME, "body").text.replace("\u00a0", " ")
    assert "Hasło zostało zmienione." in body
    assert "Dane według stanu na 20.11.2026" in body
    balance = browser.find_element(By.CLASS_NAME, "balance-figure").text.replace("\u00a0", " ")
    assert balance == "684,56 zł nadpłata"
    assert browser.find_element(By.CSS_SELECTOR, "svg.chart").is_displayed()

    # Keyboard: the first Tab lands on the skip link.
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("class") == "skip-link"

    browser.find_element(By.LINK_TEXT, "Obroty").click()
    assert wait_for_url(browser, lambda u: u.endswith("/ledger")) == (
        base_url + "/premises/KW5%2F12/ledger"
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "table.ledger tbody tr")
    cells = [c.text.replace("\u00a0", " ") for c in rows[-1].find_elements(By.TAG_NAME, "td")]
    assert cells == ["15.01.2026", "WB/1", "Wpłata", "", "1 234,56 zł", "684,56 zł"]

    # The stylesheet is served by the app and applies (the header is coloured, not default).
    header = browser.find_element(By.CLASS_NAME, "site-header")
    assert header.value_of_css_property("background-color") == "rgba(11, 79, 138, 1)"

    # A phone-sized window: nothing wider than the screen.
    browser.set_window_size(375, 800)
    browser.refresh()
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0

    # No Content-Security-Policy violation or failed load on any page we saw.
    problems = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert problems == []


def test_resident_switches_to_english_and_reads_the_balance(live_server, store, browser):
    """The header's link switches to English before signing in; the choice holds through the
    sign-in and on every page; the balance reads in English format; the other link switches
    back to Polish."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    app, base_url = live_server
    publish_documents(
        store,
        [
            make_document(
                "KW5/12",
                ledger=[
                    ledger_row("2026-01-01", "Bilans otwarcia", charge=10000, row=2),
                    ledger_row("2026-01-10", "Naliczenie 01/2026", charge=45000, row=3),
                    ledger_row("2026-01-15", "Wpłata", payment=123456, document="WB/1", row=4),
                ],
            )
        ],
    )
    password = "kwiatowa-wiosna-2026-sad"
    app.state.accounts.create(
        "anna.nowak", passwords.hash_password(password), ["KW5/12"], must_change_password=False
    )

    browser.get(base_url + "/login")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Logowanie"
    browser.find_element(By.LINK_TEXT, "English").click()
    wait_for_url(browser, lambda u: "lang=" not in u)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    browser.find_element(By.ID, "login").send_keys("anna.nowak")
    browser.find_element(By.ID, "password").send_keys(password, Keys.ENTER)

    assert wait_for_url(browser, lambda u: "/login" not in u).startswith(
        base_url + "/premises/KW5%2F12"
    )
    body = browser.find_element(By.TAG_NAME, "body").text.replace("\u00a0", " ")
    assert "Signed in as anna.nowak" in body and "Data as of 20 Nov 2026" in body
    balance = browser.find_element(By.CLASS_NAME, "balance-figure").text.replace("\u00a0", " ")
    assert balance == "PLN 684.56 overpaid"

    browser.find_element(By.LINK_TEXT, "Transactions").click()
    wait_for_url(browser, lambda u: u.endswith("/ledger"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.ledger tbody tr")
    cells = [c.text.replace("\u00a0", " ") for c in rows[-1].find_elements(By.TAG_NAME, "td")]
    assert cells == ["15 Jan 2026", "WB/1", "Wpłata", "", "PLN 1,234.56", "PLN 684.56"]

    browser.find_element(By.LINK_TEXT, "Polski").click()
    wait_for_url(browser, lambda u: "lang=" not in u)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "pl"
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Obroty")

    problems = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert problems == []
