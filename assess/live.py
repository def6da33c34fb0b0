"""The answer fast path: live sessions kept in the process, checked by the database on every write.

:func:`assess.sessions.submit_answer` settles every case (a repeated answer, another device, the
deadline, a stale page) from the database alone: it reads the session, its answers and the item,
replays the engine over the answers and writes. That costs a dozen round trips per answer. Here
the common case, the item on screen answered by the device that holds the session, in time,
costs two statements and no read:

1. The process keeps each session it has served as a :class:`LiveSession`: the session row's
   fields that an answer is checked against, the blueprint, the band's engine bank and the
   engine state after the stored answers (built once from the database, exactly as
   :func:`assess.sessions.rebuild_state` does).
2. An answer that fits the cached session is scored, the engine chooses the next item (the same
   :func:`assess.sessions.choose_next` with the same seeded draw), and one transaction writes
   ``UPDATE test_session ... WHERE`` id, status, position, current item and device are what the
   cache says and the deadline has not passed, then ``INSERT response``. The guard makes the
   database the judge: if another worker moved the session on, another device took it over, or
   the cache is stale for any other reason, the update touches no row, the entry is dropped,
   nothing has been written, and the caller takes the full path. Any answer that does not fit
   the cache goes the full path too.
3. The item versions a session is shown are locked when shown (with their stimuli), so a locked
   version's content never changes: :func:`version` keeps a snapshot of each locked version per
   process and rendering and scoring read that instead of the database.

So any worker can still serve any request (the database is the only source of truth), and a
session served by the fast path gets exactly the items and scores the full path would give.

:func:`answer` writes in a transaction of its own on a driver connection that the process keeps
for the fast path (no ORM session, no pool checkout: their bookkeeping cost more than the two
statements). Functions here are not thread-safe per engine; the web app calls them from its
event loop only, and :func:`answer` holds a lock per engine.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, event, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from assess.blueprints import BlueprintSpec
from assess.engine import CatState, record_answers
from assess.models import Assessment, Response, Student, TestSession
from assess.sessions import (
    BandBank,
    answered_items,
    aware_utc,
    band_of_grade,
    blueprint_for,
    choose_next,
    final_result,
    load_band_bank,
    rebuild_state,
    session_pilots,
)
from itembank.db import DriverStatement
from itembank.models import ItemVersion, StimulusVersion
from itembank.scoring_rules import score_response
from itembank.services import lock_item_version

__all__ = [
    "LiveSession",
    "Step",
    "VersionSnapshot",
    "answer",
    "forget",
    "remember",
    "snapshot_of",
    "spec_for",
    "version",
]


# ============================================================================================ versions
@dataclass(frozen=True)
class VersionSnapshot:
    """An item version with its stimulus, as scoring and rendering need it (a read-only copy).

    It satisfies :class:`itembank.scoring_rules.Scorable`. ``locked`` says whether the version was
    already locked (so immutable) when read; only locked snapshots are kept across requests.
    """

    id: int
    item_id: int
    type: str
    stem: str
    options: list[dict[str, str]] | None
    key: list[str] | None
    scoring: str | None
    parts: list[dict[str, Any]] | None
    score_map: list[int] | None
    max_score: int
    content_hash: str
    locked: bool
    stimulus_version_id: int | None
    stimulus_title: str
    stimulus_body: str
    stimulus_hash: str | None


_IV = ItemVersion.__table__  # type: ignore[attr-defined]
_SV = StimulusVersion.__table__  # type: ignore[attr-defined]
_TS = TestSession.__table__  # type: ignore[attr-defined]
_RESP = Response.__table__  # type: ignore[attr-defined]

_READ_VERSION = (
    select(
        _IV.c.id,
        _IV.c.item_id,
        _IV.c.type,
        _IV.c.stem,
        _IV.c.options,
        _IV.c.key,
        _IV.c.scoring,
        _IV.c.parts,
        _IV.c.score_map,
        _IV.c.max_score,
        _IV.c.content_hash,
        _IV.c.locked,
        _IV.c.stimulus_version_id,
        _SV.c.title,
        _SV.c.body,
        _SV.c.content_hash.label("stimulus_hash"),
        _SV.c.locked.label("stimulus_locked"),
    )
    .select_from(_IV.outerjoin(_SV, _SV.c.id == _IV.c.stimulus_version_id))
    .where(_IV.c.id == bindparam("vid"))
)


def _snapshot_row(row: Any) -> VersionSnapshot:
    stim = row.stimulus_version_id is not None
    return VersionSnapshot(
        id=int(row.id),
        item_id=int(row.item_id),
        type=row.type,
        stem=row.stem,
        options=row.options,
        key=row.key,
        scoring=row.scoring,
        parts=row.parts,
        score_map=row.score_map,
        max_score=int(row.max_score),
        content_hash=row.content_hash,
        locked=bool(row.locked) and (not stim or bool(row.stimulus_locked)),
        stimulus_version_id=row.stimulus_version_id,
        stimulus_title=(row.title or "") if stim else "",
        stimulus_body=(row.body or "") if stim else "",
        stimulus_hash=row.stimulus_hash if stim else None,
    )


def version(source: Session | Engine, version_id: int) -> VersionSnapshot | None:
    """The item version ``version_id`` with its stimulus (``None`` if there is none).

    A locked version (and stimulus) cannot change, so its snapshot is kept for the process; an
    unlocked one is read each time.
    """
    engine = _engine(source)
    cache = _state(engine).versions
    hit = cache.get(version_id)
    if hit is not None:
        return hit
    # committed data, on a connection of its own: a read in the caller's transaction before its
    # first write would let SQLite refuse that write when another worker wrote in between
    with engine.connect() as conn:
        row = conn.execute(_READ_VERSION, {"vid": version_id}).first()
    if row is None:
        return None
    snap = _snapshot_row(row)
    if snap.locked:
        if len(cache) > 20_000:
            cache.clear()
        cache[version_id] = snap
    return snap


def snapshot_of(session: Session, item_version: ItemVersion) -> VersionSnapshot:
    """The snapshot of an item version the caller has loaded already."""
    snap = version(session, int(item_version.id or 0))
    if snap is None:  # pragma: no cover - the caller just read it in this transaction
        raise LookupError(f"item version {item_version.id} does not exist")
    return snap


# ============================================================================================ blueprints
_SPEC_SECONDS = 60.0


def spec_for(session: Session, assessment_id: int, band: str) -> BlueprintSpec:
    """An assessment's blueprint for a band, kept for a minute per process."""
    specs = _state(session).specs
    hit = specs.get((assessment_id, band))
    now = time.monotonic()
    if hit is not None and now - hit[0] < _SPEC_SECONDS:
        return hit[1]
    spec = blueprint_for(session=session, assessment_id=assessment_id, band=band)
    if len(specs) > 256:
        specs.clear()
    specs[(assessment_id, band)] = (now, spec)
    return spec


