from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from scoring import (
    ProficiencyLevels,
    ReportingScale,
    draw_plausible_values,
    estimate_eap,
    estimate_map,
    estimate_mle,
    estimate_wle,
    log_probabilities,
    probabilities,
    random_item_params,
    simulate_responses,
    test_information,
)
from scoring.exceptions import DataError, ParameterError
from scoring.params import ItemParams

NAN = np.nan


@pytest.fixture(scope="module")
def bank() -> ItemParams:
    rng = np.random.default_rng(21)
    return random_item_params(12, ["2pl"] * 6 + ["3pl"] * 2 + ["grm"] * 2 + ["gpcm"] * 2, rng)


@pytest.fixture(scope="module")
def data(bank: ItemParams) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(22)
    theta = rng.standard_normal(400)
    x = simulate_responses(bank, theta, rng)
    x[rng.random(x.shape) < 0.2] = NAN
    return theta, x


def brute_force_posterior_moments(x: np.ndarray, params: ItemParams, mean: float, sd: float) -> tuple:
    grid = np.linspace(-8, 8, 4001)
    lp = log_probabilities(params, grid)
    out = []
    for row in x:
        ll = np.zeros(grid.size)
        for j, v in enumerate(row):
            if not np.isnan(v):
                ll += lp[:, j, int(v)]
        ll += -0.5 * ((grid - mean) / sd) ** 2
        w = np.exp(ll - ll.max())
        w /= w.sum()
        m = w @ grid
        out.append((m, np.sqrt(w @ (grid - m) ** 2)))
    return tuple(np.array(v) for v in zip(*out, strict=True))


def test_eap_is_the_posterior_mean_and_sd(bank: ItemParams, data: tuple) -> None:
    _, x = data
    est = estimate_eap(x[:40], bank, prior_mean=0.3, prior_sd=1.2)
    assert est.method == "eap" and est.n_persons == 40
    mean, sd = brute_force_posterior_moments(x[:40], bank, 0.3, 1.2)
    assert_allclose(est.theta, mean, atol=2e-3)
    assert_allclose(est.se, sd, atol=2e-3)


def test_eap_tracks_the_true_ability(bank: ItemParams, data: tuple) -> None:
    theta, x = data
    est = estimate_eap(x, bank)
    assert np.corrcoef(est.theta, theta)[0, 1] > 0.85
    # posterior SDs are calibrated: mean squared error ~ mean posterior variance
    assert np.mean((est.theta - theta) ** 2) == pytest.approx(np.mean(est.se**2), rel=0.3)


def test_eap_with_group_priors_and_no_responses(bank: ItemParams) -> None:
    x = np.full((3, bank.n_items), NAN)
    groups = np.array(["east", "west", "east"])
    est = estimate_eap(
        x, bank, prior_mean={"east": 0.5, "west": -0.2}, prior_sd={"east": 1.0, "west": 0.8}, groups=groups
    )
    assert_allclose(est.theta, [0.5, -0.2, 0.5], atol=1e-6)
    assert_allclose(est.se, [1.0, 0.8, 1.0], atol=1e-3)
    with pytest.raises(ValueError, match="groups="):
        estimate_eap(x, bank, prior_mean={"east": 0.5})


def test_sparse_and_dense_input_agree(bank: ItemParams, data: tuple) -> None:
    _, x = data
    mask = ~np.isnan(x)
    rows, cols = np.nonzero(mask)
    xs = sp.csr_matrix((x[rows, cols], (rows, cols)), shape=x.shape)
    assert_allclose(estimate_eap(xs, bank).theta, estimate_eap(x, bank).theta)
    assert_allclose(estimate_mle(xs, bank).theta, estimate_mle(x, bank).theta)


def test_rasch_mle_matches_expected_raw_score() -> None:
    """For the Rasch model the MLE solves  raw score = sum_j P_j(theta)."""
    b = np.linspace(-2, 2, 9)
    p = ItemParams(tuple(f"i{j}" for j in range(9)), ("rasch",) * 9, np.ones(9), b, np.zeros(9))
    x = np.array([[1, 1, 1, 0, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0, 1]], dtype=float)
    est = estimate_mle(x, p)
    expected = probabilities(p, est.theta)[np.arange(2), :, 1].sum(axis=1)
    assert_allclose(expected, x.sum(axis=1), atol=1e-7)
    info = np.array([test_information(p, t)[0] for t in est.theta])
    assert_allclose(est.se, 1 / np.sqrt(info), rtol=1e-6)


def test_mle_of_extreme_patterns_sits_on_the_bounds_and_wle_is_finite() -> None:
    b = np.linspace(-1.5, 1.5, 10)
    p = ItemParams(tuple(f"i{j}" for j in range(10)), ("2pl",) * 10, np.full(10, 1.2), b, np.zeros(10))
    x = np.array([np.ones(10), np.zeros(10), [1, 0] * 5, np.full(10, NAN)])
    mle = estimate_mle(x, p, bounds=(-5, 5))
    assert mle.theta[0] == 5 and mle.theta[1] == -5
    assert np.isnan(mle.theta[3]) and np.isnan(mle.se[3])
    wle = estimate_wle(x, p)
    assert -6 < wle.theta[1] < -1.5 and 1.5 < wle.theta[0] < 6
    assert wle.theta[0] == pytest.approx(-wle.theta[1], abs=1e-6)  # symmetric bank
    # WLE shrinks the MLE of a middling pattern towards the test's centre only a little
    assert abs(wle.theta[2] - mle.theta[2]) < 0.2


