"""A bundle's community documents: the PDFs of its documents folder that the documents table
lists, checked before anything of them is published.

The documents table (docs/import-format.md) names each file relative to the documents folder
(`documents/` or `dokumenty/`) beside the table's own file. A listed file is refused, with its
row, when:
- its name could point anywhere else: `..`, an absolute path (`/x.pdf`, `C:x.pdf`), a
  backslash, an empty or `.` part; or it is not a `.pdf` name;
- it is not in the folder, is empty, or is larger than `archive.MAX_DOCUMENT_BYTES` (judged by
  its size before it is read), or all documents together exceed MAX_DOCUMENTS_TOTAL_BYTES;
- it does not start with `%PDF-`;
- it could run something when opened (`pdf_problem`).
Files in the folder that no row lists are ignored with a warning.

`pdf_problem` is a byte scan, not a PDF parser: it reads every name token (`/JavaScript`, also
written with `#xx` escapes such as `/J#61vaScript`) outside the streams, and inside the
compressed object streams (`/Type /ObjStm`, where PDF 1.5+ writers put dictionaries), after
inflating them (FlateDecode only, within MAX_INFLATED_BYTES). Content streams, images and
fonts are not scanned: they hold no objects, so no action can live there, and their bytes
would give false alarms. It refuses the names of scripts and of actions a viewer may run by
itself (REFUSED_NAMES), an encrypted PDF (its objects cannot be read, so not checked), and an
object stream it cannot inflate. A name in a text string (`(…/JS…)`) is refused too: a false
alarm costs the accountant a re-export, a missed script could cost a resident more.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from etl.model import Problem, SourceFile
from etl.reader import archive
from etl.reader.archive import Member, documents_folder
from etl.reader.raw import Problems, RawTable

# One PDF at most archive.MAX_DOCUMENT_BYTES (20 MB): there, as a ZIP member beyond it is not
# even read.
MAX_DOCUMENTS_TOTAL_BYTES = 512 * 1024**2  # every PDF of one bundle (they are held in memory)
MAX_INFLATED_BYTES = 64 * 1024**2  # object streams inflated while checking one PDF
PDF_MAGIC = b"%PDF-"

# Names a PDF may not contain, and what they are, for the refusal.
REFUSED_NAMES = {
    b"JavaScript": "JavaScript",
    b"JS": "JavaScript",
    b"Launch": "an action that starts a program",
    b"AA": "actions run automatically when the document or a page is opened",
    b"EmbeddedFile": "an embedded file",
    b"EmbeddedFiles": "embedded files",
    b"XFA": "an XFA form, which may carry scripts",
}
_ESCAPED = re.compile(rb"#([0-9A-Fa-f]{2})")
_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
# The `stream` keyword after a stream's dictionary; the data starts after its end of line.
_STREAM = re.compile(rb">>\s*stream(?:\r\n|\n|\r)")
_ENDSTREAM = b"endstream"


def document_name(text: str) -> str:
    """The documents table's `file` cell: a `.pdf` name inside the documents folder, parts
    separated by `/`. Raises ValueError for anything that could name a file elsewhere."""
    name = text.strip()
    if not name:
        raise ValueError("empty file name")
    if "\\" in name:
        raise ValueError(
            "a backslash (\\) in the file name; name the file as it is in the documents "
            "folder, folders separated by /"
        )
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ValueError("an absolute path; name the file as it is in the documents folder")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("a file name may not hold '..', '.' or an empty folder name")
    if any(ord(ch) < 32 for ch in name):
        raise ValueError("a control character in the file name")
    if PurePosixPath(name).suffix.lower() != ".pdf":
        raise ValueError("not a PDF file name (documents are .pdf files)")
    return name


def _names(chunk: bytes) -> Iterator[bytes]:
    for found in _NAME.finditer(chunk):
        name = found.group(1)
        if b"#" in name:
            name = _ESCAPED.sub(lambda h: bytes([int(h.group(1), 16)]), name)
        yield name


def _refused(chunk: bytes) -> str | None:
    for name in _names(chunk):
        if name in REFUSED_NAMES:
            return f"/{name.decode('latin-1')} ({REFUSED_NAMES[name]})"
        if name == b"Encrypt":
            return "/Encrypt"
    return None


def _inflate(data: bytes, budget: int) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, budget + 1)
    if len(out) > budget:
        raise ValueError("too large")
    return out


def pdf_problem(data: bytes) -> str | None:
    """Why this PDF is refused, or None. See the module docstring for what is looked at."""
    if not data.startswith(PDF_MAGIC):
        return "not a PDF file (it does not start with %PDF-)"
    budget = MAX_INFLATED_BYTES
    found: str | None = None
    position = 0
    for stream in _STREAM.finditer(data):
        if stream.start() < position:
            continue  # inside a stream already skipped
        head = data[position : stream.start() + 2]
        found = _refused(head)
        if found:
            break
        start = stream.end()
        end = data.find(_ENDSTREAM, start)
        end = len(data) if end < 0 else end
        opened = data.rfind(b"obj", position, stream.start())
        dictionary = data[position if opened < 0 else opened + 3 : stream.start() + 2]
        names = set(_names(dictionary))
        if b"ObjStm" in names:
            if not names & {b"FlateDecode", b"Fl"} or len(names & _FILTERS) > 1:
                return "a compressed object stream this check cannot read; save the PDF again"
            try:
                inflated = _inflate(data[start:end], budget)
            except (zlib.error, ValueError):
                return "a compressed object stream this check cannot read; save the PDF again"
            budget -= len(inflated)
            found = _refused(inflated)
            if found:
                break
        position = end + len(_ENDSTREAM)
    else:
        found = _refused(data[position:])
    if found == "/Encrypt":
        return "an encrypted (password-protected) PDF cannot be checked; save it without a password"
    if found:
        return (
            f"the PDF contains {found}; documents that can run scripts or actions, or carry "
            "embedded files, are refused: print it to a new PDF and export again"
        )
    return None


_FILTERS = {
    b"FlateDecode", b"Fl", b"LZWDecode", b"LZW", b"ASCIIHexDecode", b"AHx", b"ASCII85Decode",
    b"A85", b"RunLengthDecode", b"RL", b"CCITTFaxDecode", b"CCF", b"DCTDecode", b"DCT",
    b"JBIG2Decode", b"JPXDecode", b"Crypt",
}  # fmt: skip


def _folder_of(index_file: str) -> str:
    """The folder the documents table's file is in ("" at the top): its documents folder is
    beside it. A sheet `book.xlsx[Dokumenty]` is in the workbook's folder."""
    path = index_file.split("[", 1)[0] if index_file.endswith("]") else index_file
    parent = PurePosixPath(path).parent.as_posix()
    return "" if parent == "." else parent


