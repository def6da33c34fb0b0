"""What every item type provides, and the helpers the type modules share.

An item type is one :class:`ItemType` object in one module of :mod:`itembank.types`; the table
:data:`itembank.types.REGISTRY` holds them all. A type says which content fields it needs and
may have, validates them (through the :class:`Checker` that :mod:`itembank.validate` hands it, so
problems are located the same way for every type), scores a response, gives its highest score,
builds an answer with a given score for the simulator, reads an answer from a posted HTML form
and gives the template the public data of its control. Nothing a type hands to a page holds the
key or the rule.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from itembank.exceptions import IncompleteAnswer, InvalidResponseError

__all__ = [
    "Checker",
    "Content",
    "FormFields",
    "ItemType",
    "Scorable",
    "from_map",
    "keyed_pairs",
    "matches_for_score",
    "one_value",
    "option_keys",
    "score_matches",
    "score_units",
    "units_for_score",
]

Content = dict[str, Any]
"""The versioned content fields a type's validation returns (``options``, ``key``, ``interaction``...)."""


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
        """Keys of the item (per type, see docs/item-format.md)."""
        ...

    @property
    def scoring(self) -> str | None:
        """The scoring rule's name (``all_or_nothing``, ``partial``, ``per_match``...)."""
        ...

    @property
    def parts(self) -> list[dict[str, Any]] | None:
        """Parts of a partial-credit task."""
        ...

    @property
    def score_map(self) -> list[int] | None:
        """Score for 0, 1, ... units correct."""
        ...

    @property
    def interaction(self) -> dict[str, Any] | None:
        """Public presentation data of an interactive type."""
        ...

    @property
    def rule(self) -> dict[str, Any] | None:
        """Private scoring data of an interactive type."""
        ...


class Checker(Protocol):
    """The validation primitives :mod:`itembank.validate` offers a type (each reports at a field path)."""

    def add(self, fieldpath: str, message: str) -> None:
        """Report a problem at ``fieldpath``."""
        ...

    def text(self, data: Mapping[str, Any], name: str, path: str | None = None) -> str:
        """A required non-empty text field."""
        ...

    def number(self, value: Any, path: str) -> float | None:
        """A finite number."""
        ...

    def integer(self, value: Any, path: str) -> int | None:
        """A whole number."""
        ...

    def listof(self, value: Any, path: str) -> list[Any] | None:
        """A list."""
        ...

    def fields(self, data: Mapping[str, Any], path: str, allowed: Sequence[str]) -> bool:
        """An object with only ``allowed`` fields."""
        ...

    def options(
        self, value: Any, path: str, *, minimum: int, maximum: int = 6, keys: str = "ABCDEF"
    ) -> list[dict[str, str]] | None:
        """Options ``{"key", "text"}`` with consecutive keys."""
        ...

    def key(self, value: Any, type_: str, options: list[dict[str, str]] | None) -> list[str] | None:
        """The key list of a choice item."""
        ...

    def parts(self, value: Any) -> list[dict[str, Any]] | None:
        """Parts of a partial-credit task."""
        ...

    def score_map(
        self, value: Any, units: int | None, what: str = "parts", *, minimum_top: int = 2
    ) -> list[int] | None:
        """A score map over 0..``units`` units correct."""
        ...

    def rubric(self, value: Any, max_score: int | None) -> list[dict[str, Any]] | None:
        """One rubric entry per score 0..``max_score``."""
        ...

    def string_list(self, value: Any, path: str, *, minimum: int, maximum: int) -> list[str] | None:
        """A list of distinct non-empty texts."""
        ...


class FormFields(Protocol):
    """A posted form as a type reads it: the values of a name (repeats kept) and the names sent."""

    def values(self, name: str) -> list[str]:
        """The non-empty values of ``name``."""
        ...

    def names(self) -> list[str]:
        """Every field name the form sent."""
        ...


