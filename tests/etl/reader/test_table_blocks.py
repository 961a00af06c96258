"""The fees table is read a block of rows at a time (etl.reader.table_blocks), like the ledger:
however many blocks a file takes, the accountant sees the same problems and the resident the
same fees as when the file is one block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl.model import BundleRejected
from etl.publisher.publish import publish
from etl.reader import stream
from etl.reader.bundle import read_bundle
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import minimal_tables, write_csv_bundle

ROWS_PER_BLOCK = 25


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of 25 rows: a few hundred fee lines take many of them. Returns the sizes of
    the blocks read."""
    whole = stream.blocks
    sizes: list[int] = []

    def blocks(*args: Any, **kwargs: Any) -> Iterator[Any]:
        pieces = whole(*args, **kwargs)
        yield next(pieces)  # the header
        for block in pieces:
            for at in range(0, len(block.rows), ROWS_PER_BLOCK):
                rows = block.rows[at : at + ROWS_PER_BLOCK]
                sizes.append(len(rows))
                yield stream.Block(block.table.slice(at, ROWS_PER_BLOCK), rows)

    monkeypatch.setattr(stream, "blocks", blocks)
    return sizes


def _many_fees() -> dict[str, list[dict[str, Any]]]:
    tables = minimal_tables()
    components = ["Fundusz remontowy", "Woda i ścieki", "Wywóz śmieci", "Zarząd", "Gaz"]
    tables["fees"] = [
        {
            "premises_id": "KW5/1" if i % 3 else "KW5/G-3",
            "component": components[i % len(components)],
            "basis": "m2",
            "quantity": f"{10 + i % 7},50",
            "rate": f"{i % 4},25",
            "amount": "" if i % 2 else f"{i},00",
            "valid_from": "01.01.2026" if i % 5 else "",
        }
        for i in range(300)
    ]
    return tables


def test_fees_in_many_blocks_are_the_fees_of_one(tmp_path: Path, request) -> None:
    path = write_csv_bundle(tmp_path / "b", _many_fees())
    whole = read_bundle(path).tables["fees"]
    one = SnapshotStore(tmp_path / "one")
    publish(read_bundle(path), one)

    sizes = request.getfixturevalue("small_blocks")
    blocks = read_bundle(path).tables["fees"]
    assert sizes.count(ROWS_PER_BLOCK) >= 300 // ROWS_PER_BLOCK  # the fees' blocks, at least
    assert len(blocks) == len(whole) == 300
    for column in whole.columns:
        assert blocks[column].tolist() == whole[column].tolist(), column
    many = SnapshotStore(tmp_path / "many")
    publish(read_bundle(path), many)
    a, b = one.current(), many.current()
    assert a is not None and b is not None
    assert a.manifest["content_digest"] == b.manifest["content_digest"]


def test_fees_in_many_blocks_name_the_same_problems(tmp_path: Path, request) -> None:
    tables = _many_fees()
    tables["fees"][7]["amount"] = "12,3,4"
    tables["fees"][250]["valid_from"] = "31.02.2026"
    tables["fees"][251]["component"] = ""
    tables["fees"][252] = {**tables["fees"][252], "quantity": "", "rate": "", "amount": ""}
    path = write_csv_bundle(tmp_path / "b", tables)
    with pytest.raises(BundleRejected) as whole:
        read_bundle(path)
    assert {p.row for p in whole.value.problems} == {9, 252, 253, 254}

    request.getfixturevalue("small_blocks")
    with pytest.raises(BundleRejected) as blocks:
        read_bundle(path)
    assert sorted(blocks.value.problems, key=str) == sorted(whole.value.problems, key=str)
