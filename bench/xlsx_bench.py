"""XLSX import benchmark: `ebok import` of a demo workbook against calamine reading it.

    python bench/xlsx_bench.py [--premises 2000 --months 50] [--rounds 3]

The workbook comes from `ebok demo-data --format xlsx` (etl.demo.generate): --premises 2000
--months 50 is 197,898 ledger rows, 6.8 MB. It is generated once into bench/out/ (git-ignored)
and reused while the parameters stay the same.

Each round, side by side in one run:
- baseline: `pandas.read_excel(PATH, sheet_name=None, engine="calamine", dtype=str)`, in this
  process (every sheet as strings: what the import makes of a workbook before it validates);
- for information: python-calamine alone, `CalamineWorkbook.from_path(...)` and
  `get_sheet_by_name(name).to_python()` of every sheet (cells as Python objects, no frame);
- `ebok import PATH` in a subprocess on an empty data dir (start-up, read, validate, publish).
Medians over the rounds are printed. Target: import ≤ 1.5 × the pandas/calamine read; the
script exits 1 when the ratio is over it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import python_calamine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.import_bench import run_import  # noqa: E402  (the same subprocess timing)
from etl.demo.generate import generate  # noqa: E402

TARGET_RATIO = 1.5


def workbook(out: Path, premises: int, months: int, communities: int, seed: int) -> Path:
    params = {"premises": premises, "months": months, "communities": communities, "seed": seed}
    target = out / f"xlsx-{premises}x{months}"
    marker = target / ".params.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return next(target.glob("*.xlsx"))
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    generate(
        target,
        communities=communities,
        premises=premises,
        months=months,
        seed=seed,
        fmt="xlsx",
    )
    marker.write_text(json.dumps(params))
    print(f"generated {target} in {time.perf_counter() - started:.1f} s")
    return next(target.glob("*.xlsx"))


def pandas_read(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    frames = pd.read_excel(path, sheet_name=None, engine="calamine", dtype=str)
    return time.perf_counter() - started, sum(len(f) for f in frames.values())


def calamine_read(path: Path) -> float:
    started = time.perf_counter()
    with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--premises", type=int, default=2_000)
    parser.add_argument("--months", type=int, default=50, help="~2 ledger rows per month")
    parser.add_argument("--communities", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()

    path = workbook(args.out, args.premises, args.months, args.communities, args.seed)
    pandas_runs: list[float] = []
    calamine_runs: list[float] = []
    import_runs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ebok-xlsx-bench-") as tmp:
        for n in range(args.rounds):
            seconds, rows = pandas_read(path)
            pandas_runs.append(seconds)
            calamine_runs.append(calamine_read(path))
            result = run_import(path, Path(tmp) / f"data-{n}")
            seconds, summary = float(result["wall"]), str(result["summary"])
            import_runs.append(seconds)
            print(
                f"round {n + 1}: pandas/calamine {pandas_runs[-1]:.2f} s, calamine to_python "
                f"{calamine_runs[-1]:.2f} s, ebok import {seconds:.2f} s"
            )
    base = statistics.median(pandas_runs)
    raw = statistics.median(calamine_runs)
    imported = statistics.median(import_runs)
    ratio = imported / base
    print(f"workbook: {path} ({rows:,} rows, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"ebok import says: {summary}")
    print(f"pandas.read_excel(engine='calamine', dtype=str): {base:6.2f} s median")
    print(f"calamine to_python of every sheet:               {raw:6.2f} s median")
    print(f"ebok import (subprocess, read + publish):        {imported:6.2f} s median")
    print(
        f"ratio import / pandas-calamine read: {ratio:.2f} (target ≤ {TARGET_RATIO:g}); "
        f"import / calamine to_python: {imported / raw:.2f}"
    )
    ok = ratio <= TARGET_RATIO
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
