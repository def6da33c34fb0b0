"""Live test sessions: start or resume, present the next item, take an answer, finish and score.

Every function takes an open SQLModel ``session`` and works inside the caller's transaction
(use :func:`itembank.db.session_scope`): an answer row and the move to the next item are written
together or not at all. All state lives in the database (the session row and its responses), so
any app worker can serve any request, and a resumed session continues exactly where it stopped:
the engine state is rebuilt from the stored answers, and the random draw at position ``p`` comes
from ``default_rng([seed, p])``, so an interrupted and an uninterrupted session with the same seed
get the same items.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_
from sqlmodel import Session, col, select

from assess.blueprints import BlueprintSpec, parse_blueprint
from assess.engine import EngineBank, initial_theta, new_state, record_answers, select_next_items, should_stop
from assess.exceptions import (
    AnswerRejected,
    SessionClosed,
    SessionNotFound,
    WindowClosed,
)
from assess.models import Assessment, BlueprintRow, Response, Student, TestSession
from assess.scales import final_scores
from itembank.models import Calibration, Item, ItemParameter, ItemVersion, utcnow
from itembank.scoring_rules import score_response
from itembank.services import lock_item_version
from scoring.params import ItemParams

__all__ = [
    "BandBank",
    "Presented",
    "answered_items",
    "aware_utc",
    "band_of_grade",
    "blueprint_for",
    "choose_next",
    "exposure_bank",
    "current_item",
    "final_result",
    "finish_session",
    "load_band_bank",
    "pilot_positions",
    "rebuild_state",
    "session_pilots",
    "start_session",
    "submit_answer",
]

GRADE_BANDS = {
    3: "3-4",
    4: "3-4",
    5: "5-6",
    6: "5-6",
    7: "7-9",
    8: "7-9",
    9: "7-9",
    10: "10-12",
    11: "10-12",
    12: "10-12",
}


def band_of_grade(grade: int) -> str:
    """The grade band (``3-4``, ``5-6``, ``7-9``, ``10-12``) of a grade."""
    try:
        return GRADE_BANDS[int(grade)]
    except KeyError:
        raise ValueError(f"grade {grade} is outside grades 3-12") from None


@dataclass(frozen=True, eq=False)
class BandBank:
    """The engine bank of one calibration and grade band, with the item versions behind it.

    ``version_ids[j]`` and ``codes[j]`` belong to engine item ``j``; ``dimensions[j]`` is its
    dimension code (the content area).
    """

    calibration_id: int
    band: str
    engine: EngineBank
    version_ids: tuple[int, ...]
    codes: tuple[str, ...]
    dimensions: tuple[str, ...]

    @property
    def pilot_indices(self) -> np.ndarray:
        """Engine indices of the pilot items (seeded unscored at fixed positions)."""
        cached = self.__dict__.get("_pilot_cache")
        if cached is None:
            cached = np.nonzero(self.engine.pilot)[0]
            object.__setattr__(self, "_pilot_cache", cached)
        return cached

    def index_of(self, version_id: int) -> int:
        """Engine index of an item version (``KeyError`` if it is not in this bank)."""
        return self._index[version_id]

    @property
    def _index(self) -> dict[int, int]:
        cached: dict[int, int] | None = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {v: j for j, v in enumerate(self.version_ids)}
            object.__setattr__(self, "_index_cache", cached)
        return cached


def load_band_bank(*, session: Session, calibration_id: int, band: str) -> BandBank:
    """Build (or take from the per-process cache) the engine bank for a calibration and band.

    Operational items with parameters in the calibration are selectable; items with status
    ``pilot`` are seeded unscored (their provisional parameters, if any, are never used to score).
    """
    stamp = session.exec(
        select(Calibration.published_at, Calibration.created_at).where(Calibration.id == calibration_id)
    ).first()
    if stamp is None:
        raise LookupError(f"calibration {calibration_id} does not exist")
    url = session.get_bind().engine.url.render_as_string()
    return _load_band_bank_cached(url, calibration_id, band, str(stamp), session)


_BANK_CACHE: dict[tuple[str, int, str, str], BandBank] = {}


def _load_band_bank_cached(url: str, calibration_id: int, band: str, stamp: str, session: Session) -> BandBank:
    key = (url, calibration_id, band, stamp)
    if key not in _BANK_CACHE:
        if len(_BANK_CACHE) > 32:
            _BANK_CACHE.clear()
        _BANK_CACHE[key] = _build_band_bank(session, calibration_id, band)
    return _BANK_CACHE[key]


def _build_band_bank(session: Session, calibration_id: int, band: str) -> BandBank:
    rows = session.exec(
        select(Item, ItemVersion, ItemParameter)
        .join(
            ItemVersion,
            and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.number) == col(Item.current_version)),
        )
        .join(
            ItemParameter,
            and_(
                col(ItemParameter.item_version_id) == col(ItemVersion.id),
                col(ItemParameter.calibration_id) == calibration_id,
            ),
            isouter=True,
        )
        .where(col(Item.status).in_(["operational", "pilot"]))
        .order_by(Item.code)
    ).all()
    chosen = [
        (item, version, par)
        for item, version, par in rows
        if band in (item.grade_bands or []) and (par is not None or item.status == "pilot")
    ]
    if not chosen:
        raise LookupError(f"no calibrated items for grade band {band} in calibration {calibration_id}")
    table = []
    for item, version, par in chosen:
        if par is None:  # a pilot item without parameters: placeholder, never selected or scored
            k = version.max_score
            model = "2pl" if k == 1 else "gpcm"
            table.append(
                {"item": item.code, "model": model, "a": 1.0, "c": 0.0}
                | {f"b{i + 1}": float(i) - (k - 1) / 2 for i in range(k)}
            )
        else:
            table.append(
                {"item": item.code, "model": par.model, "a": par.a, "c": par.c}
                | {f"b{i + 1}": b for i, b in enumerate(par.b)}
            )
    params = ItemParams.from_rows(table)
    codes = tuple(item.code for item, _, _ in chosen)
    dims = tuple(item.dimension for item, _, _ in chosen)
    code_set = set(codes)
    enemies = [(item.code, e) for item, _, _ in chosen for e in (item.enemies or []) if e in code_set]
    pilot = [item.code for item, _, _ in chosen if item.status == "pilot"]
    engine = EngineBank.build(params, dims, enemies=enemies, pilot=pilot, sub_areas=[i.indicator for i, _, _ in chosen])
    return BandBank(
        calibration_id=calibration_id,
        band=band,
        engine=engine,
        version_ids=tuple(int(v.id or 0) for _, v, _ in chosen),
        codes=codes,
        dimensions=dims,
    )


def blueprint_for(*, session: Session, assessment_id: int, band: str) -> BlueprintSpec:
    """The validated blueprint of an assessment's grade band."""
    row = session.exec(
        select(BlueprintRow).where(BlueprintRow.assessment_id == assessment_id, BlueprintRow.grade_band == band)
    ).first()
    if row is None:
        raise LookupError(f"assessment {assessment_id} has no blueprint for grade band {band}")
    return parse_blueprint(row.spec)