# ============================================================================================ sessions
@dataclass
class LiveSession:
    """What the process knows of a session in progress (the database may be ahead of it)."""

    id: int
    assessment_id: int
    student_id: int
    device: str
    position: int
    current: int
    deadline: datetime | None
    seed: int
    grade: int
    bank: BandBank
    spec: BlueprintSpec
    state: CatState
    pilots: frozenset[int]


@dataclass(frozen=True)
class Step:
    """Where a session stands after an answer taken on the fast path.

    ``status`` is ``in_progress`` (``item`` is on screen at 0-based ``position``) or ``finished``
    (``position`` items were answered; ``level`` is the level reached).
    """

    session_id: int
    status: str
    position: int
    item: VersionSnapshot | None
    remaining_seconds: int | None
    level: str | None
    spec: BlueprintSpec


class _EngineState:
    """The per-process caches of one database engine."""

    def __init__(self, capacity: int = 60_000) -> None:
        self.capacity = capacity
        self.sessions: OrderedDict[int, LiveSession] = OrderedDict()
        self.versions: dict[int, VersionSnapshot] = {}
        self.specs: dict[tuple[int, str], tuple[float, BlueprintSpec]] = {}
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


def _engine(source: Session | Engine) -> Engine:
    if isinstance(source, Engine):
        return source
    bind = source.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _state(source: Session | Engine) -> _EngineState:
    engine = _engine(source)
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


