"""School selection: frequencies match inclusion probabilities, certainty schools, replacements, allocation."""

from __future__ import annotations

import numpy as np
import pytest

from assess.sampling.exceptions import DesignError
from assess.sampling.select import allocate, draw_sample, measure_floors, sample_rows, stratum_keys
from tests.assess.sampling.helpers import design, small_frame


def _hand_probabilities(frame, d, allocation) -> np.ndarray:  # type: ignore[no-untyped-def]
    """pi_i = n MOS_i / M per stratum, certainty schools (n MOS_i >= M) taken out one round at a time."""
    keys = stratum_keys(frame, d.strata_by)
    mos = np.maximum(frame.enrolled(d.grades), measure_floors(frame, d)).astype(float)
    p = np.zeros(frame.n_schools)
    for key, n in allocation.items():
        rows = np.nonzero(keys == key)[0]
        certain: set[int] = set()
        while True:
            rest = [r for r in rows if r not in certain]
            k, total = n - len(certain), mos[rest].sum()
            new = {r for r in rest if k * mos[r] >= total}
            if not new:
                break
            certain |= new
        for r in rows:
            p[r] = 1.0 if r in certain else k * mos[r] / total
    return p


def test_selection_frequency_matches_the_inclusion_probability() -> None:
    """3,000 draws: every school's frequency within 4 binomial SEs (plus 0.005) of its hand-computed probability."""
    frame = small_frame(40, big=1)
    d = design(schools=10)
    draws = 3000
    hits = np.zeros(frame.n_schools)
    first = draw_sample(frame, d, seed=0)
    p = _hand_probabilities(frame, d, first.allocation)
    for seed in range(draws):
        s = draw_sample(frame, d, seed=seed)
        hits[s.index[s.sampled]] += 1
        np.testing.assert_allclose(s.probability[s.sampled], p[s.index[s.sampled]], rtol=1e-12)
    freq = hits / draws
    se = np.sqrt(p * (1 - p) / draws)
    assert np.all(np.abs(freq - p) <= 4 * se + 0.005), np.max(np.abs(freq - p) / (se + 1e-12))
    assert first.sampled.sum() == 10 and p[40] == 1.0 and hits[40] == draws


def test_probabilities_sum_to_the_allocation_and_weights_to_the_enrolment() -> None:
    frame = small_frame(40, big=1)
    d = design(schools=10, min_measure=1)  # no small-school floor: the HT total of enrolment is exact
    s = draw_sample(frame, d, seed=3)
    for key, n in s.allocation.items():
        mine = (s.stratum == key) & s.sampled
        assert mine.sum() == n
        assert np.sum(s.enrolment[mine] / s.probability[mine]) == pytest.approx(s.stratum_enrolment[key])


def test_certainty_schools_are_always_selected_and_taken_out_iteratively() -> None:
    frame = small_frame(40, big=2)  # two schools of 5,000 beside 40 of 20..300
    d = design(schools=8)
    big = {40, 41}
    for seed in range(50):
        s = draw_sample(frame, d, seed=seed)
        chosen = set(s.index[s.sampled].tolist())
        assert big <= chosen
        assert set(s.index[s.certainty].tolist()) == big
        assert np.all(s.probability[s.certainty] == 1.0)
        for key in set(s.stratum[s.certainty].tolist()):
            rest = (s.stratum == key) & s.sampled & ~s.certainty
            assert np.all(s.probability[rest] < 1.0)


def test_replacements_are_the_neighbours_in_the_sort_order() -> None:
    frame = small_frame(60)
    s = draw_sample(frame, design(schools=12), seed=11)
    for i in np.nonzero(~s.sampled)[0]:
        j = int(s.replaces[i])
        assert s.role[j] == 0 and s.stratum[i] == s.stratum[j]
        assert s.order[i] == s.order[j] + (1 if s.role[i] == 1 else -1)
    assert len(set(s.index.tolist())) == s.n  # no school twice
    rows = sample_rows(s)
    assert len(rows) == s.n and rows[0][0] == s.stratum[0]


def test_a_seed_reproduces_the_draw() -> None:
    frame = small_frame(60)
    a, b = draw_sample(frame, design(), seed=5), draw_sample(frame, design(), seed=5)
    c = draw_sample(frame, design(), seed=6)
    assert np.array_equal(a.index, b.index) and not np.array_equal(a.index, c.index)


def test_small_schools_get_the_floor_as_their_measure() -> None:
    frame = small_frame(60)
    s = draw_sample(frame, design(schools=20), seed=1)
    assert np.all(s.measure >= 40) and np.all(s.measure == np.maximum(s.enrolment, 40))


def test_allocation_rules() -> None:
    keys = ["a", "b", "c"]
    measure = np.array([900.0, 90.0, 10.0])
    counts = np.array([100, 50, 3])
    prop = allocate(design(schools=20), keys, measure, counts)
    assert prop == {"a": 16, "b": 2, "c": 2}  # raised to 2, the rest shared by measure
    mini = allocate(design(allocation="minimum", schools=20, minimum=4), keys, measure, counts)
    assert mini == {"a": 12, "b": 5, "c": 3}  # 4, 4, 3 (c has 3 schools), then 9 shared by measure
    expl = allocate(design(allocation="explicit", sizes={"a": 5, "b": 2, "c": 2}), keys, measure, counts)
    assert expl == {"a": 5, "b": 2, "c": 2}
    with pytest.raises(DesignError) as caught:
        allocate(design(allocation="explicit", sizes={"a": 5, "z": 2, "c": 9}), keys, measure, counts)
    where = {p.where for p in caught.value.problems}
    assert where == {"strata.sizes.b", "strata.sizes.z", "strata.sizes.c"}
    with pytest.raises(DesignError, match="frame has 153 eligible"):
        allocate(design(schools=500), keys, measure, counts)


def test_strata_keys_join_the_variables() -> None:
    frame = small_frame(4)
    assert stratum_keys(frame, ("region", "locale")).tolist() == [
        "东部/urban",
        "西部/urban",
        "东部/rural",
        "西部/rural",
    ]
