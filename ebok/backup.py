"""`ebok backup DIR` and `ebok restore DIR`: what it takes to bring a portal back on a new host.

A backup is a folder:
    manifest.json           what was copied: each file's path, size and SHA-256, the generation
    ebok.sqlite3            accounts, staff, sessions ended, sign-in history, audit log, throttles
    imports.sqlite3         the import history (when there is one)
    database.pgdump         instead of the two, with EBOK_DATABASE_URL: pg_dump of its schema
    secret_key              the session and token key, when it is kept in the data dir (0600)
    aliases.toml, communities.toml   the manager's import settings (when there are any)
    snapshots/CURRENT, snapshots/<generation>/…   the generation being served, whole

The databases are copied with SQLite's online backup API, so a backup taken while `ebok serve`
and `ebok sync` run is a consistent copy of each file, never a torn one. The generation is
immutable once published, so copying its files is safe too. Not in a backup: older
generations, `archive/` and `rejected/` (the exports themselves: back them up as plain files,
docs/deployment.md), `outbox/`, `uploads/`. A restored portal serves the same pages to the same
accounts with the same passwords, and the sessions it had stay valid (same key, same database).

`restore` writes into an empty (or missing) data dir only, and checks every file against the
manifest before it writes anything. Each file is written under a temporary name and renamed;
the snapshot pointer is written last, so a half-finished restore serves nothing.

With PostgreSQL (EBOK_DATABASE_URL) the database is dumped with pg_dump (ebok.database.pgdump:
a consistent snapshot while the portals serve) and restored with pg_restore into an empty
database; a backup restores only where the same kind of database is configured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ebok.console import fail, note
from ebok.database import pgdump
from ebok.database.pgdump import DumpError
from ebok.settings import Settings
from etl.snapshot.store import POINTER_FILE, SnapshotStore

MANIFEST = "manifest.json"
PGDUMP = "database.pgdump"
FORMAT = 1
SNAPSHOTS = "snapshots"
PRIVATE = 0o600  # databases and the key: personal data, password hashes, a signing key


def register(subparsers: argparse._SubParsersAction) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="copy the databases, the current generation, the key and the TOML files into DIR",
        description="Copy what a portal needs to be brought back into DIR (new, or empty): "
        "ebok.sqlite3 and imports.sqlite3 (SQLite online backup, safe while serving; with "
        "EBOK_DATABASE_URL: pg_dump of its schema), the "
        "current generation and its pointer, secret_key, aliases.toml, communities.toml, and "
        "a manifest.json with each file's SHA-256.",
    )
    backup.add_argument("dir", type=Path, metavar="DIR")
    backup.set_defaults(func=cmd_backup)
    restore = subparsers.add_parser(
        "restore",
        help="restore a backup made by `ebok backup` into an empty data dir",
        description="Check every file of DIR against its manifest.json, then copy them into "
        "the data dir (--data-dir or $EBOK_DATA_DIR), which must be empty or missing (a "
        "PostgreSQL dump: into EBOK_DATABASE_URL's database, which must be empty).",
    )
    restore.add_argument("dir", type=Path, metavar="DIR")
    restore.set_defaults(func=cmd_restore)


class BackupError(Exception):
    """Why a backup or a restore cannot be done; nothing was changed."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _empty_or_missing(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 (SQLite keeps an existing file's mode)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE))


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other processes read and write."""
    _private_file(target)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _copy_file(source: Path, target: Path, mode: int | None = None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    if mode is not None:
        os.chmod(target, mode)


def backup(settings: Settings, target: Path) -> dict[str, Any]:
    """Write a backup of `settings.data_dir` into `target` (new, or an empty folder); returns
    its manifest. Written beside `target` first and renamed into place when complete."""
    target = target.resolve()
    data = settings.data_dir
    if not data.is_dir():
        raise BackupError(f"no data dir at {data}")
    if not _empty_or_missing(target):
        raise BackupError(f"{target} is not empty: give a new or empty folder")
    if target == data or data in target.parents:
        raise BackupError("the backup cannot go inside the data dir")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        files: list[tuple[str, str]] = []  # (path in the backup, kind)
        if settings.database_url:
            pgdump.dump(settings.database_url, work / PGDUMP)
            files.append((PGDUMP, "pgdump"))
        else:
            for db in (settings.accounts_db, settings.imports_db):
                if db.exists():
                    _copy_database(db, work / db.name)
                    files.append((db.name, "sqlite"))
        for path in (settings.secret_key_file, settings.aliases_file, settings.communities_file):
            if path.exists():
                _copy_file(path, work / path.name, PRIVATE if path.name == "secret_key" else None)
                files.append((path.name, "file"))
        generation = SnapshotStore(settings.snapshots_dir).current()
        if generation is not None:
            for source in sorted(p for p in generation.path.rglob("*") if p.is_file()):
                inside = source.relative_to(generation.path).as_posix()
                name = f"{SNAPSHOTS}/{generation.id}/{inside}"
                _copy_file(source, work / name)
                files.append((name, "generation"))
            pointer = work / SNAPSHOTS / POINTER_FILE
            pointer.write_text(generation.id + "\n", encoding="utf-8")
            files.append((f"{SNAPSHOTS}/{POINTER_FILE}", "pointer"))
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_dir": str(data),
            "generation": generation.id if generation is not None else None,
            "files": [
                {
                    "path": name,
                    "kind": kind,
                    "bytes": (work / name).stat().st_size,
                    "sha256": sha256(work / name),
                }
                for name, kind in files
            ],
        }
        (work / MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        os.chmod(work, 0o700)
        if target.exists():
            target.rmdir()  # empty (checked above); rename cannot replace a folder otherwise
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _safe_relative(name: object) -> PurePosixPath:
    """A manifest path, refused unless it is a plain relative path with no `..`."""
    if not isinstance(name, str) or not name or "\\" in name:
        raise BackupError(f"manifest: bad path {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        raise BackupError(f"manifest: bad path {name!r}")
    return path


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in `source`, with every file checked against it."""
    try:
        manifest = json.loads((source / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} has no {MANIFEST}: not made by `ebok backup`") from None
    except ValueError as exc:
        raise BackupError(f"{source / MANIFEST} is not JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for entry in manifest.get("files", []):
        path = source / _safe_relative(entry.get("path"))
        if not path.is_file():
            raise BackupError(f"{entry['path']} is missing from the backup")
        if path.stat().st_size != entry.get("bytes") or sha256(path) != entry.get("sha256"):
            raise BackupError(f"{entry['path']} differs from the manifest (damaged or changed)")
    return manifest


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Restore the backup in `source` into `settings.data_dir`, which must be empty or missing;
    returns the manifest."""
    source = source.resolve()
    data = settings.data_dir
    if not _empty_or_missing(data):
        raise BackupError(f"the data dir {data} is not empty: restore only into an empty one")
    manifest = read_manifest(source)
    entries = manifest.get("files", [])
    dumped = [e for e in entries if e["kind"] == "pgdump"]
    if dumped and not settings.database_url:
        raise BackupError(
            "the backup holds a PostgreSQL dump: set EBOK_DATABASE_URL to an empty database"
        )
    if settings.database_url and any(e["kind"] == "sqlite" for e in entries):
        raise BackupError(
            "the backup holds SQLite databases, and EBOK_DATABASE_URL names PostgreSQL:"
            " restore without EBOK_DATABASE_URL"
        )
    if dumped:  # first: the one step that can still refuse (a database that is not empty)
        pgdump.restore(str(settings.database_url), source / _safe_relative(dumped[0]["path"]))
    pointer = [e for e in entries if e["kind"] == "pointer"]
    data.mkdir(parents=True, exist_ok=True)
    for entry in [e for e in entries if e["kind"] not in ("pointer", "pgdump")] + pointer:
        relative = _safe_relative(entry["path"])
        target = data.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        private = entry["kind"] == "sqlite" or relative.name == "secret_key"
        tmp = target.with_name(f".{target.name}.restoring")
        _copy_file(source.joinpath(*relative.parts), tmp, PRIVATE if private else None)
        os.replace(tmp, target)
    return manifest


def _summary(manifest: dict[str, Any]) -> str:
    files = manifest["files"]
    size = sum(e["bytes"] for e in files)
    generation = manifest["generation"] or "none"
    return f"{len(files)} files, {size / 1e6:.1f} MB, generation {generation}"


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        manifest = backup(settings, args.dir)
    except (BackupError, DumpError, OSError, sqlite3.Error) as exc:
        return fail(f"backup: {exc}")
    print(f"backed up {settings.data_dir} into {args.dir.resolve()}: {_summary(manifest)}")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    try:
        manifest = restore(settings, args.dir)
    except (BackupError, DumpError, OSError) as exc:
        return fail(f"restore: {exc}")
    print(f"restored {args.dir.resolve()} into {settings.data_dir}: {_summary(manifest)}")
    if not any(e["path"] == "secret_key" for e in manifest["files"]):
        note("the backup holds no secret_key: set the same EBOK_SECRET_KEY as before")
    return 0
