"""A 2 GB file that is not a table: `ebok import` refuses it without reading it into memory.

    python bench/bigfile_bench.py [--size 2000000000] [--rounds 3]

Files of --size bytes are made sparse in a temporary directory (so they take no disk space):
random bytes or lines of Latin text for the first MiB, then a hole (zero bytes) to the end.
Each case is imported with `ebok import` in a subprocess on an empty data dir; its wall time
and peak RSS (os.wait4's ru_maxrss of that child alone) are printed, medians over the rounds.
The cases:
- `ledger.csv`, random bytes (binary: refused from its first 64 KiB);
- `ledger.csv`, text without the ledger's header (refused from its first line);
- a folder holding such an `obroty.csv` beside the other tables of a small valid bundle;
- `big.csv`, whose name names no table (refused by its name);
- `ledger.xlsx`, random bytes (not a ZIP: refused from the end of the file).
Alongside, in the same rounds, the floor: `ebok import` of a path that does not exist (the
interpreter starting and importing the importer's libraries, ~140 MB). Before the head was
read first, the first case took 8–9 s and 2.19 GB. Targets: each case ≤ 200 MB peak RSS and
≤ 1 s, or on a machine so loaded that the floor itself is slow, ≤ the floor + 0.3 s; the
script exits 1 when a median is over.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.demo.generate import generate  # noqa: E402

TARGET_SECONDS = 1.0
OVER_FLOOR_SECONDS = 0.3
FLOOR = "floor: no such path"
TARGET_RSS_MB = 200
LOREM = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\n"


def sparse(path: Path, size: int, head: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def cases(tmp: Path, size: int) -> dict[str, Path]:
    random_head = os.urandom(1024**2)
    text_head = LOREM * (1024**2 // len(LOREM))
    folder = tmp / "folder"
    generate(folder, communities=1, premises=5, months=2, seed=1)
    (folder / "ledger.csv").unlink()
    sparse(folder / "obroty.csv", size, text_head)
    return {
        FLOOR: tmp / "missing" / "ledger.csv",
        "ledger.csv, random bytes": sparse(tmp / "binary" / "ledger.csv", size, random_head),
        "ledger.csv, text, no header": sparse(tmp / "text" / "ledger.csv", size, text_head),
        "folder with obroty.csv of text": folder,
        "big.csv (no table name)": sparse(tmp / "noname" / "big.csv", size, text_head),
        "ledger.xlsx, random bytes": sparse(tmp / "xlsx" / "ledger.xlsx", size, random_head),
    }


def run_import(path: Path, data_dir: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, the refusal's first problem line) of one `ebok import`."""
    cmd = [sys.executable, "-m", "ebok.cli", "--data-dir", str(data_dir), "import", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode == 0:
        sys.exit(f"{path} was imported, not refused:\n{output}")
    problem = next((line.strip() for line in output.splitlines() if line.startswith("  ")), "")
    return seconds, usage.ru_maxrss / 1024, problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2_000_000_000, help="bytes per file")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ok = True
    with tempfile.TemporaryDirectory(prefix="ebok-bigfile-bench-") as tmp:
        paths = cases(Path(tmp), args.size)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        problems = {}
        for n in range(args.rounds):
            for name, path in paths.items():
                seconds, rss, problems[name] = run_import(path, Path(tmp) / f"data-{n}")
                runs[name].append((seconds, rss))
        print(f"files of {args.size:,} bytes, {args.rounds} rounds, medians:")
        floor = statistics.median(s for s, _ in runs[FLOOR])
        limit = max(TARGET_SECONDS, floor + OVER_FLOOR_SECONDS)
        for name, results in runs.items():
            seconds = statistics.median(s for s, _ in results)
            rss = statistics.median(r for _, r in results)
            fine = seconds <= limit and rss <= TARGET_RSS_MB
            ok &= fine
            print(f"  {name:32s} {seconds:5.2f} s  {rss:6.1f} MB  {'ok' if fine else 'OVER'}")
            print(f"    {problems[name][:110]}")
        print(f"targets: ≤ {limit:.2f} s and ≤ {TARGET_RSS_MB} MB each")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
