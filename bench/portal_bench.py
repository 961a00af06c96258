"""Portal benchmark: the signed-in premises page against a bare Starlette endpoint serving a
constant page of the same size, side by side in one run, same server settings (uvicorn, one
worker, no access log), same load generator (wrk, 2 threads, 20 connections).

Targets (issue 14, "Portal"):
  * premises page ≥ 70 % of the bare endpoint's requests per second (TARGET_RATIO);
  * p99 latency < 20 ms at 20 concurrent clients (TARGET_P99_MS);
  * server RSS flat over 10,000 requests (grows < 5 MB after warm-up).

Run:  .venv/bin/python bench/portal_bench.py [--duration 5] [--rounds 6] [--plain-bare]

The bare endpoint sends the portal page's response headers (the security headers, no-store,
Vary, Content-Language), taken from the portal's own response: what is measured is what the
portal's code costs, not what HTTP costs for the headers every page of a portal that shows
people's financial data must send (under uvicorn, those nine headers alone take a bare
endpoint from ~17,000 to ~11,500 requests a second: uvicorn checks each header with two
regular expressions). `--plain-bare` compares with Starlette's defaults alone, as the bench
did before.

`--spread 20 --premises 50000`: 20 accounts, each with its own premises spread through a
generation of 50,000 (the accounts' premises with five years of ledger, the rest with one, so
that the generation is built in well under a minute); wrk sends each request with the next
account's cookie and premises (a Lua script rotating over the 20, each thread starting
elsewhere), so 20 sessions and 20 documents are in play at once; the bare endpoint gets the
same requests. Before the load, each account's first view of its premises (a cache miss: the
document read from the 50,000 and the page rendered) is timed. Target: p99 < 20 ms.

The two servers are loaded in alternation, many short rounds rather than one long run each, so
that a noisy neighbour on the machine hits both alike; the verdict uses the median round, and
the script exits 1 when a target is missed. Needs `wrk` (Debian: apt-get install -y wrk).
Everything runs on 127.0.0.1 in a temporary data dir; nothing is fetched from anywhere.
`--database-url postgresql://…` keeps the accounts in that (empty) PostgreSQL database, as
EBOK_DATABASE_URL does: every request's session check is then a query to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789abcdef0123"
PASSWORD = "bench-kwiatowa-wiosna-47"
PREMISES_ID = "KW5/12"
CONCURRENCY = 20
DATABASE_VARIABLE = "BENCH_DATABASE_URL"  # --database-url, for the server processes
TARGET_RATIO = 0.70
TARGET_P99_MS = 20.0

# wrk: each request with the next line's path and cookie of the file given after `--`; each
# thread starts at another line.
ROTATE_LUA = """
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
function init(args)
  requests = {}
  for line in io.lines(args[1]) do
    local path, cookie = line:match("^([^\t]*)\t(.*)$")
    local headers = {}
    if cookie ~= "" then headers["Cookie"] = cookie end
    requests[#requests + 1] = wrk.format("GET", path, headers)
  end
  n = (offset or 0) * 7
end
function request()
  n = n % #requests + 1
  return requests[n]
end
"""


# ---------------------------------------------------------------------------- the two servers
def _serve(kind: str, port: int, data_dir: str, page_file: str) -> None:
    import uvicorn

    if kind == "portal":
        from ebok.settings import Settings
        from portal.app import create_app

        settings = Settings.from_env(
            {},
            data_dir=data_dir,
            secret_key=SECRET,
            base_url=f"http://127.0.0.1:{port}",
            database_url=os.environ.get(DATABASE_VARIABLE),
        )
        app = create_app(settings)
    else:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        body = Path(page_file).read_bytes()
        headers_file = Path(page_file).with_suffix(".headers.json")
        headers = json.loads(headers_file.read_text()) if headers_file.exists() else None

        async def page(request):
            return HTMLResponse(body, headers=headers)

        app = Starlette(routes=[Route("/premises/{rest:path}", page)])
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(
    kind: str, data_dir: Path, page_file: Path, tree: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """A server on a free port. With `tree`, the portal of another source tree (an export of
    an earlier commit: `git archive <commit> | tar -x -C DIR`), run by this interpreter without
    the venv's site hook (-S: the editable install would import this tree) and with the venv's
    packages on its path."""
    port = _free_port()
    script, env, cwd = Path(__file__), None, ROOT
    if tree is not None:
        script, cwd = tree / "bench" / "portal_bench.py", tree
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    cmd = [sys.executable, *(["-S"] if tree else []), str(script), "--serve", kind]
    cmd += ["--port", str(port), "--data-dir", str(data_dir), "--page-file", str(page_file)]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env)
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
def _ledger(n: int, years: int) -> list[list]:
    """Monthly charges and payments of premises number `n` for the last `years` years."""
    from tests.builders import ledger_row

    rows, r = [], 2
    for year in range(2027 - years, 2027):
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
    return rows


def _publish(data_dir: Path, premises: int, full: frozenset[int] | None = None) -> None:
    """A community of `premises` flats, each with five years of monthly charges and payments
    (~120 ledger rows), fee components and an allowance: a realistic document. With `full`,
    only those premises numbers get five years, the others one (a large generation, fast)."""
    from ebok.settings import Settings
    from etl.snapshot.store import SnapshotStore
    from tests.builders import make_document, publish_documents

    settings = Settings.from_env({}, data_dir=data_dir, secret_key=SECRET)
    docs = []
    for n in range(1, premises + 1):
        allowance = {
            "decision": f"DM/{n}/2026",
            "issuer": "Prezydent Miasta Krakowa",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "monthly_amount": 25000,
            "file": "allowances.csv",
            "row": n + 1,
        }
        years = 5 if full is None or n in full else 1
        docs.append(
            make_document(
                f"KW5/{n}", number=str(n), ledger=_ledger(n, years), allowances=[allowance]
            )
        )
    publish_documents(SnapshotStore(settings.snapshots_dir), docs)


def _create_accounts(data_dir: Path, accounts: dict[str, str]) -> None:
    """One account per login, each holding its premises id."""
    from portal.accounts import passwords
    from portal.accounts.service import Accounts

    store = Accounts(os.environ.get(DATABASE_VARIABLE) or data_dir / "ebok.sqlite3")
    store.migrate()
    hashed = passwords.hash_password(PASSWORD)
    for login, premises_id in accounts.items():
        store.create(login, hashed, [premises_id], must_change_password=False)
    store.close()


def _sign_in(base_url: str, login: str = "bench") -> dict[str, str]:
    """Session cookies, obtained through the real /login form. Taken afresh before each load
    run: wrk replays one Cookie header, and a session older than auth.SEEN_RESOLUTION would
    be re-issued (re-signed) on every request, which a browser never asks for."""
    import httpx

    with httpx.Client(base_url=base_url) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303, response.text
        return dict(client.cookies.items())


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# ---------------------------------------------------------------------------- load
def _wrk(url: str, cookie: str, duration: int, rotate: Path | None = None) -> dict[str, float]:
    """wrk's figures for `url`; with `rotate`, a file of `path<TAB>cookie` lines, each request
    goes to the next line's path with its cookie (ROTATE_LUA)."""
    cmd = ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{duration}s", "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    if rotate is not None:
        script = rotate.with_suffix(".lua")
        script.write_text(ROTATE_LUA)
        cmd += ["-s", str(script), url, "--", str(rotate)]
    else:
        cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
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
def _premises_path(premises_id: str) -> str:
    return "/premises/" + quote(premises_id, safe="")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of both")
    parser.add_argument("--premises", type=int, default=500, help="premises in the generation")
    parser.add_argument(
        "--spread", type=int, default=0, help="accounts, each on its own premises, wrk rotating"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="also load the portal of this source tree (an earlier commit) in every round",
    )
    parser.add_argument(
        "--database-url",
        help="accounts in this (empty) PostgreSQL database instead of SQLite (EBOK_DATABASE_URL)",
    )
    parser.add_argument(
        "--plain-bare",
        action="store_true",
        help="the bare endpoint without the portal's response headers (Starlette's only)",
    )
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
    if args.spread > args.premises:
        parser.error("--spread must not exceed --premises")
    if args.database_url:
        os.environ[DATABASE_VARIABLE] = args.database_url  # the servers started below inherit it

    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="ebok-bench-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    page_file = tmp / "page.html"
    procs: list[subprocess.Popen] = []
    if args.spread:
        step = args.premises // args.spread
        numbers = [1 + i * step for i in range(args.spread)]
        accounts = {f"bench{i}": f"KW5/{n}" for i, n in enumerate(numbers, 1)}
        full: frozenset[int] | None = frozenset(numbers)
    else:
        accounts, full = {"bench": PREMISES_ID}, None
    paths = {login: _premises_path(pid) for login, pid in accounts.items()}
    page_path = next(iter(paths.values()))
    try:
        started = time.monotonic()
        _publish(data_dir, args.premises, full)
        _create_accounts(data_dir, accounts)
        setup = time.monotonic() - started
        portal, portal_url = _start("portal", data_dir, page_file)
        procs.append(portal)
        urls = {"portal": portal_url}
        first_views, second_views = [], []
        for login, path in paths.items():
            # The first view reads the document and renders the page; the second, on the
            # same connection, is served from the caches: the difference is the miss.
            with httpx.Client(base_url=portal_url, cookies=_sign_in(portal_url, login)) as client:
                client.get("/healthz")  # the connection is open before the clock starts
                for views in (first_views, second_views):
                    moment = time.perf_counter()
                    page = client.get(path)
                    views.append((time.perf_counter() - moment) * 1000)
                    assert page.status_code == 200 and "Saldo" in page.text, page.status_code
            if path == page_path:
                page_file.write_bytes(page.content)
                if not args.plain_bare:  # the bare endpoint answers with the same headers
                    own = {"date", "server", "content-length", "content-type", "set-cookie"}
                    same = {k: v for k, v in page.headers.items() if k not in own}
                    page_file.with_suffix(".headers.json").write_text(json.dumps(same))
        bare, urls["bare"] = _start("bare", data_dir, page_file)
        procs.append(bare)
        assert len(httpx.get(urls["bare"] + page_path).content) == page_file.stat().st_size
        kinds = ["bare", "portal"]
        if args.before:
            before, urls["before"] = _start("portal", data_dir, page_file, args.before.resolve())
            procs.append(before)
            kinds.append("before")

        def rotation(kind: str) -> Path:
            """A fresh session per account on `kind`'s server (the bare one takes the
            portal's), one `path<TAB>cookie` line per account for wrk's rotation."""
            file = tmp / f"requests-{kind}.txt"
            if kind == "bare" and (tmp / "requests-portal.txt").exists():
                return tmp / "requests-portal.txt"  # the same requests; the bare ignores cookies
            server = urls["portal" if kind == "bare" else kind]
            lines = [
                f"{path}\t{_cookie_header(_sign_in(server, login))}"
                for login, path in paths.items()
            ]
            file.write_text("\n".join(lines) + "\n")
            return file

        def load(kind: str, duration: int) -> dict[str, float]:
            url = urls[kind] + page_path
            if args.spread:
                return _wrk(url, "", duration, rotation(kind))
            cookie = "" if kind == "bare" else _cookie_header(_sign_in(urls[kind]))
            return _wrk(url, cookie, duration)

        mode = (
            f"{args.spread} accounts on {args.spread} premises, wrk rotating over them"
            if args.spread
            else "one account, one premises"
        )
        print(
            f"page size: {page_file.stat().st_size} bytes; {args.premises} premises in the"
            f" generation (built in {setup:.1f} s); {mode}; {os.cpu_count()} CPUs, load average"
            f" {os.getloadavg()[0]:.1f} before the run; wrk -t2 -c{CONCURRENCY}"
            f" -d{args.duration}s --latency"
            + (f"; 'before': the portal of {args.before}" if args.before else "")
        )
        print(
            f"first view of each premises (document read, page rendered; httpx): median"
            f" {statistics.median(first_views):.1f} ms, max {max(first_views):.1f} ms; the"
            f" second view (cached): median {statistics.median(second_views):.1f} ms"
        )
        for kind in kinds:  # warm-up
            load(kind, 2)
        results: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for _ in range(args.rounds):
            for kind in kinds:
                results[kind].append(load(kind, args.duration))
        rss = (
            [] if args.spread else _memory(portal.pid, portal_url + page_path, _sign_in(portal_url))
        )

        columns = "| round | bare req/s | bare p99 ms | portal req/s | portal p99 ms | ratio |"
        if args.before:
            columns += " before req/s | before p99 ms | before ratio |"
        print(columns)
        print("|---" * (columns.count("|") - 1) + "|")
        ratios, p99s, before_ratios = [], [], []
        for i, b in enumerate(results["bare"]):
            p = results["portal"][i]
            ratios.append(p["rps"] / b["rps"])
            p99s.append(p["p99_ms"])
            row = (
                f"| {i + 1} | {b['rps']:.0f} | {b['p99_ms']:.2f} | {p['rps']:.0f} | "
                f"{p['p99_ms']:.2f} | {ratios[-1]:.2f} |"
            )
            if args.before:
                o = results["before"][i]
                before_ratios.append(o["rps"] / b["rps"])
                row += f" {o['rps']:.0f} | {o['p99_ms']:.2f} | {before_ratios[-1]:.2f} |"
            print(row)
            for kind in kinds:
                r = results[kind][i]
                if r["non2xx"] or r["socket_errors"]:
                    print(f"  errors ({kind}): non-2xx {r['non2xx']}, {r['socket_errors']}")
        ratio, p99 = statistics.median(ratios), statistics.median(p99s)
        print(
            f"median ratio {ratio:.2f} (min {min(ratios):.2f}, max {max(ratios):.2f});"
            f" portal p99 median {p99:.1f} ms (max {max(p99s):.1f} ms);"
            f" load average {os.getloadavg()[0]:.1f} after the run"
        )
        if args.before:
            before_p99 = statistics.median(r["p99_ms"] for r in results["before"])
            print(
                f"before: median ratio {statistics.median(before_ratios):.2f}"
                f" (min {min(before_ratios):.2f}, max {max(before_ratios):.2f});"
                f" p99 median {before_p99:.1f} ms"
            )
        checks = {
            f"p99 {p99:.1f} ms < {TARGET_P99_MS:.0f} ms": p99 < TARGET_P99_MS,
            "no errors": not any(
                r["non2xx"] or r["socket_errors"]
                for kind in ("bare", "portal")
                for r in results[kind]
            ),
        }
        if not args.spread:  # the spread run's target is its latency; its ratio is for reading
            growth = (rss[-1] - rss[1]) / 1024
            print("RSS (MB) every 1,000 requests:", " ".join(f"{k / 1024:.1f}" for k in rss))
            checks[f"throughput ratio {ratio:.2f} ≥ {TARGET_RATIO:.2f}"] = ratio >= TARGET_RATIO
            checks[f"RSS growth after warm-up {growth:.1f} MB < 5 MB over 9,000 requests"] = (
                growth < 5
            )
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
