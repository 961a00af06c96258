"""In a real headless Chromium: the header leads to /settings, the resident switches notices
on; the link from a message, opened in another browser without signing in, shows one button
that switches them off. Neither page scrolls sideways at phone width. With
SCREENSHOTS_DIR=<folder> the pages are saved there at 1280 and 375 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.notices.store import NoticesStore
from tests.builders import make_document, publish_documents
from tests.conftest import SIGNED_IN_PASSWORD
from tests.portal.conftest import needs_chromium, wait_for_url

pytestmark = [pytest.mark.browser, needs_chromium]


def _shoot(driver, name: str) -> None:
    folder = os.environ.get("SCREENSHOTS_DIR")
    for width in (1280, 375):
        driver.set_window_size(width, 900)
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth"
        )
        assert not overflow, f"{name} scrolls sideways at {width} px"
        if folder:
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, max(900, height + 120))
            driver.save_screenshot(str(Path(folder) / f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


def test_opt_in_from_the_header_and_out_from_the_messages_link(
    live_server, store, browsers, monkeypatch
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from portal.accounts import passwords

    app, base_url = live_server
    publish_documents(store, [make_document("KW5/12")])
    record = app.state.accounts.create(
        "anna.nowak",
        passwords.hash_password(SIGNED_IN_PASSWORD),
        ["KW5/12"],
        email="anna@example.pl",
        must_change_password=False,
    )
    resident = browsers()
    resident.get(base_url + "/login")
    resident.find_element(By.ID, "login").send_keys("anna.nowak")
    resident.find_element(By.ID, "password").send_keys(SIGNED_IN_PASSWORD, Keys.ENTER)
    wait_for_url(resident, lambda u: "/login" not in u)

    resident.find_element(By.LINK_TEXT, "Ustawienia").click()
    wait_for_url(resident, lambda u: u.endswith("/settings"))
    _shoot(resident, "settings-off")
    resident.find_element(By.XPATH, "//button[normalize-space()='Włącz powiadomienia']").click()
    wait_for_url(resident, lambda u: "saved=on" in u)
    assert "Powiadomienia e-mail są włączone." in resident.find_element(By.TAG_NAME, "main").text
    _shoot(resident, "settings-on")
    notices = NoticesStore(app.state.accounts.db)
    subscription = notices.subscription(record.id)
    assert subscription is not None and subscription.enabled

    token = app.state.unsubscribe_tokens.issue(record.id, subscription.version)
    stranger = browsers()  # the mail program's browser: no session
    stranger.get(f"{base_url}/notices/unsubscribe/{token}")
    _shoot(stranger, "unsubscribe-confirm")
    assert notices.subscription(record.id).enabled
    stranger.find_element(By.XPATH, "//button[normalize-space()='Wyłącz powiadomienia']").click()
    main = stranger.find_element(By.CSS_SELECTOR, "main .notice-ok")
    assert "zostały wyłączone" in main.text
    _shoot(stranger, "unsubscribe-done")
    assert not notices.subscription(record.id).enabled

    stranger.get(f"{base_url}/notices/unsubscribe/{token[:-4]}xxxx")
    assert "Ten link jest nieprawidłowy." in stranger.find_element(By.TAG_NAME, "main").text
    _shoot(stranger, "unsubscribe-invalid")
