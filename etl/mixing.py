"""64-bit mixing for hashes worked out over numpy columns: the content-defined cuts of a big
file (etl.reader.chunks), the per-premises row hashes and the input digests of a re-import
(etl.publisher.grouping, etl.publisher.reuse). Their values are stored (a re-import compares
them with the previous import's), so this function must never change."""

from __future__ import annotations

import numpy as np


def mixed(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (wrapping uint64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
