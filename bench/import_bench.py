"""Import benchmark: `ebok import` of a big CSV bundle against pandas reading the same files.

    python bench/import_bench.py [--premises 50000 --months 50] [--profile]

The bundle comes from `ebok demo-data` (etl.demo.generate), which writes a charge and a payment per
premises per month: --months 50 is ~100 ledger rows per premises, 5 million rows for 50,000
premises. It is generated once into bench/out/ (git-ignored) and reused while the parameters
stay the same.

Measured in one run, side by side:
- baseline: `pandas.read_csv(dtype=str, keep_default_na=False)` of every CSV of the bundle
  (told the right encoding and separator), in this process; the best of two runs, one before
  and one after the import, so the ratio errs against us on a noisy machine;
- `ebok import BUNDLE` in a subprocess, on an empty data dir: wall time, and peak RSS from
  resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (the import is this script's only child).
Targets: import ≤ 3 × baseline, peak RSS ≤ 4 GB. With --profile the import runs again under
cProfile and the top functions by cumulative time are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.demo.generate import generate  # noqa: E402
from etl.reader.sheets import detect_encoding, detect_separator  # noqa: E402

TARGET_RATIO = 3.0
TARGET_RSS_GB = 4.0


def bundle(out: Path, premises: int, months: int, communities: int, seed: int) -> Path:
    params = {"premises": premises, "months": months, "communities": communities, "seed": seed}
    target = out / f"bundle-{premises}x{months}"
    marker = target / ".params.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return target
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    generate(target, communities=communities, premises=premises, months=months, seed=seed)
    marker.write_text(json.dumps(params))
    print(f"generated {target} in {time.perf_counter() - started:.1f} s")
    return target


def csv_dialects(path: Path) -> dict[Path, tuple[str, str]]:
    """Encoding and separator of each CSV, decided the way the reader decides them."""
    found = {}
    for f in sorted(path.glob("*.csv")):
        head = f.open("rb").read(1 << 16)
        encoding = detect_encoding(head, f.name, complete=False)
        text = head.decode(encoding, errors="replace").lstrip("\ufeff")
        found[f] = (encoding, detect_separator(text.splitlines()[0]))
    return found


def baseline(dialects: dict[Path, tuple[str, str]]) -> tuple[float, float, int]:
    """Wall and CPU seconds to read every CSV with pandas, and the rows read."""
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for f, (encoding, sep) in dialects.items():
        frame = pd.read_csv(f, dtype=str, keep_default_na=False, encoding=encoding, sep=sep)
        rows += len(frame)
        del frame
    return time.perf_counter() - started, time.process_time() - cpu, rows


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_import(path: Path, data_dir: Path, profile: Path | None = None) -> tuple[float, str]:
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "ebok.cli", "--data-dir", str(data_dir), "import", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"ebok import failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--premises", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=50, help="~2 ledger rows per month")
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--profile", action="store_true", help="also profile the import")
    args = parser.parse_args()

    path = bundle(args.out, args.premises, args.months, args.communities, args.seed)
    dialects = csv_dialects(path)
    size = sum(f.stat().st_size for f in dialects)
    base1, cpu1, rows = baseline(dialects)

    with tempfile.TemporaryDirectory(prefix="ebok-import-bench-") as tmp:
        cpu_before = children_cpu()
        seconds, summary = run_import(path, Path(tmp) / "data")
        import_cpu = children_cpu() - cpu_before
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        base2, cpu2, _ = baseline(dialects)
        base, base_cpu = min(base1, base2), min(cpu1, cpu2)
        ratio = seconds / base
        print(f"bundle: {path} ({rows:,} rows in {len(dialects)} CSV files, {size / 1e6:.0f} MB)")
        print(f"ebok import says: {summary}")
        runs = f"runs {base1:.2f}, {base2:.2f}"
        print(f"baseline pandas.read_csv:  {base:6.2f} s wall ({runs}), {base_cpu:.2f} s CPU")
        print(f"ebok import (subprocess):  {seconds:6.2f} s wall, {import_cpu:.2f} s CPU")
        print(
            f"ratio import / baseline:   {ratio:6.2f} wall (target ≤ {TARGET_RATIO:g}), "
            f"{import_cpu / base_cpu:.2f} CPU"
        )
        print(f"peak RSS of the import:    {peak_gb:6.2f} GB (target ≤ {TARGET_RSS_GB:g})")
        ok = ratio <= TARGET_RATIO and peak_gb <= TARGET_RSS_GB
        print("PASS" if ok else "FAIL")

        if args.profile:
            prof = Path(tmp) / "import.prof"
            run_import(path, Path(tmp) / "data-profiled", profile=prof)
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(35)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
