"""Distractor analysis: option shares by ability group."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring.distractors import compute_option_shares
from scoring.exceptions import DataError


def test_option_shares_of_a_hand_computed_table() -> None:
    # 6 persons, 3 groups of 2 by ability; options A (key), B, C; person 1 omits
    ability = np.array([-1.0, -2.0, 0.5, 0.0, 2.0, 1.5])
    answer = ["B", None, "A", "C", "A", "A"]
    chosen = np.array([[a == o for o in "ABC"] for a in answer])
    res = compute_option_shares(chosen, ability, options=["A", "B", "C"], key=["A"], n_groups=3)
    # groups: {-2, -1} -> persons 1, 0; {0, 0.5} -> 3, 2; {1.5, 2} -> 5, 4
    assert_allclose(res.n, [2, 2, 2])
    assert_allclose(res.mean_ability, [-1.5, 0.25, 1.75])
    assert_allclose(res.shares, [[0.0, 0.5, 0.0], [0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])
    assert_allclose(res.omitted, [0.5, 0.0, 0.0])
    assert_allclose(res.discrimination, [1.0, -0.5, 0.0])
    assert res.key == (True, False, False)
    assert res.suspect == ()


def test_a_miskeyed_item_shows_a_rising_distractor() -> None:
    # simulated: the ablest choose B, which is keyed as wrong; the key A is chosen at random
    rng = np.random.default_rng(3)
    theta = rng.normal(size=4000)
    p_b = 1 / (1 + np.exp(-1.5 * theta))
    picks = np.where(rng.random(4000) < p_b, 1, rng.integers(0, 4, 4000))
    picks = np.where(picks == 1, 1, rng.choice([0, 2, 3], 4000))
    chosen = picks[:, None] == np.arange(4)[None, :]
    res = compute_option_shares(chosen, theta, options=list("ABCD"), key=["A"])
    assert res.n.sum() == 4000 and (res.n == 800).all()
    assert np.all(np.diff(res.shares[:, 1]) > 0)  # B rises group by group
    assert set(res.suspect) == {"A", "B"}  # the key falls, a distractor rises
    assert_allclose(res.shares.sum(axis=1), 1.0)  # single choice without omissions


def test_multiple_response_shares_need_not_add_up() -> None:
    chosen = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=bool)
    res = compute_option_shares(chosen, [0.0, 1.0, 2.0, 3.0], options=["A", "B", "C"], key=["A", "B"], n_groups=2)
    assert_allclose(res.shares, [[1.0, 0.5, 0.5], [0.5, 1.0, 1.0]])
    assert res.suspect == ("A", "C")


@pytest.mark.parametrize(
    ("chosen", "ability"),
    [
        (np.zeros((3, 2), dtype=bool), [0.0, 1.0, 2.0]),  # 3 persons for 5 groups
        (np.zeros((6, 3), dtype=bool), [0.0] * 6),  # 3 options for 2 labels
        (np.zeros((6, 2), dtype=bool), [0.0, 1.0, np.nan, 2.0, 3.0, 4.0]),
    ],
)
def test_bad_input_is_refused(chosen: np.ndarray, ability: list[float]) -> None:
    with pytest.raises(DataError):
        compute_option_shares(chosen, ability, options=["A", "B"], key=["A"])
