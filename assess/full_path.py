"""The full path of a sitting: start or resume, present, answer, finish, each settled by the database alone.

Every function takes an open SQLModel ``session`` and works inside the caller's transaction
(use :func:`itembank.db.session_scope`): an answer row and the move to the next item are written
together or not at all. All state lives in the database (the session row and its responses), so
any app worker can serve any request, and a resumed session continues exactly where it stopped:
the engine state is rebuilt from the stored answers (:func:`assess.adaptive.rebuild_state`).

This path decides every case (a repeated answer, another device, the deadline, a stale page) and
costs a dozen round trips per answer; the sitting service (:mod:`assess.sitting`) sends the
common case down the fast path (:mod:`assess.fast_path`) and only the rest here. Each function
returns the sitting's :class:`~assess.position.Position`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from assess.adaptive import choose_next, final_result, rebuild_state, session_pilots
from assess.banks import BandBank, blueprint_for, grade_band, load_band_bank
from assess.blueprints import BlueprintSpec
from assess.exceptions import AnswerRejected, NotConfigured, SessionClosed, SessionNotFound, WindowClosed
from assess.models import Assessment, Response, Student, TestSession
from assess.position import Position, snapshot_in
from assess.scales import CutScores
from assess.scoring_rule import reported_result
from assess.standards.versions import active_scale, band_scale
from itembank.db import aware_utc
from itembank.models import Item, ItemVersion, utcnow
from itembank.queries import lock_item_version
from itembank.scoring_rules import score_response

__all__ = ["answered_items", "current_item", "finish_session", "start_session", "submit_answer"]


@dataclass(frozen=True)
class _Sitting:
    """What a session row stands on: its assessment and student, the band's bank, blueprint and cuts."""

    assessment: Assessment
    student: Student
    bank: BandBank
    spec: BlueprintSpec
    cuts: CutScores


def _sitting_of(session: Session, ts: TestSession) -> _Sitting:
    assessment = session.get(Assessment, ts.assessment_id)
    student = session.get(Student, ts.student_id)
    assert assessment is not None and student is not None
    return _sitting_for(session, assessment, student)


def _sitting_for(session: Session, assessment: Assessment, student: Student) -> _Sitting:
    if assessment.calibration_id is None:
        raise NotConfigured(f"测评 {assessment.code} 还没有指定校准")
    band = grade_band(student.grade, session=session)
    bank = load_band_bank(session=session, calibration_id=assessment.calibration_id, band=band.code)
    spec = blueprint_for(session=session, assessment_id=int(assessment.id or 0), band=band.code)
    return _Sitting(assessment, student, bank, spec, band_scale(session=session, band=band))


def start_session(
    *,
    session: Session,
    assessment: Assessment,
    student: Student,
    device: str | None = None,
    now: datetime | None = None,
    seed: int | None = None,
) -> Position:
    """Start the student's session, or resume it (a new ``device`` takes the session over).

    Raises
    ------
    WindowClosed
        Outside the assessment's window (a finished session can still be shown).
    NotConfigured
        The assessment cannot be sat (no calibration, no blueprint for the student's band, ...).
    """
    now = now or utcnow()
    existing = session.exec(
        select(TestSession).where(TestSession.assessment_id == assessment.id, TestSession.student_id == student.id)
    ).first()
    if existing is not None:
        if device and existing.device != device and existing.status == "in_progress":
            existing.device = device
            session.add(existing)
        return current_item(session=session, test_session=existing, now=now)
    opens, closes = aware_utc(assessment.opens_at), aware_utc(assessment.closes_at)
    if not opens <= now <= closes:
        raise WindowClosed("本次测评不在开放时间内")
    sitting = _sitting_for(session, assessment, student)
    ts = TestSession(
        assessment_id=int(assessment.id or 0),
        student_id=int(student.id or 0),
        seed=int(seed if seed is not None else secrets.randbits(31)),
        device=device or secrets.token_hex(8),
        started_at=now,
        deadline=now + timedelta(minutes=sitting.spec.time_limit_minutes),
    )
    session.add(ts)
    session.flush()
    _advance(session=session, ts=ts, sitting=sitting, now=now)
    return _position(session, ts, now, sitting.spec, sitting.assessment.name, sitting)


