"""``single_choice``: 3-6 options, one key; the answer is the chosen key (``"B"`` or ``["B"]``). Scored 0/1."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, option_keys, require

__all__ = ["SINGLE_CHOICE", "SingleChoice", "selection"]


def selection(response: Any, valid: Sequence[str], what: str) -> set[str]:
    """The option keys a choice response names (empty when omitted)."""
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


class SingleChoice(ItemType):
    """One answer among 3-6 options."""

    name = "single_choice"
    label = "单选题"
    needs = frozenset({"options", "key"})
    legend = "请选择一个答案"

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        options = chk.options(data.get("options"), "options", minimum=3)
        key = chk.key(data["key"], self.name, options) if data.get("key") is not None else None
        return {"options": options, "key": key}, 1

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        chosen = selection(response, option_keys(version), "single choice")
        if len(chosen) > 1:
            raise InvalidResponseError("a single-choice item takes one answer")
        return int(chosen == set(version.key or []))

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        keys = list(version.key or [])
        return keys[0] if score else rnd.choice([o for o in option_keys(version) if o not in keys])

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        chosen = form.values("answer")
        require(bool(chosen), skip, "你还没有选择答案。如果确实不会，可以点击“跳过，提交”。")
        if len(chosen) > 1:
            raise InvalidResponseError("this item takes one answer")
        return chosen[0] if chosen else None


SINGLE_CHOICE = SingleChoice()
