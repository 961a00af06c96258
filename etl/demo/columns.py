"""The typed columns every `ebok demo-data` table is built from, before any file format.

The generators (etl.demo.generate, etl.demo.ledger, etl.demo.extras) fill numpy arrays of
integers and vocabulary indices; the writers (etl.demo.csv_writer, etl.demo.archives) turn the
same Table into CSV text or XLSX cells. Keeping the model apart lets a generator build tables
without importing a writer. Money is integer grosze and is printed from integers, never floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Col:
    """One column. `values` holds vocabulary indices (text), integers scaled by 10**scale
    (money: scale 2, grosze), integers, or date ordinals; `present` False means an empty cell."""

    name: str
    kind: str  # "text" | "money" | "dec" | "int" | "date"
    values: np.ndarray
    vocab: Sequence[str] | None = None
    scale: int = 0
    present: np.ndarray | None = None


@dataclass
class Table:
    name: str  # the contract's table name
    cols: list[Col]
    # (first column, end column, key): those columns' cells are a function of the key, so the
    # CSV writer formats them once per distinct key. Only an optimisation; XLSX ignores it.
    fused: list[tuple[int, int, np.ndarray]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.cols[0].values) if self.cols else 0
