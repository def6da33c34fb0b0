"""``partial_credit``: 2-5 choice parts scored together by ``score_map`` (0..K, K >= 2).

The answer is one option key per part, in order (``["A", None, "C"]``; ``None`` unanswered).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, require

__all__ = ["PARTIAL_CREDIT", "PartialCredit"]


class PartialCredit(ItemType):
    """A task of several choice parts."""

    name = "partial_credit"
    label = "组合题"
    needs = frozenset({"parts", "score_map", "rubric"})

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        parts = chk.parts(data.get("parts"))
        score_map = chk.score_map(data.get("score_map"), len(parts) if parts is not None else None)
        top = self.max_score(None, score_map)
        rubric = None
        if data.get("rubric") is not None:
            rubric = chk.rubric(data["rubric"], top if score_map else None)
        return {"parts": parts, "score_map": score_map, "rubric": rubric}, None if score_map is None else top

    def max_score(self, scoring: str | None, score_map: Sequence[int] | None) -> int:
        """Highest score K of this type."""
        return int(score_map[-1]) if score_map else 1

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
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

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        parts = version.parts or []
        n_right = list(version.score_map or []).index(score)  # the fewest parts right that reach the score
        right = set(rnd.sample(range(len(parts)), n_right))
        return [
            part["key"]
            if i in right
            else rnd.choice([o["key"] for o in part.get("options", []) if o["key"] != part["key"]])
            for i, part in enumerate(parts)
        ]

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset(f"part-{i}" for i in range(len(version.parts or [])))

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        n = len(version.parts or [])
        answers: list[str | None] = []
        for i in range(n):
            got = form.values(f"part-{i}")
            if len(got) > 1:
                raise InvalidResponseError(f"part {i + 1} takes one answer")
            answers.append(got[0] if got else None)
        require(None not in answers, skip, "还有小题没有作答。请完成所有小题；如果确实不会，可以点击“跳过，提交”。")
        return answers


PARTIAL_CREDIT = PartialCredit()
