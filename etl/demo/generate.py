"""`ebok demo-data`: a deterministic, realistic Polish ledger export, for demos and benchmarks.

The bundle follows docs/import-format.md and deliberately uses its variety (Windows-1250 and
ISO-8859-2, `;`/`,`/tab, Polish headers, `1 234,56`, `DD.MM.YYYY`), so importing it exercises the
reader the way a real accountant's export would. The same arguments always give byte-identical
files: randomness comes only from `--seed`, and the as-of date is the end of a fixed last month,
never today. CSV and ZIP bundles also carry the optional tables (etl.demo.extras): meter
readings, announcements, and community documents with their PDFs in `dokumenty/`; an XLSX
bundle holds the five ledger tables only (a workbook cannot carry the PDFs). Everything is
generated as numpy arrays of integers (money in grosze), so 50,000 premises x 100 months (~10
million ledger rows) take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import calendar
import shutil
import sys
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from etl.demo import extras, names
from etl.demo.archives import XLSX_MAX_ROWS, write_xlsx, zip_member
from etl.demo.columns import Col, Table
from etl.demo.csv_writer import write_csv
from etl.demo.layouts import LAYOUTS
from etl.demo.ledger import CHUNK, Population, ledger_chunks

LAST_MONTH = (2026, 10)  # the last generated month; as_of is its last day
FORMATS = ("csv", "xlsx", "zip")
KINDS = ("mieszkalny", "użytkowy", "garaż", "komórka")
KIND_P = (0.84, 0.04, 0.08, 0.04)
OUTPUT_NAMES = {"xlsx": "demo.xlsx", "zip": "demo.zip"}
EXTRA_TABLES = ("readings", "announcements", "documents")  # CSV and ZIP bundles only
NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


class DemoError(Exception):
    """The arguments cannot produce a bundle (said in words a user can act on)."""


@dataclass
class DemoSummary:
    paths: list[Path]
    premises_ids: list[str]
    rows: dict[str, int]
    as_of: date
    community_ids: list[str] = field(default_factory=list)
    balances: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # grosze

    def example_ids(self) -> list[tuple[str, str]]:
        """A premises worth showing in a demo for each situation: settled, arrears, overpaid."""
        picks = []
        for label, hit in (
            ("settled", self.balances == 0),
            ("in arrears", self.balances < 0),
            ("overpaid", self.balances > 0),
        ):
            found = np.flatnonzero(hit)
            if len(found):
                picks.append((self.premises_ids[found[0]], label))
        return picks


def _tallied(pop: Population, balances: np.ndarray) -> Iterator[Table]:
    """The ledger chunks, adding each premises' balance (Σ payment − Σ charge) on the way."""
    for i, chunk in enumerate(ledger_chunks(pop)):
        pid, charge, payment = chunk.cols[0].values, chunk.cols[5], chunk.cols[6]
        signed = np.where(payment.present, payment.values, -charge.values)
        starts = np.r_[0, np.flatnonzero(np.diff(pid)) + 1]  # rows are sorted by premises
        balances[i * CHUNK + pid[starts]] += np.add.reduceat(signed, starts)
        yield chunk


def _fold(text: str) -> str:
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _nrb(bban: str) -> str:
    """A Polish account number (NRB): two check digits + 24 digits, checked as IBAN is (mod 97
    over the digits with "PL00" moved to the end as 252100)."""
    return f"{98 - int(bban + '252100') % 97:02d}{bban}"


def _nip(rng: np.random.Generator) -> str:
    while True:
        digits = names.NIP_PREFIXES[rng.integers(len(names.NIP_PREFIXES))]
        digits += "".join(str(d) for d in rng.integers(0, 10, 6))
        check = sum(w * int(d) for w, d in zip(NIP_WEIGHTS, digits, strict=True)) % 11
        if check < 10:
            return digits + str(check)


def _spaced(nrb: str) -> str:
    return nrb[:2] + " " + " ".join(nrb[i : i + 4] for i in range(2, 26, 4))


