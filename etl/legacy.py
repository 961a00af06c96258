"""Reader for the native `#`-delimited export of a legacy Polish ledger system.

The export is a folder per community (its name is the community id) of headerless text files
in ISO-8859-2; docs/legacy-format.md describes it and how it maps onto our tables. It is
recognised by its file names, so the accountant drops the folder (or a ZIP of it) into the
inbox as it is. The bank account, which the export lacks, comes from communities.toml.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath

import pandas as pd

from etl import legacy_checks as checks
from etl.legacy_community import community_settings
from etl.legacy_records import (
    Card,
    ChargeLine,
    FeeSchedule,
    decode,
    parse_as_of,
    parse_lok,
    parse_nal,
    parse_pow,
    parse_wplaty,
)
from etl.legacy_tables import fees_frame, ledger_frame, premises_frame
from etl.model import Bundle, BundleRejected, Problem, SourceFile
from etl.store import Generation

# Files whose presence marks the export.
MARKER_FILES = ("lok.txt", "wplaty.txt")
KNOWN_FILES = ("lok.txt", "nal_czynsz.txt", "pow_czynsz.txt", "wplaty.txt")
AS_OF_SUFFIX = "_ost_wys.wmb"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200  # compressed-to-uncompressed, beyond which a member is treated as a zip bomb


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


@dataclass
class Export:
    """The files of one community's export, read into memory, keyed by lower-case name."""

    community_id: str
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (shown, data)
    unknown: list[str] = field(default_factory=list)

    def label(self, name: str) -> str:
        return f"{self.community_id}/{name}"

    def text(self, name: str) -> str | None:
        entry = self.files.get(name)
        return decode(entry[1]) if entry else None

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


def _too_big(name: str) -> BundleRejected:
    return BundleRejected(
        [Problem(name, "", None, "", "", "file too large or too highly compressed to read")]
    )


