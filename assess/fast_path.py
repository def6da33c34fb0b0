"""The answer fast path: live sessions kept in the process, checked by the database on every write.

The full path (:mod:`assess.full_path`) settles every case (a repeated answer, another device,
the deadline, a stale page) from the database alone: it reads the session, its answers and the
item, replays the engine over the answers and writes. That costs a dozen round trips per answer.
Here the common case, the item on screen answered by the device that holds the session, in time,
costs two statements and no read:

1. The process keeps each session it has served as a :class:`LiveSession`: the session row's
   fields that an answer is checked against, the blueprint, the band's engine bank and the
   engine state after the stored answers (built once from the database, exactly as
   :func:`assess.adaptive.rebuild_state` does for the full path).
2. An answer that fits the cached session is scored, the engine chooses the next item (the same
   :func:`assess.adaptive.choose_next` with the same seeded draw), and one transaction writes
   ``UPDATE test_session ... WHERE`` id, status, position, current item and device are what the
   cache says and the deadline has not passed, then ``INSERT response``. The guard makes the
   database the judge: if another worker moved the session on, another device took it over, or
   the cache is stale for any other reason, the update touches no row, the entry is dropped,
   nothing has been written, and :func:`take_answer` returns ``None``: the sitting service
   (:func:`assess.sitting.answer`) then takes the full path. Any answer that does not fit the
   cache goes the full path too.
3. The item versions a session is shown are locked when shown (with their stimuli), so a locked
   version's content never changes: :func:`assess.position.item_snapshot` keeps a snapshot of
   each locked version per process, and rendering and scoring read that instead of the database.

So any worker can still serve any request (the database is the only source of truth), and a
session served by the fast path gets exactly the items and scores the full path would give.

:func:`take_answer` writes in a transaction of its own on a driver connection that the process
keeps for the fast path (no ORM session, no pool checkout: their bookkeeping cost more than the
two statements). On PostgreSQL that connection runs in autocommit and an answer is one statement
(``WITH moved AS (UPDATE ... RETURNING id) INSERT ... SELECT``): one round trip, one transaction.
Functions here are not thread-safe per engine; the web app calls them from its event loop only,
and :func:`take_answer` holds a lock per engine.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.adaptive import choose_next, final_result, rebuild_state, session_pilots
from assess.banks import BandBank, grade_band, load_band_bank, spec_for
from assess.blueprints import BlueprintSpec
from assess.engine import CatState, record_answers
from assess.full_path import answered_items
from assess.models import Assessment, Response, Student, TestSession
from assess.position import Position, VersionSnapshot, engine_of, item_snapshot
from assess.scales import CutScores
from assess.scoring_rule import reported_result
from assess.standards.versions import band_scale
from itembank.db import DriverStatement, aware_utc
from itembank.exceptions import NotFoundError
from itembank.queries import lock_item_version
from itembank.scoring_rules import score_response

__all__ = ["LiveSession", "forget", "remember", "take_answer"]

_TS = TestSession.__table__  # type: ignore[attr-defined]
_RESP = Response.__table__  # type: ignore[attr-defined]


# ============================================================================================ sessions
@dataclass
class LiveSession:
    """What the process knows of a session in progress (the database may be ahead of it)."""

    id: int
    assessment_id: int
    assessment_name: str
    student_id: int
    device: str
    position: int
    current: int
    deadline: datetime | None
    seed: int
    grade: int
    bank: BandBank
    spec: BlueprintSpec
    cuts: CutScores
    state: CatState
    pilots: frozenset[int]


class _EngineState:
    """The fast path's per-process state for one database engine: its sessions and its connection."""

    def __init__(self, capacity: int = 60_000) -> None:
        self.capacity = capacity
        self.sessions: OrderedDict[int, LiveSession] = OrderedDict()
        self.lock = threading.Lock()
        self.writer: Any = None  # a pooled driver connection kept for the fast path's writes
        self.autocommit = False  # whether ``writer`` is in autocommit (PostgreSQL)

    def writer_for(self, engine: Engine) -> Any:
        """The fast path's connection (checked out of the pool once; call under ``lock``).

        On PostgreSQL it runs in autocommit: an answer is one statement (see
        :func:`_moved_then_inserted`), so no BEGIN and COMMIT round trips.
        """
        if self.writer is None:
            writer = engine.raw_connection()
            autocommit = engine.dialect.name == "postgresql"
            if autocommit:
                driver: Any = writer.driver_connection
                driver.autocommit = True
            self.writer, self.autocommit = writer, autocommit
        return self.writer

    def drop_writer(self, *, invalidate: bool = False) -> None:
        """Give the connection back to the pool (or discard it when it is broken)."""
        writer, self.writer = self.writer, None
        if writer is not None:
            if invalidate:
                writer.invalidate()
            elif self.autocommit:
                try:
                    writer.driver_connection.autocommit = False  # as the pool hands connections out
                except Exception:  # noqa: BLE001 - cannot be reset: do not give it back
                    writer.invalidate()
            writer.close()
        self.autocommit = False

    def get(self, session_id: int) -> LiveSession | None:
        live = self.sessions.get(session_id)
        if live is not None:
            self.sessions.move_to_end(session_id)
        return live

    def put(self, live: LiveSession) -> None:
        self.sessions[live.id] = live
        self.sessions.move_to_end(live.id)
        while len(self.sessions) > self.capacity:
            self.sessions.popitem(last=False)


