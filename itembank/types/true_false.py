"""``true_false``: a statement judged 正确 / 错误; key ``["T"]`` or ``["F"]``. Scored 0/1.

The answer is ``"T"`` / ``"F"``, ``True`` / ``False``, or a sequence holding one of them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, require

__all__ = ["TRUE_FALSE", "TrueFalse"]


def _answer(response: Any) -> str | None:
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


class TrueFalse(ItemType):
    """Judge a statement."""

    name = "true_false"
    label = "判断题"
    needs = frozenset({"key"})
    legend = "判断上面的说法是否正确"

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        key = chk.key(data["key"], self.name, None) if data.get("key") is not None else None
        return {"key": key}, 1

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        answer = _answer(response)
        return int(answer is not None and {answer} == set(version.key or []))

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        keys = list(version.key or [])
        return keys[0] if score else ("F" if keys[0] == "T" else "T")

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        chosen = form.values("answer")
        require(bool(chosen), skip, "你还没有选择答案。如果确实不会，可以点击“跳过，提交”。")
        if len(chosen) > 1:
            raise InvalidResponseError("this item takes one answer")
        return chosen[0] if chosen else None


TRUE_FALSE = TrueFalse()
