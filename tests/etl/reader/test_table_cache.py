"""A re-import takes the fees, allowances and communities of an unchanged file from the last
import's cache (etl.reader.table_cache): the same tables, problems and published documents as
reading them anew, and anything doubtful (a changed byte, a damaged cache, a file with
problems) read anew."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from etl.model import BundleRejected
from etl.publisher.publish import publish
from etl.reader import first_pass, stream, table_cache, validate
from etl.reader.bundle import read_bundle
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import flipped, minimal_tables, write_csv_bundle

TABLES = ("fees", "allowances", "communities")
COMPONENTS = ["Fundusz remontowy", "Woda i ścieki", "Wywóz śmieci", "Zarząd", "Gaz"]


def _tables() -> dict[str, list[dict[str, Any]]]:
    """The minimal bundle with 300 fee lines (amounts written and worked out, dates given
    and left empty), a second community and a few allowances."""
    tables = minimal_tables()
    community = tables["communities"][0]
    tables["communities"].append(
        {**community, "community_id": "WM-LI3", "postal_code": "30002", "nip": ""}
    )
    tables["allowances"] += [
        {
            "premises_id": "KW5/G-3",
            "decision": f"DM/{i}/2026" if i % 2 else "",
            "issuer": "",
            "valid_from": f"01.0{i}.2026",
            "valid_to": "31.12.2026",
            "monthly_amount": f"{i * 10},5",
        }
        for i in range(1, 6)
    ]
    tables["fees"] = [
        {
            "premises_id": "KW5/1" if i % 3 else "KW5/G-3",
            "component": COMPONENTS[i % len(COMPONENTS)],
            "basis": "m2" if i % 4 else "",
            "quantity": f"{10 + i % 7},50",
            "rate": f"{i % 4},25",
            "amount": "" if i % 2 else f"{i},00",
            "valid_from": "01.01.2026" if i % 5 else "",
        }
        for i in range(300)
    ]
    return tables


class _Validated:
    """Counts the rows validated (those not taken from the cache): fees in `rows`, and per
    table in `tables`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tables = dict.fromkeys(TABLES, 0)
        for table in TABLES:
            real = validate.VALIDATORS[table]

            def counting(raw, problems, real=real):  # type: ignore[no-untyped-def]
                self.tables[raw.table] += len(raw.frame)
                return real(raw, problems)

            monkeypatch.setitem(validate.VALIDATORS, table, counting)

    @property
    def rows(self) -> int:
        return self.tables["fees"]


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> _Validated:
    return _Validated(monkeypatch)


@pytest.fixture
def fees_scanned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fee files the first pass scans (a file taken from the cache is only hashed)."""
    scan = first_pass.scan
    names: list[str] = []

    def counting(fh, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(getattr(fh, "name", "")).endswith("fees.csv"):
            names.append(fh.name)
        return scan(fh, *args, **kwargs)

    monkeypatch.setattr(first_pass, "scan", counting)
    return names


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 40 rows, so that the fees are joined from many (text as categoricals)."""
    whole = stream.blocks

    def blocks(*args: Any, **kwargs: Any) -> Iterator[Any]:
        pieces = whole(*args, **kwargs)
        yield next(pieces)
        for block in pieces:
            for at in range(0, len(block.rows), 40):
                yield stream.Block(block.table.slice(at, 40), block.rows[at : at + 40])

    monkeypatch.setattr(stream, "blocks", blocks)


def _fees(path: Path, data: Path | None) -> pd.DataFrame:
    return read_bundle(path, work_dir=data / "work" if data else None).tables["fees"]


def _entry(data: Path, table: str = "fees") -> Path:
    return data / "cache" / table_cache.FOLDER / f"{table}.arrow"