_STATES: weakref.WeakKeyDictionary[Engine, _EngineState] = weakref.WeakKeyDictionary()


def _state(source: Session | Engine) -> _EngineState:
    engine = engine_of(source)
    st = _STATES.get(engine)
    if st is None:
        st = _STATES.setdefault(engine, _EngineState())
        event.listen(engine, "engine_disposed", _disposed)
    return st


def _disposed(engine: Engine) -> None:
    # the pool the connection came from is gone: close the connection rather than return it
    st = _STATES.get(engine)
    if st is not None:
        with st.lock:
            st.drop_writer(invalidate=True)


def forget(source: Session | Engine, test_session_id: int) -> None:
    """Drop a session from the process cache (after the full path changed it)."""
    _state(source).sessions.pop(test_session_id, None)


def remember(*, session: Session, test_session: TestSession, assessment: Assessment, student: Student) -> None:
    """Cache a session just started in the caller's transaction, so its first answer reads nothing.

    Safe even if that transaction is rolled back: every fast-path write is checked by the guard.
    """
    ts = test_session
    if ts.id is None or ts.status != "in_progress" or ts.current_item_version_id is None or ts.position != 0:
        return
    if assessment.calibration_id is None:
        return
    _state(session).put(_entry(ts, assessment, student, _Sources.of(session, assessment, student), []))


@dataclass(frozen=True)
class _Sources:
    """What a session of this assessment and student draws on: the band's bank, blueprint and cuts."""

    bank: BandBank
    spec: BlueprintSpec
    cuts: CutScores

    @classmethod
    def of(cls, session: Session, assessment: Assessment, student: Student) -> _Sources:
        band = grade_band(student.grade, session=session)
        spec = spec_for(session, int(assessment.id or 0), band.code)
        bank = load_band_bank(session=session, calibration_id=int(assessment.calibration_id or 0), band=band.code)
        return cls(bank, spec, band_scale(session=session, band=band))


def _entry(
    ts: TestSession,
    assessment: Assessment,
    student: Student,
    sources: _Sources,
    answered: list[tuple[int, int | None]],
) -> LiveSession:
    """The cache entry of a session in progress with these stored answers (its item on screen)."""
    bank, spec = sources.bank, sources.spec
    pilots = session_pilots(bank, spec, ts.seed)
    return LiveSession(
        id=int(ts.id or 0),
        assessment_id=ts.assessment_id,
        assessment_name=assessment.name,
        student_id=ts.student_id,
        device=ts.device,
        position=ts.position,
        current=int(ts.current_item_version_id or 0),
        deadline=aware_utc(ts.deadline),
        seed=ts.seed,
        grade=student.grade,
        bank=bank,
        spec=spec,
        cuts=sources.cuts,
        state=rebuild_state(bank, spec, student.grade, answered, seed=ts.seed, pilots=pilots, on_screen=True),
        pilots=pilots,
    )


def _load(engine: Engine, test_session_id: int) -> LiveSession | None:
    """Build a session's entry from committed data, or ``None``.

    The read is its own, outside the caller's transaction. ``None`` means it is not a session in
    progress that the fast path can serve.
    """
    with Session(engine, expire_on_commit=False) as s:
        ts = s.get(TestSession, test_session_id)
        if ts is None or ts.status != "in_progress" or ts.current_item_version_id is None:
            return None
        student = s.get(Student, ts.student_id)
        assessment = s.get(Assessment, ts.assessment_id)
        if student is None or assessment is None or assessment.calibration_id is None:
            return None
        sources = _Sources.of(s, assessment, student)
        answered = answered_items(s, ts)
        known = set(sources.bank.version_ids)
        if len(answered) != ts.position or any(v not in known for v, _ in answered):
            return None
        return _entry(ts, assessment, student, sources, answered)


