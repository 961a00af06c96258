"""`ebok settings`: every setting, its variable, current value, default and meaning."""

from __future__ import annotations

import argparse

from ebok.settings import SETTINGS, Setting, Settings, show

HEADER = ("variable", "value", "default", "meaning")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "settings",
        help="print every setting: variable, current value, default, meaning",
        description="Print the configuration in effect (environment variables, then --data-dir)"
        ". Secrets that are set are shown as ***.",
    )
    p.set_defaults(func=cmd_settings)


def variable(setting: Setting) -> str:
    return f"{setting.env} ({setting.flag})" if setting.flag else setting.env


def current(setting: Setting, settings: Settings) -> str:
    value = getattr(settings, setting.name)
    if setting.secret and value is not None:
        return "***"
    return show(value)


def rows(settings: Settings) -> list[tuple[str, str, str, str]]:
    return [(variable(s), current(s, settings), s.default_text, s.help) for s in SETTINGS]


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    table = [HEADER, *rows(settings)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for *cells, meaning in table:
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)), meaning, sep="  ")
    return 0
