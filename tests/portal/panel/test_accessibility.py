"""Every page of the office panel, checked by axe-core in headless Chromium: no violation
(tests/portal/axe.py), in Polish and in English.

One server (what `ebok serve` runs, with the import service) on the demo data imported twice,
plus a refused smaller export and a broken one (so the imports history has a published, a
shrink-refused and a rejected import), and one administrator's browser for the whole module:
the administrator may open every page (ROUTES in test_roles.py lists them by role). Pages that
only follow a submitted form (a new member's or resident's one-time password, a reset) are
checked as the member sees them after it. The sign-in pages (one-time password, own password,
authenticator enrolment, the code of a returning member) are walked by a new member each run.
"""

from __future__ import annotations

import re

import pyotp
import pytest

import ebok.serve
from ebok.cli import main
from ebok.settings import Settings
from etl.demo.generate import generate
from etl.import_history import import_history
from etl.snapshot.ids import quote_premises_id
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import write_csv_bundle
from tests.etl.test_sync import broken_tables
from tests.portal.axe import Page, check_page, fill_and_submit
from tests.portal.conftest import (
    cheap_password_hashing,
    needs_chromium,
    serving,
    start_chromium,
)
from tests.portal.panel.test_browser import STAFF_PASSWORD, staff_first_sign_in

pytestmark = [pytest.mark.browser, needs_chromium]

LANGUAGES = ("pl", "en")
ACCOUNT = "/panel/accounts/{account}"
PREVIEW = ACCOUNT + "/preview/premises/{premises}"


def _new_account(driver) -> None:
    """Open an account for the second premises (a new login per run)."""
    login = "nowy." + driver.execute_script("return document.documentElement.lang")
    fill_and_submit(application_number="W/9/2026", login=login)(driver)


def _new_staff(driver) -> None:
    login = "biuro." + driver.execute_script("return document.documentElement.lang")
    fill_and_submit("input[name=role][value=office]", login=login)(driver)


PAGES = [
    Page("home", "admin", "/panel/"),
    Page("staff", "admin", "/panel/staff"),
    Page("new staff member", "admin", "/panel/staff/new"),
    Page(
        "new staff member, refused",
        "admin",
        "/panel/staff/new",
        fill_and_submit("input[name=role][value=office]", login="Zły login!"),
    ),
    Page("new staff member, created", "admin", "/panel/staff/new", _new_staff),
    Page("staff member, disable?", "admin", "/panel/staff/{target}/disable"),
    Page("staff member, reset?", "admin", "/panel/staff/{target}/reset"),
    Page("staff member, reset done", "admin", "/panel/staff/{target}/reset", fill_and_submit()),
    Page("audit log", "admin", "/panel/audit"),
    Page("resident accounts", "admin", "/panel/accounts"),
    Page("resident accounts, search", "admin", "/panel/accounts?q=1"),
    Page("new account", "admin", "/panel/accounts/new?premises={other}"),
    Page("new account, created", "admin", "/panel/accounts/new?premises={other}", _new_account),
    Page("account", "admin", ACCOUNT),
    Page("account, unlink?", "admin", ACCOUNT + "/unlink?premises={premises}"),
    Page("account, disable?", "admin", ACCOUNT + "/disable"),
    Page("account, reset?", "admin", ACCOUNT + "/reset"),
    Page("account, reset done", "admin", ACCOUNT + "/reset", fill_and_submit()),
    Page("account, close?", "admin", ACCOUNT + "/close"),
    Page("preview, premises list", "admin", ACCOUNT + "/preview"),
    Page("preview, overview", "admin", PREVIEW),
    Page("preview, ledger", "admin", PREVIEW + "/ledger"),
    Page("preview, fees", "admin", PREVIEW + "/fees"),
    Page("preview, allowances", "admin", PREVIEW + "/allowances"),
    Page("preview, readings", "admin", PREVIEW + "/readings"),
    Page("preview, documents", "admin", ACCOUNT + "/preview/documents"),
    Page("imports", "admin", "/panel/imports"),
    Page("import, published", "admin", "/panel/imports/{published}"),
    Page("import, refused (shrink)", "admin", "/panel/imports/{shrink}"),
    Page("import, rejected", "admin", "/panel/imports/{rejected}"),
    Page("import, retry?", "admin", "/panel/imports/{shrink}/retry"),
    Page("generations", "admin", "/panel/generations"),
    Page("rollback, choose", "admin", "/panel/generations/rollback"),
    Page("rollback, confirm", "admin", "/panel/generations/rollback?to={first}"),
    Page("not found", "admin", "/panel/nie-ma-takiej-strony"),
]