_GUARD_SQL = (
    "WHERE id = {} AND status = 'in_progress' AND position = {} AND current_item_version_id = {} "
    "AND device = {} AND (deadline IS NULL OR deadline >= {})"
)
_GUARD_COLUMNS = (_TS.c.id, _TS.c.position, _TS.c.current_item_version_id, _TS.c.device, _TS.c.deadline)
# the hottest statements go straight to the driver (itembank.db.DriverStatement)
_ADVANCE = DriverStatement(
    "UPDATE test_session SET position = {}, current_item_version_id = {}, theta = {}, se = {} " + _GUARD_SQL,
    (_TS.c.position, _TS.c.current_item_version_id, _TS.c.theta, _TS.c.se, *_GUARD_COLUMNS),
)
_FINISHED = (
    "finished_at",
    "position",
    "n_scored",
    "theta",
    "se",
    "scale_score",
    "level",
    "passed",
    "subscores",
    "assessed",
)
_FINISH = DriverStatement(
    "UPDATE test_session SET status = 'finished', current_item_version_id = NULL, "
    + ", ".join(f"{name} = {{}}" for name in _FINISHED)
    + " "
    + _GUARD_SQL,
    (*(_TS.c[name] for name in _FINISHED), *_GUARD_COLUMNS),
)
_RESPONSE = (
    "session_id",
    "item_version_id",
    "position",
    "answer",
    "score",
    "pilot",
    "latency_ms",
    "answered_at",
)
_INSERT = DriverStatement(
    f"INSERT INTO response ({', '.join(_RESPONSE)}) VALUES ({', '.join('{}' for _ in _RESPONSE)})",
    tuple(_RESP.c[name] for name in _RESPONSE),
)


def _moved_then_inserted(update: DriverStatement) -> DriverStatement:
    """PostgreSQL: the guarded UPDATE and the INSERT as one statement, so one round trip in autocommit.

    The INSERT takes its row from the UPDATE's ``RETURNING``: when the guard matches no row,
    nothing is inserted either, and the row count (0 or 1) says which. One statement is one
    transaction, so a failing INSERT undoes the UPDATE.
    """
    values = ", ".join("{}" for _ in _RESPONSE)
    return DriverStatement(
        f"WITH moved AS ({update.sql} RETURNING id) INSERT INTO response ({', '.join(_RESPONSE)}) "
        f"SELECT {values} FROM moved",
        (*update.columns, *_INSERT.columns),
    )


_ONE_STATEMENT = {_ADVANCE: _moved_then_inserted(_ADVANCE), _FINISH: _moved_then_inserted(_FINISH)}


def take_answer(
    *,
    engine: Engine,
    test_session_id: int,
    student_id: int,
    assessment_id: int,
    device: str,
    item_version_id: int,
    answer: Any,
    now: datetime,
    latency_ms: int | None = None,
) -> Position | None:
    """Take an answer on the fast path, in a transaction of its own (committed on return).

    Returns where the sitting stands next, or ``None`` when the fast path cannot decide: then
    nothing was written and the caller must use :func:`assess.full_path.submit_answer`, which
    settles the case.

    Raises
    ------
    itembank.exceptions.InvalidResponseError
        The answer does not fit the item on screen (nothing was written).
    """
    cache = _state(engine)
    with cache.lock:
        live = cache.get(test_session_id)
        if live is None or not _fits(live, student_id, assessment_id, device, item_version_id):
            # not cached, or the cache may be behind another worker: read it again, once
            cache.sessions.pop(test_session_id, None)
            live = _load(engine, test_session_id)
            if live is None:
                return None
            cache.put(live)
            if not _fits(live, student_id, assessment_id, device, item_version_id):
                return None
        if live.deadline is not None and now > live.deadline:
            return None  # the full path closes the session and says so
        item = item_snapshot(engine, item_version_id)
        if item is None:
            return None
        score = score_response(item, answer)  # InvalidResponseError: nothing changed yet
        try:
            return _take(engine, cache, live, item, answer, score, now, latency_ms)
        except BaseException:
            cache.sessions.pop(test_session_id, None)  # its state may be half-updated
            raise