def _communities(count: int, rng: np.random.Generator) -> dict[str, Any]:
    streets = rng.permutation(len(names.STREETS))
    out: dict[str, list[Any]] = {
        k: [] for k in "id code name street postal city issuer account nip bank".split()
    }
    codes: set[str] = set()
    for c in range(count):
        prefix, street = names.STREETS[streets[c % len(streets)]]
        number = str(int(rng.integers(1, 120)))
        words = street.replace("-", " ").split()
        letters = _fold(words[0][:2] if len(words) == 1 else words[0][0] + words[1][0]).upper()
        code, n = letters + number, 2
        while code in codes:
            code, n = f"{letters}{number}-{n}", n + 1
        codes.add(code)
        town, low, high, issuer = names.TOWNS[rng.integers(len(names.TOWNS))]
        postal = int(rng.integers(low, high + 1))
        postal += postal % 1000 == 0
        bank = names.BANK_CODES[rng.integers(len(names.BANK_CODES))]
        nrb = _nrb(bank + "".join(str(d) for d in rng.integers(0, 10, 16)))
        out["id"].append(f"WM-{code}")
        out["code"].append(code)
        out["name"].append(f"Wspólnota Mieszkaniowa {street} {number}")
        out["street"].append(f"{prefix} {street} {number}")
        out["postal"].append(f"{postal // 1000:02d}-{postal % 1000:03d}")
        out["city"].append(town)
        out["issuer"].append(issuer)
        out["account"].append(_spaced(nrb) if c % 2 == 0 else "PL" + nrb)
        out["nip"].append(_nip(rng) if c % 3 != 2 else "")
        out["bank"].append(bank)
    return out


def _payer_names(kind: np.ndarray, rng: np.random.Generator) -> list[str]:
    n = len(kind)
    male = rng.integers(len(names.MALE_FIRST_NAMES), size=n)
    female = rng.integers(len(names.FEMALE_FIRST_NAMES), size=n)
    surname = rng.integers(len(names.SURNAMES), size=(n, 2))
    style = rng.choice(4, size=n, p=(0.36, 0.4, 0.19, 0.05))
    business = rng.integers(len(names.BUSINESSES), size=n)
    out = []
    for i in range(n):
        he, she = names.MALE_FIRST_NAMES[male[i]], names.FEMALE_FIRST_NAMES[female[i]]
        m, f, plural = names.surname_forms(names.SURNAMES[surname[i, 0]])
        if kind[i] == 1:
            out.append(names.BUSINESSES[business[i]])
        elif style[i] == 0:
            out.append(f"{he} {m}")
        elif style[i] == 1:
            out.append(f"{she} {f}")
        elif style[i] == 2:
            out.append(f"{she} i {he} {plural}")
        else:
            other = names.surname_forms(names.SURNAMES[surname[i, 1]])[1]
            out.append(f"{he} {m}, {she} {other}")
    return out


def _text(name: str, strings: list[str]) -> Col:
    vocab = sorted(set(strings))
    index = {s: i for i, s in enumerate(vocab)}
    return Col(name, "text", np.array([index[s] for s in strings], dtype=np.int64), vocab)


@dataclass
class Built:
    """Every table but the ledger, and the population the ledger is generated from."""

    tables: dict[str, Table]
    population: Population
    as_of: date
    community_ids: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # PDFs by name in dokumenty/