def _parent(folder: str) -> str:
    parent = PurePosixPath(folder).parent.as_posix()
    return "" if parent == "." else parent


def ignored(members: list[Member]) -> list[str]:
    """Warnings for documents-folder files of a bundle without a documents table."""
    return [
        f"{m.name}: a file of a documents folder, but the export has no documents table; ignored"
        for m in members
    ]


def attach(
    raw: RawTable, frame: pd.DataFrame, members: list[Member]
) -> tuple[dict[str, bytes], list[SourceFile], list[Problem], int, list[str]]:
    """Check the files the validated documents `frame` lists and fill in its `document_id`
    and `size`. (PDFs by SHA-256, their sources, the first problems, the number of problems,
    warnings)."""
    problems = Problems()
    warnings: list[str] = []
    here = _folder_of(raw.file)
    folders: dict[str, Member] = {}  # name inside the folder -> file
    for member in members:
        folder, name = documents_folder(member.name) or ("", member.name)
        if _parent(folder) == here and name not in folders:
            folders[name] = member
        else:
            warnings.append(
                f"{member.name}: not in the documents folder beside {raw.file}; ignored"
            )
    names = frame["name"].tolist()
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:  # "" when the cell was refused by validation already
            positions.setdefault(name, []).append(i)
    where = f"{here}/documents/" if here else "documents/"
    files: dict[str, bytes] = {}
    sources: list[SourceFile] = []
    ids = [""] * len(frame)
    sizes = [0] * len(frame)
    total = 0
    for name, rows in positions.items():
        at = np.array(rows, dtype=np.int64)
        member = folders.get(name)
        if member is None:
            problems.rows(raw, at, "file", lambda v, w=where: f"no such file in {w}")
            continue
        size = member.size()
        reason = None
        if size == 0:
            reason = "an empty file"
        elif size > (limit := archive.MAX_DOCUMENT_BYTES):
            reason = (
                f"the file has {size} bytes; a document may have at most {limit} "
                f"({limit / 1024**2:g} MB)"
            )
        elif total + size > MAX_DOCUMENTS_TOTAL_BYTES:
            reason = (
                f"the documents of this export exceed {MAX_DOCUMENTS_TOTAL_BYTES // 1024**2} MB "
                "together; import them in parts, one community at a time"
            )
        elif not member.head(len(PDF_MAGIC)).startswith(PDF_MAGIC):
            reason = "not a PDF file (it does not start with %PDF-)"
        data = b""
        if reason is None:
            data = member.read()
            reason = pdf_problem(data)
        if reason is not None:
            problems.rows(raw, at, "file", lambda v, r=reason: r)
            continue
        total += size
        digest = hashlib.sha256(data).hexdigest()
        if digest not in files:
            files[digest] = data
            sources.append(SourceFile(member.name, digest, len(data)))
        for i in rows:
            ids[i], sizes[i] = digest, len(data)
    for name, member in folders.items():
        if name not in positions:
            warnings.append(f"{member.name}: not listed in the documents table; ignored")
    frame["document_id"] = ids
    frame["size"] = sizes
    return files, sources, problems.items, problems.total, warnings
