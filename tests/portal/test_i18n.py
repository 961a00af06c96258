"""Polish and English (portal.i18n): every message has its English, the header's link switches
and the choice is remembered, amounts and dates follow the language, mail and letters come in
the language asked for, and the slip itself stays Polish."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from portal import i18n
from portal.accounts.letters import Letter, letter_html
from portal.accounts.mail import compose
from portal.accounts.passwords import hash_password
from portal.accounts.recovery import RESET_SUBJECT
from portal.app import create_app
from portal.web import format as fmt
from portal.web.locale import COOKIE, LocaleMiddleware
from tests.builders import make_document, publish_documents
from tests.forms import csrf_token

ROOT = Path(__file__).resolve().parents[2]
OVERVIEW = "/premises/KW5%2F12"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _extracted() -> dict[str, str]:
    """Every message id in the source, as `scripts/i18n extract` finds it (babel.cfg), with
    where it was found."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, str] = {}
    top = ("portal", "templates")  # what babel.cfg names; not data/, build/, .venv/…

    def wanted(path: str) -> bool:
        return Path(path).relative_to(ROOT).parts[0] in top

    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, directory_filter=wanted
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, filename)
    return found


def _catalog(locale: str):
    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def test_every_message_has_an_english_translation() -> None:
    """Missing, empty or fuzzy: `scripts/i18n update`, then translate what it names."""
    catalog = _catalog("en")
    problems = []
    for msgid, where in sorted(_extracted().items(), key=lambda item: item[1]):
        message = catalog.get(msgid)
        if message is None:
            problems.append(f"missing ({where}): {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy ({where}): {msgid!r}")
        elif not all(message.string if isinstance(message.string, tuple) else [message.string]):
            problems.append(f"empty ({where}): {msgid!r}")
    assert not problems, "messages without English:\n" + "\n".join(problems)


def test_translations_keep_the_placeholders() -> None:
    """A translation that drops or renames `%(name)s` would fail when rendered."""
    wrong = [
        m.id
        for m in _catalog("en")
        if m.id and m.string and isinstance(m.id, str)
        and set(_PLACEHOLDER.findall(m.id)) != set(_PLACEHOLDER.findall(m.string))
    ]
    assert not wrong


def test_polish_is_the_source_and_english_comes_from_the_catalog() -> None:
    assert i18n.gettext("Wyloguj") == "Wyloguj"
    with i18n.use_locale("en"):
        assert i18n.current_locale() == "en"
        assert i18n.gettext("Wyloguj") == "Sign out"
        assert i18n.gettext("not in any catalog") == "not in any catalog"
    with i18n.use_locale("xx"):  # anything unknown is Polish
        assert i18n.current_locale() == "pl"
    assert i18n.current_locale() == "pl"


def test_formats_follow_the_language_and_polish_stays_exact() -> None:
    stamp = datetime(2026, 11, 24, 13, 5, tzinfo=UTC)
    assert fmt.money(123456) == "1\xa0234,56\xa0zł"
    assert fmt.date_pl("2026-11-24") == "24.11.2026"
    assert fmt.datetime_pl(stamp) == "24.11.2026 14:05"
    assert fmt.number("54.30") == "54,30"
    with i18n.use_locale("en"):
        assert fmt.money(123456) == "PLN\xa01,234.56"
        assert fmt.money(-5000) == "-PLN\xa050.00"
        assert fmt.money_plain(123456) == "1,234.56"
        assert fmt.date_pl("2026-11-24") == "24 Nov 2026"
        assert fmt.datetime_pl(stamp) == "24 Nov 2026, 14:05"
        assert fmt.number("54.30") == "54.30"
    assert fmt.money(123456) == "1\xa0234,56\xa0zł"  # the memo is per language


@pytest.fixture
def published(store):
    publish_documents(store, [make_document("KW5/12")])  # balance -150,00 zł


def test_the_header_link_switches_and_the_browser_remembers(app, client) -> None:
    page = client.get("/login")
    assert '<html lang="pl">' in page.text and 'href="?lang=en"' in page.text
    switched = client.get("/login?lang=en&next=/x", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login?next=%2Fx"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=en;") and "Max-Age=" in cookie and "HttpOnly" in cookie
    page = client.get("/login")
    assert '<html lang="en">' in page.text and page.headers["content-language"] == "en"
    assert "<h1>Sign in</h1>" in page.text and 'href="?lang=pl"' in page.text
    assert "Forgot password" in client.get("/password/forgot").text
    client.get("/login?lang=pl")
    assert "<h1>Logowanie</h1>" in client.get("/login").text


def test_a_switch_never_leaves_the_site() -> None:
    """`//host/…` as a path must not become a redirect to another host."""
    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": "//evil.example/x",
        "raw_path": b"//evil.example/x", "query_string": b"lang=en", "headers": [],
    }
    asyncio.run(LocaleMiddleware(None)(scope, None, send))
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 303 and headers[b"location"] == b"/evil.example/x"


def test_unknown_language_is_ignored(client) -> None:
    response = client.get("/login?lang=de", follow_redirects=False)
    assert response.status_code == 200 and "set-cookie" not in response.headers or (
        COOKIE not in response.headers.get("set-cookie", "")
    )
    assert "<h1>Logowanie</h1>" in response.text


