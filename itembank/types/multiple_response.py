"""``multiple_response``: 3-6 options, two or more keys; the answer is the chosen keys in any order.

Scored ``all_or_nothing`` (0/1) or ``partial`` (0/1/2: 2 = exactly the key, 1 = a non-empty
proper subset of the key and no wrong option, 0 otherwise).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, option_keys, require
from itembank.types.single_choice import selection

__all__ = ["MULTIPLE_RESPONSE", "MultipleResponse"]

SCORINGS: tuple[str, ...] = ("all_or_nothing", "partial")


class MultipleResponse(ItemType):
    """Every option that fits, among 3-6."""

    name = "multiple_response"
    label = "多选题"
    needs = frozenset({"options", "key", "scoring"})
    allows = frozenset({"rubric"})
    scorings = SCORINGS
    legend = "可以选择多个答案：选出所有符合要求的选项"

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        options = chk.options(data.get("options"), "options", minimum=3)
        scoring = data.get("scoring")
        if scoring is not None and scoring not in SCORINGS:
            chk.add("scoring", f"unknown scoring {scoring!r} (expected: {', '.join(SCORINGS)})")
            scoring = None
        if scoring == "all_or_nothing" and data.get("rubric") is not None:
            chk.add("rubric", "a multiple_response item scored all_or_nothing has no rubric")
        elif scoring == "partial" and data.get("rubric") is None:
            chk.add("rubric", "missing: a multiple_response item scored partial needs a rubric (scores 0..2)")
        key = chk.key(data["key"], self.name, options) if data.get("key") is not None else None
        top = self.max_score(scoring, None)
        rubric = None
        if data.get("rubric") is not None and scoring == "partial":
            rubric = chk.rubric(data["rubric"], top)
        return {"options": options, "key": key, "scoring": scoring, "rubric": rubric}, (
            None if scoring is None else top
        )

    def max_score(self, scoring: str | None, score_map: Sequence[int] | None) -> int:
        """Highest score K of this type."""
        return 2 if scoring == "partial" else 1

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        chosen = selection(response, option_keys(version), "multiple response")
        keys = set(version.key or [])
        if chosen == keys:
            return 2 if version.scoring == "partial" else 1
        if version.scoring == "partial" and chosen and chosen < keys:
            return 1
        return 0

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        keys = list(version.key or [])
        if score == self.max_score(version.scoring, None):
            return sorted(keys)
        if score == 1:  # partial credit: a non-empty proper subset of the key
            return sorted(rnd.sample(keys, rnd.randint(1, len(keys) - 1)))
        return sorted({rnd.choice([o for o in option_keys(version) if o not in keys]), rnd.choice(keys)})

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        chosen = form.values("answer")
        require(bool(chosen), skip, "你还没有选择答案。如果确实不会，可以点击“跳过，提交”。")
        return sorted(set(chosen)) or None


MULTIPLE_RESPONSE = MultipleResponse()
