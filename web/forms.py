"""Form parsing for the student's pages: what a posted HTML form says, checked against its item.

The JSON API receives typed bodies (:mod:`web.controllers.api`); the HTML forms arrive as
url-encoded fields, where a name may repeat and every value is a string. Each function here
turns fields into the value the sitting service takes, or raises the refusal for a form that does
not fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from assess.exceptions import AnswerRejected
from assess.position import item_snapshot
from itembank.exceptions import IncompleteAnswer, InvalidResponseError
from itembank.types import REGISTRY
from itembank.types.search_sim import MAX_SEARCHES, SEARCH_SIM, ranked
from web.exceptions import AnswerMissing

__all__ = ["answer_from_form", "field", "item_from_form", "latency_from_form", "search_from_form"]


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


@dataclass(frozen=True)
class _Fields:
    """A posted form as the item types read it (:class:`itembank.types.base.FormFields`)."""

    form: Mapping[str, Any]

    def values(self, name: str) -> list[str]:
        return _values(self.form, name)

    def names(self) -> list[str]:
        return [str(k) for k in self.form]


_ANSWER_FIELD = re.compile(r"^(?:answer|entry|chosen|opened|searched|(?:part|position|match|gap|action|query)-.*)$")
"""Names of the fields some item type reads: a form sending one its item does not read is refused."""


def answer_from_form(*, engine: Engine, item_id: int, form: Mapping[str, Any]) -> Any:
    """The answer a submitted HTML form gives to item version ``item_id`` (shape per item type).

    Each type reads its own fields (:meth:`itembank.types.base.ItemType.form_answer`).

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
    kind = REGISTRY.get(version.type)
    if kind is None:
        raise InvalidResponseError(f"unknown item type {version.type!r}")
    own = kind.form_fields(version)
    stray = [k for k in form if _ANSWER_FIELD.match(str(k)) and k not in own and _values(form, str(k))]
    if stray:
        raise InvalidResponseError(f"this form does not fit the item: {', '.join(sorted(map(str, stray)))}")
    try:
        return kind.form_answer(version, _Fields(form), form.get("skip") == "1")
    except IncompleteAnswer as e:
        raise AnswerMissing(str(e)) from None


def search_from_form(*, engine: Engine, item_id: int, form: Mapping[str, Any]) -> dict[str, Any]:
    """What a press of 搜索 on a simulated search page asks for (not an answer: nothing is stored).

    Returns the query, the searches so far (this one last), the result keys ranked for the query
    and the results opened so far, for the page to show the item again with its results.

    Raises
    ------
    AnswerRejected
        ``item_id`` is not an item version at all.
    InvalidResponseError
        The item is not a search page, or the form names words or results it does not have.
    """
    version = item_snapshot(engine, item_id)
    if version is None:
        raise AnswerRejected("只能回答当前显示的题目")
    if version.type != SEARCH_SIM.name:
        raise InvalidResponseError("only a search page searches")
    fields = _Fields(form)
    query = SEARCH_SIM.query_from_form(version, fields)
    searches = [s.split(" ") for s in fields.values("searched")][: MAX_SEARCHES - 1] + ([query] if query else [])
    state = SEARCH_SIM.parse(
        version, {"query": query, "opened": fields.values("opened")[:MAX_SEARCHES], "searches": searches}
    )
    return {**state, "ranked": ranked(version, query), "searched": [" ".join(q) for q in state["searches"]]}