def current_item(
    *, session: Session, test_session: TestSession, now: datetime | None = None, spec: BlueprintSpec | None = None
) -> Position:
    """Where the session stands now; an expired session is finished and scored first.

    ``spec``: the blueprint of the session's band, when the caller has it (read here otherwise).
    """
    ts = test_session
    assessment = session.get(Assessment, ts.assessment_id)
    assert assessment is not None
    if spec is None:
        student = session.get(Student, ts.student_id)
        assert student is not None
        band = grade_band(student.grade, session=session).code
        spec = blueprint_for(session=session, assessment_id=ts.assessment_id, band=band)
    return _position(session, ts, now or utcnow(), spec, assessment.name)


def _position(
    session: Session, ts: TestSession, now: datetime, spec: BlueprintSpec, name: str, sitting: _Sitting | None = None
) -> Position:
    deadline = aware_utc(ts.deadline)
    if ts.status == "in_progress" and deadline is not None and now > deadline:
        _finish(session, ts, sitting or _sitting_of(session, ts), now, "expired")
    if ts.status != "in_progress" or ts.current_item_version_id is None:
        described = active_scale(session=session).descriptions.get(ts.level or "", "")
        tid = int(ts.id or 0)
        return Position(tid, ts.status, ts.position, None, None, ts.level, spec, name, ts.assessed, described)
    item = snapshot_in(session, ts.current_item_version_id)
    remaining = None if deadline is None else max(0, int((deadline - now).total_seconds()))
    return Position(int(ts.id or 0), "in_progress", ts.position, item, remaining, None, spec, name)


def answered_items(session: Session, ts: TestSession) -> list[tuple[int, int | None]]:
    """A session's stored answers as ``(item_version_id, score)``, in the order given."""
    rows = session.exec(
        select(Response.item_version_id, Response.score)
        .where(Response.session_id == ts.id)
        .order_by(col(Response.position))
    ).all()
    return [(int(v), s) for v, s in rows]


def _advance(*, session: Session, ts: TestSession, sitting: _Sitting, now: datetime) -> None:
    """Choose the item for position ``ts.position`` (or finish), and store it on the session row.

    The item shown is locked at once (with its stimulus): a version a student has seen never
    changes, so an edit made while the test runs makes a new version.
    """
    bank, spec, grade = sitting.bank, sitting.spec, sitting.student.grade
    answered = answered_items(session, ts)
    pilots = session_pilots(bank, spec, ts.seed)
    state = rebuild_state(bank, spec, grade, answered, seed=ts.seed, pilots=pilots)
    position = len(answered)
    choice = choose_next(bank, spec, state, seed=ts.seed, position=position, pilots=pilots)
    if choice < 0:
        _finish(session, ts, sitting, now, "finished")
        return
    ts.current_item_version_id = bank.version_ids[choice]
    ts.position = position
    ts.theta, ts.se = float(state.theta[0]), float(state.se[0])
    session.add(ts)
    lock_item_version(session=session, version_id=bank.version_ids[choice])