def pilot_positions(seed: int, spec: BlueprintSpec, n_pilot_available: int) -> frozenset[int]:
    """Positions (0-based) at which a session gets a pilot item, fixed by its seed."""
    n = min(spec.pilot_items, n_pilot_available)
    if n <= 0:
        return frozenset()
    span = max(spec.min_items, n)
    rng = np.random.default_rng([seed, 1_000_003])
    return frozenset(int(p) for p in rng.choice(span, size=n, replace=False))


def rebuild_state(  # type: ignore[no-untyped-def]
    bank: BandBank,
    spec: BlueprintSpec,
    grade: int,
    answered: Sequence[tuple[int, int | None]],
    *,
    seed: int | None = None,
    pilots: frozenset[int] = frozenset(),
    on_screen: bool = False,
):
    """The engine state of one session from its stored answers ``(item_version_id, score)`` in order.

    With Sympson-Hetter exposure control, the items the acceptance draws rejected stay blocked
    for the rest of the session. They are not stored: given the session's ``seed`` (and its
    ``pilots`` positions), each position's choice is made again, with the same draw, before its
    answer is recorded, which blocks exactly the items rejected when the student was there.
    ``on_screen``: an item is on screen at the next position (not answered yet), so its choice
    is made again too.
    """
    bp = spec.engine_blueprint()
    state = new_state(bank.engine, bp, np.array([grade]), capacity=spec.max_items + spec.pilot_items + 1)
    one = np.array([0])
    replay = seed if bp.sympson_hetter else None
    for position, (version_id, score) in enumerate(answered):
        j = bank.index_of(version_id)
        if replay is not None:
            choose_next(bank, spec, state, seed=replay, position=position, pilots=pilots)
        record_answers(bank.engine, state, one, np.array([j]), np.array([0 if score is None else score]))
    if replay is not None and on_screen:
        choose_next(bank, spec, state, seed=replay, position=len(answered), pilots=pilots)
    return state


def exposure_bank(bank: BandBank, spec: BlueprintSpec) -> EngineBank:
    """The engine bank with the blueprint's Sympson-Hetter parameters (``spec.exposure``, by code).

    Made once per bank and spec (both are cached per process) and kept on the spec.
    """
    made: dict[int, tuple[EngineBank, EngineBank]] = spec.__dict__.setdefault("_exposure_banks", {})
    hit = made.get(id(bank.engine))
    if hit is None or hit[0] is not bank.engine:
        k = np.array([float(spec.exposure.get(code, 1.0)) for code in bank.codes])
        hit = (bank.engine, bank.engine.with_exposure(k))
        if len(made) > 8:
            made.clear()
        made[id(bank.engine)] = hit
    return hit[1]


