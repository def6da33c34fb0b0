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

from reports.exceptions import ReportError
from reports.tree import PeopleTree
from reports.wording import describe_design
from scoring.survey import ReplicateDesign

__all__ = ["DesignMode", "SampleDesign", "SampleFrame", "choose_design"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DesignMode = Literal["auto", "jk2", "jkn", "census"]


@dataclass(frozen=True, eq=False)
class SampleFrame:
    """What a sample design knows about the assessed students (aligned with the tree's students).

    ``weights`` final student weights; ``zones`` and ``halves`` IEA jackknife zones and replicate
    indicators (``None``: no zones); the thresholds are the design's minimum response rates.
    """

    weights: FloatArray
    zones: IntArray | None = None
    halves: IntArray | None = None
    school_threshold: float = 0.85
    student_threshold: float = 0.80


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
        return SampleDesign(d, d.method, describe_design(d.method, d.n_replicates), True, s_thr, p_thr, True)
    if mode == "census" or np.unique(schools).size < 2:
        d = ReplicateDesign.census(weights=weights, schools=schools)
        return SampleDesign(d, "census", describe_design("census", 0), weights is not None, s_thr, p_thr, has_frame)
    strata = tree.levels["province"].of_student
    d = ReplicateDesign.jkn(schools, strata=strata, weights=weights, lonely="certainty")
    name = describe_design("jkn", d.n_replicates, "省")
    return SampleDesign(d, "jkn", name, weights is not None, s_thr, p_thr, has_frame)
