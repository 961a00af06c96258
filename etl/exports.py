"""Which reader an export needs: the legacy `#` export is recognised by its file names, every
other export is read as the contract bundle (docs/import-format.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from etl.legacy.source import detect as is_legacy
from etl.model import Bundle
from etl.reader.bundle import read_bundle
from etl.reader.prescan import Scans
from etl.snapshot.store import Generation


def read_export(
    path: Path,
    *,
    aliases_file: Path | None = None,
    communities_file: Path | None = None,
    previous: Generation | None = None,
    progress: Callable[[str, int], None] | None = None,
    work_dir: Path | None = None,
    incremental: bool = True,
    scans: Scans | None = None,
    unchanged: Callable[[float], None] | None = None,
) -> Bundle:
    """Read and validate one export of either kind; raises BundleRejected listing every
    problem found. `progress(file, rows)` hears how far a big file's reading is; `work_dir`
    (the data dir's scratch folder) takes a ledger too big for memory; `incremental`: a
    bundle's ledger may be read as its changes since the last import; `scans`: the first
    passes over its big files a helper process made (etl.reader.prescan); `unchanged` hears
    the share of a ledger read as its changes that is unchanged (etl.reader.ledger_delta)."""
    if is_legacy(path):
        # Imported here: a contract bundle, the usual import, needs none of the `#` reader.
        from etl.legacy.reader import read_legacy

        return read_legacy(path, communities_file=communities_file, previous=previous)
    return read_bundle(
        path,
        aliases_file=aliases_file,
        previous=previous,
        progress=progress,
        work_dir=work_dir,
        incremental=incremental,
        scans=scans,
        unchanged=unchanged,
    )
