"""While an import runs, memory it frees is kept for its next allocations, not handed back to
the system and asked for again.

An import of 5 million ledger rows makes and drops many arrays of tens of megabytes. By
default glibc maps each allocation above its threshold (128 KB, rising to 32 MB) afresh and
unmaps it when freed, and Arrow's allocator (mimalloc) returns freed pages shortly after; the
kernel then zeroes every page again when it is next touched: ~1 s of the import's ~10 s of CPU
went to zeroing pages (perf: `clear_page_erms`). Here glibc takes everything from its heap and
keeps what is freed (no mmap, no trimming), and Arrow allocates through glibc too, so one pool
of memory serves both. Measured on the 5 M-row bench bundle, five alternating pairs against
the code before: CPU 10.1-12.4 s (median 10.95) against 10.2-13.4 s (11.95), system time
1.49-1.84 s against 1.61-2.49 s, peak RSS 786-791 MB against 841-859 MB (docs/benchmarks.md).

On leaving, glibc's defaults are put back (setting them turns glibc's own adjustment of the
mmap threshold off for good: harmless) and the free memory at the top of its heap is returned
(`malloc_trim`): the portal's process runs imports too and stays up after them. Elsewhere than
glibc only Arrow's allocator changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# mallopt(3) parameters and glibc's defaults for them
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
KEEP_ALL = 2**31 - 1  # a trim threshold (an int) no heap top reaches


def glibc() -> Any | None:
    """The C library, when it is glibc (mallopt's parameters are glibc's own): the running
    program's own symbols, which hold libc's (ctypes loaded only here: `ebok sync` of an empty
    inbox imports this module and needs none of it)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError):  # no such name: not glibc
        return None
    import ctypes

    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextmanager
def kept(libc: Any | None = None) -> Iterator[None]:
    """Freed memory kept for reuse while inside (see the module's docstring). `libc`: the C
    library to tune (tests pass a recorder), by default glibc's when it is the one running."""
    import pyarrow as pa  # here: `ebok sync` of an empty inbox does not load it

    libc = glibc() if libc is None else libc
    if libc is not None:
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_ALL)
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(pool)
        if libc is not None:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
