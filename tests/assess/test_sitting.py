"""The sitting service (assess.sitting): it chooses the path, retries a race, names a takeover."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess import full_path, sitting
from assess.exceptions import NotSignedIn, SessionNotFound, TakenOver
from assess.models import Response, Student, TestSession
from assess.position import Position
from assess.simulate.answers import answer_for_score
from itembank.db import session_scope
from itembank.models import utcnow

Live = tuple[Engine, int, list[int]]


@dataclass(frozen=True)
class Holder:
    """What the web's session token says (the service takes anything with these attributes)."""

    student_id: int
    assessment_id: int
    device: str
    test_session_id: int | None = None


def _begin(engine: Engine, holder: Holder) -> tuple[Holder, Position]:
    with session_scope(engine) as s:
        shown = sitting.start(session=s, holder=holder, now=utcnow())
    assert shown.status == "in_progress" and shown.item is not None and shown.test_session_id is not None
    return Holder(holder.student_id, holder.assessment_id, holder.device, shown.test_session_id), shown


def _value(shown: Position, rnd: random.Random) -> Any:
    assert shown.item is not None
    return answer_for_score(shown.item, rnd.randint(0, shown.item.max_score), rnd)


def _stored(engine: Engine, ts_id: int) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count(col(Response.id))).where(Response.session_id == ts_id)).one())


def test_the_service_takes_the_fast_path_and_falls_back_when_it_cannot_decide(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, aid, students = live
    holder, shown = _begin(engine, Holder(students[0], aid, "d1"))
    full_calls: list[int] = []
    real = sitting.submit_answer

    def counted(**kwargs: Any) -> Position:
        full_calls.append(kwargs["item_version_id"])
        return real(**kwargs)

    monkeypatch.setattr(sitting, "submit_answer", counted)
    rnd = random.Random(3)
    for _ in range(3):  # the session was remembered at start: every answer is a fast one
        assert shown.item is not None
        shown = sitting.answer(
            engine=engine, holder=holder, item_id=shown.item.id, value=_value(shown, rnd), now=utcnow()
        )
        assert shown.status == "in_progress" and shown.position == _stored(engine, int(holder.test_session_id or 0))
    assert full_calls == []
    # a token without the test session (as before the start cookie arrived) cannot name the fast path's entry
    assert shown.item is not None
    nameless = Holder(holder.student_id, holder.assessment_id, holder.device)
    again = sitting.answer(
        engine=engine, holder=nameless, item_id=shown.item.id, value=_value(shown, rnd), now=utcnow()
    )
    assert full_calls == [shown.item.id] and again.position == shown.position + 1
    assert again.item is not None and again.spec.max_items == shown.spec.max_items


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_same_answer_arriving_twice_at_once_is_stored_once(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers on SQLite (where FOR UPDATE does nothing): the other one stores the answer first."""
    engine, aid, students = live
    holder, shown = _begin(engine, Holder(students[1], aid, "d1"))
    ts_id = int(holder.test_session_id or 0)
    assert shown.item is not None
    value = _value(shown, random.Random(4))
    real_score = full_path.score_response
    raced: list[bool] = []

    def the_other_worker_first(version: Any, answer: Any) -> int:
        if not raced:  # between this request's checks and its INSERT, another request commits
            raced.append(True)
            with session_scope(engine) as other:
                full_path.submit_answer(
                    session=other, test_session_id=ts_id, item_version_id=version.id, answer=answer, device="d1"
                )
        return real_score(version, answer)

    monkeypatch.setattr(full_path, "score_response", the_other_worker_first)
    sitting.fast_path.forget(engine, ts_id)  # as a worker that has never served this session
    monkeypatch.setattr(sitting.fast_path, "take_answer", lambda **_: None)
    after = sitting.answer(engine=engine, holder=holder, item_id=shown.item.id, value=value, now=utcnow())
    assert raced == [True]
    assert after.status == "in_progress" and after.position == 1 and _stored(engine, ts_id) == 1
    with Session(engine) as s:
        ts = s.get(TestSession, ts_id)
        assert ts is not None and ts.position == 1 and ts.current_item_version_id == (after.item and after.item.id)


def test_a_device_that_lost_the_sitting_is_told_it_was_taken_over(live: Live) -> None:
    engine, aid, students = live
    old, shown = _begin(engine, Holder(students[2], aid, "old-device"))
    with session_scope(engine) as s:  # a login elsewhere moves the sitting to a new device
        student = s.get(Student, students[2])
        assert student is not None
        opened = sitting.open_sitting(session=s, student=student, device="new-device", now=utcnow())
    assert opened.status == "in_progress" and opened.test_session_id == old.test_session_id
    before = _stored(engine, int(old.test_session_id or 0))
    assert shown.item is not None
    with pytest.raises(TakenOver):
        sitting.answer(
            engine=engine, holder=old, item_id=shown.item.id, value=_value(shown, random.Random(1)), now=utcnow()
        )
    with session_scope(engine) as s, pytest.raises(TakenOver):
        sitting.present(session=s, holder=old, now=utcnow())
    assert _stored(engine, int(old.test_session_id or 0)) == before
    new = Holder(old.student_id, old.assessment_id, "new-device", old.test_session_id)
    with session_scope(engine) as s:
        now_shown = sitting.present(session=s, holder=new, now=utcnow()).item
    assert now_shown is not None and now_shown.id == shown.item.id


def test_a_holder_is_served_only_its_own_sitting(live: Live) -> None:
    engine, aid, students = live
    mine, shown = _begin(engine, Holder(students[0], aid, "d1"))
    theirs = Holder(students[1], aid, "d1", mine.test_session_id)  # another student naming my session
    with session_scope(engine) as s, pytest.raises(NotSignedIn):
        sitting.present(session=s, holder=theirs, now=utcnow())
    assert shown.item is not None
    with pytest.raises(SessionNotFound):
        value = _value(shown, random.Random(2))
        sitting.answer(engine=engine, holder=theirs, item_id=shown.item.id, value=value, now=utcnow())
    assert _stored(engine, int(mine.test_session_id or 0)) == 0
    with session_scope(engine) as s, pytest.raises(SessionNotFound):
        sitting.finish(session=s, holder=Holder(students[2], aid, "d1"), now=utcnow())


def test_a_grade_in_no_band_of_the_framework_cannot_open_a_sitting(live: Live) -> None:
    from assess.exceptions import NotConfigured
    from itembank.framework import default_framework, parse_framework
    from itembank.services import load_framework

    engine, _, students = live
    doc = default_framework().to_document()
    doc["code"] = "no-grade-8"
    doc["grade_bands"][2]["grades"] = [7, 9]  # the band 7-9 without grade 8
    with session_scope(engine) as s:
        load_framework(session=s, spec=parse_framework(doc))
    with session_scope(engine) as s, pytest.raises(NotConfigured, match="8 年级"):
        student = s.get(Student, students[0])
        assert student is not None and student.grade == 8
        sitting.open_sitting(session=s, student=student, device="d", now=utcnow())
