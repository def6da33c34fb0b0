"""Benchmark: the smallest ``infolit demo --students N`` whose field trial calibrates and converges.

    python bench/demo_minimum.py [--students 300 600 1000 1500 2000] [--seeds 1 2 3]

For each N and seed, runs the demo's pipeline (``run_national_simulation`` with the demo's field
trial of ``min(5000, N // 2)`` students) into a fresh SQLite file and prints whether the
calibration ran, whether its EM converged (and in how many cycles), the items it could calibrate
(an item needs 50 responses), the RMSE and the median absolute error of the difficulties against
the generating ones, and how many adaptive sittings are assessed (:mod:`assess.scoring_rule`).
``infolit demo`` and ``infolit simulate`` refuse a sample below the smallest one whose runs all
converged with nearly every sitting assessed (:data:`web.commands.national.MIN_STUDENTS`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[300, 600, 1000, 1500, 2000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)

    from sqlmodel import func, select

    from assess.models import TestSession
    from assess.scoring_rule import assessed_clause
    from assess.simulate.pipeline import run_national_simulation
    from itembank.db import make_engine, session_scope
    from itembank.models import Calibration, ItemParameter
    from web import migrate

    print(f"{'N':>6} {'seed':>4} {'trial':>6} {'items':>5} {'converged':>10} {'cycles':>6} {'rmse b':>7} "
          f"{'med |e|':>7} {'assessed':>13} {'s':>5}  note")
    for n in args.students:
        for seed in args.seeds:
            workdir = Path(tempfile.mkdtemp(prefix=f"infolit-demo-{n}-"))
            engine = make_engine(f"sqlite:///{workdir / 'demo.db'}")
            migrate.upgrade(engine)
            trial = min(5_000, n // 2)
            t0 = time.perf_counter()
            try:
                run = run_national_simulation(engine, students=n, field_trial=trial, seed=seed)
            except Exception as exc:  # noqa: BLE001 - a bench reports every outcome
                print(f"{n:>6} {seed:>4} {trial:>6} {'-':>5} {'failed':>10} {'-':>6} {'-':>7} {'-':>7} {'-':>13} "
                      f"{time.perf_counter() - t0:>5.0f}  {type(exc).__name__}: {str(exc)[:70]}")
                engine.dispose()
                continue
            with session_scope(engine) as s:
                assessed = s.exec(
                    select(func.count()).select_from(TestSession).where(
                        TestSession.assessment_id == run.adaptive_assessment_id, assessed_clause()
                    )
                ).one()
            with session_scope(engine) as s:
                items = s.exec(
                    select(func.count())
                    .select_from(ItemParameter)
                    .join(Calibration, Calibration.id == ItemParameter.calibration_id)
                    .where(Calibration.name == run.calibration)
                ).one()
            share = f"{assessed}/{run.adaptive_students}"
            print(f"{n:>6} {seed:>4} {trial:>6} {items:>5} {str(run.calibration_converged):>10} "
                  f"{run.calibration_cycles:>6} {run.rmse_b:>7.3f} {run.median_abs_error_b:>7.3f} {share:>13} "
                  f"{time.perf_counter() - t0:>5.0f}")
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
