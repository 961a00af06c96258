"""Panel benchmark: the manager's office panel's main GET pages under load, each signed in as
the staff member whose role uses it, over a generation of 50,000 premises.

Target (issue 11, "Quality"): every page answers with p99 < 50 ms at 20 concurrent clients,
without errors.

Run:  .venv/bin/python bench/panel_bench.py [--duration 4] [--rounds 3] [--premises 50000]
          [--accounts 10000] [--only PAGE]

Setup (about 30 s): `ebok demo-data --premises N --months 2` imported with `ebok import`, then
a second export (three months) imported over it, so that the history and the generations page
list more than one entry, and a third, broken export rejected (a history entry with a report);
`--accounts` resident accounts (default 10,000) opened on the first premises, with e-mail
addresses and application numbers; an `office` and an `accountant` member, each signed in
through the real pages (one-time password, own password, TOTP enrolment with pyotp) by httpx.
The app is the one `ebok serve` serves (ebok.serve.create_app: the portal with etl's import
service) under uvicorn, one worker, no access log, as bench/portal_bench.py runs the portal.

Each page is loaded by `wrk -t2 -c20 --latency` for `--duration` seconds, pages in turn, for
`--rounds` rounds (so that a noisy moment on the machine does not hit one page only); the
verdict uses each page's median p99 over the rounds. Before each run the member's cookie is
refreshed by one GET (a panel cookie whose `seen` is older than a minute is re-issued on every
request, which a browser never asks for), and after it the same GET must still answer 200 (wrk
counts a redirect to the login page as a success). Printed beside the latencies: the server's
CPU time per request (from /proc: its own, however busy the machine) and its full garbage
collections during the load (their pauses stop every request). (`ebok serve` freezes what start-
up made, so these are the collections of objects made under load.) Needs `wrk` (Debian: apt-get
install -y wrk). Everything runs on 127.0.0.1 in a temporary data dir. Figures:
docs/benchmarks.md, "Panel pages (issue 11)".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789abcdef0123"
STAFF_PASSWORD = "Biuro-zarzadcy-bench-2026"
CONCURRENCY = 20
TARGET_MS = 50.0
EBOK = [sys.executable, "-m", "ebok.cli"]


# ---------------------------------------------------------------------------- the server
def _serve(port: int, data_dir: str) -> None:
    import gc

    import uvicorn

    from ebok.serve import create_app
    from ebok.settings import Settings

    settings = Settings.from_env(
        {}, data_dir=data_dir, secret_key=SECRET, base_url=f"http://127.0.0.1:{port}"
    )
    app = create_app(settings)  # ebok.serve's: start-up's objects frozen out of the GC
    pauses = _GarbagePauses()
    gc.callbacks.append(pauses)
    # The bench says when the load starts (SIGUSR1) and asks what happened since (SIGUSR2).
    signal.signal(signal.SIGUSR1, lambda *_: pauses.pauses.clear())
    signal.signal(signal.SIGUSR2, lambda *_: print(pauses.summary(), file=sys.stderr, flush=True))
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


class _GarbagePauses:
    """Full (generation 2) collections of the cyclic garbage collector in the server, and how
    long each held every request up."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: list[float] = []

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self.started) * 1000)

    def summary(self) -> str:
        if not self.pauses:
            return "server: no full garbage collection"
        return (
            f"server: {len(self.pauses)} full garbage collections, longest"
            f" {max(self.pauses):.0f} ms, median {statistics.median(self.pauses):.0f} ms"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """One worker: this script's own server (which counts its garbage collections); more:
    `ebok serve --workers N` as deployed (its access log to /dev/null)."""
    port = _free_port()
    if workers == 1:
        cmd = [sys.executable, __file__, "--serve", "--port", str(port)]
        cmd += ["--data-dir", str(data_dir)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    else:
        cmd = [*EBOK, "--data-dir", str(data_dir), "serve", "--port", str(port)]
        cmd += ["--workers", str(workers)]
        env = dict(os.environ, EBOK_SECRET_KEY=SECRET, EBOK_BASE_URL=f"http://127.0.0.1:{port}")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                printed = proc.communicate()[1]
                raise RuntimeError(f"the panel server did not start: {printed}") from None
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def _stop(proc: subprocess.Popen) -> str:
    """Stop the server; what it printed (its garbage collections during the load)."""
    if proc.stderr is None:  # `ebok serve --workers N`: its workers too
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        return "server: ebok serve with several workers (garbage collections not counted)"
    proc.send_signal(signal.SIGUSR2)
    time.sleep(0.5)
    proc.terminate()
    try:
        return proc.communicate(timeout=15)[1].strip()
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[1].strip()


# ---------------------------------------------------------------------------- data
def _ebok(data_dir: Path, *args: str) -> str:
    cmd = [*EBOK, "--data-dir", str(data_dir), *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: an import that was rejected
        raise RuntimeError(f"{' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def _publish(tmp: Path, data_dir: Path, premises: int) -> list[str]:
    """Two published generations of `premises` premises and a rejected export; the ids."""
    first, second, broken = tmp / "export-1", tmp / "export-2", tmp / "export-broken"
    for folder, months in ((first, 2), (second, 3)):
        _ebok(data_dir, "demo-data", "--out", str(folder), "--premises", str(premises),
              "--months", str(months))  # fmt: skip
    print(_ebok(data_dir, "import", str(first)).strip().splitlines()[-1])
    print(_ebok(data_dir, "import", str(second)).strip().splitlines()[-1])
    shutil.copytree(first, broken)
    ledger = broken / "ledger.csv"
    lines = ledger.read_bytes().split(b"\n")
    lines[2] = lines[2] + b";x;y;z"
    ledger.write_bytes(b"\n".join(lines))
    out = _ebok(data_dir, "import", str(broken))
    assert "rejected" in out, out
    from ebok.settings import Settings
    from etl.snapshot.store import SnapshotStore

    settings = Settings.from_env({}, data_dir=data_dir, secret_key=SECRET)
    current = SnapshotStore(settings.snapshots_dir).current()
    assert current is not None
    return current.premises_ids()


def _accounts(data_dir: Path, premises_ids: list[str], count: int) -> None:
    """`count` resident accounts on the first premises, with e-mail and an application, and
    one office and one accountant member (their one-time passwords are returned)."""
    from datetime import date

    from portal.accounts import passwords
    from portal.accounts.service import Accounts

    accounts = Accounts(data_dir / "ebok.sqlite3")
    accounts.migrate()
    password_hash = passwords.hash_password("bench-kwiatowa-wiosna-47")  # one hash for all
    for n, premises_id in enumerate(premises_ids[:count], 1):
        accounts.create(
            f"mieszkaniec{n}",
            password_hash,
            [premises_id],
            email=f"mieszkaniec{n}@example.pl",
            must_change_password=False,
            application_date=date(2026, 1 + n % 12, 1 + n % 28),
            application_number=f"W/{n}/2026",
        )
    accounts.close()


def _staff(data_dir: Path) -> dict[str, tuple[str, str]]:
    """An office and an accountant member: role -> (login, one-time password)."""
    from portal.accounts.service import Accounts
    from portal.panel.staff import Staff

    accounts = Accounts(data_dir / "ebok.sqlite3")
    accounts.migrate()
    staff = Staff(accounts.db)
    made = {}
    for role in ("office", "accountant"):
        member, one_time = staff.create(f"bench-{role}", role)
        made[role] = (member.login, one_time)
    accounts.close()
    return made


# ---------------------------------------------------------------------------- signing in
def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(base_url: str, login: str, one_time: str):
    """An httpx client signed in to the panel through the real pages: the one-time password,
    one's own password, the authenticator app enrolled with the code pyotp computes."""
    import httpx
    import pyotp

    client = httpx.Client(base_url=base_url, timeout=30)
    page = client.get("/panel/login")
    answer = client.post(
        "/panel/login",
        data={"login": login, "password": one_time, "csrf_token": _token(page.text)},
    )
    assert answer.headers["location"] == "/panel/login/password", answer.text
    page = client.get("/panel/login/password")
    answer = client.post(
        "/panel/login/password",
        data={
            "new_password": STAFF_PASSWORD,
            "new_password_repeat": STAFF_PASSWORD,
            "csrf_token": _token(page.text),
        },
    )
    assert answer.headers["location"] == "/panel/login/enrol", answer.text
    page = client.get("/panel/login/enrol")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text).group(1)
    answer = client.post(
        "/panel/login/enrol",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": _token(page.text)},
    )
    assert answer.headers["location"] == "/panel/", answer.text
    return client


def _cookie(client, path: str) -> str:
    """The member's cookie, refreshed by a GET of `path` (which must answer 200)."""
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code, answer.headers)
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


# ---------------------------------------------------------------------------- load
def _cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children alive (the workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += _cpu_seconds(int(child))
            except FileNotFoundError:  # gone meanwhile
                pass
    return total


def _wrk(url: str, cookie: str, duration: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{duration}s", "--latency"]
    cmd += ["-H", f"Cookie: {cookie}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)],
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)],
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every page")
    parser.add_argument("--premises", type=int, default=50_000, help="premises published")
    parser.add_argument("--accounts", type=int, default=10_000, help="resident accounts")
    parser.add_argument("--only", help="only the pages whose name contains this")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (1: in-process, counting garbage collections; more: ebok serve)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.port, args.data_dir)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian package, loopback only)")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="ebok-panel-bench-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    server: subprocess.Popen | None = None
    clients = []
    try:
        started = time.monotonic()
        premises_ids = _publish(tmp, data_dir, args.premises)
        _accounts(data_dir, premises_ids, args.accounts)
        members = _staff(data_dir)
        server, base_url = _start(data_dir, args.workers)
        office = _sign_in(base_url, *members["office"])
        accountant = _sign_in(base_url, *members["accountant"])
        clients += [office, accountant]

        history = accountant.get("/panel/imports").text
        rejected, published = re.findall(r'href="/panel/imports/([^"/?]+)"', history)[:2]
        some = premises_ids[min(args.accounts, len(premises_ids)) // 2]
        found = office.get("/panel/accounts", params={"q": some}).text
        account_id = re.search(r'href="/panel/accounts/(\d+)"', found).group(1)
        # (page name, member, path, text the page must hold)
        pages = [
            ("home", office, "/panel/", "Konta mieszkańców"),
            ("accounts (newest)", office, "/panel/accounts", "mieszkaniec"),
            ("accounts ?q=<premises id>", office, f"/panel/accounts?q={some}", some),
            ("accounts ?q=kowalska", office, "/panel/accounts?q=kowalska", "Kowalsk"),
            ("accounts ?q=mieszkaniec1", office, "/panel/accounts?q=mieszkaniec1", "mieszkaniec1"),
            ("account page", office, f"/panel/accounts/{account_id}", "W/"),
            ("imports (history)", accountant, "/panel/imports", "nic nie opublikowano"),
            ("import: published", accountant, f"/panel/imports/{published}", "Opublikowano"),
            ("import: rejected", accountant, f"/panel/imports/{rejected}", "Odrzucono"),
            ("generations", accountant, "/panel/generations", "Generacje danych"),
        ]
        if args.only:
            pages = [p for p in pages if args.only in p[0]]
        for name, client, path, text in pages:  # warm-up (the search index is built here)
            # Each worker builds its own index on its first search: with several, the page is
            # asked for by several connections at once until every worker has answered it.
            with ThreadPoolExecutor(4 * args.workers) as pool:
                answers = list(pool.map(client.get, [path] * (4 * args.workers)))
            for page in answers:
                assert page.status_code == 200 and text in page.text, (name, page.status_code)
        setup = time.monotonic() - started
        print(
            f"setup {setup:.1f} s: {len(premises_ids)} premises published, {args.accounts}"
            f" accounts; {args.workers} server process(es); {os.cpu_count()} CPUs, load"
            f" average {os.getloadavg()[0]:.1f} before"
            f" the run; wrk -t2 -c{CONCURRENCY} -d{args.duration}s --latency,"
            f" {args.rounds} rounds"
        )
        results: dict[str, list[dict]] = {name: [] for name, *_ in pages}
        if args.workers == 1:
            server.send_signal(signal.SIGUSR1)  # count the server's collections from here on
        for _ in range(args.rounds):
            for name, client, path, _text in pages:
                cookie = _cookie(client, path)
                cpu = _cpu_seconds(server.pid)
                result = _wrk(base_url + path, cookie, args.duration)
                cpu = _cpu_seconds(server.pid) - cpu
                result["cpu_ms"] = cpu * 1000 / (result["rps"] * args.duration)
                _cookie(client, path)  # still signed in: every request was the page itself
                results[name].append(result)
        printed = _stop(server)
        server = None

        print("| page | req/s | CPU ms/req | p50 ms | p99 ms (median) | p99 ms (max) | errors |")
        print("|---|---|---|---|---|---|---|")
        failures = []
        for name, runs in results.items():
            p99 = statistics.median(r["p99_ms"] for r in runs)
            errors = sum(r["non2xx"] for r in runs)
            sockets = "; ".join(r["socket_errors"] for r in runs if r["socket_errors"])
            print(
                f"| {name} | {statistics.median(r['rps'] for r in runs):.0f}"
                f" | {statistics.median(r['cpu_ms'] for r in runs):.2f}"
                f" | {statistics.median(r['p50_ms'] for r in runs):.1f}"
                f" | {p99:.1f} | {max(r['p99_ms'] for r in runs):.1f}"
                f" | {errors}{' ' + sockets if sockets else ''} |"
            )
            if p99 >= TARGET_MS:
                failures.append(f"{name}: p99 {p99:.1f} ms ≥ {TARGET_MS:.0f} ms")
            if errors or sockets:
                failures.append(f"{name}: {errors} non-2xx/3xx answers {sockets}")
        print(printed)
        for failure in failures:
            print("FAIL " + failure)
        if not failures:
            print(f"PASS every page's p99 < {TARGET_MS:.0f} ms at {CONCURRENCY} clients, no errors")
        return 1 if failures else 0
    finally:
        for client in clients:
            client.close()
        if server is not None:
            _stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
