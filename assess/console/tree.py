"""The people tree as a console user sees it: its node, the nodes under it, and participation.

A bureau starts at its own area and walks down to schools; a school user sees only its school;
admins and researchers start at the provinces. Nothing above a bureau's own area is linked: the
trail (:attr:`AreaView.trail`) starts at the actor's own node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from assess.accounts.exceptions import OutOfScope
from assess.accounts.scope import Actor, Scope, visible_area, visible_school
from assess.models import Area, Assessment, School, Student, TestSession
from itembank.db import aware_utc

__all__ = [
    "AreaView",
    "Node",
    "Participation",
    "area_view",
    "assessments_for",
    "national_node",
    "participation",
    "school_node",
    "schools_under",
]


@dataclass(frozen=True)
class Node:
    """One node of the tree: ``kind`` ``area`` (with its level) or ``school``."""

    kind: str
    code: str
    name: str
    level: str
    path: str


@dataclass(frozen=True)
class AreaView:
    """An area, the trail from the actor's own node down to it, and its child areas and schools."""

    node: Node | None  # None: the root of an unrestricted actor (all provinces)
    trail: tuple[Node, ...]
    areas: tuple[Node, ...]
    schools: tuple[Node, ...]


LEVEL_NAMES = {"province": "省", "city": "市", "county": "区县", "school": "学校"}
"""Chinese names of the levels."""


def _area_node(area: Area) -> Node:
    return Node("area", area.code, area.name, area.level, area.path)


def _school_node(school: School) -> Node:
    return Node("school", school.code, school.name, "school", school.path)


def area_view(*, session: Session, actor: Actor, code: str | None = None) -> AreaView:
    """The area ``code`` (default: the actor's own area, or the root for admins and researchers).

    Raises
    ------
    OutOfScope
        The area does not exist, lies outside the actor's scope, or the actor is a school user.
    """
    actor.require("tree.view")
    scope = actor.scope
    if scope.kind == "school":
        raise OutOfScope("学校账号没有地区视图。")
    if code is None and scope.kind == "area":
        own = session.get(Area, scope.node_id)
        assert own is not None
        code = own.code
    if code is None:
        provinces = session.exec(select(Area).where(col(Area.parent_id).is_(None)).order_by(col(Area.code))).all()
        return AreaView(None, (), tuple(_area_node(a) for a in provinces), ())
    area = visible_area(session, scope, code)
    trail = _trail(session, scope, area)
    children = session.exec(select(Area).where(col(Area.parent_id) == area.id).order_by(col(Area.code))).all()
    schools = session.exec(select(School).where(col(School.area_id) == area.id).order_by(col(School.code))).all()
    return AreaView(
        _area_node(area), trail, tuple(_area_node(a) for a in children), tuple(_school_node(s) for s in schools)
    )


NATIONAL = Node("area", "national", "全国", "national", "/")
"""The nation as a node: its profile is the build's ``national`` one (no row of the area table)."""


def national_node(*, actor: Actor) -> Node:
    """The nation, for an actor who sees everything (admins, researchers).

    Raises
    ------
    OutOfScope
        The actor's scope is one area or school: the nation is outside it, as any other area is.
    """
    actor.require("profiles.view")
    if actor.scope.kind != "all":
        raise OutOfScope("没有找到这个地区（或不在你的管理范围内）。")
    return NATIONAL


def schools_under(*, session: Session, path: str) -> list[Node]:
    """Every school under the area at ``path`` (a node the caller may see), by code (for a ZIP of their profiles)."""
    rows = session.exec(
        select(School).where(col(School.path).startswith(path, autoescape=True)).order_by(col(School.code))
    ).all()
    return [_school_node(s) for s in rows]


def _trail(session: Session, scope: Scope, area: Area) -> tuple[Node, ...]:
    """The areas from the scope's own node (or the province) down to ``area``."""
    codes = [c for c in area.path.strip("/").split("/") if c]
    found = {a.code: a for a in session.exec(select(Area).where(col(Area.code).in_(codes))).all()}
    chain = [found[c] for c in codes if c in found]
    return tuple(_area_node(a) for a in chain if scope.covers(a.path))


def school_node(*, session: Session, actor: Actor, code: str | None = None) -> tuple[Node, tuple[Node, ...]]:
    """The school ``code`` (a school user's own by default) and the trail of areas the actor may open.

    Raises
    ------
    OutOfScope
        No such school in the actor's scope.
    """
    scope = actor.scope
    if code is None:
        if scope.kind != "school":
            raise OutOfScope("没有指定学校。")
        own = session.get(School, scope.node_id)
        assert own is not None
        code = own.code
    school = visible_school(session, scope, code)
    county = session.get(Area, school.area_id)
    trail = _trail(session, scope, county) if county is not None and scope.kind != "school" else ()
    return _school_node(school), trail


def assessments_for(*, session: Session, now: datetime) -> list[Assessment]:
    """Every assessment, the open ones first, then by opening time, newest first."""
    rows = list(session.exec(select(Assessment)).all())
    return sorted(
        rows,
        key=lambda a: (
            not (aware_utc(a.opens_at) <= now <= aware_utc(a.closes_at)),
            -aware_utc(a.opens_at).timestamp(),
        ),
    )


@dataclass(frozen=True)
class Participation:
    """One school in a window: students registered in the tested grades, and where their sittings stand."""

    school: Node
    registered: int
    in_progress: int
    finished: int
    expired: int

    @property
    def started(self) -> int:
        """Students who began the test (in progress, finished, or timed out)."""
        return self.in_progress + self.finished + self.expired

    @property
    def not_started(self) -> int:
        """Students registered who have not begun."""
        return max(0, self.registered - self.started)


def participation(
    *, session: Session, actor: Actor, assessment_id: int, path: str | None = None
) -> list[Participation]:
    """Per school under ``path`` (default: the actor's whole scope), for one assessment, by school code.

    Two grouped queries, filtered by scope in the database.

    Raises
    ------
    OutOfScope
        No such assessment.
    """
    actor.require("participation.view")
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise OutOfScope("没有找到这个测评批次。")
    scope = actor.scope
    where = [scope.schools()]
    if path is not None:
        where.append(col(School.path).startswith(path, autoescape=True))
    schools = session.exec(select(School).where(*where).order_by(col(School.code))).all()
    ids = select(School.id).where(*where)
    grades = list(assessment.grades or [])
    reg = session.exec(
        select(Student.school_id, func.count())
        .where(col(Student.school_id).in_(ids), col(Student.grade).in_(grades))
        .group_by(col(Student.school_id))
    ).all()
    registered = {int(sid): int(n) for sid, n in reg}
    counts = session.exec(
        select(
            Student.school_id,
            func.sum(case((col(TestSession.status) == "in_progress", 1), else_=0)),
            func.sum(case((col(TestSession.status) == "finished", 1), else_=0)),
            func.sum(case((col(TestSession.status) == "expired", 1), else_=0)),
        )
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .where(col(TestSession.assessment_id) == assessment_id, col(Student.school_id).in_(ids))
        .group_by(col(Student.school_id))
    ).all()
    status = {int(sid): (int(a or 0), int(b or 0), int(c or 0)) for sid, a, b, c in counts}
    return [
        Participation(_school_node(s), registered.get(int(s.id or 0), 0), *status.get(int(s.id or 0), (0, 0, 0)))
        for s in schools
    ]
