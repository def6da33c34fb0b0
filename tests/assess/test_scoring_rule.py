"""The rule of assess.scoring_rule: too few scored answers is not assessed; out of time, scored on what was answered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess import sitting
from assess.models import BlueprintRow, TestSession
from assess.scales import FinalScores
from assess.scoring_rule import (
    ASSESSED,
    IN_PROGRESS,
    NOT_ASSESSED,
    assessed_clause,
    is_assessed,
    reported_result,
    result_status,
)
from itembank.db import session_scope
from itembank.models import utcnow
from tests.assess.conftest import BLUEPRINT
from tests.assess.test_full_path import _take_test

Live = tuple[Engine, int, list[int]]


class _Holder:
    def __init__(self, student_id: int, assessment_id: int, device: str = "d1") -> None:
        self.student_id, self.assessment_id, self.device = student_id, assessment_id, device
        self.test_session_id: int | None = None


@pytest.mark.parametrize(("n", "minimum", "expected"), [(0, 8, False), (7, 8, False), (8, 8, True), (0, 0, False)])
def test_is_assessed(n: int, minimum: int, expected: bool) -> None:
    assert is_assessed(n_scored=n, min_items=minimum) is expected


def test_result_status_and_reported_result() -> None:
    assert result_status(status="in_progress", assessed=None) == IN_PROGRESS
    assert result_status(status="finished", assessed=False) == NOT_ASSESSED
    assert result_status(status="expired", assessed=True) == ASSESSED
    scores = FinalScores(0.1, 0.4, 510.0, "良好", True, {})
    assert reported_result(scores, n_scored=2, min_items=8).level is None
    kept = reported_result(scores, n_scored=8, min_items=8)
    assert (kept.assessed, kept.scale_score, kept.level, kept.passed) == (True, 510.0, "良好", True)


def _row(engine: Engine, student_id: int) -> TestSession:
    with Session(engine) as s:
        return s.exec(select(TestSession).where(TestSession.student_id == student_id)).one()


def test_a_hand_in_right_after_the_start_is_not_assessed(live: Live) -> None:
    """The audit's case: POST /finish at once stored scale 500, 良好, passed."""
    engine, aid, students = live
    holder = _Holder(students[0], aid)
    now = utcnow()
    with session_scope(engine) as s:
        holder.test_session_id = sitting.start(session=s, holder=holder, now=now).test_session_id
    with session_scope(engine) as s:
        shown = sitting.finish(session=s, holder=holder, now=now)
    assert shown.status == "finished" and shown.level is None and shown.assessed is False
    ts = _row(engine, students[0])
    assert ts.n_scored == 0 and ts.assessed is False
    assert ts.scale_score is None and ts.level is None and ts.passed is None
    assert ts.theta is not None and ts.se is not None  # the estimate is kept for research


def test_a_sitting_out_of_time_is_scored_on_what_it_answered(live: Live) -> None:
    engine, aid, students = live
    short = dataclasses.replace(BLUEPRINT, min_items=4, se_target=0.0)  # no early stop before 10
    with session_scope(engine) as s:
        row = s.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == aid)).one()
        row.spec = short.to_json()
        s.add(row)
    _take_test(engine, aid, students[0], seed=5, interrupt_at=7)  # six answered: five or six scored
    _take_test(engine, aid, students[1], seed=6, interrupt_at=3)  # two answered
    later = utcnow() + timedelta(minutes=BLUEPRINT.time_limit_minutes + 1)
    for student in students[:2]:
        holder = _Holder(student, aid)
        with session_scope(engine) as s:
            assert sitting.present(session=s, holder=holder, now=later).status == "expired"
    enough, few = _row(engine, students[0]), _row(engine, students[1])
    assert enough.status == "expired" and enough.n_scored in (5, 6) and enough.position == 6
    assert enough.assessed is True and enough.level and enough.scale_score is not None and enough.passed is not None
    assert few.status == "expired" and few.n_scored <= 2 and few.assessed is False and few.level is None
    with Session(engine) as s:
        counted = s.exec(select(TestSession.student_id).where(assessed_clause())).all()
    assert set(counted) == {students[0]}


def test_a_whole_test_is_assessed_on_both_paths(live: Live) -> None:
    """The fast path (the web's) and the full path store the same verdict for a complete sitting."""
    engine, aid, students = live
    _take_test(engine, aid, students[2], seed=8)
    ts = _row(engine, students[2])
    assert ts.assessed is True and ts.level and ts.scale_score is not None
