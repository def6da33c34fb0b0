"""The student's sitting as the web sees it: views of the current item, start, answer, finish.

The HTML pages and the JSON API both call these functions; they call :mod:`assess.sessions`
(which owns every rule about what may be answered when) and turn what it returns into plain view
dataclasses. A view holds only what a student may see: the rendered stem, stimulus and option
texts of the item on screen, the position, the time left. Item versions (which carry the key and
rubric) never leave this module, and neither do parameters, scores or the ability estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from assess import live
from assess.blueprints import BlueprintSpec
from assess.exceptions import AnswerRejected, SessionClosed, SessionNotFound
from assess.models import Assessment, Student, TestSession
from assess.scales import LEVEL_DESCRIPTIONS
from assess.sessions import (
    Presented,
    band_of_grade,
    current_item,
    finish_session,
    start_session,
    submit_answer,
)
from itembank.db import session_scope
from itembank.exceptions import InvalidResponseError
from itembank.render import render_item
from web.security import SessionToken

__all__ = [
    "PRACTICE",
    "AnswerMissing",
    "ItemView",
    "NotSignedIn",
    "OptionView",
    "PartView",
    "ResultView",
    "Sitting",
    "TakenOver",
    "TestView",
    "answer",
    "answer_from_form",
    "check_presented",
    "finish",
    "load_sitting",
    "practice_feedback",
    "start",
    "view_of",
]


class NotSignedIn(Exception):
    """No valid session cookie or bearer token: the student must log in (again)."""


class TakenOver(SessionClosed):
    """The sitting was taken over by a login on another device."""


class AnswerMissing(AnswerRejected):
    """An empty answer sent without saying "skip this item" (nothing was stored)."""


TAKEN_OVER = "这个准考证已经在另一台设备上登录并继续作答，本页面已失效。如果这不是你本人操作，请马上告诉老师。"


# ============================================================================================ views
@dataclass(frozen=True)
class OptionView:
    """One option: the value to send back (``A``, ``T``) and its rendered text."""

    value: str
    html: str


@dataclass(frozen=True)
class PartView:
    """One part of a partial-credit task (``number`` from 1)."""

    number: int
    prompt_html: str
    options: tuple[OptionView, ...]


@dataclass(frozen=True)
class ItemView:
    """The item on screen, as the student may see it (sanitised HTML; no key, rubric or parameter).

    ``id`` is the item version id the answer must name; ``type`` is ``single_choice``,
    ``multiple_response``, ``true_false`` or ``partial_credit``.
    """

    id: int
    type: str
    stem_html: str
    stimulus_title_html: str
    stimulus_html: str
    options: tuple[OptionView, ...]
    parts: tuple[PartView, ...]


@dataclass(frozen=True)
class ResultView:
    """The encouraging result shown at the end when the blueprint allows it (a level, no number)."""

    level: str
    description: str


@dataclass(frozen=True)
class TestView:
    """Where a sitting stands.

    Attributes
    ----------
    status
        ``not_started``, ``in_progress``, ``finished`` or ``expired`` (time ran out).
    number
        The number of the item on screen (from 1), or of items answered once finished.
    min_items, max_items
        The test's length bounds (it is adaptive: it stops between them).
    time_limit_minutes, remaining_seconds
        The limit, and the seconds left by the server's clock (``None`` unless in progress).
    item
        The item on screen, if any.
    result
        The level reached, when finished and the blueprint shows results.
    """

    __test__ = False  # not a pytest test class

    status: str
    number: int
    min_items: int
    max_items: int
    time_limit_minutes: int
    remaining_seconds: int | None
    item: ItemView | None
    result: ResultView | None


# ============================================================================================ sittings
@dataclass(frozen=True)
class Sitting:
    """A signed-in student with the assessment and blueprint of the sitting."""

    token: SessionToken
    student: Student
    assessment: Assessment
    spec: BlueprintSpec


def load_sitting(*, session: Session, token: SessionToken | None) -> Sitting:
    """The student, assessment and blueprint a token names (``NotSignedIn`` if they are gone)."""
    if token is None:
        raise NotSignedIn("请先登录")
    student = session.get(Student, token.student_id)
    assessment = session.get(Assessment, token.assessment_id)
    if student is None or assessment is None:
        raise NotSignedIn("请重新登录")
    spec = live.spec_for(session, token.assessment_id, band_of_grade(student.grade))
    return Sitting(token, student, assessment, spec)


def _session_id(session: Session, sitting: Sitting) -> int | None:
    if sitting.token.test_session_id is not None:
        return sitting.token.test_session_id
    found = session.exec(
        select(TestSession.id).where(
            TestSession.assessment_id == sitting.token.assessment_id, TestSession.student_id == sitting.token.student_id
        )
    ).first()
    return None if found is None else int(found)


def _own_session(session: Session, sitting: Sitting) -> TestSession | None:
    """The sitting's test session, checked to belong to this student and still held by this device."""
    ts_id = _session_id(session, sitting)
    if ts_id is None:
        return None
    ts = session.get(TestSession, ts_id)
    if ts is None or ts.student_id != sitting.token.student_id or ts.assessment_id != sitting.token.assessment_id:
        raise NotSignedIn("请重新登录")
    if ts.status == "in_progress" and ts.device != sitting.token.device:
        raise TakenOver(TAKEN_OVER)
    return ts


