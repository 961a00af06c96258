"""Legacy `#` export benchmark: `etl.legacy.reader.read_legacy` against the floors of any reader of
the same files, side by side in one run on the same generated export.

Floors:
  * bytes: read the files, decode ISO-8859-2, split into lines and `#` fields (no parsing);
  * pandas: `pandas.read_csv(sep="#", header=None, dtype=str)` (C engine) of the same files
    (it cannot apply the name-absorbs-`#` rule, so it is a lower bound, not an alternative).

No target is set by the issue; the figures are recorded in docs/benchmarks.md.

Run:  .venv/bin/python bench/legacy_bench.py [--premises 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from etl.legacy import reader as legacy  # noqa: E402
from tests.etl.legacy_builders import (  # noqa: E402
    CardSpec,
    Charge,
    LegacyExport,
    Owner,
    communities_toml,
)

FILES = ("lok.txt", "nal_czynsz.txt", "pow_czynsz.txt", "wplaty.txt")


def build(premises: int) -> LegacyExport:
    """A community of `premises` flats, 10 charge lines a month for 11 months, a card each."""
    export = LegacyExport()
    for i in range(premises):
        code = f"KLO11-KLO11-00000-{i:05d}M"
        owner = f"W{i:06d}"
        export.owners.append(Owner(owner, f"Właściciel Źródłowski {i}", code, str(i + 1)))
        for month in range(1, 12):
            for k in range(1, 11):
                export.charges.append(
                    Charge(code, f"2026{month:02d}", k, f"Składnik opłaty {k}", "54,30", "m2",
                           "1,2345", owner=owner)
                )  # fmt: skip
        export.fees += [
            Charge(code, "", k, f"Składnik opłaty {k}", "54,30", "m2", "1,2345", owner=owner)
            for k in range(1, 11)
        ]
        export.cards.append(
            CardSpec(
                code, 2026, owner, opening_debt=1000, payments={m: 67000 for m in range(1, 12)}
            )
        )
    return export


def floor_bytes(folder: Path) -> int:
    fields = 0
    for name in FILES:
        text = (folder / name).read_bytes().decode("iso-8859-2")
        for line in text.split("\n"):
            fields += len(line.split("#"))
    return fields


def floor_pandas(folder: Path) -> int:
    rows = 0
    for name in ("lok.txt", "nal_czynsz.txt", "wplaty.txt"):
        frame = pd.read_csv(
            folder / name, sep="#", header=None, dtype=str, keep_default_na=False,
            encoding="iso-8859-2", quoting=3, on_bad_lines="skip",
        )  # fmt: skip
        rows += len(frame)
    return rows


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--premises", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = build(args.premises).write(Path(tmp) / "inbox")
        toml = communities_toml(Path(tmp) / "communities.toml")
        size = sum((folder / n).stat().st_size for n in FILES)
        nal_lines = (folder / "nal_czynsz.txt").read_bytes().count(b"\n")
        print(f"export: {args.premises} premises, {nal_lines} charge lines, {size / 2**20:.1f} MiB")
        results = {
            "bytes+decode+split": timed(lambda: floor_bytes(folder), args.rounds),
            "pandas read_csv": timed(lambda: floor_pandas(folder), args.rounds),
            "read_legacy": timed(
                lambda: legacy.read_legacy(folder, communities_file=toml), args.rounds
            ),
        }
    base = results["bytes+decode+split"]
    for name, seconds in results.items():
        print(f"{name:>20}: {seconds:6.2f} s  ({seconds / base:4.1f}× the bytes floor)")


if __name__ == "__main__":
    main()
