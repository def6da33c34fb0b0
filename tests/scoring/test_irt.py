from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from scoring import irt
from scoring.params import ItemParams

NAN = np.nan


@st.composite
def item_banks(draw: st.DrawFn) -> ItemParams:
    n = draw(st.integers(1, 6))
    models, a, c, rows = [], [], [], []
    for _ in range(n):
        model = draw(st.sampled_from(["rasch", "2pl", "3pl", "grm", "gpcm"]))
        k = 1 if model in ("2pl", "3pl") else draw(st.integers(1, 4))
        loc = draw(st.floats(-2.5, 2.5))
        if model == "grm":
            gaps = draw(st.lists(st.floats(0.1, 1.5), min_size=k, max_size=k))
            b = list(loc + np.cumsum(gaps) - gaps[0])
        else:
            b = [loc + draw(st.floats(-1.5, 1.5)) for _ in range(k)]
        models.append(model)
        a.append(1.0 if model == "rasch" else draw(st.floats(0.2, 3.0)))
        c.append(draw(st.floats(0.0, 0.4)) if model == "3pl" else 0.0)
        rows.append(b)
    kmax = max(len(r) for r in rows)
    b_arr = np.full((n, kmax), NAN)
    for j, r in enumerate(rows):
        b_arr[j, : len(r)] = r
    return ItemParams(tuple(f"i{j}" for j in range(n)), tuple(models), np.array(a), b_arr, np.array(c))


thetas = st.lists(st.floats(-5, 5), min_size=1, max_size=8).map(np.array)


@settings(max_examples=60, deadline=None)
@given(item_banks(), thetas)
def test_probabilities_are_a_distribution_over_each_items_categories(p: ItemParams, theta: np.ndarray) -> None:
    prob = irt.probabilities(p, theta)
    assert prob.shape == (theta.size, p.n_items, p.kmax + 1)
    assert np.all(prob >= 0) and np.all(prob <= 1)
    assert_allclose(prob.sum(axis=2), 1.0, atol=1e-12)
    beyond = np.arange(p.kmax + 1)[None, :] > p.max_scores[:, None]
    assert np.all(prob[:, beyond] == 0)


