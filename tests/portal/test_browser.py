"""End to end in a real headless Chromium: sign in with a one-time password, set one's own,
read the balance, open the ledger. Also what only a browser can tell: the strict CSP blocks
nothing on our pages, the skip link comes first on Tab, and a phone-width page does not
scroll sideways."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from portal import passwords
from portal.app import create_app
from tests.builders import ledger_row, make_document, publish_documents

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
        reason="needs Debian's chromium + chromium-driver in /usr/bin (scripts/test installs them)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings, store):
    import uvicorn

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(settings.with_overrides(base_url=base_url))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield app, base_url
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,900",
        "--lang=pl-PL",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_resident_signs_in_changes_password_reads_balance_and_ledger(server, store, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    app, base_url = server
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
    assert browser.current_url == base_url + "/password/change"
    new_password = "kwiatowa-wiosna-2026-sad"
    browser.find_element(By.ID, "current_password").send_keys(one_time)
    browser.find_element(By.ID, "new_password").send_keys(new_password)
    browser.find_element(By.ID, "new_password_repeat").send_keys(new_password, Keys.ENTER)

    # One premises: the home page goes straight to it.
    assert browser.current_url.startswith(base_url + "/premises/KW5%2F12")
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
    assert browser.current_url == base_url + "/premises/KW5%2F12/ledger"
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
