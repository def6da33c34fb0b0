"""A school's roster in the console: upload, check, confirm; ticket cards, PINs, unlocking, moving a sitting.

Registration is two steps, so nothing is written before the user has seen what a file does:

1. :func:`stage_roster` reads the uploaded file and runs every check of
   :func:`assess.registration.register_students` (plus: every row must lie inside the actor's part
   of the tree) without writing a student. A file with problems is refused with every problem by
   row and column (:class:`~assess.exceptions.RegistrationError`); a clean one is kept as a
   :class:`~assess.accounts.models.StagedUpload` for an hour, with a preview of what it will do.
2. :func:`confirm_roster` registers the staged file (checking it again: the database may have
   moved on) and forgets it. The new students get no PIN yet: their PINs are drawn when their
   ticket cards are printed (:func:`print_tickets`), so a PIN exists only on paper.

Every change is audited. A school user may touch only its school; a bureau its area's schools.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.exceptions import AccountInvalid, OutOfScope
from assess.accounts.models import StagedUpload
from assess.accounts.scope import Actor, visible_school, visible_student
from assess.accounts.staged import find_staged, keep_staged
from assess.models import Area, LoginFailure, School, SchoolClass, Student, TestSession
from assess.people_file import PEOPLE_LIMITS, RegistrationFile, parse_csv, parse_xlsx
from assess.registration import (
    IssuedTicket,
    RegistrationPreview,
    RegistrationSummary,
    preview_registration,
    register_students,
    reissue_pins,
    school_tickets,
)
from assess.throttle import unlock_student

__all__ = [
    "STAGED_FOR",
    "Staged",
    "confirm_roster",
    "move_sitting",
    "StudentRow",
    "print_tickets",
    "school_students",
    "reissue_student_pin",
    "ClassCount",
    "class_counts",
    "school_columns",
    "stage_roster",
    "staged_preview",
    "unlock_student_login",
]

STAGED_FOR = timedelta(hours=1)
"""How long a checked file waits for its confirmation."""


@dataclass(frozen=True)
class Staged:
    """A checked file waiting for confirmation: its token (for the confirm form) and its preview."""

    token: str
    filename: str
    preview: RegistrationPreview


def school_columns(session: Session, actor: Actor, school_code: str) -> dict[str, str]:
    """The column values every row of a registration file for this school must have: its code and its county's.

    Raises
    ------
    OutOfScope
        The school is not in the actor's scope.
    """
    school = visible_school(session, actor.scope, school_code)
    county = session.get(Area, school.area_id)
    assert county is not None
    return {"school_code": school.code, "county_code": county.code}


def _student_of(session: Session, actor: Actor, school_code: str, student_id: int) -> Student:
    """A student of the school ``school_code`` in the actor's scope (:class:`OutOfScope` otherwise)."""
    school = visible_school(session, actor.scope, school_code)
    student = visible_student(session, actor.scope, student_id)
    if student.school_id != school.id:
        raise OutOfScope("没有找到该学生（或不在你的管理范围内）。")
    return student


def _read(filename: str, content: bytes) -> RegistrationFile:
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or content[:4] == b"PK\x03\x04":
        return parse_xlsx(content, source=filename, limits=PEOPLE_LIMITS)
    if name.endswith(".csv") or not name:
        return parse_csv(content, source=filename, limits=PEOPLE_LIMITS)
    raise AccountInvalid(f"不支持的文件类型：{filename}（请上传 CSV 或 XLSX 文件，可先下载登记模板）。")


def stage_roster(
    *,
    session: Session,
    actor: Actor,
    school_code: str,
    filename: str,
    content: bytes,
    assessment: str | None,
    now: datetime,
) -> Staged:
    """Check an uploaded registration file of one school completely and keep it for confirmation; write no student.

    Every row must be a student of ``school_code`` (a school in the actor's scope).

    Raises
    ------
    RegistrationError
        The file's problems, each by row and column.
    AccountInvalid
        Not a CSV or XLSX file, or an empty one.
    OutOfScope
        The school is not in the actor's scope.
    """
    actor.require("registration.manage")
    require = school_columns(session, actor, school_code)
    if not content:
        raise AccountInvalid("上传的文件是空的。")
    if len(content) > PEOPLE_LIMITS.max_bytes:
        raise AccountInvalid(f"文件太大（{len(content) / 2**20:.1f} MiB），请拆分后分批上传。")
    filename = (filename or "roster.csv").replace("\\", "/").rsplit("/", 1)[-1][:128]
    file = _read(filename, content)
    preview = preview_registration(session=session, rows=file, assessment=assessment, require=require)
    token = keep_staged(session=session, user_id=actor.user_id, scope_path=require["school_code"], filename=filename,
                        content=content, now=now, lifetime=STAGED_FOR)  # fmt: skip
    return Staged(token, filename, preview)


