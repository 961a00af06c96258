"""The files of a bundle: a folder, a ZIP, or one file.

A file of a folder, or a lone file, is read only when asked for, its head first, so that a file
that is not a table (2 GB of anything) is refused without being read into memory. A ZIP is read
into memory whole, within the limits below. A ZIP member is never extracted to disk: its name is
only a label, so a hostile name (`..`, an absolute path) cannot place a file anywhere, and such
archives are refused outright. Member count, total size and compression ratio are limited before
and while reading, so a zip bomb stops at the limit instead of filling memory.

Files in a documents folder (`documents/`, `dokumenty/`: `documents_folder`) are never tables:
they are the community documents the documents table lists (etl.reader.attachments). A ZIP's
`.pdf` members there are read into memory unless they declare more than a document may have.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from etl.model import Problem
from etl.reader.headers import table_for

MAX_MEMBERS = 200  # files in a ZIP or directory bundle
MAX_TOTAL_BYTES = 2 * 1024**3  # uncompressed size of all table files together
MAX_RATIO = 200  # uncompressed/compressed size of one ZIP member beyond which it is a bomb
RATIO_FLOOR = 1024**2  # members smaller than this are never called bombs

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
ZIP_SUFFIXES = {".zip"}
PDF_SUFFIX = ".pdf"
# A document larger than this is refused by its size, unread (etl.reader.attachments).
MAX_DOCUMENT_BYTES = 20 * 1024**2
# A CSV file's header line and separator are found in its first 64 KiB (etl.reader.sheets).
HEAD_BYTES = 65536


class Rejected(Exception):
    """One problem that stops a file (or the whole bundle) from being read."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


@dataclass(frozen=True)
class Member:
    """One file of a bundle: its name inside the bundle, and its bytes on disk (a folder or a
    lone file: read only when asked) or already in memory (a ZIP member)."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    declared: int | None = None  # a ZIP member left unread: the size it declares

    def size(self) -> int:
        """Its size in bytes, without reading it."""
        if self.declared is not None:
            return self.declared
        if self.data is not None:
            return len(self.data)
        return self._path().stat().st_size

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data) if self.data is not None else self._path().open("rb")

    def head(self, size: int) -> bytes:
        """The first `size` bytes, without reading the rest."""
        if self.data is not None:
            return self.data[:size]
        with self._path().open("rb") as fh:
            return fh.read(size)

    def read(self) -> bytes:
        return self.data if self.data is not None else self._path().read_bytes()

    @functools.cached_property
    def sha256(self) -> str:
        """Its SHA-256, read streamed and worked out once: a re-import asks it of an unchanged
        file twice (etl.reader.ledger_delta, etl.reader.table_cache)."""
        with self.open() as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()

    def _path(self) -> Path:
        assert self.path is not None
        return self.path


def refuse(file: str, reason: str, *, table: str = "", value: str = "") -> Rejected:
    return Rejected(Problem(file, table, None, "", value, reason))


def _unsafe_name(member: str) -> bool:
    if member.startswith(("/", "\\")) or (len(member) > 1 and member[1] == ":"):
        return True
    return any(part == ".." for part in member.replace("\\", "/").split("/"))


def documents_folder(name: str) -> tuple[str, str] | None:
    """(the documents folder, the file's name inside it) when the file `name` (a path inside
    the bundle) lies in a folder named `documents` or `dokumenty` (compared as table names
    are); None otherwise."""
    parts = name.replace("\\", "/").split("/")
    for i, part in enumerate(parts[:-1]):
        if table_for(part) == "documents":
            return "/".join(parts[: i + 1]), "/".join(parts[i + 1 :])
    return None


def _ignorable(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, total: int, label: str
) -> tuple[list[bytes], int]:
    """Read one member in memory, stopping as soon as it grows past what is allowed."""
    chunks = []
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(1024**2):
            size += len(chunk)
            total += len(chunk)
            if (
                size > info.file_size
                or total > MAX_TOTAL_BYTES
                or (size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1))
            ):
                raise refuse(
                    label,
                    "a member unpacks to more than it declares or than "
                    "allowed (a zip bomb?); refused",
                    value=info.filename,
                )
            chunks.append(chunk)
    return chunks, total


def _zip_members(path: Path, label: str) -> list[Member]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise refuse(label, "not a readable ZIP archive") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in infos:
            if _unsafe_name(info.filename):
                raise refuse(
                    label,
                    "unsafe member name in the ZIP (absolute path or '..'); the archive is refused",
                    value=info.filename,
                )
        infos = [i for i in infos if not _ignorable(i.filename)]
        if len(infos) > MAX_MEMBERS:
            raise refuse(label, f"the ZIP holds {len(infos)} files; at most {MAX_MEMBERS}")
        declared = sum(i.file_size for i in infos)
        if declared > MAX_TOTAL_BYTES:
            raise refuse(label, f"the ZIP unpacks to {declared} bytes; at most {MAX_TOTAL_BYTES}")
        members = []
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise refuse(label, "encrypted ZIP members are not supported", value=info.filename)
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise refuse(
                    label, "compression ratio too high (a zip bomb?); refused", value=info.filename
                )
            if documents_folder(info.filename) is not None:
                if (
                    not info.filename.lower().endswith(PDF_SUFFIX)
                    or info.file_size > MAX_DOCUMENT_BYTES
                ):
                    # Not read: refused by its size, or ignored, when the table names it.
                    members.append(Member(info.filename, data=b"", declared=info.file_size))
                    continue
            elif not _readable(info.filename):
                members.append(Member(info.filename, data=b""))  # to be warned about
                continue
            try:
                chunks, total = _read_member(zf, info, total, label)
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, EOFError):
                raise refuse(
                    label,
                    "damaged ZIP member (its size or checksum does not match)",
                    value=info.filename,
                ) from None
            members.append(Member(info.filename, data=b"".join(chunks)))
        return members


def _dir_members(path: Path) -> list[Member]:
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink() and not _ignorable(str(p.relative_to(path)))
    )
    if len(files) > MAX_MEMBERS:
        raise refuse(path.name, f"the folder holds {len(files)} files; at most {MAX_MEMBERS}")
    wanted = [p for p in files if _readable(p.name)]  # documents have limits of their own
    if sum(p.stat().st_size for p in wanted) > MAX_TOTAL_BYTES:
        raise refuse(path.name, f"the folder holds more than {MAX_TOTAL_BYTES} bytes")
    # Every file is listed (others to be warned about); none is read yet.
    return [Member(p.relative_to(path).as_posix(), path=p) for p in files]


def _readable(name: str) -> bool:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in (
        CSV_SUFFIXES | XLSX_SUFFIXES | ZIP_SUFFIXES
    )


def members(path: Path) -> tuple[list[Member], bool]:
    """(files of the bundle, whether it is a collection rather than one file). A folder's files
    and a lone file are not read here: `Member.head` and `Member.read` read them."""
    if path.is_dir():
        return _dir_members(path), True
    if not path.is_file():
        raise refuse(path.name, "no such file or folder")
    suffix = path.suffix.lower()
    if suffix in ZIP_SUFFIXES:
        return _zip_members(path, path.name), True
    if suffix in CSV_SUFFIXES | XLSX_SUFFIXES:
        if path.stat().st_size > MAX_TOTAL_BYTES:
            raise refuse(path.name, f"the file is larger than {MAX_TOTAL_BYTES} bytes")
        return [Member(path.name, path=path)], False
    raise refuse(path.name, "not a CSV, XLSX or ZIP file; export the tables as CSV or XLSX")