@dataclass(frozen=True)
class Presented:
    """What the student's screen shows now: the session and the current item version, if any."""

    test_session: TestSession
    item_version: ItemVersion | None
    remaining_seconds: int | None
    finished: bool


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def aware_utc(dt: datetime | None) -> datetime | None:
    """A stored (naive UTC) timestamp as an aware one; ``None`` stays ``None``."""
    if dt is not None and dt.tzinfo is None:
        from datetime import UTC

        return dt.replace(tzinfo=UTC)
    return dt


def start_session(
    *,
    session: Session,
    assessment: Assessment,
    student: Student,
    device: str | None = None,
    now: datetime | None = None,
    seed: int | None = None,
) -> Presented:
    """Start the student's session, or resume it (a new ``device`` takes the session over).

    Raises
    ------
    WindowClosed
        Outside the assessment's window (a finished session can still be shown).
    """
    now = _now(now)
    existing = session.exec(
        select(TestSession).where(TestSession.assessment_id == assessment.id, TestSession.student_id == student.id)
    ).first()
    if existing is not None:
        if device and existing.device != device and existing.status == "in_progress":
            existing.device = device
            session.add(existing)
        return current_item(session=session, test_session=existing, now=now)
    opens, closes = aware_utc(assessment.opens_at), aware_utc(assessment.closes_at)
    assert opens is not None and closes is not None
    if not opens <= now <= closes:
        raise WindowClosed("本次测评不在开放时间内")
    band = band_of_grade(student.grade)
    spec = blueprint_for(session=session, assessment_id=int(assessment.id or 0), band=band)
    ts = TestSession(
        assessment_id=int(assessment.id or 0),
        student_id=int(student.id or 0),
        seed=int(seed if seed is not None else secrets.randbits(31)),
        device=device or secrets.token_hex(8),
        started_at=now,
        deadline=now + timedelta(minutes=spec.time_limit_minutes),
    )
    session.add(ts)
    session.flush()
    _advance(session=session, ts=ts, assessment=assessment, student=student, spec=spec, now=now)
    return current_item(session=session, test_session=ts, now=now)


def current_item(*, session: Session, test_session: TestSession, now: datetime | None = None) -> Presented:
    """What the session shows now; an expired session is finished and scored first."""
    now = _now(now)
    ts = test_session
    deadline = aware_utc(ts.deadline)
    if ts.status == "in_progress" and deadline is not None and now > deadline:
        finish_session(session=session, test_session=ts, now=now, status="expired")
    if ts.status != "in_progress" or ts.current_item_version_id is None:
        return Presented(ts, None, None, True)
    version = session.get(ItemVersion, ts.current_item_version_id)
    remaining = None if deadline is None else max(0, int((deadline - now).total_seconds()))
    return Presented(ts, version, remaining, False)


def answered_items(session: Session, ts: TestSession) -> list[tuple[int, int | None]]:
    """A session's stored answers as ``(item_version_id, score)``, in the order given."""
    rows = session.exec(
        select(Response.item_version_id, Response.score)
        .where(Response.session_id == ts.id)
        .order_by(col(Response.position))
    ).all()
    return [(int(v), s) for v, s in rows]


def choose_next(
    bank: BandBank, spec: BlueprintSpec, state: Any, *, seed: int, position: int, pilots: frozenset[int]
) -> int:
    """Engine index of the item for ``position`` of a session, or ``-1`` when the test ends here.

    The stop rule comes first; then, at the session's pilot ``positions``, a pilot item it has not
    had; otherwise the engine's choice. The draw uses ``default_rng([seed, position])``, so the
    choice depends only on the stored answers. With Sympson-Hetter exposure control the draw
    uses the blueprint's parameters (:func:`exposure_bank`), and the items it rejects are blocked
    in ``state`` for the rest of the session (:func:`rebuild_state` blocks them again on a rebuild).
    """
    bp = spec.engine_blueprint()
    if bool(should_stop(bank.engine, bp, state)[0]):
        return -1
    rng = np.random.default_rng([seed, position])
    if position in pilots:
        pool = bank.pilot_indices
        free = pool[~np.isin(pool, state.given[0, : state.n_given[0]])]
        if free.size:
            return int(rng.choice(free))
    engine = exposure_bank(bank, spec) if bp.sympson_hetter else bank.engine
    # -1: the band's bank is exhausted under the rules, the test ends here
    return int(select_next_items(engine, bp, state, rng)[0])


