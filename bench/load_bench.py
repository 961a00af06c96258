"""Load benchmark: 200 residents at once, each on their own premises pages, for five minutes,
against `ebok serve` with one worker and with one worker per CPU, side by side.

Targets (issue 12, "Load and faults"): no errors, p99 < 100 ms, memory flat (the server's RSS
grows less than 10 % from the middle of the run to its end).

Run:  .venv/bin/python bench/load_bench.py [--duration 300] [--clients 200] [--workers 1,N]
          [--think 1.0]

Setup: a temporary data dir with a generation of `--clients` premises (five years of monthly
charges and payments each, fee components, an allowance: bench/portal_bench.py's documents)
and one account per premises. The server is `ebok serve --workers N` as deployed (a real
subprocess, uvicorn with httptools, access log on, written to a file). Each client signs in
through the real /login form (httpx), then keeps one keep-alive connection and requests its own
premises' pages in turn: overview, ledger, overview, fees, overview, allowances, reading each
for `--think` seconds on average (0.5 to 1.5 times it, at random, so that the clients do not
march in step; they also start at random within the first `--think` seconds). A resident
reads a page before opening the next; `--think 0` instead sends each request as soon as the
previous one answered, like wrk's connections in the other benches: that measures how many
requests a second the server can answer at all, and with 200 such clients the latency is
mostly their queue (200 / the rate). The clients are this script's own asyncio connections
(a minimal HTTP/1.1 client, ~20 µs a request, so that the load generator leaves the CPUs to
the server) and, unlike wrk, keep the cookie the server re-issues (a session's `seen` is
refreshed once a minute; replaying a stale cookie would make every request re-issue it, which
no browser asks for).

Errors: any answer but 200 (a redirect to /login included), a connection that fails, an answer
slower than 30 s. Latency: from writing the request to reading the whole page; each client's
first round of pages is not timed (its first view reads the premises' document and renders the
page, a cache miss that bench/portal_bench.py times on its own). RSS: the
server's processes together (the supervisor and its workers), when the load starts, at its
middle and at its end. Exits 1 when a target is missed in any configuration. Everything runs on
127.0.0.1; nothing is fetched from anywhere. Figures: docs/benchmarks.md, "Load (issue 12)".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.portal_bench import PASSWORD, SECRET, _publish  # noqa: E402

TARGET_P99_MS = 100.0
TARGET_RSS_GROWTH = 0.10
TIMEOUT = 30.0
PAGES = ("", "/ledger", "", "/fees", "", "/allowances")


# ---------------------------------------------------------------------------- data and server
def _accounts(data_dir: Path, count: int) -> dict[str, str]:
    """One account per premises: login -> premises id."""
    from portal.accounts import passwords
    from portal.accounts.service import Accounts

    logins = {f"mieszkaniec{n:03d}": f"KW5/{n}" for n in range(1, count + 1)}
    store = Accounts(data_dir / "ebok.sqlite3")
    store.migrate()
    hashed = passwords.hash_password(PASSWORD)
    for login, premises_id in logins.items():
        store.create(login, hashed, [premises_id], must_change_password=False)
    store.close()
    return logins


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data_dir: Path, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    env.update(
        EBOK_DATA_DIR=str(data_dir),
        EBOK_SECRET_KEY=SECRET,
        EBOK_BASE_URL=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
    )
    cmd = [sys.executable, "-m", "ebok.cli", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    import httpx

    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ebok serve did not start:\n{log.read_text()}")
        time.sleep(0.2)
    if workers > 1:  # until every worker answers (each imports the stack on its own)
        time.sleep(3)
    return proc, port


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tree_rss_kb(pid: int) -> int:
    """RSS of `pid` and its descendants (uvicorn's supervisor and its worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _sign_in(port: int, login: str) -> dict[str, str]:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = client.post(
            "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}
        )
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in of {login}: {answer.status_code}")
        return dict(client.cookies.items())


# ---------------------------------------------------------------------------- the clients
@dataclass
class Tally:
    latencies: array = field(default_factory=lambda: array("d"))
    errors: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers; the body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    length, chunked = 0, False
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, headers


