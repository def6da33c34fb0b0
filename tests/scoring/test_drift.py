"""Item parameter drift between two calibrations."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring.drift import ROBUST_Z_LIMIT, Z_LIMIT, compute_drift, robust_z
from scoring.exceptions import DataError
from scoring.params import ItemParams, ItemParamsSE


def _table(a: np.ndarray, b: np.ndarray, ids: list[str]) -> ItemParams:
    return ItemParams(tuple(ids), ("2pl",) * len(ids), a, b[:, None], np.zeros(len(ids)))


def test_robust_z_by_hand() -> None:
    d = np.array([0.0, 0.1, -0.1, 0.2, 1.0])
    # median 0.1, quartiles 0.0 and 0.2: scale 0.74 * 0.2
    assert_allclose(robust_z(d), (d - 0.1) / 0.148)
    assert np.isnan(robust_z(np.zeros(4))).all()


def test_a_drifted_item_is_found_on_another_scale_and_left_out_of_the_linking() -> None:
    # the new calibration is the base on a scale with theta_base = 1.25 theta_new - 0.4, plus small
    # estimation noise; item 3 became 0.8 logits harder. The purified mean-sigma constants recover
    # the scale, only item 3 is flagged (items 7 and 19, the noise's extremes, pass the robust z
    # but not the z), and its z is its difference over the combined SEs.
    rng = np.random.default_rng(12)
    ids = [f"i{j}" for j in range(20)]
    a0, b0 = rng.lognormal(0, 0.25, 20), np.linspace(-2, 2, 20)
    big_a, big_b = 1.25, -0.4
    b_true = b0.copy()
    b_true[3] += 0.8
    a1 = a0 * big_a * np.exp(rng.normal(0, 0.02, 20))
    b1 = (b_true - big_b) / big_a + rng.normal(0, 0.02, 20)
    se0 = ItemParamsSE(tuple(ids), np.full(20, 0.05), np.full((20, 1), 0.04), np.full(20, np.nan))
    se1 = ItemParamsSE(tuple(ids), np.full(20, 0.06), np.full((20, 1), 0.03), np.full(20, np.nan))
    res = compute_drift(_table(a0, b0, ids), _table(a1, b1, ids), base_se=se0, new_se=se1)
    assert res.constants.A == pytest.approx(big_a, abs=0.03)
    assert res.constants.B == pytest.approx(big_b, abs=0.03)
    assert res.drifted.tolist() == [j == 3 for j in range(20)]
    assert res.d_b[3] == pytest.approx(0.8, abs=0.08)
    assert abs(res.robust_z_b[3]) > ROBUST_Z_LIMIT
    assert abs(res.robust_z_b[7]) > ROBUST_Z_LIMIT and abs(res.z_b[7]) < Z_LIMIT
    # by hand: the linked location and slope, the z of item 3
    c = res.constants
    assert res.b_new[3] == pytest.approx(c.A * b1[3] + c.B)
    assert res.a_new[3] == pytest.approx(a1[3] / c.A)
    assert res.z_b[3] == pytest.approx((c.A * b1[3] + c.B - b0[3]) / np.hypot(0.04, c.A * 0.03))
    assert res.z_a[3] == pytest.approx((a1[3] / c.A - a0[3]) / np.hypot(0.05, 0.06 / c.A))


def test_without_ses_z_is_missing_and_the_robust_z_still_flags() -> None:
    ids = [f"i{j}" for j in range(8)]
    b0 = np.linspace(-1.5, 1.5, 8)
    b1 = b0 + np.array([0.01, -0.02, 0.0, 0.02, -0.01, 0.015, -0.6, 0.0])
    res = compute_drift(_table(np.ones(8), b0, ids), _table(np.ones(8), b1, ids), method="mean_mean")
    assert np.isnan(res.z_b).all()
    assert res.drifted.tolist() == [j == 6 for j in range(8)]


def test_a_polytomous_item_drifts_by_its_mean_threshold() -> None:
    ids = ["p0", "p1", "p2", "p3", "p4"]
    b0 = np.array([[-1.0, 0.0], [-0.5, 0.5], [0.0, 1.0], [-2.0, -1.0], [1.0, 2.0]])
    b1 = b0 + np.array([[0.0, 0.0], [0.01, -0.01], [0.02, 0.0], [-0.01, 0.01], [0.0, 0.0]])
    base = ItemParams(tuple(ids), ("gpcm",) * 5, np.ones(5), b0, np.zeros(5))
    new = ItemParams(tuple(ids), ("gpcm",) * 5, np.ones(5), b1, np.zeros(5))
    res = compute_drift(base, new, method="mean_mean")
    assert_allclose(res.b_base, b0.mean(axis=1))


def test_too_few_common_items_are_refused() -> None:
    ids = ["i0", "i1", "i2"]
    t = _table(np.ones(3), np.zeros(3), ids)
    with pytest.raises(DataError, match="at least 4 common items"):
        compute_drift(t, t)
