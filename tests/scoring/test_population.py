"""Latent regression (population model) and its plausible values against cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

import scoring
from scoring.exceptions import ConvergenceWarning, DataError
from scoring.population import draw_latent_regression_pvs, draw_prior_means, fit_latent_regression

BETA = {"intercept": -0.2, "girl": 0.25, "rural": -0.45, "grade8": 0.9}


def _population(
    n: int, seed: int, *, n_items: int = 80, per: int = 25, sd: tuple[float, float] = (0.8, 0.6), untested: int = 0
):
    rng = np.random.default_rng(seed)
    girl = rng.integers(0, 2, n)
    rural = rng.integers(0, 2, n)
    grade8 = rng.integers(0, 2, n)
    mu = BETA["intercept"] + BETA["girl"] * girl + BETA["rural"] * rural + BETA["grade8"] * grade8
    theta = mu + rng.normal(0, 1, n) * np.where(grade8 == 1, sd[1], sd[0])
    bank = scoring.random_item_params(n_items, "2pl", rng)
    mask = scoring.random_sparse_design(n, n_items, per, rng)
    mask[:untested] = False  # the first `untested` persons answer nothing
    x = scoring.simulate_responses(bank, theta, rng, design_mask=mask)
    cov = np.column_stack([girl, rural, grade8]).astype(float)
    return rng, bank, x, cov, theta, grade8


def test_regression_coefficients_and_residual_sds_are_recovered() -> None:
    rng, bank, x, cov, theta, grade8 = _population(8000, 1)
    fit = fit_latent_regression(x, bank, cov, names=["girl", "rural", "grade8"], variance_groups=grade8)
    assert fit.converged
    # tolerances are 3 SDs of the estimates over 8 seeds of this design (SDs 0.02 and 0.015)
    for name, value in BETA.items():
        assert fit.coefficient(name) == pytest.approx(value, abs=0.06)
    assert fit.variance_groups == (0, 1)
    assert fit.residual_sd == pytest.approx([0.8, 0.6], abs=0.045)


def test_pv_group_statistics_match_truth_where_eap_means_shrink() -> None:
    rng, bank, x, cov, theta, grade8 = _population(8000, 2, per=12)  # short tests: a lot of shrinkage
    fit = fit_latent_regression(x, bank, cov, names=["girl", "rural", "grade8"], variance_groups=grade8)
    pv = draw_latent_regression_pvs(x, bank, fit, rng, n_draws=5)
    eap = scoring.estimate_eap(x, bank).theta
    rural = cov[:, 1] == 1
    true_gap = theta[rural].mean() - theta[~rural].mean()
    pv_gap = (pv[rural].mean(axis=0) - pv[~rural].mean(axis=0)).mean()
    eap_gap = eap[rural].mean() - eap[~rural].mean()
    # tolerances: 3 SDs over 8 seeds (the model's total variance misses the sample's by SD 0.025)
    assert pv_gap == pytest.approx(true_gap, abs=0.06)
    assert abs(eap_gap) < 0.85 * abs(true_gap)  # attenuated toward 0 by the N(0, 1) prior
    assert pv.var(axis=0).mean() == pytest.approx(theta.var(), abs=0.075)
    assert eap.var() < theta.var() - 0.1  # EAP spread shrinks (posterior variance 0.2 is missing)
    # the conditioned EAPs are the posterior means: their group means are unbiased too, their spread is not
    assert fit.eap[rural].mean() - fit.eap[~rural].mean() == pytest.approx(true_gap, abs=0.06)
    assert fit.eap.var() < theta.var() - 0.1


def test_without_responses_pvs_are_draws_from_the_conditional_prior() -> None:
    rng, bank, x, cov, theta, grade8 = _population(4000, 3, untested=1000)
    assert np.isnan(x[:1000]).all()
    fit = fit_latent_regression(x, bank, cov, names=["girl", "rural", "grade8"], variance_groups=grade8)
    xd = np.column_stack([np.ones(4000), cov])
    assert fit.prior_mean == pytest.approx(xd @ fit.coefficients)
    pv = draw_latent_regression_pvs(x, bank, fit, rng, n_draws=10)
    z = (pv[:1000] - fit.prior_mean[:1000, None]) / fit.prior_sd[:1000, None]
    assert z.mean() == pytest.approx(0.0, abs=0.04)
    assert z.std() == pytest.approx(1.0, abs=0.03)
    assert fit.eap[:1000] == pytest.approx(fit.prior_mean[:1000], abs=1e-6)
    assert fit.eap_sd[:1000] == pytest.approx(fit.prior_sd[:1000], rel=1e-3)


def test_with_many_items_pvs_sit_on_the_true_abilities() -> None:
    rng = np.random.default_rng(4)
    theta = rng.normal(0, 1, 600)
    bank = scoring.random_item_params(150, "2pl", rng, a_logmean=0.3)
    x = scoring.simulate_responses(bank, theta, rng)
    fit = fit_latent_regression(x, bank)
    pv = draw_latent_regression_pvs(x, bank, fit, rng, n_draws=5)
    rmse = np.sqrt(((pv - theta[:, None]) ** 2).mean())
    assert rmse < 0.25
    assert np.corrcoef(pv[:, 0], theta)[0, 1] > 0.97


def test_school_effects_are_absorbed_and_school_means_unbiased() -> None:
    rng = np.random.default_rng(5)
    n_schools, per = 60, 40
    school = np.repeat(np.arange(n_schools), per)
    urban = (np.arange(n_schools) % 2)[school].astype(float)  # a school-level covariate
    girl = rng.integers(0, 2, school.size).astype(float)
    effect = rng.normal(0, 0.5, n_schools)
    theta = effect[school] + 0.3 * urban + 0.2 * girl + rng.normal(0, 0.7, school.size)
    bank = scoring.random_item_params(60, "2pl", rng)
    x = scoring.simulate_responses(bank, theta, rng, design_mask=scoring.random_sparse_design(school.size, 60, 15, rng))
    fit = fit_latent_regression(x, bank, np.column_stack([girl, urban]), names=["girl", "urban"], schools=school)
    assert set(fit.dropped) == {"intercept", "urban"}  # constant within school: carried by the school effect
    assert fit.coefficient("girl") == pytest.approx(0.2, abs=0.06)
    assert fit.residual_sd[0] == pytest.approx(0.7, abs=0.05)
    pv = draw_latent_regression_pvs(x, bank, fit, rng, n_draws=5)
    true_means = np.bincount(school, weights=theta) / per
    pv_means = np.stack([np.bincount(school, weights=pv[:, m]) / per for m in range(5)], axis=1).mean(axis=1)
    eap = scoring.estimate_eap(x, bank).theta
    eap_means = np.bincount(school, weights=eap) / per
    err = pv_means - true_means
    assert abs(err.mean()) < 0.03
    # regression of the estimated on the true school means: slope 1 for PVs, < 1 (shrunk) for EAPs
    slope_pv = np.polyfit(true_means, pv_means, 1)[0]
    slope_eap = np.polyfit(true_means, eap_means, 1)[0]
    assert slope_pv == pytest.approx(1.0, abs=0.06)
    assert slope_eap < 0.9


def test_em_raises_the_likelihood_every_cycle() -> None:
    rng, bank, x, cov, theta, grade8 = _population(2000, 6)
    lls = []
    for cycles in (1, 2, 4, 8):
        with pytest.warns(ConvergenceWarning, match="stopped after"):
            fit = fit_latent_regression(x, bank, cov, variance_groups=grade8, max_iter=cycles)
        lls.append(fit.log_likelihood)
    assert np.all(np.diff(lls) > 0)


def test_bad_input_is_refused() -> None:
    rng, bank, x, cov, theta, grade8 = _population(300, 7)
    bad = cov.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError, match="covariate 1 of person 5"):
        fit_latent_regression(x, bank, bad)
    with pytest.raises(DataError, match="one label per person"):
        fit_latent_regression(x, bank, cov, variance_groups=grade8[:-1])
    with pytest.raises(DataError, match="items"):
        fit_latent_regression(x[:, :10], bank, cov)


def test_school_effect_information_is_the_curvature_of_the_marginal_likelihood() -> None:
    # Louis's identity: the observed information of a normal prior mean is sum_i (1/s^2 - v_i/s^4)
    rng = np.random.default_rng(9)
    school = np.repeat(np.arange(12), 15)
    theta = rng.normal(0, 0.5, 12)[school] + rng.normal(0, 0.8, school.size)
    bank = scoring.random_item_params(40, "2pl", rng)
    x = scoring.simulate_responses(bank, theta, rng, design_mask=scoring.random_sparse_design(school.size, 40, 8, rng))
    girl = rng.integers(0, 2, school.size).astype(float)
    fit = fit_latent_regression(x, bank, girl, names=["girl"], schools=school, tol=1e-9)
    nodes = scoring.quadrature_grid(61, 6.0)
    lik = np.exp(scoring.log_likelihood_grid(x, bank, nodes))
    sd = fit.residual_sd[0]

    def marginal(shift: float, s: int) -> float:
        rows = school == s
        mu = fit.prior_mean[rows] + shift
        prior = np.exp(-0.5 * ((nodes[None, :] - mu[:, None]) / sd) ** 2)
        prior /= prior.sum(axis=1, keepdims=True)  # the discrete normal prior of the EM
        return float(np.log((lik[rows] * prior).sum(axis=1)).sum())

    h = 1e-3
    for s in (0, 5, 11):
        curvature = (marginal(h, s) - 2 * marginal(0.0, s) + marginal(-h, s)) / h**2
        assert -curvature == pytest.approx(fit.absorbed_info[s], rel=0.02)
        assert (marginal(h, s) - marginal(-h, s)) / (2 * h) == pytest.approx(0.0, abs=1e-3)  # at the maximum
    draws = draw_prior_means(fit, 4000, np.random.default_rng(0))  # the parameter draws behind proper PVs
    spread = draws - fit.prior_mean[:, None]
    first = np.nonzero(school == 3)[0][0]
    expected = 1 / fit.absorbed_info[3] + fit.coefficient_cov[0, 0] * (girl[first] - fit.absorbed_xbar[3, 0]) ** 2
    assert spread[first].var() == pytest.approx(expected, rel=0.1)
    assert abs(spread[first].mean()) < 4 * np.sqrt(expected / draws.shape[1])


def test_drawing_from_the_grid_in_blocks_gives_the_draws_of_the_whole_array() -> None:
    """The blocked sampler is the plain one (posterior, CDF, inverse draw) over all persons at once."""
    from scoring.population import _DRAW_ROWS, _draw_from_grid, quadrature_grid

    rng = np.random.default_rng(11)
    n = 2 * _DRAW_ROWS + 37  # two whole blocks and a short one
    nodes = quadrature_grid(241, 6.0)
    lik = np.exp(-0.5 * ((nodes[None, :] - rng.normal(size=n)[:, None]) / 0.4) ** 2)
    mu, sd = 0.3 * rng.normal(size=n), np.full(n, 0.9)

    def whole(rng: np.random.Generator) -> np.ndarray:
        logprior = -0.5 * ((nodes[None, :] - mu[:, None]) / sd[:, None]) ** 2
        prior = np.exp(logprior - logprior.max(axis=1, keepdims=True))
        post = lik * (prior / prior.sum(axis=1, keepdims=True))
        cdf = np.cumsum(post / post.sum(axis=1, keepdims=True), axis=1)
        u = rng.random(n) * cdf[:, -1]
        idx = np.minimum((cdf < u[:, None]).sum(axis=1), nodes.size - 1)
        return np.asarray(nodes[idx] + (rng.random(n) - 0.5) * (nodes[1] - nodes[0]))

    drawn = _draw_from_grid(lik, nodes, mu, sd, np.random.default_rng(5))
    np.testing.assert_array_equal(drawn, whole(np.random.default_rng(5)))
