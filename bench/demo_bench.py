"""Benchmark of `ebok demo-data`, the generator of every other benchmark's input.

    python bench/demo_bench.py [--premises 50000 --months 100]

Measured in one run, side by side:
- `ebok demo-data --out TMP --premises P --months M` in a subprocess: wall time, CPU time
  (user + system, from RUSAGE_CHILDREN, less disturbed by other load on the machine) and peak RSS;
- baseline: `pandas.read_csv(dtype=str, keep_default_na=False)` of the ledger.csv it wrote
  (told the encoding and separator), in a subprocess: the best of two runs, one before and one
  after a second generation, so the ratio errs against us on a noisy machine.
Targets: generation wall ≤ 60 s, and ≤ 2 × the baseline (writing ~10 million rows should cost
about what reading them costs pandas' C parser). Output lands in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
TARGET_RATIO = 2.0
READ = (
    "import sys, pandas as pd; "
    "pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False, encoding='cp1250', sep=';')"
)


def timed(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds and peak RSS (KB) of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--premises", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ebok-demo-bench-") as tmp:

        def generate(out: Path) -> list[str]:
            return [sys.executable, "-m", "ebok.cli", "demo-data", "--out", str(out),
                    "--premises", str(args.premises), "--months", str(args.months)]  # fmt: skip

        out = Path(tmp) / "bundle"
        wall, cpu, rss, printed = timed(generate(out))
        ledger = out / "ledger.csv"
        size = sum(f.stat().st_size for f in out.iterdir())
        base1 = timed([sys.executable, "-c", READ, str(ledger)])[0]
        wall2, cpu2, _, _ = timed(generate(Path(tmp) / "again"))
        base2 = timed([sys.executable, "-c", READ, str(ledger)])[0]

    base = min(base1, base2)
    best = min(wall, wall2)
    rows = next(line for line in printed.splitlines() if "ledger" in line).split()
    print(f"ebok demo-data --premises {args.premises} --months {args.months}")
    print(f"  ledger rows: {' '.join(rows[1:-1])}; bundle {size / 1e6:.0f} MB")
    print(f"  generation wall:  {best:6.2f} s  (runs: {wall:.2f}, {wall2:.2f}; target ≤ 60)")
    print(f"  generation CPU:   {min(cpu, cpu2):6.2f} s  (user + system)")
    print(f"  peak RSS:         {rss / 1024:6.0f} MB")
    print(f"  baseline read:    {base:6.2f} s  (pandas.read_csv; runs: {base1:.2f}, {base2:.2f})")
    print(f"  ratio gen / read: {best / base:6.2f}  (target ≤ {TARGET_RATIO:g})")
    ok = best <= TARGET_SECONDS and best / base <= TARGET_RATIO
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
