"""Importing bundles: one path on demand (`ebok import`) or every bundle dropped into the inbox
(`ebok sync`, meant for cron).

All imports of one data dir are serialised by an advisory lock (`DATA/import.lock`): two
publishes at once would each merge with the same current generation and the later one would
silently drop the other's data. `ebok import` waits for the lock; `ebok sync` skips its run when
another one holds it, so overlapping cron runs never collide and never pile up.

An accountant's upload may still be in progress when cron fires. Sync therefore leaves alone
any inbox entry modified less than `min_age` seconds ago (for a folder: its newest file), and
any hidden or partial-looking name (`.name`, `*.part`, `*.tmp`, `*.filepart`, `*.crdownload`,
`*~`) that upload tools use until the transfer completes; the next run picks them up.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ebok.settings import Settings
from etl import allocator, cycles
from etl.model import Bundle, BundleRejected, Problem
from etl.progress import ProgressLine
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.snapshot.writer import GenerationWriter

if TYPE_CHECKING:
    from etl.publisher.publish import PublishResult
    from etl.reader.prescan import Scans

log = logging.getLogger("ebok.imports")

LOCK_FILE = "import.lock"
# Called after a publish with the generation that was current before (None: the first) and
# the new one, still under the import lock; what the ebok layer gives etl's imports (the
# portal's e-mail notices, portal.notices.job), since etl never imports the portal.
AfterPublish = Callable[[Generation | None, Generation], object]
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload", "~")
DEFAULT_MIN_AGE = 10.0


def run_after_publish(
    hook: AfterPublish | None,
    previous: Generation | None,
    store: SnapshotStore,
    result: PublishResult,
) -> None:
    """Call `hook` for a publish that changed something; whatever goes wrong in it is logged
    and never undoes or fails the import."""
    if hook is None or not result.changed or not result.generation:
        return
    try:
        hook(previous, store.generation(result.generation))
    except Exception:
        log.exception("after publishing generation %s", result.generation)


class Busy(Exception):
    """Another import holds the lock."""


@contextmanager
def import_lock(settings: Settings, *, wait: bool) -> Iterator[None]:
    """Hold the data dir's import lock; with wait=False raise Busy instead of blocking.

    flock is released by the kernel when the process dies, so a killed import never leaves a
    stale lock behind."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Busy() from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _optional(path: Path) -> Path | None:
    return path if path.exists() else None


def import_path(
    path: Path,
    settings: Settings,
    store: SnapshotStore,
    progress: ProgressLine | None = None,
    *,
    allow_shrink: bool = False,
    replace_history: bool = False,
) -> PublishResult:
    """Read, validate and publish one bundle (the caller holds the lock). Raises
    BundleRejected for any invalid input, including a missing or unreadable path, an opening
    balance that contradicts the published history and an export that would remove too much
    of what is published (etl.publisher.history, etl.publisher.shrink).

    `allow_shrink` publishes an export that removes more than the shrink guard allows;
    `replace_history` lets the export's ledger replace the published one whole (the older
    years are dropped): both for an export the accountant says is complete."""
    if not path.exists():
        raise BundleRejected([Problem(path.name, "", None, "", "", "no such file or directory")])
    # The first pass over the big files starts in a helper process before anything else, so
    # that it runs while this one loads its libraries (etl.reader.prescan, imported here as
    # the readers are in _imported).
    from etl.reader import prescan

    # etl.cycles: no cyclic collector; etl.allocator: freed memory reused, not zeroed again
    with prescan.started(path) as scans, cycles.paused(), allocator.kept():
        return _imported(path, settings, store, progress, scans, allow_shrink, replace_history)


def _imported(
    path: Path,
    settings: Settings,
    store: SnapshotStore,
    progress: ProgressLine | None,
    scans: Scans,
    allow_shrink: bool,
    replace_history: bool,
) -> PublishResult:
    if progress is not None:
        progress.stage(f"reading {path.name}")
    # Imported here, before the clock starts: the readers and the publisher (pandas, numpy,
    # pyarrow: ~0.45 s) are needed by an import only, not by `ebok sync` of an empty inbox
    # or `ebok generations`.
    from etl.publisher.publish import publish
    from etl.publisher.reuse import StaleKept

    started = time.perf_counter()
    ahead = _Ahead(store)
    try:
        incremental = not replace_history
        bundle = _read(path, settings, store, progress, scans, incremental, ahead)
        read = time.perf_counter() - started
        if progress is not None:
            progress.stage(f"publishing {path.name}: premises")
        publishing = functools.partial(
            publish,
            store=store,
            keep=settings.keep_generations,
            progress=progress,
            allow_shrink=allow_shrink,
            replace_history=replace_history,
        )
        try:
            result = publishing(bundle, ahead=ahead.take())
        except StaleKept:  # the ledger was read as its changes, but the rest cannot be copied
            bundle = _read(path, settings, store, progress, scans, False, None)
            read = time.perf_counter() - started
            result = publishing(bundle)
    finally:
        ahead.abandon()
    result.seconds = {"read": read, "publish": time.perf_counter() - started - read}
    return result


