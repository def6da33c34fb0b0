"""Benchmark: every school and region profile of the 50,000-student national sample, as PDF and XLSX.

Simulates the national run into a temporary SQLite database as bench/aggregate.py does (or uses
``--database`` and ``--assessment``), draws and stores the plausible values, then times the
stages ``infolit report all`` runs: read the inputs, aggregate every profile, and render and write
every profile as PDF and XLSX on ``--workers`` processes. Prints the count, each stage's time,
the total from reading to the last file (the budget: under 2 minutes on this 2-core machine) and
the time per file of each format.

    .venv/bin/python bench/reports.py [--students 50000] [--workers 2] [--database URL --assessment CODE]

(Python puts a script's folder first on ``sys.path``, where this file would stand in for the
``reports`` package: every script in ``bench/`` therefore puts the repository first.)
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# the repository first: this folder holds bench/reports.py, which must not stand in for the reports package
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path
from types import ModuleType

from sqlmodel import Session

_HERE = Path(__file__).resolve().parent


def _bench_aggregate() -> ModuleType:
    """bench/aggregate.py, for the same national run it times."""
    spec = importlib.util.spec_from_file_location("bench_aggregate", _HERE / "aggregate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--pvs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--formats", default="pdf,xlsx")
    parser.add_argument("--database", default=None, help="Use this database instead of simulating one.")
    parser.add_argument("--assessment", default=None, help="Assessment code (with --database).")
    parser.add_argument("--out", default=None, help="Keep the files in this folder (default: a temporary one).")
    args = parser.parse_args()
    from itembank.db import make_engine
    from reports.aggregate import build_profiles, load_report_inputs
    from reports.bulk import write_profile_files
    from reports.fonts import font_files
    from reports.plausible import ensure_plausible_values
    from reports.tree import find_assessment, load_tree

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        url, code = _bench_aggregate().open_database(args, parser, Path(tmp))
        engine = make_engine(url)
        t0 = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            tree = load_tree(session=session, assessment=find_assessment(session=session, code=code))
            ensure_plausible_values(session=session, tree=tree, n_pvs=args.pvs)
            session.commit()
        print(f"plausible values drawn and stored, or found current: {time.perf_counter() - t0:.1f} s (untimed below)")
        t0 = time.perf_counter()
        font_files(progress=print)
        print(f"fonts ready: {time.perf_counter() - t0:.1f} s (built once per machine, not timed below)")

        t_start = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            inputs = load_report_inputs(session=session, assessment_code=code, n_pvs=args.pvs)
        t_read = time.perf_counter() - t_start
        engine.dispose()
        t0 = time.perf_counter()
        profiles = list(build_profiles(inputs))
        t_build = time.perf_counter() - t0
        out = Path(args.out) if args.out else Path(tmp) / "reports"
        done = write_profile_files(profiles, out, formats, workers=args.workers)
        total = time.perf_counter() - t_start

    levels: dict[str, int] = {}
    for p in profiles:
        levels[p.identity.level] = levels.get(p.identity.level, 0) + 1
    withheld = sum(1 for p in profiles if not p.reported)
    print(
        f"profiles: {len(profiles)} ({', '.join(f'{n} {lv}' for lv, n in levels.items())}; {withheld} withheld), "
        f"{inputs.tree.n_students:,} assessed students"
    )
    print(f"  read tree, PVs and answers  {t_read:6.1f} s")
    print(f"  aggregate every profile     {t_build:6.1f} s")
    print(
        f"  render + write {done.files} files   {done.seconds:6.1f} s on {done.workers} processes "
        f"({done.bytes / 2**20:.0f} MiB, {1000 * done.seconds / max(1, done.files):.1f} ms wall per file)"
    )
    for fmt in formats:
        n = done.files_by_format[fmt]
        print(f"    {fmt:<5} {n} files, {1000 * done.render_seconds[fmt] / max(1, n):6.1f} ms per file in a worker")
    verdict = "within" if total < 120 else "OVER"
    print(f"  total, read to last file    {total:6.1f} s ({verdict} the 2-minute budget)")


if __name__ == "__main__":
    main()