def staged_preview(*, session: Session, actor: Actor, school_code: str, token: str, now: datetime) -> Staged:
    """The preview of a file the actor staged for this school (:class:`OutOfScope` if not the actor's, or expired)."""
    require = school_columns(session, actor, school_code)
    staged = _staged(session, actor, require["school_code"], token, now)
    file = _read(staged.filename, staged.content)
    preview = preview_registration(session=session, rows=file, require=require)
    return Staged(token, staged.filename, preview)


def _staged(session: Session, actor: Actor, school_code: str, token: str, now: datetime) -> StagedUpload:
    staged = find_staged(session=session, token=token, user_id=actor.user_id, scope_path=school_code, now=now)
    if staged is None:
        raise OutOfScope("没有找到待确认的登记文件（可能已过期，请重新上传）。")
    return staged


def confirm_roster(
    *, session: Session, actor: Actor, school_code: str, token: str, assessment: str | None, now: datetime
) -> RegistrationSummary:
    """Register a staged file (its students without PINs: see the module docstring) and forget it.

    Raises
    ------
    OutOfScope
        No such staged file of the actor (or it expired).
    RegistrationError
        The file no longer passes its checks (the database changed since it was staged).
    """
    actor.require("registration.manage")
    require = school_columns(session, actor, school_code)
    staged = _staged(session, actor, require["school_code"], token, now)
    file = _read(staged.filename, staged.content)
    summary = register_students(session=session, rows=file, assessment=assessment, require=require, issue_pins=False)
    session.delete(staged)
    audit.record(
        session,
        actor,
        "registration.import",
        target=f"school:{school_code}",
        scope_path=visible_school(session, actor.scope, school_code).path,
        detail={
            "sha256": staged.sha256,
            "students_created": summary.students_created,
            "students_unchanged": summary.students_unchanged,
            "schools_created": summary.schools_created,
        },
    )
    return summary


@dataclass(frozen=True)
class ClassCount:
    """A class of a school: its students and how many of them have no PIN yet."""

    id: int
    grade: int
    name: str
    students: int
    missing: int


def class_counts(*, session: Session, actor: Actor, school_code: str) -> list[ClassCount]:
    """The school's classes by grade and name, with their students and PINs still to issue.

    Raises
    ------
    OutOfScope
        The school is not in the actor's scope.
    """
    school = visible_school(session, actor.scope, school_code)
    rows = session.execute(  # five columns: more than sqlmodel's select is typed for
        sa_select(
            col(SchoolClass.id),
            col(SchoolClass.grade),
            col(SchoolClass.name),
            func.count(col(Student.id)),
            func.sum(case((col(Student.pin_hash) == "", 1), else_=0)),
        )
        .join(Student, col(Student.class_id) == col(SchoolClass.id), isouter=True)
        .where(col(SchoolClass.school_id) == school.id)
        .group_by(col(SchoolClass.id), col(SchoolClass.grade), col(SchoolClass.name))
        .order_by(col(SchoolClass.grade), col(SchoolClass.name))
    ).all()
    return [ClassCount(int(i or 0), int(g), str(n), int(k), int(m or 0)) for i, g, n, k, m in rows]


@dataclass(frozen=True)
class StudentRow:
    """A student as the school's list shows it: code, grade, class, ticket, PIN state, throttle lock."""

    id: int
    code: str
    grade: int
    class_name: str
    ticket: str
    has_pin: bool
    locked: bool


def school_students(*, session: Session, actor: Actor, school_code: str, locked_after: int) -> list[StudentRow]:
    """The school's students by grade, class and code; ``locked`` where ``locked_after`` failed logins are counted.

    Raises
    ------
    OutOfScope
        The school is not in the actor's scope.
    """
    actor.require("registration.manage")
    school = visible_school(session, actor.scope, school_code)
    rows = session.exec(
        select(Student, SchoolClass.name)
        .join(SchoolClass, col(SchoolClass.id) == col(Student.class_id), isouter=True)
        .where(col(Student.school_id) == school.id)
    ).all()
    locked = set(
        session.exec(
            select(LoginFailure.subject)
            .join(Student, col(LoginFailure.subject) == "ticket:" + col(Student.ticket))
            .where(col(Student.school_id) == school.id, col(LoginFailure.failures) >= locked_after)
        ).all()
    )
    out = [
        StudentRow(
            int(st.id or 0),
            st.code,
            st.grade,
            name or "",
            st.ticket,
            bool(st.pin_hash),
            f"ticket:{st.ticket}" in locked,
        )
        for st, name in rows
    ]
    return sorted(out, key=lambda r: (r.grade, r.class_name, r.code))


