"""Item models: each family's closed forms against differences, and the IRT mapping both ways."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import special

from scoring.models import Dichotomous, Graded, ItemModel, PartialCredit, expit, group_items, item_model, log_expit
from scoring.params import ItemParams

FAMILIES = [
    ("rasch", 1),
    ("2pl", 1),
    ("3pl", 1),
    ("grm", 1),
    ("grm", 2),
    ("grm", 4),
    ("gpcm", 1),
    ("gpcm", 3),
    ("rasch", 3),
]


def random_psi(model: ItemModel, rng: np.random.Generator, n: int = 4) -> np.ndarray:
    """Admissible slope-intercept parameters of ``n`` items, drawn through the IRT mapping."""
    a = rng.uniform(0.4, 2.5, n)
    b = np.sort(rng.normal(0.0, 1.0, (n, model.k)), axis=1) + np.arange(model.k) * 0.3
    c = rng.uniform(0.05, 0.3, n)
    return model.from_irt(a, b, c)


def test_the_factory_picks_the_family_like_mirt() -> None:
    assert isinstance(item_model("2pl", 1), Dichotomous)
    assert isinstance(item_model("grm", 1), Dichotomous)  # one threshold: the 2PL's trace line
    assert isinstance(item_model("rasch", 1), Dichotomous)
    assert isinstance(item_model("grm", 3), Graded)
    assert isinstance(item_model("gpcm", 1), PartialCredit)
    assert isinstance(item_model("rasch", 2), PartialCredit)  # the partial credit model
    assert item_model("3pl", 1) is item_model("3pl", 1)
    assert [item_model(m, k).n_par for m, k in FAMILIES] == [1, 2, 3, 2, 3, 5, 2, 4, 3]
    with pytest.raises(ValueError, match="dichotomous"):
        item_model("2pl", 2)


@pytest.mark.parametrize(("name", "k"), FAMILIES)
def test_probabilities_sum_to_one_and_irt_parameters_round_trip(name: str, k: int) -> None:
    model = item_model(name, k)
    rng = np.random.default_rng(k)
    psi = random_psi(model, rng)
    theta = np.linspace(-7, 7, 29)
    assert_allclose(np.exp(model.log_prob(psi, theta)).sum(axis=1), 1.0, atol=1e-12)
    a, b, c = model.to_irt(psi)
    assert_allclose(model.from_irt(a, b, c), psi, rtol=1e-12, atol=1e-12)
    assert b.shape == (psi.shape[0], k)
    assert np.all(model.admissible(psi))


@pytest.mark.parametrize(("name", "k"), FAMILIES)
def test_parameter_derivatives_are_the_differences_of_the_probabilities(name: str, k: int) -> None:
    model = item_model(name, k)
    psi = random_psi(model, np.random.default_rng(10 + k))
    theta = np.linspace(-4, 4, 17)
    prob, jac = model.prob_jac(psi, theta)
    assert_allclose(prob, np.exp(model.log_prob(psi, theta)))
    h = 1e-6
    for m in range(model.n_par):
        up, dn = psi.copy(), psi.copy()
        up[:, m] += h
        dn[:, m] -= h
        numeric = (np.exp(model.log_prob(up, theta)) - np.exp(model.log_prob(dn, theta))) / (2 * h)
        assert_allclose(jac[..., m], numeric, atol=1e-8)


@pytest.mark.parametrize(("name", "k"), FAMILIES)
def test_theta_derivatives_are_the_differences_of_the_log_probabilities(name: str, k: int) -> None:
    model = item_model(name, k)
    psi = random_psi(model, np.random.default_rng(20 + k))
    theta = np.linspace(-5, 5, 21)
    logp, dlog, d2log = model.theta_derivatives(psi, theta)
    assert_allclose(logp, model.log_prob(psi, theta))
    h = 1e-4
    up, mid, dn = (model.log_prob(psi, theta + s) for s in (h, 0.0, -h))
    assert_allclose(dlog, (up - dn) / (2 * h), rtol=1e-6, atol=1e-7)
    assert_allclose(d2log, (up - 2 * mid + dn) / h**2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("name", "k"), FAMILIES)
def test_information_is_the_variance_of_the_score(name: str, k: int) -> None:
    model = item_model(name, k)
    psi = random_psi(model, np.random.default_rng(30 + k))
    theta = np.linspace(-5, 5, 21)
    logp, dlog, d2log = model.theta_derivatives(psi, theta)
    p = np.exp(logp)
    assert_allclose((p * dlog).sum(axis=1), 0.0, atol=1e-12)  # the score has mean zero
    info = model.information(psi, theta)
    assert_allclose(info, (p * dlog**2).sum(axis=1))
    assert_allclose(info, -(p * d2log).sum(axis=1), rtol=1e-10, atol=1e-12)  # = expected curvature
    assert np.all(info >= 0)


def test_closed_forms_by_hand() -> None:
    theta = np.array([-1.0, 0.3, 2.0])
    two = item_model("2pl", 1)
    psi = two.from_irt(np.array([1.7]), np.array([[0.3]]), np.array([0.0]))
    s = 1 / (1 + np.exp(-1.7 * (theta - 0.3)))
    assert_allclose(two.information(psi, theta)[0], 1.7**2 * s * (1 - s))  # a^2 P Q
    three = item_model("3pl", 1)
    psi3 = three.from_irt(np.array([1.2]), np.array([[-0.4]]), np.array([0.25]))
    s3 = 1 / (1 + np.exp(-1.2 * (theta + 0.4)))
    p3 = 0.25 + 0.75 * s3
    lord = 1.2**2 * (p3 - 0.25) ** 2 * (1 - p3) / (0.75**2 * p3)  # Lord (1980), eq. 5-19
    assert_allclose(three.information(psi3, theta)[0], lord)
    gpcm = item_model("gpcm", 3)
    psig = gpcm.from_irt(np.array([1.4]), np.array([[-1.0, 0.2, 0.9]]), np.array([0.0]))
    pk = np.exp(gpcm.log_prob(psig, theta))[0]
    kk = np.arange(4)
    var = kk**2 @ pk - (kk @ pk) ** 2
    assert_allclose(gpcm.information(psig, theta)[0], 1.4**2 * var)  # Muraki (1993)


def test_grm_derivatives_stay_finite_where_probabilities_underflow() -> None:
    model = item_model("grm", 2)
    psi = model.from_irt(np.array([3.0]), np.array([[-2.0, 4.0]]), np.array([0.0]))
    logp, dlog, d2log = model.theta_derivatives(psi, np.array([-300.0, 300.0]))
    assert np.all(np.isfinite(logp)) and np.all(np.isfinite(dlog)) and np.all(np.isfinite(d2log))
    # a (1 - P*_m - P*_{m+1}): far below every P* above category 0 is 0, far above every P* is 1
    assert_allclose(dlog[0, :, 0], [0.0, 3.0, 3.0], atol=1e-12)
    assert_allclose(dlog[0, :, 1], [-3.0, -3.0, 0.0], atol=1e-12)


def test_groups_cover_a_table_once() -> None:
    p = ItemParams(
        ("a", "b", "c", "d", "e"),
        ("2pl", "grm", "2pl", "gpcm", "grm"),
        [1.0, 1.2, 0.8, 1.1, 0.9],
        [[0.0, np.nan], [-1.0, 1.0], [0.5, np.nan], [0.2, -0.3], [0.1, np.nan]],
        [0, 0, 0, 0, 0],
    )
    groups = group_items(p)
    assert sorted(int(j) for g in groups for j in g.index) == list(range(5))
    assert [(g.model.model, g.model.k) for g in groups] == [("2pl", 1), ("gpcm", 2), ("grm", 1), ("grm", 2)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-800, 800), min_size=1, max_size=20))
def test_logistic_helpers_agree_with_scipy(values: list[float]) -> None:
    x = np.array(values)
    assert_allclose(expit(x), special.expit(x), rtol=1e-14, atol=1e-300)
    assert_allclose(log_expit(x), special.log_expit(x), rtol=1e-14, atol=1e-300)
