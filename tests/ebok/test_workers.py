"""`ebok serve` in production shape, run for real: several worker processes sharing the sign-in
throttle, whose X-Forwarded-For is believed (EBOK_TRUSTED_PROXIES), and JSON log lines that
carry no token, cookie or password (EBOK_LOG_FORMAT=json)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sqlite3
import time
from collections import defaultdict
from email import policy
from email.parser import BytesParser

import httpx
import pytest

from ebok.settings import Settings
from tests.builders import make_document, publish_documents
from tests.cli import ebok, one_time_password
from tests.ebok.server import serving, sign_in
from tests.forms import csrf_token

pytestmark = pytest.mark.slow

WRONG = "zle-haslo-123"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data dir with a generation and two accounts: jan (with e-mail) and ola."""
    from ebok.settings import Settings
    from etl.snapshot.store import SnapshotStore

    data = tmp_path_factory.mktemp("workers") / "data"
    settings = Settings.from_env({}, data_dir=data)
    publish_documents(SnapshotStore(settings.snapshots_dir), [make_document("KW5/12")])
    return data


def _create(data_dir, login, *extra) -> str:
    import contextlib
    import io

    from ebok.settings import Settings

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = ebok(
            Settings.from_env({}, data_dir=data_dir),
            "accounts",
            "create",
            "--login",
            login,
            "--premises",
            "KW5/12",
            *extra,
        )
    assert code == 0
    return one_time_password(out.getvalue())


@pytest.fixture(scope="module")
def behind_proxy(data_dir):
    """Two workers behind a proxy on 127.0.0.1, logging JSON; (server, jan's password)."""
    password = _create(data_dir, "jan", "--email", "jan@example.pl")
    with serving(
        data_dir,
        "--workers",
        "2",
        env={"EBOK_TRUSTED_PROXIES": "127.0.0.1", "EBOK_LOG_FORMAT": "json"},
    ) as server:
        yield server, password


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("EBOK portal: http://127.0.0.1:") and "2 processes" in lines[0]
    return [json.loads(line) for line in lines[1:]]  # every line after the banner is JSON


def test_the_throttle_is_one_for_all_workers(behind_proxy):
    """Each attempt on a new connection, which lands on either worker; after 3 free failures the
    4th makes the next attempt wait, whichever worker counted which failure. Rounds with their
    own login and address until one round's attempts were served by both workers (the access
    log says by which)."""
    server, _ = behind_proxy
    rounds = []
    for number in range(1, 9):
        address = f"203.0.113.{number}"
        statuses = []
        for _ in range(5):
            client, answer = sign_in(
                server.url, f"nikt{number}", WRONG, headers={"X-Forwarded-For": address}
            )
            client.close()
            statuses.append(answer.status_code)
        assert statuses == [400, 400, 400, 400, 429], (address, statuses)
        rounds.append(address)
    time.sleep(0.5)  # the access lines of the last requests
    workers_by_address = defaultdict(set)
    for entry in _json_lines(server.log()):
        if entry["logger"] == "uvicorn.access" and entry["path"] == "/login":
            if entry["method"] == "POST":
                workers_by_address[entry["client"].rsplit(":", 1)[0]].add(entry["pid"])
    spread = [a for a in rounds if len(workers_by_address[a]) > 1]
    assert spread, f"every round was served by one worker: {dict(workers_by_address)}"


def test_a_trusted_proxy_names_the_client(behind_proxy, data_dir):
    server, password = behind_proxy
    client, answer = sign_in(
        server.url, "jan", password, headers={"X-Forwarded-For": "198.51.100.23"}
    )
    client.close()
    assert answer.status_code == 303
    assert _last_sign_in(data_dir, "jan") == ("198.51.100.23", 1)


def test_json_logs_carry_no_token_cookie_or_password(behind_proxy, data_dir):
    server, password = behind_proxy
    client, answer = sign_in(server.url, "jan", password, headers={"X-Forwarded-For": "192.0.2.5"})
    assert answer.status_code == 303
    cookie = client.cookies["ebok_session"]
    assert client.get("/password/change").status_code == 200  # with the Cookie header
    client.close()
    # A real reset link, from the message the forgot form sends.
    outbox = data_dir / "outbox"
    before = set(outbox.glob("*.eml"))
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": "192.0.2.6"}) as other:
        page = other.get("/password/forgot")
        other.post("/password/forgot", data={"login": "jan", "csrf_token": csrf_token(page.text)})
    deadline = time.monotonic() + 20
    while not set(outbox.glob("*.eml")) - before:
        assert time.monotonic() < deadline, "no reset message"
        time.sleep(0.1)
    [eml] = set(outbox.glob("*.eml")) - before
    text = BytesParser(policy=policy.default).parsebytes(eml.read_bytes()).get_body(("plain",))
    token = re.search(r"/password/reset/(\S+)", text.get_content()).group(1)
    assert httpx.get(f"{server.url}/password/reset/{token}").status_code == 200
    # And the session cookie in a Cookie header of its own.
    headers = {"Cookie": f"ebok_session={cookie}"}
    assert httpx.get(f"{server.url}/password/change", headers=headers).status_code == 200
    time.sleep(0.5)

    log = server.log()
    for secret in (token, cookie, password, WRONG):
        assert secret not in log
    entries = _json_lines(log)
    assert {"time", "level", "logger", "message", "pid"} <= set(entries[-1])
    assert any(
        e["logger"] == "uvicorn.access" and e["path"] == "/password/reset/…" for e in entries
    )
    # The portal's own loggers come out as JSON from the workers too.
    signed_in = [e for e in entries if e["logger"] == "ebok.auth" and "signed in" in e["message"]]
    assert signed_in and "192.0.2.5" in signed_in[-1]["message"]