class ItemType:
    """One item type. Subclasses override what differs; the defaults suit a type scored 0/1.

    Attributes
    ----------
    name
        The type's name in the canonical format.
    label
        What the student page calls it (``单选题``).
    needs, allows
        Content fields the type requires, and optional ones, beyond the common ones.
    """

    name: str = ""
    label: str = ""
    needs: frozenset[str] = frozenset()
    allows: frozenset[str] = frozenset()
    scorings: tuple[str, ...] = ()
    max_answer_chars: int = 2000

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check the type's content fields of ``data``; return them normalised and the max score.

        Problems go to ``chk``; the max score is ``None`` when the fields that fix it failed (the
        parameters are then checked against any model).
        """
        raise NotImplementedError

    def max_score(self, scoring: str | None, score_map: Sequence[int] | None) -> int:
        """Highest score K: ``score_map[-1]`` when scored over units, else 1."""
        if score_map and scoring != "all_or_nothing":
            return int(score_map[-1])
        return 1

    def score(self, version: Scorable, response: Any) -> int:
        """Score ``response``; :class:`InvalidResponseError` when it does not fit the item."""
        raise NotImplementedError

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        raise NotImplementedError

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives; :class:`IncompleteAnswer` when unanswered and not skipped."""
        raise NotImplementedError

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of the type's own data (rendered HTML, no key or rule)."""
        return {}

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields the type reads (a form sending others is refused)."""
        return frozenset({"answer"})


# ============================================================================================ helpers
def option_keys(version: Scorable) -> list[str]:
    """The option keys of ``version``."""
    return [o["key"] for o in version.options or []]


def score_units(version: Scorable, correct: int, total: int) -> int:
    """Score for ``correct`` of ``total`` units: all-or-nothing, or ``score_map[correct]``."""
    if version.scoring == "all_or_nothing" or not version.score_map:
        return int(correct == total)
    return int(version.score_map[min(correct, len(version.score_map) - 1)])


def units_for_score(version: Scorable, score: int, total: int) -> int:
    """The fewest units correct that earn ``score`` (the inverse of :func:`score_units`)."""
    if version.scoring == "all_or_nothing" or not version.score_map:
        return total if score else 0
    return list(version.score_map).index(score)


def score_matches(version: Scorable, answer: Mapping[str, str], key: Mapping[str, str]) -> int:
    """Score of a ``{name: value}`` answer: the names whose value is the key's, by :func:`score_units`."""
    return score_units(version, sum(1 for name, value in key.items() if answer.get(name) == value), len(key))


def matches_for_score(
    version: Scorable, score: int, key: Mapping[str, str], choices: Mapping[str, Sequence[str]], rnd: random.Random
) -> dict[str, str]:
    """A ``{name: value}`` answer earning ``score``: so many names (drawn) keyed right, the others a wrong choice."""
    right = set(rnd.sample(sorted(key), units_for_score(version, score, len(key))))
    return {n: v if n in right else rnd.choice([x for x in choices[n] if x != v]) for n, v in key.items()}


def keyed_pairs(key: Sequence[str] | None) -> dict[str, str]:
    """``["A=1", "B=2"]`` as ``{"A": "1", "B": "2"}``."""
    out: dict[str, str] = {}
    for entry in key or []:
        left, _, right = entry.partition("=")
        out[left] = right
    return out


def from_map(response: Any, valid: Mapping[str, Sequence[str]], what: str) -> dict[str, str]:
    """A ``{name: value}`` response checked against ``valid`` (name -> allowed values); omitted names left out."""
    if response is None or response == "":
        return {}
    if not isinstance(response, Mapping):
        raise InvalidResponseError(f"a {what} answer is an object, got {type(response).__name__}")
    out: dict[str, str] = {}
    for name, value in response.items():
        if name not in valid:
            raise InvalidResponseError(f"{name!r} is not part of this item (expected: {', '.join(valid)})")
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value not in valid[name]:
            raise InvalidResponseError(f"{name}: {value!r} is not allowed (expected: {', '.join(valid[name])})")
        out[str(name)] = value
    return out


def one_value(form: FormFields, name: str) -> str | None:
    """The single value of ``name`` (``None`` when absent; :class:`InvalidResponseError` if sent twice)."""
    got = form.values(name)
    if len(got) > 1:
        raise InvalidResponseError(f"{name} was sent twice")
    return got[0] if got else None


def require(complete: bool, skip: bool, message: str) -> None:
    """Raise :class:`IncompleteAnswer` with ``message`` when the answer is not complete and not skipped."""
    if not complete and not skip:
        raise IncompleteAnswer(message)