class _Ahead:
    """The next generation started as a copy of the current one as soon as the reading knows
    that most of the ledger is as the last import saw it (etl.reader.ledger_delta), so that
    the copy (560 MB for 50,000 premises) is made beside the rest of the reading, not after
    it. The publisher uses it when the new generation is to start so (etl.publisher.publish),
    or abandons it; the share of unchanged chunks only foretells the share of kept premises."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self.writer: GenerationWriter | None = None

    def __call__(self, unchanged: float) -> None:
        from etl.publisher.reuse import BASE_COPY

        current = self.store.current()
        if self.writer is None and current is not None and unchanged >= BASE_COPY:
            self.writer = self.store.start(base=current)

    def take(self) -> GenerationWriter | None:
        writer, self.writer = self.writer, None
        return writer

    def abandon(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


def _read(
    path: Path,
    settings: Settings,
    store: SnapshotStore,
    progress: ProgressLine | None,
    scans: Scans,
    incremental: bool,
    unchanged: Callable[[float], None] | None,
) -> Bundle:
    """The export read and validated; `incremental`: its ledger may be read as its changes
    since the last import (etl.reader.ledger_delta), and `unchanged` hears how much of it
    is unchanged."""
    # Imported here, as in _imported: only an import needs the readers.
    from etl.exports import read_export
    from etl.reader.spill import SpillFailed

    try:
        return read_export(
            path,
            aliases_file=_optional(settings.aliases_file),
            communities_file=_optional(settings.communities_file),
            previous=store.current(),
            # rows read so far, where the progress display shows them (the panel's does not)
            progress=getattr(progress, "rows", None),
            work_dir=settings.work_dir,
            incremental=incremental,
            scans=scans,
            unchanged=unchanged,
        )
    except SpillFailed as exc:
        raise BundleRejected([Problem(path.name, "ledger", None, "", "", exc.strerror)]) from None
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        raise BundleRejected([Problem(path.name, "", None, "", "", reason)]) from None


def summary_line(name: str, result: PublishResult, seconds: float) -> str:
    if not result.changed:
        return (
            f"{name}: no changes: the published data already matches this bundle ({seconds:.1f} s)"
        )
    c = result.counts
    return (
        f"{name}: published generation {result.generation}: {len(result.communities)} "
        f"communities, {c['premises']} premises, {c['ledger']} ledger rows "
        f"({result.rebuilt} documents rebuilt) in {seconds:.1f} s{_stages(result)}"
    )


def _stages(result: PublishResult) -> str:
    if not result.seconds:
        return ""
    return " (" + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()) + ")"


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def newest_mtime(path: Path) -> float:
    """When the entry last changed; for a folder, its most recently written file."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except FileNotFoundError:  # removed while we looked: still being changed
                    return time.time()
    return newest


