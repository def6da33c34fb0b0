"""The sitting service: one student's sitting, opened, presented, answered and finished.

This is the one service the web layer calls for a student (the HTML pages and the JSON API
alike). Every function returns where the sitting stands, a :class:`~assess.position.Position`,
or raises an :class:`~assess.exceptions.AssessError` that changed nothing.

:func:`open_sitting`
    At login: which assessment the student sits now, and a sitting under way moved to the new
    device.
:func:`open_sitting_of`
    The same for a student the login has read already (:class:`assess.throttle.TicketOwner`, its
    sittings in the same query): no query at all for a student who has not started, since the
    assessments, blueprints and grade bands are kept in-process for :data:`KEPT_SECONDS`.
:func:`present`
    The sitting now (a sitting past its deadline is finished and scored on the way).
:func:`start`
    Start the timed test on this device, or return it as it stands.
:func:`answer`
    Store the answer to the item on screen. The service chooses the path: the fast path
    (:mod:`assess.fast_path`, one guarded write on a kept connection) takes the common case;
    whatever it cannot decide goes the full path (:mod:`assess.full_path`) in one transaction,
    retried once when the same answer arrived twice at once, and a refusal caused by a login on
    another device is reported as :class:`~assess.exceptions.TakenOver`.
:func:`finish`
    Hand the test in now.
:func:`check_presented`
    The refusal for an answer to an item that is not on screen (for a form that does not fit).
:func:`check_signed_in`
    Whether the holder still names a student and an assessment (for pages outside the test).
:func:`sign_out`
    Log the holder's device out: every token that names it is refused from then on.

A caller names the sitting by a :class:`Holder`: the student, the assessment, the device token
and, once started, the test session (the web's signed session token is one). A holder is only
ever served its own sitting: a test session of another student or assessment is not found, and
a device that lost the sitting to another login is refused.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assess import fast_path
from assess.banks import band_of_grade, spec_for
from assess.blueprints import BlueprintSpec
from assess.exceptions import (
    AnswerRejected,
    NotSignedIn,
    SessionClosed,
    SessionNotFound,
    TakenOver,
    TestFinished,
    WindowClosed,
)
from assess.full_path import current_item, finish_session, start_session, submit_answer
from assess.models import Assessment, BlueprintRow, RevokedDevice, Student, TestSession
from assess.position import Position, is_row_id
from assess.throttle import SittingRow
from itembank.db import aware_utc, session_scope
from itembank.framework_store import current_framework

__all__ = [
    "TAKEN_OVER",
    "Holder",
    "Opened",
    "answer",
    "check_presented",
    "check_signed_in",
    "finish",
    "format_local",
    "KEPT_SECONDS",
    "open_sitting",
    "open_sitting_of",
    "present",
    "sign_out",
    "start",
    "warm_up",
]

TAKEN_OVER = "这个准考证已经在另一台设备上登录并继续作答，本页面已失效。如果这不是你本人操作，请马上告诉老师。"
"""What a device that lost its sitting to another login is told."""


class Holder(Protocol):
    """Who holds a sitting: the student, the assessment, the device and (once started) the session."""

    @property
    def student_id(self) -> int:
        """The student."""
        ...

    @property
    def assessment_id(self) -> int:
        """The assessment the student was signed in to."""
        ...

    @property
    def device(self) -> str:
        """The device token; a sitting answers only to the device that holds it."""
        ...

    @property
    def test_session_id(self) -> int | None:
        """The sitting's test session, once started."""
        ...


@dataclass(frozen=True)
class Opened:
    """A sitting opened at login.

    ``test_session_id`` is set when a sitting exists already (it was moved to ``device``);
    ``status`` is ``not_started``, ``in_progress``, ``finished`` or ``expired``. ``position`` is
    where the sitting stands for this device, when the service knows it already (what
    :func:`present` would answer right after the login).
    """

    student_id: int
    assessment_id: int
    test_session_id: int | None
    device: str
    status: str
    position: Position | None = field(default=None, compare=False)


# ============================================================================================ opening
_CHINA = timezone(timedelta(hours=8), "CST")


def format_local(dt: datetime) -> str:
    """A timestamp (naive values are UTC) as Beijing time, ``2026-05-12 08:00``."""
    return aware_utc(dt).astimezone(_CHINA).strftime("%Y-%m-%d %H:%M")


