"""`ebok serve`: the resident portal under uvicorn.

The account commands are portal.accounts.cli's (`ebok accounts …`).
"""

from __future__ import annotations

import argparse
import logging

from ebok.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="serve the resident portal (uvicorn)")
    add_listen_arguments(serve)
    serve.set_defaults(func=cmd_serve)


def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    """--host and --port, overriding EBOK_HOST and EBOK_PORT."""
    parser.add_argument("--host", help="address to listen on (default: $EBOK_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $EBOK_PORT or 8000)")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from portal.app import create_app

    settings = settings.with_overrides(host=args.host, port=args.port)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"EBOK portal: http://{host}:{settings.port}/", flush=True)
    # The portal's own loggers (ebok.*: mail delivery, account events) next to uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0
