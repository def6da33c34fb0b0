"""The demo's logins and the finished run it reuses (assess.simulate.demo), on the console world."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from assess.accounts.models import AuditEvent, StaffUser
from assess.accounts.passwords import verify_password
from assess.exceptions import NotFound
from assess.models import Assessment, Student, TestSession
from assess.pins import verify_pin
from assess.simulate.demo import DEMO_USERNAMES, count_areas, ensure_demo_accounts, find_finished_run
from itembank.db import session_scope
from itembank.models import Calibration, utcnow
from tests.console_world import ConsoleWorld, build_console_world


@pytest.fixture
def world(engine: Engine) -> ConsoleWorld:
    return build_console_world(engine)


def _ensure(engine: Engine, world: ConsoleWorld, school: str = "SWEB001") -> dict[str, tuple[str, str, str]]:
    with session_scope(engine) as s:
        logins = ensure_demo_accounts(session=s, assessment_code=world.assessment_code, school_code=school)
    return {x.username if x.kind != "student" else x.label: (x.username, x.password, x.node) for x in logins}


def _user(engine: Engine, username: str) -> StaffUser:
    with session_scope(engine) as s:
        return s.exec(select(StaffUser).where(StaffUser.username == username)).one()


def _student(engine: Engine, ticket: str) -> Student:
    with session_scope(engine) as s:
        return s.exec(select(Student).where(Student.ticket == ticket)).one()


def test_every_kind_of_login_is_made_with_a_password_stored_only_hashed(engine: Engine, world: ConsoleWorld) -> None:
    logins = _ensure(engine, world)
    assert set(logins) == {*DEMO_USERNAMES, "学生（8 年级）"}
    nodes = {u: logins[u][2] for u in DEMO_USERNAMES}
    assert nodes == {
        "demo.school": "SWEB001 测试路第一中学", "demo.county": "990101 测试区", "demo.city": "9901 测试市",
        "demo.province": "99 测试省", "demo.researcher": "", "demo.admin": "",
    }  # fmt: skip
    roles = {u: _user(engine, u).role for u in DEMO_USERNAMES}
    assert roles == {
        "demo.school": "school", "demo.county": "bureau", "demo.city": "bureau", "demo.province": "bureau",
        "demo.researcher": "researcher", "demo.admin": "admin",
    }  # fmt: skip
    for username in DEMO_USERNAMES:
        user, password = _user(engine, username), logins[username][1]
        assert password not in user.password_hash and verify_password(user.password_hash, password)
        assert not user.must_change_password
    ticket, pin, node = logins["学生（8 年级）"]
    student = _student(engine, ticket)
    assert student.code.startswith("DEMO08") and node.startswith("DEMO880101 ")  # the first county by code
    assert verify_pin(student.pin_hash, pin) and pin not in student.pin_hash


def test_a_rerun_resets_every_password_and_keeps_the_accounts_where_they_were(
    engine: Engine, world: ConsoleWorld
) -> None:
    first = _ensure(engine, world)
    with session_scope(engine) as s:
        admin = s.exec(select(StaffUser).where(StaffUser.username == "demo.admin")).one()
        admin.disabled_at = utcnow()
        s.add(admin)
    second = _ensure(engine, world, school="SNEXT01")  # another school: the accounts stay where they were made
    assert {k: v[2] for k, v in second.items()} == {k: v[2] for k, v in first.items()}
    for username in DEMO_USERNAMES:
        user = _user(engine, username)
        assert verify_password(user.password_hash, second[username][1])
        assert not verify_password(user.password_hash, first[username][1])
        assert user.disabled_at is None  # a disabled demo account is enabled again
    ticket, pin, _ = second["学生（8 年级）"]
    assert ticket == first["学生（8 年级）"][0]  # not begun yet: the same student, a new PIN
    student = _student(engine, ticket)
    assert verify_pin(student.pin_hash, pin) and not verify_pin(student.pin_hash, first["学生（8 年级）"][1])
    with session_scope(engine) as s:
        actions = s.exec(select(AuditEvent.action).where(col(AuditEvent.actor).like("cli:demo%"))).all()
    assert actions.count("user.create") == 6 and actions.count("user.reset_password") == 6
    assert actions.count("pin.reset") == 2


def test_the_ticket_is_always_of_a_student_who_has_not_begun(engine: Engine, world: ConsoleWorld) -> None:
    seen: list[str] = []
    for _ in range(4):  # three demo students of grade 8 at first, then one more each time
        ticket = _ensure(engine, world)["学生（8 年级）"][0]
        assert ticket not in seen
        seen.append(ticket)
        with session_scope(engine) as s:
            student = s.exec(select(Student).where(Student.ticket == ticket)).one()
            s.add(
                TestSession(
                    assessment_id=world.assessment_id, student_id=int(student.id or 0), status="in_progress",
                    deadline=utcnow() + timedelta(minutes=40),
                )
            )  # fmt: skip
    with session_scope(engine) as s:
        demo = s.exec(select(func.count(col(Student.id))).where(col(Student.code).like("DEMO08%"))).one()
    assert demo == 4


def test_unknown_assessment_or_school_is_refused_and_nothing_is_written(engine: Engine, world: ConsoleWorld) -> None:
    with pytest.raises(NotFound), session_scope(engine) as s:
        ensure_demo_accounts(session=s, assessment_code="NO-SUCH", school_code="SWEB001")
    with pytest.raises(NotFound), session_scope(engine) as s:
        ensure_demo_accounts(session=s, assessment_code=world.assessment_code, school_code="S-NONE")
    with session_scope(engine) as s:
        assert s.exec(select(StaffUser).where(col(StaffUser.username).like("demo.%"))).first() is None
        assert s.exec(select(Student).where(col(Student.code).like("DEMO%"))).first() is None


def test_the_finished_run_is_the_operational_assessment_on_a_published_calibration(
    engine: Engine, world: ConsoleWorld
) -> None:
    with session_scope(engine) as s:
        assert find_finished_run(session=s) is None  # no calibration
        assert count_areas(session=s) == 7
        draft = Calibration(name="draft-one", status="draft")
        s.add(draft)
        s.flush()
        assessment = s.get(Assessment, world.assessment_id)
        assert assessment is not None
        assessment.calibration_id = draft.id
        s.add(assessment)
        s.flush()
        assert find_finished_run(session=s) is None  # not published
        draft.published_at, draft.status = utcnow(), "operational"
        s.add(draft)
        s.flush()
        found = find_finished_run(session=s)
    assert found is not None
    assert (found.assessment_code, found.calibration, found.students) == ("WEB-OPEN", "draft-one", 6)
