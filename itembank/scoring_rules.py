"""Scoring rules: turn a student's response to an item version into a score (docs/item-format.md).

``assess`` calls :func:`score_response` when it stores a response; the result is the integer
score that goes into the response matrix. A response that does not fit the item (an option it
does not have, two answers to a single-choice item, the wrong number of parts) raises
:class:`~itembank.exceptions.InvalidResponseError`: it is a tampered or broken request, never
a wrong answer. An omitted response (``None`` or nothing selected) scores 0.

Responses
---------
``single_choice``
    The chosen key (``"B"``) or a sequence holding it (``["B"]``).
``multiple_response``
    The chosen keys, in any order (``["A", "C"]``).
``true_false``
    ``"T"`` / ``"F"``, ``True`` / ``False``, or a sequence holding one of them.
``partial_credit``
    One answer per part, in order (``["A", None, "C"]``; ``None`` for an unanswered part).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from itembank.exceptions import InvalidResponseError

__all__ = ["Scorable", "max_score", "score_response"]


class Scorable(Protocol):
    """What scoring needs of an item version (an :class:`~itembank.models.ItemVersion` or an ``ItemSpec``)."""

    @property
    def type(self) -> str:
        """Item type."""
        ...

    @property
    def options(self) -> list[dict[str, str]] | None:
        """Options ``{"key", "text"}``."""
        ...

    @property
    def key(self) -> list[str] | None:
        """Keys of a dichotomous item."""
        ...

    @property
    def scoring(self) -> str | None:
        """``all_or_nothing`` or ``partial`` (multiple response)."""
        ...

    @property
    def parts(self) -> list[dict[str, Any]] | None:
        """Parts of a partial-credit task."""
        ...

    @property
    def score_map(self) -> list[int] | None:
        """Score for 0, 1, ... parts correct."""
        ...


def max_score(version: Scorable) -> int:
    """Highest score the item version can give (1 for a dichotomous item)."""
    if version.type == "partial_credit":
        return int((version.score_map or [0])[-1])
    if version.type == "multiple_response" and version.scoring == "partial":
        return 2
    return 1


def _selection(response: Any, valid: Sequence[str], what: str) -> set[str]:
    if response is None or response == "":
        return set()
    items = [response] if isinstance(response, str) else response
    if not isinstance(items, Sequence | set | frozenset) or isinstance(items, bytes):
        raise InvalidResponseError(f"a {what} response is a list of option keys, got {type(response).__name__}")
    chosen: set[str] = set()
    for k in items:
        if not isinstance(k, str) or k not in valid:
            raise InvalidResponseError(f"{k!r} is not an option of this item (options: {', '.join(valid)})")
        chosen.add(k)
    return chosen


def _true_false(response: Any) -> str | None:
    if isinstance(response, Sequence) and not isinstance(response, str):
        if len(response) > 1:
            raise InvalidResponseError("a true/false item takes one answer")
        response = response[0] if response else None
    if response is None or response == "":
        return None
    if isinstance(response, bool):
        return "T" if response else "F"
    if response in ("T", "F"):
        return str(response)
    raise InvalidResponseError(f"a true/false answer is 'T' or 'F', got {response!r}")


def score_response(version: Scorable, response: Any) -> int:
    """Score ``response`` to ``version`` by the rules of docs/item-format.md.

    Parameters
    ----------
    version
        The item version the student saw.
    response
        The student's answer (see the module docstring for its shape per type); ``None`` is omitted.

    Returns
    -------
    int
        0/1 for a dichotomous item; 0/1/2 for a multiple-response item scored ``partial`` (2 =
        exactly the key, 1 = a non-empty proper subset of the key and no wrong option, 0 otherwise);
        ``score_map[n]`` for a partial-credit task with ``n`` parts correct.

    Raises
    ------
    InvalidResponseError
        If the response does not fit the item.
    """
    kind = version.type
    keys = set(version.key or [])
    if kind == "true_false":
        answer = _true_false(response)
        return int(answer is not None and {answer} == keys)
    if kind in ("single_choice", "multiple_response"):
        valid = [o["key"] for o in version.options or []]
        chosen = _selection(response, valid, kind.replace("_", " "))
        if kind == "single_choice":
            if len(chosen) > 1:
                raise InvalidResponseError("a single-choice item takes one answer")
            return int(chosen == keys)
        if chosen == keys:
            return 2 if version.scoring == "partial" else 1
        if version.scoring == "partial" and chosen and chosen < keys:
            return 1
        return 0
    if kind == "partial_credit":
        parts = version.parts or []
        score_map = version.score_map or [0] * (len(parts) + 1)
        if response is None:
            return int(score_map[0])
        if isinstance(response, str) or not isinstance(response, Sequence) or len(response) != len(parts):
            raise InvalidResponseError(f"a partial-credit response is a list of {len(parts)} answers, one per part")
        correct = 0
        for i, (part, answer) in enumerate(zip(parts, response, strict=True)):
            if answer is None or answer == "":
                continue
            valid = [o["key"] for o in part.get("options", [])]
            if answer not in valid:
                raise InvalidResponseError(f"part {i + 1}: {answer!r} is not an option (options: {', '.join(valid)})")
            correct += int(answer == part.get("key"))
        return int(score_map[correct])
    raise InvalidResponseError(f"unknown item type {kind!r}")
