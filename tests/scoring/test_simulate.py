from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from scoring import booklet_design, probabilities, random_item_params, random_sparse_design, simulate_responses
from scoring.exceptions import DataError, ParameterError


def test_random_item_params_shapes_and_ranges() -> None:
    rng = np.random.default_rng(31)
    p = random_item_params(50, ["rasch", "2pl", "3pl", "grm", "gpcm"] * 10, rng, n_categories=5)
    assert p.n_items == 50 and p.ids[0] == "item01"
    assert np.all(p.a[np.array(p.models) == "rasch"] == 1.0)
    assert np.all((p.a >= 0.4) & (p.a <= 2.5))
    three = np.array(p.models) == "3pl"
    assert np.all((p.c[three] >= 0.1) & (p.c[three] <= 0.25)) and np.all(p.c[~three] == 0)
    assert_array_equal(p.max_scores, [1, 1, 1, 4, 4] * 10)
    with pytest.raises(ParameterError):
        random_item_params(3, ["2pl"], rng)


def test_same_seed_same_data() -> None:
    def run() -> np.ndarray:
        rng = np.random.default_rng(32)
        p = random_item_params(5, "grm", rng)
        return simulate_responses(p, rng.standard_normal(50), rng)

    assert_array_equal(run(), run())


def test_response_frequencies_follow_the_model() -> None:
    rng = np.random.default_rng(33)
    p = random_item_params(3, ["2pl", "grm", "gpcm"], rng)
    theta = np.full(40000, 0.7)
    x = simulate_responses(p, theta, rng)
    prob = probabilities(p, [0.7])[0]
    for j in range(3):
        freq = np.bincount(x[:, j].astype(int), minlength=prob.shape[1]) / x.shape[0]
        assert_allclose(freq, prob[j], atol=0.01)


def test_design_masks_leave_nan_and_sparse_masks_give_sparse_responses() -> None:
    rng = np.random.default_rng(34)
    p = random_item_params(10, "2pl", rng)
    mask = random_sparse_design(200, 10, 4, rng)
    assert_array_equal(mask.sum(axis=1), 4)
    x = simulate_responses(p, rng.standard_normal(200), rng, design_mask=mask)
    assert_array_equal(~np.isnan(x), mask)
    smask = random_sparse_design(200, 10, 4, rng, sparse=True)
    assert sp.issparse(smask) and smask.nnz == 800
    xs = simulate_responses(p, rng.standard_normal(200), rng, design_mask=smask)
    assert sp.issparse(xs) and xs.nnz == 800  # explicit zeros are kept as responses
    assert set(np.unique(xs.data)) <= {0.0, 1.0}
    with pytest.raises(DataError):
        simulate_responses(p, np.zeros(3), rng, design_mask=np.ones((2, 10), bool))


def test_booklet_design_links_every_booklet() -> None:
    mask = booklet_design(100, 20, n_blocks=5, blocks_per_booklet=2)
    assert_array_equal(mask.sum(axis=1), 8)
    booklets = np.unique(mask, axis=0)
    assert booklets.shape[0] == 5
    # consecutive booklets share a block, and every item appears in exactly two booklets
    assert_array_equal(booklets.sum(axis=0), 2)
    shuffled = booklet_design(100, 20, n_blocks=5, rng=np.random.default_rng(35))
    assert_array_equal(np.sort(shuffled.sum(axis=0)), np.sort(mask.sum(axis=0)))
    with pytest.raises(ValueError):
        booklet_design(10, 4, n_blocks=6)
