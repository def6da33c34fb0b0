"""Linking through common items: recovery of known constants and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from scoring.calibrate import calibrate
from scoring.exceptions import DataError, ParameterError
from scoring.irt import expected_score, probabilities
from scoring.linking import (
    LinkingConstants,
    link_scales,
    linking_criterion,
    transform_params,
    transform_se,
    transform_theta,
)
from scoring.params import ItemParams
from scoring.simulate import simulate_responses

METHODS = ("mean_sigma", "mean_mean", "stocking_lord", "haebara")


def _bank(rng: np.random.Generator, n_items: int = 20) -> ItemParams:
    models = ("2pl",) * (n_items - 10) + ("3pl",) * 4 + ("grm",) * 3 + ("gpcm",) * 3
    b = np.full((n_items, 3), np.nan)
    c = np.zeros(n_items)
    for j, m in enumerate(models):
        if m in ("grm", "gpcm"):
            b[j] = np.sort(rng.normal(0, 1, 3))
        else:
            b[j, 0] = rng.normal()
        if m == "3pl":
            c[j] = 0.2
    return ItemParams(tuple(f"i{j}" for j in range(n_items)), models, rng.lognormal(0, 0.25, n_items), b, c)


def _to_new_scale(params: ItemParams, slope: float, intercept: float) -> ItemParams:
    """The same items calibrated on a scale with theta_new = (theta_base - B) / A."""
    return ItemParams(params.ids, params.models, params.a * slope, (params.b - intercept) / slope, params.c)


@pytest.mark.parametrize("method", METHODS)
def test_exact_parameters_give_exact_constants(method: str) -> None:
    base = _bank(np.random.default_rng(1))
    new = _to_new_scale(base, 1.3, -0.4)
    k = link_scales(base, new, method=method)  # type: ignore[arg-type]
    assert k.method == method
    assert_allclose([k.A, k.B], [1.3, -0.4], atol=1e-6)
    moved = transform_params(new, k)
    assert_allclose(moved.a, base.a, rtol=1e-5)
    assert_allclose(moved.b, base.b, atol=1e-5)


def test_stocking_lord_recovers_constants_from_noisy_estimates() -> None:
    # Estimation error of a typical field trial: b +/- 0.08, a +/- 8 %. Stated tolerance for
    # the characteristic-curve methods: |A - 1.25| < 0.06 and |B - 0.5| < 0.06.
    rng = np.random.default_rng(2024)
    base = _bank(rng, 30)
    true_new = _to_new_scale(base, 1.25, 0.5)
    noisy = ItemParams(
        true_new.ids,
        true_new.models,
        true_new.a * np.exp(rng.normal(0, 0.08, 30)),
        true_new.b + rng.normal(0, 0.08, true_new.b.shape),
        true_new.c,
    )
    for method in ("stocking_lord", "haebara"):
        k = link_scales(base, noisy, method=method)
        assert abs(k.A - 1.25) < 0.06, (method, k)
        assert abs(k.B - 0.5) < 0.06, (method, k)
    # the TCC of the linked items sits on the base TCC
    k = link_scales(base, noisy)
    theta = np.linspace(-3, 3, 25)
    base_tcc = expected_score(base, theta).sum(axis=1)
    linked_tcc = expected_score(transform_params(noisy, k), theta).sum(axis=1)
    gap = base_tcc - linked_tcc
    assert np.max(np.abs(gap)) < 0.4


def test_separate_calibrations_are_linked_back_to_the_generating_scale() -> None:
    # Base form (items 0-19) calibrated on N(0, 1) examinees, new form (items 4-23) on a
    # N(0.5, 1.2^2) group; each calibration fixes its own group at N(0, 1), so the new scale is
    # theta_new = (theta - 0.5) / 1.2 and the true constants are A = 1.2, B = 0.5. 16 common
    # items (12 2PL, 4 GRM), 3,000 persons per form; stated tolerance 0.1 for every method.
    rng = np.random.default_rng(12)
    n_items = 24
    models = ("2pl",) * 18 + ("grm",) * 6
    b = np.full((n_items, 3), np.nan)
    b[:18, 0] = np.linspace(-1.8, 1.8, 18)
    b[18:] = np.sort(rng.normal(0, 1, (6, 3)), axis=1)
    true = ItemParams(
        tuple(f"i{j}" for j in range(n_items)), models, rng.lognormal(0, 0.25, n_items), b, np.zeros(n_items)
    )
    x_base = simulate_responses(true.subset(range(20)), rng.normal(0.0, 1.0, 3000), rng)
    x_new = simulate_responses(true.subset(range(4, 24)), rng.normal(0.5, 1.2, 3000), rng)
    base = calibrate(x_base, list(models[:20]), item_ids=true.ids[:20], se="none").params
    new = calibrate(x_new, list(models[4:]), item_ids=true.ids[4:], se="none").params
    for method in METHODS:
        k = link_scales(base, new, method=method)  # type: ignore[arg-type]
        assert abs(k.A - 1.2) < 0.1, k
        assert abs(k.B - 0.5) < 0.1, k
    k = link_scales(base, new)
    unique = transform_params(new, k).subset(["i20", "i21", "i22", "i23"])
    assert_allclose(unique.b, true.subset(["i20", "i21", "i22", "i23"]).b, atol=0.25)


def test_only_common_items_are_used() -> None:
    rng = np.random.default_rng(3)
    base = _bank(rng)
    new = _to_new_scale(base, 0.8, 0.2)
    extra = ItemParams(("new1",), ("2pl",), np.array([1.0]), np.array([[5.0]]), np.zeros(1))
    new_form = ItemParams.concatenate([new.subset(range(12)), extra])
    base_form = base.subset(range(4, 20))  # shares items i4..i11
    k = link_scales(base_form, new_form, method="stocking_lord")
    assert_allclose([k.A, k.B], [0.8, 0.2], atol=1e-6)
    k_sub = link_scales(base, new, method="mean_sigma", common=["i1", "i2", "i3"])
    assert_allclose([k_sub.A, k_sub.B], [0.8, 0.2], atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    slope=st.floats(0.3, 3.0),
    intercept=st.floats(-2.0, 2.0),
)
def test_transformation_leaves_response_probabilities_unchanged(seed: int, slope: float, intercept: float) -> None:
    rng = np.random.default_rng(seed)
    params = _bank(rng, 10)
    k = LinkingConstants(slope, intercept, "given")
    theta = rng.normal(size=7)
    moved = transform_params(params, k)
    assert_allclose(probabilities(moved, transform_theta(theta, k)), probabilities(params, theta), atol=1e-12)
    back = transform_params(moved, LinkingConstants(1 / slope, -intercept / slope, "inverse"))
    assert_allclose(back.a, params.a, rtol=1e-12)
    assert_allclose(back.b, params.b, atol=1e-10)
    assert_allclose(transform_se(np.array([0.3]), k), [0.3 * slope])


def test_linking_errors() -> None:
    base = _bank(np.random.default_rng(4))
    other = ItemParams(("zz",), ("2pl",), np.ones(1), np.zeros((1, 1)), np.zeros(1))
    with pytest.raises(DataError, match="share no items"):
        link_scales(base, other)
    changed = ItemParams(("i0",), ("3pl",), np.ones(1), np.zeros((1, 1)), np.array([0.1]))
    with pytest.raises(ParameterError, match="differs"):
        link_scales(base, changed, common=["i0"])
    with pytest.raises(DataError, match="unknown linking method"):
        link_scales(base, base, method="equipercentile")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        transform_params(base, LinkingConstants(-1.0, 0.0, "bad"))


def test_the_stocking_lord_criterion_is_the_tcc_difference_by_hand_and_zero_at_an_exact_link() -> None:
    """Hand computation: the N(0, 1)-weighted mean squared TCC difference on 41 nodes of [-4, 4]."""
    base = _bank(np.random.default_rng(21))
    truth = LinkingConstants(1.3, -0.2, "truth")
    new = transform_params(base, LinkingConstants(1 / truth.A, -truth.B / truth.A, "inverse"))
    found = link_scales(base, new)
    assert linking_criterion(base, new, found) < 1e-12
    off = LinkingConstants(1.1, 0.1, "off")
    nodes = np.linspace(-4, 4, 41)
    w = np.exp(-0.5 * nodes**2)
    w /= w.sum()
    tcc_base = expected_score(base, nodes).sum(axis=1)
    tcc_new = expected_score(transform_params(new, off), nodes).sum(axis=1)
    assert linking_criterion(base, new, off) == pytest.approx(float(np.sum(w * (tcc_base - tcc_new) ** 2)), rel=1e-9)
    haebara = linking_criterion(base, new, off, method="haebara")
    assert haebara > 0 and linking_criterion(base, new, found, method="haebara") < 1e-12
    with pytest.raises(DataError, match="no characteristic-curve criterion"):
        linking_criterion(base, new, off, method="mean_sigma")