@settings(max_examples=60, deadline=None)
@given(item_banks(), thetas)
def test_information_is_positive_and_adds_up(p: ItemParams, theta: np.ndarray) -> None:
    info = irt.item_information(p, theta)
    assert info.shape == (theta.size, p.n_items)
    assert np.all(info >= 0)
    assert np.all(info[np.abs(theta) < 3] > 0)
    assert_allclose(irt.test_information(p, theta), info.sum(axis=1), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(item_banks(), thetas)
def test_information_is_the_variance_of_the_score_function(p: ItemParams, theta: np.ndarray) -> None:
    """I(theta) = Var(d log P_X / d theta) = sum_k P_k (d log P_k / d theta)^2, by central differences."""
    h = 1e-5
    lp_up = irt.log_probabilities(p, theta + h)
    lp_dn = irt.log_probabilities(p, theta - h)
    prob = irt.probabilities(p, theta)
    with np.errstate(invalid="ignore"):
        score = np.where(prob > 0, (lp_up - lp_dn) / (2 * h), 0.0)
    mean_score = (prob * score).sum(axis=2)
    var_score = (prob * score**2).sum(axis=2)
    assert_allclose(mean_score, 0.0, atol=1e-6)  # the score has expectation zero
    assert_allclose(irt.item_information(p, theta), var_score, rtol=1e-5, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(item_banks(), thetas)
def test_expected_score_increases_with_theta(p: ItemParams, theta: np.ndarray) -> None:
    t = np.sort(theta)
    es = irt.expected_score(p, t)
    assert np.all(np.diff(es, axis=0) >= -1e-12)
    assert np.all(es >= 0) and np.all(es <= p.max_scores)


def test_known_values() -> None:
    p = ItemParams(("a", "b", "c"), ("2pl", "3pl", "rasch"), [1.7, 1.2, 1.0], [[0.3], [-0.4], [1.0]], [0, 0.25, 0])
    prob = irt.probabilities(p, [0.3, -0.4, 1.0])
    assert prob[0, 0, 1] == pytest.approx(0.5)
    assert prob[1, 1, 1] == pytest.approx(0.25 + 0.75 / 2)
    assert prob[2, 2, 1] == pytest.approx(0.5)
    info = irt.item_information(p, [0.3])
    assert info[0, 0] == pytest.approx(1.7**2 / 4)  # 2PL: a^2 P Q at theta = b
    # Lord's 3PL information at theta = b: a^2 (P - c)^2 Q / ((1 - c)^2 P)
    pp = 0.25 + 0.75 / (1 + np.exp(-1.2 * (0.3 + 0.4)))
    assert info[0, 1] == pytest.approx(1.2**2 * (pp - 0.25) ** 2 * (1 - pp) / (0.75**2 * pp))


def test_gpcm_information_is_a_squared_times_score_variance_and_pcm_is_unit_slope_gpcm() -> None:
    b = np.array([[-1.0, 0.2, 0.9]])
    g = ItemParams(("g",), ("gpcm",), [1.4], b, [0.0])
    theta = np.linspace(-3, 3, 13)
    prob = irt.probabilities(g, theta)[:, 0]
    k = np.arange(4)
    var = prob @ k**2 - (prob @ k) ** 2
    assert_allclose(irt.item_information(g, theta)[:, 0], 1.4**2 * var)
    pcm = ItemParams(("r",), ("rasch",), [1.0], b, [0.0])
    gpcm1 = ItemParams(("r",), ("gpcm",), [1.0], b, [0.0])
    assert_allclose(irt.probabilities(pcm, theta), irt.probabilities(gpcm1, theta))


def test_grm_with_one_threshold_is_the_2pl() -> None:
    grm = ItemParams(("x",), ("grm",), [1.3], [[0.4]], [0.0])
    two = ItemParams(("x",), ("2pl",), [1.3], [[0.4]], [0.0])
    theta = np.linspace(-4, 4, 9)
    assert_allclose(irt.probabilities(grm, theta), irt.probabilities(two, theta))
    assert_allclose(irt.item_information(grm, theta), irt.item_information(two, theta))


def test_log_probabilities_stay_finite_and_accurate_far_out() -> None:
    p = ItemParams(("g",), ("grm",), [3.0], [[-2.0, 4.0]], [0.0])
    lp = irt.log_probabilities(p, [-6.0])
    # P(X = 2) = sigma(3 * (-10)) = e^-30 / (1 + e^-30); its log must keep full precision
    assert lp[0, 0, 2] == pytest.approx(-30 - np.log1p(np.exp(-30)), rel=1e-12)
    assert np.all(np.isfinite(lp))


def test_quadrature_and_prior_follow_mirt() -> None:
    nodes = irt.quadrature_grid()
    assert nodes.size == 61 and nodes[0] == -6 and nodes[-1] == 6
    w = irt.normal_prior(nodes, 0.5, 1.2)
    assert w.sum() == pytest.approx(1.0)
    assert w @ nodes == pytest.approx(0.5, abs=1e-4)  # truncated at +-6
    assert w @ (nodes - 0.5) ** 2 == pytest.approx(1.44, rel=1e-3)


def test_log_likelihood_grid_matches_the_direct_sum() -> None:
    p = ItemParams(
        ("a", "b", "c"), ("2pl", "grm", "gpcm"), [1.1, 0.9, 1.4], [[0.0, NAN], [-1, 1], [0.5, -0.2]], [0, 0, 0]
    )
    x = np.array([[1, 2, 0], [0, NAN, 2], [NAN, NAN, NAN]])
    theta = np.array([-1.0, 0.0, 2.0])
    ll = irt.log_likelihood_grid(x, p, theta)
    lp = irt.log_probabilities(p, theta)
    expected = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            if not np.isnan(x[i, j]):
                expected[i] += lp[:, j, int(x[i, j])]
    assert_allclose(ll, expected)
    with pytest.raises(ValueError, match="expected an integer score 0..1"):
        irt.log_likelihood_grid(np.array([[2.0, 0, 0]]), p, theta)
