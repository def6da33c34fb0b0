"""When a sitting counts: the one rule for scoring, the finish page and every aggregate.

**A sitting that ended with fewer scored answers than its blueprint's ``min_items`` is "not
assessed"**: it keeps its answers and an ability estimate for research (``theta``, ``se``,
``subscores``, each with its number of items), but it gets no scale score, no level and no 达标
verdict, the student is not shown a level, and no aggregate (means, 达标 rates, level shares)
counts it. A scored answer is an operational (non-pilot) item the student answered or skipped; a
skipped item scores 0. A hand-in right after the start was scored as 良好 and counted as 达标:
with no answer the estimate is the prior's centre, not the student.

**A sitting that ran out of time is scored on what it answered** (the items not reached are
missing, not wrong) and counts like a finished one when it has the minimum.

The rule is :func:`is_assessed`; a sitting's verdict is stored in ``test_session.assessed``
(``None`` while in progress) and its status is :func:`result_status`. Aggregates select assessed
sittings with :func:`assessed_clause`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from assess.models import TestSession
from assess.position import FINISHED
from assess.scales import FinalScores

__all__ = [
    "ASSESSED",
    "IN_PROGRESS",
    "NOT_ASSESSED",
    "Reported",
    "assessed_clause",
    "is_assessed",
    "reported_result",
    "result_status",
]

ASSESSED = "assessed"
"""Result status of a sitting that ended with enough scored answers: it has a score and a level."""
NOT_ASSESSED = "not_assessed"
"""Result status of a sitting that ended with too few scored answers: no score, no level."""
IN_PROGRESS = "in_progress"
"""Result status of a sitting that has not ended (or not started)."""


def is_assessed(*, n_scored: int, min_items: int) -> bool:
    """Whether a sitting that ended with ``n_scored`` scored answers is assessed (at least ``min_items``).

    ``min_items`` is the blueprint's (``BlueprintSpec.min_items``); a blueprint asks for at
    least one item, so a sitting with no scored answer is never assessed.
    """
    return n_scored >= max(1, min_items)


@dataclass(frozen=True)
class Reported:
    """What a sitting's result reports under the rule: the verdict, and the score and level if assessed."""

    assessed: bool
    scale_score: float | None
    level: str | None
    passed: bool | None


def reported_result(result: FinalScores, *, n_scored: int, min_items: int) -> Reported:
    """The reported part of ``result`` for a sitting that ended with ``n_scored`` scored answers."""
    if not is_assessed(n_scored=n_scored, min_items=min_items):
        return Reported(False, None, None, None)
    return Reported(True, float(result.scale_score), result.level, bool(result.passed))


def result_status(*, status: str, assessed: bool | None) -> str:
    """A sitting's result status: :data:`ASSESSED`, :data:`NOT_ASSESSED` or :data:`IN_PROGRESS`.

    ``status`` is the sitting's lifecycle (``in_progress``, ``finished``, ``expired``) and
    ``assessed`` its stored verdict.
    """
    if status not in FINISHED:
        return IN_PROGRESS
    return ASSESSED if assessed else NOT_ASSESSED


def assessed_clause() -> ColumnElement[bool]:
    """SQL condition for sittings that count in aggregates: ended (finished or timed out) and assessed."""
    return col(TestSession.status).in_(FINISHED) & col(TestSession.assessed).is_(True)