def open_sitting(*, session: Session, student: Student, device: str, now: datetime) -> Opened:
    """Choose the assessment ``student`` sits now and, if a sitting is under way, move it to ``device``.

    A sitting in progress wins (resume). Otherwise the open assessment for the student's grade
    (with a blueprint for its grade band) that the student has not sat yet, closing first.

    Raises
    ------
    TestFinished
        Every open assessment for the student is finished.
    WindowClosed
        No assessment for the student is open now (the message says when one opens).
    """
    sid = int(student.id or 0)
    sittings = session.exec(
        select(TestSession).where(TestSession.student_id == sid).order_by(col(TestSession.started_at).desc())
    ).all()
    for ts in sittings:
        if ts.status == "in_progress":
            assessment = session.get(Assessment, ts.assessment_id)
            assert assessment is not None
            shown = start_session(session=session, assessment=assessment, student=student, device=device, now=now)
            return Opened(sid, ts.assessment_id, ts.id, device, shown.status, shown)
    band = band_of_grade(student.grade, session=session)
    with_blueprint = set(session.exec(select(BlueprintRow.assessment_id).where(BlueprintRow.grade_band == band)).all())
    mine = [
        a
        for a in session.exec(select(Assessment).order_by(col(Assessment.closes_at))).all()
        if student.grade in (a.grades or []) and a.id in with_blueprint
    ]
    sat = {ts.assessment_id for ts in sittings}
    open_now = [a for a in mine if aware_utc(a.opens_at) <= now <= aware_utc(a.closes_at)]
    for a in open_now:
        if a.id not in sat:
            return Opened(sid, int(a.id or 0), None, device, "not_started")
    if open_now:
        raise TestFinished("你已经完成了本次测评，不能再次作答。感谢你的认真参与！")
    upcoming = [a for a in mine if aware_utc(a.opens_at) > now]
    if upcoming:
        first = min(upcoming, key=lambda a: aware_utc(a.opens_at))
        raise WindowClosed(
            f"测评还没有开始。开放时间：{format_local(first.opens_at)} 至 {format_local(first.closes_at)}。"
        )
    raise WindowClosed("现在没有向你开放的测评（测评已经结束或尚未安排）。如有疑问，请联系老师。")


KEPT_SECONDS = 10.0
"""How long a worker keeps the assessments, their blueprints and the grade bands for logins.

They change only when an administrator opens, closes or sets up an assessment. A login that
would be refused reads them afresh first; one offered an assessment closed within these seconds
is refused at the start, which reads the window from the database, as answering does."""


@dataclass(frozen=True)
class _Window:
    """An assessment as a login needs it."""

    id: int
    name: str
    opens_at: datetime
    closes_at: datetime
    grades: frozenset[int]


@dataclass
class _Kept:
    """What logins read from the database, kept a few seconds (per process and engine)."""

    at: float
    windows: tuple[_Window, ...]  # by closing time
    with_blueprint: frozenset[tuple[int, str]]  # (assessment, band)
    bands: dict[int, str] = field(default_factory=dict)  # grade -> band code
    specs: dict[tuple[int, str], BlueprintSpec] = field(default_factory=dict)


_KEPT: weakref.WeakKeyDictionary[Engine, _Kept] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept(engine: Engine, *, fresh: bool = False) -> _Kept:
    now = time.monotonic()
    kept = _KEPT.get(engine)
    if kept is not None and now - kept.at < KEPT_SECONDS and not fresh:
        return kept
    with session_scope(engine) as session:
        windows = tuple(
            _Window(int(a.id or 0), a.name, aware_utc(a.opens_at), aware_utc(a.closes_at), frozenset(a.grades or []))
            for a in session.exec(select(Assessment).order_by(col(Assessment.closes_at))).all()
        )
        with_blueprint = frozenset(
            (int(aid), str(band))
            for aid, band in session.exec(select(BlueprintRow.assessment_id, BlueprintRow.grade_band)).all()
        )
    kept = _Kept(now, windows, with_blueprint)
    with _KEPT_LOCK:
        _KEPT[engine] = kept
    return kept


