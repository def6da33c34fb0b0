"""``inline_choice``: a text with 1-5 gaps, each filled by choosing one of 2-5 options (cloze).

``interaction = {"text": "Markdown with gaps {{1}}, {{2}}...", "gaps": [{"key": "1", "options":
[{"key": "A", "text"}, ...]}, ...]}``; ``key = ["1=B", "2=A", ...]``. Scored ``all_or_nothing`` or
``per_gap`` (``score_map`` of length gaps+1). The answer is ``{"1": "B", ...}``; the form sends
``gap-1`` = an option key. Each gap appears exactly once in the text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from itembank.render import render_inline, render_markdown
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
    require,
    score_matches,
)
from itembank.types.units import check_pairs, check_unit_scoring

__all__ = ["GAP_RE", "INLINE_CHOICE", "InlineChoice"]

GAP_RE = re.compile(r"\{\{(\d)\}\}")
"""A gap marker in the text: ``{{1}}``."""
_MARK = "\ue000gap{}\ue001"  # a private-use marker Markdown leaves alone, replaced by the control


def gap_options(version: Scorable) -> dict[str, list[str]]:
    """Gap key -> its option keys."""
    gaps = (version.interaction or {}).get("gaps", [])
    return {str(g["key"]): [str(o["key"]) for o in g.get("options", [])] for g in gaps}


class InlineChoice(ItemType):
    """Choices inside a text."""

    name = "inline_choice"
    label = "选词填空"
    needs = frozenset({"interaction", "key", "scoring"})
    allows = frozenset({"score_map", "rubric"})
    scorings = ("all_or_nothing", "per_gap")

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        raw = data.get("interaction")
        interaction = None
        gaps: list[dict[str, Any]] = []
        ok = False
        if raw is not None and chk.fields(raw, "interaction", ("text", "gaps")):
            text = chk.text(raw, "text", "interaction.text")
            listed = chk.listof(raw.get("gaps"), "interaction.gaps")
            if listed is not None:
                ok = True
                if not 1 <= len(listed) <= 5:
                    chk.add("interaction.gaps", f"needs 1 to 5 gaps, got {len(listed)}")
                for i, gap in enumerate(listed):
                    path = f"interaction.gaps[{i}]"
                    if not chk.fields(gap, path, ("key", "options")):
                        ok = False
                        continue
                    if gap.get("key") != str(i + 1):
                        chk.add(
                            f"{path}.key",
                            f"gap keys go '1', '2' ... in order: expected '{i + 1}', got {gap.get('key')!r}",
                        )
                    opts = chk.options(gap.get("options"), f"{path}.options", minimum=2, maximum=5)
                    gaps.append({"key": str(i + 1), "options": opts or []})
                marks = GAP_RE.findall(text)
                expected = [str(i + 1) for i in range(len(listed))]
                if text and sorted(marks) != expected:
                    chk.add(
                        "interaction.text", f"must hold each gap once: {' '.join('{{' + k + '}}' for k in expected)}"
                    )
            interaction = {"text": text, "gaps": gaps}
        names = [g["key"] for g in gaps] if ok else None
        allowed = sorted({o["key"] for g in gaps for o in g["options"]})
        key = check_pairs(chk, data.get("key"), names, allowed)
        if key is not None and ok:
            per_gap = {g["key"]: [o["key"] for o in g["options"]] for g in gaps}
            for entry in key:
                gap, _, choice = entry.partition("=")
                if choice not in per_gap.get(gap, []):
                    chk.add("key", f"gap {gap}: {choice!r} is not one of its options")
        scoring, score_map, rubric, top = check_unit_scoring(
            chk, data, self.scorings, len(gaps) if ok else None, "gaps right"
        )
        content = {"interaction": interaction, "key": key, "scoring": scoring}
        return {**content, "score_map": score_map, "rubric": rubric}, top

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        answer = from_map(response, gap_options(version), "inline choice")
        return score_matches(version, answer, keyed_pairs(version.key))

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        return matches_for_score(version, score, keyed_pairs(version.key), gap_options(version), rnd)

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset(f"gap-{g}" for g in gap_options(version))

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        options = gap_options(version)
        answer = {g: v for g in options if (v := one_value(form, f"gap-{g}")) is not None}
        from_map(answer, options, "inline choice")
        require(
            len(answer) == len(options),
            skip,
            "还有空没有选择。请为每个空选择一个词；如果确实不会，可以点击“跳过，提交”。",
        )
        return answer or None

    def public(self, version: Scorable) -> dict[str, Any]:
        """The text as HTML split at the gaps: ``segments`` alternate HTML and gap dicts."""
        interaction = version.interaction or {}
        html = render_markdown(GAP_RE.sub(lambda m: _MARK.format(m.group(1)), str(interaction.get("text", ""))))
        gaps = {
            str(g["key"]): [(str(o["key"]), render_inline(str(o["text"]))) for o in g.get("options", [])]
            for g in interaction.get("gaps", [])
        }
        segments: list[Any] = []
        for i, piece in enumerate(re.split("\ue000gap(\\d)\ue001", html)):
            segments.append({"gap": piece, "options": gaps.get(piece, [])} if i % 2 else piece)
        return {"segments": segments}


INLINE_CHOICE = InlineChoice()
