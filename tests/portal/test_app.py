"""Two apps in one process share nothing: each has its own documents, slips, throttles, sessions,
reset links and mail, as a resident of either would see it."""

from __future__ import annotations

import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from starlette.testclient import TestClient

from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.accounts.passwords import hash_password
from portal.app import SESSION_COOKIE, create_app
from tests.builders import make_document, publish_documents
from tests.forms import csrf_token

PID = "KW5/12"
OVERVIEW = "/premises/" + quote(PID, safe="")
PASSWORD = "Kwiatowa-5-lokal-12"
ROOT = Path(__file__).resolve().parents[2]


def _app(tmp_path: Path, name: str, payer: str):
    data = tmp_path / name
    data.mkdir()
    settings = Settings.from_env(
        {}, data_dir=data, secret_key=f"{name}-secret-key-0123456789abcdef"
    )
    publish_documents(SnapshotStore(settings.snapshots_dir), [make_document(PID, payer_name=payer)])
    return create_app(settings)


@pytest.fixture
def apps(tmp_path: Path):
    """Two apps, each on its own data dir and key, each with a resident "jan" of "KW5/12" whose
    password (and its hash: a reset link binds to the hash) is the same in both."""
    north = _app(tmp_path, "north", "Jan Północny")
    south = _app(tmp_path, "south", "Jan Południowy")
    same_hash = hash_password(PASSWORD)
    for app in (north, south):
        app.state.accounts.create(
            "jan", same_hash, [PID], email="jan@example.pl", must_change_password=False
        )
    yield north, south
    for app in (north, south):
        app.state.mailer.close()


def login(client: TestClient, password: str = PASSWORD):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"login": "jan", "password": password, "csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )


def signed_in(app) -> TestClient:
    client = TestClient(app)
    assert login(client).status_code == 303
    return client


def test_each_app_shows_its_own_documents(apps) -> None:
    north, south = apps
    with signed_in(north) as n:
        first = n.get(OVERVIEW)
        assert first.status_code == 200 and "Jan Północny" in first.text
        assert len(north.state.documents) == 1
        assert len(south.state.documents) == 0  # nothing north read is in south's cache
        with signed_in(south) as s:
            page = s.get(OVERVIEW)
            assert "Jan Południowy" in page.text and "Jan Północny" not in page.text
        # ...and south reading its own did not change what north serves.
        again = n.get(OVERVIEW)
        assert "Jan Północny" in again.text and "Jan Południowy" not in again.text


def test_each_app_prints_its_own_slips(apps) -> None:
    north, south = apps
    params = {"amount": "10,00", "title": "Opłaty"}
    with signed_in(north) as n, signed_in(south) as s:
        north_pdf = n.get(f"{OVERVIEW}/slip.pdf", params=params)
        assert north_pdf.status_code == 200
        assert len(north.state.slip_pdfs) == 1 and len(south.state.slip_pdfs) == 0
        south_pdf = s.get(f"{OVERVIEW}/slip.pdf", params=params)
        assert south_pdf.status_code == 200
        assert south_pdf.content != north_pdf.content  # each names its own payer


def test_a_throttle_on_one_app_does_not_lock_the_other(apps) -> None:
    north, south = apps
    with TestClient(north) as n:
        for _ in range(3):  # a few typos cost nothing
            assert login(n, "typo-typo-typo").status_code == 400
        assert login(n, "typo-typo-typo").status_code == 400
        refused = login(n)  # even the right password waits now
        assert refused.status_code == 429 and "Spróbuj ponownie za" in refused.text
    with TestClient(south) as s:  # the same login from the same address
        response = login(s)
        assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_session_of_one_app_is_no_session_on_the_other(apps) -> None:
    north, south = apps
    with signed_in(north) as n, TestClient(south) as s:
        s.cookies.set(SESSION_COOKIE, n.cookies[SESSION_COOKIE])
        response = s.get(OVERVIEW, follow_redirects=False)
        assert response.status_code in (302, 303, 307)
        assert urlsplit(response.headers["location"]).path == "/login"


def _reset_link(outbox: Path) -> str:
    [eml] = outbox.glob("*.eml")
    msg = BytesParser(policy=policy.SMTP).parse(eml.open("rb"))
    text = msg.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if "/password/reset/" in w)
    return urlsplit(link).path


def test_a_reset_link_from_one_app_is_dead_on_the_other(apps) -> None:
    north, south = apps
    with TestClient(north) as n:
        page = n.get("/password/forgot")
        sent = n.post(
            "/password/forgot", data={"login": "jan", "csrf_token": csrf_token(page.text)}
        )
        assert sent.status_code == 200
    assert north.state.mailer.flush(10)
    # The message went out through north's mailer only.
    path = _reset_link(north.state.settings.outbox_dir)
    assert not list(south.state.settings.outbox_dir.glob("*.eml"))

    with TestClient(south) as s:
        # Same account id, same password hash: only the signing key tells them apart.
        dead = s.get(path)
        assert dead.status_code == 400 and "Ten odnośnik jest nieważny" in dead.text
    with TestClient(north) as n:
        alive = n.get(path)
        assert alive.status_code == 200 and "Ustaw hasło" in alive.text
    assert north.state.reset_tokens is not south.state.reset_tokens


def test_app_modules_do_not_import_the_app_factory() -> None:
    """Only the command line and tests import portal.app: the areas get everything they need
    from `request.app.state`, and csrf / templating import each other in one direction only."""
    code = (
        "import sys\n"
        "import portal.web.csrf\n"
        "assert 'portal.web.templating' not in sys.modules\n"
        "import portal.accounts.recovery, portal.accounts.mail, portal.premises.views\n"
        "import portal.slips.views, portal.secret_key\n"
        "assert 'portal.app' not in sys.modules, 'portal.app imported by an area'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
