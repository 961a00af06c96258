"""A ledger whose values are quoted, as spreadsheets and many ledger systems write them, is read
a block at a time like any other (etl.reader.stream): a big quoted export must not be held in
memory whole. Only a quoted value that holds a line break sends the file to the whole-file
reading, which numbers its rows exactly."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from etl.model import BundleRejected
from etl.reader import bundle as bundle_module
from etl.reader import first_pass, stream
from etl.reader.bundle import read_bundle
from tests.etl.builders import minimal_tables, write_csv_bundle


def _quoted(rows: list[dict[str, Any]], encoding: str = "cp1250") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow(list(row.values()))
    return out.getvalue().encode(encoding)


def _ledger_rows() -> list[dict[str, Any]]:
    rows = minimal_tables()["ledger"]
    rows[1]["description"] = 'Naliczenie; lokal "A" 01/2026'  # a separator and quotes inside
    rows[2]["document"] = ""
    return rows


@pytest.fixture
def whole_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files read whole (not a block at a time)."""
    names: list[str] = []
    real = bundle_module.read_csv_bytes

    def spy(name: str, data: bytes) -> Any:
        names.append(name)
        return real(name, data)

    monkeypatch.setattr(bundle_module, "read_csv_bytes", spy)
    return names


def _bundle(tmp_path: Path, ledger: bytes) -> Path:
    tables = minimal_tables()
    del tables["ledger"]
    path = write_csv_bundle(tmp_path / "b", tables)
    (path / "ledger.csv").write_bytes(ledger)
    return path


def _read_whole(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def no(*_args: Any, **_kwargs: Any) -> Any:
        raise stream.NotStreamable("as if")

    with monkeypatch.context() as m:
        m.setattr(first_pass, "scan", no)
        return read_bundle(path)


def test_a_quoted_ledger_is_read_in_blocks_with_the_values_unquoted(
    tmp_path: Path, whole_files: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _bundle(tmp_path, _quoted(_ledger_rows()))
    ledger = read_bundle(path).tables["ledger"]
    assert "ledger.csv" not in whole_files
    assert ledger["description"].tolist()[1] == 'Naliczenie; lokal "A" 01/2026'
    assert ledger["charge"].tolist() == [10000, 123456, 0, -1200]
    assert ledger["_row"].tolist() == [2, 3, 4, 5]
    whole = _read_whole(path, monkeypatch).tables["ledger"]
    for column in whole.columns.drop("details"):  # none in a CSV (a missing marker either way)
        assert ledger[column].tolist() == whole[column].tolist(), column


def test_a_quoted_ledger_names_the_same_problems_as_read_whole(
    tmp_path: Path, whole_files: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _ledger_rows()
    rows[0]["date"] = "31.02.2026"
    rows[3]["charge"] = "12,3,4"
    path = _bundle(tmp_path, _quoted(rows))
    with pytest.raises(BundleRejected) as blocks:
        read_bundle(path)
    assert "ledger.csv" not in whole_files
    with pytest.raises(BundleRejected) as whole:
        _read_whole(path, monkeypatch)
    assert blocks.value.problems == whole.value.problems
    assert [p.row for p in blocks.value.problems] == [2, 5]


def test_a_quoted_value_over_two_lines_is_read_whole_and_numbered_as_before(
    tmp_path: Path, whole_files: list[str]
) -> None:
    rows = _ledger_rows()
    rows[1]["description"] = "Naliczenie\r\n01/2026"
    path = _bundle(tmp_path, _quoted(rows))
    ledger = read_bundle(path).tables["ledger"]
    assert "ledger.csv" in whole_files
    assert ledger["description"].tolist()[1] == "Naliczenie\r\n01/2026"
    assert len(ledger) == 4


def test_quote_counting_carries_over_the_scan_pieces() -> None:
    assert first_pass._quotes(b'a;"b;', False) is True  # still open
    with pytest.raises(first_pass.NotStreamable):
        first_pass._quotes(b'c"\nd;"e\n', True)  # closed before the break, opened again
    assert first_pass._quotes(b'c""d";e\n', True) is False  # "" is a quote inside the value
    with pytest.raises(first_pass.NotStreamable):
        first_pass._quotes(b'open\nstill";x\n', True)
