"""``ordering``: put 3-6 steps in order.

``options`` are the steps in display order; ``key`` is every option key in the correct order.
Scored ``all_or_nothing`` (0/1) or ``adjacent_pairs``: m = the adjacent pairs of the response
that are adjacent and in that order in the key (0..n-1), score = ``score_map[m]`` (length n).
The answer is a permutation of the option keys (``None`` = omitted). The form sends
``position-1`` .. ``position-n``, one option key each (a ``<select>`` per position).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Any

from itembank.exceptions import IncompleteAnswer, InvalidResponseError
from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, one_value, option_keys, require
from itembank.types.units import check_unit_scoring

__all__ = ["ORDERING", "Ordering", "adjacent_pairs"]

SCORINGS: tuple[str, ...] = ("all_or_nothing", "adjacent_pairs")


def adjacent_pairs(response: Sequence[str], key: Sequence[str]) -> int:
    """How many adjacent pairs of ``response`` are adjacent, in that order, in ``key``."""
    pairs = set(itertools.pairwise(key))
    return sum(1 for pair in itertools.pairwise(response) if pair in pairs)


class Ordering(ItemType):
    """Steps to put in order."""

    name = "ordering"
    label = "排序题"
    needs = frozenset({"options", "key", "scoring"})
    allows = frozenset({"score_map", "rubric"})
    scorings = SCORINGS

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        options = chk.options(data.get("options"), "options", minimum=3)
        keys = [o["key"] for o in options or []]
        key = chk.listof(data["key"], "key") if data.get("key") is not None else None
        if key is not None and options is not None and sorted(map(str, key)) != sorted(keys):
            chk.add(
                "key", f"an ordering key lists every option key once, in the correct order (options: {', '.join(keys)})"
            )
        units = len(keys) - 1 if options else None
        scoring, score_map, rubric, top = check_unit_scoring(chk, data, SCORINGS, units, "adjacent pairs")
        content = {"options": options, "key": [str(k) for k in key] if key else key, "scoring": scoring}
        return {**content, "score_map": score_map, "rubric": rubric}, top

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        keys = option_keys(version)
        if response is None or response == []:
            return 0
        if isinstance(response, str) or not isinstance(response, Sequence):
            raise InvalidResponseError(
                f"an ordering answer is a list of the option keys, got {type(response).__name__}"
            )
        if len(response) != len(keys) or sorted(str(r) for r in response) != sorted(keys):
            raise InvalidResponseError(f"an ordering answer lists every option once ({', '.join(keys)})")
        key = list(version.key or [])
        if version.scoring == "all_or_nothing":
            return int(list(response) == key)
        return int((version.score_map or [0])[adjacent_pairs(response, key)])

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        key = list(version.key or [])
        if version.scoring == "all_or_nothing":
            if score:
                return key
            wrong = key[::-1]
            return wrong if wrong != key else key
        wanted = list(version.score_map or []).index(score)
        perms = list(itertools.permutations(key))
        rnd.shuffle(perms)
        for perm in perms:
            if adjacent_pairs(perm, key) == wanted:
                return list(perm)
        raise ValueError(f"no order of {len(key)} steps has {wanted} adjacent pairs")

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset(f"position-{i + 1}" for i in range(len(version.options or [])))

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        keys = option_keys(version)
        chosen = [one_value(form, f"position-{i + 1}") for i in range(len(keys))]
        for value in chosen:
            if value is not None and value not in keys:
                raise InvalidResponseError(f"{value!r} is not a step of this item")
        given = [c for c in chosen if c is not None]
        if len(set(given)) != len(given):
            # an honest slip with the selects, not a tampered form: a problem to fix, nothing stored
            raise IncompleteAnswer("每个步骤只能放在一个位置。请检查排列顺序，让每个步骤只出现一次。")
        if skip and len(given) < len(keys):
            return None
        require(
            len(given) == len(keys),
            skip,
            "还有位置没有排好。请为每个位置选择一个步骤；如果确实不会，可以点击“跳过，提交”。",
        )
        return given

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of this type's own data (rendered HTML, no key or rule)."""
        return {"positions": list(range(1, len(version.options or []) + 1))}


ORDERING = Ordering()
