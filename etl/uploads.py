"""Uploads: the files the manager's panel received, each in a folder of its own.

An upload (`Upload`, DATA/uploads/<id>/) keeps every file under a name made safe by
`safe_name`, so that no name from a request becomes a path outside that folder. This is the
one place where names from a request meet the data dir; what an upload holds is then imported
by etl.imports (`run_import`), and its id is the import history's (etl.import_history).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path
from typing import BinaryIO

from ebok.settings import Settings
from etl.import_history import new_id

MAX_NAME = 120  # characters of an uploaded file's name kept

_UNSAFE = re.compile(r"[^\w.()+,\- ]+")


def safe_name(name: str, default: str = "plik") -> str:
    """An uploaded file's name as a plain name in its upload folder: the last part of any path
    (`../x.csv`, `C:\\a\\x.csv` -> `x.csv`), letters (Polish too), digits and `._-()+, `
    only, no leading dot (never hidden, never `..`), at most MAX_NAME characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_NAME - len(suffix) - 1].rstrip(" .") + "." + suffix
        else:
            name = name[:MAX_NAME].rstrip(" .")
    return name or default


class Upload:
    """A fresh folder under DATA/uploads for one upload's files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.id = directory.name
        self.names: list[str] = []

    def create(self, name: str) -> BinaryIO:
        """A new, empty file for an uploaded file called `name` (made safe, and unique in
        this upload), open for writing."""
        safe = safe_name(name)
        stem, dot, suffix = safe.rpartition(".")
        if not dot:
            stem, suffix = safe, ""
        candidate, n = safe, 1
        while (self.directory / candidate).exists():
            n += 1
            candidate = f"{stem}-{n}{dot}{suffix}"
        path = self.directory / candidate
        if path.resolve().parent != self.directory.resolve():  # safe_name makes this impossible
            raise ValueError(f"unsafe upload name {name!r}")
        self.names.append(candidate)
        return open(path, "xb")

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def new_upload(settings: Settings) -> Upload:
    directory = settings.uploads_dir / new_id()
    directory.mkdir(parents=True)
    return Upload(directory)
