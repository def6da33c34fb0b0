from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.exceptions import AnswerRejected, SessionClosed, WindowClosed
from assess.full_path import current_item, start_session, submit_answer
from assess.models import Assessment, Response, Student, TestSession
from assess.simulate.answers import answer_for_score
from itembank.exceptions import InvalidResponseError
from itembank.models import ItemVersion, utcnow

Live = tuple[Engine, int, list[int]]


def _answer(version: ItemVersion, rnd: Any) -> Any:
    return answer_for_score(version, rnd.choice([0, 1]) if version.max_score == 1 else 1, rnd)


def _take_test(
    engine: Engine,
    assessment_id: int,
    student_id: int,
    *,
    seed: int,
    interrupt_at: int | None = None,
    device: str = "d1",
) -> list[int]:
    """Run a whole session through the service, one transaction per request, as the web app does."""
    import random

    rnd = random.Random(7)
    shown: list[int] = []
    with Session(engine, expire_on_commit=False) as session:
        a = session.get(Assessment, assessment_id)
        s = session.get(Student, student_id)
        assert a is not None and s is not None
        p = start_session(session=session, assessment=a, student=s, device=device, seed=seed)
        session.commit()
    while not p.finished:
        assert p.item is not None
        shown.append(int(p.item.id or 0))
        if interrupt_at is not None and len(shown) == interrupt_at:
            return shown
        with Session(engine, expire_on_commit=False) as session:
            p = submit_answer(
                session=session,
                test_session_id=int(p.test_session_id or 0),
                item_version_id=shown[-1],
                answer=_answer(p.item, rnd),
                device=device,
            )
            session.commit()
    return shown


def test_a_whole_session_stores_every_answer_and_a_final_score(live: Live) -> None:
    engine, aid, students = live
    shown = _take_test(engine, aid, students[0], seed=42)
    with Session(engine) as session:
        ts = session.exec(select(TestSession).where(TestSession.student_id == students[0])).one()
        responses = session.exec(select(Response).where(Response.session_id == ts.id).order_by(Response.position)).all()
    assert [r.item_version_id for r in responses] == shown
    assert 8 <= ts.n_scored <= 10
    assert sum(r.pilot for r in responses) == 1
    assert ts.status == "finished" and ts.theta is not None and ts.se is not None and ts.scale_score is not None
    assert ts.level in {"待提高", "合格", "良好", "优秀"}
    assert set(ts.subscores or {}) == {"D1", "D2", "D3", "D4"}
    assert len(set(shown)) == len(shown)


def test_resume_after_interruption_gives_the_same_item_sequence(live: Live) -> None:
    engine, aid, students = live
    uninterrupted = _take_test(engine, aid, students[0], seed=99)
    first = _take_test(engine, aid, students[1], seed=99, interrupt_at=4)
    # "another device / another process": a new start call resumes the same session
    rest = _take_test(engine, aid, students[1], seed=12345, device="d2")
    assert first[-1] == rest[0], "resume shows the same item that was on screen"
    assert first[:-1] + rest == uninterrupted


def test_duplicate_answer_is_a_noop_and_other_items_are_refused(live: Live) -> None:
    engine, aid, students = live
    with Session(engine, expire_on_commit=False) as session:
        a, s = session.get(Assessment, aid), session.get(Student, students[2])
        assert a is not None and s is not None
        p = start_session(session=session, assessment=a, student=s, device="d", seed=1)
        session.commit()
    assert p.item is not None
    vid, tsid = int(p.item.id or 0), int(p.test_session_id or 0)
    import random

    ans = _answer(p.item, random.Random(1))
    with Session(engine, expire_on_commit=False) as session:
        p2 = submit_answer(session=session, test_session_id=tsid, item_version_id=vid, answer=ans, device="d")
        session.commit()
    assert p2.item is not None and p2.item.id != vid

    def snapshot() -> tuple[int, Any, Any]:
        with Session(engine) as session:
            n = session.exec(select(func.count(col(Response.id))).where(Response.session_id == tsid)).one()
            ts = session.get(TestSession, tsid)
            assert ts is not None
            return int(n), ts.current_item_version_id, ts.position

    before = snapshot()
    with Session(engine, expire_on_commit=False) as session:  # the same answer again: nothing changes
        p3 = submit_answer(session=session, test_session_id=tsid, item_version_id=vid, answer=ans, device="d")
        session.commit()
    assert p3.item is not None and p3.item.id == p2.item.id
    assert snapshot() == before
    bad_cases: list[tuple[int, Any, str, type[Exception]]] = [
        (vid, "Z" if ans != "Z" else "Y", "d", AnswerRejected),  # change a stored answer
        (vid + 100_000, "A", "d", AnswerRejected),  # an item never shown
        (int(p2.item.id or 0), {"bogus": 1}, "d", InvalidResponseError),  # malformed body
        (int(p2.item.id or 0), "A", "other-device", SessionClosed),  # taken over elsewhere
    ]
    for version_id, answer, device, error in bad_cases:
        with Session(engine, expire_on_commit=False) as session, pytest.raises(error):
            submit_answer(
                session=session, test_session_id=tsid, item_version_id=version_id, answer=answer, device=device
            )
        assert snapshot() == before


def test_answers_after_the_deadline_are_refused_and_the_session_is_scored(live: Live) -> None:
    engine, aid, students = live
    with Session(engine, expire_on_commit=False) as session:
        a, s = session.get(Assessment, aid), session.get(Student, students[0])
        assert a is not None and s is not None
        p = start_session(session=session, assessment=a, student=s, device="d", seed=3)
        session.commit()
    assert p.remaining_seconds is not None and 39 * 60 < p.remaining_seconds <= 40 * 60
    late = utcnow() + timedelta(minutes=41)
    with Session(engine, expire_on_commit=False) as session:
        with pytest.raises(SessionClosed):
            submit_answer(
                session=session,
                test_session_id=int(p.test_session_id or 0),
                item_version_id=int(p.item.id or 0),
                answer="A",
                device="d",
                now=late,
            )
        session.commit()
    with Session(engine) as session:
        ts = session.get(TestSession, p.test_session_id)
        assert ts is not None and ts.status == "expired" and ts.scale_score is not None
        assert session.exec(select(func.count(col(Response.id))).where(Response.session_id == ts.id)).one() == 0
        assert current_item(session=session, test_session=ts).finished


def test_a_closed_window_refuses_a_new_session(live: Live) -> None:
    engine, aid, students = live
    with Session(engine) as session:
        a, s = session.get(Assessment, aid), session.get(Student, students[0])
        assert a is not None and s is not None
        with pytest.raises(WindowClosed):
            start_session(session=session, assessment=a, student=s, now=utcnow() + timedelta(days=3))


def test_answer_for_score_inverts_the_scoring_rule(live: Live) -> None:
    import random

    from itembank.scoring_rules import score_response

    engine, _, _ = live
    rnd = random.Random(0)
    with Session(engine) as session:
        versions = session.exec(select(ItemVersion)).all()
    for v in versions:
        for score in range(v.max_score + 1):
            if v.type == "partial_credit" and score not in (v.score_map or []):
                continue
            assert score_response(v, answer_for_score(v, score, rnd)) == score
    assert np.mean([v.max_score > 1 for v in versions]) > 0.1
