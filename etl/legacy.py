"""Reader for the native `#`-delimited export of a legacy Polish ledger system.

The export is a folder per community (its name is the community id) of headerless text files
in ISO-8859-2; see docs/legacy-format.md. It is recognised by its file names, so the
accountant drops the folder (or a ZIP of it) into the inbox as it is.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from etl.model import Bundle
from etl.store import Generation

# Files whose presence marks the export; the others are optional.
MARKER_FILES = ("lok.txt", "wplaty.txt")


def _has_markers(names: set[str]) -> bool:
    return all(m in names for m in MARKER_FILES)


def _dir_root(path: Path) -> Path | None:
    """The folder holding the files: `path` itself or its single subfolder."""
    names = {p.name.lower() for p in path.iterdir() if p.is_file()}
    if _has_markers(names):
        return path
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) == 1:
        sub = subdirs[0]
        if _has_markers({p.name.lower() for p in sub.iterdir() if p.is_file()}):
            return sub
    return None


def _zip_prefix(names: list[str]) -> str | None:
    """The member prefix ("" or "TOP/") under which the marker files sit."""
    files = [PurePosixPath(n) for n in names if not n.endswith("/")]
    top = {p.name.lower() for p in files if len(p.parts) == 1}
    if _has_markers(top):
        return ""
    tops = {p.parts[0] for p in files if len(p.parts) > 1}
    if len(tops) == 1:
        (folder,) = tops
        inner = {p.name.lower() for p in files if len(p.parts) == 2 and p.parts[0] == folder}
        if _has_markers(inner):
            return folder + "/"
    return None


def detect(path: Path) -> bool:
    """True when `path` is a legacy export: a folder (or a .zip) holding lok.txt and
    wplaty.txt, directly or in one subfolder named for the community."""
    path = Path(path)
    try:
        if path.is_dir():
            return _dir_root(path) is not None
        if path.is_file() and path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                return _zip_prefix(zf.namelist()) is not None
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def read_legacy(
    path: Path, *, communities_file: Path | None = None, previous: Generation | None = None
) -> Bundle:
    """Read one community's legacy export into a normalised Bundle (kind "legacy")."""
    raise NotImplementedError("legacy reader not implemented yet")
