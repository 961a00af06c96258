"""Ledger rows written as JSON in Arrow (etl.publisher.json_rows) are the very text orjson writes
for the same rows: a document, and the digest that tells a re-import what changed, must not
depend on which way its rows were written."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from etl.publisher.builder import FEE_KEYS, FEE_SOURCE, LEDGER_ORDER, LEDGER_SOURCE, json_default
from etl.publisher.grouping import Groups
from etl.publisher.json_rows import JsonRows

ODD_TEXT = ['Wpłata "gotówką"', "zaliczka\\korekta", "tab\there", "ąęłńóśźż€", "", "</script>"]


def _frame(n: int, *, details: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "premises_id": [f"P{i % 5}" for i in range(n)],
            "date": [f"2026-0{1 + i % 9}-1{i % 10}" for i in range(n)],
            "document": pd.Categorical([ODD_TEXT[i % len(ODD_TEXT)] for i in range(n)]),
            "description": [ODD_TEXT[(i * 7) % len(ODD_TEXT)] for i in range(n)],
            "period": [None if i % 4 else "2026-01" for i in range(n)],
            "charge": rng.integers(-(10**12), 10**12, n),
            "payment": np.zeros(n, dtype=np.int64),
            "_file": ["ledger.csv"] * n,
            "_row": np.arange(2, n + 2),
        }
    )
    if details:
        frame["details"] = [[{"k": "v", "n": i}] if i % 3 else None for i in range(n)]
    return frame


def _expected(groups: Groups, ids: list[str]) -> dict[str, bytes]:
    at, cols = groups.take(ids)
    rows = list(zip(*cols, strict=True))
    return {pid: orjson.dumps(rows[s:e], default=json_default) for pid, (s, e) in at.items()}


def _written(groups: Groups, ids: list[str]) -> dict[str, bytes]:
    at, selected = groups.select(ids)
    text = JsonRows(groups, json_default).text(selected)
    return {pid: orjson.dumps(text.fragment(s, e)) for pid, (s, e) in at.items()}


def test_rows_are_written_as_orjson_writes_them() -> None:
    groups = Groups(_frame(400), LEDGER_ORDER, LEDGER_SOURCE)
    for ids in (["P0", "P1", "P2", "P3", "P4"], ["P3", "P1"], ["P4"]):
        assert _written(groups, ids) == _expected(groups, ids)


def test_lists_of_details_and_missing_values_are_written_alike() -> None:
    groups = Groups(_frame(60, details=True), LEDGER_ORDER, LEDGER_SOURCE)
    ids = ["P0", "P2", "P4"]
    assert _written(groups, ids) == _expected(groups, ids)
    assert b'"details"' not in b"".join(_written(groups, ids).values())  # values, not names
    assert b'{"k":"v","n":1}' in _written(groups, ["P1"])["P1"]


def test_a_premises_without_rows_has_an_empty_list() -> None:
    groups = Groups(_frame(10), LEDGER_ORDER, LEDGER_SOURCE)
    _, selected = groups.select(["P1"])
    text = JsonRows(groups, json_default).text(selected)
    assert orjson.dumps({"rows": text.fragment(0, 0)}) == b'{"rows":[]}'


def test_fee_lines_are_written_as_the_objects_orjson_writes() -> None:
    n = 50
    fees = pd.DataFrame(
        {
            "premises_id": [f"P{i % 4}" for i in range(n)],
            "component": [ODD_TEXT[i % len(ODD_TEXT)] for i in range(n)],
            "basis": ["m2"] * n,
            "quantity": [f"{i}.5" for i in range(n)],
            "rate": ["" if i % 3 else "2.54" for i in range(n)],
            "amount": np.arange(n) * -137,
            "valid_from": [None if i % 2 else "2026-01-01" for i in range(n)],
            "_file": ["fees.csv"] * n,
            "_row": np.arange(2, n + 2),
        }
    )
    groups = Groups(fees, ("_file", "_row"), FEE_SOURCE)
    ids = ["P0", "P1", "P3"]
    at, cols = groups.take(ids)
    lines = [dict(zip(FEE_KEYS, v, strict=True)) for v in zip(*cols, strict=True)]
    expected = {pid: orjson.dumps(lines[s:e]) for pid, (s, e) in at.items()}
    at, selected = groups.select(ids)
    text = JsonRows(groups, json_default, FEE_KEYS).text(selected)
    assert {pid: orjson.dumps(text.fragment(s, e)) for pid, (s, e) in at.items()} == expected
