"""The line parsers of the legacy export (etl/legacy/records.py): a bad line is a problem naming
its file, line and field; a bad owner line is reported once, and persons who are not owners
are not read."""

from __future__ import annotations

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from tests.etl.legacy_builders import P1, P3, klonowa, rejected


def test_bad_lines_name_file_line_and_field(tmp_path, toml):
    export = klonowa()
    export.extra_files = {}
    folder = export.write(tmp_path / "inbox")
    lines = (folder / "nal_czynsz.txt").read_bytes().split(b"\r\n")
    lines[6] = lines[6].replace(b"#202603#", b"#2026-03#")
    lines[7] = b"W000001#" + P1.encode() + b"#only three"
    (folder / "nal_czynsz.txt").write_bytes(b"\r\n".join(lines))
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=toml)
    found = {(p.file, p.row, p.column) for p in info.value.problems}
    assert ("KLO11/nal_czynsz.txt", 7, "period") in found
    assert ("KLO11/nal_czynsz.txt", 8, "") in found
    bad_period = next(p for p in info.value.problems if p.column == "period")
    assert P1 in bad_period.reason and bad_period.value == "2026-03"


def test_a_bad_owner_line_is_reported_once_and_other_persons_are_not_read(tmp_path, toml):
    export = klonowa()
    export.owners[3].share = ("523", "zero")
    export.others.append("N000010#Najemca bez reszty pól")  # not an owner: not even counted
    error = rejected(tmp_path, export, toml)
    (problem,) = error.problems
    assert (problem.file, problem.row, problem.column) == ("KLO11/lok.txt", 4, "share")
    assert P3 in problem.reason
