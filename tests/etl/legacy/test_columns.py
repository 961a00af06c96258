"""Lines the column-wise reader hands back to the line parsers (a `#` in a description, a lone
CR, odd number forms, a bad line among thousands) read exactly as the line parsers read them:
the same figures, the same breakdown, the same problem naming file, line, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from tests.etl.legacy_builders import CardSpec, Charge, LegacyExport, Owner

P1 = "KLO11-KLO11-00000-00001M"


def export(charges: list[Charge], months: int = 11) -> LegacyExport:
    out = LegacyExport(owners=[Owner("W000001", "Kowalski Jan", P1, "1")], charges=charges)
    out.cards = [CardSpec(P1, 2026, payments={m: 10000 for m in range(1, months + 1)})]
    return out


def breakdown(bundle, period: str) -> list[dict]:
    ledger = bundle.tables["ledger"]
    return ledger[ledger["period"] == period].iloc[0]["details"]


def many(month: int = 11) -> list[Charge]:
    """Ten lines a month: enough rows that the columns, not the lines, are what is read."""
    return [
        Charge(P1, f"2026{m:02d}", k, f"Składnik {k}", "54,30", "m2", "1,2345")
        for m in range(1, month + 1)
        for k in range(1, 11)
    ]


def write(tmp_path: Path, built: LegacyExport, edit) -> Path:
    """The export's folder with nal_czynsz.txt's ISO-8859-2 text changed by `edit`."""
    folder = built.write(tmp_path / "inbox")
    nal = folder / "nal_czynsz.txt"
    nal.write_bytes(edit(nal.read_bytes().decode("iso-8859-2")).encode("iso-8859-2"))
    return folder


def test_a_hash_and_polish_letters_in_a_description_keep_the_whole_description(tmp_path, toml):
    lines = many()
    lines[3] = Charge(P1, "202601", 4, "Woda #2 ciepła, Łódź", "54,30", "m2", "1,2345")
    bundle = legacy.read_legacy(export(lines).write(tmp_path / "inbox"), communities_file=toml)
    assert [d["description"] for d in breakdown(bundle, "2026-01")][3] == "Woda #2 ciepła, Łódź"
    assert len(breakdown(bundle, "2026-02")) == 10


def test_a_lone_cr_inside_a_description_is_a_space_not_a_new_line(tmp_path, toml):
    built = export(many())
    folder = write(tmp_path, built, lambda t: t.replace("Składnik 5", "Składnik\r5", 1))
    bundle = legacy.read_legacy(folder, communities_file=toml)
    assert [d["description"] for d in breakdown(bundle, "2026-01")][4] == "Składnik 5"


def test_plain_number_forms_read_as_the_line_parser_reads_them(tmp_path, toml):
    lines = many()
    lines[0] = Charge(P1, "202601", 1, "Zaliczka", "007", "m2", ".5", total=350)
    lines[1] = Charge(P1, "202601", 2, "Fundusz", "+2,50", "m2", "4.", total=1000)
    bundle = legacy.read_legacy(export(lines).write(tmp_path / "inbox"), communities_file=toml)
    first, second = breakdown(bundle, "2026-01")[:2]
    assert (first["quantity"], first["rate"], first["amount"]) == ("7", "0.5", 350)
    assert (second["quantity"], second["rate"], second["amount"]) == ("2.50", "4", 1000)


def test_a_total_with_trailing_zeros_is_the_same_grosze(tmp_path, toml):
    built = export(many())
    folder = write(tmp_path, built, lambda t: t.replace("#67,03\r\n", "#67,0300\r\n", 1))
    bundle = legacy.read_legacy(folder, communities_file=toml)
    assert breakdown(bundle, "2026-01")[0]["amount"] == 6703


def test_a_bad_line_after_blank_lines_is_named_by_its_own_line_number(tmp_path, toml):
    built = export(many())

    def edit(text: str) -> str:
        lines = text.split("\r\n")
        lines[50] = lines[50].replace("#67,03", "#67,035")  # a fraction of a grosz
        return "".join(line + "\r\n\r\n" for line in lines[:10]) + "\r\n".join(lines[10:])

    folder = write(tmp_path, built, edit)
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=toml)
    problem = next(p for p in info.value.problems if p.column == "total")
    # the first ten lines were each followed by a blank one: line 51 is now line 61
    assert (problem.file, problem.row, problem.value) == ("KLO11/nal_czynsz.txt", 61, "67,035")
    assert "more than 2 decimal places" in problem.reason and P1 in problem.reason


def test_an_empty_charge_file_is_no_charge_lines(tmp_path, toml):
    built = export([])
    built.cards = [CardSpec(P1, 2026, payments={1: 10000}, charges={})]
    built.extra_files = {"nal_czynsz.txt": b""}
    bundle = legacy.read_legacy(built.write(tmp_path / "inbox"), communities_file=toml)
    ledger = bundle.tables["ledger"]
    assert list(ledger["description"]) == ["Wpłaty 01/2026"]
