"""The replicate engine against hand computations: Rubin's rules, jackknife SEs, shares, percentiles, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring.exceptions import DataError, ParameterError
from scoring.survey import (
    REGION_SUPPRESSION,
    SCHOOL_SUPPRESSION,
    ReplicateDesign,
    ReplicateEstimates,
    SuppressionRule,
    compare_groups,
    estimate_between_school_share,
    estimate_level_shares,
    estimate_mean,
    estimate_percentiles,
    estimate_regression,
    estimate_share_at_or_above,
    estimate_statistic,
)


def _sample(seed: int = 3, n_schools: int = 12, per: int = 9, m: int = 5) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_schools), per)
    n = school.size
    w = rng.uniform(0.5, 3.0, n)
    effect = rng.normal(0, 0.6, n_schools)[school]
    pv = effect[:, None] + rng.normal(0, 1, (n, m))
    girl = rng.integers(0, 2, n)
    return school, w, pv, girl


# ------------------------------------------------------------------ Rubin's rules
def test_rubin_rules_on_fixed_pv_estimates() -> None:
    # three PVs, two replicates with factor 1/2: every number below is worked out by hand
    est = np.array([[10.0, 12.0, 14.0]])
    reps = np.array([[[11.0, 9.0], [12.0, 14.0], [14.0, 14.0]]])
    re = ReplicateEstimates(("all",), ("mean",), est, reps, 0.5, np.ones(2), True, np.array([40]), np.array([6]))
    out = re.combine(df_method="rubin").get("all")
    # U_m = 0.5 * sum (t_r - t)^2 = 0.5*(1+1), 0.5*(0+4), 0 -> 1, 2, 0; U = 1
    # B = var(10, 12, 14) = 4; T = 1 + (4/3) * 4 = 19/3
    assert out.estimate == pytest.approx(12.0)
    assert out.se_sampling == pytest.approx(1.0)
    assert out.se_measurement == pytest.approx(np.sqrt(16 / 3))
    assert out.se == pytest.approx(np.sqrt(19 / 3))
    # Rubin's df: r = (4/3 * 4) / 1 = 16/3, df = 2 * (1 + 3/16)^2
    assert out.df == pytest.approx(2 * (1 + 3 / 16) ** 2)
    half = 1.959963984540054 * np.sqrt(19 / 3)
    assert out.ci95 == pytest.approx((12 - half, 12 + half))


def test_single_pv_has_no_measurement_part_and_census_has_no_sampling_part() -> None:
    school, w, pv, _ = _sample()
    one = estimate_mean(pv[:, 0], ReplicateDesign.jkn(school, weights=w)).combine().get("all")
    assert one.se_measurement == 0.0 and one.se == pytest.approx(one.se_sampling) and one.se > 0
    census = estimate_mean(pv, ReplicateDesign.census(weights=w, schools=school)).combine().get("all")
    assert census.se_sampling == 0.0
    means = (pv * w[:, None]).sum(0) / w.sum()
    assert census.se == pytest.approx(np.sqrt((1 + 1 / 5) * means.var(ddof=1)))
    assert census.df == pytest.approx(4.0)  # Rubin's df with U = 0 is M - 1


def test_degrees_of_freedom_by_hand() -> None:
    est = np.array([[1.0, 2.0]])
    reps = np.array([[[1.5, 0.0, 1.0], [2.0, 3.0, 2.0]]])
    re = ReplicateEstimates(("g",), ("mean",), est, reps, 1.0, np.array([1.0, 0.5, 1.0]), True, [50], [9])
    a = np.array([[0.25, 0.5, 0.0], [0.0, 0.5, 0.0]])  # rho_r (t_rm - t_m)^2
    jr = (a.sum() ** 2 / (a**2).sum() / 2) * (3.16 - 2.77 / np.sqrt(3))
    assert re.johnson_rust_df()[0] == pytest.approx(jr)
    u, b = a.sum(axis=1).mean(), 0.5
    t = u + 1.5 * b
    rubin = (2 - 1) * (1 + u / (1.5 * b)) ** 2
    br_obs = (jr + 1) / (jr + 3) * jr * (u / t)
    assert re.combine(df_method="rubin").df[0] == pytest.approx(rubin)
    assert re.combine(df_method="johnson-rust").df[0] == pytest.approx(jr)
    assert re.combine().df[0] == pytest.approx(1 / (1 / rubin + 1 / br_obs))
    tq = re.combine(critical="t").get("g")
    assert tq.ci95[1] - tq.estimate > 1.96 * tq.se  # t quantile at a small df is wider than 1.96


# ------------------------------------------------------------------ jackknife SE vs a direct computation
def test_jkn_se_equals_direct_delete_one_school_jackknife() -> None:
    school, w, pv, _ = _sample()
    strata = school // 4  # three strata of four schools
    design = ReplicateDesign.jkn(school, strata=strata, weights=w)
    assert design.n_replicates == 12
    got = estimate_mean(pv, design).combine()
    u = []
    for m in range(pv.shape[1]):
        y = pv[:, m]
        full = np.average(y, weights=w)
        v = 0.0
        for j in range(12):
            h = strata == j // 4
            wr = w.copy()
            wr[h] *= 4 / 3
            wr[school == j] = 0.0
            v += (3 / 4) * (np.average(y, weights=wr) - full) ** 2
        u.append(v)
    assert got.se_sampling[0] == pytest.approx(np.sqrt(np.mean(u)), rel=1e-12)


def test_jk2_replicate_weights_follow_the_iea_rule() -> None:
    zones = np.array([0, 0, 0, 1, 1, 1, -1])
    halves = np.array([1, 0, 0, 1, 1, 0, 0])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    full = ReplicateDesign.jk2(zones, halves, weights=w, variant="full")
    expect = np.array(
        [
            [2, 0, 1, 1],
            [0, 4, 2, 2],
            [0, 6, 3, 3],
            [4, 4, 8, 0],
            [5, 5, 10, 0],
            [6, 6, 0, 12],
            [7, 7, 7, 7],
        ],
        dtype=float,
    )
    assert_allclose(full.replicate_weights(), expect)
    assert full.scale == 0.5
    half = ReplicateDesign.jk2(zones, halves, weights=w, variant="half")
    assert_allclose(half.replicate_weights(), expect[:, [0, 2]])
    assert half.scale == 1.0


def test_fay_brr_variance_of_a_total_is_the_sum_of_squared_half_differences() -> None:
    # with full orthogonal balance, Fay's variance of a linear statistic is sum_h (T_h0 - T_h1)^2
    rng = np.random.default_rng(5)
    strata = np.repeat(np.arange(6), 10)
    halves = np.tile(np.repeat([0, 1], 5), 6)
    w = rng.uniform(1, 2, 60)
    y = rng.normal(size=60)
    design = ReplicateDesign.fay_brr(strata, halves, weights=w, k=0.5)
    assert design.n_replicates == 8
    assert set(np.unique(design.factors)) == {0.5, 1.5}
    total = estimate_statistic(lambda ww, yy: ww.T @ yy, y, design).combine().get("all")
    d = [(w * y)[(strata == h) & (halves == 0)].sum() - (w * y)[(strata == h) & (halves == 1)].sum() for h in range(6)]
    assert total.se == pytest.approx(np.sqrt(np.sum(np.square(d))), rel=1e-12)


# ------------------------------------------------------------------ weighted and unweighted
def test_weighted_and_unweighted_means() -> None:
    school, w, pv, _ = _sample()
    weighted = estimate_mean(pv, ReplicateDesign.jkn(school, weights=w)).combine().get("all")
    assert weighted.estimate == pytest.approx(np.mean([np.average(pv[:, m], weights=w) for m in range(5)]))
    unweighted = estimate_mean(pv, ReplicateDesign.jkn(school)).combine().get("all")
    scaled = estimate_mean(pv, ReplicateDesign.jkn(school, weights=np.full(school.size, 7.0))).combine().get("all")
    assert unweighted.estimate == pytest.approx(pv.mean())
    assert unweighted.se == pytest.approx(scaled.se, rel=1e-12)


def test_generic_statistic_agrees_with_the_grouped_engine() -> None:
    school, w, pv, girl = _sample()
    design = ReplicateDesign.jk2(school // 2, school % 2, weights=w, schools=school)
    grouped = estimate_mean(pv, design, groups=girl)

    def girls_mean(ww: np.ndarray, yy: np.ndarray) -> np.ndarray:
        sel = girl == 1
        return np.asarray((ww[sel] * yy[sel, None]).sum(0) / ww[sel].sum(0))

    generic = estimate_statistic(girls_mean, pv, design)
    assert_allclose(generic.estimates, grouped.select([1]).estimates, rtol=1e-12)
    assert_allclose(generic.replicates, grouped.select([1]).replicates, rtol=1e-12)


def test_shares_and_levels() -> None:
    school, w, pv, _ = _sample()
    design = ReplicateDesign.jkn(school, weights=w)
    share = estimate_share_at_or_above(pv, design, 0.0).combine().get("all")
    assert share.estimate == pytest.approx(np.mean([np.average(pv[:, m] >= 0, weights=w) for m in range(5)]))
    levels = estimate_level_shares(pv, design, [-1.0, 0.0, 1.0], labels=["a", "b", "c", "d"]).combine()
    assert levels.estimate.sum() == pytest.approx(1.0)
    top_two = levels.get("all", "c").estimate + levels.get("all", "d").estimate
    assert top_two == pytest.approx(share.estimate)
    # a value equal to a cut belongs to the higher level
    exact = estimate_level_shares(np.array([0.0, 1.0, 2.0]), ReplicateDesign.census(n=3), [1.0]).combine()
    assert exact.estimate.tolist() == pytest.approx([1 / 3, 2 / 3])


# ------------------------------------------------------------------ percentiles
def test_percentiles_are_the_inverse_weighted_ecdf() -> None:
    y = np.arange(1.0, 11.0)
    design = ReplicateDesign.census(n=10)
    got = estimate_percentiles(y, design, [0.1, 0.25, 0.5, 0.55, 0.9]).combine()
    # F(k) = k/10: the smallest y with F(y) >= p
    assert got.estimate.tolist() == [1.0, 3.0, 5.0, 6.0, 9.0]
    weights = np.array([5.0, 1, 1, 1, 1, 1, 1, 1, 1, 1])  # F(1) = 5/14 >= 0.25
    weighted = estimate_percentiles(y, ReplicateDesign.census(weights=weights), [0.25, 0.5]).combine()
    assert weighted.estimate.tolist() == [1.0, 3.0]  # F(2) = 6/14 < 0.5 <= F(3) = 7/14


def test_percentile_replicates_use_the_replicate_weights() -> None:
    school, w, pv, girl = _sample()
    design = ReplicateDesign.jkn(school, weights=w)
    got = estimate_percentiles(pv, design, [0.5], groups=girl)
    rw = design.replicate_weights()
    for g in (0, 1):
        row = got.groups.index(g)
        for m in (0, 3):
            for r in (0, 5, 11):
                sel = (girl == g) & (rw[:, r] > 0)
                y, ww = pv[sel, m], rw[sel, r]
                order = np.argsort(y)
                cum = np.cumsum(ww[order]) / ww.sum()
                assert got.replicates[row, m, r] == y[order][np.argmax(cum >= 0.5)]


@pytest.mark.parametrize("kind", ["jk2", "jkn", "brr", "dense"])
def test_fast_replicate_percentiles_equal_a_brute_force_computation(kind: str) -> None:
    school, w, pv, girl = _sample(seed=11, n_schools=10, per=7, m=2)
    pv[::13, 1] = np.nan  # a missing value is left out
    if kind == "jk2":
        design = ReplicateDesign.jk2(school // 2, school % 2, weights=w, schools=school)
    elif kind == "jkn":
        design = ReplicateDesign.jkn(school, strata=school // 5, weights=w)
    elif kind == "brr":
        design = ReplicateDesign.fay_brr(school // 2, school % 2, weights=w, schools=school)
    else:
        rng = np.random.default_rng(2)
        design = ReplicateDesign.from_replicate_weights(w, w[:, None] * rng.uniform(0, 2, (w.size, 6)), scale=0.2)
    probs = [0.1, 0.5, 0.77]
    got = estimate_percentiles(pv, design, probs, groups=girl)
    rw = design.replicate_weights()
    for g in (0, 1):
        row = got.groups.index(g)
        for m in range(2):
            for r in range(design.n_replicates):
                sel = (girl == g) & (rw[:, r] > 0) & ~np.isnan(pv[:, m])
                y, ww = pv[sel, m], rw[sel, r]
                order = np.argsort(y)
                cum = np.cumsum(ww[order]) / ww.sum()
                for k, p in enumerate(probs):
                    assert got.replicates[row + k, m, r] == y[order][np.argmax(cum >= p)]


# ------------------------------------------------------------------ differences and significance
def test_difference_se_from_the_replicates_and_significance() -> None:
    school, w, pv, girl = _sample()
    design = ReplicateDesign.jkn(school, strata=school // 4, weights=w)
    by_gender = estimate_mean(pv, design, groups=girl)
    gap = compare_groups(by_gender, [(1, 0)]).combine().get((1, 0))
    g, b = by_gender.select([1]), by_gender.select([0])
    d_est = g.estimates - b.estimates
    d_rep = g.replicates - b.replicates
    u = (design.rscales * (d_rep - d_est[..., None]) ** 2).sum(axis=-1).mean()
    bvar = d_est.var(ddof=1)
    assert gap.estimate == pytest.approx(d_est.mean())
    assert gap.se == pytest.approx(np.sqrt(u + 1.2 * bvar), rel=1e-12)
    assert gap.significant == (abs(gap.estimate) > 1.959963984540054 * gap.se)


def test_subgroup_minus_parent_respects_the_covariance() -> None:
    school, w, pv, girl = _sample()
    design = ReplicateDesign.jkn(school, weights=w)
    girls = estimate_mean(pv, design, groups=girl).select([1])
    everyone = estimate_mean(pv, design)
    diff = girls.subtract(everyone).combine()
    # direct: girls - all per replicate, per PV
    rw = np.hstack([w[:, None], design.replicate_weights()])
    sel = girl == 1
    t = np.array([[np.average(pv[sel, m], weights=rw[sel, r]) - np.average(pv[:, m], weights=rw[:, r])
                   for r in range(rw.shape[1])] for m in range(5)])  # fmt: skip
    u = np.mean([(design.rscales * (t[m, 1:] - t[m, 0]) ** 2).sum() for m in range(5)])
    assert diff.se[0] == pytest.approx(np.sqrt(u + 1.2 * t[:, 0].var(ddof=1)), rel=1e-10)
    independent = np.hypot(girls.combine().se[0], everyone.combine().se[0])
    assert diff.se[0] < independent  # overlap: positively correlated, the naive SE is too large


def test_significance_at_the_boundary() -> None:
    est = np.array([[1.96], [1.97]])
    reps = np.array([[[0.96], [2.96]], [[0.97], [2.97]]]).reshape(2, 1, 2)
    re = ReplicateEstimates(("a", "b"), ("d", "d"), est, reps, 0.5, np.ones(2), True, [99, 99], [9, 9])
    out = re.combine()
    assert out.se.tolist() == pytest.approx([1.0, 1.0])
    assert out.significant.tolist() == [True, True]
    est2 = np.array([[1.959]])
    re2 = ReplicateEstimates(("a",), ("d",), est2, np.array([[[0.959, 2.959]]]), 0.5, np.ones(2), True, [9], [9])
    assert not re2.combine().significant[0]


# ------------------------------------------------------------------ suppression
def test_suppression_at_the_threshold() -> None:
    school = np.repeat(np.arange(8), 5)  # 8 schools of 5 students
    y = np.arange(40.0)
    group = np.where(school < 5, "big", "small")  # 25 students in 5 schools vs 15 in 3
    group[:5] = "tiny"  # tiny: 5 students in 1 school; big: 20 students in 4 schools
    design = ReplicateDesign.jkn(school)
    est = estimate_mean(y, design, groups=group).combine()
    rule = SuppressionRule(min_students=15, min_schools=3)
    out = est.suppress(rule)
    assert out.get("small").suppressed is None and out.get("small").n_students == 15
    assert out.get("big").suppressed is None and out.get("big").n_schools == 4
    assert out.get("tiny").suppressed == "学生不足15人（5人）"
    assert np.isnan(out.get("tiny").estimate)
    strict = est.suppress(SuppressionRule(min_students=15, min_schools=4))
    assert strict.get("small").suppressed == "学校不足4所（3所）"
    assert est.suppress(REGION_SUPPRESSION).get("big").suppressed == "学生不足30人（20人）"
    assert est.suppress(SCHOOL_SUPPRESSION).get("tiny").suppressed == "学生不足10人（5人）"
    at = estimate_mean(np.arange(10.0), ReplicateDesign.census(n=10)).combine().suppress(SCHOOL_SUPPRESSION)
    assert at.get("all").suppressed is None  # exactly 10 students: reported


# ------------------------------------------------------------------ regression and between-school share
def test_regression_matches_weighted_least_squares() -> None:
    school, w, pv, girl = _sample()
    design = ReplicateDesign.jkn(school, weights=w)
    x = np.column_stack([girl, np.sin(np.arange(school.size))])
    got = estimate_regression(pv, design, x, names=["girl", "s"])
    sw = np.sqrt(w)
    xd = np.column_stack([np.ones(school.size), x])
    beta = np.linalg.lstsq(xd * sw[:, None], pv * sw[:, None], rcond=None)[0]
    assert_allclose(got.estimates, beta, rtol=1e-10)
    assert got.statistics == ("intercept", "girl", "s")
    wr = design.replicate_weights()[:, 4]
    beta_r = np.linalg.lstsq(xd * np.sqrt(wr)[:, None], pv * np.sqrt(wr)[:, None], rcond=None)[0]
    assert_allclose(got.replicates[:, :, 4], beta_r, rtol=1e-9)


def test_between_school_share_is_the_anova_estimator_with_unit_weights() -> None:
    rng = np.random.default_rng(8)
    sizes = np.array([4, 6, 5, 7, 3])
    school = np.repeat(np.arange(5), sizes)
    y = rng.normal(size=school.size) + np.array([0.0, 1.0, -0.5, 0.3, 2.0])[school]
    got = estimate_between_school_share(y, ReplicateDesign.jkn(school)).combine()
    n, k = school.size, 5
    means = np.array([y[school == s].mean() for s in range(k)])
    msb = (sizes * (means - y.mean()) ** 2).sum() / (k - 1)
    msw = sum(((y[school == s] - means[s]) ** 2).sum() for s in range(k)) / (n - k)
    n0 = (n - (sizes**2).sum() / n) / (k - 1)
    sb = (msb - msw) / n0
    assert got.get("all", "between_variance").estimate == pytest.approx(sb)
    assert got.get("all", "within_variance").estimate == pytest.approx(msw)
    assert got.get("all", "between_share").estimate == pytest.approx(sb / (sb + msw))
    cv = np.sqrt((sizes * (means - y.mean()) ** 2).sum() / n) / y.mean()
    assert got.get("all", "school_means_cv").estimate == pytest.approx(cv)
    # the same with constant weights: normalised weights make it scale-free
    again = estimate_between_school_share(y, ReplicateDesign.jkn(school, weights=np.full(n, 3.0))).combine()
    assert again.get("all", "between_share").estimate == pytest.approx(sb / (sb + msw))


# ------------------------------------------------------------------ bad input
def test_bad_input_is_refused_with_a_clear_message() -> None:
    school, w, pv, _ = _sample()
    with pytest.raises(DataError, match="weight of student 3"):
        ReplicateDesign.jkn(school, weights=np.where(np.arange(school.size) == 3, -1.0, w))
    with pytest.raises(DataError, match="single school"):
        ReplicateDesign.jkn(school, strata=np.where(school == 0, 99, school // 4))
    lonely = ReplicateDesign.jkn(school, strata=np.where(school == 0, 99, 1), lonely="certainty")
    assert lonely.n_replicates == 11
    with pytest.raises(DataError, match="n = 108 students"):
        estimate_mean(pv[:-1], ReplicateDesign.jkn(school))
    with pytest.raises(DataError, match="one label per student"):
        estimate_mean(pv, ReplicateDesign.jkn(school), groups=school[:-1])
    with pytest.raises(ParameterError, match="strictly between"):
        estimate_percentiles(pv, ReplicateDesign.jkn(school), [0.0])
    with pytest.raises(DataError, match="halves"):
        ReplicateDesign.jk2(school // 2, np.full(school.size, 2))
