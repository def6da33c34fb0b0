"""Simulated answers as students give them, written as sessions and responses.

Answers are drawn from the generating model as scores, turned into an answer a student could
have given (the key, a distractor, so many parts right) by :func:`answer_for_score`, scored by
:func:`itembank.scoring_rules.score_response` and written as :class:`~assess.models.Response`
rows, exactly as a live session stores them; only the batching differs (:class:`ResponseWriter`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, func, update
from sqlmodel import Session, col, select

from assess.banks import BandBank
from assess.engine import EngineBank
from assess.models import Response, TestSession
from assess.simulate.population import insert_rows
from itembank.models import Item, ItemVersion
from itembank.scoring_rules import Scorable, score_response
from itembank.types import REGISTRY
from scoring.params import ItemParams

__all__ = ["ResponseWriter", "answer_for_score", "answer_bank", "lock_answered"]

IntArray = npt.NDArray[np.int64]


def answer_bank(version_ids: Sequence[int], banks: Sequence[BandBank]) -> EngineBank:
    """An engine bank over ``version_ids``, in that order, to draw answers from.

    Each version takes its parameters and dimension from the first of ``banks`` that holds it:
    the generating parameters of several bands' items for a field trial, or the generating
    parameters in an operational bank's item order for an adaptive run.

    Raises
    ------
    KeyError
        A version is in none of the banks.
    """
    parts: list[ItemParams] = []
    areas: list[str] = []
    for v in version_ids:
        for bb in banks:
            try:
                j = bb.index_of(v)
            except KeyError:
                continue
            parts.append(bb.engine.params.subset([j]))
            areas.append(bb.dimensions[j])
            break
        else:
            raise KeyError(f"item version {v} is in none of the banks")
    return EngineBank.build(ItemParams.concatenate(parts), areas)


def answer_for_score(version: Scorable, score: int, rnd: random.Random) -> Any:
    """An answer a student could have given to ``version`` that earns ``score``.

    The inverse of :func:`itembank.scoring_rules.score_response`, used by the simulator so that
    stored answers look like real ones (the key, a distractor, some parts right) and are scored by
    the same rule as live answers.
    """
    return REGISTRY[version.type].answer_for_score(version, score, rnd)


@dataclass(frozen=True)
class _Content:
    """A plain snapshot of an item version's scoring content (no ORM attribute overhead)."""

    type: str
    options: list[dict[str, str]] | None
    key: list[str] | None
    scoring: str | None
    parts: list[dict[str, Any]] | None
    score_map: list[int] | None
    interaction: dict[str, Any] | None
    rule: dict[str, Any] | None


def _current_versions(session: Session) -> tuple[dict[int, _Content], set[int]]:
    """Scoring content of every item's current version, and the versions of pilot items."""
    rows = session.exec(
        select(ItemVersion, Item.status).join(
            Item, and_(col(Item.id) == col(ItemVersion.item_id), col(ItemVersion.number) == col(Item.current_version))
        )
    ).all()
    content = {
        int(v.id or 0): _Content(v.type, v.options, v.key, v.scoring, v.parts, v.score_map, v.interaction, v.rule)
        for v, _ in rows
    }
    return content, {int(v.id or 0) for v, st in rows if st == "pilot"}


@dataclass
class ResponseWriter:
    """Writes simulated sessions and their responses in batches (the live path writes one at a time).

    Each simulated answer is built by :func:`answer_for_score` and scored by
    :func:`~itembank.scoring_rules.score_response`; a few answer variants per item and score are
    built and scored once, then reused, since scoring the same answer again gives the same score.
    Made with :meth:`for_bank`.
    """

    session: Session
    versions: dict[int, _Content]
    pilot_versions: set[int]
    rng: np.random.Generator
    variants: int = 4
    _cache: dict[tuple[int, int], list[tuple[Any, int]]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._rnd = random.Random(int(self.rng.integers(2**63)))

    @classmethod
    def for_bank(cls, session: Session, rng: np.random.Generator) -> ResponseWriter:
        """A writer over the current versions of every item in the bank."""
        versions, pilots = _current_versions(session)
        return cls(session, versions, pilots, rng)

    def answer(self, version_id: int, score: int) -> tuple[Any, int]:
        """An answer earning ``score`` on the version, with the score the live rule gives it."""
        pool = self._cache.get((version_id, score))
        if pool is None:
            version = self.versions[version_id]
            pool = []
            for _ in range(self.variants):
                ans = answer_for_score(version, score, self._rnd)
                got = score_response(version, ans)
                if got != score:
                    raise AssertionError(f"simulated answer to version {version_id} scores {got}, not {score}")
                pool.append((ans, got))
            self._cache[(version_id, score)] = pool
        return pool[self._rnd.randrange(len(pool))]

    def write(
        self,
        *,
        assessment_id: int,
        student_ids: IntArray,
        items: list[list[int]],
        scores: list[list[int]],
        started: datetime,
        finals: list[dict[str, Any]],
        booklet_ids: list[int | None] | None = None,
    ) -> int:
        """Store one finished session per student (``finals[k]`` its result columns); return the responses written."""
        session_rows = []
        for k, sid in enumerate(student_ids):
            session_rows.append(
                {
                    "assessment_id": assessment_id,
                    "student_id": int(sid),
                    "booklet_id": booklet_ids[k] if booklet_ids else None,
                    "status": "finished",
                    "seed": int(self.rng.integers(2**31)),
                    "device": "simulated",
                    "started_at": started,
                    "deadline": started + timedelta(minutes=45),
                    "finished_at": started + timedelta(minutes=25),
                    "position": len(items[k]),
                    **finals[k],
                }
            )
        before = self.session.exec(select(func.max(col(TestSession.id)))).one() or 0
        insert_rows(self.session, TestSession, session_rows)
        del session_rows
        ids = dict(  # only the sessions just written: a run written in chunks does not read back the earlier ones
            self.session.exec(
                select(TestSession.student_id, TestSession.id).where(
                    TestSession.assessment_id == assessment_id, col(TestSession.id) > before
                )
            ).all()
        )
        responses = []
        n = 0
        for k, sid in enumerate(student_ids):
            ts_id = ids[int(sid)]
            for pos, (v, sc) in enumerate(zip(items[k], scores[k], strict=True)):
                answer, stored = self.answer(v, sc)
                responses.append(
                    {
                        "session_id": ts_id,
                        "item_version_id": v,
                        "position": pos,
                        "answer": {"value": answer},
                        "score": stored,
                        "pilot": v in self.pilot_versions,
                        "latency_ms": self._rnd.randint(8000, 90000),
                        "answered_at": started + timedelta(seconds=40 * (pos + 1)),
                    }
                )
            if len(responses) >= 50_000:
                insert_rows(self.session, Response, responses)
                n += len(responses)
                responses = []
        insert_rows(self.session, Response, responses)
        return n + len(responses)


def lock_answered(session: Session, assessment_id: int) -> None:
    """Lock every item version the assessment's students answered (an edit then makes a new version)."""
    answered = session.exec(
        select(Response.item_version_id)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id)
        .distinct()
    ).all()
    ids = sorted({int(v) for v in answered})
    for i in range(0, len(ids), 500):
        session.execute(update(ItemVersion).where(col(ItemVersion.id).in_(ids[i : i + 500])).values(locked=True))
