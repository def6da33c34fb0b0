"""Benchmark: repeated national samples from one synthetic country; bias and standard errors by region.

One country (:func:`assess.simulate.country.build_country`: 30,000 schools, grades 4 and 8) is
fixed; its true regional mean is the enrolment-weighted mean of its schools' true means
(500 + 100 x the school's effect: the pupils' own deviations average to zero over the region).
Each repetition draws the national design (:func:`assess.simulate.country.national_design`:
region x province x locale strata with a minimum per stratum, which oversamples the small
strata, rural ones above all), lets 10% of schools refuse (replacements step in) and 8% of
students miss the test, gives each sampled student a score (the school's mean + N(0, 86.6)),
weights the sample and forms the JK2 zones. Printed per region and for the nation:

- the weighted mean's error over the repetitions and its z (mean error / its SE): unbiased
  where |z| < 2;
- the mean JK2 standard error over the standard deviation of the estimates across repetitions
  (should lie between 0.85 and 1.15);
- the unweighted mean's error and z: biased, because the design oversamples small strata.

    .venv/bin/python bench/sampling.py [--samples 200] [--schools 30000] [--sample-schools 450] [--seed 1]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import dataclasses
import time

import numpy as np


def main() -> None:
    from assess.sampling.jackknife import form_zones, replicate_design
    from assess.sampling.select import draw_sample
    from assess.sampling.weights import StudentRecords, compute_weights
    from assess.simulate.country import PUPIL_SD, build_country, national_design
    from scoring.survey import estimate_mean

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--schools", type=int, default=30_000, help="schools in the country")
    ap.add_argument("--sample-schools", type=int, default=450, help="schools per sample")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--refuse", type=float, default=0.10, help="share of sampled schools that refuse")
    ap.add_argument("--absent", type=float, default=0.08, help="share of students absent")
    ap.add_argument("--trim", type=float, default=None, help="trimming factor (default: the design's 4)")
    ap.add_argument("--no-replacements", action="store_true", help="refusing schools are not replaced")
    args = ap.parse_args()
    t0 = time.perf_counter()
    grades = (4, 8)
    country = build_country(np.random.default_rng(args.seed), n_schools=args.schools, grades=grades)
    frame = country.frame
    design = national_design(args.sample_schools, grades)
    if args.trim is not None:
        design = dataclasses.replace(design, trim=args.trim)
    if args.no_replacements:
        design = dataclasses.replace(design, use_replacements=False)
    enrol = frame.enrolled(grades).astype(float)
    school_mean = 500 + 100 * country.effect
    regions = ("东部", "中部", "西部")
    region_of = frame.column("region")
    truth = {r: float((enrol * school_mean)[region_of == r].sum() / enrol[region_of == r].sum()) for r in regions}
    truth["全国"] = float((enrol * school_mean).sum() / enrol.sum())
    names = [*regions, "全国"]
    est = np.zeros((args.samples, 4))
    se = np.zeros((args.samples, 4))
    raw = np.zeros((args.samples, 4))
    n_students = np.zeros(args.samples)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in range(args.samples):
        rng = np.random.default_rng(10_000 + r)
        sample = draw_sample(frame, design, seed=r)
        schools = sample.schools()
        take = np.minimum(schools.enrolment, design.within.students)
        refuses = rng.random(schools.n) < args.refuse
        school = np.repeat(np.arange(schools.n), take.sum(axis=1))
        grade = np.concatenate([np.repeat(np.array(grades), row) for row in take])
        assessed = ~refuses[school] & (rng.random(school.size) >= args.absent)
        students = StudentRecords(school, grade, assessed)
        w = compute_weights(schools, students, design)
        zones = form_zones(schools, w.used, school, seed=r)
        keep = w.final > 0
        rep = replicate_design(w.final, zones, school).subset(keep)
        score = school_mean[sample.index][school] + 100 * PUPIL_SD * rng.standard_normal(school.size)
        reg = region_of[sample.index][school]
        by_region = estimate_mean(score[keep], rep, groups=reg[keep])
        nation = estimate_mean(score[keep], rep)
        for k, name in enumerate(regions):
            g = by_region.groups.index(name)
            est[r, k] = by_region.estimates[g, 0]
            se[r, k] = np.sqrt(rep.variance(by_region.estimates[g, 0], by_region.replicates[g, 0]))
            raw[r, k] = score[keep & (reg == name)].mean()
        est[r, 3] = nation.estimates[0, 0]
        se[r, 3] = np.sqrt(rep.variance(nation.estimates[0, 0], nation.replicates[0, 0]))
        raw[r, 3] = score[keep].mean()
        n_students[r] = keep.sum()
    t_loop = time.perf_counter() - t0
    print(
        f"country: {frame.n_schools:,} schools, {int(enrol.sum()):,} students of grades 4 and 8; design: "
        f"{design.schools} schools in strata {' x '.join(design.strata_by)} (minimum {design.minimum} per stratum), "
        f"up to {design.within.students} students a grade; {args.refuse:.0%} of schools refuse, "
        f"{args.absent:.0%} of students absent; trimming at {design.trim:g} x the median"
    )
    print(f"{args.samples} samples of about {n_students.mean():,.0f} assessed students; "
          f"country built in {t_build:.1f} s, samples drawn and weighted in {t_loop:.1f} s "
          f"({1000 * t_loop / args.samples:.0f} ms each)")  # fmt: skip
    print()
    head = (f"{'region':<6} {'truth':>7} {'w.error':>8} {'z':>6} {'JK2 SE':>7} {'SD est':>7} {'ratio':>6} "
            f"{'unw.error':>10} {'z':>7}")  # fmt: skip
    print(head)
    rows_ok = True
    for k, name in enumerate(names):
        err = est[:, k] - truth[name]
        z = err.mean() / (err.std(ddof=1) / np.sqrt(args.samples))
        ratio = se[:, k].mean() / est[:, k].std(ddof=1)
        uerr = raw[:, k] - truth[name]
        uz = uerr.mean() / (uerr.std(ddof=1) / np.sqrt(args.samples))
        rows_ok &= abs(z) < 2 and 0.85 <= ratio <= 1.15
        print(
            f"{name:<6} {truth[name]:>7.1f} {err.mean():>+8.2f} {z:>+6.2f} {se[:, k].mean():>7.2f} "
            f"{est[:, k].std(ddof=1):>7.2f} {ratio:>6.3f} {uerr.mean():>+10.2f} {uz:>+7.1f}"
        )
    print()
    verdict = "yes" if rows_ok else "NO"
    print(f"weighted: unbiased (|z| < 2) and JK2 SE / SD between 0.85 and 1.15 in every row: {verdict}")


if __name__ == "__main__":
    main()