def _class_of(session: Session, school: School, class_id: int | None) -> SchoolClass | None:
    if class_id is None:
        return None
    klass = session.get(SchoolClass, class_id)
    if klass is None or klass.school_id != school.id:
        raise OutOfScope("没有找到这个班级。")
    return klass


def print_tickets(
    *, session: Session, actor: Actor, school_code: str, class_id: int | None = None, renew: bool = False
) -> list[IssuedTicket]:
    """The ticket cards of a school (or one class) with PINs for the students who need one.

    By default only students without a PIN get one (cards printed before stay good); ``renew``
    gives every student of the selection a new PIN, and the cards printed before stop working.
    Students who already have a PIN and are not renewed are listed without one.

    Raises
    ------
    OutOfScope
        The school or class is not found in the actor's scope.
    """
    actor.require("registration.manage")
    school = visible_school(session, actor.scope, school_code)
    klass = _class_of(session, school, class_id)
    grade, name = (klass.grade, klass.name) if klass is not None else (None, None)
    issued = reissue_pins(
        session=session, school_code=school.code, grade=grade, class_name=name, missing_only=not renew
    )
    with_pin = {t.student_code: t for t in issued}
    listed = school_tickets(session=session, school_code=school.code, grade=grade, class_name=name)
    cards = [with_pin.get(t.student_code, t) for t in listed]
    audit.record(
        session,
        actor,
        "tickets.print",
        target=f"school:{school.code}" + (f"/class:{klass.name}" if klass is not None else ""),
        scope_path=school.path,
        detail={"cards": len(cards), "new_pins": len(issued), "renew": renew},
    )
    return cards


def reissue_student_pin(*, session: Session, actor: Actor, school_code: str, student_id: int) -> IssuedTicket:
    """A new PIN for one student (the old one stops working at once), returned this once.

    Raises
    ------
    OutOfScope
        The student is not found in the actor's scope.
    """
    actor.require("registration.manage")
    student = _student_of(session, actor, school_code, student_id)
    school = session.get(School, student.school_id)
    assert school is not None
    [card] = reissue_pins(session=session, school_code=school.code, grade=student.grade, student_code=student.code)
    audit.record(session, actor, "pin.reset", target=f"student:{student.code}", scope_path=student.path)
    return card


def unlock_student_login(*, session: Session, actor: Actor, school_code: str, student_id: int) -> bool:
    """Forget a student's failed logins, so a ticket locked by the throttle may log in again; whether it was locked.

    Raises
    ------
    OutOfScope
        The student is not found in the actor's scope.
    """
    actor.require("registration.manage")
    student = _student_of(session, actor, school_code, student_id)
    was_locked = unlock_student(session=session, student_id=int(student.id or 0))
    audit.record(session, actor, "student.unlock", target=f"student:{student.code}", scope_path=student.path)
    return was_locked


def move_sitting(
    *, session: Session, actor: Actor, school_code: str, student_id: int, assessment_id: int
) -> str | None:
    """Release a student's sitting from the device that holds it (a frozen tablet, a broken PC).

    The old device is refused from its next request on (it is told another login took over), and
    the student logs in on any other device with the same ticket and PIN and goes on at the same
    item with the same time left. The student's code, or ``None`` when there was no sitting in
    progress to release.

    Raises
    ------
    OutOfScope
        The student is not found in the actor's scope.
    """
    actor.require("monitor.view")
    student = _student_of(session, actor, school_code, student_id)
    result = session.execute(
        update(TestSession)
        .where(
            col(TestSession.student_id) == student.id,
            col(TestSession.assessment_id) == assessment_id,
            col(TestSession.status) == "in_progress",
        )
        .values(device=f"released-{secrets.token_hex(6)}")
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    audit.record(session, actor, "student.move", target=f"student:{student.code}", scope_path=student.path)
    return student.code