def load_export(path: Path) -> Export:
    """Read the export's files; names never become paths, so a ZIP cannot write anywhere."""
    path = Path(path)
    if path.is_dir():
        root = _dir_root(path)
        if root is None:
            raise BundleRejected([Problem(path.name, "", None, "", "", "not a legacy export")])
        export = Export(root.name)
        for p in sorted(root.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir() or p.is_symlink():
                export.unknown.append(p.name + "/")
                continue
            if p.stat().st_size > MAX_FILE_BYTES:
                raise _too_big(export.label(p.name))
            export.add(p.name, p.read_bytes())
        return export
    with zipfile.ZipFile(path) as zf:
        prefix = _zip_prefix(zf.namelist())
        if prefix is None:
            raise BundleRejected([Problem(path.name, "", None, "", "", "not a legacy export")])
        export = Export(prefix.rstrip("/") or path.stem)
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            name = info.filename[len(prefix) :]
            if "/" in name:
                export.unknown.append(name)
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_FILE_BYTES or (ratio > MAX_RATIO and info.file_size > 2**20):
                raise _too_big(export.label(name))
            with zf.open(info) as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise _too_big(export.label(name))
            export.add(name, data)
        return export


def read_legacy(
    path: Path, *, communities_file: Path | None = None, previous: Generation | None = None
) -> Bundle:
    """Read one community's legacy export into a validated Bundle (kind "legacy").

    Raises BundleRejected listing every problem; then nothing of the community is published."""
    try:
        export = load_export(path)
    except zipfile.BadZipFile:
        raise BundleRejected(
            [Problem(Path(path).name, "", None, "", "", "not a readable ZIP archive")]
        ) from None
    problems: list[Problem] = []
    warnings = [f"{export.label(n)}: unknown file, ignored" for n in export.unknown]

    def need(name: str, table: str) -> str:
        text = export.text(name)
        if text is None:
            problems.append(Problem(export.label(name), table, None, "", "", "file missing"))
        return text or ""

    lok, wpl, nal = (export.label(n) for n in ("lok.txt", "wplaty.txt", "nal_czynsz.txt"))
    people = parse_lok(lok, need("lok.txt", "premises"), problems)
    cards = parse_wplaty(wpl, need("wplaty.txt", "ledger"), problems)
    charge_lines = parse_nal(nal, need("nal_czynsz.txt", "ledger"), problems, warnings)
    pow_text = export.text("pow_czynsz.txt")
    if pow_text is None:
        warnings.append(f"{export.label('pow_czynsz.txt')}: missing, no fee schedule shown")
        schedule = FeeSchedule("", "", [])
    else:
        schedule = parse_pow(export.label("pow_czynsz.txt"), pow_text, problems, warnings)
    as_of = _as_of(export, problems)

    premises = premises_frame(export.label("lok.txt"), export.community_id, people, problems)
    known = set(premises["premises_id"])
    for label, table, items in (
        (wpl, "ledger", cards),
        (nal, "ledger", charge_lines),
        (export.label("pow_czynsz.txt"), "fees", schedule.lines),
    ):
        for item in items:
            if item.premises not in known:
                problems.append(
                    Problem(label, table, item.line, "premises code", item.premises,
                            f"premises {item.premises} is not among the owners' premises "
                            "in lok.txt")
                )  # fmt: skip

    def previous_closing(premises_id: str) -> tuple[int, int] | None:
        if previous is None:
            return None
        return checks.published_closing(previous.document(premises_id))

    totals = checks.month_totals(charge_lines)
    problems += checks.check_duplicates(wpl, cards)
    problems += checks.check_closing(wpl, cards)
    problems += checks.check_months(wpl, "nal_czynsz.txt", cards, totals)
    problems += checks.check_openings(wpl, cards, previous_closing)
    _warn_uncovered(nal, cards, charge_lines, warnings)

    community = community_settings(
        export.community_id, communities_file, previous, people, problems, warnings
    )
    if problems:
        raise BundleRejected(problems)
    community.update(
        as_of=as_of.isoformat(),  # type: ignore[union-attr]
        fee_notes={"header": schedule.header, "footer": schedule.footer},
    )
    premises["community_id"] = export.community_id
    for column in ("postal_code", "city"):
        premises[column] = premises[column].where(premises[column] != "", community[column])
    premises["payer_address"] = [
        f"{street}/{number}, {postal} {city}".replace("/, ", ", ").strip(" ,")
        for street, number, postal, city in zip(
            premises["street"],
            premises["number"],
            premises["postal_code"],
            premises["city"],
            strict=True,
        )
    ]  # the contract's default: the premises address, as printed on the payment slip
    return Bundle(
        tables={
            "communities": pd.DataFrame([community]),
            "premises": premises,
            "ledger": ledger_frame(wpl, cards, charge_lines, as_of),  # type: ignore[arg-type]
            "fees": fees_frame(export.label("pow_czynsz.txt"), schedule.lines),
        },
        sources=export.sources(),
        warnings=warnings,
        kind="legacy",
    )


def _as_of(export: Export, problems: list[Problem]) -> date | None:
    names = sorted(n for n in export.files if n.endswith(AS_OF_SUFFIX))
    if not names:
        problems.append(
            Problem(export.label("*" + AS_OF_SUFFIX), "communities", None, "as_of", "",
                    "file missing: it holds the date the data is valid for (YYYYMMDD)")
        )  # fmt: skip
        return None
    dates = {parse_as_of(export.label(n), export.text(n) or "", problems) for n in names}
    if len(dates) > 1 and None not in dates:
        problems.append(
            Problem(export.label(names[0]), "communities", 1, "as_of", "",
                    f"{len(names)} as-of files with different dates")
        )  # fmt: skip
    return max((d for d in dates if d), default=None)


def _warn_uncovered(
    file: str, cards: list[Card], lines: list[ChargeLine], warnings: list[str]
) -> None:
    """Charge lines for a month no card covers are not shown; say so rather than drop them."""
    covered = {(c.premises, c.year) for c in cards}
    missing = sorted(
        {(c.premises, c.period[0]) for c in lines if c.period} - covered,
    )
    for premises, year in missing:
        warnings.append(
            f"{file}: premises {premises} has charge lines for {year} but no account card "
            "for that year in wplaty.txt; they are not shown"
        )
