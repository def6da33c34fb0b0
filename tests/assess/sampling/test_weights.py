"""Weights: they add up to the frame's enrolment per stratum, before and after non-response; trimming keeps totals."""

from __future__ import annotations

import numpy as np
import pytest

from assess.sampling.select import DrawnSchools, draw_sample
from assess.sampling.weights import StudentRecords, compute_weights, trim_weights
from tests.assess.sampling.helpers import design, sit, small_frame


def _stratum_totals(schools, students, w) -> dict[str, float]:  # type: ignore[no-untyped-def]
    key = schools.stratum[students.school]
    return {str(k): float(w.final[key == k].sum()) for k in np.unique(schools.stratum)}


@pytest.mark.parametrize(("refuse", "absent", "use"), [(0.0, 0.0, True), (0.3, 0.15, True), (0.3, 0.15, False)])
def test_weights_add_up_to_the_frame_enrolment_of_each_stratum(refuse: float, absent: float, use: bool) -> None:
    frame = small_frame(80, big=1)
    d = design(schools=16, min_measure=1, use_replacements=use)  # no floor: the totals are exact
    for seed in range(20):
        s = draw_sample(frame, d, seed=seed)
        schools = s.schools()
        students = sit(schools, d, np.random.default_rng(seed), refuse=refuse, absent=absent)
        w = compute_weights(schools, students, d)
        if len(set(w.cell.tolist())) < len(s.allocation):
            continue  # a stratum without a school taking part was merged: its total is checked below
        got = _stratum_totals(schools, students, w)
        for key, total in s.stratum_enrolment.items():
            assert got[key] == pytest.approx(total, rel=1e-9)
        assert np.all(w.final[~students.assessed] == 0)
        if refuse == 0 and absent == 0:
            assert np.allclose(w.school_adjustment[students.assessed & w.used[students.school]], 1.0)


def test_a_stratum_without_a_school_taking_part_merges_with_its_siblings() -> None:
    frame = small_frame(80)
    d = design(schools=16, min_measure=1, replacements=0)
    s = draw_sample(frame, d, seed=2)
    schools = s.schools()
    students = sit(schools, d, np.random.default_rng(0))
    dead = schools.stratum == "东部/rural"
    students = StudentRecords(students.school, students.grade, students.assessed & ~dead[students.school])
    w = compute_weights(schools, students, d)
    assert set(w.cell[schools.stratum == "东部/rural"].tolist()) == {"东部"}
    east = np.char.startswith(schools.stratum[students.school], "东部")
    want = s.stratum_enrolment["东部/rural"] + s.stratum_enrolment["东部/urban"]
    assert w.final[east].sum() == pytest.approx(want, rel=1e-9)


def test_a_hand_computed_case() -> None:
    """Two sampled schools (pi 0.5 and 0.25, 100 and 40 pupils of grade 4), one refuses; its replacement
    (pi 0.2, 60 pupils) takes part. 20 of the first school's 40 sampled pupils sit; all 40 of the replacement."""
    schools = DrawnSchools(
        code=np.array(["A", "B", "B1"]), stratum=np.array(["h", "h", "h"]), role=np.array([0, 0, 1]),
        replaces=np.array([-1, -1, 1]), order=np.array([0, 3, 4]), probability=np.array([0.5, 0.25, 0.2]),
        certainty=np.zeros(3, dtype=bool), enrolment=np.array([[100], [40], [60]]), stratum_enrolment={"h": 360},
    )  # fmt: skip
    school = np.array([0] * 40 + [1] * 40 + [2] * 40)
    assessed = np.array([True] * 20 + [False] * 20 + [False] * 40 + [True] * 40)
    students = StudentRecords(school, np.full(120, 4), assessed)
    d = design(grades=(4,), trim=0.0)
    w = compute_weights(schools, students, d)
    # W1 E: A 200, B 160, B1 300; A1 = (200 + 160) / (200 + 300) = 0.72
    assert w.used.tolist() == [True, False, True]
    a_pupil = 2.0 * 0.72 * (100 / 40) * (40 / 20)
    b1_pupil = 5.0 * 0.72 * (60 / 40) * (40 / 40)
    np.testing.assert_allclose(w.final[:20], a_pupil)
    np.testing.assert_allclose(w.final[80:], b1_pupil)
    assert w.final.sum() == pytest.approx(360.0)
    assert w.final[20:80].sum() == 0


def test_with_the_small_school_floor_the_totals_are_unbiased() -> None:
    """With the floor binding (a class of 40, pupils 20..300), the total is right on average over 400 draws."""
    frame = small_frame(80)
    d = design(schools=16)
    totals = []
    for seed in range(400):
        s = draw_sample(frame, d, seed=seed)
        schools = s.schools()
        w = compute_weights(schools, sit(schools, d, np.random.default_rng(seed)), d)
        totals.append(w.final.sum())
    t = np.asarray(totals)
    truth = sum(s.stratum_enrolment.values())
    assert abs(t.mean() - truth) < 3 * t.std(ddof=1) / np.sqrt(t.size)


def test_trimming_keeps_each_groups_total_and_caps_the_weights() -> None:
    rng = np.random.default_rng(4)
    w = rng.lognormal(0, 1.2, 600)
    g = rng.integers(0, 3, 600)
    w[:5] = 200.0
    t = trim_weights(w, g, 3.0)
    for k in range(3):
        mine = g == k
        assert t[mine].sum() == pytest.approx(w[mine].sum(), rel=1e-12)
        assert t[mine].max() <= 3.0 * np.median(t[mine]) * (1 + 1e-9)
        assert t[mine].max() < w[mine].max()
    small = w < np.median(w)
    assert np.all(t[small] >= w[small])  # the excess went to the others
    assert np.array_equal(trim_weights(w, g, 0.0), w)


def test_trimming_in_compute_weights_keeps_the_stratum_totals() -> None:
    frame = small_frame(80, big=1)
    d = design(schools=16, min_measure=1, trim=1.6)
    s = draw_sample(frame, d, seed=7)
    schools = s.schools()
    students = sit(schools, d, np.random.default_rng(7), absent=0.3)
    w = compute_weights(schools, students, d)
    assert (w.trim < 1).any()
    got = _stratum_totals(schools, students, w)
    for key, total in s.stratum_enrolment.items():
        assert got[key] == pytest.approx(total, rel=1e-9)
