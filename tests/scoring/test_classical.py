from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring.classical import compute_classical_stats

NAN = np.nan


def test_p_values_item_rest_and_omits_match_a_hand_computation() -> None:
    # 5 persons, items: two dichotomous, one scored 0..2; person 4 was not given item 3
    x = np.array(
        [
            [1, 1, 2],
            [1, 0, 1],
            [0, 0, 0],
            [1, 1, NAN],
            [0, 1, 2],
        ]
    )
    omitted = np.zeros(x.shape, dtype=bool)
    omitted[2, 2] = True  # person 3 saw item 3 and left it
    omitted[3, 2] = True  # not given: must not count
    got = compute_classical_stats(x, [1, 1, 2], omitted)
    assert got.n.tolist() == [5, 5, 4]
    # p: item 1 3/5; item 2 3/5; item 3 (2+1+0+2)/4/2 = 5/8
    assert_allclose(got.p_value, [0.6, 0.6, 0.625])
    assert_allclose(got.omit_rate, [0.0, 0.0, 0.25])
    # item 1 against rest (item 2 + item 3): rest = [3, 1, 0, 1, 3]
    item, rest = np.array([1, 1, 0, 1, 0.0]), np.array([3, 1, 0, 1, 3.0])
    hand = ((item - item.mean()) * (rest - rest.mean())).sum() / np.sqrt(
        ((item - item.mean()) ** 2).sum() * ((rest - rest.mean()) ** 2).sum()
    )
    assert_allclose(got.item_rest[0], hand)
    # item 3 over the four persons given it: item [2, 1, 0, 2], rest [2, 1, 0, 1]
    assert_allclose(got.item_rest[2], np.corrcoef([2, 1, 0, 2], [2, 1, 0, 1])[0, 1])


def test_an_item_everybody_gets_right_has_no_correlation() -> None:
    x = np.array([[1, 0], [1, 1], [1, 0], [1, 1.0]])
    got = compute_classical_stats(x, [1, 1])
    assert np.isnan(got.item_rest[0]) and got.p_value[0] == 1.0


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="max_scores"):
        compute_classical_stats(np.zeros((3, 2)), [1])
    with pytest.raises(ValueError, match="omitted"):
        compute_classical_stats(np.zeros((3, 2)), [1, 1], np.zeros((2, 2), dtype=bool))
