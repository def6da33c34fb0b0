"""Information curves, summed-score likelihoods and reliability."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats

from scoring.exceptions import DataError
from scoring.information import (
    compute_empirical_reliability,
    compute_expected_reliability,
    compute_information_curve,
    compute_marginal_reliability,
    compute_summed_score_likelihoods,
)
from scoring.irt import probabilities
from scoring.params import ItemParams

FloatArray = npt.NDArray[np.float64]


def _mixed_bank(rng: np.random.Generator, n_items: int = 8) -> ItemParams:
    models = ["2pl", "3pl", "grm", "gpcm", "rasch"] * (n_items // 5 + 1)
    models = models[:n_items]
    b = np.full((n_items, 3), np.nan)
    c = np.zeros(n_items)
    for j, m in enumerate(models):
        if m in ("grm", "gpcm"):
            b[j] = np.sort(rng.normal(0, 1, 3))
        else:
            b[j, 0] = rng.normal()
        if m == "3pl":
            c[j] = 0.2
    a = np.where(np.array(models) == "rasch", 1.0, rng.lognormal(0, 0.3, n_items))
    return ItemParams(tuple(f"i{j}" for j in range(n_items)), tuple(models), a, b, c)


def _draw(params: ItemParams, theta: FloatArray, rng: np.random.Generator) -> FloatArray:
    p = probabilities(params, theta)
    u = rng.random(p.shape[:2])[:, :, None]
    return np.asarray((np.cumsum(p, axis=2) < u).sum(axis=2), dtype=np.float64)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_information_invariants(seed: int) -> None:
    params = _mixed_bank(np.random.default_rng(seed))
    curve = compute_information_curve(params, np.linspace(-5, 5, 41))
    assert np.all(curve.item_info > 0)
    assert_allclose(curve.info, curve.item_info.sum(axis=1), rtol=1e-12)
    assert_allclose(curve.se**2 * curve.info, 1.0, rtol=1e-12)
    assert curve.item_ids == params.ids


def test_information_of_a_2pl_item_is_a2pq() -> None:
    params = ItemParams(("x",), ("2pl",), np.array([1.7]), np.array([[0.3]]), np.zeros(1))
    theta = np.linspace(-3, 3, 13)
    p = 1.0 / (1.0 + np.exp(-1.7 * (theta - 0.3)))
    curve = compute_information_curve(params, theta)
    assert_allclose(curve.info, 1.7**2 * p * (1 - p), rtol=1e-12)
    default = compute_information_curve(params)
    assert default.theta.shape == (81,) and default.theta[0] == -4.0


def test_lord_wingersky_is_binomial_for_identical_items() -> None:
    n = 7
    params = ItemParams(tuple("abcdefg"), ("rasch",) * n, np.ones(n), np.full((n, 1), 0.4), np.zeros(n))
    theta = np.array([-1.0, 0.0, 2.0])
    lik = compute_summed_score_likelihoods(params, theta)
    p = 1.0 / (1.0 + np.exp(-(theta - 0.4)))
    expected = stats.binom.pmf(np.arange(n + 1)[None, :], n, p[:, None])
    assert_allclose(lik, expected, rtol=1e-10, atol=1e-15)


def test_lord_wingersky_matches_enumeration_for_mixed_items() -> None:
    params = _mixed_bank(np.random.default_rng(5), n_items=5)  # 2pl, 3pl, grm, gpcm, rasch
    theta = np.array([-0.7, 0.4])
    lik = compute_summed_score_likelihoods(params, theta)
    p = probabilities(params, theta)
    k = params.max_scores
    brute = np.zeros_like(lik)
    for pattern in itertools.product(*(range(int(kj) + 1) for kj in k)):
        prob = np.prod([p[:, j, x] for j, x in enumerate(pattern)], axis=0)
        brute[:, sum(pattern)] += prob
    assert_allclose(lik, brute, rtol=1e-12)
    assert_allclose(lik.sum(axis=1), 1.0, rtol=1e-12)


def test_expected_reliability_matches_simulated_eap_for_rasch_items() -> None:
    # For Rasch items the summed score is sufficient, so summed-score EAPs are the pattern EAPs
    # and the exact expected reliability must match the empirical reliability of simulated EAPs
    # (tolerance 0.01 with 20,000 persons).
    rng = np.random.default_rng(42)
    n_items = 15
    params = ItemParams(
        tuple(f"r{j}" for j in range(n_items)),
        ("rasch",) * n_items,
        np.ones(n_items),
        np.linspace(-2, 2, n_items)[:, None],
        np.zeros(n_items),
    )
    expected = compute_expected_reliability(params)
    theta = rng.normal(size=20_000)
    x = _draw(params, theta, rng)
    nodes = np.linspace(-6, 6, 61)
    prior = np.exp(-0.5 * nodes**2)
    lik = compute_summed_score_likelihoods(params, nodes) * prior[:, None]
    post = lik / lik.sum(axis=0)
    eap_by_score = nodes @ post
    psd_by_score = np.sqrt(np.maximum((nodes**2) @ post - eap_by_score**2, 0))
    s = x.sum(axis=1).astype(int)
    empirical = compute_empirical_reliability(eap_by_score[s], psd_by_score[s])
    assert abs(expected - empirical) < 0.01
    # the information-based versions are approximations of the same quantity
    assert abs(compute_marginal_reliability(params) - expected) < 0.01
    assert abs(compute_marginal_reliability(params, method="error_variance") - expected) < 0.01


def test_reliability_grows_with_items_and_falls_with_sd() -> None:
    params = _mixed_bank(np.random.default_rng(9), n_items=10)
    short = params.subset(range(5))
    for fn in (compute_expected_reliability, compute_marginal_reliability):
        assert 0 < fn(short) < fn(params) < 1
    wide = compute_expected_reliability(params, sd=1.5)
    narrow = compute_expected_reliability(params, sd=0.5)
    assert narrow < wide
    assert 0 < compute_marginal_reliability(params, mean=1.0, sd=0.8) < 1


def test_empirical_reliability_formulas() -> None:
    theta = np.array([-1.0, 0.0, 1.0, 2.0, np.nan])
    se = np.array([0.5, 0.5, 0.5, 0.5, 0.1])
    var = np.var(theta[:4], ddof=1)
    assert_allclose(compute_empirical_reliability(theta, se), var / (var + 0.25))
    assert_allclose(compute_empirical_reliability(theta, se, theta_as_true=True), 1 - 0.25 / var)
    with pytest.raises(DataError):
        compute_empirical_reliability(theta, se[:3])
    with pytest.raises(DataError):
        compute_marginal_reliability(_mixed_bank(np.random.default_rng(1)), sd=0.0)
