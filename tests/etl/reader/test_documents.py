"""Community documents: the documents table and the PDFs of the documents folder, refused when
they could point outside the folder, are not PDFs, are too big, or could run something."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from etl.model import BundleRejected, Problem
from etl.reader import archive
from etl.reader.attachments import document_name, pdf_problem
from etl.reader.bundle import read_bundle
from tests.etl.builders import minimal_tables, write_zip, zip_dir
from tests.etl.optional_builders import documents, pdf, write_bundle


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path)
    return info.value.problems


def with_object(body: bytes) -> bytes:
    """A valid demo PDF with one more object (a catalog-like dictionary) before its xref."""
    data = pdf()
    at = data.index(b"xref")
    return data[:at] + b"99 0 obj\n" + body + b"\nendobj\n" + data[at:]


def object_stream(objects: bytes) -> bytes:
    packed = zlib.compress(objects)
    head = f"<< /Type /ObjStm /N 1 /First 5 /Filter /FlateDecode /Length {len(packed)} >>"
    return head.encode() + b"\nstream\n" + packed + b"\nendstream"


# --- the PDF check ------------------------------------------------------------------------


def test_a_plain_pdf_passes() -> None:
    assert pdf_problem(pdf()) is None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>", "/JavaScript"),
        (b"<< /OpenAction << /S /JavaScript /JS (x) >> >>", "/JavaScript"),
        (b"<< /OpenAction 5 0 R /Names << /JS 7 0 R >> >>", "/JS"),
        (b"<< /S /J#61vaScript /JS#20 (x) >>", "/JavaScript"),  # a name with #xx escapes
        (b"<< /S /Launch /F (calc.exe) >>", "/Launch"),
        (b"<< /Type /Page /AA << /O 9 0 R >> >>", "/AA"),
        (b"<< /Type /Filespec /EF << /F 8 0 R >> /Type /EmbeddedFile >>", "/EmbeddedFile"),
        (b"<< /AcroForm << /XFA 10 0 R >> >>", "/XFA"),
    ],
)
def test_scripts_actions_and_embedded_files_are_refused(body: bytes, named: str) -> None:
    reason = pdf_problem(with_object(body))
    assert reason is not None and reason.startswith(f"the PDF contains {named} ")


def test_a_script_hidden_in_a_compressed_object_stream_is_found() -> None:
    hidden = object_stream(b"12 0 << /Type /Action /S /JavaScript /JS (app.alert(1)) >>")
    assert "/JavaScript" in (pdf_problem(with_object(hidden)) or "")
    harmless = object_stream(b"12 0 << /Type /Annot /Subtype /Link /A << /S /URI >> >>")
    assert pdf_problem(with_object(harmless)) is None


def test_bytes_of_an_image_or_content_stream_are_not_read_as_names() -> None:
    """Compressed data is random bytes: `/JS ` turns up in it by chance, not as a name."""
    noise = b"\x8f\x01/JS \x02/AA\n\x7f/Launch]"
    stream = f"<< /Length {len(noise)} /Filter /DCTDecode >>\nstream\n".encode()
    assert pdf_problem(with_object(stream + noise + b"\nendstream")) is None


def test_an_encrypted_pdf_cannot_be_checked() -> None:
    reason = pdf_problem(with_object(b"<< /Encrypt 12 0 R >>"))
    assert reason is not None and "encrypted" in reason


def test_an_unreadable_object_stream_is_refused() -> None:
    broken = b"<< /Type /ObjStm /N 1 /First 5 /Filter /FlateDecode /Length 9 >>\nstream\n"
    reason = pdf_problem(with_object(broken + b"not zlib!\nendstream"))
    assert reason is not None and "object stream" in reason


def test_not_a_pdf() -> None:
    assert pdf_problem(b"<html><script>alert(1)</script>") == (
        "not a PDF file (it does not start with %PDF-)"
    )


@pytest.mark.parametrize(
    "name",
    ["../x.pdf", "a/../../x.pdf", "/etc/x.pdf", "C:x.pdf", "c:\\x.pdf", "a\\x.pdf", "a//x.pdf",
     "./x.pdf", "x.txt", "x.pdf.exe", ""],
)  # fmt: skip
def test_file_names_that_could_point_elsewhere_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        document_name(name)


def test_file_names_inside_the_folder_are_kept_as_written() -> None:
    assert document_name(" 2026/Uchwała nr 1.PDF ") == "2026/Uchwała nr 1.PDF"


# --- the documents table in a bundle ---------------------------------------------------------


def test_documents_are_read_checked_and_addressed_by_their_content(tmp_path: Path) -> None:
    bundle = read_bundle(write_bundle(tmp_path / "b"))
    frame = bundle.tables["documents"]
    assert frame[["title", "kind", "name", "date"]].to_dict("records") == [
        {"title": "Uchwała nr 1/2026", "kind": "resolution", "name": "2026/uchwala-1.pdf",
         "date": "2026-03-25"},
        {"title": "Sprawozdanie finansowe", "kind": "financial_statement",
         "name": "sprawozdanie.pdf", "date": "2026-03-10"},
    ]  # fmt: skip
    for document_id, size in zip(frame["document_id"], frame["size"], strict=True):
        assert bundle.files[document_id][:5] == b"%PDF-" and len(bundle.files[document_id]) == size
    assert {s.name for s in bundle.sources} >= {
        "dokumenty/2026/uchwala-1.pdf", "dokumenty/sprawozdanie.pdf", "dokumenty.csv"
    }  # fmt: skip


def test_a_row_naming_a_file_outside_the_folder_is_refused_with_its_row(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["dokumenty"] = documents()
    tables["dokumenty"][1]["Plik"] = "../x.pdf"
    path = write_bundle(tmp_path / "b", tables)
    (tmp_path / "b" / "x.pdf").write_bytes(pdf())  # the file it would reach
    [problem] = problems_of(path)
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "dokumenty.csv", "documents", 3, "Plik", "../x.pdf"
    )  # fmt: skip
    assert "'..'" in problem.reason


def test_a_pdf_with_a_script_is_refused_with_every_row_naming_it(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["dokumenty"] = documents()
    tables["dokumenty"][1]["Plik"] = "2026/uchwala-1.pdf"
    tables["dokumenty"][1]["ID wspólnoty"] = "WM-KW5"
    tables["dokumenty"][1]["Tytuł"] = "Ta sama uchwała"
    evil = with_object(b"<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>")
    path = write_bundle(tmp_path / "b", tables, {"2026/uchwala-1.pdf": evil})
    problems = problems_of(path)
    assert "„Plik” (file): the community lists this file already (row 2)" in [
        p.reason for p in problems if p.row == 3
    ]
    refused = [p for p in problems if "JavaScript" in p.reason]
    assert [(p.row, p.value) for p in refused] == [
        (2, "2026/uchwala-1.pdf"),
        (3, "2026/uchwala-1.pdf"),
    ]


def test_missing_empty_oversized_and_fake_pdfs_are_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_DOCUMENT_BYTES", 2000)
    tables = minimal_tables()
    rows = ["brak.pdf", "pusty.pdf", "duzy.pdf", "obrazek.pdf"]
    tables["dokumenty"] = [
        {"ID wspólnoty": "WM-KW5", "Data": "2026-01-01", "Tytuł": f"D{i}", "Plik": name}
        for i, name in enumerate(rows)
    ]
    files = {
        "pusty.pdf": b"",
        "duzy.pdf": pdf() + b"%" * 3000,
        "obrazek.pdf": b"\x89PNG\r\n\x1a\n",
    }
    reasons = {p.value: p.reason for p in problems_of(write_bundle(tmp_path / "b", tables, files))}
    assert reasons == {
        "brak.pdf": "„Plik” (file): no such file in documents/",
        "pusty.pdf": "„Plik” (file): an empty file",
        "duzy.pdf": f"„Plik” (file): the file has {len(files['duzy.pdf'])} bytes; "
        "a document may have at most 2000 (0.00190735 MB)",
        "obrazek.pdf": "„Plik” (file): not a PDF file (it does not start with %PDF-)",
    }


def test_kinds_are_words_of_the_export_and_an_empty_kind_is_other(tmp_path: Path) -> None:
    tables = minimal_tables()
    kinds = ["Uchwała", "PROTOKÓŁ", "regulamin", "", "inne", "faktura"]
    tables["dokumenty"] = [
        {"wspolnota": "WM-KW5", "data": "01.02.2026", "tytul": f"T{i}", "rodzaj": kind,
         "plik": "a.pdf" if i == 0 else f"a{i}.pdf"}
        for i, kind in enumerate(kinds)
    ]  # fmt: skip
    files = {"a.pdf": pdf(), **{f"a{i}.pdf": pdf(str(i)) for i in range(1, len(kinds))}}
    path = write_bundle(tmp_path / "b", tables, files)
    [problem] = problems_of(path)
    assert (problem.row, problem.column, problem.value) == (7, "rodzaj", "faktura")
    tables["dokumenty"].pop()
    bundle = read_bundle(write_bundle(tmp_path / "c", tables, files))
    assert bundle.tables["documents"]["kind"].tolist() == [
        "resolution", "minutes", "rules", "other", "other"
    ]  # fmt: skip


def test_a_document_of_an_unknown_community_is_refused(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["dokumenty"] = documents()
    tables["dokumenty"][0]["ID wspólnoty"] = "WM-NOWA"
    [problem] = problems_of(write_bundle(tmp_path / "b", tables))
    assert (problem.row, problem.value) == (2, "WM-NOWA")
    assert problem.reason == (
        "„ID wspólnoty” (community_id): unknown community WM-NOWA: not in communities nor published"
    )


def test_unlisted_files_are_warned_about_and_not_kept(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b")
    (path / "dokumenty" / "stary.pdf").write_bytes(pdf("stary"))
    bundle = read_bundle(path)
    assert "dokumenty/stary.pdf: not listed in the documents table; ignored" in bundle.warnings
    assert len(bundle.files) == 2


def test_a_documents_folder_without_its_table_is_ignored(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b", minimal_tables(), {"ledger.csv": b"not a table"})
    bundle = read_bundle(path)
    assert "documents" not in bundle.tables and not bundle.files
    assert bundle.warnings == [
        "dokumenty/ledger.csv: a file of a documents folder, but the export has no documents "
        "table; ignored"
    ]


def test_a_zip_bundle_carries_its_documents(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b")
    bundle = read_bundle(zip_dir(folder, tmp_path / "eksport.zip", prefix="eksport/"))
    assert len(bundle.files) == 2
    assert bundle.tables["documents"]["name"].tolist() == ["2026/uchwala-1.pdf", "sprawozdanie.pdf"]


def test_a_zip_member_escaping_the_documents_folder_refuses_the_archive(tmp_path: Path) -> None:
    [problem] = problems_of(write_zip(tmp_path / "x.zip", {"dokumenty/../../x.pdf": pdf()}))
    assert "unsafe member name" in problem.reason


def test_a_zip_member_bigger_than_a_document_may_be_is_not_read(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(archive, "MAX_DOCUMENT_BYTES", 2000)
    folder = write_bundle(tmp_path / "b", files={
        "2026/uchwala-1.pdf": pdf() + b"%" * 5000, "sprawozdanie.pdf": pdf()
    })  # fmt: skip
    members, _ = archive.members(zip_dir(folder, tmp_path / "b.zip"))
    [big] = [m for m in members if m.name == "dokumenty/2026/uchwala-1.pdf"]
    assert big.data == b"" and big.size() > 5000
    [problem] = problems_of(tmp_path / "b.zip")
    assert "a document may have at most 2000" in problem.reason
