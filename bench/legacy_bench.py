"""Legacy `#` export benchmark: `etl.legacy.reader.read_legacy` against the floors of any reader of
the same files, side by side in one run on the same generated export.

Floors:
  * bytes: read the files, decode ISO-8859-2, split into lines and `#` fields (no parsing);
  * pandas: `pandas.read_csv(sep="#", header=None, dtype=str)` (C engine) of the same four
    files (it cannot apply the name-absorbs-`#` rule nor check anything, so it is a lower
    bound, not an alternative).

Target (issue 14): read_legacy ≤ 3× pandas, wall time, median of the rounds; the three are
timed in turn within each round so that load on a shared machine hits them alike. Exits 1
when the target is missed. Figures go to docs/benchmarks.md.

Run:  .venv/bin/python bench/legacy_bench.py [--premises 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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


FIELDS = {"lok.txt": 14, "nal_czynsz.txt": 11, "pow_czynsz.txt": 8, "wplaty.txt": 34}
TARGET = 3.0


def floor_pandas(folder: Path) -> int:
    rows = 0
    for name, count in FIELDS.items():
        # names=: pow_czynsz's header lines (one field) are padded rather than fixing the width
        frame = pd.read_csv(
            folder / name, sep="#", header=None, names=range(count), dtype=str,
            keep_default_na=False, encoding="iso-8859-2", quoting=3, on_bad_lines="skip",
        )  # fmt: skip
        rows += len(frame)
    return rows


def side_by_side(
    runs: dict[str, Callable[[], object]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds of each run per round, the runs in turn within a round. All three
    run on one thread, so on a loaded machine CPU time shows what wall time hides."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            started, used = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - used)
    return wall, cpu


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
        times, cpu = side_by_side(
            {
                "bytes+decode+split": lambda: floor_bytes(folder),
                "pandas read_csv": lambda: floor_pandas(folder),
                "read_legacy": lambda: legacy.read_legacy(folder, communities_file=toml),
            },
            args.rounds,
        )
    results = {name: statistics.median(t) for name, t in times.items()}
    used = {name: statistics.median(t) for name, t in cpu.items()}
    base = results["pandas read_csv"]
    for name, seconds in results.items():
        each = " ".join(f"{t:.2f}" for t in times[name])
        print(
            f"{name:>20}: {seconds:6.2f} s median  ({seconds / base:4.2f}× pandas)  [{each}]"
            f"  CPU {used[name]:.2f} s ({used[name] / used['pandas read_csv']:4.2f}×)"
        )
    ratio = results["read_legacy"] / base
    met = ratio <= TARGET
    verdict = "met" if met else "MISSED"
    print(
        f"read_legacy / pandas: {ratio:.2f}× wall (target ≤ {TARGET:g}×): {verdict}; "
        f"{used['read_legacy'] / used['pandas read_csv']:.2f}× CPU"
    )
    if not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
