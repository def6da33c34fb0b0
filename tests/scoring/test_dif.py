"""Mantel-Haenszel and SMD DIF: hand-computed values, recovery on simulated DIF, invariants."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from scoring.dif import (
    classify_ets,
    classify_ets_polytomous,
    compute_mantel_haenszel,
    compute_standardized_mean_difference,
)
from scoring.exceptions import DataError

FloatArray = npt.NDArray[np.float64]


def _table_data() -> tuple[FloatArray, npt.NDArray[np.object_], FloatArray]:
    """Two strata of 100 persons: (A, B, C, D) = (30, 20, 20, 30) and (40, 10, 30, 20)."""
    y: list[float] = []
    g: list[str] = []
    m: list[float] = []
    for stratum, (a, b, c, d) in enumerate([(30, 20, 20, 30), (40, 10, 30, 20)]):
        for label, right, wrong in (("R", a, b), ("F", c, d)):
            y += [1.0] * right + [0.0] * wrong
            g += [label] * (right + wrong)
            m += [float(stratum)] * (right + wrong)
    return np.array(y)[:, None], np.array(g, dtype=object), np.array(m)


def test_mh_matches_hand_computation() -> None:
    x, g, m = _table_data()
    (res,) = compute_mantel_haenszel(x, g, reference="R", matching=m)
    # alpha = (30*30/100 + 40*20/100) / (20*20/100 + 10*30/100) = 17/7
    assert_allclose(res.alpha, [17 / 7], rtol=1e-12)
    assert_allclose(res.d_dif, [-2.35 * np.log(17 / 7)], rtol=1e-12)
    # sum A = 70, sum E(A) = 25 + 35, sum Var(A) = (50^4 + 50*50*70*30) / (100^2 * 99)
    var_a = (50.0**4 + 50 * 50 * 70 * 30) / (100.0**2 * 99)
    assert_allclose(res.chi2, [(10 - 0.5) ** 2 / var_a], rtol=1e-12)
    # Robins-Breslow-Greenland variance of ln(alpha)
    tabs = np.array([(30, 20, 20, 30), (40, 10, 30, 20)], dtype=float)
    a, b, c, d = tabs.T
    r_k, s_k, p_k, q_k = a * d / 100, b * c / 100, (a + d) / 100, (b + c) / 100
    r, s = r_k.sum(), s_k.sum()
    var_log = (p_k * r_k).sum() / (2 * r**2) + (p_k * s_k + q_k * r_k).sum() / (2 * r * s)
    var_log += (q_k * s_k).sum() / (2 * s**2)
    assert_allclose(res.se_d_dif, [2.35 * np.sqrt(var_log)], rtol=1e-12)
    assert res.n_reference.tolist() == [100] and res.n_focal.tolist() == [100]
    # |D| = 2.09 >= 1.5 but SE = 0.71, so (|D| - 1) / SE = 1.52 < 1.645: B, not C
    assert res.ets_class == ("B",)
    (raw,) = compute_mantel_haenszel(x, g, reference="R", matching=m, continuity=False)
    assert_allclose(raw.chi2, [10.0**2 / var_a], rtol=1e-12)


def test_ets_rules() -> None:
    # A: small or not significant; C: |D| >= 1.5 and (|D| - 1)/SE > 1.645; B otherwise
    classes = classify_ets(
        [0.5, -1.2, 1.7, -1.7, 1.7, -2.0, 1.2, np.nan],
        [0.1, 0.2, 0.2, 0.2, 0.5, 0.3, 0.1, 0.1],
        [0.001, 0.001, 0.001, 0.001, 0.001, 0.2, 0.001, 0.5],
    )
    assert classes == ("A", "B", "C", "C", "B", "A", "B", "")
    poly = classify_ets_polytomous([0.1, 0.2, -0.3, 0.3, np.nan], [0.001, 0.001, 0.001, 0.2, 0.001])
    assert poly == ("A", "B", "C", "A", "")


def _simulate_rasch_dif(
    rng: np.random.Generator, n_per_group: int, b: FloatArray, shift: dict[int, float], focal_mean: float
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    theta = np.r_[rng.normal(0.0, 1.0, n_per_group), rng.normal(focal_mean, 1.0, n_per_group)]
    groups = np.array(["ref"] * n_per_group + ["foc"] * n_per_group, dtype=object)
    diff = np.tile(b, (2 * n_per_group, 1))
    for item, delta in shift.items():
        diff[n_per_group:, item] += delta
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - diff)))
    return (rng.random(p.shape) < p).astype(np.float64), groups


def test_mh_recovers_simulated_dif_and_spares_clean_items() -> None:
    # Rasch items, focal group 0.5 SD lower (impact, not DIF); item 0 harder by 0.5 logit for
    # the focal group (MH D-DIF -1.18), item 1 by 1.0 (D-DIF -2.35). Under the Rasch model
    # with total-score matching ln(alpha_MH) estimates the shift (Holland & Thayer, 1988).
    rng = np.random.default_rng(20240611)
    b = np.linspace(-1.8, 1.8, 24)
    x, g = _simulate_rasch_dif(rng, 3000, b, {0: 0.5, 1: 1.0}, focal_mean=-0.5)
    (res,) = compute_mantel_haenszel(x, g, reference="ref", purify=True)
    assert res.purified and res.matching == "total"
    assert res.ets_class[1] == "C"
    assert res.ets_class[0] in ("B", "C")
    assert abs(res.d_dif[0] - (-2.35 * 0.5)) < 0.3
    assert abs(res.d_dif[1] - (-2.35 * 1.0)) < 0.3
    clean = np.array(res.ets_class[2:])
    # stated false-positive rate: at most 1 of 22 clean items flagged (about 5%), none as C
    assert np.sum(clean != "A") <= 1
    assert not np.any(clean == "C")
    assert np.all(np.abs(res.d_dif[2:]) < 1.0)


def test_more_than_two_groups_compare_each_focal_with_reference() -> None:
    rng = np.random.default_rng(7)
    b = np.linspace(-1.5, 1.5, 15)
    n = 1500
    theta = rng.normal(0.0, 1.0, 3 * n)
    groups = np.array(["east"] * n + ["central"] * n + ["west"] * n, dtype=object)
    diff = np.tile(b, (3 * n, 1))
    diff[2 * n :, 3] += 1.2  # DIF only against the western group
    x = (rng.random(diff.shape) < 1.0 / (1.0 + np.exp(-(theta[:, None] - diff)))).astype(float)
    results = compute_mantel_haenszel(x, groups, reference="east")
    assert [r.focal for r in results] == ["central", "west"]
    central, west = results
    assert central.ets_class[3] == "A"
    assert west.ets_class[3] == "C"
    only_west = compute_mantel_haenszel(x, groups, reference="east", focal="west")
    assert len(only_west) == 1
    assert_allclose(only_west[0].d_dif, west.d_dif)


def test_missing_responses_are_left_out_item_by_item() -> None:
    rng = np.random.default_rng(3)
    x, g = _simulate_rasch_dif(rng, 400, np.linspace(-1, 1, 8), {}, focal_mean=0.0)
    x_missing = x.copy()
    x_missing[:100, 2] = np.nan  # 100 reference persons did not take item 2
    (res,) = compute_mantel_haenszel(x_missing, g, reference="ref", matching="rest")
    assert res.n_reference[2] == 300 and res.n_focal[2] == 400
    assert res.n_reference[0] == 400
    assert np.all(np.isfinite(res.d_dif))


def test_smd_recovers_polytomous_dif() -> None:
    # GRM items scored 0..3; for the focal group item 0's thresholds are 0.8 higher.
    rng = np.random.default_rng(11)
    n, n_items = 2500, 12
    theta = np.r_[rng.normal(0, 1, n), rng.normal(-0.3, 1, n)]
    g = np.array(["R"] * n + ["F"] * n, dtype=object)
    base = np.linspace(-1.0, 1.0, n_items)[:, None] + np.array([-1.0, 0.0, 1.0])
    x = np.empty((2 * n, n_items))
    for j in range(n_items):
        thr = np.tile(base[j], (2 * n, 1))
        if j == 0:
            thr[n:] += 0.8
        pstar = 1.0 / (1.0 + np.exp(-1.5 * (theta[:, None] - thr)))  # P(X >= k), k = 1..3
        x[:, j] = (rng.random((2 * n, 1)) < pstar).sum(axis=1)
    (res,) = compute_standardized_mean_difference(x, g, reference="R")
    assert res.smd[0] < 0
    assert res.ets_class[0] == "C"
    assert np.sum(np.array(res.ets_class[1:]) != "A") <= 1
    assert np.all(np.abs(res.effect_size[1:]) < 0.17)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(60, 300))
def test_mh_invariants(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    x = (rng.random((n, 6)) < 1.0 / (1.0 + np.exp(-(theta[:, None] - np.linspace(-1, 1, 6))))).astype(float)
    g = np.where(rng.random(n) < 0.5, "a", "b").astype(object)
    g[:2] = ["a", "b"]
    (ab,) = compute_mantel_haenszel(x, g, reference="a", continuity=False)
    (ba,) = compute_mantel_haenszel(x, g, reference="b", continuity=False)
    finite = np.isfinite(ab.d_dif) & np.isfinite(ba.d_dif)
    # swapping reference and focal negates D-DIF and leaves the chi-square unchanged
    assert_allclose(ab.d_dif[finite], -ba.d_dif[finite], atol=1e-9)
    assert_allclose(ab.chi2, ba.chi2, atol=1e-9, equal_nan=True)
    # for 0/1 items Mantel's chi-square is the MH chi-square without continuity correction
    (smd,) = compute_standardized_mean_difference(x, g, reference="a")
    assert_allclose(smd.chi2, ab.chi2, rtol=1e-9, equal_nan=True)
    # the order of persons does not matter
    perm = rng.permutation(n)
    (ab_perm,) = compute_mantel_haenszel(x[perm], g[perm], reference="a", continuity=False)
    assert_allclose(ab_perm.d_dif, ab.d_dif, rtol=1e-10, equal_nan=True)
    assert ab_perm.ets_class == ab.ets_class


def test_bad_input_raises() -> None:
    x, g, m = _table_data()
    with pytest.raises(DataError, match="reference group"):
        compute_mantel_haenszel(x, g, reference="nobody")
    with pytest.raises(DataError, match="not scored 0/1"):
        compute_mantel_haenszel(np.c_[x, x * 2], g, reference="R", items=[1])
    with pytest.raises(DataError, match="purify"):
        compute_mantel_haenszel(x, g, reference="R", matching=m, purify=True)
    with pytest.raises(DataError, match="one label per person"):
        compute_mantel_haenszel(x, g[:-1], reference="R")