def submit_answer(
    *,
    session: Session,
    test_session_id: int,
    item_version_id: int,
    answer: Any,
    now: datetime | None = None,
    device: str | None = None,
    latency_ms: int | None = None,
) -> Position:
    """Store the answer to the item on screen and move on, in the caller's transaction.

    Resubmitting the answer already stored for an item is a no-op (a double click or a retried
    request after a lost connection). An answer to any other item, from a device that no longer
    holds the session, or after the deadline, is refused and changes nothing.

    Raises
    ------
    SessionNotFound, SessionClosed, AnswerRejected
        See above (an expired session is finished and scored before the refusal).
    itembank.exceptions.InvalidResponseError
        The answer does not fit the item.
    """
    now = now or utcnow()
    ts = session.exec(select(TestSession).where(TestSession.id == test_session_id).with_for_update()).first()
    if ts is None:
        raise SessionNotFound("找不到该测评会话")
    if device is not None and device != ts.device:
        raise SessionClosed("该准考证已在另一台设备上继续作答，本页面已失效")
    previous = session.exec(
        select(Response).where(Response.session_id == ts.id, Response.item_version_id == item_version_id)
    ).first()
    if previous is not None:
        if previous.answer == {"value": answer}:
            return current_item(session=session, test_session=ts, now=now)
        raise AnswerRejected("这道题已经作答，不能修改")
    if ts.status != "in_progress":
        raise SessionClosed("本次测评已经结束")
    deadline = aware_utc(ts.deadline)
    if deadline is not None and now > deadline:
        _finish(session, ts, _sitting_of(session, ts), now, "expired")
        raise SessionClosed("作答时间已到，本次测评已结束")
    if ts.current_item_version_id != item_version_id:
        raise AnswerRejected("只能回答当前显示的题目")
    version = session.get(ItemVersion, item_version_id)
    assert version is not None
    score = score_response(version, answer)  # raises InvalidResponseError for a malformed answer
    sitting = _sitting_of(session, ts)
    session.add(
        Response(
            session_id=int(ts.id or 0),
            item_version_id=item_version_id,
            position=ts.position,
            answer={"value": answer},
            score=score,
            pilot=_is_pilot(session, sitting.bank, version),
            latency_ms=latency_ms,
            answered_at=now,
        )
    )
    if not version.locked:
        version.locked = True
        session.add(version)
    ts.current_item_version_id = None
    session.flush()
    _advance(session=session, ts=ts, sitting=sitting, now=now)
    return _position(session, ts, now, sitting.spec, sitting.assessment.name, sitting)


def _is_pilot(session: Session, bank: BandBank, version: ItemVersion) -> bool:
    """Whether the engine treats ``version`` as a pilot item (as the fast path records it).

    A version no longer in the band's bank (a calibration published while the item was on
    screen) is a pilot item if its item is one now.
    """
    try:
        return bool(bank.engine.pilot[bank.index_of(int(version.id or 0))])
    except KeyError:
        item = session.get(Item, version.item_id)
        return item is not None and item.status == "pilot"


def finish_session(
    *, session: Session, test_session: TestSession, now: datetime | None = None, status: str = "finished"
) -> TestSession:
    """Close a session and store its final score: theta, SE, scale score, level, subscores."""
    if test_session.status != "in_progress":
        return test_session
    return _finish(session, test_session, _sitting_of(session, test_session), now or utcnow(), status)


def _finish(session: Session, ts: TestSession, sitting: _Sitting, now: datetime, status: str) -> TestSession:
    if ts.status != "in_progress":
        return ts
    bank, spec, grade = sitting.bank, sitting.spec, sitting.student.grade
    answered = answered_items(session, ts)
    scored = [(bank.index_of(v), s) for v, s in answered if s is not None and not bank.engine.pilot[bank.index_of(v)]]
    result = final_result(bank, spec, grade, [j for j, _ in scored], [s for _, s in scored], cuts=sitting.cuts)
    ts.status = status
    ts.finished_at = now
    ts.current_item_version_id = None
    ts.position = len(answered)
    ts.n_scored = len(scored)
    ts.theta, ts.se = result.theta, result.se
    reported = reported_result(result, n_scored=len(scored), min_items=spec.min_items)
    ts.assessed = reported.assessed
    ts.scale_score, ts.level, ts.passed = reported.scale_score, reported.level, reported.passed
    ts.subscores = result.subscores
    session.add(ts)
    return ts
