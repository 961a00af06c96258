"""Finding and reading the files of legacy `#` exports, from a folder or a ZIP.

A community's export is a folder (named by the community id) holding lok.txt and wplaty.txt
among others. What the accountant drops may be that folder, a folder of such folders (all
communities exported at once), or a ZIP of either; a ZIP with the files at its top level takes
its own name (without .zip) as the community id. Names inside a ZIP never become paths, so an
archive cannot write anywhere; sizes are capped against zip bombs.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from etl.model import BundleRejected, Problem, SourceFile
from etl.reader.encoding import EncodingRefused, choose_encoding

if TYPE_CHECKING:
    from etl.legacy.columns import Source

MARKER_FILES = ("lok.txt", "wplaty.txt")  # their presence marks an export
KNOWN_FILES = ("lok.txt", "nal_czynsz.txt", "pow_czynsz.txt", "wplaty.txt")
AS_OF_SUFFIX = "_ost_wys.wmb"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
MAX_RATIO = 200  # uncompressed-to-compressed, beyond which a large member is a zip bomb


# `ebok sync` archives a bundle as `<UTC stamp>-<name>`; re-importing it from the archive must
# not turn the stamp into part of the community id.
_ARCHIVE_STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}Z-(?:[0-9]+-)?")


def community_id(folder_name: str) -> str:
    """The community id a folder (or ZIP) name stands for."""
    return _ARCHIVE_STAMP.sub("", folder_name)


def _has_markers(names: set[str]) -> bool:
    return all(m in names for m in MARKER_FILES)


def _file_names(folder: Path) -> set[str]:
    return {p.name.lower() for p in folder.iterdir() if p.is_file()}


def _dir_roots(path: Path) -> list[Path]:
    """The community folders: `path` itself, or those of its subfolders that are exports."""
    if _has_markers(_file_names(path)):
        return [path]
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [p for p in subdirs if _has_markers(_file_names(p))]


def _zip_roots(names: list[str], stem: str) -> list[tuple[str, str]]:
    """(member prefix, community id) of each export in the archive."""
    files = [PurePosixPath(n) for n in names if not n.endswith("/")]
    if _has_markers({p.name.lower() for p in files if len(p.parts) == 1}):
        return [("", community_id(stem))]
    folders: dict[str, set[str]] = {}
    for p in files:
        if len(p.parts) == 2:
            folders.setdefault(p.parts[0], set()).add(p.name.lower())
    return [(f"{top}/", top) for top in sorted(folders) if _has_markers(folders[top])]


def detect(path: Path) -> bool:
    """True when `path` is a legacy export: a folder (or a .zip) holding lok.txt and
    wplaty.txt, directly or in subfolders named for the communities."""
    path = Path(path)
    try:
        if path.is_dir():
            return bool(_dir_roots(path))
        if path.is_file() and path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                return bool(_zip_roots(zf.namelist(), path.stem))
    except (OSError, zipfile.BadZipFile):
        return False
    return False


@dataclass
class Export:
    """The files of one community's export, read into memory, keyed by lower-case name."""

    community_id: str
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (shown, data)
    unknown: list[str] = field(default_factory=list)

    def label(self, name: str) -> str:
        """How problems and the manifest name a file: `KLO11/wplaty.txt`."""
        return f"{self.community_id}/{name}"

    def text(self, name: str) -> str | None:
        """The file's text; a file whose encoding cannot be told rejects the export."""
        entry = self.files.get(name)
        if entry is None:
            return None
        # Imported here: `detect` (every import asks it) needs none of the legacy parsers.
        from etl.legacy.fields import decode

        try:
            return decode(entry[1], self.label(name))
        except EncodingRefused as exc:
            raise _refuse(exc.name, exc.reason) from None

    def source(self, name: str) -> Source | None:
        """The file for the column reader: its bytes as they are in a single-byte code page
        (only distinct values get decoded), else its text as UTF-8; refused like `text`."""
        entry = self.files.get(name)
        if entry is None:
            return None
        try:
            codec = choose_encoding(entry[1], self.label(name))
        except EncodingRefused as exc:
            raise _refuse(exc.name, exc.reason) from None
        # Imported here: `detect` (every import asks it) needs none of the legacy parsers.
        from etl.legacy.columns import SINGLE_BYTE, Source

        if codec in SINGLE_BYTE:
            return Source(entry[1], codec)
        return Source.of_text(self.text(name) or "")

    def sources(self) -> list[SourceFile]:
        return [
            SourceFile(self.label(shown), hashlib.sha256(data).hexdigest(), len(data))
            for shown, data in sorted(self.files.values())
        ]

    def add(self, name: str, data: bytes) -> None:
        lower = name.lower()
        if lower in KNOWN_FILES or lower.endswith(AS_OF_SUFFIX):
            self.files[lower] = (name, data)
        else:
            self.unknown.append(name)


def _refuse(name: str, reason: str) -> BundleRejected:
    return BundleRejected([Problem(name, "", None, "", "", reason)])


def _too_big(name: str) -> BundleRejected:
    return _refuse(name, "file too large or too highly compressed to read")


def load_exports(path: Path) -> tuple[list[Export], list[str]]:
    """Every community's export under `path`, and the names of anything else found there."""
    path = Path(path)
    if path.is_dir():
        return _load_dir(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _load_zip(zf, path)
    except zipfile.BadZipFile:
        raise _refuse(path.name, "not a readable ZIP archive") from None


def _load_dir(path: Path) -> tuple[list[Export], list[str]]:
    roots = _dir_roots(path)
    if not roots:
        raise _refuse(path.name, "not a legacy export (no lok.txt and wplaty.txt)")
    stray = []
    if roots != [path]:
        stray = [
            f"{path.name}/{p.name}"
            for p in sorted(path.iterdir())
            if p not in roots and not p.name.startswith(".")
        ]
    total = 0
    exports = []
    for root in roots:
        export = Export(community_id(root.name))
        for p in sorted(root.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir() or p.is_symlink():
                export.unknown.append(p.name + ("/" if p.is_dir() else ""))
                continue
            size = p.stat().st_size
            total += size
            if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                raise _too_big(export.label(p.name))
            export.add(p.name, p.read_bytes())
        exports.append(export)
    return exports, stray


def _load_zip(zf: zipfile.ZipFile, path: Path) -> tuple[list[Export], list[str]]:
    roots = _zip_roots(zf.namelist(), path.stem)
    if not roots:
        raise _refuse(path.name, "not a legacy export (no lok.txt and wplaty.txt)")
    exports = {prefix: Export(cid) for prefix, cid in roots}
    stray, total = [], 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        prefix = next((p for p in exports if info.filename.startswith(p)), None)
        if prefix is None:
            stray.append(f"{path.name}/{info.filename}")
            continue
        export, name = exports[prefix], info.filename[len(prefix) :]
        if "/" in name:
            export.unknown.append(name)
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        total += info.file_size
        if (
            info.file_size > MAX_FILE_BYTES
            or total > MAX_TOTAL_BYTES
            or (ratio > MAX_RATIO and info.file_size > 2**20)
        ):
            raise _too_big(export.label(name))
        with zf.open(info) as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # the header's size may lie
        if len(data) > MAX_FILE_BYTES:
            raise _too_big(export.label(name))
        export.add(name, data)
    return list(exports.values()), stray