def warm_up(engine: Engine) -> None:
    """Run what a login reads once and keep none of it (at a worker's startup).

    The statements are compiled and the active framework parsed now, not in the first wave of
    logins; nothing is kept, so an assessment set up after the start is seen at once.
    """
    with session_scope(engine) as session:
        session.exec(select(Assessment).order_by(col(Assessment.closes_at)).limit(1)).all()
        session.exec(select(BlueprintRow.assessment_id, BlueprintRow.grade_band).limit(1)).all()
        current_framework(session=session)


def _band(engine: Engine, kept: _Kept, grade: int) -> str:
    band = kept.bands.get(grade)
    if band is None:
        with session_scope(engine) as session:
            band = band_of_grade(grade, session=session)
        kept.bands[grade] = band
    return band


def _spec(engine: Engine, kept: _Kept, assessment_id: int, band: str) -> BlueprintSpec:
    spec = kept.specs.get((assessment_id, band))
    if spec is None:
        with session_scope(engine) as session:
            spec = spec_for(session, assessment_id, band)
        kept.specs[(assessment_id, band)] = spec
    return spec


def open_sitting_of(
    *, engine: Engine, student_id: int, grade: int, sittings: Sequence[SittingRow], device: str, now: datetime
) -> Opened:
    """:func:`open_sitting` for a student already read, with its sittings (newest first).

    A sitting in progress is moved to ``device`` as :func:`open_sitting` does (in a transaction
    of its own). Otherwise the assessment is chosen from what this worker keeps
    (:data:`KEPT_SECONDS`) and nothing is read; the result carries its position (not started).
    A refusal is decided on a fresh read, so an assessment opened a moment ago lets the student
    in at once; one closed a moment ago may still be offered, and starting it is then refused
    (the start reads the window from the database).

    Raises
    ------
    TestFinished, WindowClosed
        As :func:`open_sitting`.
    """
    for ts in sittings:
        if ts.status == "in_progress":
            with session_scope(engine) as session:
                student = session.get(Student, student_id)
                assert student is not None
                return open_sitting(session=session, student=student, device=device, now=now)
    sat = {ts.assessment_id for ts in sittings}
    kept = _kept(engine)
    for fresh in (False, True):
        if fresh:  # a refusal is never made on what was kept: an assessment opened just now counts
            kept = _kept(engine, fresh=True)
        band = _band(engine, kept, grade)
        mine = [w for w in kept.windows if grade in w.grades and (w.id, band) in kept.with_blueprint]
        open_now = [w for w in mine if w.opens_at <= now <= w.closes_at]
        for w in open_now:
            if w.id not in sat:
                spec = _spec(engine, kept, w.id, band)
                shown = Position(None, "not_started", 0, None, None, None, spec, w.name)
                return Opened(student_id, w.id, None, device, "not_started", shown)
    if open_now:
        raise TestFinished("你已经完成了本次测评，不能再次作答。感谢你的认真参与！")
    upcoming = [w for w in mine if w.opens_at > now]
    if upcoming:
        first = min(upcoming, key=lambda w: w.opens_at)
        raise WindowClosed(
            f"测评还没有开始。开放时间：{format_local(first.opens_at)} 至 {format_local(first.closes_at)}。"
        )
    raise WindowClosed("现在没有向你开放的测评（测评已经结束或尚未安排）。如有疑问，请联系老师。")


# ============================================================================================ the sitting
@dataclass(frozen=True)
class _Seat:
    """A holder's student and assessment, and the blueprint of the student's band."""

    student: Student
    assessment: Assessment
    spec: BlueprintSpec


SIGNED_OUT = "你已经退出登录，请重新登录。"


def _check_not_signed_out(session: Session, holder: Holder) -> None:
    if session.get(RevokedDevice, holder.device) is not None:
        raise NotSignedIn(SIGNED_OUT)


def _seat(session: Session, holder: Holder) -> _Seat:
    """The student, assessment and blueprint a holder names (``NotSignedIn`` if they are gone or signed out)."""
    _check_not_signed_out(session, holder)
    student = session.get(Student, holder.student_id)
    assessment = session.get(Assessment, holder.assessment_id)
    if student is None or assessment is None:
        raise NotSignedIn("请重新登录")
    spec = spec_for(session, holder.assessment_id, band_of_grade(student.grade, session=session))
    return _Seat(student, assessment, spec)


