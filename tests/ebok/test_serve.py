"""`ebok serve`, and the session secret it signs cookies with.

The `ebok accounts` commands are tested in tests/portal/accounts/test_cli.py, `ebok demo-setup`
in tests/ebok/test_demo_setup.py."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from etl.snapshot.store import RECHECK_SECONDS
from portal.app import create_app
from portal.secret_key import load_secret_key
from tests.builders import make_document, publish_documents
from tests.cli import ebok, one_time_password, sign_in


# -- the session secret -------------------------------------------------------------------------
def test_secret_key_is_generated_once_and_kept_private(settings):
    unset = dataclasses.replace(settings, secret_key=None)
    first = load_secret_key(unset)
    path = unset.secret_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 40 and load_secret_key(unset) == first
    # A configured key wins, and no file is needed for it.
    path.unlink()
    assert load_secret_key(settings) == "test-secret-key-0123456789abcdef"
    assert not path.exists()


def test_sessions_survive_a_restart_with_the_stored_secret(settings, capsys):
    unset = dataclasses.replace(settings, secret_key=None)
    ebok(unset, "accounts", "create", "--login", "jan", "--premises", "KW5/12")
    password = one_time_password(capsys.readouterr().out)
    client, _ = sign_in(create_app(unset), "jan", password)
    restarted = TestClient(create_app(unset), cookies=client.cookies)
    assert restarted.get("/password/change", follow_redirects=False).status_code == 200


# -- serve --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_on_the_given_port(settings, store):
    publish_documents(store, [make_document("KW5/12")])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ebok.cli",
            "--data-dir",
            str(settings.data_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as r:
            assert "Logowanie" in r.read().decode()
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        # A newly published generation shows up without a restart (within RECHECK_SECONDS).
        newer = publish_documents(store, [make_document("KW5/12", as_of="2026-11-27")])
        deadline = time.monotonic() + RECHECK_SECONDS + 5
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                if newer.id in r.read().decode():
                    break
            assert time.monotonic() < deadline, "the new generation was not picked up"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (settings.data_dir / "ebok.sqlite3").exists()


# -- several workers, proxies, logs: what `ebok serve` hands uvicorn ----------------------------
def _served(monkeypatch, settings, *args: str, env: dict[str, str] | None = None) -> dict:
    import uvicorn

    from ebok.cli import main
    from ebok.settings import SETTINGS

    for setting in SETTINGS:  # cmd_serve writes them for its workers; restored afterwards
        monkeypatch.delenv(setting.env, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    served: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    assert main(["--data-dir", str(settings.data_dir), "serve", *args]) == 0
    return served


def test_several_workers_build_the_app_from_the_settings_left_in_the_environment(
    settings, monkeypatch
):
    from ebok import serve
    from ebok.settings import Settings

    served = _served(
        monkeypatch, settings, "--workers", "3", "--port", "8124", env={"EBOK_PANEL": "off"}
    )
    assert served["app"] == "ebok.serve:app_factory" and served["factory"] is True
    assert served["workers"] == 3 and served["port"] == 8124
    assert os.environ["EBOK_DATA_DIR"] == str(settings.data_dir)  # the flag reaches workers
    assert os.environ["EBOK_WORKERS"] == "3" and os.environ["EBOK_PANEL"] == "off"
    assert "EBOK_SECRET_KEY" not in os.environ  # unset: each worker reads DATA/secret_key
    assert Settings.from_env().data_dir == settings.data_dir
    app = serve.app_factory()
    assert app.state.settings.data_dir == settings.data_dir and not app.state.settings.panel
    assert type(app.state.importer).__name__ == "ImportService"


def test_forwarded_headers_are_believed_only_from_trusted_proxies(settings, monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable changes nothing
    untrusted = _served(monkeypatch, settings, "--workers", "1")
    assert untrusted["proxy_headers"] is False and untrusted["forwarded_allow_ips"] == []
    proxies = {"EBOK_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}
    trusted = _served(monkeypatch, settings, "--workers", "1", env=proxies)
    assert trusted["proxy_headers"] is True
    assert trusted["forwarded_allow_ips"] == ["127.0.0.1", "10.0.0.0/8"]


def test_the_log_config_is_json_when_asked(settings, monkeypatch):
    json_logs = {"EBOK_LOG_FORMAT": "json"}
    config = _served(monkeypatch, settings, "--workers", "1", env=json_logs)["log_config"]
    assert {f["()"] for f in config["formatters"].values()} == {"ebok.logs.JsonFormatter"}
    assert all(h["filters"] == ["redact"] for h in config["handlers"].values())
