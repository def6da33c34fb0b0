"""``inbox_sim``: a simulated e-mail inbox; the student decides what to do with each message.

``interaction = {"messages": [{"key": "M1", "from", "subject", "body" (Markdown), "time"}, ...]
(2-6, keys M1, M2 ... in order), "actions": a subset of reply, forward, report, delete, keep}``;
``rule`` (private) = ``{"expected": {"M1": "report", "M2": "keep", ...}}``, one allowed action per
message; ``key`` is ``null``. Scored ``all_or_nothing`` or ``per_message`` (m = messages handled
as expected, ``score_map`` of length n+1). The answer is ``{"M1": "report", ...}``, one action
per message (a message left out is unanswered); the form sends ``action-M1`` = an action.
"""

from __future__ import annotations

import random
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
    matches_for_score,
    one_value,
    require,
    score_matches,
)
from itembank.types.units import check_unit_scoring

__all__ = ["ACTIONS", "INBOX_SIM", "InboxSim"]

ACTIONS: dict[str, str] = {"reply": "回复", "forward": "转发", "report": "举报", "delete": "删除", "keep": "保留"}
"""The actions an inbox may offer, with what the page calls them."""
_MESSAGE_FIELDS = ("key", "from", "subject", "body", "time")


def _messages(version: Scorable) -> list[str]:
    return [str(m["key"]) for m in (version.interaction or {}).get("messages", [])]


def _actions(version: Scorable) -> list[str]:
    return [str(a) for a in (version.interaction or {}).get("actions", [])]


class InboxSim(ItemType):
    """An inbox to act in."""

    name = "inbox_sim"
    label = "模拟邮箱"
    needs = frozenset({"interaction", "rule", "scoring"})
    allows = frozenset({"score_map", "rubric"})
    scorings = ("all_or_nothing", "per_message")

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        if data.get("key") is not None:
            chk.add("key", "an inbox_sim item has no key (its rule scores it)")
        raw = data.get("interaction")
        interaction: dict[str, Any] | None = None
        keys: list[str] | None = None
        actions: list[str] = []
        if raw is not None and chk.fields(raw, "interaction", ("messages", "actions")):
            messages = self._check_messages(chk, raw.get("messages"))
            keys = [m["key"] for m in messages] if messages is not None else None
            listed = chk.listof(raw.get("actions"), "interaction.actions") or []
            for i, action in enumerate(listed):
                if action not in ACTIONS:
                    chk.add(f"interaction.actions[{i}]", f"unknown action {action!r} (expected: {', '.join(ACTIONS)})")
            actions = [a for a in ACTIONS if a in listed]
            if len(actions) < 2:
                chk.add("interaction.actions", "offer at least two actions")
            interaction = {"messages": messages or [], "actions": actions}
        rule = None
        if data.get("rule") is not None and chk.fields(data["rule"], "rule", ("expected",)):
            expected = data["rule"].get("expected")
            if not isinstance(expected, Mapping):
                chk.add("rule.expected", "must be an object {message key: action}")
            else:
                for name, action in expected.items():
                    if keys is not None and name not in keys:
                        chk.add(f"rule.expected.{name}", f"no message {name!r} (messages: {', '.join(keys)})")
                    elif action not in actions:
                        chk.add(f"rule.expected.{name}", f"{action!r} is not an offered action ({', '.join(actions)})")
                if keys is not None and set(expected) != set(keys):
                    missing = [k for k in keys if k not in expected]
                    if missing:
                        chk.add("rule.expected", f"needs an action for every message; missing {', '.join(missing)}")
                rule = {"expected": {k: str(expected[k]) for k in keys or sorted(expected) if k in expected}}
        units = len(keys) if keys is not None else None
        scoring, score_map, rubric, top = check_unit_scoring(chk, data, self.scorings, units, "messages handled")
        content = {"interaction": interaction, "rule": rule, "scoring": scoring}
        return {**content, "score_map": score_map, "rubric": rubric}, top

    def _check_messages(self, chk: Checker, raw: Any) -> list[dict[str, str]] | None:
        listed = chk.listof(raw, "interaction.messages")
        if listed is None:
            return None
        if not 2 <= len(listed) <= 6:
            chk.add("interaction.messages", f"needs 2 to 6 messages, got {len(listed)}")
        out = []
        for i, message in enumerate(listed):
            path = f"interaction.messages[{i}]"
            if not chk.fields(message, path, _MESSAGE_FIELDS):
                continue
            if message.get("key") != f"M{i + 1}":
                chk.add(
                    f"{path}.key",
                    f"message keys go M1, M2 ... in order: expected 'M{i + 1}', got {message.get('key')!r}",
                )
            out.append({"key": f"M{i + 1}", **{n: chk.text(message, n, f"{path}.{n}") for n in _MESSAGE_FIELDS[1:]}})
        return out

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        answer = from_map(response, {m: _actions(version) for m in _messages(version)}, "inbox")
        return score_matches(version, answer, (version.rule or {}).get("expected", {}))

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        expected = (version.rule or {}).get("expected", {})
        return matches_for_score(version, score, expected, {m: _actions(version) for m in expected}, rnd)

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset(f"action-{m}" for m in _messages(version))

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        messages = _messages(version)
        answer = {m: v for m in messages if (v := one_value(form, f"action-{m}")) is not None}
        from_map(answer, {m: _actions(version) for m in messages}, "inbox")
        require(
            len(answer) == len(messages),
            skip,
            "还有邮件没有处理。请为每封邮件选择一种处理方式；如果确实不会，可以点击“跳过，提交”。",
        )
        return answer or None

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of this type's own data (rendered HTML, no key or rule)."""
        interaction = version.interaction or {}
        return {
            "messages": [
                {
                    "key": str(m["key"]),
                    "from_html": render_inline(str(m["from"])),
                    "subject_html": render_inline(str(m["subject"])),
                    "time": str(m["time"]),
                    "body_html": render_markdown(str(m["body"])),
                }
                for m in interaction.get("messages", [])
            ],
            "actions": [(a, ACTIONS[a]) for a in interaction.get("actions", []) if a in ACTIONS],
        }


INBOX_SIM = InboxSim()
