"""`ebok sync` of the inbox (meant for cron), and filing each imported bundle away: to
archive/ or rejected/ as `<UTC time>-<name>`, with a `.report.txt` beside it saying what
happened. The import itself, and the lock that serialises all imports, are etl.sync's; an
upload in the panel is filed away here too (etl.imports.run_import calls `process`).

An accountant's upload may still be in progress when cron fires. Sync therefore leaves alone
any inbox entry modified less than `min_age` seconds ago (for a folder: its newest file), and
any hidden or partial-looking name (`.name`, `*.part`, `*.tmp`, `*.filepart`, `*.crdownload`,
`*~`) that upload tools use until the transfer completes; the next run picks them up.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ebok.settings import Settings
from etl.model import BundleRejected
from etl.progress import ProgressLine
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.sync import AfterPublish, import_lock, import_path, run_after_publish, summary_line

if TYPE_CHECKING:
    from etl.publisher.publish import PublishResult


PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload", "~")
DEFAULT_MIN_AGE = 10.0


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
