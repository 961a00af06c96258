"""`ebok import`, `show`, `generations`, `rollback` as an operator uses them: real bundles on
disk, the real command line, what it prints and what ends up published."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from tests.cli import ebok
from tests.etl.builders import minimal_tables, write_csv_bundle

ROOT = Path(__file__).resolve().parents[2]


def current(settings: Settings):
    return SnapshotStore(settings.snapshots_dir).current()


def test_import_prints_a_summary_and_show_gives_money_in_zloty(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bundle = write_csv_bundle(tmp_path / "export", minimal_tables())
    assert ebok(settings, "import", str(bundle)) == 0
    out, err = capsys.readouterr()
    assert "\r" not in err  # no progress bar when stderr is not a terminal
    gen = current(settings)
    assert f"published generation {gen.id}: 1 communities, 2 premises, 4 ledger rows" in out

    assert ebok(settings, "show", "KW5/1") == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["ledger"]["rows"]
    assert [(r[2], r[4], r[5]) for r in rows] == [
        ("Bilans otwarcia", "100.00", "0.00"),
        ("Naliczenie 01/2026", "1234.56", "0.00"),
        ("Wpłata", "0.00", "1000.00"),
    ]
    assert [f["amount"] for f in doc["fees"]] == ["171.05", "120.00"]
    assert doc["allowances"][0]["monthly_amount"] == "250.00"
    assert doc["totals"] == {
        "charges": "1334.56",
        "payments": "1000.00",
        "balance": "-334.56",
        "monthly_fees": "291.05",
    }
    assert ebok(settings, "show", "KW5/G-3") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ledger"]["rows"][0][4] == "-12.00" and doc["totals"]["balance"] == "12.00"


def test_importing_the_same_bundle_again_publishes_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bundle = write_csv_bundle(tmp_path / "export", minimal_tables())
    assert ebok(settings, "import", str(bundle)) == 0
    first = current(settings).id
    capsys.readouterr()
    assert ebok(settings, "import", str(bundle)) == 0
    assert "no changes" in capsys.readouterr().out
    assert SnapshotStore(settings.snapshots_dir).generation_ids() == [first]
    assert not list(settings.snapshots_dir.glob(".tmp-*"))


def test_show_unknown_premises_says_so(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "show", "KW5/1") == 1
    assert "nothing is published yet" in capsys.readouterr().err
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "b", minimal_tables()))) == 0
    assert ebok(settings, "show", "KW5/99") == 1
    assert "no premises 'KW5/99'" in capsys.readouterr().err


def test_corrupted_bundle_is_rejected_row_by_row_and_changes_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "ok", minimal_tables()))) == 0
    before = current(settings)
    body = before.document_json("KW5/1")

    tables = minimal_tables()
    tables["ledger"][1]["charge"] = "12,3x"
    tables["ledger"][2]["premises_id"] = "KW5/404"
    tables["premises"][0]["payer_name"] = "Someone Else"
    capsys.readouterr()
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "bad", tables))) == 1
    err = capsys.readouterr().err
    assert "rejected, nothing was published" in err
    assert "ledger.csv, ledger, row 3, charge, '12,3x'" in err
    assert "ledger.csv, ledger, row 4, premises_id, 'KW5/404'" in err
    assert "Traceback" not in err
    after = current(settings)
    assert after.id == before.id and after.document_json("KW5/1") == body
    assert SnapshotStore(settings.snapshots_dir).generation_ids() == [before.id]


@pytest.mark.parametrize("name", ["missing.zip", "notes.txt"])
def test_bad_paths_get_a_message_not_a_traceback(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("hello")
    assert ebok(settings, "import", str(path)) == 1
    err = capsys.readouterr().err
    assert f"{path}: rejected" in err and "Traceback" not in err
    assert current(settings) is None


def test_generations_and_rollback(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "rollback") == 1
    first = write_csv_bundle(tmp_path / "one", minimal_tables())
    tables = minimal_tables()
    tables["premises"][0]["payer_name"] = "Anna Nowak"
    second = write_csv_bundle(tmp_path / "two", tables)
    assert ebok(settings, "import", str(first), str(second)) == 0
    ids = SnapshotStore(settings.snapshots_dir).generation_ids()
    assert len(ids) == 2 and current(settings).id == ids[1]
    capsys.readouterr()

    assert ebok(settings, "generations") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"* {ids[1]}") and lines[1].startswith(f"  {ids[0]}")
    assert "2 premises" in lines[0] and "ledger.csv" in lines[0]

    assert ebok(settings, "rollback") == 0
    assert f"now {ids[0]} (was {ids[1]})" in capsys.readouterr().out
    assert current(settings).document("KW5/1")["premises"]["payer_name"] == "Jan Kowalski"
    assert ebok(settings, "rollback") == 1  # nothing older
    assert ebok(settings, "rollback", "--to", ids[1]) == 0
    assert current(settings).document("KW5/1")["premises"]["payer_name"] == "Anna Nowak"


def test_hostile_premises_ids_stay_inside_the_data_dir(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tables = minimal_tables()
    for row in tables["premises"] + tables["ledger"] + tables["fees"] + tables["allowances"]:
        row["premises_id"] = {"KW5/1": "../../x", "KW5/G-3": "/etc/passwd"}[row["premises_id"]]
    bundle = write_csv_bundle(tmp_path / "export", tables)
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(settings.data_dir)}
    assert ebok(settings, "import", str(bundle)) == 0
    capsys.readouterr()
    assert ebok(settings, "show", "../../x") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["premises_id"] == "../../x" and doc["totals"]["balance"] == "-334.56"
    assert ebok(settings, "show", "/etc/passwd") == 0
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(settings.data_dir)}
    assert after == before
    assert not (settings.data_dir.parent.parent / "x").exists()


def _big_tables(premises: int, months: int) -> dict:
    tables = minimal_tables()
    template = tables["premises"][0]
    tables["premises"] = [
        {**template, "premises_id": f"KW5/{i}", "number": str(i), "payer_name": "Nowy Płatnik"}
        for i in range(premises)
    ]
    tables["ledger"] = [
        {
            "premises_id": f"KW5/{i}",
            "date": f"{2000 + m // 12}-{m % 12 + 1:02d}-10",
            "description": "Naliczenie zaliczki",
            "document": f"N/{m}",
            "period": "",
            "charge": "450,00",
            "payment": "",
        }
        for i in range(premises)
        for m in range(months)
    ]
    tables["fees"] = [{**tables["fees"][0], "premises_id": f"KW5/{i}"} for i in range(premises)]
    del tables["allowances"]
    return tables


@pytest.mark.slow
def test_import_killed_while_writing_leaves_the_previous_generation(
    settings: Settings, tmp_path: Path
) -> None:
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "ok", minimal_tables()))) == 0
    before = current(settings)
    body = before.document_json("KW5/1")
    big = write_csv_bundle(tmp_path / "big", _big_tables(3000, 40))
    env = {**os.environ, "EBOK_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    snapshots = settings.snapshots_dir

    proc = subprocess.Popen(
        [sys.executable, "-m", "ebok.cli", "import", str(big)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if list(snapshots.glob(".tmp-*")):
            break
        time.sleep(0.001)
    # Freeze it and make sure it really is writing the next generation, then kill it there.
    proc.send_signal(signal.SIGSTOP)
    mid_write = bool(list(snapshots.glob(".tmp-*"))) and current(settings).id == before.id
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert mid_write, "the import was not caught while writing its generation"

    store = SnapshotStore(settings.snapshots_dir)
    gen = store.current()
    assert gen.id == before.id and gen.document_json("KW5/1") == body
    assert store.generation_ids() == [before.id]
    assert list(snapshots.glob(".tmp-*"))  # the half-written generation is still there

    tables = minimal_tables()
    tables["premises"][0]["payer_name"] = "Anna Nowak"
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "next", tables))) == 0
    assert not list(snapshots.glob(".tmp-*"))
    assert current(settings).document("KW5/1")["premises"]["payer_name"] == "Anna Nowak"


def _year_2027(kw5_1_opening: str = "334,56") -> dict:
    """The next year's export of the minimal data set: KW5/1 owed 334,56 at the end of 2026,
    KW5/G-3 was 12,00 in credit."""
    tables = minimal_tables()
    tables["communities"][0]["as_of"] = "20.01.2027"
    row = {"document": "", "period": "", "charge": "", "payment": ""}
    tables["ledger"] = [
        {**row, "premises_id": "KW5/1", "date": "01.01.2027", "description": "Bilans otwarcia",
         "charge": kw5_1_opening},
        {**row, "premises_id": "KW5/1", "date": "10.01.2027", "description": "Naliczenie 01/2027",
         "charge": "500,00"},
        {**row, "premises_id": "KW5/1", "date": "15.01.2027", "description": "Wpłata",
         "payment": "834,56"},
        {**row, "premises_id": "KW5/G-3", "date": "01.01.2027", "description": "BO",
         "payment": "12,00"},
        {**row, "premises_id": "KW5/G-3", "date": "10.01.2027", "description": "Naliczenie",
         "charge": "12,00"},
    ]  # fmt: skip
    return tables


def _show(settings: Settings, capsys: pytest.CaptureFixture, premises_id: str) -> dict:
    capsys.readouterr()
    assert ebok(settings, "show", premises_id) == 0
    return json.loads(capsys.readouterr().out)


def test_import_of_the_next_year_keeps_the_published_years(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "y26", minimal_tables()))) == 0
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "y27", _year_2027()))) == 0
    doc = _show(settings, capsys, "KW5/1")
    assert [(r[0], r[2]) for r in doc["ledger"]["rows"]] == [
        ("2026-01-01", "Bilans otwarcia"),
        ("2026-01-10", "Naliczenie 01/2026"),
        ("2026-01-15", "Wpłata"),
        ("2027-01-10", "Naliczenie 01/2027"),
        ("2027-01-15", "Wpłata"),
    ]
    assert doc["totals"]["charges"] == "1834.56" and doc["totals"]["payments"] == "1834.56"
    assert doc["totals"]["balance"] == "0.00"
    garage = _show(settings, capsys, "KW5/G-3")
    assert [r[2] for r in garage["ledger"]["rows"]] == ["Wyrównanie zaliczek", "Naliczenie"]
    assert garage["totals"]["balance"] == "0.00"


def test_a_wrong_opening_balance_is_refused_unless_the_history_is_replaced(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "y26", minimal_tables()))) == 0
    before = current(settings).id
    wrong = write_csv_bundle(tmp_path / "y27", _year_2027("300,00"))
    capsys.readouterr()
    assert ebok(settings, "import", str(wrong)) == 1
    err = capsys.readouterr().err
    assert "rejected, nothing was published" in err
    assert (
        "ledger.csv, ledger, row 2, charge, '300,00': opening balance -300,00 differs from the "
        "published balance -334,56 on 2026-12-31 for premises KW5/1"
    ) in err
    assert "ebok import --replace-history" in err
    assert current(settings).id == before

    assert ebok(settings, "import", "--replace-history", str(wrong)) == 0
    doc = _show(settings, capsys, "KW5/1")
    assert [r[2] for r in doc["ledger"]["rows"]] == [
        "Bilans otwarcia", "Naliczenie 01/2027", "Wpłata"
    ]  # fmt: skip
    assert doc["totals"]["balance"] == "34.56"


def test_a_cut_short_export_is_refused_unless_shrinking_is_allowed(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "ok", minimal_tables()))) == 0
    before = current(settings).id
    tables = minimal_tables()
    tables["premises"] = tables["premises"][:1]
    for table in ("ledger", "fees", "allowances"):
        tables[table] = [r for r in tables[table] if r["premises_id"] == "KW5/1"]
    cut = write_csv_bundle(tmp_path / "cut", tables)
    capsys.readouterr()
    assert ebok(settings, "import", str(cut)) == 1
    err = capsys.readouterr().err
    assert "rejected, nothing was published" in err
    assert (
        "premises.csv, premises, -, premises, '2 -> 1': community WM-KW5: this export would "
        "remove 1 of the 2 published premises (KW5/G-3) (50%; none may be removed): "
        "published 2, this export 1"
    ) in err
    assert "ledger.csv, ledger, -, ledger rows, '4 -> 3'" in err
    assert "ebok import --allow-shrink" in err
    assert current(settings).id == before

    assert ebok(settings, "import", "--allow-shrink", str(cut)) == 0
    assert "1 premises, 3 ledger rows" in capsys.readouterr().out
    assert current(settings).premises_ids() == ["KW5/1"]


def test_a_ledger_file_with_only_its_header_changes_no_balance(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert ebok(settings, "import", str(write_csv_bundle(tmp_path / "ok", minimal_tables()))) == 0
    before = current(settings).id
    tables = minimal_tables()
    header = list(tables["ledger"][0])
    bundle = write_csv_bundle(tmp_path / "cut", tables)
    (bundle / "ledger.csv").write_text(";".join(header) + "\r\n", "utf-8")
    capsys.readouterr()
    assert ebok(settings, "import", str(bundle)) == 1
    err = capsys.readouterr().err
    assert (
        "no ledger rows for premises KW5/1 in this export, so its balance would be 0,00, but "
        "the published balance on 2026-01-15 is -334,56"
    ) in err
    assert "premises KW5/G-3" in err
    assert current(settings).id == before
    # Told the export is the whole history, it would still wipe every row: the shrink guard.
    assert ebok(settings, "import", "--replace-history", str(bundle)) == 1
    assert "ledger.csv, ledger, -, ledger rows, '4 -> 0'" in capsys.readouterr().err
    assert current(settings).id == before
    assert ebok(settings, "import", "--replace-history", "--allow-shrink", str(bundle)) == 0
    assert current(settings).document("KW5/1")["totals"]["balance"] == 0
