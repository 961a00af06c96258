"""`/metrics` in Prometheus' text format, for the addresses the operator allows
(EBOK_METRICS_ALLOW; anybody else gets 404).

What is measured:

* `ebok_http_requests_total{route, method, status}` and
  `ebok_http_request_duration_seconds{route}`: every request, labelled with its route's
  template (`/premises/{premises_id:premises_id}`), never the raw path: premises ids, tokens and
  whatever a scanner tries stay out of the labels (a path no route matched is `unmatched`);
* `ebok_sign_ins_total{who, result}`: residents' (`/login`) and staff's (the panel's password
  and code steps) sign-in answers: success, failure (wrong login, password or code), refused
  (a disabled or closed account, after the right password) and throttled;
* `ebok_imports_total{result}`: the import history by result (every `ebok import`, `ebok sync`
  and panel upload; read from the history when scraped);
* `ebok_generation_age_seconds`: since the generation being served was imported;
* `ebok_mail_queued` (messages the server processes hold to deliver) and `ebok_mail_failed`
  (messages kept in outbox/failed/ for `ebok accounts mail-retry`).

Several server processes (`ebok serve --workers N`) each count their own requests;
prometheus-client's multiprocess mode adds them up when PROMETHEUS_MULTIPROC_DIR names a
directory they share (ebok.serve makes a fresh one per start). A request's cost must stay
tiny (the overview's lane answers in tens of µs): when its answer starts, its route, status
and time are added to this process's totals (a request's time is the time to its status and
headers); a thread adds what they grew by to prometheus-client's values once a second (and
before a scrape, and at exit), off the requests' path (`Recorder`).
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ebok.metrics")

PATH = "/metrics"
UNMATCHED = "unmatched"
FLUSH_SECONDS = 1.0
# Seconds; the portal's pages answer in milliseconds, PDFs and uploads take longer.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Which answers of which sign-in forms count as what (the views' status codes).
_SIGN_INS: dict[tuple[str, str], tuple[str, dict[int, str]]] = {
    ("/login", "POST"): (
        "resident",
        {303: "success", 400: "failure", 403: "refused", 429: "throttled"},
    ),
    ("/panel/login", "POST"): ("staff", {400: "failure", 403: "refused", 429: "throttled"}),
    ("/panel/login/code", "POST"): ("staff", {303: "success", 400: "failure", 429: "throttled"}),
    ("/panel/login/enrol", "POST"): ("staff", {303: "success", 400: "failure", 429: "throttled"}),
}

# This process's metrics: in its own registry (single process) or in the shared directory's
# files (multiprocess mode, chosen by prometheus-client from the environment at import).
REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "ebok_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "ebok_http_request_duration_seconds",
    "Time to answer a request, by route template",
    ["route"],
    buckets=BUCKETS,
    registry=REGISTRY,
)
SIGN_INS = Counter(
    "ebok_sign_ins",
    "Sign-in answers: who (resident, staff) and result (success, failure, refused, throttled)",
    ["who", "result"],
    registry=REGISTRY,
)
MAIL_QUEUED = Gauge(
    "ebok_mail_queued",
    "Messages waiting in the server processes to be delivered",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Allowed:
    """EBOK_METRICS_ALLOW: addresses and networks, or `*` for any."""

    def __init__(self, items: Iterable[str]) -> None:
        items = tuple(items)
        self.any = "*" in items
        self.networks = tuple(ipaddress.ip_network(i) for i in items if i != "*")

    def __contains__(self, address: str) -> bool:
        if self.any:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # not an IP address (a Unix socket, a test client)
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


class Recorder:
    """This process's request counts and time sums since it started.

    `record` runs on the event loop's thread, for every request: a few dict and list updates,
    no lock, nothing kept per request. The flushing thread copies the totals (`dict(...)` and
    `list(...)` copy in one step under the GIL) and adds what grew since its last copy to
    prometheus-client's values: its work grows with the number of routes, not of requests, so
    it hardly ever holds the GIL the event loop waits for, and no object lives on per request
    for the cycle collector to walk. Two threads recording at once (tests' clients) may lose
    an increment; a server's one event loop cannot."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.sums: dict[str, list[float]] = {}  # route -> [sum, count per bucket…, +Inf]
        self._applied_counts: dict[tuple[str, str, int], int] = {}
        self._applied_sums: dict[str, list[float]] = {}
        self._lock = threading.Lock()  # one flush at a time
        self._flusher: threading.Thread | None = None
        self.sources: weakref.WeakSet[Any] = weakref.WeakSet()  # app states: their mailers

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        sums = self.sums.get(route)
        if sums is None:
            sums = self.sums[route] = [0.0] * (len(BUCKETS) + 2)
        sums[0] += seconds
        sums[1 + bisect_left(BUCKETS, seconds)] += 1

    def start(self) -> None:
        """The flushing thread of this process (the first app made starts it)."""
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._run, name="ebok-metrics", daemon=True)
            self._flusher.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # a metric must never stop the next second's
                log.exception("metrics flush")

    def flush(self) -> None:
        """Add what the totals grew by since the last flush to prometheus-client's values
        (this process's files in multiprocess mode); set the mail queue's length."""
        with self._lock:
            counts = dict(self.counts)
            sums = {route: list(values) for route, values in dict(self.sums).items()}
            for (route, method, status), total in counts.items():
                grown = total - self._applied_counts.get((route, method, status), 0)
                if not grown:
                    continue
                REQUESTS.labels(route, method, str(status)).inc(grown)
                sign_in = _SIGN_INS.get((route, method))
                if sign_in is not None and status in sign_in[1]:
                    SIGN_INS.labels(sign_in[0], sign_in[1][status]).inc(grown)
            for route, values in sums.items():
                before = self._applied_sums.get(route) or [0.0] * len(values)
                grown_sums = [now - was for now, was in zip(values, before, strict=True)]
                if not any(grown_sums[1:]):
                    continue
                child = DURATION.labels(route)
                # Histogram.observe, for many observations at once: its sum and its per-bucket
                # counts (each observation counts in the first bucket that holds it).
                child._sum.inc(grown_sums[0])
                for bucket, count in zip(child._buckets, grown_sums[1:], strict=True):
                    if count:
                        bucket.inc(count)
            self._applied_counts, self._applied_sums = counts, sums
            MAIL_QUEUED.set(sum(_mail_queued(state) for state in self.sources))

    def close(self) -> None:
        self.flush()
        directory = multiprocess_dir()
        if directory is not None:  # this process's share of the live gauges is gone
            multiprocess.mark_process_dead(os.getpid(), directory)


