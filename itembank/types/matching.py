"""``matching``: match each of 2-6 premises (``options``) to one of 2-6 targets.

``interaction = {"targets": [{"key": "1", "text"}, ...]}`` (keys ``"1"``, ``"2"``... in order; a
target may take several premises); ``key = ["A=1", "B=2", ...]``, one per premise. Scored
``all_or_nothing`` or ``per_match`` (m = premises matched correctly, ``score_map`` of length n+1).
The answer is ``{"A": "1", ...}`` (a premise left out is unanswered); the form sends ``match-A``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from itembank.render import render_inline
from itembank.types.base import (
    Checker,
    Content,
    FormFields,
    ItemType,
    Scorable,
    from_map,
    keyed_pairs,
    matches_for_score,
    one_value,
    option_keys,
    require,
    score_matches,
)
from itembank.types.units import check_pairs, check_unit_scoring

__all__ = ["MATCHING", "Matching"]

TARGET_KEYS = "123456"


def target_keys(version: Scorable) -> list[str]:
    """The target keys of a matching item."""
    return [str(t["key"]) for t in (version.interaction or {}).get("targets", [])]


class Matching(ItemType):
    """Premises to targets."""

    name = "matching"
    label = "匹配题"
    needs = frozenset({"options", "interaction", "key", "scoring"})
    allows = frozenset({"score_map", "rubric"})
    scorings = ("all_or_nothing", "per_match")

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        options = chk.options(data.get("options"), "options", minimum=2)
        interaction = None
        targets: list[dict[str, str]] | None = None
        raw = data.get("interaction")
        if raw is not None and chk.fields(raw, "interaction", ("targets",)):
            if raw.get("targets") is None:
                chk.add("interaction.targets", "missing required field")
            else:
                targets = chk.options(raw["targets"], "interaction.targets", minimum=2, keys=TARGET_KEYS)
            interaction = {"targets": targets or []}
        premises = [o["key"] for o in options or []]
        key = check_pairs(chk, data.get("key"), premises if options else None, [t["key"] for t in targets or []])
        scoring, score_map, rubric, top = check_unit_scoring(
            chk, data, self.scorings, len(premises) if options else None, "premises matched"
        )
        content = {"options": options, "interaction": interaction, "key": key, "scoring": scoring}
        return {**content, "score_map": score_map, "rubric": rubric}, top

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        targets = target_keys(version)
        answer = from_map(response, {k: targets for k in option_keys(version)}, "matching")
        return score_matches(version, answer, keyed_pairs(version.key))

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        key = keyed_pairs(version.key)
        return matches_for_score(version, score, key, {p: target_keys(version) for p in key}, rnd)

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset(f"match-{k}" for k in option_keys(version))

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        answer = {k: v for k in option_keys(version) if (v := one_value(form, f"match-{k}")) is not None}
        require(
            len(answer) == len(option_keys(version)),
            skip,
            "还有项目没有配对。请为每一项选择对应的类别；如果确实不会，可以点击“跳过，提交”。",
        )
        from_map(answer, {k: target_keys(version) for k in option_keys(version)}, "matching")
        return answer or None

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of this type's own data (rendered HTML, no key or rule)."""
        targets = (version.interaction or {}).get("targets", [])
        return {"targets": [(str(t["key"]), render_inline(str(t["text"]))) for t in targets]}


MATCHING = Matching()
