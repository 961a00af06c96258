"""`ebok demo-data`: deterministic, valid, realistic, and importable to the balances it implies.

Expected figures are computed here from the written files with the csv module and Decimal, not
taken from the generator, so a generator bug cannot agree with itself.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from stdnum import iban
from stdnum.pl import nip

from ebok.cli import main
from etl.demo.generate import DemoError, generate
from etl.snapshot.store import SnapshotStore

SMALL = {"communities": 3, "premises": 40, "months": 15, "seed": 7}


def read_table(path: Path, encoding: str, sep: str) -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=sep))


def money(text: str) -> Decimal:
    """A Polish money cell (`1 234,56`, `-12,00`, empty = 0) as an exact Decimal."""
    return Decimal(text.replace(" ", "").replace(",", ".")) if text else Decimal(0)


def expected_balances(ledger_csv: Path) -> dict[str, Decimal]:
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for row in read_table(ledger_csv, "cp1250", ";"):
        balances[row["id_lokalu"]] += money(row["wplata"]) - money(row["naliczenie"])
    return dict(balances)


def import_into(data_dir: Path, bundle: Path) -> dict[str, dict]:
    """Import through the real CLI; return every published document by premises id."""
    data_dir.mkdir()
    assert main(["--data-dir", str(data_dir), "import", str(bundle)]) == 0
    generation = SnapshotStore(data_dir / "snapshots").current()
    assert generation is not None
    return {doc["premises_id"]: doc for doc in generation.documents()}


def grosze(amount: Decimal) -> int:
    return int(amount * 100)


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    for fmt in ("csv", "zip", "xlsx"):
        first = generate(tmp_path / f"a-{fmt}", fmt=fmt, **SMALL)
        second = generate(tmp_path / f"b-{fmt}", fmt=fmt, **SMALL)
        assert [p.name for p in first.paths] == [p.name for p in second.paths]
        for a, b in zip(first.paths, second.paths, strict=True):
            assert a.read_bytes() == b.read_bytes(), f"{fmt}: {a.name} differs between runs"
    other = generate(tmp_path / "other-seed", **{**SMALL, "seed": 8})
    assert (other.paths[-1]).read_bytes() != (tmp_path / "a-csv" / "ledger.csv").read_bytes()


def test_account_numbers_and_nips_carry_valid_check_digits(tmp_path: Path) -> None:
    generate(tmp_path / "b", communities=6, premises=120, months=3, seed=3)
    communities = read_table(tmp_path / "b" / "communities.csv", "utf-8-sig", ";")
    premises = read_table(tmp_path / "b" / "lokale.csv", "cp1250", ";")
    accounts = [c["Rachunek"] for c in communities]
    accounts += [p["Rachunek indywidualny"] for p in premises if p["Rachunek indywidualny"]]
    assert len(accounts) > len(communities), "some premises should have an individual account"
    assert any(not p["Rachunek indywidualny"] for p in premises)
    for written in accounts:
        nrb = written.replace(" ", "").removeprefix("PL")
        assert re.fullmatch(r"\d{26}", nrb), written
        assert iban.is_valid("PL" + nrb), written
        # ISO 13616 by hand: BBAN + "PL" as digits (P=25, L=21) + check digits, mod 97 == 1.
        assert int(nrb[2:] + "2521" + nrb[:2]) % 97 == 1, written
    nips = [c["NIP"] for c in communities if c["NIP"]]
    assert nips and len(nips) < len(communities)
    assert all(nip.is_valid(n) for n in nips), nips


def test_demo_data_looks_like_a_real_polish_ledger(tmp_path: Path) -> None:
    summary = generate(tmp_path / "b")  # the defaults a new user sees
    out = tmp_path / "b"
    premises = read_table(out / "lokale.csv", "cp1250", ";")
    ledger = read_table(out / "ledger.csv", "cp1250", ";")
    allowances = read_table(out / "dodatki.csv", "iso-8859-2", "\t")
    fees = read_table(out / "fees.csv", "utf-8", ",")

    assert len(premises) == 60 and all("/" in p["ID lokalu"] for p in premises)
    assert {p["Rodzaj"] for p in premises} == {"mieszkalny", "użytkowy", "garaż", "komórka"}
    payers = [p["Płatnik"] for p in premises]
    assert any(" i " in name for name in payers), "co-owners such as 'Anna i Piotr Nowak'"
    assert any(set(name) & set("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ") for name in payers)
    assert any(re.search(r"\d \d{3},\d\d$", r["naliczenie"] + r["wplata"]) for r in ledger)

    corrections = [r for r in ledger if r["opis"].startswith("Wyrównanie zaliczek")]
    assert any(money(r["naliczenie"]) < 0 for r in corrections)
    assert any(money(r["wplata"]) < 0 for r in ledger), "a returned payment or refund"
    for pid in (p["ID lokalu"] for p in premises):
        rows = [r for r in ledger if r["id_lokalu"] == pid]
        assert [r["opis"] for r in rows].count("Bilans otwarcia") == 1
        charged = [r["okres"] for r in rows if r["opis"].startswith("Naliczenie opłat")]
        assert len(charged) == 24 and len(set(charged)) == 24 and max(charged) == "2026-10"

    balances = expected_balances(out / "ledger.csv")
    assert any(b == 0 for b in balances.values()), "someone settled to the grosz"
    assert any(b < 0 for b in balances.values()), "someone in arrears"
    assert any(b > 0 for b in balances.values()), "someone overpaid"

    as_of = summary.as_of
    assert as_of == date(2026, 10, 31)
    ends = [date(*map(int, reversed(a["do"].split("-")))) for a in allowances]
    assert any(e >= as_of for e in ends) and any(e < as_of for e in ends)
    assert all(a["organ"].startswith(("Prezydent", "Burmistrz")) for a in allowances)
    components = {f["component"] for f in fees}
    assert {"Zaliczka na koszty zarządu", "Fundusz remontowy", "Woda i ścieki"} <= components


def test_imported_balances_equal_the_ledger_sums(tmp_path: Path) -> None:
    summary = generate(tmp_path / "bundle", **SMALL)
    docs = import_into(tmp_path / "data", tmp_path / "bundle")
    expected = expected_balances(tmp_path / "bundle" / "ledger.csv")

    assert set(docs) == set(summary.premises_ids) == set(expected)
    for pid, balance in expected.items():
        assert docs[pid]["totals"]["balance"] == grosze(balance), pid
    assert dict(zip(summary.premises_ids, summary.balances.tolist(), strict=True)) == {
        pid: grosze(b) for pid, b in expected.items()
    }

    monthly: dict[str, Decimal] = defaultdict(Decimal)
    fees = read_table(tmp_path / "bundle" / "fees.csv", "utf-8", ",")
    assert any(not f["amount"] for f in fees), "some amounts are left for the importer"
    for f in fees:
        computed = (Decimal(f["quantity"]) * Decimal(f["rate"])).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        if f["amount"]:
            assert Decimal(f["amount"]) == computed, f
        monthly[f["premises_id"]] += computed
    for pid, total in monthly.items():
        assert docs[pid]["totals"]["monthly_fees"] == grosze(total), pid


def test_xlsx_and_zip_import_to_the_same_balances_as_csv(tmp_path: Path) -> None:
    published = {}
    for fmt in ("csv", "xlsx", "zip"):
        summary = generate(tmp_path / fmt, fmt=fmt, **SMALL)
        bundle = summary.paths[0] if fmt != "csv" else tmp_path / fmt
        docs = import_into(tmp_path / f"data-{fmt}", bundle)
        published[fmt] = {
            pid: (d["totals"], len(d["ledger"]["rows"]), d["premises"]["payer_name"])
            for pid, d in docs.items()
        }
    expected = expected_balances(tmp_path / "csv" / "ledger.csv")
    assert {pid: t["balance"] for pid, (t, _, _) in published["csv"].items()} == {
        pid: grosze(b) for pid, b in expected.items()
    }
    assert published["xlsx"] == published["csv"]
    assert published["zip"] == published["csv"]


def test_xlsx_refuses_a_ledger_that_does_not_fit_a_sheet(tmp_path: Path, capsys) -> None:
    with pytest.raises(DemoError, match=r"XLSX sheet holds at most 1,048,575"):
        generate(tmp_path / "big", premises=50_000, months=100, fmt="xlsx")
    assert not (tmp_path / "big").exists()
    status = main(
        ["demo-data", "--out", str(tmp_path / "big"), "--premises", "50000", "--format", "xlsx",
         "--months", "100"]
    )  # fmt: skip
    assert status == 2 and "use --format csv or zip" in capsys.readouterr().err


def test_cli_writes_a_bundle_and_names_a_premises_to_show(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo-data", "--out", str(out), "--premises", "12", "--months", "3"]) == 0
    printed = capsys.readouterr().out
    first = re.search(r"ebok show '([^']+)'", printed).group(1)
    assert first in {p["ID lokalu"] for p in read_table(out / "lokale.csv", "cp1250", ";")}
    assert "ledger.csv" in printed

    assert main(["--data-dir", str(tmp_path / "data"), "import", str(out)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path / "data"), "show", first]) == 0
    assert json.loads(capsys.readouterr().out)["premises_id"] == first


def test_refuses_to_mix_into_a_directory_holding_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DemoError, match="other files"):
        generate(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
