"""Scoring rules: turn a student's response to an item version into a score (docs/item-format.md).

``assess`` calls :func:`score_response` when it stores a response; the result is the integer
score that goes into the response matrix. A response that does not fit the item (an option it
does not have, two answers to a single-choice item, the wrong number of parts, a region or a
target the item does not have, an over-long entry) raises
:class:`~itembank.exceptions.InvalidResponseError`: it is a tampered or broken request, never
a wrong answer. An omitted response (``None`` or nothing selected) scores 0.

Each type's rule and answer shape live in its module of :mod:`itembank.types` (the shapes are
listed in docs/item-format.md); this module dispatches by the version's type.
"""

from __future__ import annotations

from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.types import REGISTRY
from itembank.types.base import Scorable

__all__ = ["Scorable", "max_score", "score_response"]


def max_score(version: Scorable) -> int:
    """Highest score the item version can give (1 for a dichotomous item)."""
    kind = REGISTRY.get(version.type)
    return 1 if kind is None else kind.max_score(version.scoring, version.score_map)


def score_response(version: Scorable, response: Any) -> int:
    """Score ``response`` to ``version`` by the rules of docs/item-format.md.

    Parameters
    ----------
    version
        The item version the student saw.
    response
        The student's answer (its shape per type: docs/item-format.md); ``None`` is omitted.

    Returns
    -------
    int
        0..K with K = :func:`max_score` (1 for a dichotomous item).

    Raises
    ------
    InvalidResponseError
        If the response does not fit the item.
    """
    kind = REGISTRY.get(version.type)
    if kind is None:
        raise InvalidResponseError(f"unknown item type {version.type!r}")
    return kind.score(version, response)
