"""Participation rates: a hand-computed case, weighted and unweighted, flagged against the thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from assess.sampling.participation import participation_rates
from assess.sampling.select import DrawnSchools
from assess.sampling.weights import StudentRecords, compute_weights
from tests.assess.sampling.helpers import design


def test_rates_before_and_after_replacement_by_hand() -> None:
    # stratum h: A (pi .5, 100 pupils) takes part with 30 of 40; B (pi .25, 40) refuses, its replacement B1
    # (pi .2, 60) takes part with all 40; C (pi .5, 100) takes part with 36 of 40.
    schools = DrawnSchools(
        code=np.array(["A", "B", "B1", "C"]), stratum=np.array(["h"] * 4), role=np.array([0, 0, 1, 0]),
        replaces=np.array([-1, -1, 1, -1]), order=np.arange(4), probability=np.array([0.5, 0.25, 0.2, 0.5]),
        certainty=np.zeros(4, dtype=bool), enrolment=np.array([[100], [40], [60], [100]]), stratum_enrolment={},
    )  # fmt: skip
    school = np.repeat(np.arange(4), 40)
    assessed = np.concatenate([np.arange(40) < 30, np.zeros(40, bool), np.ones(40, bool), np.arange(40) < 36])
    students = StudentRecords(school, np.full(160, 4), assessed)
    d = design(grades=(4,), school_threshold=0.85, student_threshold=0.80)
    w = compute_weights(schools, students, d)
    h, total = participation_rates(schools, students, w, d)
    assert h.group == "h" and total.group == "全部"
    assert (h.schools_sampled, h.schools_participating, h.schools_after_replacement) == (3, 2, 3)
    assert h.school_rate == pytest.approx(2 / 3) and h.school_rate_after == 1.0
    # W1 E: A 200, B 160, C 200 -> weighted before = 400 / 560
    assert h.school_rate_weighted == pytest.approx(400 / 560) and h.school_rate_after_weighted == 1.0
    assert (h.students_sampled, h.students_assessed) == (120, 106)
    a1 = (200 + 160 + 200) / (200 + 300 + 200)
    wa, wb1, wc = 2 * a1 * 100 / 40, 5 * a1 * 60 / 40, 2 * a1 * 100 / 40
    assert h.student_rate_weighted == pytest.approx((30 * wa + 40 * wb1 + 36 * wc) / (40 * (wa + wb1 + wc)))
    assert h.overall_rate_weighted == pytest.approx(h.student_rate_weighted)
    assert not h.school_flag and not h.student_flag
    strict = design(grades=(4,), use_replacements=False, student_threshold=0.95)
    h2 = participation_rates(schools, students, compute_weights(schools, students, strict), strict)[0]
    assert h2.school_flag and h2.student_flag and h2.schools_after_replacement == 2
