"""The console's item form: HTML form fields <-> an item document in the canonical JSON shape, per item type.

The form has the fields every item shares (:data:`COMMON_FIELDS`: code, sub-indicator, grade
bands, author, stem, rationale, enemies, provisional parameters) and a part per item type. Each
type is one :class:`ItemForm` in :data:`ITEM_FORMS`: its label, the template of its part
(``fragments/console/item_form/<type>.html``), :meth:`~ItemForm.read` (form -> the type's
content fields) and :meth:`~ItemForm.fill` (document -> form values). A new item type plugs in by
adding its entry and its template; nothing else here knows the types.

No checking happens here beyond the shape of a field: the document goes to
:mod:`itembank.validate` through the bank's services, which report every problem by field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["COMMON_FIELDS", "ITEM_FORMS", "MAX_OPTIONS", "MAX_PARTS", "ItemForm", "document_from_form", "form_values"]

OPTION_KEYS = "ABCDEF"
MAX_OPTIONS = 6
"""Option rows the form offers (the bank allows 3 to 6)."""
MAX_PARTS = 5
"""Sub-question blocks the form offers to a partial-credit task (the bank allows 2 to 5)."""
COMMON_FIELDS: tuple[str, ...] = ("code", "indicator", "author", "stem", "rationale", "enemies", "model", "a", "b", "c")
"""Text fields every item has (``grade_bands`` is a list of checkboxes)."""
_SPLIT = re.compile(r"[;,，；\s]+")

Values = Mapping[str, Any]


def _text(form: Values, name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def _list(form: Values, name: str) -> list[str]:
    raw = form.get(name)
    values = raw if isinstance(raw, list) else [] if raw is None else [raw]
    return [str(v).strip() for v in values if str(v).strip()]


def _split(text: str) -> list[str]:
    return [x for x in _SPLIT.split(text.strip()) if x]


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the validator names it: "must be a number, got ..."


def _options(form: Values, prefix: str = "option_") -> list[dict[str, str]]:
    texts = [_text(form, f"{prefix}{k}") for k in OPTION_KEYS[:MAX_OPTIONS]]
    while texts and not texts[-1]:
        texts.pop()
    return [{"key": OPTION_KEYS[i], "text": t} for i, t in enumerate(texts)]


def _rubric(form: Values) -> list[dict[str, Any]]:
    lines = [x.strip() for x in _text(form, "rubric").splitlines() if x.strip()]
    return [{"score": i, "description": line} for i, line in enumerate(lines)]


def _fill_options(doc: Values, prefix: str = "option_") -> dict[str, str]:
    return {f"{prefix}{o['key']}": o["text"] for o in doc.get("options") or []}


def _fill_rubric(doc: Values) -> dict[str, str]:
    return {"rubric": "\n".join(r["description"] for r in doc.get("rubric") or [])}


@dataclass(frozen=True)
class ItemForm:
    """One item type's part of the form: label, template, and the two directions of its mapping."""

    label: str
    template: str
    read: Callable[[Values], dict[str, Any]]
    fill: Callable[[Values], dict[str, Any]]


def _read_single(form: Values) -> dict[str, Any]:
    return {"options": _options(form), "key": _list(form, "key")}


def _read_multiple(form: Values) -> dict[str, Any]:
    out: dict[str, Any] = {"options": _options(form), "key": _list(form, "key"), "scoring": _text(form, "scoring")}
    if out["scoring"] == "partial":
        out["rubric"] = _rubric(form)
    return out


def _read_true_false(form: Values) -> dict[str, Any]:
    return {"key": _list(form, "key")}


def _read_partial(form: Values) -> dict[str, Any]:
    parts = []
    for n in range(1, MAX_PARTS + 1):
        prompt = _text(form, f"part{n}_prompt")
        options = _options(form, f"part{n}_option_")
        if not prompt and not options:
            continue
        parts.append({"prompt": prompt, "options": options, "key": _text(form, f"part{n}_key")})
    scores = [_number(x) for x in _split(_text(form, "score_map"))]
    return {"parts": parts, "score_map": [int(x) if isinstance(x, float) and x.is_integer() else x for x in scores],
            "rubric": _rubric(form)}  # fmt: skip


def _fill_single(doc: Values) -> dict[str, Any]:
    return {**_fill_options(doc), "key": list(doc.get("key") or [])}


def _fill_multiple(doc: Values) -> dict[str, Any]:
    return {**_fill_single(doc), "scoring": doc.get("scoring") or "all_or_nothing", **_fill_rubric(doc)}


def _fill_true_false(doc: Values) -> dict[str, Any]:
    return {"key": list(doc.get("key") or [])}


def _fill_partial(doc: Values) -> dict[str, Any]:
    out: dict[str, Any] = {"score_map": ";".join(str(x) for x in doc.get("score_map") or []), **_fill_rubric(doc)}
    for n, part in enumerate(doc.get("parts") or [], start=1):
        out[f"part{n}_prompt"] = part.get("prompt", "")
        out[f"part{n}_key"] = part.get("key", "")
        out.update(_fill_options(part, f"part{n}_option_"))
    return out


ITEM_FORMS: dict[str, ItemForm] = {
    "single_choice": ItemForm("单选题", "single_choice", _read_single, _fill_single),
    "multiple_response": ItemForm("多选题", "multiple_response", _read_multiple, _fill_multiple),
    "true_false": ItemForm("判断题", "true_false", _read_true_false, _fill_true_false),
    "partial_credit": ItemForm("组合题", "partial_credit", _read_partial, _fill_partial),
}
"""The form of each item type, by type code."""


def document_from_form(form: Values, item_type: str) -> dict[str, Any]:
    """The item document a submitted form describes (an unknown type keeps only the common part)."""
    params: dict[str, Any] = {"model": _text(form, "model"), "a": _number(_text(form, "a")),
                              "b": [_number(x) for x in _split(_text(form, "b"))],
                              "c": _number(_text(form, "c") or "0")}  # fmt: skip
    doc: dict[str, Any] = {
        "code": _text(form, "code"),
        "type": item_type,
        "indicator": _text(form, "indicator"),
        "grade_bands": _list(form, "grade_bands"),
        "status": "draft",
        "author": _text(form, "author"),
        "stem": str(form.get("stem") or "").strip(),
        "rationale": _text(form, "rationale"),
        "enemies": _split(_text(form, "enemies")),
        "params": params,
    }
    kind = ITEM_FORMS.get(item_type)
    if kind is not None:
        doc.update(kind.read(form))
    stimulus = _text(form, "stimulus")
    if stimulus:
        doc["stimulus"] = stimulus
    return doc


def form_values(doc: Values) -> dict[str, Any]:
    """The form's values for an item document (what the edit form starts from, or shows again)."""
    params = doc.get("params") or {}
    values: dict[str, Any] = {
        "code": doc.get("code", ""),
        "indicator": doc.get("indicator", ""),
        "grade_bands": list(doc.get("grade_bands") or []),
        "author": doc.get("author", ""),
        "stem": doc.get("stem", ""),
        "rationale": doc.get("rationale", ""),
        "enemies": ";".join(doc.get("enemies") or []),
        "stimulus": doc.get("stimulus") or "",
        "model": params.get("model", "2pl"),
        "a": params.get("a", ""),
        "b": ";".join(str(x) for x in params.get("b") or []),
        "c": params.get("c", 0),
    }
    kind = ITEM_FORMS.get(str(doc.get("type", "")))
    if kind is not None:
        values.update(kind.fill(doc))
    return values
