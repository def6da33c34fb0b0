"""The live monitor of a test window: per class, where every student of a school stands right now.

A student is ``not_started`` (no sitting yet: not logged in, or logged in and still reading the
instructions), ``in_progress`` (with the number of the item on screen and the seconds left by the
server's clock), ``finished`` or ``timed_out`` (the time ran out, whether or not the sitting was
closed yet). ``locked`` marks a ticket the login throttle holds (too many wrong PINs), which the
teacher can unlock (:func:`assess.console.roster.unlock_student_login`).

Built from three queries (the school's students with their classes, their sittings of the
assessment, the throttle's rows for their tickets), so a page that polls every few seconds
costs a few milliseconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from assess.accounts.exceptions import OutOfScope
from assess.accounts.scope import Actor, visible_school
from assess.models import Assessment, LoginFailure, SchoolClass, Student, TestSession
from itembank.db import aware_utc

__all__ = ["STATES", "ClassMonitor", "StudentState", "ThrottleRule", "monitor_school"]

STATES: dict[str, str] = {
    "not_started": "未登录/未开始",
    "in_progress": "作答中",
    "finished": "已完成",
    "timed_out": "已超时",
}
"""The states a student can be in, with their Chinese labels."""


@dataclass(frozen=True)
class ThrottleRule:
    """The student login throttle's limit per ticket and its window (the web app's settings)."""

    limit: int
    window_seconds: float


@dataclass(frozen=True)
class StudentState:
    """One student in the monitor."""

    student_id: int
    code: str
    grade: int
    state: str
    item_number: int | None
    seconds_left: int | None
    locked: bool


@dataclass(frozen=True)
class ClassMonitor:
    """One class: its name and grade, how many students are in each state, and the students."""

    class_id: int | None
    name: str
    grade: int
    counts: dict[str, int]
    students: tuple[StudentState, ...]


def _state(ts: TestSession | None, now: datetime) -> tuple[str, int | None, int | None]:
    if ts is None:
        return "not_started", None, None
    if ts.status == "finished":
        return "finished", None, None
    if ts.status == "expired":
        return "timed_out", None, None
    deadline = aware_utc(ts.deadline)
    if deadline is not None and deadline <= now:
        return "timed_out", None, None
    left = int((deadline - now).total_seconds()) if deadline is not None else None
    return "in_progress", ts.position + 1, left


def monitor_school(
    *,
    session: Session,
    actor: Actor,
    school_code: str,
    assessment_id: int,
    now: datetime,
    throttle: ThrottleRule,
    class_id: int | None = None,
) -> list[ClassMonitor]:
    """The classes of a school (or one class) in an assessment's tested grades, by grade and name.

    Raises
    ------
    OutOfScope
        The school or the assessment is not found (or the school is outside the actor's scope).
    """
    actor.require("monitor.view")
    school = visible_school(session, actor.scope, school_code)
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise OutOfScope("没有找到这个测评批次。")
    query = (
        select(Student, SchoolClass)
        .join(SchoolClass, col(SchoolClass.id) == col(Student.class_id), isouter=True)
        .where(col(Student.school_id) == school.id, col(Student.grade).in_(list(assessment.grades or [])))
    )
    if class_id is not None:
        query = query.where(col(Student.class_id) == class_id)
    rows = session.exec(query).all()
    sittings = {
        ts.student_id: ts
        for ts in session.exec(
            select(TestSession)
            .join(Student, col(Student.id) == col(TestSession.student_id))
            .where(col(TestSession.assessment_id) == assessment_id, col(Student.school_id) == school.id)
        ).all()
    }
    stale = now.timestamp() - throttle.window_seconds
    locked = {
        subject.removeprefix("ticket:")
        for subject in session.exec(
            select(LoginFailure.subject)
            .join(Student, col(LoginFailure.subject) == "ticket:" + col(Student.ticket))
            .where(
                col(Student.school_id) == school.id,
                col(LoginFailure.failures) >= throttle.limit,
                col(LoginFailure.window_start) > stale,
            )
        ).all()
    }
    by_class: dict[tuple[int, str, int | None], list[StudentState]] = {}
    for student, klass in rows:
        state, number, left = _state(sittings.get(int(student.id or 0)), now)
        key = (
            student.grade,
            klass.name if klass is not None else "（未分班）",
            klass.id if klass is not None else None,
        )
        by_class.setdefault(key, []).append(
            StudentState(
                int(student.id or 0), student.code, student.grade, state, number, left, student.ticket in locked
            )
        )
    out = []
    for (grade, name, cid), students in sorted(by_class.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        students.sort(key=lambda s: s.code)
        counts = Counter(s.state for s in students)
        out.append(ClassMonitor(cid, name, grade, {k: counts.get(k, 0) for k in STATES}, tuple(students)))
    return out
