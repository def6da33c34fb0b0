"""Assessment administration: create from a file, list, open, close with open sittings (assess.administration)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.accounts.exceptions import Forbidden, OutOfScope
from assess.accounts.models import AuditEvent
from assess.accounts.scope import Actor, Scope
from assess.administration import close_assessment, create_assessment, list_assessments, open_assessment
from assess.assessment_file import AssessmentFileError
from assess.exceptions import AdministrationRefused, WindowClosed
from assess.full_path import start_session
from assess.models import Assessment, BlueprintRow, Student, TestSession
from itembank.calibrations import bank_params, store_calibration
from itembank.db import aware_utc, session_scope
from itembank.models import PROVISIONAL, utcnow
from tests.assess.test_full_path import _take_test

Live = tuple[Engine, int, list[int]]
ADMIN = Actor.command_line("tester")
BUREAU = Actor(7, "bureau1", "bureau", Scope("area", "/44/", 1))


def _file(code: str = "R1", *, opens: str = "2030-05-11T08:00:00+08:00", mode: str = "adaptive") -> bytes:
    return f"""
code = "{code}"
name = "管理测试批次"
grades = [8]
calibration = "published"
[window]
opens = {opens}
closes = 2030-05-22T17:00:00+08:00
[blueprint]
mode = "{mode}"
min_items = 4
max_items = 6
se_target = 0.0
time_limit_minutes = 40
randomesque_k = 1
""".encode()


@pytest.fixture
def published(live: Live) -> Live:
    engine = live[0]
    with session_scope(engine) as s:
        params = bank_params(session=s, calibration=PROVISIONAL)
        store_calibration(session=s, name="published", params=params, status="operational")
    return live


def _create(engine: Engine, content: bytes) -> str:
    with session_scope(engine) as s:
        return create_assessment(session=s, actor=ADMIN, content=content, filename="r.toml", now=utcnow()).code


def test_create_stores_the_round_its_blueprints_and_an_audit_event(published: Live) -> None:
    engine = published[0]
    code = _create(engine, _file())
    with Session(engine) as s:
        row = s.exec(select(Assessment).where(Assessment.code == code)).one()
        bp = s.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == row.id)).one()
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "assessment.create")).one()
        listed = {a.code: a for a in list_assessments(session=s, actor=ADMIN, now=utcnow())}
    assert (bp.grade_band, bp.mode, bp.spec["max_items"]) == ("7-9", "adaptive", 6)
    assert event.target == f"assessment:{code}" and event.actor == "cli:tester" and len(event.detail["sha256"]) == 64
    assert listed[code].status == "scheduled" and listed[code].calibration == "published"
    assert listed["A1"].status == "open"


def test_a_bad_file_or_a_second_round_with_the_same_code_writes_nothing(published: Live) -> None:
    engine = published[0]
    _create(engine, _file())
    with Session(engine) as s:
        before = (len(s.exec(select(Assessment)).all()), len(s.exec(select(AuditEvent)).all()))
    for content in (_file(), _file("R2", mode="nope"), b"code = "):
        with pytest.raises(AssessmentFileError):
            _create(engine, content)
    with Session(engine) as s:
        assert (len(s.exec(select(Assessment)).all()), len(s.exec(select(AuditEvent)).all())) == before


def test_only_admins_and_researchers_manage_rounds(published: Live) -> None:
    with Session(published[0]) as s, pytest.raises(Forbidden):
        create_assessment(session=s, actor=BUREAU, content=_file(), now=utcnow())
    with session_scope(published[0]) as s, pytest.raises(OutOfScope):
        open_assessment(session=s, actor=ADMIN, code="NOPE", now=utcnow())


def test_open_moves_the_window_to_now_and_refuses_twice(published: Live) -> None:
    engine = published[0]
    code = _create(engine, _file())
    now = utcnow()
    with session_scope(engine) as s:
        done = open_assessment(session=s, actor=ADMIN, code=code, now=now)
    assert done.status == "open" and done.opens_at == now
    with session_scope(engine) as s, pytest.raises(AdministrationRefused, match="已经在开放中"):
        open_assessment(session=s, actor=ADMIN, code=code, now=now)
    with session_scope(engine) as s, pytest.raises(AdministrationRefused, match="晚于现在"):
        open_assessment(session=s, actor=ADMIN, code=code, now=now, until=now - timedelta(hours=1))


def test_a_round_that_cannot_be_sat_is_not_opened(published: Live) -> None:
    engine = published[0]
    code = _create(engine, _file())
    with session_scope(engine) as s:  # Sympson-Hetter on without its parameters
        row = s.exec(
            select(BlueprintRow)
            .join(Assessment, col(Assessment.id) == col(BlueprintRow.assessment_id))
            .where(Assessment.code == code)
        ).one()
        row.spec = {**row.spec, "sympson_hetter": True}
        s.add(row)
    with session_scope(engine) as s, pytest.raises(AdministrationRefused, match="infolit exposure"):
        open_assessment(session=s, actor=ADMIN, code=code, now=utcnow())
    with Session(engine) as s:
        assert aware_utc(s.exec(select(Assessment).where(Assessment.code == code)).one().opens_at).year == 2030


def test_closing_expires_open_sittings_and_scores_what_they_answered(published: Live) -> None:
    engine, aid, students = published
    with session_scope(engine) as s:  # a minimum of four scored answers
        row = s.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == aid)).one()
        row.spec = {**row.spec, "min_items": 4, "se_target": 0.0}
        s.add(row)
    # six answers (enough), one answer (too few), and one student who never started
    _take_test(engine, aid, students[0], seed=1, interrupt_at=7)
    _take_test(engine, aid, students[1], seed=2, interrupt_at=2)
    now = utcnow()
    done = close_assessment(engine=engine, actor=ADMIN, code="A1", now=now)
    assert (done.expired, done.assessed, done.running) == (2, 1, 0)
    assert done.assessment.status == "closed" and done.assessment.expired == 2
    with Session(engine) as s:
        rows = {ts.student_id: ts for ts in s.exec(select(TestSession)).all()}
        enough, few = rows[students[0]], rows[students[1]]
        assert enough.status == "expired" and enough.assessed is True and enough.level and enough.n_scored >= 4
        assert few.status == "expired" and few.assessed is False and few.level is None
        assert aware_utc(enough.deadline) == now  # no answer is accepted after the close
        a = s.get(Assessment, aid)
        assert a is not None and aware_utc(a.closes_at) == now
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "assessment.close")).one()
        assert event.detail == {"was": "open", "open_sittings": 2}
        late = s.get(Student, students[2])
        assert late is not None
        with pytest.raises(WindowClosed):  # the student who never started cannot start now
            start_session(session=s, assessment=a, student=late, device="d9", now=now + timedelta(seconds=1))
    with pytest.raises(AdministrationRefused, match="已经结束"):
        close_assessment(engine=engine, actor=ADMIN, code="A1", now=now + timedelta(seconds=5))


def test_many_open_sittings_are_scored_in_the_background(published: Live) -> None:
    engine, aid, students = published
    for student in students[:2]:
        _take_test(engine, aid, student, seed=student, interrupt_at=3)
    queued: list[object] = []
    now = utcnow()
    done = close_assessment(engine=engine, actor=ADMIN, code="A1", now=now, background=queued.append, inline_limit=1)
    assert (done.queued, done.expired, done.assessment.status) == (2, 0, "closed") and len(queued) == 1
    with Session(engine) as s:  # closed to answers already: every deadline is the close
        open_now = s.exec(select(TestSession).where(TestSession.status == "in_progress")).all()
        assert len(open_now) == 2 and all(aware_utc(ts.deadline) == now for ts in open_now)
    job = queued[0]
    assert callable(job)
    assert job() == (2, 0, 0)  # ended, assessed (two answers: too few), left open
    with Session(engine) as s:
        assert {ts.status for ts in s.exec(select(TestSession)).all()} == {"expired"}
