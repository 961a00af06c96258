"""Importing one bundle: reading, validating and publishing it (`import_path`), for `ebok import
PATH` and for each bundle etl.inbox files away (the inbox's and the panel's uploads); the line
that sums up its result; and the data dir's import lock, which every caller holds around it.

All imports of one data dir are serialised by an advisory lock (`DATA/import.lock`): two
publishes at once would each merge with the same current generation and the later one would
silently drop the other's data. `ebok import` waits for the lock; `ebok sync` (etl.inbox) skips
its run when another one holds it, so overlapping cron runs never collide and never pile up.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
