"""Benchmark: the replicate engine on a 50,000-student sample, every school and region at once.

Draws a sample shaped like the national one (10 provinces, 3 regions, 90 counties, ~700 schools of
~70 students, gender), 10 plausible values, and a JK2 design (schools paired into zones, full: two
replicates per zone), then times what the profiles need for every school, county, city, province,
region and the nation: mean, share at or above the pass line, four level shares, percentiles
10/25/50/75/90, the girls - boys gap, and (for the regions) the between-school share. Prints the
time of each and the total.

    .venv/bin/python bench/survey.py [--students 50000] [--pvs 10] [--design jk2|jkn|fay|census]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# the repository first: this folder holds bench/reports.py, which must not stand in for the reports package
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import time

import numpy as np

from scoring.survey import (
    ReplicateDesign,
    compare_groups,
    estimate_between_school_share,
    estimate_level_shares,
    estimate_mean,
    estimate_percentiles,
    estimate_share_at_or_above,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--pvs", type=int, default=10)
    parser.add_argument("--design", choices=["jk2", "jkn", "fay", "census"], default="jk2")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.students
    n_schools = int(round(n / 70))
    school = np.sort(rng.integers(0, n_schools, n))
    county_of = rng.integers(0, 90, n_schools)
    county = county_of[school]
    city, province = county // 3, county // 9
    region = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])[province]
    girl = rng.integers(0, 2, n)
    weight = rng.uniform(20, 60, n_schools)[school]
    effect = rng.normal(0, 50, n_schools)[school]
    pv = (500 + effect + 10 * girl)[:, None] + rng.normal(0, 87, (n, args.pvs))
    t0 = time.perf_counter()
    if args.design == "jk2":
        design = ReplicateDesign.jk2(school // 2, school % 2, weights=weight, schools=school)
    elif args.design == "jkn":
        design = ReplicateDesign.jkn(school, strata=province, weights=weight)
    elif args.design == "fay":
        design = ReplicateDesign.fay_brr(school // 2, school % 2, weights=weight, schools=school)
    else:
        design = ReplicateDesign.census(weights=weight, schools=school)
    print(
        f"{n:,} students, {n_schools} schools, {args.pvs} PVs; design {design.method} with "
        f"{design.n_replicates} replicates (built in {time.perf_counter() - t0:.2f} s)"
    )
    levels = {"school": school, "county": county, "city": city, "province": province, "region": region, "nation": None}
    cuts = [420.0, 500.0, 580.0]
    total = 0.0
    print(f"{'level':<10}{'groups':>7}{'mean':>8}{'pass':>8}{'levels':>8}{'pctiles':>9}{'gap':>8}{'icc':>8}  (s)")
    for name, groups in levels.items():
        times = []
        rows = 0
        for fn in (
            lambda g: estimate_mean(pv, design, groups=g),
            lambda g: estimate_share_at_or_above(pv, design, 500.0, groups=g),
            lambda g: estimate_level_shares(pv, design, cuts, groups=g),
            lambda g: estimate_percentiles(pv, design, groups=g),
        ):
            t = time.perf_counter()
            est = fn(groups)
            out = est.combine()
            times.append(time.perf_counter() - t)
            rows = max(rows, len(out))
        t = time.perf_counter()
        cell = girl if groups is None else groups * 2 + girl
        by = estimate_mean(pv, design, groups=cell)
        labels = set(np.unique(cell).tolist())
        pairs = [(2 * g + 1, 2 * g) for g in sorted({c // 2 for c in labels}) if {2 * g, 2 * g + 1} <= labels]
        if groups is None:
            pairs = [(1, 0)]
        compare_groups(by, pairs).combine()
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        if name != "school":
            estimate_between_school_share(pv, design, groups=groups).combine()
        times.append(time.perf_counter() - t)
        total += sum(times)
        n_groups = 1 if groups is None else int(np.unique(groups).size)
        print(f"{name:<10}{n_groups:>7}" + "".join(f"{x:>8.2f}" for x in times[:3]) + f"{times[3]:>9.2f}"
              + "".join(f"{x:>8.2f}" for x in times[4:]))
    print(f"total: {total:.1f} s")


if __name__ == "__main__":
    main()
