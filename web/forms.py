"""Form parsing for the student's pages: what a posted HTML form says, checked against its item.

The JSON API receives typed bodies (:mod:`web.controllers.api`); the HTML forms arrive as
url-encoded fields, where a name may repeat and every value is a string. Each function here
turns fields into the value the sitting service takes, or raises the refusal for a form that does
not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from assess.exceptions import AnswerRejected
from assess.position import item_snapshot
from itembank.exceptions import InvalidResponseError
from web.exceptions import AnswerMissing

__all__ = ["answer_from_form", "field", "item_from_form", "latency_from_form"]


def field(form: Mapping[str, Any], name: str) -> str:
    """The single value of field ``name`` (``""`` when absent; :class:`InvalidResponseError` if sent twice)."""
    value = form.get(name, "")
    if isinstance(value, list):
        raise InvalidResponseError(f"{name} was sent twice")
    return str(value)


def item_from_form(form: Mapping[str, Any]) -> int:
    """The item version id the form answers (:class:`InvalidResponseError` when it names none)."""
    try:
        return int(field(form, "item"))
    except ValueError:
        raise InvalidResponseError("the form names no item") from None


def latency_from_form(form: Mapping[str, Any]) -> int | None:
    """The client's time on the item in ms, if sent and plausible (it is informational only)."""
    try:
        value = int(str(form.get("elapsed_ms")))
    except ValueError:
        return None
    return value if 0 <= value <= 24 * 3600 * 1000 else None


def _values(form: Mapping[str, Any], name: str) -> list[str]:
    raw = form.get(name)
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else [raw]
    return [str(v) for v in values if str(v) != ""]


def answer_from_form(*, engine: Engine, item_id: int, form: Mapping[str, Any]) -> Any:
    """The answer a submitted HTML form gives to item version ``item_id`` (shape per item type).

    Raises
    ------
    AnswerRejected
        ``item_id`` is not an item version at all.
    InvalidResponseError
        The form does not fit the item (two answers to a single choice, a part that does not exist).
    AnswerMissing
        Nothing (or not every part) was answered and the student did not choose to skip.
    """
    version = item_snapshot(engine, item_id)
    if version is None:
        raise AnswerRejected("只能回答当前显示的题目")
    skip = form.get("skip") == "1"
    chosen = _values(form, "answer")
    if version.type == "partial_credit":
        n = len(version.parts or [])
        extra = [k for k in form if k.startswith("part-") and k.removeprefix("part-") not in {str(i) for i in range(n)}]
        if extra or chosen:
            raise InvalidResponseError("this form does not fit the item's parts")
        parts: list[str | None] = []
        for i in range(n):
            got = _values(form, f"part-{i}")
            if len(got) > 1:
                raise InvalidResponseError(f"part {i + 1} takes one answer")
            parts.append(got[0] if got else None)
        if None in parts and not skip:
            raise AnswerMissing("还有小题没有作答。请完成所有小题；如果确实不会，可以点击“跳过，提交”。")
        return parts
    if any(k.startswith("part-") for k in form):
        raise InvalidResponseError("this item has no parts")
    if not chosen and not skip:
        raise AnswerMissing("你还没有选择答案。如果确实不会，可以点击“跳过，提交”。")
    if version.type == "multiple_response":
        return sorted(set(chosen)) or None
    if len(chosen) > 1:
        raise InvalidResponseError("this item takes one answer")
    return chosen[0] if chosen else None