def _looks_partial(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


@dataclass
class Outcome:
    name: str
    status: str  # "published", "unchanged", "rejected", "skipped"
    moved_to: Path | None = None
    message: str = ""
    # What the import did, for the import history (etl.import_history): the result of an accepted
    # bundle, the refusal of a rejected one or the internal error; the generation that was
    # current before it; wall time; the report written beside `moved_to`.
    result: PublishResult | None = None
    rejection: BundleRejected | None = None
    error: str = ""
    previous: Generation | None = None
    seconds: float = 0.0
    report: Path | None = None


def _destination(directory: Path, name: str) -> Path:
    """`<UTC timestamp>-<name>` in `directory`, never overwriting an earlier one."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = _utc_stamp()
    candidate = directory / f"{stamp}-{name}"
    n = 1
    while candidate.exists() or candidate.with_name(candidate.name + ".report.txt").exists():
        n += 1
        candidate = directory / f"{stamp}-{n}-{name}"
    return candidate


def _report(name: str, lines: list[str]) -> str:
    head = [
        f"EBOK import report for {name}",
        f"processed at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        "",
    ]
    return "\n".join(head + lines) + "\n"


def _accepted_report(result: PublishResult, seconds: float) -> list[str]:
    if not result.changed:
        lines = ["Result: no changes. The published data already matched this bundle."]
    else:
        c = result.counts
        lines = [
            f"Result: published as generation {result.generation} in {seconds:.1f} s.",
            "",
            f"All published data now: {c['premises']} premises, {c['ledger']} ledger rows, "
            f"{c['fees']} fee components, {c['allowances']} allowances.",
            "",
            "Communities (as of, premises):",
        ]
        lines += [
            f"  {cid}: as of {e['as_of']}, {e['premises']} premises"
            for cid, e in result.communities.items()
        ]
    if result.warnings:
        lines += ["", "Warnings:"] + [f"  {w}" for w in result.warnings]
    return lines


def _rejected_report(exc: BundleRejected) -> list[str]:
    hint = getattr(exc, "hint", "")  # refusals of a valid export say how to publish it anyway
    lines = [
        "Result: REJECTED. Nothing of this bundle was published; residents keep seeing the",
        "previously published data. Fix the problems below and drop the corrected export",
        "into the inbox again.",
        "",
        "Problems (file, table, row, column, value: reason):",
        *(f"  {p}" for p in exc.problems),
    ]
    if exc.total > len(exc.problems):
        lines.append(f"  ... and {exc.total - len(exc.problems)} more")
    return lines + (["", hint] if hint else [])


def process(
    entry: Path,
    settings: Settings,
    store: SnapshotStore,
    progress: ProgressLine | None = None,
    *,
    name: str | None = None,
    allow_shrink: bool = False,
    replace_history: bool = False,
    check: Callable[[Path], None] | None = None,
    after_publish: AfterPublish | None = None,
) -> Outcome:
    """Import one bundle (the caller holds the lock) and move it to archive/ or rejected/ as
    `<UTC time>-<name>` (default: its own name), with a `.report.txt` beside it. `check(entry)`
    may refuse the entry before it is read, by raising BundleRejected; `after_publish` is
    called once the bundle is archived, if it published a new generation."""
    name = name or entry.name
    previous = store.current()
    started = time.perf_counter()
    result = rejection = None
    error = ""
    try:
        if check is not None:
            check(entry)
        result = import_path(
            entry,
            settings,
            store,
            progress,
            allow_shrink=allow_shrink,
            replace_history=replace_history,
        )
    except BundleRejected as exc:
        rejection = exc
        dest = _destination(settings.rejected_dir, name)
        lines = _rejected_report(exc)
        status, message = "rejected", f"{name}: rejected ({exc.total} problem(s))"
    except Exception as exc:  # a bug must not wedge the inbox: park the bundle, say why
        error = repr(exc)
        dest = _destination(settings.rejected_dir, name)
        lines = [
            "Result: NOT IMPORTED because of an internal error (nothing was published).",
            "Please pass this report to the EBOK administrator.",
            "",
            *traceback.format_exception(exc),
        ]
        status, message = "rejected", f"{name}: internal error: {exc!r}"
    else:
        elapsed = time.perf_counter() - started
        dest = _destination(settings.archive_dir, name)
        lines = _accepted_report(result, elapsed)
        status = "published" if result.changed else "unchanged"
        message = summary_line(name, result, elapsed)
    seconds = time.perf_counter() - started
    if progress is not None:
        progress.stage(f"archiving {name}")
    shutil.move(entry, dest)
    report = dest.with_name(dest.name + ".report.txt")
    report.write_text(_report(name, lines), "utf-8")
    if result is not None:
        run_after_publish(after_publish, previous, store, result)
    return Outcome(
        name,
        status,
        dest,
        message,
        result=result,
        rejection=rejection,
        error=error,
        previous=previous,
        seconds=seconds,
        report=report,
    )


def pending(settings: Settings, min_age: float) -> tuple[list[Path], list[Outcome]]:
    """Inbox entries ready to import, oldest first, and those left for a later run."""
    ready: list[tuple[float, str, Path]] = []
    waiting: list[Outcome] = []
    now = time.time()
    for entry in settings.inbox_dir.iterdir():
        if _looks_partial(entry.name):
            continue
        try:
            mtime = newest_mtime(entry)
        except FileNotFoundError:
            continue
        age = now - mtime
        if age < min_age:
            message = f"{entry.name}: modified {age:.0f} s ago, left for the next run"
            waiting.append(Outcome(entry.name, "skipped", None, message))
            continue
        ready.append((mtime, entry.name, entry))
    return [p for _, _, p in sorted(ready)], waiting


def sync(
    settings: Settings,
    *,
    min_age: float = DEFAULT_MIN_AGE,
    on_outcome: Callable[[Outcome], None] | None = None,
    after_publish: AfterPublish | None = None,
) -> list[Outcome]:
    """Import every settled bundle in the inbox, oldest first. Raises Busy when another
    import holds the lock (then nothing is touched). `on_outcome` is called, still under the
    lock, with each imported or rejected bundle's outcome (etl.imports records them), and
    `after_publish` after each bundle that published a generation."""
    store = SnapshotStore(settings.snapshots_dir)
    with import_lock(settings, wait=False):
        for d in (settings.inbox_dir, settings.archive_dir, settings.rejected_dir):
            d.mkdir(parents=True, exist_ok=True)
        ready, outcomes = pending(settings, min_age)
        for entry in ready:
            outcome = process(entry, settings, store, after_publish=after_publish)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes
