r"""Participation rates per stratum (and overall), weighted and unweighted, flagged against the design.

For the sampled (original) schools :math:`S` of a group, the unweighted school rate before
replacement is the share of them that took part; after replacement, the share whose place was
taken, by the school itself or by a replacement that took part. The weighted rates weight each
original by :math:`W_1 E` (base weight times enrolment of the target grades), as IEA and PISA
do. The student rate counts the sampled students of the schools used: unweighted, assessed over
sampled; weighted, with each student's :math:`W_1 A_1 W_2` (the weight before the student
adjustment). The overall rate is the school rate (after replacement where the design uses
replacements) times the student rate. A rate below the design's threshold is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.sampling.design import SamplingDesign
from assess.sampling.select import DrawnSchools
from assess.sampling.weights import SampleWeights, StudentRecords

__all__ = ["ParticipationRate", "participation_rates"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ParticipationRate:
    """The rates of one stratum (or ``全部`` for the whole sample)."""

    group: str
    schools_sampled: int
    schools_participating: int
    schools_after_replacement: int
    school_rate: float
    school_rate_after: float
    school_rate_weighted: float
    school_rate_after_weighted: float
    students_sampled: int
    students_assessed: int
    student_rate: float
    student_rate_weighted: float
    overall_rate_weighted: float
    school_flag: bool
    student_flag: bool


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def participation_rates(
    schools: DrawnSchools, students: StudentRecords, weights: SampleWeights, design: SamplingDesign
) -> list[ParticipationRate]:
    """The rates of every stratum, in key order, then of the whole sample (``全部``)."""
    original = schools.role == 0
    filled = np.zeros(schools.n, dtype=bool)
    filled[original & weights.used] = True
    for j in np.nonzero(weights.used & ~original)[0].tolist():
        filled[int(schools.replaces[j])] = True
    size = weights.school_base * schools.enrolment.sum(axis=1)
    s = students.school
    in_used = weights.used[s]
    w_before = weights.base * weights.school_adjustment * weights.within
    out: list[ParticipationRate] = []
    keys = sorted(set(schools.stratum[original].tolist()))
    for key in [*keys, "全部"]:
        mine: BoolArray = original & (schools.stratum == key) if key != "全部" else original.copy()
        st = in_used & (schools.stratum[s] == key) if key != "全部" else in_used.copy()
        sampled_n = int(st.sum())
        assessed = st & students.assessed
        sch = _ratio(float(size[mine & weights.participated].sum()), float(size[mine].sum()))
        sch_after = _ratio(float(size[mine & filled].sum()), float(size[mine].sum()))
        stu_w = _ratio(float(w_before[assessed].sum()), float(w_before[st].sum()))
        school_used = sch_after if design.use_replacements else sch
        rate = ParticipationRate(
            group=key,
            schools_sampled=int(mine.sum()),
            schools_participating=int((mine & weights.participated).sum()),
            schools_after_replacement=int((mine & filled).sum()),
            school_rate=_ratio(float((mine & weights.participated).sum()), float(mine.sum())),
            school_rate_after=_ratio(float((mine & filled).sum()), float(mine.sum())),
            school_rate_weighted=sch,
            school_rate_after_weighted=sch_after,
            students_sampled=sampled_n,
            students_assessed=int(assessed.sum()),
            student_rate=_ratio(float(assessed.sum()), float(sampled_n)),
            student_rate_weighted=stu_w,
            overall_rate_weighted=school_used * stu_w,
            school_flag=bool(school_used < design.school_threshold),
            student_flag=bool(stu_w < design.student_threshold),
        )
        out.append(rate)
    return out
