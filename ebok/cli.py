"""The `ebok` command. Each area registers its own subcommands; this module only composes them.

A subcommand's handler takes (args, settings) and returns the process exit status.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import sys
from collections.abc import Sequence

from ebok.console import note
from ebok.notices import command_notices
from ebok.settings import Settings

# Modules that expose `register(subparsers)`, in the order `ebok --help` lists their commands.
# Each registers only its own commands and never changes another's. They are imported only up to
# the one that owns the command being run, so that `ebok import` does not pay for the portal.
COMMAND_MODULES = (
    "etl.cli",  # import, sync, show, generations, rollback
    "etl.demo.generate",  # demo-data
    "ebok.serve",  # serve (the portal, given etl's import service)
    "portal.accounts.cli",  # accounts …
    "portal.panel.cli",  # staff …
    "ebok.demo_setup",  # demo-setup
    "ebok.backup",  # backup, restore
    "ebok.settings_cli",  # settings
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """All commands, or (given `command`) only the modules up to the one that registers it,
    so that `ebok import` does not pay for importing the portal's PDF stack."""
    parser = argparse.ArgumentParser(prog="ebok", description="EBOK: resident self-service portal")
    parser.add_argument(
        "--data-dir", help="runtime data directory (default: $EBOK_DATA_DIR or ./data)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
        if command is not None and command in sub.choices:
            break
    return parser


def _command(argv: Sequence[str] | None) -> str | None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--data-dir")
    _, rest = pre.parse_known_args(argv)
    return rest[0] if rest and not rest[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    # At exit the interpreter's last garbage collections walk every object still alive (the
    # libraries' ~80,000): 0.15-0.2 s of CPU after an `ebok import`, for nothing, since what
    # holds data (files, databases) is closed by then. Frozen, they are skipped; objects are
    # still freed as their modules go. (At exit, not now: a test process calls main() often.)
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    settings = Settings.from_env(data_dir=args.data_dir)
    try:
        if "after_publish" in vars(args):
            # etl's import commands: after each publish, the portal's e-mail notices.
            with command_notices(settings) as args.after_publish:
                return int(args.func(args, settings) or 0)
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        note("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