def test_allowances_and_communities_from_the_cache_are_those_validated_anew(
    tmp_path: Path, validated: _Validated
) -> None:
    path = write_csv_bundle(tmp_path / "b", _tables(), names={"allowances": "dodatki.csv"})
    data = tmp_path / "data"
    fresh = read_bundle(path).tables
    read_bundle(path, work_dir=data / "work")
    assert validated.tables == {"fees": 600, "allowances": 12, "communities": 4}
    assert all(_entry(data, table).is_file() for table in TABLES)

    again = read_bundle(path, work_dir=data / "work").tables
    assert validated.tables == {"fees": 600, "allowances": 12, "communities": 4}
    for table in TABLES:
        pd.testing.assert_frame_equal(again[table], fresh[table])
    assert again["allowances"]["_file"].tolist() == ["dodatki.csv"] * 6
    assert again["communities"]["postal_code"].tolist() == ["30-001", "30-002"]
    assert again["communities"]["nip"].tolist() == ["1234563218", ""]
    assert again["communities"]["fee_notes"].tolist() == [None, None]


def test_files_without_their_optional_columns_come_back_the_same(
    tmp_path: Path, validated: _Validated
) -> None:
    tables = _tables()
    tables["fees"] = [
        {k: v for k, v in r.items() if k not in ("basis", "valid_from")} for r in tables["fees"]
    ]
    tables["allowances"] = [
        {k: v for k, v in r.items() if k not in ("decision", "issuer")}
        for r in tables["allowances"]
    ]
    tables["communities"] = [
        {k: v for k, v in r.items() if k != "nip"} for r in tables["communities"]
    ]
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    fresh = read_bundle(path).tables
    read_bundle(path, work_dir=data / "work")
    again = read_bundle(path, work_dir=data / "work").tables
    assert validated.tables == {"fees": 600, "allowances": 12, "communities": 4}
    for table in TABLES:
        pd.testing.assert_frame_equal(again[table], fresh[table])


def test_a_premises_row_still_takes_its_community_s_place_from_a_cached_communities(
    tmp_path: Path,
) -> None:
    tables = _tables()
    tables["premises"][1]["postal_code"] = ""
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    read_bundle(path, work_dir=data / "work")
    premises = read_bundle(path, work_dir=data / "work").tables["premises"]
    assert premises["postal_code"].tolist() == ["30-001", "30-001"]
    assert premises["city"].tolist() == ["Kraków", "Kraków"]


@pytest.mark.parametrize("blocks", ["one block", "many blocks"])
def test_fees_from_the_cache_are_the_fees_validated_anew(
    tmp_path: Path,
    validated: _Validated,
    fees_scanned: list[str],
    request: pytest.FixtureRequest,
    blocks: str,
) -> None:
    if blocks == "many blocks":
        request.getfixturevalue("small_blocks")
    path = write_csv_bundle(tmp_path / "b", _tables())
    data = tmp_path / "data"
    fresh = _fees(path, None)
    first = _fees(path, data)
    assert validated.rows == 600 and _entry(data).is_file()
    assert len(fees_scanned) == 2

    again = _fees(path, data)
    assert validated.rows == 600  # nothing validated: the cache's frame
    assert len(fees_scanned) == 2  # nor scanned
    pd.testing.assert_frame_equal(again, fresh)
    pd.testing.assert_frame_equal(again, first)
    if blocks == "many blocks":
        assert isinstance(again["component"].dtype, pd.CategoricalDtype)
    assert again["_file"].tolist() == ["fees.csv"] * 300
    assert again["_row"].tolist() == list(range(2, 302))


def test_a_generation_published_from_the_cache_is_the_same(
    tmp_path: Path, validated: _Validated
) -> None:
    path = write_csv_bundle(tmp_path / "b", _tables())
    data = tmp_path / "data"
    digests = []
    for name in ("first", "cached", "fresh"):
        store = SnapshotStore(tmp_path / name)
        publish(read_bundle(path, work_dir=data / "work" if name != "fresh" else None), store)
        generation = store.current()
        assert generation is not None
        digests.append(generation.manifest["content_digest"])
    assert validated.rows == 600  # the first and the fresh reading; the second was cached
    assert digests[0] == digests[1] == digests[2]


def test_a_changed_byte_in_the_file_is_validated_anew(
    tmp_path: Path, validated: _Validated
) -> None:
    tables = _tables()
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    _fees(path, data)
    fees = path / "fees.csv"
    fees.write_bytes(fees.read_bytes().replace(b"Zarz\xc4\x85d", b"Zarz\xc4\x85D", 1))

    again = _fees(path, data)
    assert validated.rows == 600
    assert "ZarząD" in set(again["component"])
    pd.testing.assert_frame_equal(again, _fees(path, None))


