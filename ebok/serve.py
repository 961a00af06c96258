"""`ebok serve`: the residents' portal and the manager's panel under uvicorn, with the import
service injected.

The panel's import pages need etl's import service (etl.import_service.ImportService: validation,
publishing, the lock, the history), but the portal may reach etl only through the snapshot
contract (.importlinter), so it declares what it needs as a Protocol
(portal.panel.importer.Importer) and is given the service here, in ebok, the one layer that
may import both halves.

Several processes (`--workers N`, EBOK_WORKERS; the number of CPUs by default): uvicorn
starts each worker as a fresh interpreter that builds its own app through `app_factory`, from
the environment, so `cmd_serve` first writes every setting in effect (flags such as --data-dir
included) into its environment. The workers share nothing in memory; whatever has to be the same
for all of them is in the data dir: sessions and their revocation, TOTP steps, sign-in and
recovery throttles, the audit log and the office's letters waiting for download in ebok.sqlite3,
the published generations in snapshots/, the import history (with a running upload's progress)
in imports.sqlite3; the /metrics counts in a temporary directory (`metrics_dir`); reset tokens
are stateless (signed, bound to the password hash). Mail is queued in the memory of the worker
that served the request, and only that worker delivers it (or keeps it in outbox/failed/ at
exit), so no message goes out twice.

Whose address a request comes from: the peer's, unless the peer is one of EBOK_TRUSTED_PROXIES,
in which case uvicorn's proxy-headers middleware puts the X-Forwarded-For client (and the
X-Forwarded-Proto scheme) into the ASGI scope, which is all the portal reads
(portal.accounts.auth.client_address). Unset, nobody's headers are believed: uvicorn's own
default would trust 127.0.0.1, i.e. any local process or a proxy the manager did not mean.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ebok.logs import log_config
from ebok.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="serve the residents' portal and the panel")
    add_listen_arguments(serve)
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes (default: $EBOK_WORKERS or the number of CPUs)",
    )
    serve.set_defaults(func=cmd_serve)


def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    """--host and --port, overriding EBOK_HOST and EBOK_PORT."""
    parser.add_argument("--host", help="address to listen on (default: $EBOK_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $EBOK_PORT or 8000)")


def local_url(settings: Settings) -> str:
    """Where `ebok serve` listens, as a URL (EBOK_BASE_URL is the public address instead)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def create_app(settings: Settings) -> Starlette:
    """The portal with the import service: what `ebok serve` serves (and what tests of the
    import pages make)."""
    # Imported here, not at the top: `ebok --help` and every other command register this
    # module's parser, and need neither the web stack nor the importer.
    from etl.import_service import ImportService
    from portal.app import create_app as create_portal
    from portal.notices.job import job_for_app

    importer = ImportService(settings)
    app = create_portal(settings, importer=importer)
    # After an upload publishes: the e-mail notices, through the portal's own mailer.
    importer.after_publish = job_for_app(app.state)
    _settle_heap()
    return app


def _settle_heap() -> None:
    """Move everything start-up made (the web stack, and pandas and pyarrow, which the import
    service brings) out of the cycle collector's sight: a full collection over those ~100,000
    long-lived objects stopped every request for ~100 ms under load (bench/panel_bench.py,
    docs/benchmarks.md). Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


APP_FACTORY = f"{__name__}:app_factory"


def app_factory() -> Starlette:
    """A worker's app, from the settings `cmd_serve` left in the environment."""
    return create_app(Settings.from_env())


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `ebok serve` runs uvicorn for `settings` (the app aside)."""

    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_config": log_config(settings.log_format),
        "log_level": "info",
        # X-Forwarded-For/-Proto from these peers only; none: uvicorn's proxy middleware is
        # left out, and an empty list also overrides its default (127.0.0.1) and
        # $FORWARDED_ALLOW_IPS.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "server_header": False,
    }


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """`ebok serve` (and `ebok demo-setup --serve`, whose arguments have no --workers)."""
    import uvicorn  # only when a server really starts

    settings = settings.with_overrides(
        host=args.host, port=args.port, workers=getattr(args, "workers", None)
    )
    if settings.workers < 1:
        raise SystemExit("ebok serve: --workers must be at least 1")
    workers = f" ({settings.workers} processes)" if settings.workers > 1 else ""
    print(f"EBOK portal: {local_url(settings)}/{workers}", flush=True)
    options = uvicorn_options(settings)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    # Each worker builds its app from the environment (see the module docstring).
    for name, value in settings.environment().items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    with metrics_dir():
        uvicorn.run(APP_FACTORY, factory=True, **options)
    return 0


@contextmanager
def metrics_dir() -> Iterator[Path]:
    """Where the workers keep their /metrics counts for each other (prometheus-client's
    multiprocess mode, portal.web.metrics): PROMETHEUS_MULTIPROC_DIR if the operator set it,
    emptied (counts of an earlier run would be added to this one's), else a new temporary
    directory, removed when the server stops."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.db"):
            old.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="ebok-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(directory, ignore_errors=True)
