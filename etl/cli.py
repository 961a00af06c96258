"""`ebok import`, `ebok sync`, `ebok show`, `ebok generations`, `ebok rollback`.

Handlers take (args, settings) and return the exit status; bad input ends in a message that
says where and why, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

from ebok.console import note
from ebok.settings import Settings
from etl.imports import record_command, sync_inbox
from etl.inbox import DEFAULT_MIN_AGE, Outcome
from etl.model import BundleRejected
from etl.progress import ProgressLine
from etl.publisher.shrink import SHRINK_LIMITS
from etl.snapshot.money import decimal_text
from etl.snapshot.store import Generation, SnapshotStore
from etl.sync import Busy, import_lock, import_path, run_after_publish, summary_line


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import",
        help="validate and publish ledger export bundles",
        description="Validate each bundle (a folder, .zip, .xlsx or a single table file) and "
        "publish it as a new generation, in the order given. A rejected bundle changes nothing "
        "and is reported row by row; the others are still published (exit status 1 if any was "
        "rejected).",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="publish even if the bundle removes premises, or more than "
        f"{SHRINK_LIMITS['ledger']:.0%} of a community's published ledger rows or "
        f"{SHRINK_LIMITS['fees']:.0%} of its fee lines (refused otherwise, as a cut-short "
        "export)",
    )
    p.add_argument(
        "--replace-history",
        action="store_true",
        help="the bundle holds the whole history: its ledger replaces the published one, "
        "dropping published years before its first date (kept otherwise, and its opening "
        "balance must continue them)",
    )
    # after_publish: what to call after each publish, given by the ebok layer (ebok.cli:
    # the portal's e-mail notices); etl itself calls nothing.
    p.set_defaults(func=cmd_import, after_publish=None)

    p = subparsers.add_parser(
        "sync",
        help="import every bundle waiting in DATA/inbox (for cron)",
        description="Import the inbox oldest first; move each bundle to DATA/archive or "
        "DATA/rejected with a .report.txt beside it. Does nothing while another import runs.",
    )
    p.add_argument(
        "--min-age",
        type=float,
        default=DEFAULT_MIN_AGE,
        metavar="SECONDS",
        help="leave entries modified less than this long ago for the next run, as an upload "
        f"may still be in progress (default {DEFAULT_MIN_AGE:g})",
    )
    p.set_defaults(func=cmd_sync, after_publish=None)

    p = subparsers.add_parser(
        "show",
        help="print a premises' published document as JSON (money in zł)",
    )
    p.add_argument("premises_id", metavar="PREMISES_ID")
    p.set_defaults(func=cmd_show)

    p = subparsers.add_parser("generations", help="list published generations")
    p.set_defaults(func=cmd_generations)

    p = subparsers.add_parser(
        "rollback", help="make the previous published generation current again"
    )
    p.add_argument("--to", metavar="GENERATION", help="a specific generation id instead")
    p.set_defaults(func=cmd_rollback)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    store = SnapshotStore(settings.snapshots_dir)
    progress = ProgressLine()
    status = 0
    try:
        with import_lock(settings, wait=False):
            pass
    except Busy:
        note("another import is running; waiting for it to finish…")
    with import_lock(settings, wait=True):
        for path in args.paths:
            started = time.perf_counter()
            previous = store.current()
            record = functools.partial(_record, settings, args, path, previous, started)
            try:
                result = import_path(
                    path,
                    settings,
                    store,
                    progress,
                    allow_shrink=args.allow_shrink,
                    replace_history=args.replace_history,
                )
            except BundleRejected as exc:
                progress.clear()
                record(rejection=exc)
                note(f"{path}: rejected, nothing was published.")
                note(exc.report())
                status = 1
                continue
            except OSError as exc:  # writing the generation (disk full, permissions)
                progress.clear()
                record(error=repr(exc))
                note(f"{path}: not published: {exc}")
                status = 1
                continue
            except Exception as exc:  # a bug, not bad input: still no half-published data
                progress.clear()
                record(error=repr(exc))
                note(f"{path}: not published because of an internal error: {exc!r}")
                note("The published data is unchanged. Please report this with the bundle.")
                status = 1
                continue
            progress.clear()
            record(result=result)
            run_after_publish(args.after_publish, previous, store, result)
            for warning in result.warnings:
                print(f"warning: {warning}")
            print(summary_line(str(path), result, time.perf_counter() - started))
    return status


def _record(
    settings: Settings,
    args: argparse.Namespace,
    path: Path,
    previous: Generation | None,
    started: float,
    **what: Any,
) -> None:
    """One `ebok import` of `path` in the import history (etl.import_history)."""
    seconds = time.perf_counter() - started
    outcome = Outcome(path.name, "", previous=previous, seconds=seconds, **what)
    record_command(
        settings,
        path,
        outcome,
        allow_shrink=args.allow_shrink,
        replace_history=args.replace_history,
    )


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    try:
        outcomes = sync_inbox(settings, min_age=args.min_age, after_publish=args.after_publish)
    except Busy:
        print("another import is running; this sync run does nothing")
        return 0
    if not outcomes:
        print(f"inbox {settings.inbox_dir} is empty")
    for o in outcomes:
        where = f" -> {o.moved_to}" if o.moved_to else ""
        print(f"{o.message}{where}")
    return 1 if any(o.status == "rejected" for o in outcomes) else 0


def money_as_decimal_strings(doc: dict[str, Any]) -> dict[str, Any]:
    """The published document with every amount in zł (decimal strings), for reading by eye."""
    out = json.loads(json.dumps(doc))
    columns = out["ledger"]["columns"]
    money_cols = [columns.index(c) for c in ("charge", "payment")]
    details_col = columns.index("details")
    for row in out["ledger"]["rows"]:
        for i in money_cols:
            row[i] = decimal_text(row[i])
        for item in row[details_col] or []:
            if isinstance(item.get("amount"), int):
                item["amount"] = decimal_text(item["amount"])
    for fee in out["fees"]:
        fee["amount"] = decimal_text(fee["amount"])
    for allowance in out["allowances"]:
        allowance["monthly_amount"] = decimal_text(allowance["monthly_amount"])
    out["totals"] = {k: decimal_text(v) for k, v in out["totals"].items()}
    return out


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    generation = SnapshotStore(settings.snapshots_dir).current()
    if generation is None:
        note(f"nothing is published yet in {settings.data_dir}")
        return 1
    doc = generation.document(args.premises_id)
    if doc is None:
        note(f"no premises {args.premises_id!r} in the published data (generation {generation.id})")
        return 1
    try:
        print(json.dumps(money_as_decimal_strings(doc), ensure_ascii=False, indent=2))
    except BrokenPipeError:  # `ebok show … | head`
        sys.stderr.close()
    return 0


def cmd_generations(args: argparse.Namespace, settings: Settings) -> int:
    store = SnapshotStore(settings.snapshots_dir)
    ids = store.generation_ids()
    if not ids:
        print(f"no generations published in {settings.data_dir}")
        return 0
    current = store.current()
    for gen_id in reversed(ids):
        manifest = store.generation(gen_id).manifest
        marker = "*" if current is not None and current.id == gen_id else " "
        sources = ", ".join(s["name"] for s in manifest.get("sources", [])) or "-"
        premises = manifest.get("counts", {}).get("premises", "?")
        print(
            f"{marker} {gen_id}  {manifest.get('imported_at', '?')}  "
            f"{premises:>7} premises  {sources}"
        )
    if current is not None:
        print("(* = current)")
    return 0


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    store = SnapshotStore(settings.snapshots_dir)
    with import_lock(settings, wait=True):
        current = store.current()
        ids = store.generation_ids()
        if args.to:
            if args.to not in ids:
                note(f"no generation {args.to!r}; see `ebok generations`")
                return 1
            target = args.to
        else:
            if current is None:
                note("nothing is published, nothing to roll back")
                return 1
            older = [g for g in ids if g < current.id]
            if not older:
                note(f"generation {current.id} is the oldest kept; nothing to roll back to")
                return 1
            target = older[-1]
        store.set_current(target)
    was = current.id if current is not None else "none"
    print(f"current generation is now {target} (was {was})")
    return 0