# ============================================================================================ rendering
_RENDERED: dict[tuple[int, str, int | None, str | None], ItemView] = {}


def _item_view(item: live.VersionSnapshot) -> ItemView:
    """Render an item version for the student, cached by content hash.

    A version's text may change only while it is unlocked (never shown), and then its hash changes
    with it, so a cached rendering is never stale.
    """
    key = (item.id, item.content_hash, item.stimulus_version_id, item.stimulus_hash)
    hit = _RENDERED.get(key)
    if hit is not None:
        return hit
    rendered = render_item(
        type=item.type,
        stem=item.stem,
        options=item.options,
        parts=item.parts,
        stimulus_title=item.stimulus_title,
        stimulus_body=item.stimulus_body,
    )
    view = ItemView(
        id=item.id,
        type=item.type,
        stem_html=rendered.stem_html,
        stimulus_title_html=rendered.stimulus_title_html,
        stimulus_html=rendered.stimulus_html,
        options=tuple(OptionView(v, h) for v, h in rendered.options),
        parts=tuple(
            PartView(i + 1, p.prompt_html, tuple(OptionView(v, h) for v, h in p.options))
            for i, p in enumerate(rendered.parts)
        ),
    )
    if len(_RENDERED) > 4096:
        _RENDERED.clear()
    _RENDERED[key] = view
    return view


def _result(sitting: Sitting, ts: TestSession) -> ResultView | None:
    if not sitting.spec.show_result or not ts.level:
        return None
    return ResultView(ts.level, LEVEL_DESCRIPTIONS.get(ts.level, ""))


def _view(session: Session, sitting: Sitting, shown: Presented) -> TestView:
    ts = shown.test_session
    low, high, minutes = _bounds(sitting.spec)
    if shown.finished or shown.item_version is None:
        return TestView(ts.status, ts.position, low, high, minutes, None, None, _result(sitting, ts))
    item = _item_view(live.snapshot_of(session, shown.item_version))
    return TestView("in_progress", ts.position + 1, low, high, minutes, shown.remaining_seconds, item, None)


def _step_view(step: live.Step) -> TestView:
    low, high, minutes = _bounds(step.spec)
    if step.item is None:
        level = step.level if step.spec.show_result else None
        result = ResultView(level, LEVEL_DESCRIPTIONS.get(level, "")) if level else None
        return TestView(step.status, step.position, low, high, minutes, None, None, result)
    item = _item_view(step.item)
    return TestView("in_progress", step.position + 1, low, high, minutes, step.remaining_seconds, item, None)


def _bounds(spec: BlueprintSpec) -> tuple[int, int, int]:
    """Shortest and longest test the student may see (pilot items included), and the time limit."""
    return spec.min_items + spec.pilot_items, spec.max_items + spec.pilot_items, spec.time_limit_minutes