@pytest.mark.parametrize(
    "damage", ["cut short", "a byte changed", "the head changed", "not a cache file", "empty"]
)
def test_a_damaged_cache_file_is_ignored(
    tmp_path: Path, validated: _Validated, damage: str
) -> None:
    path = write_csv_bundle(tmp_path / "b", _tables())
    data = tmp_path / "data"
    expected = _fees(path, data)
    entry = _entry(data)
    content = entry.read_bytes()
    if damage == "cut short":
        entry.write_bytes(content[: len(content) // 2])
    elif damage == "a byte changed":
        at = len(content) * 2 // 3
        entry.write_bytes(flipped(content, at))
    elif damage == "the head changed":
        assert content.count(b'"utf-8"') == 1
        entry.write_bytes(content.replace(b'"utf-8"', b'"cp1250"'))
    elif damage == "not a cache file":
        entry.write_bytes(b"ARROW1" + content[40:])
    else:
        entry.write_bytes(b"")

    again = _fees(path, data)  # no traceback: read and validated anew
    assert validated.rows == 600
    pd.testing.assert_frame_equal(again, expected)
    assert entry.read_bytes() == content  # and kept again, whole
    _fees(path, data)
    assert validated.rows == 600


def test_other_aliases_read_the_file_anew(tmp_path: Path, validated: _Validated) -> None:
    tables = _tables()
    tables["fees"] = [{**{k: v for k, v in r.items() if k != "rate"}, "cena": r["rate"]}
                      for r in tables["fees"]]  # fmt: skip
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[fees]\nrate = ["Cena"]\n', "utf-8")
    named = read_bundle(path, aliases_file=aliases, work_dir=data / "work")
    assert named.tables["fees"]["rate"].iloc[1] == "1.25"
    aliases.write_text('[fees]\nquantity = ["Ilość"]\n', "utf-8")
    with pytest.raises(BundleRejected) as rejected:  # the rate unknown: no amount on 150 lines
        read_bundle(path, aliases_file=aliases, work_dir=data / "work")
    assert rejected.value.total == 150
    assert validated.rows == 600


@pytest.mark.parametrize(
    ("table", "row", "column", "value"),
    [("fees", 7, "amount", "12,3,4"), ("allowances", 0, "monthly_amount", "250 zł 5")],
)
def test_a_table_with_a_problem_is_not_kept(
    tmp_path: Path, validated: _Validated, table: str, row: int, column: str, value: str
) -> None:
    tables = _tables()
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    read_bundle(path, work_dir=data / "work")
    before = validated.tables[table]
    tables[table][row][column] = value
    write_csv_bundle(path, tables)
    for _ in range(2):
        with pytest.raises(BundleRejected) as rejected:
            read_bundle(path, work_dir=data / "work")
        assert [(p.table, p.row, p.value) for p in rejected.value.problems] == [
            (table, row + 2, value)
        ]
    assert validated.tables[table] == 3 * before  # validated each time
    assert not _entry(data, table).exists()  # the clean file's entry went: one import's


def test_the_cache_holds_the_last_import_only(tmp_path: Path) -> None:
    tables = _tables()
    data = tmp_path / "data"
    for i in range(3):
        tables["fees"][0]["amount"] = f"{i},00"
        _fees(write_csv_bundle(tmp_path / f"b{i}", tables), data)
    kept = sorted(p.name for p in (data / "cache" / table_cache.FOLDER).iterdir())
    assert kept == ["allowances.arrow", "communities.arrow", "fees.arrow", "premises.arrow"]


def test_a_cache_that_cannot_be_written_is_not_an_error(
    tmp_path: Path, validated: _Validated
) -> None:
    path = write_csv_bundle(tmp_path / "b", _tables())
    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    (data / "cache" / table_cache.FOLDER).write_text("a file where the folder would be")
    expected = _fees(path, None)
    for _ in range(2):
        pd.testing.assert_frame_equal(_fees(path, data), expected)
    assert validated.rows == 900
