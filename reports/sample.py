"""The sample design behind the standard errors: the one place that picks the replicate design.

:func:`choose_design` returns the :class:`~scoring.survey.ReplicateDesign` every profile of an
assessment is computed with. Where a sample design gives sampling weights and jackknife zones (a
:class:`SampleFrame`: paired schools, IEA's JK2), those are used; otherwise the delete-one-school
jackknife within strata (JKn, the provinces as strata; a province with a single school is taken
with certainty), and the school-census mode (only the measurement variance) on request or where
there are too few schools for a jackknife. Every level and every comparison uses the same design,
so differences between a group and the larger group it lies in get their SE replicate by
replicate.

Participation: the design's response-rate thresholds (PISA's 85% of schools and 80% of students
by default) come with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from reports.exceptions import ReportError
from reports.tree import PeopleTree
from reports.wording import describe_design
from scoring.survey import ReplicateDesign

__all__ = ["DesignMode", "SampleDesign", "SampleFrame", "choose_design", "load_sample_frame"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DesignMode = Literal["auto", "jk2", "jkn", "census"]


@dataclass(frozen=True, eq=False)
class SampleFrame:
    """What a sample design knows about the assessed students (aligned with the tree's students).

    ``weights`` final student weights; ``zones`` and ``halves`` IEA jackknife zones and replicate
    indicators (``None``: no zones); the thresholds are the design's minimum response rates;
    ``note`` a Chinese sentence on the sample and its participation for the methods note.
    """

    weights: FloatArray
    zones: IntArray | None = None
    halves: IntArray | None = None
    school_threshold: float = 0.85
    student_threshold: float = 0.80
    note: str = ""


@dataclass(frozen=True, eq=False)
class SampleDesign:
    """The chosen design, and how the methods note names it.

    ``from_frame``: the design comes from a sample frame, which knows the schools drawn (so a school
    response rate exists); without one the schools are those that took part.
    """

    design: ReplicateDesign
    method: str
    name: str
    weighted: bool
    school_threshold: float = 0.85
    student_threshold: float = 0.80
    from_frame: bool = False
    note: str = ""


def choose_design(tree: PeopleTree, *, frame: SampleFrame | None = None, mode: DesignMode = "auto") -> SampleDesign:
    """The replicate design of an assessment's profiles (see the module docstring).

    Raises
    ------
    ReportError
        ``mode="jk2"`` without jackknife zones in the frame.
    """
    schools = tree.levels["school"].of_student
    weights = frame.weights if frame is not None else None
    s_thr = frame.school_threshold if frame is not None else 0.85
    p_thr = frame.student_threshold if frame is not None else 0.80
    has_frame = frame is not None
    has_zones = frame is not None and frame.zones is not None and frame.halves is not None
    if mode == "jk2" and not has_zones:
        raise ReportError("抽样设计没有刀切区（jackknife zones），不能使用 JK2")
    if mode in ("auto", "jk2") and has_zones and frame is not None:
        d = ReplicateDesign.jk2(frame.zones, frame.halves, weights=weights, schools=schools)  # type: ignore[arg-type]
        name = describe_design(d.method, d.n_replicates)
        return SampleDesign(d, d.method, name, True, s_thr, p_thr, True, frame.note)
    if mode == "census" or np.unique(schools).size < 2:
        d = ReplicateDesign.census(weights=weights, schools=schools)
        note = frame.note if frame is not None else ""
        return SampleDesign(
            d, "census", describe_design("census", 0), weights is not None, s_thr, p_thr, has_frame, note
        )
    strata = tree.levels["province"].of_student
    d = ReplicateDesign.jkn(schools, strata=strata, weights=weights, lonely="certainty")
    name = describe_design("jkn", d.n_replicates, "省")
    return SampleDesign(d, "jkn", name, weights is not None, s_thr, p_thr, has_frame, frame.note if frame else "")


def load_sample_frame(*, session: Session, tree: PeopleTree) -> SampleFrame | None:
    """The stored weights and jackknife zones of the assessment's sample, aligned with ``tree``'s students.

    ``None`` where the assessment has no weighted sample (:mod:`assess.sampling.store`). A student
    of a school outside the draw (a demonstration school, say), or of a replacement school that was
    not used, gets weight 0 and no zone: it is not part of the sample.

    Raises
    ------
    ReportError
        A student of a drawn school was assessed after the weights were computed (it has no weight):
        the weights must be computed again first.
    """
    from assess.sampling.participation import participation_rates
    from assess.sampling.store import load_weighted

    sample = load_weighted(session=session, assessment_id=int(tree.assessment.id or 0))
    if sample is None:
        return None
    pos = {int(s): j for j, s in enumerate(sample.student_ids.tolist())}
    idx = np.array([pos.get(int(s), -1) for s in tree.student_ids.tolist()], dtype=np.int64)
    have = idx >= 0
    stale = ~have | ~sample.students.assessed[np.maximum(idx, 0)]
    drawn = set(sample.schools.code.tolist())
    codes = tree.levels["school"].codes
    of_school = tree.levels["school"].of_student
    in_draw = np.array([codes[g] in drawn for g in of_school.tolist()], dtype=bool)
    late = stale & in_draw
    if late.any():
        code = tree.assessment.code
        raise ReportError(
            f"测评 {code} 有 {int(late.sum()):,} 名抽样学校的学生在计算抽样权重之后才完成测评："
            f"先运行 infolit sample weights {code}"
        )
    j = np.maximum(idx, 0)
    weights = np.where(have, sample.weights.final[j], 0.0)
    zones = np.where(have, sample.zones.zone[j], -1)
    halves = np.where(have, np.maximum(sample.zones.half[j], 0), 0)
    total = participation_rates(sample.schools, sample.students, sample.weights, sample.design)[-1]
    d = sample.design
    note = (
        f"样本按抽样设计“{d.name}”抽取：在 {len(sample.schools.stratum_enrolment)} 个显性层内按规模成比例系统抽样，"
        f"抽中 {total.schools_sampled:,} 所学校，{total.schools_participating:,} 所参加"
        f"（加上替补学校共 {total.schools_after_replacement:,} 所），加权学校应答率 {total.school_rate_weighted:.1%}"
        f"（替补后 {total.school_rate_after_weighted:.1%}）；参测学校抽中学生 {total.students_sampled:,} 名，"
        f"完成 {total.students_assessed:,} 名，加权学生应答率 {total.student_rate_weighted:.1%}。"
        "权重经学校和学生无应答调整，并在层内截尾（总量不变）。"
    )
    if total.school_flag or total.student_flag:
        low = f"学校 {d.school_threshold:.0%}、学生 {d.student_threshold:.0%}"
        note += f"应答率低于设计要求（{low}），结果可能有偏差。"
    if (weights == 0).any():
        n_zero = int((weights == 0).sum())
        note += f"另有 {n_zero:,} 名学生的学校不在样本中（抽样框外的学校或未启用的替补学校），其权重为 0。"
    return SampleFrame(
        weights=weights.astype(np.float64), zones=zones.astype(np.int64), halves=halves.astype(np.int64),
        school_threshold=d.school_threshold, student_threshold=d.student_threshold, note=note,
    )  # fmt: skip
