"""A real `ebok serve` in a subprocess (real uvicorn, real workers), for tests that need one."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.forms import csrf_token

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    output: Path  # the server's stdout and stderr, together
    process: subprocess.Popen

    def log(self) -> str:
        return self.output.read_text("utf-8", errors="replace")


@contextlib.contextmanager
def serving(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, startup: float = 60
) -> Iterator[Server]:
    """`ebok --data-dir DATA serve --host 127.0.0.1 --port FREE ARGS`, with `env` added to an
    environment without any EBOK_ variable; until it answers on /healthz (any status)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    environ.update({"EBOK_BASE_URL": url, "PYTHONUNBUFFERED": "1", **(env or {})})
    output = data_dir.parent / f"serve-{port}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ebok.cli", "--data-dir", str(data_dir), "serve"]
            + ["--host", "127.0.0.1", "--port", str(port), *args],
            cwd=ROOT,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, output, process)
    try:
        deadline = time.monotonic() + startup
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=5)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise AssertionError(f"ebok serve ended:\n{server.log()}") from None
                assert time.monotonic() < deadline, f"ebok serve did not start:\n{server.log()}"
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(
    url: str, login: str, password: str, *, headers: dict[str, str] | None = None
) -> tuple[httpx.Client, httpx.Response]:
    """A new client (so a new connection, which may land on any worker) and its answer to a
    sign-in through the real form. Close the client when done."""
    client = httpx.Client(base_url=url, headers=headers or {}, timeout=30)
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf_token(page.text)},
    )
    return client, answer
