"""Parameter recovery on simulated data (fixed seeds, stated tolerances), options and errors.

Tolerances are set at roughly three times the RMSE expected from the sample size, so a correct
estimator passes with a wide margin and a biased one (e.g. a wrong sign or scale) fails.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from scoring import (
    ConvergenceWarning,
    DataError,
    EmptyItemError,
    EstimationWarning,
    GirthUnavailableError,
    ModelError,
    SingleCategoryError,
    booklet_design,
    calibrate,
    calibrate_girth,
    random_item_params,
    random_sparse_design,
    simulate_responses,
)
from scoring.params import ItemParams


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    m = np.isfinite(x) & np.isfinite(y)
    return float(np.sqrt(np.mean((x[m] - y[m]) ** 2)))


def simulate(model: str | list[str], n_items: int, n_persons: int, seed: int, **kw: object):
    rng = np.random.default_rng(seed)
    params = random_item_params(n_items, model, rng, **kw)  # type: ignore[arg-type]
    theta = rng.standard_normal(n_persons)
    return params, theta, simulate_responses(params, theta, rng), rng


def test_recovers_2pl() -> None:
    true, _, x, _ = simulate("2pl", 20, 5000, seed=1)
    res = calibrate(x, "2pl", item_ids=true.ids)
    assert res.converged and res.n_persons == 5000
    assert rmse(res.params.a, true.a) < 0.08
    assert rmse(res.params.b, true.b) < 0.08
    # standard errors are of the size of the actual errors
    z = (res.params.b[:, 0] - true.b[:, 0]) / res.se.b[:, 0]
    assert 0.5 < np.sqrt(np.mean(z**2)) < 1.6
    assert np.all(np.isnan(res.se.c))


def test_recovers_3pl_with_the_beta_prior() -> None:
    true, _, x, _ = simulate("3pl", 20, 12000, seed=2, b_mean=0.5)
    res = calibrate(x, "3pl", item_ids=true.ids, se="none")
    assert res.converged
    assert rmse(res.params.a, true.a) < 0.2
    assert rmse(res.params.b, true.b) < 0.2
    assert rmse(res.params.c, true.c) < 0.06


def test_recovers_grm() -> None:
    true, _, x, _ = simulate("grm", 12, 4000, seed=3)
    res = calibrate(x, "grm", item_ids=true.ids, se="none")
    assert res.converged
    assert rmse(res.params.a, true.a) < 0.08
    assert rmse(res.params.b, true.b) < 0.1


def test_recovers_gpcm() -> None:
    true, _, x, _ = simulate("gpcm", 12, 4000, seed=4)
    res = calibrate(x, "gpcm", item_ids=true.ids, se="none")
    assert res.converged
    assert rmse(res.params.a, true.a) < 0.08
    assert rmse(res.params.b, true.b) < 0.15


def test_recovers_a_mixed_test() -> None:
    models = ["2pl"] * 8 + ["3pl"] * 4 + ["grm"] * 4 + ["gpcm"] * 4
    true, _, x, _ = simulate(models, 20, 6000, seed=5)
    res = calibrate(x, models, item_ids=true.ids, se="none")
    assert res.converged
    assert res.params.models == tuple(models)
    two = np.array([m in ("2pl", "grm", "gpcm") for m in models])
    assert rmse(res.params.a[two], true.a[two]) < 0.1
    assert rmse(res.params.b[two], true.b[two]) < 0.12
    assert rmse(res.params.c, true.c) < 0.08


def test_recovers_rasch_with_free_latent_sd() -> None:
    rng = np.random.default_rng(6)
    true = random_item_params(15, "rasch", rng)
    x = simulate_responses(true, rng.normal(0.0, 1.4, 5000), rng)
    res = calibrate(x, "1pl", item_ids=true.ids, se="none")
    assert res.params.models == ("rasch",) * 15
    assert res.distribution().sd == pytest.approx(1.4, abs=0.06)
    assert rmse(res.params.b, true.b) < 0.06


def test_recovers_from_a_random_sparse_design_dense_and_sparse_input() -> None:
    rng = np.random.default_rng(7)
    true = random_item_params(40, "2pl", rng)
    theta = rng.standard_normal(8000)
    mask = random_sparse_design(8000, 40, 12, rng, sparse=True)
    xs = simulate_responses(true, theta, rng, design_mask=mask)
    assert sp.issparse(xs)
    res = calibrate(xs, "2pl", item_ids=true.ids, se="none")
    assert res.converged
    assert rmse(res.params.a, true.a) < 0.1
    assert rmse(res.params.b, true.b) < 0.1
    dense = np.full(xs.shape, np.nan)
    coo = xs.tocoo()
    dense[coo.row, coo.col] = coo.data
    res_dense = calibrate(dense, "2pl", item_ids=true.ids, se="none")
    assert_allclose(res_dense.params.a, res.params.a, atol=1e-8)
    assert res_dense.log_likelihood == pytest.approx(res.log_likelihood, abs=1e-6)


def test_recovers_from_a_linked_booklet_design() -> None:
    rng = np.random.default_rng(8)
    true = random_item_params(30, ["2pl"] * 24 + ["grm"] * 6, rng)
    mask = booklet_design(6000, 30, n_blocks=5, blocks_per_booklet=2, rng=rng)
    x = simulate_responses(true, rng.standard_normal(6000), rng, design_mask=mask)
    res = calibrate(x, ["2pl"] * 24 + ["grm"] * 6, item_ids=true.ids, se="xpd")
    # each item is seen by 2,400 persons; an easy, flat item has SE(b) near 0.3, so check in SE units
    z_a = (res.params.a - true.a) / res.se.a
    z_b = (res.params.b - true.b) / res.se.b
    assert np.sqrt(np.mean(z_a**2)) < 1.6
    assert np.sqrt(np.nanmean(z_b**2)) < 1.6
    assert rmse(res.params.a, true.a) < 0.1
    assert rmse(res.params.b, true.b) < 0.2


def test_anchors_put_new_items_on_the_anchor_scale() -> None:
    """Operational bank on the N(0, 1) scale; a new cohort with mean 0.6 and SD 1.3 takes 15 anchors and
    10 pilot items. With the anchors fixed, the pilot items come out on the bank's scale and the cohort's
    distribution is estimated."""
    rng = np.random.default_rng(9)
    bank = random_item_params(25, "2pl", rng)
    x = simulate_responses(bank, rng.normal(0.6, 1.3, 6000), rng)
    anchors = bank.subset(range(15))
    res = calibrate(x, "2pl", item_ids=bank.ids, fixed=anchors, se="none")
    assert res.anchor_ids == anchors.ids
    assert_allclose(res.params.a[:15], anchors.a)  # held fixed
    dist = res.distribution()
    assert dist.free_mean and dist.free_sd
    assert dist.mean == pytest.approx(0.6, abs=0.08)
    assert dist.sd == pytest.approx(1.3, abs=0.08)
    pilot = slice(15, 25)
    assert rmse(res.params.a[pilot], bank.a[pilot]) < 0.1
    assert rmse(res.params.b[pilot], bank.b[pilot]) < 0.1
    # without anchors the same data land on the cohort's own N(0, 1) scale instead
    free = calibrate(x, "2pl", item_ids=bank.ids, se="none")
    shifted = (bank.b[pilot, 0] - 0.6) / 1.3
    assert rmse(free.params.b[pilot, 0], shifted) < 0.1


def test_anchor_file_may_hold_more_items_than_the_data() -> None:
    rng = np.random.default_rng(10)
    bank = random_item_params(12, "2pl", rng)
    x = simulate_responses(bank.subset(range(8)), rng.standard_normal(2000), rng)
    res = calibrate(x, "2pl", item_ids=bank.ids[:8], fixed=bank.subset(range(6, 12)), se="none")
    assert res.anchor_ids == bank.ids[6:8]


def test_weights_act_like_replicated_persons() -> None:
    true, _, x, rng = simulate("2pl", 10, 1500, seed=11)
    w = rng.integers(1, 4, size=1500).astype(float)
    weighted = calibrate(x, "2pl", weights=w, se="xpd", tol=1e-6)
    replicated = calibrate(np.repeat(x, w.astype(int), axis=0), "2pl", se="xpd", tol=1e-6)
    assert_allclose(weighted.params.a, replicated.params.a, atol=1e-4)
    assert_allclose(weighted.params.b, replicated.params.b, atol=1e-4)
    assert weighted.log_likelihood == pytest.approx(replicated.log_likelihood, rel=1e-8)
    assert_allclose(weighted.se.a, replicated.se.a, rtol=1e-3)


def test_two_groups_recover_the_focal_groups_mean_and_sd() -> None:
    rng = np.random.default_rng(12)
    true = random_item_params(20, "2pl", rng)
    theta = np.concatenate([rng.normal(0, 1, 4000), rng.normal(-0.5, 0.8, 4000)])
    groups = np.array(["urban"] * 4000 + ["rural"] * 4000)
    x = simulate_responses(true, theta, rng)
    res = calibrate(x, "2pl", item_ids=true.ids, groups=groups, reference_group="urban")
    ref, focal = res.latent
    assert (ref.group, focal.group) == ("urban", "rural")
    assert (ref.mean, ref.sd) == (0.0, 1.0) and not ref.free_mean
    assert focal.mean == pytest.approx(-0.5, abs=0.07)
    assert focal.sd == pytest.approx(0.8, abs=0.06)
    assert 0 < focal.se_mean < 0.05 and 0 < focal.se_sd < 0.05
    assert res.distribution("rural") is focal
    assert rmse(res.params.a, true.a) < 0.08
    assert rmse(res.params.b, true.b) < 0.08


def test_observed_and_cross_product_standard_errors_agree() -> None:
    true, _, x, _ = simulate("2pl", 10, 3000, seed=13)
    obs = calibrate(x, "2pl", se="observed")
    xpd = calibrate(x, "2pl", se="xpd")
    assert obs.se_method == "observed" and xpd.se_method == "xpd"
    assert_allclose(obs.se.a, xpd.se.a, rtol=0.15)
    assert_allclose(obs.se.b, xpd.se.b, rtol=0.15)
    none = calibrate(x, "2pl", se="none")
    assert none.se_method == "none" and np.all(np.isnan(none.se.a))


def test_acceleration_precision_and_start_values_do_not_change_the_answer() -> None:
    true, _, x, _ = simulate(["2pl"] * 6 + ["gpcm"] * 3, 9, 2500, seed=14)
    models = ["2pl"] * 6 + ["gpcm"] * 3
    base = calibrate(x, models, tol=1e-6, se="none")
    plain = calibrate(x, models, tol=1e-6, se="none", accelerate=False)
    single = calibrate(x, models, tol=1e-6, se="none", precision="single")
    started = calibrate(x, models, tol=1e-6, se="none", start=true)
    assert base.n_cycles < plain.n_cycles
    for other, atol in ((plain, 2e-3), (single, 2e-3), (started, 1e-3)):
        assert_allclose(other.params.a, base.params.a, atol=atol)
        assert_allclose(other.params.b, base.params.b, atol=atol)


def test_information_criteria_and_counts() -> None:
    _, _, x, _ = simulate("2pl", 6, 800, seed=15)
    res = calibrate(x, "2pl", se="none")
    assert res.n_parameters == 12
    assert res.aic == pytest.approx(-2 * res.log_likelihood + 24)
    assert res.bic == pytest.approx(-2 * res.log_likelihood + 12 * np.log(800))


def test_non_convergence_warns_and_is_flagged() -> None:
    _, _, x, _ = simulate("2pl", 8, 1000, seed=16)
    with pytest.warns(ConvergenceWarning, match="did not converge in 3 cycles"):
        res = calibrate(x, "2pl", max_cycles=3, se="none")
    assert not res.converged
    assert res.n_cycles <= 3


def test_callback_reports_progress() -> None:
    _, _, x, _ = simulate("2pl", 5, 500, seed=17)
    seen: list[tuple[int, float, float]] = []
    res = calibrate(x, "2pl", se="none", callback=lambda c, ll, ch: seen.append((c, ll, ch)))
    assert seen and seen[-1][0] == res.n_cycles
    assert seen[-1][1] == pytest.approx(res.log_likelihood)


def test_persons_without_responses_are_ignored() -> None:
    _, _, x, _ = simulate("2pl", 5, 600, seed=18)
    with_blank = np.vstack([x, np.full((3, 5), np.nan)])
    a = calibrate(x, "2pl", se="none")
    b = calibrate(with_blank, "2pl", se="none")
    assert b.n_persons == 600
    assert_allclose(a.params.a, b.params.a)


@pytest.mark.parametrize(
    ("x", "models", "error", "message"),
    [
        (np.array([[0, 1], [1, 1], [0, 1.0]]), "2pl", SingleCategoryError, "item 'item2': all responses fall in one"),
        (np.array([[0, np.nan], [1, np.nan]]), "2pl", EmptyItemError, "item 'item2' has no responses"),
        (np.array([[0, 0], [1, 2], [0, 2.0]]), "grm", SingleCategoryError, "no responses in score category 1"),
        (np.array([[0, 0.5], [1, 1.0]]), "2pl", DataError, "integer scores"),
        (np.array([[0, 2], [1, 1], [0, 0.0]]), "2pl", ModelError, "scored 0..2; model 2pl is dichotomous"),
        (np.array([[0, 1], [1, 0.0]]), ["2pl"], ModelError, "1 models given for 2 items"),
    ],
)
def test_bad_data_gets_a_clear_error(x: np.ndarray, models: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        calibrate(x, models, se="none")  # type: ignore[arg-type]


def test_girth_cross_check_on_a_2pl_data_set() -> None:
    """girth's twopl_mml is an independent MML implementation: same estimates within its accuracy."""
    true, _, x, _ = simulate("2pl", 8, 2000, seed=19)
    ours = calibrate(x, "2pl", item_ids=true.ids, se="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # girth itself emits numpy deprecation warnings
        theirs = calibrate_girth(x, "2pl", item_ids=true.ids)
    assert isinstance(theirs, ItemParams)
    assert_allclose(theirs.a, ours.params.a, atol=0.05)
    assert_allclose(theirs.b, ours.params.b, atol=0.05)


def test_girth_3pl_is_reported_unavailable() -> None:
    with pytest.raises(GirthUnavailableError, match="threepl_mml fails on numpy"):
        calibrate_girth(np.zeros((3, 2)), "3pl")


def test_a_miskeyed_item_warns_and_stays_on_the_slope_bound() -> None:
    true, _, x, _ = simulate("2pl", 8, 3000, seed=20)
    x[:, 3] = 1 - x[:, 3]  # reversed key: the item discriminates negatively
    with pytest.warns(EstimationWarning, match="item 'item4': slope at its lower bound"):
        res = calibrate(x, "2pl", item_ids=true.ids, se="none")
    assert res.params.a[3] == pytest.approx(1e-3)
    # an item with a zero slope carries no information: the others come out as if it were dropped
    dropped = calibrate(np.delete(x, 3, axis=1), "2pl", se="none")
    assert_allclose(np.delete(res.params.a, 3), dropped.params.a, atol=2e-3)


def test_rasch_latent_sd_gets_a_standard_error() -> None:
    rng = np.random.default_rng(21)
    true = random_item_params(10, "rasch", rng)
    x = simulate_responses(true, rng.normal(0.0, 0.8, 3000), rng)
    res = calibrate(x, "rasch", se="observed")
    dist = res.distribution()
    assert np.isnan(dist.se_mean) and 0 < dist.se_sd < 0.05
    assert np.all(np.isnan(res.se.a)) and np.all(res.se.b > 0)


def test_observed_standard_errors_from_a_single_precision_fit_are_computed_in_double() -> None:
    _, _, x, _ = simulate("2pl", 6, 2000, seed=22)
    double = calibrate(x, "2pl", se="observed", tol=1e-6)
    single = calibrate(x, "2pl", se="observed", tol=1e-6, precision="single")
    assert_allclose(single.se.a, double.se.a, rtol=0.02)
    assert_allclose(single.se.b, double.se.b, rtol=0.02)
    assert calibrate(x, "2pl", precision="single").se_method == "xpd"  # auto avoids float32 differences
