"""Portal benchmark: the signed-in premises page against a bare Starlette endpoint serving a
constant page of the same size, side by side in one run, same server settings (uvicorn, one
worker, no access log), same load generator (wrk, 2 threads, 20 connections).

Targets (issue "Resident portal: sign-in and every view"):
  * premises page ≥ 50 % of the bare endpoint's requests per second;
  * p99 latency < 50 ms at 20 concurrent clients;
  * server RSS flat over 10,000 requests (grows < 5 MB after warm-up).

Run:  .venv/bin/python bench/portal_bench.py [--duration 5] [--rounds 6]

The two servers are loaded in alternation, many short rounds rather than one long run each, so
that a noisy neighbour on the machine hits both alike; the verdict uses the median round.
Needs `wrk` (Debian: apt-get install -y wrk). Everything runs on 127.0.0.1 in a temporary
data dir; nothing is fetched from anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789abcdef0123"
PASSWORD = "bench-kwiatowa-wiosna-47"
PREMISES_ID = "KW5/12"
CONCURRENCY = 20


# ---------------------------------------------------------------------------- the two servers
def _serve(kind: str, port: int, data_dir: str, page_file: str) -> None:
    import uvicorn

    if kind == "portal":
        from ebok.settings import Settings
        from portal.app import create_app

        settings = Settings.from_env(
            {}, data_dir=data_dir, secret_key=SECRET, base_url=f"http://127.0.0.1:{port}"
        )
        app = create_app(settings)
    else:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        body = Path(page_file).read_bytes()

        async def page(request):
            return HTMLResponse(body)

        app = Starlette(routes=[Route("/premises/{rest:path}", page)])
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(kind: str, data_dir: Path, page_file: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--page-file", str(page_file)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start") from None
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# ---------------------------------------------------------------------------- data and sign-in
def _publish(data_dir: Path, premises: int) -> None:
    """A community of `premises` flats, each with five years of monthly charges and payments
    (~120 ledger rows), four fee components and an allowance: a realistic document."""
    from ebok.settings import Settings
    from etl.snapshot.store import SnapshotStore
    from tests.builders import ledger_row, make_document, publish_documents

    settings = Settings.from_env({}, data_dir=data_dir, secret_key=SECRET)
    docs = []
    for n in range(1, premises + 1):
        rows, r = [], 2
        for year in range(2022, 2027):
            for month in range(1, 13):
                day = f"{year}-{month:02d}"
                rows.append(
                    ledger_row(
                        f"{day}-01",
                        f"Naliczenie {month:02d}/{year}",
                        charge=45000 + n,
                        period=day,
                        row=r,
                    )
                )
                rows.append(
                    ledger_row(
                        f"{day}-12",
                        "Wpłata",
                        payment=44000 + (month % 3) * 1000,
                        document=f"WB/{r}",
                        row=r + 1,
                    )
                )
                r += 2
        allowance = {
            "decision": f"DM/{n}/2026",
            "issuer": "Prezydent Miasta Krakowa",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "monthly_amount": 25000,
            "file": "allowances.csv",
            "row": n + 1,
        }
        docs.append(make_document(f"KW5/{n}", number=str(n), ledger=rows, allowances=[allowance]))
    publish_documents(SnapshotStore(settings.snapshots_dir), docs)


def _create_account(data_dir: Path) -> None:
    from portal.accounts import passwords
    from portal.accounts.service import Accounts

    accounts = Accounts(data_dir / "ebok.sqlite3")
    accounts.migrate()
    accounts.create(
        "bench", passwords.hash_password(PASSWORD), [PREMISES_ID], must_change_password=False
    )
    accounts.close()


def _sign_in(base_url: str) -> dict[str, str]:
    """Session cookies, obtained through the real /login form. Taken afresh before each load
    run: wrk replays one Cookie header, and a session older than auth.SEEN_RESOLUTION would
    be re-issued (re-signed) on every request, which a browser never asks for."""
    import httpx

    with httpx.Client(base_url=base_url) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/login", data={"login": "bench", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303, response.text
        return dict(client.cookies.items())


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# ---------------------------------------------------------------------------- load
def _wrk(url: str, cookie: str, duration: int) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{duration}s", "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


async def _fire(url: str, cookies: dict[str, str], count: int) -> int:
    """`count` requests over CONCURRENCY connections; returns how many were not 200."""
    import httpx

    bad = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(cookies=cookies, limits=limits) as client:

        async def worker() -> None:
            nonlocal bad
            while not queue.empty():
                queue.get_nowait()
                try:
                    r = await client.get(url)
                except httpx.TransportError:
                    bad += 1
                    continue
                bad += r.status_code != 200

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return bad


def _memory(
    pid: int, url: str, cookies: dict[str, str], total: int = 10_000, step: int = 1_000
) -> list[int]:
    samples = [_rss_kb(pid)]
    for _ in range(total // step):
        bad = asyncio.run(_fire(url, cookies, step))
        if bad:
            raise RuntimeError(f"{bad} requests did not return 200")
        samples.append(_rss_kb(pid))
    return samples


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of both")
    parser.add_argument("--premises", type=int, default=500, help="premises in the generation")
    parser.add_argument("--serve", choices=["portal", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--page-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port, args.data_dir, args.page_file)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian package, loopback only)")
        return 2

    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="ebok-bench-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    page_file = tmp / "page.html"
    procs: list[subprocess.Popen] = []
    try:
        _publish(data_dir, args.premises)
        _create_account(data_dir)
        portal, portal_url = _start("portal", data_dir, page_file)
        procs.append(portal)
        page_path = "/premises/" + PREMISES_ID.replace("/", "%2F")
        page = httpx.get(portal_url + page_path, cookies=_sign_in(portal_url))
        assert page.status_code == 200 and "Saldo" in page.text, page.status_code
        page_file.write_bytes(page.content)
        bare, bare_url = _start("bare", data_dir, page_file)
        procs.append(bare)
        assert len(httpx.get(bare_url + page_path).content) == len(page.content)

        print(
            f"page size: {len(page.content)} bytes; {args.premises} premises in the generation;"
            f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the run;"
            f" wrk -t2 -c{CONCURRENCY} -d{args.duration}s --latency"
        )
        _wrk(bare_url + page_path, "", 2)  # warm-up
        _wrk(portal_url + page_path, _cookie_header(_sign_in(portal_url)), 2)
        results: dict[str, list[dict]] = {"bare": [], "portal": []}
        for _ in range(args.rounds):
            results["bare"].append(_wrk(bare_url + page_path, "", args.duration))
            cookie = _cookie_header(_sign_in(portal_url))
            results["portal"].append(_wrk(portal_url + page_path, cookie, args.duration))
        rss = _memory(portal.pid, portal_url + page_path, _sign_in(portal_url))

        print("| round | bare req/s | bare p99 ms | portal req/s | portal p99 ms | ratio |")
        print("|---|---|---|---|---|---|")
        ratios, p99s = [], []
        for i, (b, p) in enumerate(zip(results["bare"], results["portal"], strict=True), 1):
            ratio = p["rps"] / b["rps"]
            ratios.append(ratio)
            p99s.append(p["p99_ms"])
            print(
                f"| {i} | {b['rps']:.0f} | {b['p99_ms']:.2f} | {p['rps']:.0f} | "
                f"{p['p99_ms']:.2f} | {ratio:.2f} |"
            )
            if p["non2xx"] or b["non2xx"] or p["socket_errors"]:
                print(
                    f"  errors: portal non-2xx {p['non2xx']}, bare {b['non2xx']}, "
                    f"{p['socket_errors']}"
                )
        growth = (rss[-1] - rss[1]) / 1024
        print("RSS (MB) every 1,000 requests:", " ".join(f"{k / 1024:.1f}" for k in rss))
        ratio, p99 = statistics.median(ratios), statistics.median(p99s)
        print(
            f"median ratio {ratio:.2f} (min {min(ratios):.2f}, max {max(ratios):.2f});"
            f" portal p99 median {p99:.1f} ms (max {max(p99s):.1f} ms)"
        )
        checks = {
            f"throughput ratio {ratio:.2f} ≥ 0.50": ratio >= 0.5,
            f"p99 {p99:.1f} ms < 50 ms": p99 < 50,
            f"RSS growth after warm-up {growth:.1f} MB < 5 MB over 9,000 requests": growth < 5,
            "no errors": not any(
                r["non2xx"] or r["socket_errors"] for rs in results.values() for r in rs
            ),
        }
        for name, ok in checks.items():
            print(("PASS " if ok else "FAIL ") + name)
        return 0 if all(checks.values()) else 1
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