def remember(*, session: Session, test_session: TestSession, student: Student, calibration_id: int) -> None:
    """Cache a session just started in the caller's transaction, so its first answer reads nothing.

    Safe even if that transaction is rolled back: every fast-path write is checked by the guard.
    """
    ts = test_session
    if ts.id is None or ts.status != "in_progress" or ts.current_item_version_id is None or ts.position != 0:
        return
    band = band_of_grade(student.grade)
    spec = spec_for(session, ts.assessment_id, band)
    bank = load_band_bank(session=session, calibration_id=calibration_id, band=band)
    _state(session).put(_entry(ts, student.grade, bank, spec, []))


def _entry(
    ts: TestSession, grade: int, bank: BandBank, spec: BlueprintSpec, answered: list[tuple[int, int | None]]
) -> LiveSession:
    """The cache entry of a session in progress with these stored answers (its item on screen)."""
    pilots = session_pilots(bank, spec, ts.seed)
    return LiveSession(
        id=int(ts.id or 0),
        assessment_id=ts.assessment_id,
        student_id=ts.student_id,
        device=ts.device,
        position=ts.position,
        current=int(ts.current_item_version_id or 0),
        deadline=aware_utc(ts.deadline),
        seed=ts.seed,
        grade=grade,
        bank=bank,
        spec=spec,
        state=rebuild_state(bank, spec, grade, answered, seed=ts.seed, pilots=pilots, on_screen=True),
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
        band = band_of_grade(student.grade)
        spec = spec_for(s, ts.assessment_id, band)
        bank = load_band_bank(session=s, calibration_id=assessment.calibration_id, band=band)
        answered = answered_items(s, ts)
        known = set(bank.version_ids)
        if len(answered) != ts.position or any(v not in known for v, _ in answered):
            return None
        return _entry(ts, student.grade, bank, spec, answered)


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


def answer(
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
) -> Step | None:
    """Take an answer on the fast path, in a transaction of its own (committed on return).

    Returns the next step, or ``None`` when the fast path cannot decide: then nothing was written
    and the caller must use :func:`assess.sessions.submit_answer`, which settles the case.

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
        item = version(engine, item_version_id)
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
) -> Step | None:
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
        result = final_result(bank, live.spec, live.grade, given[op].tolist(), scores[op].tolist())
        finished: tuple[Any, ...] = (now, n, int(op.sum()), float(result.theta), float(result.se))
        finished += (float(result.scale_score),)
        finished += (result.level, bool(result.passed), result.subscores)
        update, values = _FINISH, finished + guard
        shown = None
    else:
        shown = version(engine, bank.version_ids[nxt])
        if shown is None:
            raise LookupError(f"item version {bank.version_ids[nxt]} does not exist")
        update, values = _ADVANCE, (position + 1, shown.id, float(state.theta[0]), float(state.se[0])) + guard
    answered = (live.id, item.id, position, {"value": value}, score, bool(bank.engine.pilot[j]), latency_ms, now)
    if shown is None or shown.locked:
        written = _write(engine, cache, update, values, answered)
    else:  # shown for the first time (in this process): locked in the same transaction
        written = _write_and_lock(engine, update, values, answered, shown.id)
        shown = version(engine, shown.id)
        assert shown is not None
    if not written:
        cache.sessions.pop(live.id, None)  # the database says otherwise: the full path decides
        return None
    if shown is None:
        cache.sessions.pop(live.id, None)
        return Step(live.id, "finished", n, None, None, result.level, live.spec)
    live.position, live.current = position + 1, shown.id
    remaining = None if live.deadline is None else max(0, int((live.deadline - now).total_seconds()))
    return Step(live.id, "in_progress", position + 1, shown, remaining, None, live.spec)


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