def build(communities: int, premises: int, months: int, seed: int) -> Built:
    rng = np.random.default_rng([seed, 0])
    last = LAST_MONTH[0] * 12 + LAST_MONTH[1] - 1
    as_of = date(LAST_MONTH[0], LAST_MONTH[1], calendar.monthrange(*LAST_MONTH)[1])
    com = _communities(communities, rng)

    weights = rng.uniform(0.6, 1.4, communities)
    sizes = np.floor(weights / weights.sum() * (premises - communities)).astype(np.int64) + 1
    sizes[0] += premises - sizes.sum()
    cidx = np.repeat(np.arange(communities), sizes)
    kind = rng.choice(4, size=premises, p=KIND_P)
    kind[: min(4, premises)] = np.arange(min(4, premises))  # even a small demo shows every kind
    order = np.lexsort((kind, cidx))
    cidx, kind = cidx[order], kind[order]
    group_start = np.r_[0, np.flatnonzero((np.diff(cidx) != 0) | (np.diff(kind) != 0)) + 1]
    seq = np.arange(premises) - np.repeat(group_start, np.diff(np.r_[group_start, premises])) + 1
    letter = rng.random(premises) < 0.03
    number = [
        (f"{s}A" if letter[i] else str(s)) if k == 0 else ("", "U{}", "G-{}", "K-{}")[k].format(s)
        for i, (k, s) in enumerate(zip(kind.tolist(), seq.tolist(), strict=True))
    ]
    pid = [f"{com['code'][c]}/{num}" for c, num in zip(cidx.tolist(), number, strict=True)]

    lo = np.array([2200, 2500, 1200, 200])[kind]  # hundredths of m2
    hi = np.array([14000, 22000, 2200, 900])[kind]
    mean = np.array([5600, 8000, 1650, 500])[kind]
    area = np.clip(rng.normal(mean, (hi - lo) / 5), lo, hi).astype(np.int64)
    occupants = np.where(
        kind == 0, rng.choice(6, premises, p=(0.05, 0.25, 0.35, 0.2, 0.12, 0.03)), 0
    )
    total_area = np.zeros(communities, np.int64)
    np.add.at(total_area, cidx, area)
    share = []
    for c, a in zip(cidx.tolist(), area.tolist(), strict=True):
        t = int(total_area[c])
        micro = max(1, (a * 10**6 + t // 2) // t)
        share.append(f"{a}/{t}" if c % 2 == 0 else ("1" if micro >= 10**6 else f"0,{micro:06d}"))

    virtual = (cidx % 3 == 1) | (rng.random(premises) < 0.05)
    account = [
        _nrb(com["bank"][c] + f"0001{c:04d}{i:08d}") if v else ""
        for i, (c, v) in enumerate(zip(cidx.tolist(), virtual.tolist(), strict=True))
    ]
    elsewhere = rng.random(premises) < 0.08
    street_i = rng.integers(len(names.STREETS), size=premises)
    town_i = rng.integers(len(names.TOWNS), size=premises)
    house = rng.integers(1, 90, size=(premises, 2))
    address = []
    for i in range(premises):
        if not elsewhere[i]:
            address.append("")
            continue
        prefix, street = names.STREETS[street_i[i]]
        town, low, _high, _ = names.TOWNS[town_i[i]]
        address.append(
            f"{prefix} {street} {house[i, 0]}/{house[i, 1]}, "
            f"{low // 1000:02d}-{low % 1000:03d} {town}"
        )

    tables: dict[str, Table] = {
        "communities": Table(
            "communities",
            [
                _text("community_id", com["id"]),
                _text("name", com["name"]),
                _text("street", com["street"]),
                _text("postal_code", com["postal"]),
                _text("city", com["city"]),
                _text("bank_account", com["account"]),
                _text("nip", com["nip"]),
                Col("as_of", "date", np.full(communities, as_of.toordinal())),
            ],
        ),
        "premises": Table(
            "premises",
            [
                _text("premises_id", pid),
                _text("community_id", [com["id"][c] for c in cidx]),
                _text("number", number),
                _text("street", [com["street"][c] for c in cidx]),
                _text("postal_code", [com["postal"][c] for c in cidx]),
                _text("city", [com["city"][c] for c in cidx]),
                _text("kind", [KINDS[k] for k in kind]),
                Col("area_m2", "dec", area, scale=2),
                _text("share", share),
                Col("occupants", "int", occupants, present=kind == 0),
                _text("payer_name", _payer_names(kind, rng)),
                _text("payer_address", address),
                _text("bank_account", account),
            ],
        ),
    }
    pop = Population(
        premises_ids=pid,
        community=cidx,
        kind=kind,
        area=area,
        occupants=occupants,
        last_month=last,
        months=months,
        seed=seed,
    )
    tables["fees"] = pop.fees(rng, communities)
    tables["allowances"] = pop.allowances(rng, com["issuer"])
    tables["readings"] = extras.readings(pop)
    listed = extras.community_list(com["id"], com["code"], com["name"], com["street"])
    tables["announcements"] = extras.announcements(listed, as_of)
    tables["documents"], files = extras.documents(listed, as_of)
    return Built(tables, pop, as_of, com["id"], files)


def generate(
    out: Path,
    *,
    communities: int = 3,
    premises: int = 60,
    months: int = 24,
    seed: int = 1,
    fmt: str = "csv",
) -> DemoSummary:
    """Write a demo bundle into the directory `out`; see the module docstring."""
    if fmt not in FORMATS:
        raise DemoError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if communities < 1 or months < 1 or months > 600:
        raise DemoError("need at least 1 community and between 1 and 600 months")
    if premises < communities:
        raise DemoError(f"{premises} premises cannot fill {communities} communities")
    if fmt == "xlsx" and premises * (months + 1) + 1 > XLSX_MAX_ROWS:
        raise DemoError(_xlsx_refusal(premises * (months + 1)))
    out = Path(out)
    ours = {LAYOUTS[t].file for t in LAYOUTS} | set(OUTPUT_NAMES.values()) | {extras.DOCUMENTS_DIR}
    if out.exists() and not out.is_dir():
        raise DemoError(f"{out} is a file; --out names a directory to write into")
    if out.exists() and any(p.name not in ours for p in out.iterdir()):
        raise DemoError(f"{out} holds other files; give a new or empty directory")
    built = build(communities, premises, months, seed)
    tables, pop = built.tables, built.population
    small = ("communities", "premises", "fees", "allowances")
    rows = {t: len(tables[t]) for t in small}
    if fmt != "xlsx":
        rows.update({t: len(tables[t]) for t in EXTRA_TABLES})
    paths: list[Path] = []
    balances = np.zeros(premises, np.int64)
    if fmt == "xlsx":
        ledger = list(_tallied(pop, balances))
        rows["ledger"] = sum(len(c) for c in ledger)
        if rows["ledger"] + 1 > XLSX_MAX_ROWS:
            raise DemoError(_xlsx_refusal(rows["ledger"]))
    writes = (
        {LAYOUTS[t].file for t in LAYOUTS} | {extras.DOCUMENTS_DIR}
        if fmt == "csv"
        else {OUTPUT_NAMES[fmt]}
    )
    out.mkdir(parents=True, exist_ok=True)
    for stale in ours - writes:  # an earlier run's other format would join this bundle
        if (out / stale).is_dir():
            shutil.rmtree(out / stale)
        else:
            (out / stale).unlink(missing_ok=True)
    pdfs = sorted(built.files.items())
    if fmt == "csv":
        shutil.rmtree(out / extras.DOCUMENTS_DIR, ignore_errors=True)  # an earlier run's
        for name in (*small, *EXTRA_TABLES, "ledger"):
            if name == "ledger":  # the documents first: the ledger stays the last path
                for relative, data in pdfs:
                    path = out / extras.DOCUMENTS_DIR / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    paths.append(path)
            path = out / LAYOUTS[name].file
            chunks = _tallied(pop, balances) if name == "ledger" else [tables[name]]
            with open(path, "wb") as fh:
                rows[name] = write_csv(fh, chunks, LAYOUTS[name])
            paths.append(path)
    elif fmt == "zip":
        path = out / OUTPUT_NAMES["zip"]
        with zipfile.ZipFile(path, "w") as archive:
            for name in (*small, *EXTRA_TABLES, "ledger"):
                chunks = _tallied(pop, balances) if name == "ledger" else [tables[name]]
                with zip_member(archive, LAYOUTS[name].file) as fh:
                    rows[name] = write_csv(fh, chunks, LAYOUTS[name])
            for relative, data in pdfs:
                with zip_member(archive, f"{extras.DOCUMENTS_DIR}/{relative}") as fh:
                    fh.write(data)
        paths.append(path)
    else:
        path = out / OUTPUT_NAMES["xlsx"]
        sheets = {name: [tables[name]] for name in small}
        write_xlsx(path, {**sheets, "ledger": ledger}, f"{built.as_of.isoformat()}T00:00:00Z")
        paths.append(path)
    return DemoSummary(paths, pop.premises_ids, rows, built.as_of, built.community_ids, balances)


def _xlsx_refusal(rows: int) -> str:
    return (
        f"the ledger needs at least {rows:,} rows but an XLSX sheet holds at most "
        f"{XLSX_MAX_ROWS - 1:,}; use --format csv or zip, or fewer --premises/--months"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo-data",
        help="write a realistic demo ledger export (also the benchmark generator)",
        description="Write a deterministic Polish demo bundle in the import format "
        "(docs/import-format.md). Same arguments, same bytes.",
    )
    p.add_argument("--out", required=True, type=Path, help="directory to write into")
    p.add_argument("--communities", type=int, default=3, help="housing communities (default 3)")
    p.add_argument("--premises", type=int, default=60, help="premises in total (default 60)")
    p.add_argument("--months", type=int, default=24, help="months of ledger history (default 24)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--format", choices=FORMATS, default="csv", dest="fmt")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: object) -> int:
    try:
        summary = generate(
            args.out,
            communities=args.communities,
            premises=args.premises,
            months=args.months,
            seed=args.seed,
            fmt=args.fmt,
        )
    except (DemoError, OSError) as exc:
        print(f"ebok demo-data: {exc}", file=sys.stderr)
        return 2
    where = summary.paths[0] if args.fmt != "csv" else args.out
    print(f"Wrote a demo bundle (as of {summary.as_of:%d.%m.%Y}) to {where}")
    for table, count in summary.rows.items():
        name = LAYOUTS[table].file if args.fmt == "csv" else table
        print(f"  {name:<16} {count:>11,} rows".replace(",", " "))
    print(f"Communities: {', '.join(summary.community_ids[:5])}")
    print(f"Premises ids: {', '.join(summary.premises_ids[:5])}, ...")
    for pid, label in summary.example_ids():
        print(f"  {pid:<14} {label}")
    print(f"Next: ebok import {where} && ebok show '{summary.premises_ids[0]}'")
    return 0
