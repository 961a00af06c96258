"""A file that is not a table is refused from its head, without being read into memory: a lone
file or a folder's file is read whole only once its head could be that table."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from etl.model import BundleRejected, Problem
from etl.reader import archive, bundle, sheets
from etl.reader.bundle import read_bundle
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle

ROOT = Path(__file__).resolve().parents[3]
LOREM = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit\n"


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path)
    return info.value.problems


NOT_TABLES = {"ledger.csv", "obroty.csv", "big.csv", "ledger.xlsx"}  # what the tests make so


def forbid_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, reading one of NOT_TABLES whole fails the test."""
    read = archive.Member.read

    def guarded(member: archive.Member) -> bytes:
        assert member.name not in NOT_TABLES, f"{member.name} was read whole"
        return read(member)

    monkeypatch.setattr(archive.Member, "read", guarded)


@pytest.fixture
def unread(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_reading(monkeypatch)


def bundle_with_ledger(tmp_path: Path, content: bytes, name: str = "ledger.csv") -> Path:
    tables = minimal_tables()
    del tables["ledger"]
    d = write_csv_bundle(tmp_path / "b", tables)
    (d / name).write_bytes(content)
    return d


def full_read_problems(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Problem]:
    """The problems reading every file whole gives."""
    with monkeypatch.context() as m:
        m.setattr(bundle, "refused_by_header", lambda *_args: [])
        return problems_of(path)


def test_binary_data_is_refused_from_its_head(tmp_path: Path, unread: None) -> None:
    d = bundle_with_ledger(tmp_path, bytes(200_000))
    [problem] = problems_of(d)
    assert (problem.file, problem.table) == ("ledger.csv", "ledger")
    assert "looks like UTF-16 or a binary file" in problem.reason


def test_text_without_the_tables_header_is_refused_from_its_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = bundle_with_ledger(tmp_path, LOREM * 5000)
    expected = full_read_problems(d, monkeypatch)
    forbid_reading(monkeypatch)
    got = problems_of(d)
    assert got == expected
    assert [p.reason for p in got] == [
        "required column premises_id is missing",
        "required column date is missing",
        "required column description is missing",
    ]


def test_a_polish_header_missing_a_column_is_refused_as_reading_it_whole_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"Id lokalu": "KW5/1", "Data": "01.01.2026", "Treść": "Wpłata", "Wpłata": "1,00"},
        {"Id lokalu": "KW5/1", "Data": "02.01.2026", "Treść": "Wpłata", "Wpłata": "2,00"},
    ]
    for encoding in ("utf-8", "cp1250", "iso-8859-2"):
        d = write_csv_bundle(tmp_path / encoding, {k: v for k, v in minimal_tables().items()
                                                    if k != "ledger"})  # fmt: skip
        write_csv(d / "obroty.csv", [{k: v for k, v in r.items() if k != "Data"} for r in rows],
                  encoding=encoding)  # fmt: skip
        expected = full_read_problems(d, monkeypatch)
        assert [p.reason for p in expected] == ["required column „Data” (date) is missing"]
        assert problems_of(d) == expected


def test_a_header_the_head_cannot_settle_is_read_whole(tmp_path: Path) -> None:
    # ś is 0x9C in Windows-1250 and a control character in ISO-8859-2: in the head alone the
    # two readings of this header differ, so the file is read whole before it is judged.
    text = "Id lokalu;Treść;Właściciel\nKW5/1;x;y\n".encode("cp1250")
    assert len(sheets.csv_headers("obroty.csv", text)) == 2
    d = bundle_with_ledger(tmp_path, text, "obroty.csv")
    assert [p.reason for p in problems_of(d)] == ["required column „Data” (date) is missing"]


def test_a_lone_file_not_named_by_a_table_is_never_read(tmp_path: Path, unread: None) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(LOREM * 1000)
    [problem] = problems_of(path)
    assert "file name does not name a table" in problem.reason
    xlsx = tmp_path / "ledger.xlsx"
    xlsx.write_bytes(LOREM * 1000)
    [problem] = problems_of(xlsx)
    assert problem.reason.startswith("not a readable XLSX workbook")


def test_a_good_file_is_still_read_whole(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    assert len(read_bundle(d).tables["ledger"]) == 4


@pytest.mark.slow
def test_a_300_mb_file_that_is_not_a_table_is_refused_in_little_memory(tmp_path: Path) -> None:
    binary = tmp_path / "binary" / "ledger.csv"
    text = tmp_path / "text" / "obroty.csv"
    for path in (binary, text):
        path.parent.mkdir()
        with path.open("wb") as fh:
            if path is text:
                fh.write(LOREM * 20_000)  # 1.1 MB of text, then a hole: 300 MB in all
            fh.truncate(300 * 1024**2)
    script = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        from etl.model import BundleRejected
        from etl.reader.bundle import read_bundle

        def peak_kb():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

        out = []
        for arg in sys.argv[1:]:
            before, started = peak_kb(), time.perf_counter()
            try:
                read_bundle(Path(arg))
                reasons = []
            except BundleRejected as exc:
                reasons = [p.reason for p in exc.problems]
            out.append([reasons, peak_kb() - before, time.perf_counter() - started])
        print(json.dumps(out))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(binary.parent), str(text.parent), str(binary)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for reasons, grown_kb, seconds in json.loads(proc.stdout):
        assert reasons and ("binary file" in reasons[0] or "is missing" in reasons[0])
        assert grown_kb < 32 * 1024, f"peak RSS grew by {grown_kb} kB"
        assert seconds < 5