async def _client(
    port: int,
    premises_id: str,
    cookies: dict[str, str],
    until: float,
    tally: Tally,
    think: float,
) -> None:
    base = "/premises/" + quote(premises_id, safe="")
    paths = [base + page for page in PAGES]
    reader = writer = None
    turn = 0
    if think:
        await asyncio.sleep(random.uniform(0, think))
    while time.monotonic() < until:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                tally.error("connect")
                await asyncio.sleep(0.1)
                continue
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        request = (
            f"GET {paths[turn % len(paths)]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Cookie: {cookie}\r\nUser-Agent: ebok-load-bench\r\n\r\n"
        ).encode()
        turn += 1
        start = time.perf_counter()
        try:
            writer.write(request)
            status, headers = await asyncio.wait_for(_read_answer(reader), TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            tally.error("connection")
            writer.close()
            reader = writer = None
            continue
        except TimeoutError:
            tally.error("timeout")
            writer.close()
            reader = writer = None
            continue
        if turn > len(PAGES):  # the first round warms the caches up (not timed)
            tally.latencies.append(time.perf_counter() - start)
        if status != 200:
            tally.error(f"HTTP {status}")
        if think:
            await asyncio.sleep(think * random.uniform(0.5, 1.5))
        for name, value in headers:
            if name == "set-cookie":  # as a browser keeps it
                pair = value.split(";", 1)[0]
                key, _, cookie_value = pair.partition("=")
                if "max-age=0" in value.lower() or not cookie_value:
                    cookies.pop(key, None)
                else:
                    cookies[key] = cookie_value
            elif name == "connection" and value.lower() == "close":
                writer.close()
                reader = writer = None
    if writer is not None:
        writer.close()


async def _load(
    port: int,
    pid: int,
    sessions: list[tuple[str, dict[str, str]]],
    duration: float,
    think: float,
) -> tuple[Tally, list[int], float]:
    """The clients for `duration` seconds; (tally, RSS at start/middle/end, seconds)."""
    tally = Tally()
    rss = [_tree_rss_kb(pid)]
    began = time.monotonic()
    until = began + duration
    tasks = [
        asyncio.create_task(_client(port, premises_id, cookies, until, tally, think))
        for premises_id, cookies in sessions
    ]
    await asyncio.sleep(duration / 2)
    rss.append(_tree_rss_kb(pid))
    await asyncio.gather(*tasks)
    rss.append(_tree_rss_kb(pid))
    return tally, rss, time.monotonic() - began


# ---------------------------------------------------------------------------- main
@dataclass
class Result:
    workers: int
    requests: int
    seconds: float
    errors: int
    kinds: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: list[float]
    server_errors: int

    @property
    def growth(self) -> float:
        return (self.rss_mb[2] - self.rss_mb[1]) / self.rss_mb[1]


def _run(
    data_dir: Path, logins: dict[str, str], workers: int, duration: float, think: float
) -> Result:
    log = data_dir.parent / f"serve-{workers}.log"
    proc, port = _serve(data_dir, workers, log)
    try:
        sessions = [(premises_id, _sign_in(port, login)) for login, premises_id in logins.items()]
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        tally, rss, seconds = runner(_load(port, proc.pid, sessions, duration, think))
    finally:
        _stop(proc)
    text = log.read_text("utf-8", errors="replace")
    server_errors = text.count("Traceback") + text.count(" 500 ")
    ms = sorted(x * 1000 for x in tally.latencies)
    return Result(
        workers,
        len(ms),
        seconds,
        tally.errors,
        tally.kinds,
        statistics.median(ms) if ms else 0.0,
        ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else 0.0,
        ms[-1] if ms else 0.0,
        [kb / 1024 for kb in rss],
        server_errors,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds per configuration")
    parser.add_argument("--clients", type=int, default=200, help="residents at once")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds a resident reads a page, on average (0: none, as fast as answered)",
    )
    cpus = os.cpu_count() or 1
    parser.add_argument(
        "--workers", default=f"1,{cpus}", help=f"worker counts to run (default: 1,{cpus})"
    )
    args = parser.parse_args()
    counts = list(dict.fromkeys(int(n) for n in args.workers.split(",")))

    temp = Path(tempfile.mkdtemp(prefix="ebok-load-"))
    try:
        data_dir = temp / "data"
        data_dir.mkdir()
        started = time.monotonic()
        _publish(data_dir, args.clients)
        logins = _accounts(data_dir, args.clients)
        print(
            f"{args.clients} premises and accounts in {time.monotonic() - started:.1f} s; "
            f"{cpus} CPUs, load average {os.getloadavg()[0]:.1f}; {args.clients} clients, "
            f"{args.duration:.0f} s per configuration, {args.think:g} s reading each page; "
            "pages: overview, ledger, overview, fees, overview, allowances",
            flush=True,
        )
        results = []
        for workers in counts:
            results.append(_run(data_dir, logins, workers, args.duration, args.think))
            print(f"  {workers} worker(s) done, load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(temp, ignore_errors=True)

    print(
        "| workers | requests | req/s | errors | p50 ms | p99 ms | max ms "
        "| RSS MB start / middle / end | middle→end |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rss = " / ".join(f"{mb:.0f}" for mb in r.rss_mb)
        row = (
            f"| {r.workers} | {r.requests:,} | {r.requests / r.seconds:,.0f} | {r.errors} "
            f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.0f} | {rss} | {r.growth:+.1%} |"
        )
        print(row.replace(",", " "))
    print(f"load average after the runs: {os.getloadavg()[0]:.1f}")
    ok = True
    for r in results:
        checks = [
            (r.errors == 0 and r.server_errors == 0,
             f"no errors ({r.errors}: {r.kinds or '-'}; server log: {r.server_errors})"),
            (r.p99_ms < TARGET_P99_MS, f"p99 {r.p99_ms:.1f} ms < {TARGET_P99_MS:.0f} ms"),
            (r.growth <= TARGET_RSS_GROWTH,
             f"RSS middle→end {r.growth:+.1%} ≤ {TARGET_RSS_GROWTH:.0%}"),
        ]  # fmt: skip
        for passed, text in checks:
            print(f"{'PASS' if passed else 'FAIL'} {r.workers} worker(s): {text}")
            ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
