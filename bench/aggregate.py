"""Benchmark: every school and region profile of the 50,000-student national demo, from the database.

Runs the national simulation into a temporary SQLite database (or uses ``--database`` and
``--assessment`` as they are), draws and stores the operational assessment's plausible values
(latent regression with school-mean conditioning, overall and per dimension), then builds every
profile: each school, county, city, province, region and the nation, with the delete-one-school
jackknife within provinces. Prints the count and the time of each stage; the aggregation's target
is well under a minute.

    .venv/bin/python bench/aggregate.py [--students 50000] [--pvs 10] [--database URL --assessment CODE]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# the repository first: this folder holds bench/reports.py, which must not stand in for the reports package
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import tempfile
import time
from pathlib import Path

from sqlmodel import Session


def _simulate(students: int, folder: Path) -> tuple[str, str]:
    from assess.simulate.pipeline import run_national_simulation
    from itembank.db import make_engine
    from web import migrate

    url = f"sqlite:///{folder / 'national.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    run = run_national_simulation(engine, students=students, field_trial=min(5_000, students // 2), seed=1)
    engine.dispose()
    print(
        f"national simulation: {run.students:,} students, {run.adaptive_students:,} adaptive, "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return url, run.adaptive_assessment


def open_database(args: argparse.Namespace, parser: argparse.ArgumentParser, folder: Path) -> tuple[str, str]:
    """``(url, assessment code)``: ``--database``/``--assessment`` as given, else a run simulated in ``folder``."""
    if args.database:
        if not args.assessment:
            parser.error("--database needs --assessment")
        return args.database, args.assessment
    return _simulate(args.students, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--pvs", type=int, default=10)
    parser.add_argument("--database", default=None, help="Use this database instead of simulating one.")
    parser.add_argument("--assessment", default=None, help="Assessment code (with --database).")
    parser.add_argument("--redraw", action="store_true", help="Draw the PVs again even if stored ones are current.")
    args = parser.parse_args()
    from itembank.db import make_engine
    from reports.aggregate import build_profiles, load_report_inputs
    from reports.plausible import ensure_plausible_values
    from reports.tree import find_assessment, load_tree

    with tempfile.TemporaryDirectory() as tmp:
        url, code = open_database(args, parser, Path(tmp))
        engine = make_engine(url)
        t0 = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            tree = load_tree(session=session, assessment=find_assessment(session=session, code=code))
            run = ensure_plausible_values(session=session, tree=tree, n_pvs=args.pvs, redraw=args.redraw)
            session.commit()
        t_pv = time.perf_counter() - t0
        print(
            f"plausible values: {run.n_students:,} students x {run.n_pvs} (overall and each dimension), "
            f"drawn and stored, or found current: {t_pv:.1f} s"
        )
        t0 = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            inputs = load_report_inputs(session=session, assessment_code=code, n_pvs=args.pvs)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        profiles = build_profiles(inputs)
        t_build = time.perf_counter() - t0
        engine.dispose()
    counts = {lv: len(profiles.at(lv)) for lv in ("school", "county", "city", "province", "region", "national")}
    design = inputs.sample
    print(f"design: {design.name}; {inputs.tree.n_students:,} assessed students in {counts['school']} schools")
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in profiles.seconds.items())
    print(f"profiles: {len(profiles)} ({', '.join(f'{v} {k}' for k, v in counts.items())})")
    print(f"  read tree, PVs and answers {t_load:.1f} s; aggregate {t_build:.1f} s ({stages})")
    print(f"  aggregation total (read + build): {t_load + t_build:.1f} s")


if __name__ == "__main__":
    main()
