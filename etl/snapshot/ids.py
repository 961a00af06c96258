"""Premises ids as the portal's URLs carry them.

Ids come from the ledger system and contain `/`, spaces and worse (`KW5/12`, `G 3`, `../x`):
in a URL each is quoted as one path segment, and it is only ever a lookup key, never a path."""

from __future__ import annotations

from urllib.parse import quote


def quote_premises_id(premises_id: str) -> str:
    """`KW5/12` → `KW5%2F12`."""
    return quote(premises_id, safe="")
