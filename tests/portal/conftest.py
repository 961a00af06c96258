"""Fixtures for tests that need a real server and a real browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from portal.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium + chromium-driver in /usr/bin (scripts/test installs them)",
)


@pytest.fixture
def live_app_factory():
    """What `live_server` serves, made from the test's settings: the residents' portal with
    the panel (portal.app.create_app). A test module that needs another composition, e.g.
    ebok.serve.create_app with the import service, overrides this fixture."""
    return create_app


@contextmanager
def serving(settings, app_factory=create_app) -> Iterator[tuple[Any, str]]:
    """`app_factory(settings)` under uvicorn on a free loopback port, in a thread of this
    process: (app, base_url). A module-scoped fixture can hold one for all its tests."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    app = app_factory(settings.with_overrides(base_url=base_url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield app, base_url
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """tests/conftest.py's cheap Argon2 for a module-scoped fixture (which runs before that
    function-scoped one): accounts made and signed in for a whole module cost no 0.3 s each."""
    from argon2 import PasswordHasher

    import portal.accounts.passwords

    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        patch.setattr(portal.accounts.passwords, "_hasher", cheap)
        portal.accounts.passwords.dummy_hash.cache_clear()
        try:
            yield
        finally:
            portal.accounts.passwords.dummy_hash.cache_clear()


@pytest.fixture
def live_server(settings, store, live_app_factory):
    """The real app under uvicorn on a free loopback port: (app, base_url)."""
    with serving(settings, live_app_factory) as served:
        yield served


def start_chromium(profile: Path, downloads: Path | None = None):
    """Headless Chromium as root, offline (flags from shared/NOTES.md), with its own profile
    folder (so its own cookies: a separate browser session). Element look-ups wait up to
    10 s, so a test reads the page the click leads to, not the one before it. `downloads`:
    where files the browser downloads are saved, without asking."""
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
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        "--lang=pl-PL",
    ):
        options.add_argument(flag)
    if downloads is not None:
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(downloads),
                "download.prompt_for_download": False,
                "plugins.always_open_pdf_externally": True,  # save a PDF, do not show it
            },
        )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(10)
    return driver


@pytest.fixture
def browsers(tmp_path):
    """`browsers()`: one more headless Chromium (start_chromium), each a browser session of
    its own; `browsers(downloads=folder)` saves downloads there. All quit at the end."""
    started = []

    def start(*, downloads: Path | None = None):
        profile = tmp_path / f"chromium-profile-{len(started) + 1}"
        started.append(start_chromium(profile, downloads))
        return started[-1]

    yield start
    for driver in started:
        driver.quit()


@pytest.fixture
def browser(browsers):
    """One headless Chromium (see start_chromium)."""
    return browsers()


def wait_for_url(driver, predicate, timeout: float = 10) -> str:
    """Wait until the browser has left the page a form was submitted from."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: predicate(d.current_url))
    return driver.current_url
