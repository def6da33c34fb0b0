"""Benchmark: the CAT engine on 50,000 simulated sessions, catsim on 2,000 of the same examinees.

Prints the engine's wall time for 50,000 adaptive sessions (30 items, content balancing over the
four dimensions, randomesque and Sympson-Hetter exposure control) on the starter bank, catsim's
time for the first 2,000 of those examinees, the per-examinee speed ratio, and the quality table
of :func:`assess.simulate.study.run_cat_study`.

    .venv/bin/python bench/cat.py [--students 50000] [--catsim 2000] [--seed 1]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# the repository first: this folder holds bench/reports.py, which must not stand in for the reports package
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import os
import platform
import time

import numpy as np

from assess.simulate.adaptive import simulate_sessions
from assess.simulate.bankfiles import build_engine_bank, default_bank_dir, load_bank_files
from assess.simulate.population import draw_population
from assess.simulate.study import run_cat_study, study_blueprint
from reports.render_text import format_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--catsim", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    files = sorted(default_bank_dir().glob("d*.json"))
    bank = build_engine_bank(load_bank_files(files))
    n_op = int((~bank.pilot).sum())
    rng = np.random.default_rng(args.seed)
    grades = (4, 8)
    population, grade_of = draw_population(args.students, rng, grades=grades)
    blueprint = study_blueprint(
        bank.areas, length=30, min_length=30, se_target=0.0, randomesque_k=3, sympson_hetter=True, grades=grades
    )
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"bank: {len(files)} files, {bank.n_items} items ({n_op} operational, {int(bank.pilot.sum())} pilot), "
        f"areas {', '.join(bank.areas)}"
    )
    print(
        f"blueprint: {blueprint.max_items} items fixed length, content {blueprint.content[0].min_items}-"
        f"{blueprint.content[0].max_items} per dimension, randomesque k={blueprint.randomesque_k}, "
        f"Sympson-Hetter target 0.25; examinees: grades {grades}, {args.students}"
    )
    print()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    t0 = time.perf_counter()
    study = run_cat_study(
        bank,
        blueprint,
        population,
        rng,
        grades=grade_of,
        exposure_target=0.25,
        catsim_examinees=args.catsim,
    )
    total = time.perf_counter() - t0

    cat = study.cat
    print(f"load average at the start: {load}; wall seconds, with this process's CPU seconds in brackets")
    print(f"Sympson-Hetter calibration (before the run):            {study.calibration_seconds:8.2f} s")
    print(
        f"engine alone, {cat.n_examinees:,} adaptive sessions:         {cat.seconds:8.2f} s "
        f"[cpu {cat.cpu_seconds:.2f} s]  {cat.ms_per_examinee:.3f} ms/examinee, "
        f"{cat.n_examinees * cat.length_mean:,.0f} items given"
    )
    if study.catsim is not None:
        cs = study.catsim
        m = cs.n_examinees
        # the engine again on exactly catsim's examinees (a small batch vectorises less well)
        bank_sh = bank.with_exposure(study.exposure_parameters)
        w0, c0 = time.perf_counter(), time.process_time()
        simulate_sessions(bank_sh, blueprint, population[:m], np.random.default_rng(0), grades=grade_of[:m])
        small, small_cpu = time.perf_counter() - w0, time.process_time() - c0
        print(
            f"catsim, the first {m:,} of the same examinees:        {cs.seconds:8.2f} s "
            f"[cpu {cs.cpu_seconds:.2f} s]  {cs.ms_per_examinee:.3f} ms/examinee"
        )
        print(
            f"engine on those same {m:,} examinees:                 {small:8.2f} s "
            f"[cpu {small_cpu:.2f} s]  {1000 * small / m:.3f} ms/examinee"
        )
        print(
            f"speed ratio per examinee, catsim / engine: {cs.ms_per_examinee / cat.ms_per_examinee:.0f} x "
            f"(engine batch of {cat.n_examinees:,}), {cs.seconds / small:.0f} x on the same {m:,} "
            f"(cpu: {(cs.cpu_seconds / m) / (cat.cpu_seconds / cat.n_examinees):.0f} x and "
            f"{cs.cpu_seconds / small_cpu:.0f} x)"
        )
    print(f"whole study (calibration, CAT, linear form, catsim, scoring): {total:.1f} s")
    print()
    print(format_study(study))


if __name__ == "__main__":
    main()
