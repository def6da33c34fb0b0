"""Close abandoned sittings: every sitting still "in progress" past its deadline is ended and scored.

A sitting whose student closed the browser and never came back stays ``in_progress`` until
someone looks at it (the student's next page expires it on the way). Until then it is in no
aggregate and its answers are not scored. :func:`expire_overdue` ends each such sitting as a
timed-out one, scored on what it answered by the rule of :mod:`assess.scoring_rule` (too few
scored answers: not assessed), with the same code the student's own page would run
(:func:`assess.full_path.finish_session`).

Only sittings more than ``grace_seconds`` past their deadline are taken: no answer can be
accepted after the deadline, so none can arrive while the sweep scores the sitting. Each sitting
is ended in a transaction of its own (row locked on PostgreSQL), so a sweep that stops half way
leaves every sitting either open or ended and scored. Several workers may sweep at once: a
sitting another one ended meanwhile is skipped.

``infolit sessions expire`` runs it once; ``infolit serve`` runs it now and then
(``INFOLIT_EXPIRE_EVERY_SECONDS``). Closing an assessment's window
(:func:`assess.administration.close_assessment`) ends its open sittings the same way, with
:func:`expire_open_sittings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from assess.exceptions import NotFound
from assess.full_path import finish_session
from assess.models import Assessment, TestSession
from itembank.db import session_scope

__all__ = ["Expired", "expire_open_sittings", "expire_overdue"]


@dataclass(frozen=True)
class Expired:
    """What a sweep did: sittings ended, of which assessed; sittings still within their time."""

    expired: int
    assessed: int
    running: int


def expire_overdue(
    *,
    engine: Engine,
    now: datetime,
    assessment_code: str | None = None,
    grace_seconds: float = 60.0,
    limit: int | None = None,
) -> Expired:
    """End every sitting in progress more than ``grace_seconds`` past its deadline, scored on its answers.

    ``assessment_code`` restricts the sweep to one assessment; ``limit`` to that many sittings
    (oldest deadline first).

    Raises
    ------
    assess.exceptions.NotFound
        No assessment has ``assessment_code``.
    """
    cutoff = now - timedelta(seconds=grace_seconds)
    with session_scope(engine) as session:
        query = select(TestSession.id).where(
            TestSession.status == "in_progress",
            col(TestSession.deadline).is_not(None),
            col(TestSession.deadline) < cutoff,
        )
        running_query = select(func.count(col(TestSession.id))).where(TestSession.status == "in_progress")
        if assessment_code is not None:
            assessment = session.exec(select(Assessment).where(Assessment.code == assessment_code)).first()
            if assessment is None:
                raise NotFound(f"没有编号为 {assessment_code} 的测评")
            query = query.where(TestSession.assessment_id == assessment.id)
            running_query = running_query.where(TestSession.assessment_id == assessment.id)
        query = query.order_by(col(TestSession.deadline))
        if limit is not None:
            query = query.limit(limit)
        due = [int(i) for i in session.exec(query).all() if i is not None]
    expired, assessed = _end_each(engine, due, now)
    with session_scope(engine) as session:
        running = int(session.exec(running_query).one())
    return Expired(expired, assessed, running)


def expire_open_sittings(*, engine: Engine, assessment_id: int, now: datetime) -> Expired:
    """End every sitting of one assessment still in progress, whatever its deadline, scored on its answers.

    For a window that closes: the caller has already moved the sittings' deadlines to ``now`` in
    the transaction that closed the window, so no answer is accepted after it (the fast path's
    guard checks the deadline) and none can arrive while a sitting is scored.
    """
    with session_scope(engine) as session:
        due = [
            int(i)
            for i in session.exec(
                select(TestSession.id)
                .where(TestSession.assessment_id == assessment_id, TestSession.status == "in_progress")
                .order_by(col(TestSession.id))
            ).all()
            if i is not None
        ]
    expired, assessed = _end_each(engine, due, now)
    with session_scope(engine) as session:
        running = session.exec(
            select(func.count(col(TestSession.id))).where(
                TestSession.assessment_id == assessment_id, TestSession.status == "in_progress"
            )
        ).one()
    return Expired(expired, assessed, int(running))


def _end_each(engine: Engine, due: list[int], now: datetime) -> tuple[int, int]:
    """End the sittings ``due``, each in a transaction of its own; how many were ended and how many assessed."""
    expired = assessed = 0
    for ts_id in due:
        with session_scope(engine) as session:
            ts = session.exec(select(TestSession).where(TestSession.id == ts_id).with_for_update()).first()
            if ts is None or ts.status != "in_progress":
                continue  # ended meanwhile (the student's page, another worker's sweep)
            finish_session(session=session, test_session=ts, now=now, status="expired")
            expired += 1
            assessed += bool(ts.assessed)
    return expired, assessed
