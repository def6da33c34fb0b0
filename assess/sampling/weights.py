r"""Student weights after testing: base weights, non-response adjustments, trimming.

For an assessed student :math:`j` of grade :math:`g` in school :math:`i` of stratum :math:`h`
(the IEA/PISA chain; Foy & LaRoche, *TIMSS 2019 Technical Report* ch. 9; OECD, *PISA 2018
Technical Report* ch. 8):

.. math:: w_j = \underbrace{\frac{1}{\pi_i}}_{W_1}\;
          \underbrace{\frac{\sum_{k \in S_h} W_{1k} E_k}{\sum_{k \in P_h} W_{1k} E_k}}_{A_1}\;
          \underbrace{\frac{E_{ig}}{n_{ig}}}_{W_2}\;
          \underbrace{\frac{n_{ig}}{m_{ig}}}_{A_2}\; T_j

- :math:`W_1` school base weight, the inverse of the school's inclusion probability (a
  replacement's own probability, computed as if it had been drawn);
- :math:`A_1` school non-response adjustment within the explicit stratum (the cell): the sampled
  schools' weighted enrolment over that of the schools used, :math:`S_h` the sampled (original)
  schools, :math:`P_h` those that took part, each original replaced by its first participating
  replacement where the design uses replacements (``replacements.use``). A school takes part
  where at least ``thresholds.school_participation`` of its sampled students were assessed. A
  cell with no school taking part is merged with the cell its key lies in (the key's last part
  dropped: ``东部/32/rural`` into ``东部/32``), as WesVar and WinW3S collapse cells;
- :math:`W_2` within-school weight, the frame enrolment of the grade over its sampled students;
- :math:`A_2` student non-response adjustment within the cell school x grade (sampled over
  assessed). A grade of a taking-part school with no student assessed has its enrolment spread
  over the school's other grades, so the school keeps its weighted total;
- :math:`T_j` trimming: a weight above ``trim`` x the median weight of its stratum is cut to that
  cap and the excess spread over the stratum's other weights in proportion to them, repeated
  (with the median of the new weights) until none exceeds the cap, so every stratum's total is kept.

Consequences the tests check: the weights of a stratum add up to :math:`\sum_{k \in S_h} W_{1k}
E_k`, which is the frame's enrolment of the stratum exactly where no school's measure was raised
to the small-school floor (PPS by enrolment), and an unbiased estimate of it otherwise; the school
adjustment and trimming keep it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.sampling.design import SamplingDesign
from assess.sampling.exceptions import SamplingError
from assess.sampling.select import DrawnSchools

__all__ = ["SampleWeights", "StudentRecords", "compute_weights", "school_participation", "trim_weights"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True, eq=False)
class StudentRecords:
    """The sampled students of the drawn schools: school (position among the drawn schools), grade, assessed."""

    school: IntArray
    grade: IntArray
    assessed: BoolArray

    @property
    def n(self) -> int:
        """Sampled students."""
        return int(self.school.size)


@dataclass(frozen=True, eq=False)
class SampleWeights:
    """Every factor of every sampled student's weight, and the schools' part in it.

    Student arrays (aligned with :class:`StudentRecords`): ``final`` (0 for a student not
    assessed or in a school not used), ``base`` (:math:`W_1`), ``school_adjustment``
    (:math:`A_1`), ``within`` (:math:`W_2`), ``student_adjustment`` (:math:`A_2`), ``trim``
    (:math:`T`). School arrays (aligned with :class:`DrawnSchools`): ``participated`` (took
    part), ``used`` (stands in the sample: a participating original, or the replacement used
    for one), ``school_base`` and ``school_factor`` (:math:`W_1`, :math:`A_1`), ``cell`` (the
    non-response cell after any merging).
    """

    final: FloatArray
    base: FloatArray
    school_adjustment: FloatArray
    within: FloatArray
    student_adjustment: FloatArray
    trim: FloatArray
    participated: BoolArray
    used: BoolArray
    school_base: FloatArray
    school_factor: FloatArray
    cell: StrArray


def school_participation(
    schools: DrawnSchools, students: StudentRecords, threshold: float
) -> tuple[BoolArray, IntArray, IntArray]:
    """Which drawn schools took part (at least ``threshold`` of their sampled students assessed, and one).

    Returns ``(participated, sampled students, assessed students)`` per school.
    """
    sampled = np.bincount(students.school, minlength=schools.n).astype(np.int64)
    assessed = np.bincount(students.school[students.assessed], minlength=schools.n).astype(np.int64)
    took_part = (assessed > 0) & (assessed >= threshold * np.maximum(sampled, 1))
    return np.asarray(took_part, dtype=bool), sampled, assessed


def _used_schools(schools: DrawnSchools, participated: BoolArray, use_replacements: bool) -> BoolArray:
    """Each original that took part, else (with replacements) its first replacement that took part."""
    used = (schools.role == 0) & participated
    if not use_replacements:
        return np.asarray(used, dtype=bool)
    for i in np.nonzero((schools.role == 0) & ~participated)[0].tolist():
        for role in (1, 2):
            cand = np.nonzero((schools.replaces == i) & (schools.role == role))[0]
            if cand.size and participated[cand[0]]:
                used[cand[0]] = True
                break
    return np.asarray(used, dtype=bool)


def _merge_empty_cells(stratum: StrArray, used: BoolArray, original: BoolArray) -> StrArray:
    """Cells of the school adjustment: the strata; one without a used school merges with its siblings.

    The siblings are the cells under the same parent key (``东部/32/rural`` and ``东部/32/urban``
    become ``东部/32``); at the top every cell becomes one (``""``).
    """
    cell = stratum.astype(object).copy()
    while True:
        with_used = set(cell[used].tolist())
        empty = sorted({c for c in cell[original].tolist() if c not in with_used})
        if not empty:
            return np.asarray(cell, dtype=np.str_)
        for c in empty:
            if c == "":
                raise SamplingError("no sampled school took part: there is nothing to weight")
            parent = c.rsplit("/", 1)[0] if "/" in c else ""
            mine = np.array([not parent or str(x) == parent or str(x).startswith(parent + "/") for x in cell])
            cell[mine] = parent


def trim_weights(weights: FloatArray, groups: npt.ArrayLike, factor: float) -> FloatArray:
    """Cap weights at ``factor`` x their group's median, spreading the excess over the group's others.

    Each round caps the weights above ``factor`` x the group's current median and scales the rest
    up by the excess over their sum, so the group's total is kept; the rounds go on until no weight
    exceeds ``factor`` x the median (the median rises as the excess is spread, so the cap is
    recomputed each round; at most 1,000 rounds). Zero weights take no part. ``factor`` 0: no trimming.
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    if factor <= 0:
        return w
    g = np.asarray(groups)
    for key in np.unique(g[w > 0]).tolist():
        mine = np.nonzero((g == key) & (w > 0))[0]
        v = w[mine]
        for _ in range(1000):
            cap = factor * float(np.median(v))
            over = v > cap * (1 + 1e-12)
            if not over.any() or over.all():
                break
            excess = float((v[over] - cap).sum())
            v[over] = cap
            v[~over] *= 1 + excess / float(v[~over].sum())
        w[mine] = v
    return w