def _not_started(sitting: Sitting) -> TestView:
    low, high, minutes = _bounds(sitting.spec)
    return TestView("not_started", 0, low, high, minutes, None, None, None)


# ============================================================================================ actions
def view_of(*, session: Session, sitting: Sitting, now: datetime) -> TestView:
    """The sitting now (a sitting past its deadline is finished and scored on the way)."""
    ts = _own_session(session, sitting)
    if ts is None:
        return _not_started(sitting)
    return _view(session, sitting, current_item(session=session, test_session=ts, now=now))


def start(*, session: Session, sitting: Sitting, now: datetime) -> tuple[TestView, int]:
    """Start the sitting on this device, or return it as it stands; also return its test session id.

    A device that lost the sitting to another login gets :class:`TakenOver`: only a new login
    takes a sitting over, never a stale page.
    """
    ts = _own_session(session, sitting)
    if ts is not None:
        return _view(session, sitting, current_item(session=session, test_session=ts, now=now)), int(ts.id or 0)
    shown = start_session(
        session=session, assessment=sitting.assessment, student=sitting.student, device=sitting.token.device, now=now
    )
    if sitting.assessment.calibration_id is not None:
        live.remember(
            session=session,
            test_session=shown.test_session,
            student=sitting.student,
            calibration_id=sitting.assessment.calibration_id,
        )
    return _view(session, sitting, shown), int(shown.test_session.id or 0)


def answer(
    *,
    engine: Engine,
    token: SessionToken | None,
    item_id: int,
    value: Any,
    now: datetime,
    latency_ms: int | None = None,
) -> TestView:
    """Store the answer to the item on screen and return the next view.

    The fast path (:func:`assess.live.answer`) takes the common case in one short transaction of
    its own; whatever it cannot decide goes the full path in one ORM transaction, where every
    refusal (another item, a changed answer, another device, time up, a malformed answer) raises
    before anything is written, or after writes that the rollback undoes.
    """
    if token is None:
        raise NotSignedIn("请先登录")
    ts_id = token.test_session_id
    if ts_id is not None:
        step = live.answer(
            engine=engine,
            test_session_id=ts_id,
            student_id=token.student_id,
            assessment_id=token.assessment_id,
            device=token.device,
            item_version_id=item_id,
            answer=value,
            now=now,
            latency_ms=latency_ms,
        )
        if step is not None:
            return _step_view(step)
        live.forget(engine, ts_id)  # the full path decides, and may move the session on
    with session_scope(engine) as session:
        return _answer_in_full(session, token, item_id, value, now, latency_ms)


