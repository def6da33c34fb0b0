"""A node's result summary from its finished sittings: what the consoles show until full profiles exist.

For one assessment and one node of the people tree (a school, or an area and everything under it),
:func:`summarize_node` counts the students registered in the tested grades and where their
sittings stand, and over the finished, scored sittings gives the mean scale score, the 达标 rate
and the share at each level, for the node and for each of its children (the comparison table).
These are plain means of the sittings' scale scores (EAP), not the plausible-value estimates with
replicate standard errors that the full profiles carry; the page says so.

A node with fewer assessed students than its suppression rule allows reports counts only, with
the reason (:class:`scoring.survey.SuppressionRule`: 10 students for a school, 30 students and
5 schools for an area, by default).

Scoping is the caller's: the paths handed in come from nodes the acting user may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from assess.models import Assessment, School, Student, TestSession
from assess.scales import LEVELS
from scoring.survey import REGION_SUPPRESSION, SCHOOL_SUPPRESSION, SuppressionRule

__all__ = ["NodeRef", "NodeSummary", "SummaryRules", "schools_under", "summarize_node"]


@dataclass(frozen=True)
class NodeRef:
    """A node to summarise: ``kind`` ``school`` or ``area``, its code, name, level and materialised path."""

    kind: str
    code: str
    name: str
    level: str
    path: str


@dataclass(frozen=True)
class SummaryRules:
    """Suppression rules for school and area summaries."""

    school: SuppressionRule = SCHOOL_SUPPRESSION
    area: SuppressionRule = REGION_SUPPRESSION


@dataclass(frozen=True)
class NodeSummary:
    """One node's numbers (``mean_scale``, ``pass_rate``, ``level_shares`` are ``None`` when suppressed).

    Attributes
    ----------
    registered
        Students in the assessment's grades.
    assessed
        Students with a finished, scored sitting.
    in_progress, not_started
        Sittings under way, and students who have not begun.
    schools
        Schools with assessed students (1 for a school).
    suppressed
        Why the numbers are withheld (Chinese), or ``None``.
    children
        The node's child areas or schools, each summarised (empty for a school).
    """

    node: NodeRef
    assessment_code: str
    assessment_name: str
    registered: int
    assessed: int
    in_progress: int
    not_started: int
    schools: int
    mean_scale: float | None
    pass_rate: float | None
    level_shares: dict[str, float] | None
    suppressed: str | None
    children: tuple[NodeSummary, ...] = ()


def _counts(session: Session, assessment: Assessment, path: str) -> dict[str, float]:
    under = col(Student.path).startswith(path, autoescape=True)
    grades = list(assessment.grades or [])
    registered = session.exec(select(func.count()).select_from(Student).where(under, col(Student.grade).in_(grades)))
    scored = (col(TestSession.status) == "finished") & col(TestSession.scale_score).is_not(None)
    row = session.execute(  # six columns: more than sqlmodel's select is typed for
        sa_select(
            func.sum(case((scored, 1), else_=0)),
            func.sum(case((col(TestSession.status) == "in_progress", 1), else_=0)),
            func.count(),
            func.avg(case((scored, TestSession.scale_score), else_=None)),
            func.avg(case((scored, case((col(TestSession.passed).is_(True), 1.0), else_=0.0)), else_=None)),
            func.count(func.distinct(case((scored, Student.school_id), else_=None))),
        )
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .where(col(TestSession.assessment_id) == assessment.id, under)
    ).one()
    levels = session.exec(
        select(TestSession.level, func.count())
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .where(col(TestSession.assessment_id) == assessment.id, under, scored)
        .group_by(col(TestSession.level))
    ).all()
    out = {
        "registered": float(registered.one()),
        "assessed": float(row[0] or 0),
        "in_progress": float(row[1] or 0),
        "sittings": float(row[2] or 0),
        "mean": float(row[3]) if row[3] is not None else float("nan"),
        "pass": float(row[4]) if row[4] is not None else float("nan"),
        "schools": float(row[5] or 0),
    }
    out.update({f"level:{name}": float(n) for name, n in levels if name is not None})
    return out


def _summary(
    session: Session, assessment: Assessment, node: NodeRef, rules: SummaryRules, children: tuple[NodeSummary, ...]
) -> NodeSummary:
    c = _counts(session, assessment, node.path)
    assessed, schools = int(c["assessed"]), int(c["schools"])
    rule = rules.school if node.kind == "school" else rules.area
    [reason] = rule.reasons([assessed], [1 if node.kind == "school" else schools])
    shares = {name: c.get(f"level:{name}", 0.0) / assessed for name in LEVELS} if assessed else None
    return NodeSummary(
        node=node,
        assessment_code=assessment.code,
        assessment_name=assessment.name,
        registered=int(c["registered"]),
        assessed=assessed,
        in_progress=int(c["in_progress"]),
        not_started=max(0, int(c["registered"]) - int(c["sittings"])),
        schools=schools,
        mean_scale=None if reason or not assessed else c["mean"],
        pass_rate=None if reason or not assessed else c["pass"],
        level_shares=None if reason else shares,
        suppressed=reason,
        children=children,
    )


def summarize_node(
    *,
    session: Session,
    assessment_id: int,
    node: NodeRef,
    children: Sequence[NodeRef] = (),
    rules: SummaryRules | None = None,
) -> NodeSummary:
    """The summary of ``node`` for one assessment, with one summary per child (see the module docstring).

    Raises
    ------
    LookupError
        No such assessment.
    """
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise LookupError(f"assessment {assessment_id} does not exist")
    rules = rules or SummaryRules()
    kids = tuple(_summary(session, assessment, child, rules, ()) for child in children)
    return _summary(session, assessment, node, rules, kids)


def schools_under(*, session: Session, path: str) -> list[NodeRef]:
    """Every school under ``path``, by code (for a ZIP of all school profiles of an area)."""
    rows = session.exec(
        select(School).where(col(School.path).startswith(path, autoescape=True)).order_by(col(School.code))
    ).all()
    return [NodeRef("school", s.code, s.name, "school", s.path) for s in rows]
