"""The level pass's shortcuts give the same numbers as the plain engine calls."""

from __future__ import annotations

import numpy as np

from reports.level_stats import _percentiles, level_design
from scoring.survey import ReplicateDesign, estimate_mean, estimate_percentiles


def _design(rng: np.random.Generator) -> tuple[ReplicateDesign, np.ndarray, np.ndarray]:
    n_schools = 36
    school = np.repeat(np.arange(n_schools), rng.integers(8, 15, n_schools))
    strata = school // 12  # three strata of 12 schools
    weights = rng.uniform(0.5, 2.0, school.size)  # continuous: no exact ties at a quantile's target
    return ReplicateDesign.jkn(school, strata=strata, weights=weights), school, strata


def test_percentiles_block_by_block_equal_one_call_over_everybody() -> None:
    rng = np.random.default_rng(5)
    design, school, _ = _design(rng)
    y = rng.normal(500, 100, (school.size, 3))
    probs = [0.1, 0.5, 0.9]
    for groups in (school // 4, school // 12, np.where(school % 2 == 0, school // 6, -1)):  # inside and across strata
        fast = _percentiles(y, design, probs, groups)
        plain = estimate_percentiles(y, design, probs, groups=groups)
        assert fast.groups == plain.groups and fast.statistics == plain.statistics
        np.testing.assert_array_equal(fast.estimates, plain.estimates)
        np.testing.assert_array_equal(fast.replicates, plain.replicates)
        np.testing.assert_array_equal(fast.n_schools, plain.n_schools)


def test_a_level_inside_the_variance_units_is_computed_in_census_mode() -> None:
    rng = np.random.default_rng(6)
    design, school, strata = _design(rng)
    assert level_design(design, school).n_replicates == 0  # schools: each inside one unit
    assert level_design(design, strata) is design  # strata span many units
    y = rng.normal(size=(school.size, 2))
    full = estimate_mean(y, design, groups=school).combine()
    census = estimate_mean(y, level_design(design, school), groups=school).combine()
    np.testing.assert_allclose(full.estimate, census.estimate)
    np.testing.assert_allclose(full.se_sampling, 0.0, atol=1e-10)
    np.testing.assert_allclose(full.se, census.se, rtol=1e-9)
