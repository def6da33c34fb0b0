"""Recovery study: group gaps and group-mean intervals from plausible values, against the true abilities.

A national sample like the simulator's (10 provinces in the eastern, central and western regions,
90 counties, ~700 urban, county-town and rural schools, grades 4 and 8, school intra-class
correlation about 0.25; region, locale, gender and grade effects on the bank's vertical scale)
takes 30-item adaptive tests on the starter bank through the live CAT engine
(:func:`assess.simulate.adaptive.simulate_sessions`: content balancing, randomesque exposure). The sparse
responses (30 of 347 operational items each) are then scored four ways:

* ``PV latent regression + school``: :func:`scoring.population.fit_latent_regression` on grade,
  gender, locale and region dummies with absorbed school effects, 10 PVs;
* ``PV latent regression, no school``: the same without the school effects;
* ``EAP, N(0,1) prior``: each student's EAP under the standard normal prior;
* ``PV, N(0,1) prior``: PVs drawn from the posterior under that common prior.

Truth is the finite-population target: the mean of the true thetas of the assessed students of a
group (the simulator knows every true ability). Printed: true vs estimated gaps (girls - boys, urban
- rural, east - central, west - central, grade 8 - grade 4), and the coverage of the 95% intervals
of every county's and every school's mean (schools of at least 10 students, as reported): Rubin's
rules in school-census mode (the assessed students are the target, so only the measurement
variance applies, with Rubin's df = M - 1), the interval estimate -/+ 1.96 SE and estimate -/+
t(df) SE. The gaps' SEs come from the delete-one-school jackknife within
provinces (JKn) and Rubin's rules. Timings of the model fit, the PV draws and the group statistics
are printed too.

    .venv/bin/python bench/pv_recovery.py [--students 50000] [--seed 1] [--pvs 10] [--gender-gap 0.15]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# the repository first: this folder holds bench/reports.py, which must not stand in for the reports package
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

import scoring
from scoring.population import draw_latent_regression_pvs, fit_latent_regression
from scoring.survey import ReplicateDesign, compare_groups, estimate_mean

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REGIONS = ("east", "central", "west")
REGION_EFFECT = np.array([0.20, 0.0, -0.25])  # as assess/simulate/population.py draws them
PROVINCE_REGION = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
LOCALES = ("urban", "town", "rural")
LOCALE_EFFECT = np.array([0.15, 0.0, -0.20])
GRADE_MEAN = {4: -1.0, 8: 0.0}
SCHOOL_SD, PUPIL_SD = 0.5, 0.866


@dataclass(frozen=True)
class Sample:
    theta: FloatArray
    grade: IntArray
    girl: IntArray
    school: IntArray
    county: IntArray
    province: IntArray
    region: IntArray
    locale: IntArray


def draw_sample(n: int, rng: np.random.Generator, gender_gap: float) -> Sample:
    """Students in schools in counties in provinces, the way assess/simulate/population.py builds them."""
    n_schools = int(round(n / 70))
    county_of = rng.integers(0, 90, n_schools)
    locale_of = rng.choice(3, size=n_schools, p=[0.40, 0.35, 0.25])
    grade_of = np.where(np.arange(n_schools) % 2 == 0, 4, 8)
    effect = rng.normal(0.0, SCHOOL_SD, n_schools)
    school = np.sort(rng.integers(0, n_schools, n))
    county = county_of[school]
    province = county // 9
    region = PROVINCE_REGION[province]
    grade = grade_of[school]
    girl = rng.integers(0, 2, n)
    mean = np.where(grade == 4, GRADE_MEAN[4], GRADE_MEAN[8]) + REGION_EFFECT[region]
    theta = mean + LOCALE_EFFECT[locale_of[school]] + effect[school] + gender_gap * girl + rng.normal(0, PUPIL_SD, n)
    return Sample(theta, grade, girl, school, county, province, region, locale_of[school])


def run_adaptive(sample: Sample, rng: np.random.Generator) -> tuple[scoring.ItemParams, sp.csr_matrix]:
    """30-item adaptive tests on the starter bank; responses as a sparse matrix (stored entries = scores)."""
    from assess.simulate.adaptive import simulate_sessions
    from assess.simulate.bankfiles import build_engine_bank, default_bank_dir, load_bank_files
    from assess.simulate.study import study_blueprint

    bank = build_engine_bank(load_bank_files(sorted(default_bank_dir().glob("d*.json"))))
    blueprint = study_blueprint(bank.areas, length=30, min_length=30, se_target=0.0, randomesque_k=3, grades=(4, 8))
    sessions = simulate_sessions(bank, blueprint, sample.theta, rng, grades=sample.grade)
    given = sessions.items >= 0
    indptr = np.concatenate([[0], np.cumsum(given.sum(axis=1))])
    x = sp.csr_matrix(
        (sessions.scores[given].astype(np.float64), sessions.items[given], indptr),
        shape=(sample.theta.size, bank.n_items),
    )
    return bank.params, x


def covariates(s: Sample) -> tuple[FloatArray, list[str]]:
    cols = [s.grade == 8, s.girl == 1, s.locale == 0, s.locale == 2, s.region == 0, s.region == 2]
    return np.column_stack(cols).astype(np.float64), ["grade8", "girl", "urban", "rural", "east", "west"]


def group_means(values: FloatArray, codes: IntArray, k: int) -> FloatArray:
    v = values if values.ndim == 2 else values[:, None]
    counts = np.bincount(codes, minlength=k)
    sums = np.stack([np.bincount(codes, weights=v[:, m], minlength=k) for m in range(v.shape[1])], axis=1)
    return np.asarray(sums / np.maximum(counts, 1)[:, None])


def gaps(values: FloatArray, s: Sample) -> dict[str, float]:
    v = values if values.ndim == 2 else values[:, None]

    def diff(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
        return float((v[a].mean(axis=0) - v[b].mean(axis=0)).mean())

    return {
        "girls - boys": diff(s.girl == 1, s.girl == 0),
        "urban - rural": diff(s.locale == 0, s.locale == 2),
        "east - central": diff(s.region == 0, s.region == 1),
        "west - central": diff(s.region == 2, s.region == 1),
        "grade 8 - grade 4": diff(s.grade == 8, s.grade == 4),
    }


def coverage(
    pvs: FloatArray, truth_theta: FloatArray, codes: IntArray, min_n: int, critical: str
) -> tuple[float, int, float]:
    """Share of groups whose census-mode 95% interval covers the mean true theta; groups; mean SE."""
    design = ReplicateDesign.census(n=codes.size)
    est = estimate_mean(pvs, design, groups=codes).combine(critical="t" if critical == "t" else "normal")
    counts = np.bincount(codes)
    truth = np.bincount(codes, weights=truth_theta) / np.maximum(counts, 1)
    labels = np.asarray(est.groups, dtype=np.int64)
    keep = counts[labels] >= min_n
    hit = (est.ci_low <= truth[labels]) & (truth[labels] <= est.ci_high)
    return float(hit[keep].mean()), int(keep.sum()), float(est.se[keep].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pvs", type=int, default=10)
    parser.add_argument("--gender-gap", type=float, default=0.15, help="girls' advantage (national.py: 0.05)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    sample = draw_sample(args.students, rng, args.gender_gap)
    t0 = time.perf_counter()
    params, x = run_adaptive(sample, rng)
    t_cat = time.perf_counter() - t0
    x_cov, names = covariates(sample)
    n_schools = int(sample.school.max()) + 1
    print(
        f"sample: {args.students:,} students, {n_schools} schools, 90 counties, 10 provinces; "
        f"{x.nnz / args.students:.0f} of {params.n_items} items each (adaptive, {t_cat:.1f} s); {args.pvs} PVs"
    )

    t0 = time.perf_counter()
    fit_s = fit_latent_regression(x, params, x_cov, names=names, variance_groups=sample.grade, schools=sample.school)
    t_fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pv_s = draw_latent_regression_pvs(x, params, fit_s, rng, n_draws=args.pvs)
    t_pv = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit_n = fit_latent_regression(x, params, x_cov, names=names, variance_groups=sample.grade)
    t_fit_n = time.perf_counter() - t0
    pv_n = draw_latent_regression_pvs(x, params, fit_n, rng, n_draws=args.pvs)
    eap = scoring.estimate_eap(x, params).theta
    pv_0 = scoring.draw_plausible_values(x, params, args.pvs, rng)
    print(
        f"latent regression with school effects: {fit_s.n_iter} EM cycles, {t_fit_s:.1f} s; "
        f"without: {fit_n.n_iter} cycles, {t_fit_n:.1f} s; {args.pvs} PVs for everybody: {t_pv:.1f} s"
    )
    print(
        "  coefficients (no school): "
        + ", ".join(f"{k} {v:+.3f}" for k, v in zip(fit_n.names, fit_n.coefficients, strict=True))
        + f"; residual SD by grade {', '.join(f'{v:.3f}' for v in fit_n.residual_sd)}"
    )
    print()

    methods = {
        "PV latent regression + school": pv_s,
        "PV latent regression, no school": pv_n,
        "EAP, N(0,1) prior": eap,
        "PV, N(0,1) prior": pv_0,
    }
    truth = gaps(sample.theta, sample)
    rows = {k: gaps(v, sample) for k, v in methods.items()}
    design = ReplicateDesign.jkn(sample.school, strata=sample.province)
    t0 = time.perf_counter()
    se = {}
    for label, groups, pair in (
        ("girls - boys", sample.girl, (1, 0)),
        ("urban - rural", sample.locale, (0, 2)),
        ("east - central", sample.region, (0, 1)),
        ("west - central", sample.region, (2, 1)),
        ("grade 8 - grade 4", sample.grade, (8, 4)),
    ):
        se[label] = compare_groups(estimate_mean(pv_s, design, groups=groups), [pair]).combine().se[0]
    t_gap = time.perf_counter() - t0

    width = 34
    print(f"{'gap (theta units)':<20}{'truth':>9}" + "".join(f"{k:>{width}}" for k in methods))
    for g, t in truth.items():
        cells = "".join(
            f"{rows[k][g]:>+{width - 16}.3f} ({100 * rows[k][g] / t:5.1f}% of truth)" for k in methods
        )
        print(f"{g:<20}{t:>+9.3f}{cells}")
    print(
        "JKn (delete-one-school within provinces) + Rubin SE of the first column: "
        + ", ".join(f"{g} {v:.3f}" for g, v in se.items())
        + f"  [{t_gap:.2f} s for the five gaps, {design.n_replicates} replicates]"
    )
    print()
    print("coverage of 95% intervals of group means (truth: mean true theta of the group's assessed students;")
    print(f"census mode, so SE = measurement part only, Rubin's df = M - 1 = {args.pvs - 1}; 1.96 or t quantile)")
    print(f"{'method':<34}{'interval':<10}{'counties':>24}{'schools (n >= 10)':>28}")
    for k in ("PV latent regression + school", "PV latent regression, no school", "PV, N(0,1) prior"):
        for crit, label in (("normal", "+-1.96 SE"), ("t", "+-t(df) SE")):
            c_cov, c_n, c_se = coverage(methods[k], sample.theta, sample.county, 10, crit)
            s_cov, s_n, s_se = coverage(methods[k], sample.theta, sample.school, 10, crit)
            print(
                f"{k if crit == 'normal' else '':<34}{label:<10}{100 * c_cov:>9.1f}% of {c_n:<3} (SE {c_se:.3f})"
                f"{100 * s_cov:>12.1f}% of {s_n:<4} (SE {s_se:.3f})"
            )
    t0 = time.perf_counter()
    jk2 = ReplicateDesign.jk2(sample.school // 2, sample.school % 2, schools=sample.school)
    for codes in (sample.school, sample.county, sample.province, sample.region):
        estimate_mean(pv_s, jk2, groups=codes).combine()
    print(
        f"\nmeans with JK2 SEs ({jk2.n_replicates} replicates, {args.pvs} PVs) for every school, county, province "
        f"and region: {time.perf_counter() - t0:.2f} s"
    )


if __name__ == "__main__":
    main()