def _fits(live: LiveSession, student_id: int, assessment_id: int, device: str, item_version_id: int) -> bool:
    return (
        live.student_id == student_id
        and live.assessment_id == assessment_id
        and live.device == device
        and live.current == item_version_id
    )


def _take(
    engine: Engine,
    cache: _EngineState,
    live: LiveSession,
    item: VersionSnapshot,
    value: Any,
    score: int,
    now: datetime,
    latency_ms: int | None,
) -> Position | None:
    bank, state = live.bank, live.state
    j = bank.index_of(item.id)
    position = live.position
    record_answers(bank.engine, state, np.array([0]), np.array([j]), np.array([score]))
    nxt = choose_next(bank, live.spec, state, seed=live.seed, position=position + 1, pilots=live.pilots)
    guard = (live.id, position, live.current, live.device, now)
    if nxt < 0:
        n = int(state.n_given[0])
        given, scores = state.given[0, :n], state.scores[0, :n]
        op = ~bank.engine.pilot[given]
        result = final_result(bank, live.spec, live.grade, given[op].tolist(), scores[op].tolist(), cuts=live.cuts)
        reported = reported_result(result, n_scored=int(op.sum()), min_items=live.spec.min_items)
        finished: tuple[Any, ...] = (now, n, int(op.sum()), float(result.theta), float(result.se))
        finished += (reported.scale_score, reported.level, reported.passed, result.subscores, reported.assessed)
        update, values = _FINISH, finished + guard
        shown = None
    else:
        shown = item_snapshot(engine, bank.version_ids[nxt])
        if shown is None:
            raise NotFoundError(f"no item version with id {bank.version_ids[nxt]}")
        update, values = _ADVANCE, (position + 1, shown.id, float(state.theta[0]), float(state.se[0])) + guard
    answered = (live.id, item.id, position, {"value": value}, score, bool(bank.engine.pilot[j]), latency_ms, now)
    if shown is None or shown.locked:
        written = _write(engine, cache, update, values, answered)
    else:  # shown for the first time (in this process): locked in the same transaction
        written = _write_and_lock(engine, update, values, answered, shown.id)
        shown = item_snapshot(engine, shown.id)
        assert shown is not None
    if not written:
        cache.sessions.pop(live.id, None)  # the database says otherwise: the full path decides
        return None
    if shown is None:
        cache.sessions.pop(live.id, None)
        said = live.cuts.description(reported.level)
        return Position(
            live.id, "finished", n, None, None, reported.level, live.spec, live.assessment_name, reported.assessed, said
        )
    live.position, live.current = position + 1, shown.id
    remaining = None if live.deadline is None else max(0, int((live.deadline - now).total_seconds()))
    return Position(live.id, "in_progress", position + 1, shown, remaining, None, live.spec, live.assessment_name)


def _write_and_lock(
    engine: Engine, update: DriverStatement, values: tuple[Any, ...], answered: tuple[Any, ...], version_id: int
) -> bool:
    """:func:`_write` plus the lock of the version about to be shown, in one transaction.

    The lock (with the stimulus) is the full path's own; it runs on a pooled connection through
    an ORM session. Rare: a version's first showing in this process.
    """
    with engine.begin() as conn:
        if update.execute(conn, values) != 1:
            conn.rollback()
            return False
        _INSERT.execute(conn, answered)
        with Session(bind=conn) as session:  # joins the transaction; commits nothing itself
            lock_item_version(session=session, version_id=version_id)
    return True


def _write(
    engine: Engine, cache: _EngineState, update: DriverStatement, values: tuple[Any, ...], answered: tuple[Any, ...]
) -> bool:
    """The guarded UPDATE and the INSERT in one transaction; ``False`` (nothing written) if the guard failed."""
    dialect = engine.dialect
    raw = cache.writer_for(engine)
    try:
        if cache.autocommit:  # PostgreSQL: one statement, one round trip, its own transaction
            return _ONE_STATEMENT[update].execute_on(raw, dialect.name, values + answered) == 1
        if update.execute_on(raw, dialect.name, values) != 1:
            raw.rollback()
            return False
        _INSERT.execute_on(raw, dialect.name, answered)
        raw.commit()
        return True
    except BaseException as exc:
        broken = isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(exc, raw, None)
        if not broken:
            try:
                raw.rollback()
            except Exception:  # noqa: BLE001 - the connection is unusable: discard it
                broken = True
        if broken:
            cache.drop_writer(invalidate=True)
            return False  # nothing was committed; the full path takes it on a fresh connection
        raise
