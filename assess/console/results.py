"""Result rows for exports: one row per student of an assessment, inside the actor's scope.

Inside a school (a school user exporting its own students) a row carries the student's code, so
the school can match it to its records. Outside a school (a bureau, a researcher, an admin) the
code is replaced by a pseudonym: ``P`` and ten characters of an HMAC-SHA256 of the code under a
key derived from the server key (:mod:`assess.keys`), so the same student has the same pseudonym
in every export (rows can be linked across rounds) but nobody without the server key can turn it
back into the code, even knowing every code of a school. No export carries a name: InfoLit does
not take students' names at all (:mod:`assess.people_file`).
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from hashlib import sha256

from sqlmodel import Session, col, select

from assess.accounts.exceptions import OutOfScope
from assess.accounts.scope import Actor
from assess.keys import ServerKeys, get_server_keys
from assess.models import Area, Assessment, School, Student, TestSession

__all__ = ["RESULT_COLUMNS", "ResultRow", "pseudonym", "result_rows"]

RESULT_COLUMNS: tuple[str, ...] = (
    "student", "school_code", "school", "county_code", "grade", "gender", "status", "answered",
    "scale_score", "level", "passed",
)  # fmt: skip
"""Columns of a result export, in order."""


@dataclass(frozen=True)
class ResultRow:
    """One student's result (``student`` is the code inside a school, a pseudonym outside)."""

    student: str
    school_code: str
    school: str
    county_code: str
    grade: int
    gender: str
    status: str
    answered: int
    scale_score: float | None
    level: str | None
    passed: bool | None

    def values(self) -> tuple[object, ...]:
        """The row's values in :data:`RESULT_COLUMNS` order."""
        return tuple(getattr(self, c) for c in RESULT_COLUMNS)


def pseudonym(code: str, *, keys: ServerKeys | None = None) -> str:
    """The stable pseudonym of a student code (see the module docstring)."""
    mac = hmac.new((keys or get_server_keys()).current_key("pseudonym"), code.encode(), sha256).digest()
    return "P" + base64.b32encode(mac).decode()[:10]


def result_rows(*, session: Session, actor: Actor, assessment_id: int, path: str | None = None) -> list[ResultRow]:
    """Every student under ``path`` (default: the actor's scope) sitting the assessment's grades, by school and code.

    Students who have not started are listed with status ``not_started``.

    Raises
    ------
    OutOfScope
        No such assessment.
    """
    actor.require("profiles.view")
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise OutOfScope("没有找到这个测评批次。")
    where = [actor.scope.students(), col(Student.grade).in_(list(assessment.grades or []))]
    if path is not None:
        where.append(col(Student.path).startswith(path, autoescape=True))
    rows = session.exec(
        select(Student, School, Area, TestSession)
        .join(School, col(School.id) == col(Student.school_id))
        .join(Area, col(Area.id) == col(School.area_id))
        .join(
            TestSession,
            (col(TestSession.student_id) == col(Student.id)) & (col(TestSession.assessment_id) == assessment_id),
            isouter=True,
        )
        .where(*where)
        .order_by(col(School.code), col(Student.code))
    ).all()
    inside_school = actor.scope.kind == "school"
    keys = None if inside_school else get_server_keys()
    out = []
    for student, school, county, ts in rows:
        out.append(
            ResultRow(
                student=student.code if inside_school else pseudonym(student.code, keys=keys),
                school_code=school.code,
                school=school.name,
                county_code=county.code,
                grade=student.grade,
                gender=student.gender,
                status=ts.status if ts is not None else "not_started",
                answered=ts.n_scored if ts is not None else 0,
                scale_score=ts.scale_score if ts is not None else None,
                level=ts.level if ts is not None else None,
                passed=ts.passed if ts is not None else None,
            )
        )
    return out