def check_signed_in(*, session: Session, holder: Holder) -> None:
    """Raise :class:`NotSignedIn` unless the holder's student and assessment exist (the sitting is not read)."""
    _seat(session, holder)


def _session_id(session: Session, holder: Holder) -> int | None:
    if holder.test_session_id is not None:
        return holder.test_session_id
    found = session.exec(
        select(TestSession.id).where(
            TestSession.assessment_id == holder.assessment_id, TestSession.student_id == holder.student_id
        )
    ).first()
    return None if found is None else int(found)


def _own_session(session: Session, holder: Holder) -> TestSession | None:
    """The holder's test session, checked to be this student's and still held by this device."""
    ts_id = _session_id(session, holder)
    if ts_id is None:
        return None
    ts = session.get(TestSession, ts_id)
    if ts is None or ts.student_id != holder.student_id or ts.assessment_id != holder.assessment_id:
        raise NotSignedIn("请重新登录")
    if ts.status == "in_progress" and ts.device != holder.device:
        raise TakenOver(TAKEN_OVER)
    return ts


def _not_started(seat: _Seat) -> Position:
    return Position(None, "not_started", 0, None, None, None, seat.spec, seat.assessment.name)


def present(*, session: Session, holder: Holder, now: datetime) -> Position:
    """The sitting now (a sitting past its deadline is finished and scored on the way).

    Raises
    ------
    NotSignedIn
        The holder's student or assessment (or its test session) is gone.
    TakenOver
        Another device holds the sitting.
    """
    seat = _seat(session, holder)
    ts = _own_session(session, holder)
    if ts is None:
        return _not_started(seat)
    return current_item(session=session, test_session=ts, now=now, spec=seat.spec)


def start(*, session: Session, holder: Holder, now: datetime) -> Position:
    """Start the sitting on this device, or return it as it stands (``test_session_id`` names it).

    A device that lost the sitting to another login gets :class:`TakenOver`: only a new login
    takes a sitting over, never a stale page. A sitting just started is remembered for the fast
    path, so its first answer reads nothing back.

    Raises
    ------
    WindowClosed
        The assessment is not open now.
    """
    seat = _seat(session, holder)
    ts = _own_session(session, holder)
    if ts is not None:
        return current_item(session=session, test_session=ts, now=now, spec=seat.spec)
    shown = start_session(
        session=session, assessment=seat.assessment, student=seat.student, device=holder.device, now=now
    )
    ts = session.get(TestSession, shown.test_session_id)
    assert ts is not None
    fast_path.remember(session=session, test_session=ts, assessment=seat.assessment, student=seat.student)
    return shown


def finish(*, session: Session, holder: Holder, now: datetime) -> Position:
    """Hand the test in now (the API's "finish"): unanswered items are not reached.

    Raises
    ------
    SessionNotFound
        The sitting has not been started.
    """
    seat = _seat(session, holder)
    ts = _own_session(session, holder)
    if ts is None:
        raise SessionNotFound("测评还没有开始。")
    if not current_item(session=session, test_session=ts, now=now, spec=seat.spec).finished:
        finish_session(session=session, test_session=ts, now=now)
    fast_path.forget(session, int(ts.id or 0))
    return Position(
        int(ts.id or 0), ts.status, ts.position, None, None, ts.level, seat.spec, seat.assessment.name, ts.assessed
    )


def sign_out(*, session: Session, holder: Holder, expires_at: float, now: datetime) -> None:
    """Log the holder's device out: any token naming it (a copied one too) is refused from now on.

    The device is remembered until ``expires_at`` (epoch seconds, when its tokens expire anyway).
    A sitting in progress on this device is left to no device: its answers stay, the fast path's
    guard refuses the old device at once, and the student's next login takes the sitting over as
    usual. Runs in the caller's transaction.
    """
    found = session.get(RevokedDevice, holder.device)
    if found is None:
        session.add(RevokedDevice(device=holder.device, expires_at=float(expires_at)))
    else:
        found.expires_at = max(found.expires_at, float(expires_at))
        session.add(found)
    ts_id = _session_id(session, holder)
    ts = None if ts_id is None else session.get(TestSession, ts_id)
    if ts is not None and ts.student_id == holder.student_id and ts.status == "in_progress":
        if ts.device == holder.device:
            ts.device = secrets.token_hex(8)  # held by nobody until the next login
            session.add(ts)
            fast_path.forget(session, int(ts.id or 0))
    session.flush()
    session.execute(delete(RevokedDevice).where(col(RevokedDevice.expires_at) < now.timestamp()))


