"""Benchmark: ``infolit demo --no-serve`` from nothing (a new data folder), stage by stage, then a rerun.

    python bench/demo.py [--students 50000 2000] [--workers 2] [--keep]

For each N, runs ``infolit demo --students N --no-serve`` in a new, empty data folder (its own
SQLite file and reports folder) as a separate process, prints the wall-clock time and the demo's
own figures per stage (simulation with its sub-stages, plausible values and profiles, the report
files, the demo accounts), then runs it once more in the same folder and prints how long a rerun
that reuses everything takes. The Chinese fonts are built once per machine (about 15 s per
weight) and are not counted here if the cache already holds them (``reports.fonts``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _infolit() -> list[str]:
    found = shutil.which("infolit", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "web.cli"]


def _run(folder: Path, students: int, workers: int) -> tuple[float, str]:
    env = {**os.environ, "INFOLIT_DATA_DIR": str(folder)}
    env.pop("INFOLIT_DATABASE_URL", None)
    args = [*_infolit(), "demo", "--students", str(students), "--no-serve", "--workers", str(workers)]
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"demo failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def _line(out: str, start: str) -> str:
    found = re.search(rf"^{re.escape(start)}.*$", out, flags=re.M)
    return found.group(0) if found else f"{start} (not printed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[50_000, 2_000])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--keep", action="store_true", help="Keep the data folders (their paths are printed).")
    args = parser.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for n in args.students:
        folder = Path(tempfile.mkdtemp(prefix=f"infolit-demo-{n}-"))
        try:
            first, out = _run(folder, n, args.workers)
            again, _ = _run(folder, n, args.workers)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        print(
            f"\n== infolit demo --students {n:,} --no-serve --workers {args.workers}"
            + (f"  ({folder})" if args.keep else "")
        )
        print(f"first run {first:.0f} s wall clock; rerun (everything reused) {again:.1f} s")
        print("  " + _line(out, "各阶段用时: "))
        print("  " + _line(out, "各阶段用时："))
        print("  " + _line(out, "报告数据："))
        print("  " + _line(out, "学生 "))
    print(f"\nload average after {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
