"""Where a sitting stands (:class:`Position`) and the item versions it shows (:class:`VersionSnapshot`).

Every step of the sitting service, fast path or full path, returns a :class:`Position`: the
status, the 0-based position, the item on screen as a snapshot, the time left by the server's
clock, the level reached once finished, and the blueprint (the test's length bounds and whether
the student sees a result). A position holds no ability estimate or score; its item snapshot does
hold the key (scoring needs it), so it must be turned into a view before it reaches a browser.

Item versions are locked when first shown (with their stimuli), so a locked version's content
never changes: :func:`item_snapshot` keeps a snapshot of each locked version per process and
database, and rendering and scoring read that instead of the database.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from assess.blueprints import BlueprintSpec
from itembank.exceptions import NotFoundError
from itembank.models import ItemVersion, StimulusVersion

__all__ = [
    "FINISHED",
    "MAX_ROW_ID",
    "Position",
    "VersionSnapshot",
    "engine_of",
    "is_row_id",
    "item_snapshot",
    "snapshot_in",
]

FINISHED: tuple[str, ...] = ("finished", "expired")
"""Statuses of a sitting that has ended (handed in or out of time)."""

MAX_ROW_ID = 2**31 - 1
"""The largest id a row can have (PostgreSQL's ``integer``; SQLite's is 2**63 - 1)."""


def is_row_id(value: int) -> bool:
    """Whether ``value`` can be a row id at all (1 to :data:`MAX_ROW_ID`): anything else names nothing.

    Checked before an id a client sent reaches SQL, where PostgreSQL refuses an integer beyond 32
    bits and the SQLite driver one beyond 64 bits (both as server errors).
    """
    return 0 < value <= MAX_ROW_ID


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
    interaction: dict[str, Any] | None = None
    rule: dict[str, Any] | None = None


@dataclass(frozen=True)
class Position:
    """Where a sitting stands.

    Attributes
    ----------
    test_session_id
        The sitting's test session (``None`` while ``not_started``).
    status
        ``not_started``, ``in_progress``, ``finished`` or ``expired`` (time ran out).
    position
        In progress: the 0-based position of ``item``. Ended: the number of items answered.
    item
        The item on screen (in progress only).
    remaining_seconds
        The seconds left by the server's clock (in progress only).
    level
        The level reached (ended only; shown to the student if ``spec.show_result``).
    spec
        The blueprint of the student's grade band.
    assessment_name
        The assessment's name (as the instructions page shows it).
    assessed
        Ended only: whether the sitting had enough scored answers to be assessed
        (:mod:`assess.scoring_rule`); ``None`` otherwise.
    """

    test_session_id: int | None
    status: str
    position: int
    item: VersionSnapshot | None
    remaining_seconds: int | None
    level: str | None
    spec: BlueprintSpec
    assessment_name: str
    assessed: bool | None = None

    @property
    def finished(self) -> bool:
        """Whether the sitting has ended (``finished`` or ``expired``)."""
        return self.status in FINISHED


_IV = ItemVersion.__table__  # type: ignore[attr-defined]
_SV = StimulusVersion.__table__  # type: ignore[attr-defined]
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
        _IV.c.interaction,
        _IV.c.rule,
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


def _snapshot_row(row: Any) -> VersionSnapshot:  # a Row of _READ_VERSION
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
        interaction=row.interaction,
        rule=row.rule,
        max_score=int(row.max_score),
        content_hash=row.content_hash,
        locked=bool(row.locked) and (not stim or bool(row.stimulus_locked)),
        stimulus_version_id=row.stimulus_version_id,
        stimulus_title=(row.title or "") if stim else "",
        stimulus_body=(row.body or "") if stim else "",
        stimulus_hash=row.stimulus_hash if stim else None,
    )


def engine_of(source: Session | Engine) -> Engine:
    """The database engine behind a session (or the engine itself)."""
    if isinstance(source, Engine):
        return source
    bind = source.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


_SNAPSHOTS: weakref.WeakKeyDictionary[Engine, dict[int, VersionSnapshot]] = weakref.WeakKeyDictionary()


def item_snapshot(source: Session | Engine, version_id: int) -> VersionSnapshot | None:
    """The item version ``version_id`` with its stimulus, as committed (``None`` if there is none).

    A locked version (and stimulus) cannot change, so its snapshot is kept for the process; an
    unlocked one is read each time.
    """
    if not is_row_id(version_id):
        return None
    engine = engine_of(source)
    cache = _SNAPSHOTS.get(engine)
    if cache is None:
        cache = _SNAPSHOTS.setdefault(engine, {})
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


def snapshot_in(session: Session, version_id: int) -> VersionSnapshot:
    """The snapshot of a version the caller's transaction can see (committed or not).

    The committed snapshot when there is one (kept per process once locked); a version this
    transaction wrote and has not committed is read through the session, and not kept.

    Raises
    ------
    itembank.exceptions.NotFoundError
        There is no such item version.
    """
    snap = item_snapshot(session, version_id)
    if snap is not None:
        return snap
    version = session.get(ItemVersion, version_id)
    if version is None:
        raise NotFoundError(f"no item version with id {version_id}")
    sv_id = version.stimulus_version_id
    stimulus = None if sv_id is None else session.get(StimulusVersion, sv_id)
    return VersionSnapshot(
        id=version_id,
        item_id=version.item_id,
        type=version.type,
        stem=version.stem,
        options=version.options,
        key=version.key,
        scoring=version.scoring,
        parts=version.parts,
        score_map=version.score_map,
        interaction=version.interaction,
        rule=version.rule,
        max_score=version.max_score,
        content_hash=version.content_hash,
        locked=False,
        stimulus_version_id=version.stimulus_version_id,
        stimulus_title=stimulus.title if stimulus is not None else "",
        stimulus_body=stimulus.body if stimulus is not None else "",
        stimulus_hash=stimulus.content_hash if stimulus is not None else None,
    )