def compute_weights(schools: DrawnSchools, students: StudentRecords, design: SamplingDesign) -> SampleWeights:
    """Final student weights of a tested sample (see the module docstring).

    Raises
    ------
    SamplingError
        No school took part, a student's grade is not a target grade, or a student's school is not
        one of the drawn schools.
    """
    if students.n and (students.school.min() < 0 or students.school.max() >= schools.n):
        raise SamplingError("a student's school is not one of the drawn schools")
    grade_col = {g: k for k, g in enumerate(design.grades)}
    bad = [int(g) for g in np.unique(students.grade).tolist() if int(g) not in grade_col]
    if bad:
        raise SamplingError(f"students of grade(s) {bad} are outside the design's target grades {list(design.grades)}")
    gk = np.array([grade_col[int(g)] for g in students.grade.tolist()], dtype=np.int64)
    participated, _, _ = school_participation(schools, students, design.school_participation)
    used = _used_schools(schools, participated, design.use_replacements)
    original = np.asarray(schools.role == 0, dtype=bool)
    w1 = 1.0 / schools.probability
    e_school = schools.enrolment.sum(axis=1).astype(np.float64)
    cell = _merge_empty_cells(schools.stratum, used, original)
    factor = np.zeros(schools.n)
    for c in np.unique(cell[used]).tolist():
        num = float((w1 * e_school)[original & (cell == c)].sum())
        den = float((w1 * e_school)[used & (cell == c)].sum())
        factor[used & (cell == c)] = num / den if den > 0 else 0.0
    n_grades = len(design.grades)
    flat = students.school * n_grades + gk
    size = schools.n * n_grades
    n_sampled = np.bincount(flat, minlength=size).astype(np.float64).reshape(schools.n, n_grades)
    n_assessed = np.bincount(flat[students.assessed], minlength=size).astype(np.float64).reshape(schools.n, n_grades)
    enrol = schools.enrolment.astype(np.float64)
    covered = np.where(n_assessed > 0, enrol, 0.0).sum(axis=1)
    spread = np.divide(enrol.sum(axis=1), covered, out=np.zeros(schools.n), where=covered > 0)
    s, ok = students.school, students.assessed & used[students.school]
    within = enrol[s, gk] / np.maximum(n_sampled[s, gk], 1.0)
    student_adj = np.where(ok, n_sampled[s, gk] / np.maximum(n_assessed[s, gk], 1.0) * spread[s], 0.0)
    untrimmed = np.where(ok, w1[s] * factor[s] * within * student_adj, 0.0)
    final = trim_weights(untrimmed, schools.stratum[s], design.trim)
    trim = np.divide(final, untrimmed, out=np.ones(students.n), where=untrimmed > 0)
    return SampleWeights(
        final=final, base=w1[s], school_adjustment=factor[s], within=within, student_adjustment=student_adj,
        trim=trim, participated=participated, used=used, school_base=w1, school_factor=factor, cell=cell,
    )  # fmt: skip