# ============================================================================================ answers
def answer(
    *,
    engine: Engine,
    holder: Holder,
    item_id: int,
    value: Any,
    now: datetime,
    latency_ms: int | None = None,
) -> Position:
    """Store the answer to the item on screen (item version ``item_id``) and return where the sitting stands.

    The fast path takes the common case in one short transaction of its own; whatever it cannot
    decide goes the full path in one ORM transaction, where every refusal (another item, a changed
    answer, another device, time up, a malformed answer) raises before anything is written, or
    after writes that the rollback undoes.

    Raises
    ------
    SessionNotFound
        The sitting has not been started (or is not the holder's).
    TakenOver
        Another device holds the sitting.
    SessionClosed, AnswerRejected, itembank.exceptions.InvalidResponseError
        The answer is refused (see :func:`assess.full_path.submit_answer`).
    """
    if not is_row_id(item_id):  # names no item at all (and must not reach SQL)
        raise AnswerRejected("只能回答当前显示的题目")
    ts_id = holder.test_session_id
    if ts_id is not None:
        taken = fast_path.take_answer(
            engine=engine,
            test_session_id=ts_id,
            student_id=holder.student_id,
            assessment_id=holder.assessment_id,
            device=holder.device,
            item_version_id=item_id,
            answer=value,
            now=now,
            latency_ms=latency_ms,
        )
        if taken is not None:
            return taken
        fast_path.forget(engine, ts_id)  # the full path decides, and may move the session on
    with session_scope(engine) as session:
        return _answer_in_full(session, holder, item_id, value, now, latency_ms)


def _answer_in_full(
    session: Session, holder: Holder, item_id: int, value: Any, now: datetime, latency_ms: int | None
) -> Position:
    _check_not_signed_out(session, holder)
    ts_id = _session_id(session, holder)
    if ts_id is None:
        raise SessionNotFound("测评还没有开始，请先点击“开始测评”。")

    def submit() -> Position:
        assert ts_id is not None
        return submit_answer(
            session=session,
            test_session_id=ts_id,
            item_version_id=item_id,
            answer=value,
            now=now,
            device=holder.device,
            latency_ms=latency_ms,
        )

    try:
        shown = submit()
    except IntegrityError:
        # the same answer arrived twice at once (two workers on SQLite, where FOR UPDATE is a
        # no-op): the other request stored it first. Nothing else was written in this
        # transaction, so start it again: the retry takes the idempotent path, or refuses a
        # different answer.
        session.rollback()
        shown = submit()
    except SessionClosed:
        held_by = session.exec(select(TestSession.device, TestSession.status).where(TestSession.id == ts_id)).first()
        if held_by is not None and held_by[1] == "in_progress" and held_by[0] != holder.device:
            raise TakenOver(TAKEN_OVER) from None
        raise
    ts = session.get(TestSession, ts_id)
    if ts is None or ts.student_id != holder.student_id or ts.assessment_id != holder.assessment_id:
        raise SessionNotFound("找不到该测评会话")
    return shown


def check_presented(*, engine: Engine, holder: Holder, item_id: int) -> None:
    """Raise the refusal for an answer to ``item_id`` if it is not the item on screen.

    Used when a form does not fit its item: an answer naming another item is refused as such
    (409), not as a malformed answer. Reads only.
    """
    with session_scope(engine) as session:
        _seat(session, holder)
        ts_id = _session_id(session, holder)
        if ts_id is None:
            raise SessionNotFound("测评还没有开始，请先点击“开始测评”。")
        row = session.exec(
            select(TestSession.current_item_version_id, TestSession.status, TestSession.device).where(
                TestSession.id == ts_id
            )
        ).first()
    if row is None:
        raise SessionNotFound("找不到该测评会话")
    current, status, device = row
    if status == "in_progress" and device != holder.device:
        raise TakenOver(TAKEN_OVER)
    if status != "in_progress":
        raise SessionClosed("本次测评已经结束")
    if current != item_id:
        raise AnswerRejected("只能回答当前显示的题目")
