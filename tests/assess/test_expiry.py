"""Abandoned sittings are closed at their deadline and scored on what they answered (assess.expiry)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.exceptions import NotFound
from assess.expiry import expire_overdue
from assess.models import BlueprintRow, TestSession
from itembank.db import session_scope
from itembank.models import utcnow
from tests.assess.conftest import BLUEPRINT
from tests.assess.test_full_path import _take_test

Live = tuple[Engine, int, list[int]]


def _rows(engine: Engine) -> dict[int, TestSession]:
    with Session(engine) as s:
        return {ts.student_id: ts for ts in s.exec(select(TestSession)).all()}


def test_abandoned_sittings_are_expired_and_scored_and_running_ones_left(live: Live) -> None:
    engine, aid, students = live
    with session_scope(engine) as s:  # a short minimum, so that six answers are enough
        row = s.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == aid)).one()
        row.spec = {**BLUEPRINT.to_json(), "min_items": 4, "se_target": 0.0}
        s.add(row)
    for student, answered in zip(students, (6, 1, 2), strict=True):
        _take_test(engine, aid, student, seed=student, interrupt_at=answered + 1)
    with session_scope(engine) as s:  # the third is still within its time
        ts = s.exec(select(TestSession).where(TestSession.student_id == students[2])).one()
        ts.deadline = utcnow() + timedelta(hours=2)
        s.add(ts)
    later = utcnow() + timedelta(minutes=BLUEPRINT.time_limit_minutes + 5)
    done = expire_overdue(engine=engine, now=later)
    assert (done.expired, done.assessed, done.running) == (2, 1, 1)
    rows = _rows(engine)
    enough, few, running = (rows[s] for s in students)
    assert enough.status == "expired" and enough.assessed is True and enough.level and enough.position == 6
    assert few.status == "expired" and few.assessed is False and few.level is None and few.position == 1
    assert running.status == "in_progress" and running.assessed is None
    again = expire_overdue(engine=engine, now=later)  # nothing left to do
    assert (again.expired, again.running) == (0, 1)


def test_the_grace_period_and_the_assessment_filter(live: Live) -> None:
    engine, aid, students = live
    _take_test(engine, aid, students[0], seed=1, interrupt_at=2)
    with Session(engine) as s:
        deadline = s.exec(select(TestSession.deadline)).one()
    assert deadline is not None
    just_after = deadline.replace(tzinfo=None) + timedelta(seconds=30)
    assert expire_overdue(engine=engine, now=just_after.replace(tzinfo=utcnow().tzinfo)).expired == 0
    with pytest.raises(NotFound):
        expire_overdue(engine=engine, now=utcnow(), assessment_code="NOPE")
    later = utcnow() + timedelta(hours=2)
    assert expire_overdue(engine=engine, now=later, assessment_code="A1").expired == 1
