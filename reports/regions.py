"""Regional aggregates of assessed sittings: students, mean scale score and 达标 rate per region.

A sitting counts when :mod:`assess.scoring_rule` says it is assessed: finished or out of time,
with at least the blueprint's minimum of scored answers (a hand-in with no answer does not count;
a sitting that ran out of time counts, scored on what it answered).

Aggregation only (SQL and numbers); :mod:`reports.render_text` draws the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from assess.models import REGIONS, Area, School, Student, TestSession
from assess.scoring_rule import assessed_clause

__all__ = ["RegionSummary", "summarize_regions"]


@dataclass(frozen=True)
class RegionSummary:
    """Students with an assessed sitting and their mean scale score and 达标 rate, in one region."""

    region: str
    students: int
    mean_scale: float
    pass_rate: float


def summarize_regions(*, session: Session, assessment_id: int | None = None) -> tuple[RegionSummary, ...]:
    """Assessed sittings per region (of one assessment, or all), east, central, west in that order."""
    q = (
        select(
            Area.region,
            func.count(col(TestSession.id)),
            func.avg(TestSession.scale_score),
            func.avg(case((col(TestSession.passed).is_(True), 1.0), else_=0.0)),
        )
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .join(School, col(School.id) == col(Student.school_id))
        .join(Area, col(Area.id) == col(School.area_id))
        .where(assessed_clause(), col(TestSession.scale_score).is_not(None))
        .group_by(Area.region)
    )
    if assessment_id is not None:
        q = q.where(TestSession.assessment_id == assessment_id)
    order = {region: k for k, region in enumerate(REGIONS)}
    rows = sorted(session.exec(q).all(), key=lambda r: order.get(r[0], len(order)))
    return tuple(RegionSummary(r, int(n), float(m or 0.0), float(p or 0.0)) for r, n, m, p in rows)