RECORDER = Recorder()


def _mail_queued(state: Any) -> int:
    mailer = getattr(state, "mailer", None)
    return mailer.pending if mailer is not None else 0


class RequestMetrics:
    """The outermost layer of the portal: times and counts every request, and answers
    `/metrics` to the allowed addresses (404 to others, before any other layer sees it).

    The route of a request is what the router put into the scope (`scope["route"]`); a GET of
    the overview that the lane (portal.overview_lane) answered never reached the router, and
    is recognised by the overview route's own pattern."""

    def __init__(self, app: ASGIApp, *, state: Any, overview: Any = None) -> None:
        self.app = app
        self.state = state
        self.allowed = Allowed(state.settings.metrics_allow)
        self.overview = overview
        self.overview_label = overview.path if overview is not None else UNMATCHED
        self.overview_regex = overview.path_regex if overview is not None else None
        RECORDER.sources.add(state)
        RECORDER.start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == PATH:
            await self._metrics(scope, send)
            return
        start = perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                seconds = perf_counter() - start
                status = message["status"]
                RECORDER.record(self.route(scope, status), scope["method"], status, seconds)
            await send(message)

        await self.app(scope, receive, sending)

    def route(self, scope: Scope, status: int) -> str:
        """The label of the request's route."""
        route = scope.get("route")
        if route is not None:
            return getattr(route, "path", None) or UNMATCHED
        if status == 200 and self.overview_regex is not None:
            if self.overview_regex.match(scope["path"]):
                return self.overview_label  # answered by the lane
        return UNMATCHED

    async def _metrics(self, scope: Scope, send: Send) -> None:
        client = scope.get("client")
        if scope["method"] != "GET" or not client or client[0] not in self.allowed:
            await _answer(send, 404, b"Not Found", b"text/plain; charset=utf-8")
            return
        body = exposition(self.state)
        await _answer(send, 200, body, CONTENT_TYPE_LATEST.encode())


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def exposition(state: Any) -> bytes:
    """The text a scrape gets: every process's counts (multiprocess mode) or this one's, and
    what is read now from the data dir."""
    RECORDER.flush()
    directory = multiprocess_dir()
    if directory is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    now = CollectorRegistry()
    now.register(_DataDir(state))
    return generate_latest(registry) + generate_latest(now)


class _DataDir:
    """What a scrape reads at that moment: the current generation, the import history, the
    failed mail."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "ebok_generation_age_seconds",
            "Seconds since the generation being served was imported (absent: none yet)",
        )
        generation = self.state.store.current()
        imported = generation.manifest.get("imported_at") if generation is not None else None
        if imported:
            seconds = (datetime.now(UTC) - datetime.fromisoformat(imported)).total_seconds()
            age.add_metric([], max(0.0, seconds))
        yield age

        imports = CounterMetricFamily(
            "ebok_imports", "Imports in the history, by result", labels=["result"]
        )
        results = getattr(getattr(self.state, "importer", None), "results", None)
        for result, count in sorted((results() if results is not None else {}).items()):
            imports.add_metric([result], count)
        yield imports

        failed = GaugeMetricFamily(
            "ebok_mail_failed", "Undelivered messages kept in outbox/failed/ for mail-retry"
        )
        failed.add_metric([], _count_files(self.state.settings.outbox_dir / "failed"))
        yield failed


def _count_files(directory: Path) -> int:
    try:
        return sum(1 for p in directory.iterdir() if p.suffix == ".eml")
    except OSError:
        return 0
