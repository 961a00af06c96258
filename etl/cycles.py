"""An import runs without the cyclic garbage collector.

Importing pandas and pyarrow, reading a bundle and building its documents allocate millions of
short-lived objects, almost none of them in reference cycles; the collector would walk them all
again and again (measured: 40 % of the build time for 5 million ledger rows, and 0.05-0.2 s of
a 2 s re-import). Reference counting still frees everything; what few cycles an import leaves
are collected once the collector is back on (in a long-running process: the portal's imports).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector off while inside (and back on after, if it was on before)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
