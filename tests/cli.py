"""Running `ebok` in-process the way a manager types it, reading what it printed, and trying a
printed password on the portal."""

from __future__ import annotations

import os
import re
from unittest.mock import patch

from starlette.testclient import TestClient

from ebok.cli import main
from ebok.settings import Settings
from tests.forms import csrf_token

NEW_PASSWORD = "Zielony-kot-na-dachu"


def ebok(settings: Settings, *args: str) -> int:
    """`ebok ARGS` on the test's data dir (and its database, in the PostgreSQL pass)."""
    database = {"EBOK_DATABASE_URL": settings.database_url} if settings.database_url else {}
    with patch.dict(os.environ, database):
        return main(["--data-dir", str(settings.data_dir), *args])


def one_time_password(output: str) -> str:
    return re.search(r"one-time password: (\S+)", output).group(1)


def sign_in(app, login: str, password: str) -> tuple[TestClient, object]:
    """A new client, and the answer to its sign-in through the real /login form."""
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    return client, response


def change_password(client: TestClient, current: str, new: str):
    page = client.get("/password/change")
    return client.post(
        "/password/change",
        data={
            "csrf_token": csrf_token(page.text),
            "current_password": current,
            "new_password": new,
            "new_password_repeat": new,
        },
        follow_redirects=False,
    )
