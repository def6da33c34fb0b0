"""The console's item form: every item type's document survives the form (fill, then read back), and its shapes."""

from __future__ import annotations

import copy

import pytest

from tests.itembank.samples import ITEMS
from web.item_forms import ITEM_FORMS, document_from_form, form_values


def _as_submitted(values: dict[str, object]) -> dict[str, object]:
    """What a browser sends back for a filled form: text as text, the key a list only when several boxes are ticked."""
    out: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, list):
            out[name] = value if len(value) != 1 or name == "grade_bands" else value[0]
        else:
            out[name] = str(value)
    return out


@pytest.mark.parametrize("doc", ITEMS, ids=[i["type"] + ":" + i["code"] for i in ITEMS])
def test_a_document_survives_the_form(doc: dict[str, object]) -> None:
    sent = _as_submitted(form_values(doc))
    back = document_from_form(sent, str(doc["type"]))
    wanted = copy.deepcopy(doc)
    wanted["status"] = "draft"  # the form does not carry the status: it changes on the item's page
    wanted.pop("enemies", None)
    assert back.pop("enemies") == list(doc.get("enemies") or [])  # type: ignore[call-overload]
    assert back == wanted


def test_every_item_type_has_a_form_and_an_unknown_type_keeps_the_common_part() -> None:
    assert set(ITEM_FORMS) == {"single_choice", "multiple_response", "true_false", "partial_credit"}
    doc = document_from_form({"code": "X-1", "stem": "题干", "a": "abc", "b": "0.5; -1", "key": "A"}, "drag_drop")
    assert doc["type"] == "drag_drop" and "key" not in doc and "options" not in doc
    assert doc["params"] == {"model": "", "a": "abc", "b": [0.5, -1.0], "c": 0.0}  # "abc" left for the validator


def test_blank_trailing_options_and_parts_are_dropped() -> None:
    doc = document_from_form({"option_A": "甲", "option_B": "乙", "option_C": "", "key": ["A", "B"],
                              "scoring": "all_or_nothing"}, "multiple_response")  # fmt: skip
    assert doc["options"] == [{"key": "A", "text": "甲"}, {"key": "B", "text": "乙"}] and "rubric" not in doc
    task = document_from_form({"part1_prompt": "一", "part1_option_A": "是", "part1_key": "A", "part3_prompt": "三",
                               "score_map": "0;1;2", "rubric": "零\n一\n二"}, "partial_credit")  # fmt: skip
    assert [p["prompt"] for p in task["parts"]] == ["一", "三"] and task["score_map"] == [0, 1, 2]
    assert task["rubric"] == [{"score": 0, "description": "零"}, {"score": 1, "description": "一"},
                              {"score": 2, "description": "二"}]  # fmt: skip
