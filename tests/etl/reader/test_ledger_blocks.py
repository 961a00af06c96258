"""Ledger blocks: the shortcuts taken while coding a block give what plain hashing gives."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etl.reader.ledger_blocks import _encoded


@pytest.mark.parametrize("run", [1, 2, 3, 40, 1000])
def test_coding_by_runs_gives_the_codes_and_order_of_hashing_every_row(run: int) -> None:
    """A premises column in runs (sorted), with premises coming back later and empty cells:
    the same codes, and the distinct values in the order rows first show them."""
    rng = random.Random(run)
    values = []
    while len(values) < 5000:
        pid = rng.choice([f"KW5/{rng.randint(1, 300)}".encode(), b"", b"KW5/1"])
        values += [pid] * rng.randint(1, 2 * run)
    column = pa.array(values, pa.large_binary())
    expected = pc.dictionary_encode(column)
    codes, distinct = _encoded(column, runs=True)
    assert np.array_equal(codes, expected.indices.to_numpy(zero_copy_only=False))
    assert codes.dtype == expected.indices.to_numpy().dtype
    assert distinct.equals(expected.dictionary)


def test_coding_by_runs_of_one_row_or_none() -> None:
    for values in ([], [b"x"]):
        column = pa.array(values, pa.large_binary())
        codes, distinct = _encoded(column, runs=True)
        assert codes.tolist() == list(range(len(values)))
        assert distinct.to_pylist() == values
