"""The portal as `ebok serve` runs it: the residents' portal and the panel, with the import
service injected.

The panel's import pages need etl's import service (etl.imports.ImportService: validation,
publishing, the lock, the history), but the portal may reach etl only through the snapshot
contract (.importlinter), so it declares what it needs as a Protocol
(portal.panel.importer.Importer) and is given the service here, in ebok, the one layer that
may import both halves. portal.cli still owns the `serve` command and its arguments; ebok.cli
runs it with `cmd_serve` below, which serves `create_app`'s app instead of the portal alone.
"""

from __future__ import annotations

import argparse
import logging

from starlette.applications import Starlette

from ebok.settings import Settings
from etl.imports import ImportService
from portal.app import create_app as create_portal


def create_app(settings: Settings) -> Starlette:
    """The portal with the import service: what `ebok serve` serves (and what tests of the
    import pages make)."""
    return create_portal(settings, importer=ImportService(settings))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """`ebok serve` (and `ebok demo-setup --serve`): the composed app under uvicorn."""
    import uvicorn  # as portal.cli does: only when a server really starts

    settings = settings.with_overrides(host=args.host, port=args.port)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"EBOK portal: http://{host}:{settings.port}/", flush=True)
    # The portal's own loggers (ebok.*: mail delivery, account events, imports) next to
    # uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0
