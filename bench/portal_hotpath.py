"""In-process profile of the signed-in premises page: ASGI calls straight into the app, no HTTP.

Builds a one-premises generation and an account in a temporary data dir, signs in through the
real /login form, then calls the application's ASGI callable in a loop with the session cookie,
alternating with a bare Starlette endpoint returning the same bytes, and prints microseconds
per request of each (median of the rounds). `--profile` adds a cProfile of the portal loop.

    .venv/bin/python bench/portal_hotpath.py [--rounds 7] [--requests 3000] [--profile]

`--tree DIR` measures the portal of another source tree (an export of an earlier commit); run
it then without the venv's site hook so that the editable install does not import this tree:
    PYTHONPATH=DIR:.venv/lib/python3.11/site-packages .venv/bin/python -S \
        bench/portal_hotpath.py --tree DIR

What HTTP costs (h11 parsing and writing, the event loop's socket work) is the same for both
servers and is left out here: bench/portal_bench.py measures the two under uvicorn and wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "bench-kwiatowa-wiosna-47"
PREMISES_ID = "KW5/12"
PATH = "/premises/KW5%2F12"


def _portal(data_dir: Path):
    from ebok.settings import Settings
    from etl.snapshot.store import SnapshotStore
    from portal.accounts.passwords import hash_password
    from portal.app import create_app
    from tests.builders import ledger_row, make_document, publish_documents

    settings = Settings.from_env({}, data_dir=data_dir, secret_key="hotpath-secret-0123456789abc")
    rows = [
        ledger_row(
            f"20{22 + y}-{m:02d}-01", f"Naliczenie {m:02d}", charge=45000, row=2 + 12 * y + m
        )
        for y in range(5)
        for m in range(1, 13)
    ]
    publish_documents(
        SnapshotStore(settings.snapshots_dir), [make_document(PREMISES_ID, ledger=rows)]
    )
    app = create_app(settings)
    app.state.accounts.create(
        "bench", hash_password(PASSWORD), [PREMISES_ID], must_change_password=False
    )
    return app


def _cookie(app) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login",
        data={"login": "bench", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.status_code
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def _bare(body: bytes):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(request):
        return HTMLResponse(body)

    return Starlette(routes=[Route("/premises/{rest:path}", page)])


def _scope(cookie: str, query: bytes = b"") -> dict:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"wrk"),
        (b"accept", b"*/*"),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/premises/KW5/12",
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


class _Sent(list):
    async def append_async(self, message) -> None:
        self.append(message)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the source tree to measure")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))

    tmp = Path(tempfile.mkdtemp(prefix="ebok-hotpath-"))
    try:
        app = _portal(tmp)
        cookie = _cookie(app)
        loop = asyncio.new_event_loop()

        async def run(app, cookie: str, n: int, query: bytes = b"") -> tuple[float, int, bytes]:
            template = _scope(cookie, query)

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            status, body = 0, b""
            start = time.perf_counter()
            for _ in range(n):
                sent = _Sent()
                scope = dict(template)
                scope["state"] = {}
                await app(scope, receive, sent.append_async)
                status = sent[0]["status"]
                body = sent[1]["body"]
            return (time.perf_counter() - start) / n * 1e6, status, body

        _, status, page = loop.run_until_complete(run(app, cookie, 200))
        assert status == 200 and b"Saldo" in page, status
        bare = _bare(page)
        loop.run_until_complete(run(bare, "", 200))
        times: dict[str, list[float]] = {"bare": [], "portal": [], "stack": []}
        for _ in range(args.rounds):
            times["bare"].append(loop.run_until_complete(run(bare, "", args.requests))[0])
            elapsed, status, body = loop.run_until_complete(run(app, cookie, args.requests))
            assert status == 200 and len(body) == len(page), status
            times["portal"].append(elapsed)
            # A query string the page ignores: the whole stack answers (no overview lane).
            elapsed, status, body = loop.run_until_complete(
                run(app, cookie, args.requests, b"from=bench")
            )
            assert status == 200 and len(body) == len(page), status
            times["stack"].append(elapsed)
        b, p, f = (statistics.median(times[k]) for k in ("bare", "portal", "stack"))
        print(
            f"{len(page)} bytes a page; µs per request, median of {args.rounds} rounds of"
            f" {args.requests}: bare {b:.1f}, portal {p:.1f} (+{p - b:.1f}),"
            f" portal with a query string {f:.1f} (+{f - b:.1f})"
        )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            loop.run_until_complete(run(app, cookie, args.requests))
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
