"""RP67 locations, the ordered item booklet and a panel's cuts, against hand computations."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring.bookmark import order_booklet, panel_cut, rp_locations
from scoring.irt import probabilities
from scoring.params import ItemParams

LOGIT = math.log(0.67 / 0.33)


def _params() -> ItemParams:
    return ItemParams(
        ids=("A", "G", "X"),
        models=("2pl", "gpcm", "2pl"),
        a=np.array([1.2, 0.8, 1.0]),
        b=np.array([[0.5, np.nan], [-0.4, 0.9], [-1.0, np.nan]]),
        c=np.zeros(3),
    )


def gpcm_rp67(a: float, b1: float, b2: float) -> tuple[float, float]:
    """By hand: with u = exp(a theta), P0 = 1 / (1 + alpha u + beta u^2), P2 = beta u^2 / (same)."""
    alpha, beta = math.exp(-a * b1), math.exp(-a * (b1 + b2))
    # P(X >= 1) = 1 - P0 = 0.67  <=>  beta u^2 + alpha u + 1 - 1/0.33 = 0
    c0 = 1 - 1 / 0.33
    u1 = (-alpha + math.sqrt(alpha**2 - 4 * beta * c0)) / (2 * beta)
    # P(X >= 2) = P2 = 0.67  <=>  0.33 beta u^2 - 0.67 alpha u - 0.67 = 0
    u2 = (0.67 * alpha + math.sqrt((0.67 * alpha) ** 2 + 4 * 0.33 * beta * 0.67)) / (2 * 0.33 * beta)
    return math.log(u1) / a, math.log(u2) / a


def test_rp67_of_a_2pl_and_a_gpcm_item_match_the_hand_computation() -> None:
    got = {(j, k): t for j, k, t in rp_locations(_params())}
    g1, g2 = gpcm_rp67(0.8, -0.4, 0.9)
    assert_allclose(got[(0, 1)], 0.5 + LOGIT / 1.2, atol=1e-9)
    assert_allclose(got[(2, 1)], -1.0 + LOGIT / 1.0, atol=1e-9)
    assert_allclose([got[(1, 1)], got[(1, 2)]], [g1, g2], atol=1e-9)
    p = probabilities(_params(), np.array([g1, g2]))
    assert_allclose([1 - p[0, 1, 0], p[1, 1, 2]], [0.67, 0.67], atol=1e-9)  # the definition, checked back


def test_3pl_and_grm_follow_their_closed_forms() -> None:
    params = ItemParams(ids=("C", "R"), models=("3pl", "grm"), a=np.array([1.5, 1.1]),
                        b=np.array([[0.2, np.nan], [-0.5, 0.7]]), c=np.array([0.2, 0.0]))  # fmt: skip
    got = [t for _, _, t in rp_locations(params)]
    star = (0.67 - 0.2) / 0.8
    assert_allclose(got, [0.2 + math.log(star / (1 - star)) / 1.5, -0.5 + LOGIT / 1.1, 0.7 + LOGIT / 1.1], atol=1e-9)


def test_the_booklet_orders_every_score_point_by_its_location() -> None:
    pages = order_booklet(_params())
    assert [(p.page, p.item, p.score) for p in pages] == [(1, "X", 1), (2, "G", 1), (3, "A", 1), (4, "G", 2)]
    assert all(a.theta < b.theta for a, b in zip(pages, pages[1:], strict=False))


def test_the_panel_cut_is_the_median_of_the_bookmarked_pages_locations() -> None:
    pages = order_booklet(_params())
    cut = panel_cut(pages, [1, 3, 3, 4])
    thetas = [pages[0].theta, pages[2].theta, pages[2].theta, pages[3].theta]
    assert cut.median_page == 3.0
    assert_allclose(cut.theta, pages[2].theta)
    assert_allclose(cut.sd, statistics.stdev(thetas))
    q = statistics.quantiles(thetas, n=4, method="inclusive")
    assert_allclose(cut.iqr, q[2] - q[0])
    with pytest.raises(ValueError, match="page from 1 to 4"):
        panel_cut(pages, [5])