def test_without_trusted_proxies_the_peer_address_counts(data_dir, tmp_path):
    password = _create(data_dir, "ola")
    with serving(data_dir, "--workers", "1") as server:
        client, answer = sign_in(
            server.url, "ola", password, headers={"X-Forwarded-For": "198.51.100.99"}
        )
        client.close()
        assert answer.status_code == 303
        # /metrics: the peer (127.0.0.1, allowed by default) decides, not the header.
        forged = {"X-Forwarded-For": "198.51.100.99"}
        assert httpx.get(f"{server.url}/metrics", headers=forged).status_code == 200
        log = server.log()
    assert _last_sign_in(data_dir, "ola") == ("127.0.0.1", 1)
    assert "198.51.100.99" not in log
    assert "INFO:" in log or "INFO " in log  # text lines, not JSON


# -- state the workers share: the office's letters, /metrics -----------------------------------
def _new_connections(url: str) -> httpx.Client:
    """A client that opens a new connection (so lands on either worker) for every request."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=url, limits=limits, timeout=30)


def _pids_by_address(server, method: str, path: str) -> dict[str, int]:
    return {
        entry["client"].rsplit(":", 1)[0]: entry["pid"]
        for entry in _json_lines(server.log())
        if entry["logger"] == "uvicorn.access"
        and (entry["method"], entry["path"]) == (method, path)
    }


def test_a_letter_made_through_one_worker_downloads_through_the_other(behind_proxy, data_dir):
    """The office opens accounts (each answer names a letter's token) and downloads each
    letter on a new connection, until one letter was made by one worker and handed out by the
    other (each request says who it is by its X-Forwarded-For; the access log says which
    worker served it)."""
    from tests.portal.panel.flows import enrol_step, new_password_step, password_step, post_form

    server, _ = behind_proxy
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        settings = Settings.from_env({}, data_dir=data_dir)
        assert ebok(settings, "staff", "create", "--login", "biuro", "--role", "office") == 0
    office = _new_connections(server.url)
    assert password_step(office, "biuro", one_time_password(out.getvalue())).status_code == 303
    assert new_password_step(office).status_code == 303
    _, answer = enrol_step(office)
    assert answer.headers["location"] == "/panel/", answer.text
    application = {"application_date": "2026-11-24", "application_number": "W/1/2026"}
    made, taken = {}, {}
    for number in range(1, 11):
        office.headers["X-Forwarded-For"] = f"198.18.1.{number}"
        created = post_form(
            office,
            "/panel/accounts/new",
            {"login": f"lokator{number}", "premises": "KW5/12", **application},
        )
        assert created.status_code == 200, created.text
        token = re.search(r'name="token" value="([^"]+)"', created.text).group(1)
        office.headers["X-Forwarded-For"] = f"198.18.2.{number}"
        letter = office.post(
            "/panel/accounts/letter",
            data={"csrf_token": csrf_token(created.text), "token": token},
        )
        assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
        time.sleep(0.3)  # the access lines
        made = _pids_by_address(server, "POST", "/panel/accounts/new")
        taken = _pids_by_address(server, "POST", "/panel/accounts/letter")
        if made[f"198.18.1.{number}"] != taken[f"198.18.2.{number}"]:
            break
    else:
        raise AssertionError(f"every letter was made and taken by one worker: {made} {taken}")
    office.close()


def test_metrics_add_up_the_workers_and_believe_the_trusted_proxy(behind_proxy):
    server, _ = behind_proxy
    with _new_connections(server.url) as client:
        for _ in range(8):
            assert client.get("/healthz").status_code == 200
        time.sleep(1.5)  # each worker moves its counts to the shared files once a second
        counts = []
        for _ in range(4):  # scraped through either worker: the same sums
            page = client.get("/metrics")
            assert page.status_code == 200
            found = re.search(
                r'ebok_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)',
                page.text,
            )
            counts.append(float(found.group(1)))
        assert min(counts) >= 8
        # Behind the trusted proxy, the client it names decides.
        away = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.50"})
        assert away.status_code == 404


def _last_sign_in(data_dir, login: str) -> tuple[str, int]:
    with sqlite3.connect(data_dir / "ebok.sqlite3") as db:
        return db.execute(
            "SELECT client, success FROM sign_ins WHERE login = ? ORDER BY id DESC LIMIT 1",
            (login,),
        ).fetchone()


# -- mail: whatever sends kept messages, none goes out twice ------------------------------------
def test_two_mail_retries_at_once_send_each_kept_message_once(settings):
    from email.message import EmailMessage

    from portal.accounts.mail import Mailer

    sent: list[str] = []

    class Recording:
        def __init__(self, during=None) -> None:
            self.during = during

        def deliver(self, msg) -> str:
            if self.during is not None:  # the other run starts while this one is sending
                during, self.during = self.during, None
                assert during.retry_failed() == (2, 0)
            sent.append(msg["Subject"])
            return "recorded"

    keeper = Mailer(settings, transport=Recording())
    for number in range(3):
        msg = EmailMessage()
        msg["Subject"] = f"kept {number}"
        msg.set_content("x")
        keeper._keep(msg, "test")
    other = Mailer(settings, transport=Recording())
    first = Mailer(settings, transport=Recording(during=other))
    assert first.retry_failed() == (1, 0)
    assert sorted(sent) == ["kept 0", "kept 1", "kept 2"]
    assert list((settings.outbox_dir / "failed").iterdir()) == []