def _answer_in_full(
    session: Session, token: SessionToken, item_id: int, value: Any, now: datetime, latency_ms: int | None
) -> TestView:
    ts_id = token.test_session_id
    if ts_id is None:
        found = session.exec(
            select(TestSession.id).where(
                TestSession.assessment_id == token.assessment_id, TestSession.student_id == token.student_id
            )
        ).first()
        ts_id = None if found is None else int(found)
    if ts_id is None:
        raise SessionNotFound("测评还没有开始，请先点击“开始测评”。")

    def submit() -> Presented:
        assert ts_id is not None
        return submit_answer(
            session=session,
            test_session_id=ts_id,
            item_version_id=item_id,
            answer=value,
            now=now,
            device=token.device,
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
        if held_by is not None and held_by[1] == "in_progress" and held_by[0] != token.device:
            raise TakenOver(TAKEN_OVER) from None
        raise
    ts = shown.test_session
    if ts.student_id != token.student_id or ts.assessment_id != token.assessment_id:
        raise SessionNotFound("找不到该测评会话")
    return _view(session, load_sitting(session=session, token=token), shown)


def finish(*, session: Session, sitting: Sitting, now: datetime) -> TestView:
    """Hand the test in now (the API's "finish"): unanswered items are not reached."""
    ts = _own_session(session, sitting)
    if ts is None:
        raise SessionNotFound("测评还没有开始。")
    shown = current_item(session=session, test_session=ts, now=now)
    if not shown.finished:
        finish_session(session=session, test_session=ts, now=now)
    return _view(session, sitting, Presented(ts, None, None, True))


def check_presented(*, session: Session, sitting: Sitting, item_id: int) -> None:
    """Raise the refusal for an answer to ``item_id`` if it is not the item on screen.

    Used when a form does not fit its item: an answer naming another item is refused as such
    (409), not as a malformed answer.
    """
    ts_id = _session_id(session, sitting)
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
    if status == "in_progress" and device != sitting.token.device:
        raise TakenOver(TAKEN_OVER)
    if status != "in_progress":
        raise SessionClosed("本次测评已经结束")
    if current != item_id:
        raise AnswerRejected("只能回答当前显示的题目")


# ============================================================================================ forms
def _values(form: Mapping[str, Any], name: str) -> list[str]:
    raw = form.get(name)
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else [raw]
    return [str(v) for v in values if str(v) != ""]


def answer_from_form(*, engine: Engine, item_id: int, form: Mapping[str, Any]) -> Any:
    """The answer a submitted HTML form gives to item version ``item_id`` (shape per item type).

    Raises
    ------
    AnswerRejected
        ``item_id`` is not an item version at all.
    InvalidResponseError
        The form does not fit the item (two answers to a single choice, a part that does not exist).
    AnswerMissing
        Nothing (or not every part) was answered and the student did not choose to skip.
    """
    version = live.version(engine, item_id)
    if version is None:
        raise AnswerRejected("只能回答当前显示的题目")
    skip = form.get("skip") == "1"
    chosen = _values(form, "answer")
    value: Any
    if version.type == "partial_credit":
        n = len(version.parts or [])
        extra = [k for k in form if k.startswith("part-") and k.removeprefix("part-") not in {str(i) for i in range(n)}]
        if extra or chosen:
            raise InvalidResponseError("this form does not fit the item's parts")
        parts: list[str | None] = []
        for i in range(n):
            got = _values(form, f"part-{i}")
            if len(got) > 1:
                raise InvalidResponseError(f"part {i + 1} takes one answer")
            parts.append(got[0] if got else None)
        if None in parts and not skip:
            raise AnswerMissing("还有小题没有作答。请完成所有小题；如果确实不会，可以点击“跳过，提交”。")
        return parts
    if any(k.startswith("part-") for k in form):
        raise InvalidResponseError("this item has no parts")
    if not chosen and not skip:
        raise AnswerMissing("你还没有选择答案。如果确实不会，可以点击“跳过，提交”。")
    if version.type == "multiple_response":
        value = sorted(set(chosen)) or None
    elif len(chosen) > 1:
        raise InvalidResponseError("this item takes one answer")
    else:
        value = chosen[0] if chosen else None
    return value


# ============================================================================================ practice
PRACTICE = ItemView(
    id=0,
    type="single_choice",
    stem_html="<p>练习题：小明想知道“长城大约有多长”。下面哪种做法最合适？</p>",
    stimulus_title_html="",
    stimulus_html="",
    options=(
        OptionView("A", "在搜索框里输入“长城 长度”进行搜索"),
        OptionView("B", "打开一个游戏网站"),
        OptionView("C", "随便点开一条广告"),
    ),
    parts=(),
)
"""The unscored practice item shown after the instructions (its answer lives only on the server)."""

_PRACTICE_RIGHT = "A"


def practice_feedback(value: str | None) -> str:
    """What the practice page says about an answer (``ValueError`` for a value it does not offer)."""
    if value is None or value == "":
        return "你没有选择答案。正式测评中，如果确实不会，也可以跳过；跳过的题目不能再回来作答。"
    if value not in {o.value for o in PRACTICE.options}:
        raise ValueError(value)
    if value == _PRACTICE_RIGHT:
        return "答对了！用准确的关键词搜索，最容易找到需要的信息。"
    return "这次没选对。用准确的关键词（如“长城 长度”）搜索，最容易找到需要的信息。"