def test_the_overview_in_english_through_the_lane_and_the_stack(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    polish = client.get(OVERVIEW)
    assert "-150,00\xa0zł" in polish.text
    client.get(OVERVIEW + "?lang=en")
    for _ in range(2):  # the second one is answered by the overview's lane
        page = client.get(OVERVIEW)
        assert page.headers["content-language"] == "en"
        assert "Signed in as <strong>jan</strong>" in page.text
        assert "<h2 id=\"saldo-h\">Balance</h2>" in page.text
        assert "-PLN\xa0150.00" in page.text and "arrears" in page.text
    assert "zaległość" in signed_in("KW5/12", login="anna").get(OVERVIEW).text


def test_error_pages_and_form_errors_in_english(app, client, signed_in, published) -> None:
    resident = signed_in("KW5/12", login="jan")
    resident.get("/?lang=en")
    missing = resident.get("/premises/XX%2F1")
    assert missing.status_code == 404 and "Page not found" in missing.text
    client.get("/login?lang=en")
    token = csrf_token(client.get("/login").text)
    refused = client.post("/login", data={"login": "x", "password": "y"})
    assert refused.status_code == 403 and "Refused:" in refused.text
    wrong = client.post("/login", data={"login": "x", "password": "y", "csrf_token": token})
    assert "Incorrect login or password." in wrong.text


def test_mail_in_the_given_language(settings) -> None:
    context = {"login": "anna", "link": "http://x/password/reset/t", "valid_minutes": 60}
    polish = compose(settings, "a@example.com", RESET_SUBJECT, "password_reset", context)
    english = compose(
        settings, "a@example.com", RESET_SUBJECT, "password_reset", context, locale="en"
    )
    assert polish["Subject"] == "Ustawienie nowego hasła w EBOK"
    assert english["Subject"] == "Setting a new EBOK password"
    assert "valid for 60 minutes" in english.get_body(("plain",)).get_content()
    assert 'lang="en"' in english.get_body(("html",)).get_content()


def test_password_recovery_mails_in_the_language_of_the_request(settings) -> None:
    app = create_app(settings)
    app.state.accounts.create(
        "anna", hash_password("x" * 20), ["KW5/12"], email="anna@example.com",
        must_change_password=False,
    )
    client = TestClient(app, base_url="http://testserver")
    client.get("/password/forgot?lang=en")
    page = client.get("/password/forgot")
    client.post("/password/forgot", data={"login": "anna", "csrf_token": csrf_token(page.text)})
    assert app.state.mailer.flush(10)
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert msg["Subject"] == "Setting a new EBOK password"
    assert "To set a new password" in msg.get_body(("plain",)).get_content()
    app.state.mailer.close()


def test_letters_in_either_language() -> None:
    letter = Letter("activation", "jan", "secret-words", "https://ebok.example.pl")
    assert "Hasło jednorazowe" in letter_html(letter)
    english = letter_html(Letter(**{**letter.__dict__, "locale": "en"}))
    assert '<html lang="en">' in english and "One-time password" in english
    assert "Access to the e-Customer Service Office (EBOK)" in english


def test_the_slip_stays_polish_around_an_english_page(app, signed_in, published):
    client = signed_in("KW5/12", login="jan")
    client.get("/?lang=en")
    form = client.get(OVERVIEW + "/slip")
    assert "Payment slip – premises KW5/12" in form.text
    printed = client.get(OVERVIEW + "/slip/print", params={"amount": "10", "title": "Opłaty"})
    assert printed.status_code == 200
    assert "Back to the form" in printed.text
    assert "POLECENIE PRZELEWU" in printed.text and "10,00\xa0zł" in printed.text


RESIDENT_PAGES = (
    OVERVIEW,
    OVERVIEW + "/ledger",
    OVERVIEW + "/fees",
    OVERVIEW + "/allowances",
    OVERVIEW + "/slip",
    "/documents",
    "/password/change",
    "/premises/XX%2F1",
)
# What the test document and the form carry as data, in Polish whatever the page's language.
DATA_WORDS = {"Kraków", "Wspólnota", "Wpłata", "zarządu", "Kwiatowa"}


@pytest.mark.parametrize("path", RESIDENT_PAGES)
def test_resident_pages_in_english_have_no_polish_left(signed_in, published, path) -> None:
    client = signed_in("KW5/12", login="jan")
    client.get("/?lang=en")
    page = client.get(path)
    words = re.sub(r"<[^>]+>", " ", page.text).split()
    polish = [w for w in words if re.search("[ąćęłńóśźż]", w.lower()) and w not in DATA_WORDS]
    assert not polish, f"{path}: {polish[:10]}"


def test_template_messages_escape_their_variables_and_keep_each_language_apart() -> None:
    """Templates' `_()` answers messages without variables from a cache: per language, and
    exactly what Jinja's own newstyle gettext would give (marked safe, `%%` read as `%`)."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    i18n.install(env)
    page = env.from_string(
        '{{ _("Saldo") }}|{{ _("Saldo %(name)s", name=name) }}|{{ _("100%%") }}'
        "|{% trans %}Saldo{% endtrans %}"
    )
    with i18n.use_locale("pl"):
        assert page.render(name="<b>") == "Saldo|Saldo &lt;b&gt;|100%|Saldo"
    with i18n.use_locale("en"):
        english = page.render(name="<b>")
    assert english.split("|")[0] == i18n.translations("en").gettext("Saldo") != "Saldo"
    assert "&lt;b&gt;" in english.split("|")[1]
    with i18n.use_locale("pl"):  # the English answer did not stay for Polish
        assert page.render(name="x").startswith("Saldo|")
