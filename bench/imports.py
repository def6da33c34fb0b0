"""Big and hostile import files: how long a refusal takes, how much memory, how many lines printed.

    python bench/imports.py              # 300,000 bad rows (XLSX and CSV), and 100,000 at the limit
    python bench/imports.py --rows 50000

The audit's case: a 15 MB XLSX with 300,000 bad rows took 100 s and 1 GB and printed 300,000
lines. Each case here runs ``infolit people import`` in a fresh process on a fresh SQLite
database and prints the wall time, the peak memory (max RSS) and the number of lines written.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_MEASURE = """
import resource, sys, time
from click.testing import CliRunner
from web.commands.people import people_group
t0 = time.perf_counter()
result = CliRunner().invoke(people_group, ["import", sys.argv[1]])
seconds = time.perf_counter() - t0
lines = len(result.stderr.splitlines()) + len(result.stdout.splitlines())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{seconds:.1f} {peak:.0f} {lines} {result.exit_code}")
print(result.stderr.splitlines()[-1] if result.stderr else result.stdout.splitlines()[-1])
"""


def _rows(n: int) -> list[list[object]]:
    from assess.registration import COLUMNS

    place = ["44", "广东省", "东部", "4403", "深圳市", "440305", "南山区", "S001", "南山实验学校", "城区", "公办"]
    rows: list[list[object]] = [list(COLUMNS)]
    for k in range(n):
        rows.append([*place, 15, f"{k % 40 + 1}班", f"G{k:08d}", "X"])  # grade 15, gender X: two problems a row
    return rows


def write_xlsx(path: Path, n: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in _rows(n):
        sheet.append(row)
    workbook.save(path)


def write_csv(path: Path, n: int) -> None:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(_rows(n))
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))


def measure(path: Path, workdir: Path) -> str:
    env = {
        **os.environ,
        "INFOLIT_DATABASE_URL": f"sqlite:///{workdir / (path.stem + '.db')}",
        "INFOLIT_DATA_DIR": str(workdir),
        "PYTHONPATH": str(REPO),
    }
    from itembank.db import make_engine
    from web import migrate

    engine = make_engine(env["INFOLIT_DATABASE_URL"])
    migrate.upgrade(engine)
    engine.dispose()
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return f"failed: {done.stderr[-500:]}"
    first, last = done.stdout.strip().splitlines()[:2]
    seconds, peak, lines, code = first.split()
    size = path.stat().st_size / 2**20
    figures = f"{float(seconds):6.1f} s, peak {int(peak):5,} MiB, {int(lines):,} lines, exit {code}"
    return f"{size:5.1f} MiB: {figures}; {last}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="bad rows in the over-the-limit files")
    parser.add_argument("--limit-rows", type=int, default=100_000, help="bad rows in the at-the-limit files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="infolit-imports-") as tmp:
        workdir = Path(tmp)
        for n in (args.rows, args.limit_rows):
            for kind, write in (("xlsx", write_xlsx), ("csv", write_csv)):
                path = workdir / f"bad-{n}.{kind}"
                t0 = time.perf_counter()
                write(path, n)
                made = time.perf_counter() - t0
                print(f"{n:>8,} bad rows, {kind:4} (written in {made:.0f} s) {measure(path, workdir)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