def _import(settings: Settings, bundle) -> int:
    return main(["--data-dir", str(settings.data_dir), "import", str(bundle)])


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """The served panel with its data and a signed-in administrator's browser: a dict with
    `base_url`, `app`, `admin` (the driver) and the values page paths name."""
    folder = tmp_path_factory.mktemp("panel-accessibility")
    data = folder / "data"
    data.mkdir()
    settings = Settings.from_env({}, data_dir=data, secret_key="test-secret-key-0123456789abcdef")
    generate(folder / "demo-1", communities=1, premises=6, months=3)
    assert _import(settings, folder / "demo-1") == 0
    generate(folder / "demo-2", communities=1, premises=6, months=4)
    assert _import(settings, folder / "demo-2") == 0
    generate(folder / "demo-smaller", communities=1, premises=3, months=4)
    assert _import(settings, folder / "demo-smaller") != 0  # refused: fewer premises
    assert _import(settings, write_csv_bundle(folder / "broken", broken_tables())) != 0
    rejected, shrink, published, first = import_history(settings)  # newest first
    assert (shrink.refusal, rejected.refusal) == ("shrink", "")
    # a flat with meter readings, and another premises of its community
    documents = list(SnapshotStore(settings.snapshots_dir).current().documents())
    with_readings = next(d for d in documents if d.get("readings"))
    flat = with_readings["premises_id"]
    other = next(d["premises_id"] for d in documents if d["premises_id"] != flat)
    with cheap_password_hashing(), serving(settings, ebok.serve.create_app) as (app, base_url):
        account, _ = app.state.accounts.open_account("jan", [flat])
        target, _ = app.state.staff.create("cel", "office")
        _, one_time = app.state.staff.create("ewa.admin", "admin")
        admin = start_chromium(folder / "admin")
        try:
            staff_first_sign_in(admin, base_url, "ewa.admin", one_time)
            yield {
                "app": app,
                "base_url": base_url,
                "admin": admin,
                "values": {
                    "account": str(account.id),
                    "premises": quote_premises_id(flat),
                    "other": quote_premises_id(other),
                    "target": str(target.id),
                    "published": published.id,
                    "shrink": shrink.id,
                    "rejected": rejected.id,
                    "first": first.generation,
                },
            }
        finally:
            admin.quit()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_accessibility_violations(panel, page: Page, lang: str):
    problems = check_page(panel[page.who], panel["base_url"], page, lang, **panel["values"])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_pages_have_no_accessibility_violations(panel, browsers, lang):
    """A new member's first sign-in, page by page, then a returning member's code page."""
    from selenium.webdriver.common.by import By

    base_url = panel["base_url"]
    login = f"nowa.{lang}"
    _, one_time = panel["app"].state.staff.create(login, "accountant")
    driver = browsers()
    steps = {
        "sign-in": Page("sign-in", "member", "/panel/login"),
        "sign-in, refused": Page(
            "sign-in, refused", "member", "/panel/login", fill_and_submit(login=login, password="x")
        ),
        "own password": Page(
            "own password",
            "member",
            "/panel/login",
            fill_and_submit(login=login, password=one_time),
        ),
        "own password, refused": Page(
            "own password, refused",
            "member",
            "/panel/login/password",
            fill_and_submit(new_password=STAFF_PASSWORD, new_password_repeat="inne-haslo-123456"),
        ),
        "authenticator": Page(
            "authenticator",
            "member",
            "/panel/login/password",
            fill_and_submit(new_password=STAFF_PASSWORD, new_password_repeat=STAFF_PASSWORD),
        ),
        "authenticator, refused": Page(
            "authenticator, refused", "member", "/panel/login/enrol", fill_and_submit(code="000000")
        ),
    }
    problems = {}
    for name, page in steps.items():
        problems[name] = check_page(driver, base_url, page, lang)
    secret = driver.find_element(By.ID, "totp-secret").text.strip()
    fill_and_submit(code=pyotp.TOTP(secret).now())(driver)
    assert re.search(r"/panel/(\?.*)?$", driver.current_url), driver.current_url
    driver.delete_all_cookies()  # a returning member: password, then the code page
    code = Page(
        "code",
        "member",
        "/panel/login",
        fill_and_submit(login=login, password=STAFF_PASSWORD),
    )
    problems["code"] = check_page(driver, base_url, code, lang)
    code_refused = Page(
        "code, refused", "member", "/panel/login/code", fill_and_submit(code="000000")
    )
    problems["code, refused"] = check_page(driver, base_url, code_refused, lang)
    found = {name: lines for name, lines in problems.items() if lines}
    assert not found, "\n".join(f"{name}: " + "\n".join(lines) for name, lines in found.items())
