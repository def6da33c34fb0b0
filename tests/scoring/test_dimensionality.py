"""The dimensionality check: per-dimension reliabilities, latent correlations, 1 vs D dimensions."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose

from scoring.ability import estimate_eap
from scoring.calibrate import calibrate
from scoring.dimensionality import compute_dimensionality, multidimensional_log_likelihood, nearest_correlation
from scoring.exceptions import DataError
from scoring.irt import log_likelihood_grid
from scoring.params import ItemParams

FloatArray = npt.NDArray[np.float64]
TRUE_R = np.array([[1.0, 0.6, 0.7, 0.5], [0.6, 1.0, 0.65, 0.55], [0.7, 0.65, 1.0, 0.6], [0.5, 0.55, 0.6, 1.0]])


def _simulate(
    r: FloatArray, n: int, per: int, seed: int, missing: float = 0.3
) -> tuple[FloatArray, list[str], FloatArray]:
    rng = np.random.default_rng(seed)
    d = r.shape[0]
    theta = rng.multivariate_normal(np.zeros(d), r, n)
    n_items = d * per
    a, b = rng.lognormal(0.2, 0.25, n_items), rng.normal(0, 1, n_items)
    on = theta[:, [j // per for j in range(n_items)]]
    x = (rng.random((n, n_items)) < 1 / (1 + np.exp(-a * (on - b)))).astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    return x, [f"D{j // per + 1}" for j in range(n_items)], theta


def _check(x: FloatArray, dims: list[str]) -> object:
    one = calibrate(x, "2pl", se="none")
    return compute_dimensionality(x, ["2pl"] * x.shape[1], dims, log_likelihood_1d=one.log_likelihood,
                                  n_parameters_1d=one.n_parameters)  # fmt: skip


def test_a_known_correlation_matrix_is_recovered_and_four_dimensions_fit_better() -> None:
    # 3,000 persons, 4 correlated dimensions of 8 2PL items each, 30% of the responses missing
    x, dims, theta = _simulate(TRUE_R, 3000, 8, seed=1)
    res = _check(x, dims)
    assert res.dimensions == ("D1", "D2", "D3", "D4")
    assert_allclose(res.n_items, [8, 8, 8, 8])
    assert np.abs(res.correlation - TRUE_R).max() < 0.06
    assert np.all(res.observed_correlation[np.triu_indices(4, 1)] < res.correlation[np.triu_indices(4, 1)])
    # each reliability is the squared correlation of the dimension's EAP with the true ability
    for k, dim in enumerate(res.dimensions):
        cols = [j for j, d in enumerate(dims) if d == dim]
        fitted = calibrate(x[:, cols], "2pl", se="none").params
        eap = estimate_eap(x[:, cols], fitted).theta
        assert res.reliability[k] == pytest.approx(np.corrcoef(eap, theta[:, k])[0, 1] ** 2, abs=0.04)
    assert res.df == 6
    assert res.lr > 200 and res.p_value < 1e-20
    assert res.aic("md") < res.aic("1d") and res.bic("md") < res.bic("1d")


def test_one_dimension_is_not_beaten_when_the_data_have_one() -> None:
    x, dims, _ = _simulate(np.ones((4, 4)) - 1e-9 * np.eye(4), 2000, 8, seed=2, missing=0.0)
    res = _check(x, dims)
    assert res.correlation[np.triu_indices(4, 1)].min() > 0.95
    assert res.p_value > 0.05
    assert res.bic("1d") < res.bic("md")


def test_the_adaptive_quadrature_agrees_with_a_full_grid_in_two_dimensions() -> None:
    # 2 dimensions (6 and 3 items), R = 0.5, group means and SDs other than 0 and 1: the adaptive
    # Gauss-Hermite marginal likelihood of every person equals a 241 x 241 grid integration
    rng = np.random.default_rng(7)
    r = np.array([[1.0, 0.5], [0.5, 1.0]])
    x, _, _ = _simulate(r, 60, 6, seed=7, missing=0.2)
    x = x[:, :9]
    p1, p2 = (
        ItemParams(
            tuple(f"{c}{j}" for j in range(k)),
            ("2pl",) * k,
            rng.lognormal(0, 0.3, k),
            rng.normal(0, 1, (k, 1)),
            np.zeros(k),
        )  # fmt: skip
        for c, k in (("a", 6), ("b", 3))
    )
    mean, sd = np.tile([0.3, -0.2], (60, 1)), np.tile([1.2, 0.8], (60, 1))
    blocks = [(x[:, :6], p1), (x[:, 6:], p2)]
    est = [estimate_eap(b, p, prior_mean=mean[:, k], prior_sd=sd[:, k]) for k, (b, p) in enumerate(blocks)]
    eap, psd = np.stack([e.theta for e in est], axis=1), np.stack([e.se for e in est], axis=1)
    agh = multidimensional_log_likelihood(blocks, r, mean, sd, eap, psd, n_points=7)
    grid = np.linspace(-7, 7, 241)
    h = grid[1] - grid[0]
    ll1, ll2 = log_likelihood_grid(x[:, :6], p1, grid), log_likelihood_grid(x[:, 6:], p2, grid)
    t1, t2 = np.meshgrid((grid - 0.3) / 1.2, (grid + 0.2) / 0.8, indexing="ij")
    inv = np.linalg.inv(r)
    log_prior = (-0.5 * (inv[0, 0] * t1**2 + 2 * inv[0, 1] * t1 * t2 + inv[1, 1] * t2**2)
                 - np.log(2 * np.pi * 1.2 * 0.8 * np.sqrt(np.linalg.det(r))))  # fmt: skip
    full = np.log(np.exp(ll1[:, :, None] + ll2[:, None, :] + log_prior[None]).sum(axis=(1, 2)) * h * h)
    assert_allclose(agh, full, atol=2e-3)


def test_nearest_correlation_mends_an_impossible_matrix() -> None:
    bad = np.array([[1.0, 0.95, -0.95], [0.95, 1.0, 0.95], [-0.95, 0.95, 1.0]])
    fixed = nearest_correlation(bad)
    assert np.linalg.eigvalsh(fixed).min() > 0
    assert_allclose(np.diag(fixed), 1.0)
    good = TRUE_R
    assert_allclose(nearest_correlation(good), good)


def test_one_dimension_is_refused() -> None:
    x, _, _ = _simulate(np.eye(1), 100, 4, seed=1)
    with pytest.raises(DataError, match="at least two dimensions"):
        compute_dimensionality(x, ["2pl"] * 4, ["D1"] * 4, log_likelihood_1d=0.0, n_parameters_1d=8)