def test_wle_solves_warms_estimating_equation(bank: ItemParams, data: tuple) -> None:
    _, x = data
    est = estimate_wle(x[:30], bank)
    h = 1e-4

    def loglik(t: np.ndarray) -> np.ndarray:
        lp = log_probabilities(bank, t)
        return np.array(
            [
                np.nansum([lp[i, j, int(v)] for j, v in enumerate(row) if not np.isnan(v)])
                for i, row in enumerate(x[:30])
            ]
        )

    t = est.theta
    inside = np.abs(t) < 5.9
    score = (loglik(t + h) - loglik(t - h)) / (2 * h)
    prob = probabilities(bank, t)
    d1 = (probabilities(bank, t + h) - probabilities(bank, t - h)) / (2 * h)
    d2 = (probabilities(bank, t + h) - 2 * prob + probabilities(bank, t - h)) / h**2
    mask = ~np.isnan(x[:30])
    with np.errstate(divide="ignore", invalid="ignore"):
        info = np.where(mask, np.where(prob > 0, d1**2 / prob, 0).sum(axis=2), 0).sum(axis=1)
        jj = np.where(mask, np.where(prob > 0, d1 * d2 / prob, 0).sum(axis=2), 0).sum(axis=1)
    assert_allclose((score + jj / (2 * info))[inside], 0.0, atol=1e-4)


def test_map_has_the_prior_pull_and_se(bank: ItemParams, data: tuple) -> None:
    _, x = data
    mle = estimate_mle(x[:50], bank)
    tight = estimate_map(x[:50], bank, prior_mean=0.0, prior_sd=0.5)
    loose = estimate_map(x[:50], bank, prior_mean=0.0, prior_sd=5.0)
    ok = np.abs(mle.theta) < 5
    assert np.all(np.abs(tight.theta[ok]) <= np.abs(loose.theta[ok]) + 1e-9)
    assert np.all(tight.se < loose.se)
    assert np.median(np.abs(loose.theta[ok] - mle.theta[ok])) < 0.05
    blank = estimate_map(np.full((1, bank.n_items), NAN), bank, prior_mean=0.7, prior_sd=0.9)
    assert blank.theta[0] == 0.7 and blank.se[0] == 0.9


def test_plausible_values_are_posterior_draws(bank: ItemParams, data: tuple) -> None:
    _, x = data
    rng = np.random.default_rng(23)
    pv = draw_plausible_values(x[:60], bank, 2000, rng)
    assert pv.shape == (60, 2000)
    eap = estimate_eap(x[:60], bank)
    assert_allclose(pv.mean(axis=1), eap.theta, atol=0.06)
    assert_allclose(pv.std(axis=1), eap.se, rtol=0.08)
    again = draw_plausible_values(x[:60], bank, 2000, np.random.default_rng(23))
    assert_allclose(again, pv)  # reproducible from the seed


def test_plausible_values_respect_group_priors(bank: ItemParams) -> None:
    x = np.full((2, bank.n_items), NAN)
    pv = draw_plausible_values(x, bank, 4000, np.random.default_rng(24), prior_mean=[-1.0, 1.0], prior_sd=[0.5, 0.5])
    assert_allclose(pv.mean(axis=1), [-1.0, 1.0], atol=0.05)
    assert_allclose(pv.std(axis=1), [0.5, 0.5], atol=0.05)


def test_bad_responses_are_rejected(bank: ItemParams) -> None:
    x = np.zeros((1, bank.n_items))
    x[0, 0] = 2  # dichotomous item
    with pytest.raises(DataError, match="expected an integer 0..1"):
        estimate_eap(x, bank)
    with pytest.raises(DataError, match="expected \\(n_persons, 12\\)"):
        estimate_eap(np.zeros((2, 3)), bank)


def test_reporting_scale_round_trip() -> None:
    scale = ReportingScale(baseline_mean=0.2, baseline_sd=0.8)
    assert scale.to_scale(0.2) == pytest.approx(500)
    assert scale.to_scale(1.0) == pytest.approx(600)
    t = np.array([-1.3, 0.0, 2.1])
    assert_allclose(scale.to_theta(scale.to_scale(t)), t)
    assert scale.se_to_scale(0.4) == pytest.approx(50)
    with pytest.raises(ParameterError):
        ReportingScale(0.0, 0.0)


def test_proficiency_levels_and_the_pass_line() -> None:
    levels = ProficiencyLevels(
        cuts=(400, 500, 600), labels=("below", "basic", "proficient", "advanced"), pass_level="basic"
    )
    scores = np.array([350, 400, 499.9, 500, 650, NAN])
    assert levels.classify(scores).tolist() == [0, 1, 1, 2, 3, -1]
    assert levels.label(scores) == ["below", "basic", "basic", "proficient", "advanced", None]
    assert levels.passed(scores).tolist() == [False, True, True, True, True, False]
    with pytest.raises(ParameterError, match="strictly increasing"):
        ProficiencyLevels((500, 400), ("a", "b", "c"), "b")
    with pytest.raises(ParameterError, match="need 3 level labels"):
        ProficiencyLevels((400, 500), ("a", "b"), "b")
    with pytest.raises(ParameterError, match="pass level"):
        ProficiencyLevels((400,), ("a", "b"), "c")
