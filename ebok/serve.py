"""`ebok serve`: the residents' portal and the manager's panel under uvicorn, with the import
service injected.

The panel's import pages need etl's import service (etl.imports.ImportService: validation,
publishing, the lock, the history), but the portal may reach etl only through the snapshot
contract (.importlinter), so it declares what it needs as a Protocol
(portal.panel.importer.Importer) and is given the service here, in ebok, the one layer that
may import both halves.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from ebok.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="serve the residents' portal and the panel")
    add_listen_arguments(serve)
    serve.set_defaults(func=cmd_serve)


def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    """--host and --port, overriding EBOK_HOST and EBOK_PORT."""
    parser.add_argument("--host", help="address to listen on (default: $EBOK_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $EBOK_PORT or 8000)")


def create_app(settings: Settings) -> Starlette:
    """The portal with the import service: what `ebok serve` serves (and what tests of the
    import pages make)."""
    # Imported here, not at the top: `ebok --help` and every other command register this
    # module's parser, and need neither the web stack nor the importer.
    from etl.imports import ImportService
    from portal.app import create_app as create_portal

    return create_portal(settings, importer=ImportService(settings))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """`ebok serve` (and `ebok demo-setup --serve`)."""
    import uvicorn  # only when a server really starts

    settings = settings.with_overrides(host=args.host, port=args.port)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"EBOK portal: http://{host}:{settings.port}/", flush=True)
    # The portal's own loggers (ebok.*: mail delivery, account events, imports) next to
    # uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0
