"""What ``infolit demo`` finds and keeps in the database: the finished run it reuses, and its logins.

:func:`find_finished_run` is the national run a rerun reuses: the newest operational assessment
scored on a published calibration, with finished sessions. A database with areas but no such
assessment holds a run that stopped half-way (:func:`count_areas`), which the demo does not try
to complete.

:func:`ensure_demo_accounts` gives ``infolit demo`` one login per kind of user: for each tested
grade a student of the demonstration school (:func:`assess.simulate.pipeline.register_demo_students`)
who has not begun the test, so that the sitting starts afresh (more are registered when all have
begun); a school account of a sampled school, the county, city and province bureaus above it, a
researcher and an admin.

Every password and PIN is generated here, stored only as its hash (argon2id for staff, the keyed
PIN hash for students, through the same services as any other account) and returned this once.
A rerun does not look for the old passwords (none is kept in plain text anywhere): it gives every
demo account a new password, ends its sessions, and returns the new ones, so the demo can print
them again. The passwords are not one-time: the demo accounts exist to be tried, role by role,
and a forced change at the first login of each would only be in the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from assess.accounts import audit, totp
from assess.accounts.models import StaffUser
from assess.accounts.passwords import hash_password, new_password
from assess.accounts.scope import Actor
from assess.accounts.sessions import revoke_user_sessions
from assess.accounts.users import create_user
from assess.exceptions import NotFound
from assess.models import Area, Assessment, School, Student, TestSession
from assess.registration import IssuedTicket, reissue_pins
from assess.simulate.pipeline import register_demo_students
from itembank.models import Calibration, utcnow

__all__ = ["DEMO_USERNAMES", "DemoLogin", "FinishedRun", "count_areas", "ensure_demo_accounts", "find_finished_run"]

DEMO_USERNAMES = ("demo.school", "demo.county", "demo.city", "demo.province", "demo.researcher", "demo.admin")
"""The staff accounts the demo makes, in the order it prints them."""

_LABELS = {
    "demo.school": "学校管理员",
    "demo.county": "区县教育局",
    "demo.city": "地市教育局",
    "demo.province": "省教育厅",
    "demo.researcher": "测评研究人员",
    "demo.admin": "系统管理员",
}


@dataclass(frozen=True)
class DemoLogin:
    """One login to print: who it is, the username (a student's ticket) and its password (a PIN).

    ``kind`` is ``student`` or the staff role; ``node`` the school or area it sees (code and name,
    empty for a researcher or admin, who see everything); ``second_factor``: the account has a
    TOTP second factor enrolled (someone turned it on in the console), so it also needs the code;
    ``new``: made by this call (else an existing account given a new password).
    """

    kind: str
    label: str
    username: str
    password: str
    node: str = ""
    second_factor: bool = False
    new: bool = True


@dataclass(frozen=True)
class FinishedRun:
    """A national run in the database: its operational assessment, the calibration, who finished."""

    assessment_code: str
    assessment_id: int
    calibration: str
    students: int
    field_trial_students: int
    closes_at: datetime


def _finished_count(session: Session, assessment_id: int) -> int:
    return int(
        session.exec(
            select(func.count(col(TestSession.id))).where(
                TestSession.assessment_id == assessment_id, TestSession.status == "finished"
            )
        ).one()
    )


def find_finished_run(*, session: Session) -> FinishedRun | None:
    """The newest operational assessment on a published calibration with finished sessions, or ``None``."""
    rows = session.exec(
        select(Assessment, Calibration.name)
        .join(Calibration, col(Calibration.id) == col(Assessment.calibration_id))
        .where(Assessment.purpose == "operational", col(Calibration.published_at).is_not(None))
        .order_by(col(Assessment.id).desc())
    ).all()
    for assessment, calibration in rows:
        finished = _finished_count(session, int(assessment.id or 0))
        if finished:
            trials = session.exec(select(Assessment.id).where(Assessment.purpose == "field_trial")).all()
            trial = sum(_finished_count(session, int(t or 0)) for t in trials)
            return FinishedRun(
                assessment.code, int(assessment.id or 0), str(calibration), finished, trial, assessment.closes_at
            )
    return None


def count_areas(*, session: Session) -> int:
    """How many areas (provinces, cities, counties) the database holds."""
    return int(session.exec(select(func.count(col(Area.id)))).one())


def _operator() -> Actor:
    return Actor.command_line("demo")


def _started(session: Session, assessment_id: int) -> set[int]:
    """The students with a sitting of the assessment (finished, or begun: its clock may have run out)."""
    rows = session.exec(select(TestSession.student_id).where(TestSession.assessment_id == assessment_id)).all()
    return {int(r) for r in rows}


def _demo_students(session: Session) -> list[tuple[Student, str]]:
    """The demonstration school's students with their school codes, by grade and code."""
    rows = session.exec(
        select(Student, School.code)
        .join(School, col(School.id) == col(Student.school_id))
        .where(col(School.code).like("DEMO%"), col(Student.code).like("DEMO%"))
        .order_by(col(Student.grade), col(Student.code))
    ).all()
    return [(s, str(code)) for s, code in rows]


def _student_logins(session: Session, assessment: Assessment, grades: tuple[int, ...]) -> list[DemoLogin]:
    """One demonstration student per grade who has not begun the test, with a new PIN (more registered if needed)."""
    done = _started(session, int(assessment.id or 0))
    students = _demo_students(session)
    per_grade = {g: sum(1 for s, _ in students if s.grade == g) for g in grades}
    if any(not any(s.grade == g and s.id not in done for s, _ in students) for g in grades):
        # none yet, or every demo student of some grade has begun: three at first, then one more per
        # grade (register_demo_students skips the codes taken)
        register_demo_students(
            session=session, assessment_code=assessment.code, grades=grades,
            per_grade=max(3, max(per_grade.values()) + 1),
        )  # fmt: skip
        students = _demo_students(session)
    issued: list[IssuedTicket] = []
    for grade in grades:
        student, school_code = next((s, c) for s, c in students if s.grade == grade and s.id not in done)
        issued += reissue_pins(session=session, school_code=school_code, student_code=student.code)
        audit.record(session, _operator(), "pin.reset", target=f"student:{student.code}", scope_path=student.path)
    return [
        DemoLogin("student", f"学生（{t.grade} 年级）", t.ticket, t.pin or "", f"{t.school_code} {t.school_name}")
        for t in issued
    ]


def _nodes(session: Session, school_code: str) -> dict[str, tuple[str | None, str | None, str]]:
    """For each demo username: its area code, its school code, and the node's code and name."""
    school = session.exec(select(School).where(School.code == school_code)).first()
    if school is None:
        raise NotFound(f"school {school_code!r} is not registered")
    province, city, county = school.path.strip("/").split("/")[:3]
    areas = {a.code: a for a in session.exec(select(Area).where(col(Area.code).in_([province, city, county]))).all()}
    return {
        "demo.school": (None, school.code, f"{school.code} {school.name}"),
        "demo.county": (county, None, f"{county} {areas[county].name}"),
        "demo.city": (city, None, f"{city} {areas[city].name}"),
        "demo.province": (province, None, f"{province} {areas[province].name}"),
        "demo.researcher": (None, None, ""),
        "demo.admin": (None, None, ""),
    }


def _role(username: str) -> str:
    kind = username.removeprefix("demo.")
    return {"county": "bureau", "city": "bureau", "province": "bureau"}.get(kind, kind)


def _reset(session: Session, user: StaffUser, now: datetime) -> str:
    """A new (not one-time) password for an existing demo account, which is enabled; its sessions end."""
    plain = new_password()
    user.password_hash = hash_password(plain)
    user.must_change_password = False
    user.password_changed_at = now
    user.disabled_at = None
    session.add(user)
    revoke_user_sessions(session=session, user_id=int(user.id or 0), now=now)
    audit.record(
        session, _operator(), "user.reset_password", target=f"user:{user.username}", scope_path=user.scope_path
    )
    return plain


def _node_of(session: Session, user: StaffUser) -> str:
    if user.school_id is not None:
        school = session.get(School, user.school_id)
        return f"{school.code} {school.name}" if school is not None else ""
    if user.area_id is not None:
        area = session.get(Area, user.area_id)
        return f"{area.code} {area.name}" if area is not None else ""
    return ""


def _staff_logins(session: Session, school_code: str, now: datetime) -> list[DemoLogin]:
    nodes = _nodes(session, school_code)
    out: list[DemoLogin] = []
    for username in DEMO_USERNAMES:
        user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            area, school, node = nodes[username]
            made = create_user(
                session=session, actor=_operator(), username=username, role_code=_role(username),
                display_name=f"演示{_LABELS[username]}", area_code=area, school_code=school, password=new_password(),
            )  # fmt: skip
            out.append(DemoLogin(made.user.role, _LABELS[username], username, made.password, node))
            continue
        # kept where it was made (a rerun may choose another school; the account still works)
        plain = _reset(session, user, now)
        enrolled = totp.totp_enabled(session, int(user.id or 0))
        out.append(DemoLogin(user.role, _LABELS[username], username, plain, _node_of(session, user), enrolled, False))
    return out


def ensure_demo_accounts(
    *, session: Session, assessment_code: str, school_code: str, grades: tuple[int, ...] | None = None,
    now: datetime | None = None,
) -> list[DemoLogin]:  # fmt: skip
    """Make (or reset) every demo login and return them with their passwords, in the caller's transaction.

    Parameters
    ----------
    assessment_code
        The operational assessment the student tickets are for.
    school_code
        The sampled school whose school account is made, and whose county, city and province get
        the bureau accounts (used only when the accounts are first made).
    grades
        One student ticket per grade (default: the assessment's grades).

    Raises
    ------
    NotFound
        No such assessment or school, or no county to register the demonstration school in.
    """
    assessment = session.exec(select(Assessment).where(Assessment.code == assessment_code)).first()
    if assessment is None:
        raise NotFound(f"assessment {assessment_code!r} does not exist")
    when = now or utcnow()
    students = _student_logins(session, assessment, tuple(grades or assessment.grades))
    return students + _staff_logins(session, school_code, when)
