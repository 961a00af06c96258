"""Fixtures for tests that need a real server and a real browser."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from portal.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium + chromium-driver in /usr/bin (scripts/test installs them)",
)


@pytest.fixture
def live_server(settings, store):
    """The real app under uvicorn on a free loopback port: (app, base_url)."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(settings.with_overrides(base_url=base_url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield app, base_url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium as root, offline (flags from shared/NOTES.md). Element look-ups wait
    up to 10 s, so a test reads the page the click leads to, not the one before it."""
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
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


def wait_for_url(driver, predicate, timeout: float = 10) -> str:
    """Wait until the browser has left the page a form was submitted from."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: predicate(d.current_url))
    return driver.current_url