def session_pilots(bank: BandBank, spec: BlueprintSpec, seed: int) -> frozenset[int]:
    """The positions at which a session with ``seed`` gets a pilot item."""
    return pilot_positions(seed, spec, int(bank.pilot_indices.size))


def final_result(bank: BandBank, spec: BlueprintSpec, grade: int, items: Sequence[int], scores: Sequence[int]) -> Any:
    """The reported result (:class:`assess.scales.FinalScores`) of a session.

    ``items`` are its operational items (engine indices), ``scores`` their scores.
    """
    return final_scores(
        bank.engine,
        list(items),
        list(scores),
        method=spec.final_estimator,
        band=bank.band,
        prior_mean=float(initial_theta(spec.engine_blueprint(), np.array([grade]))[0]),
    )


def _advance(
    *, session: Session, ts: TestSession, assessment: Assessment, student: Student, spec: BlueprintSpec, now: datetime
) -> None:
    """Choose the item for position ``ts.position`` (or finish), and store it on the session row.

    The item shown is locked at once (with its stimulus): a version a student has seen never
    changes, so an edit made while the test runs makes a new version.
    """
    if assessment.calibration_id is None:
        raise LookupError(f"assessment {assessment.code} has no calibration")
    bank = load_band_bank(session=session, calibration_id=assessment.calibration_id, band=band_of_grade(student.grade))
    answered = answered_items(session, ts)
    pilots = session_pilots(bank, spec, ts.seed)
    state = rebuild_state(bank, spec, student.grade, answered, seed=ts.seed, pilots=pilots)
    position = len(answered)
    choice = choose_next(bank, spec, state, seed=ts.seed, position=position, pilots=pilots)
    if choice < 0:
        finish_session(session=session, test_session=ts, now=now, bank=bank, state=state)
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
) -> Presented:
    """Store the answer to the item on screen and move on, in the caller's transaction.

    Resubmitting the answer already stored for an item is a no-op (a double click or a retried
    request after a lost connection). An answer to any other item, from a device that no longer
    holds the session, or after the deadline, is refused and changes nothing.
    """
    now = _now(now)
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
        finish_session(session=session, test_session=ts, now=now, status="expired")
        raise SessionClosed("作答时间已到，本次测评已结束")
    if ts.current_item_version_id != item_version_id:
        raise AnswerRejected("只能回答当前显示的题目")
    version = session.get(ItemVersion, item_version_id)
    assessment = session.get(Assessment, ts.assessment_id)
    student = session.get(Student, ts.student_id)
    assert version is not None and assessment is not None and student is not None
    score = score_response(version, answer)  # raises InvalidResponseError for a malformed answer
    item = session.get(Item, version.item_id)
    pilot = item is not None and item.status == "pilot"
    session.add(
        Response(
            session_id=int(ts.id or 0),
            item_version_id=item_version_id,
            position=ts.position,
            answer={"value": answer},
            score=score,
            pilot=pilot,
            latency_ms=latency_ms,
            answered_at=now,
        )
    )
    if not version.locked:
        version.locked = True
        session.add(version)
    ts.current_item_version_id = None
    session.flush()
    spec = blueprint_for(session=session, assessment_id=ts.assessment_id, band=band_of_grade(student.grade))
    _advance(session=session, ts=ts, assessment=assessment, student=student, spec=spec, now=now)
    return current_item(session=session, test_session=ts, now=now)


def finish_session(
    *,
    session: Session,
    test_session: TestSession,
    now: datetime | None = None,
    status: str = "finished",
    bank: BandBank | None = None,
    state: Any = None,
) -> TestSession:
    """Close a session and store its final score: theta, SE, scale score, level, subscores."""
    ts = test_session
    if ts.status != "in_progress":
        return ts
    assessment = session.get(Assessment, ts.assessment_id)
    student = session.get(Student, ts.student_id)
    assert assessment is not None and student is not None and assessment.calibration_id is not None
    band = band_of_grade(student.grade)
    if bank is None:
        bank = load_band_bank(session=session, calibration_id=assessment.calibration_id, band=band)
    answered = answered_items(session, ts)
    spec = blueprint_for(session=session, assessment_id=ts.assessment_id, band=band)
    scored = [(bank.index_of(v), s) for v, s in answered if s is not None and not bank.engine.pilot[bank.index_of(v)]]
    result = final_result(bank, spec, student.grade, [j for j, _ in scored], [s for _, s in scored])
    ts.status = status
    ts.finished_at = _now(now)
    ts.current_item_version_id = None
    ts.position = len(answered)
    ts.n_scored = len(scored)
    ts.theta, ts.se = result.theta, result.se
    ts.scale_score, ts.level, ts.passed = result.scale_score, result.level, result.passed
    ts.subscores = result.subscores
    session.add(ts)
    return ts
