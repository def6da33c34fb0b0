"""Item fit (S-X2, infit/outfit) and person fit (lz)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from scoring.calibrate import calibrate
from scoring.exceptions import DataError, EstimationWarning, ModelError
from scoring.fit import compute_infit_outfit, compute_lz, compute_sx2, compute_sx2_by_form
from scoring.irt import probabilities
from scoring.params import ItemParams

FloatArray = npt.NDArray[np.float64]
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"


def _draw(params: ItemParams, theta: FloatArray, rng: np.random.Generator) -> FloatArray:
    p = probabilities(params, theta)
    u = rng.random(p.shape[:2])[:, :, None]
    return np.asarray((np.cumsum(p, axis=2) < u).sum(axis=2), dtype=np.float64)


def _twopl(a: FloatArray, b: FloatArray) -> ItemParams:
    n = a.size
    return ItemParams(tuple(f"i{j}" for j in range(n)), ("2pl",) * n, a, b[:, None], np.zeros(n))


# ------------------------------------------------------------------------------------- S-X2


def test_sx2_agrees_with_mirt_on_lsat7() -> None:
    # mirt's itemfit(mod, mincell = 0) on the LSAT7 2PL fit, as recorded in the jMetrik
    # psychometrics test suite (ItemFitSX2Test, older mirt: 41 nodes on +/- 0.8 sqrt(41)).
    # Tolerance 0.01, the precision of the reference values' input parameters.
    x = np.loadtxt(REFERENCE / "lsat7.csv", delimiter=",", skiprows=1)
    with open(REFERENCE / "lsat7_mirt_2PL.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    params = ItemParams.from_rows([{"item": r["item"], "model": "2pl", "a": r["a"], "b": r["b"]} for r in rows])
    lim = 0.8 * np.sqrt(41)
    res = compute_sx2(x, params, n_quad=41, theta_lim=(-lim, lim), mincell=0)
    assert_allclose(res.s_x2, [4.7492191, 14.4528980, 1.2703374, 5.2373430, 0.9407036], atol=0.01)
    assert res.df.tolist() == [2, 2, 2, 2, 2]
    # mirt's current defaults (61 nodes on [-6, 6], mincell 1) change nothing material here
    default = compute_sx2(x, params)
    assert_allclose(default.s_x2, res.s_x2, atol=0.01)
    assert default.n_persons == 1000
    assert_allclose(default.p_value, stats.chi2.sf(default.s_x2, 2))


def test_sx2_does_not_reject_data_from_the_model_but_rejects_a_misfitting_item() -> None:
    # 20 items, 2,000 persons: 19 follow the 2PL, item 19 a U-shaped curve
    # P = logistic(1.2 theta^2 - 1) (mirt's itemfit example). After a 2PL calibration the 19
    # model-conforming items give roughly uniform p-values (KS test p > 0.01, at most 3 of 19
    # below 0.05) and the U-shaped item is rejected (p < 1e-6).
    rng = np.random.default_rng(33)
    n, n_items = 2000, 20
    a = rng.lognormal(0, 0.25, n_items)
    b = np.linspace(-2, 2, n_items)
    theta = rng.normal(size=n)
    x = _draw(_twopl(a, b), theta, rng)
    bad = 1.0 / (1.0 + np.exp(-(1.2 * theta**2 - 1.0)))
    x[:, -1] = (rng.random(n) < bad).astype(float)
    with warnings.catch_warnings():
        # the U-shaped item may push its slope to the lower bound, which calibrate reports
        warnings.simplefilter("ignore", EstimationWarning)
        fitted = calibrate(x, "2pl", item_ids=[f"i{j}" for j in range(n_items)], se="none")
    assert fitted.converged
    res = compute_sx2(x, fitted.params)
    good = res.p_value[:-1]
    assert np.all(res.df > 0)
    assert stats.kstest(good, "uniform").pvalue > 0.01
    assert np.sum(good < 0.05) <= 3
    assert res.p_value[-1] < 1e-6
    assert res.rmsea[-1] > res.rmsea[:-1].max()


def test_sx2_polytomous_tables_are_consistent() -> None:
    rng = np.random.default_rng(8)
    n, n_items = 1500, 8
    b = np.sort(rng.normal(0, 1, (n_items, 3)), axis=1)
    models = ("grm", "gpcm") * 4
    params = ItemParams(
        tuple(f"p{j}" for j in range(n_items)), models, rng.lognormal(0, 0.2, n_items), b, np.zeros(n_items)
    )
    x = _draw(params, rng.normal(size=n), rng)
    res = compute_sx2(x, params)
    s_max = int(params.max_scores.sum())
    total = x.sum(axis=1)
    inner = int(np.sum((total > 0) & (total < s_max)))
    for o, e in zip(res.observed, res.expected, strict=True):
        # collapsing moves counts between cells but never loses or invents persons
        assert o.sum() == inner
        assert_allclose(np.nansum(e, axis=1), o.sum(axis=1), rtol=1e-8)
        assert np.all(e[~np.isnan(e)] >= 1.0 - 1e-12)  # mincell = 1 reached
    assert np.all(res.df > 0)
    assert np.sum(res.p_value < 0.05) <= 2
    # more collapsing can only lower the degrees of freedom
    assert np.all(compute_sx2(x, params, mincell=5).df <= res.df)


def test_sx2_missing_data_rule() -> None:
    rng = np.random.default_rng(2)
    params = _twopl(np.ones(6), np.linspace(-1, 1, 6))
    x = _draw(params, rng.normal(size=400), rng)
    x_missing = x.copy()
    x_missing[[3, 10, 50], [0, 2, 5]] = np.nan
    with pytest.raises(DataError, match="complete response vectors"):
        compute_sx2(x_missing, params)
    dropped = compute_sx2(x_missing, params, drop_incomplete=True)
    complete = compute_sx2(np.delete(x, [3, 10, 50], axis=0), params)
    assert dropped.n_persons == 397
    assert_allclose(dropped.s_x2, complete.s_x2)
    with pytest.raises(DataError, match="outside"):
        compute_sx2(x * 2, params)


def test_sx2_degrees_of_freedom_follow_mirt_counting() -> None:
    rng = np.random.default_rng(4)
    n_items = 10
    rasch = ItemParams(
        tuple(f"r{j}" for j in range(n_items)),
        ("rasch",) * n_items,
        np.ones(n_items),
        np.linspace(-2, 2, n_items)[:, None],
        np.zeros(n_items),
    )
    x = _draw(rasch, rng.normal(size=3000), rng)
    res = compute_sx2(x, rasch)
    # Rasch: cells - groups - 1 threshold - 1 latent variance
    for d, e in zip(res.df, res.expected, strict=True):
        assert d == np.sum(~np.isnan(e)) - e.shape[0] - 2
    # items of middle difficulty keep all 9 score groups x 2 cells: 18 - 9 - 2 = 7
    assert res.df[2:8].tolist() == [7] * 6
    as_2pl = compute_sx2(x, rasch, n_free_params=[2] * n_items, n_latent_params=0)
    assert_allclose(as_2pl.df, res.df)


# --------------------------------------------------------------------------------- infit/outfit


def test_sx2_by_form_of_one_complete_form_is_the_sx2() -> None:
    rng = np.random.default_rng(4)
    params = _twopl(rng.lognormal(0, 0.25, 10), np.linspace(-1.5, 1.5, 10))
    x = _draw(params, rng.normal(size=800), rng)
    single = compute_sx2(x, params)
    pooled = compute_sx2_by_form(x, params)
    assert_allclose(pooled.s_x2, single.s_x2)
    assert_allclose(pooled.df, single.df)
    assert_allclose(pooled.p_value, single.p_value)
    assert (pooled.n_forms == 1).all() and (pooled.n_persons == 800).all()


def test_sx2_by_form_adds_up_the_booklets_and_flags_a_misfitting_item() -> None:
    # 3 booklets of 12 of 18 items (blocks of 6: AB, BC, CA), 900 persons each, 2PL items except
    # item 0, whose answers follow a U-shaped curve; a 2PL calibration of all of them. Each item
    # lies in two booklets: its pooled statistic is the sum of its two booklets' statistics with
    # the df of both booklets' cells minus its 2 parameters once; the model-conforming items give
    # ~uniform p-values, item 0 is rejected.
    rng = np.random.default_rng(8)
    n_items, per = 18, 900
    params = _twopl(rng.lognormal(0, 0.25, n_items), np.linspace(-2, 2, n_items))
    blocks = [range(0, 6), range(6, 12), range(12, 18)]
    x = np.full((3 * per, n_items), np.nan)
    theta = rng.normal(size=3 * per)
    for f, (b1, b2) in enumerate(((0, 1), (1, 2), (2, 0))):
        cols = [*blocks[b1], *blocks[b2]]
        rows = slice(f * per, (f + 1) * per)
        x[rows, cols] = _draw(params.subset(cols), theta[rows], rng)
        if 0 in cols:
            bad = 1.0 / (1.0 + np.exp(-(1.5 * theta[rows] ** 2 - 1.0)))
            x[rows, 0] = (rng.random(per) < bad).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        params = calibrate(x, "2pl", item_ids=list(params.ids), se="none").params
    res = compute_sx2_by_form(x, params, min_persons=100)
    assert (res.n_forms == 2).all() and (res.n_persons == 2 * per).all()
    # item 6 lies in booklets 0 and 1: the hand sum of the two complete-data statistics
    parts = [compute_sx2(x[f * per : (f + 1) * per][:, cols], params.subset(cols), n_free_params=[0] * 12)
             for f, cols in ((0, [*blocks[0], *blocks[1]]), (1, [*blocks[1], *blocks[2]]))]  # fmt: skip
    k0, k1 = parts[0].item_ids.index("i6"), parts[1].item_ids.index("i6")
    assert res.s_x2[6] == pytest.approx(parts[0].s_x2[k0] + parts[1].s_x2[k1])
    assert res.df[6] == parts[0].df[k0] + parts[1].df[k1] - 2
    # the misfitting item also distorts the summed scores of its booklets' other items a little
    good = res.p_value[1:]
    assert stats.kstest(good, "uniform").pvalue > 0.01
    assert np.sum(good < 0.01) <= 2
    assert res.p_value[0] < 1e-6


def test_sx2_by_form_p_values_are_uniform_for_booklets_that_follow_the_model() -> None:
    # the same booklet design without a misfitting item, three replications: 54 pooled p-values
    # of 2PL items calibrated by 2PL are close to uniform (S-X2 with estimated items is a little
    # conservative: few small p-values)
    p_values = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        truth = _twopl(rng.lognormal(0, 0.25, 18), np.linspace(-2, 2, 18))
        x = np.full((2700, 18), np.nan)
        theta = rng.normal(size=2700)
        for f, cols in enumerate(([*range(12)], [*range(6, 18)], [*range(6), *range(12, 18)])):
            x[f * 900 : (f + 1) * 900, cols] = _draw(truth.subset(cols), theta[f * 900 : (f + 1) * 900], rng)
        fitted = calibrate(x, "2pl", item_ids=list(truth.ids), se="none").params
        p_values.extend(compute_sx2_by_form(x, fitted, min_persons=100).p_value.tolist())
    assert len(p_values) == 54 and np.isfinite(p_values).all()
    assert stats.kstest(p_values, "uniform").pvalue > 0.05
    assert np.mean(np.array(p_values) < 0.05) < 0.1


def test_sx2_by_form_is_not_computed_for_an_adaptive_design() -> None:
    # every person answers a different random half of the items: no form has enough persons
    rng = np.random.default_rng(2)
    params = _twopl(np.ones(20), np.linspace(-2, 2, 20))
    x = _draw(params, rng.normal(size=500), rng)
    x[rng.random(x.shape) < 0.5] = np.nan
    res = compute_sx2_by_form(x, params)
    assert np.isnan(res.s_x2).all() and np.isnan(res.p_value).all()
    assert (res.n_forms == 0).all() and (res.df == 0).all()


def test_sx2_by_form_uses_each_groups_latent_distribution() -> None:
    # two groups with different latent means answer the same form: the pooled statistic is the
    # sum of the two groups' statistics, each under its own distribution, the df those of both
    # groups' cells minus the item's 2 parameters once
    rng = np.random.default_rng(6)
    params = _twopl(rng.lognormal(0, 0.2, 12), np.linspace(-1.5, 1.5, 12))
    theta = np.concatenate([rng.normal(-0.8, 1.0, 1500), rng.normal(0.8, 1.0, 1500)])
    x = _draw(params, theta, rng)
    groups = np.array(["4"] * 1500 + ["8"] * 1500)
    res = compute_sx2_by_form(x, params, groups=groups, latent={"4": (-0.8, 1.0), "8": (0.8, 1.0)})
    low = compute_sx2(x[:1500], params, mean=-0.8, n_free_params=[0] * 12)
    high = compute_sx2(x[1500:], params, mean=0.8, n_free_params=[0] * 12)
    assert (res.n_forms == 2).all()
    assert_allclose(res.s_x2, low.s_x2 + high.s_x2)
    assert_allclose(res.df, low.df + high.df - 2)
    assert np.median(res.p_value) > 0.1


def test_infit_outfit_hand_computed() -> None:
    # two Rasch items (b = 0, 1), persons at theta = 0 and 1 answering (1, 0) and (0, 1)
    params = ItemParams(("a", "b"), ("rasch", "rasch"), np.ones(2), np.array([[0.0], [1.0]]), np.zeros(2))
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    theta = np.array([0.0, 1.0])
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - np.array([0.0, 1.0]))))
    w = p * (1 - p)
    resid2 = (x - p) ** 2
    res = compute_infit_outfit(x, params, theta)
    assert_allclose(res.item_outfit, (resid2 / w).mean(axis=0))
    assert_allclose(res.item_infit, resid2.sum(axis=0) / w.sum(axis=0))
    assert_allclose(res.person_outfit, (resid2 / w).mean(axis=1))
    c = p * (1 - p) ** 4 + (1 - p) * p**4
    q_out = np.sqrt(np.minimum((c / w**2).sum(axis=0) / 4 - 1 / 2, 1.4142**2))
    ms = res.item_outfit
    assert_allclose(
        res.item_z_outfit, (np.cbrt(ms) - 1) * 3 / np.minimum(q_out, 1.4142) + np.minimum(q_out, 1.4142) / 3
    )


def test_infit_outfit_detect_over_and_under_discriminating_items() -> None:
    # Rasch-conforming items have mean squares near 1; an item that discriminates too well
    # (a = 2.5) overfits (infit < 0.85), a weak one (a = 0.3) underfits (infit > 1.15).
    rng = np.random.default_rng(17)
    n, n_items = 3000, 15
    b = np.linspace(-1.5, 1.5, n_items)
    a_true = np.ones(n_items)
    a_true[0], a_true[1] = 2.5, 0.3
    theta = rng.normal(size=n)
    x = _draw(_twopl(a_true, b), theta, rng)
    rasch = ItemParams(
        tuple(f"i{j}" for j in range(n_items)),
        ("rasch",) * n_items,
        np.ones(n_items),
        b[:, None],
        np.zeros(n_items),
    )
    res = compute_infit_outfit(x, rasch, theta)
    assert np.all(np.abs(res.item_infit[2:] - 1) < 0.06)
    assert np.all(np.abs(res.item_outfit[2:] - 1) < 0.12)
    assert res.item_infit[0] < 0.85 and res.item_z_infit[0] < -3
    assert res.item_infit[1] > 1.15 and res.item_z_infit[1] > 3
    assert abs(np.nanmean(res.person_infit) - 1) < 0.1
    with pytest.raises(ModelError):
        compute_infit_outfit(x, _twopl(a_true, b), theta)


# -------------------------------------------------------------------------------------------- lz


def test_lz_hand_computed_and_with_missing() -> None:
    params = _twopl(np.array([1.0, 2.0, 0.5]), np.array([-1.0, 0.0, 1.0]))
    x = np.array([[1.0, 0.0, np.nan]])
    p1 = 1.0 / (1.0 + np.exp(-params.a[:2] * (0.3 - params.b[:2, 0])))
    l0 = np.log(p1[0]) + np.log(1 - p1[1])
    e0 = np.sum(p1 * np.log(p1) + (1 - p1) * np.log(1 - p1))
    v0 = np.sum(p1 * (1 - p1) * np.log(p1 / (1 - p1)) ** 2)
    res = compute_lz(x, params, np.array([0.3]))
    assert_allclose(res.lz, [(l0 - e0) / np.sqrt(v0)])
    assert res.n_items.tolist() == [2]
    none = compute_lz(np.full((1, 3), np.nan), params, np.array([0.0]))
    assert np.isnan(none.lz[0])


def test_lz_is_standard_normal_under_the_model_and_flags_aberrance() -> None:
    # 40 items (2PL and GRM), abilities known: lz has mean ~0 and SD ~1 (tolerances 0.1 and
    # 0.15); persons answering in reverse (hard right, easy wrong) get lz < -2.
    rng = np.random.default_rng(99)
    n = 3000
    b = np.full((40, 3), np.nan)
    b[:30, 0] = np.linspace(-2, 2, 30)
    b[30:] = np.sort(rng.normal(0, 1, (10, 3)), axis=1)
    params = ItemParams(
        tuple(f"i{j}" for j in range(40)),
        ("2pl",) * 30 + ("grm",) * 10,
        rng.lognormal(0.2, 0.2, 40),
        b,
        np.zeros(40),
    )
    theta = rng.normal(size=n)
    x = _draw(params, theta, rng)
    res = compute_lz(x, params, theta)
    assert abs(np.mean(res.lz)) < 0.1
    assert abs(np.std(res.lz) - 1) < 0.15
    aberrant = x[:20].copy()
    aberrant[:, :30] = (b[:30, 0] > 0).astype(float)  # hard items right, easy items wrong
    res_ab = compute_lz(aberrant, params, np.zeros(20))
    assert np.all(res_ab.lz < -2)
