"""An item's problems in Chinese: every problem the validator writes for a broken item has a Chinese wording."""

from __future__ import annotations

import copy
import re
from typing import Any

from itembank.exceptions import Problem, ValidationReport
from itembank.framework import default_framework
from itembank.validate import BankContext, Draft, Origin, RawBundle, validate_bundle
from tests.itembank.samples import ITEMS
from web.item_text import chinese_message, chinese_place, chinese_problems, form_field

CONTEXT = BankContext(framework=default_framework(), stimuli=frozenset({"S-T-01"}), items=frozenset())
BROKEN: list[tuple[int, dict[str, Any]]] = [
    (0, {"stem": "", "key": ["Z"], "grade_bands": ["1-2", "7-9", "7-9"], "indicator": "D9.9"}),
    (0, {"options": [{"key": "A", "text": "一"}, {"key": "B", "text": "一"}], "key": ["A", "A"]}),
    (0, {"type": "essay", "status": "gone", "stimulus": "NONE", "enemies": ["T4.3-001", "NOPE"]}),
    (0, {"params": {"model": "2pl", "a": 9, "b": [7], "c": 0.2}, "code": "bad code!"}),
    (1, {"scoring": "sometimes", "key": ["A"], "params": {"model": "grm", "a": 1, "b": [1, 0.5], "c": 0}}),
    (2, {"key": ["Y"], "grade_bands": []}),
    (3, {"key": ["A"]}),
    (4, {"parts": [{"prompt": "一", "options": [{"key": "A", "text": "是"}], "key": "Q"}], "score_map": [1, 3]}),
    (4, {"score_map": [0, 0, 0, 1], "rubric": [{"score": 0, "description": "零"}]}),
    (2, {"options": [{"key": "A", "text": "x"}], "a": 1}),
]


def _problems() -> list[Problem]:
    found: list[Problem] = []
    for index, change in BROKEN:
        doc = {**copy.deepcopy(ITEMS[index]), **change}
        try:
            validate_bundle(RawBundle("item", items=(Draft(doc, Origin("item")),)), CONTEXT)
        except ValidationReport as report:
            found += report.problems
    return found


def test_every_problem_of_a_broken_item_reads_in_chinese() -> None:
    problems = _problems()
    assert len(problems) >= 20
    untranslated = [p.message for p in problems if chinese_message(p.message) == p.message]
    assert untranslated == []
    assert all(re.search(r"[\u4e00-\u9fff]", chinese_message(p.message)) for p in problems)


def test_places_and_fields() -> None:
    assert chinese_place("") == "整个文件"
    assert chinese_place("row 5, key") == "第 5 行 · 答案（key）"
    assert chinese_place("row 3, option_B") == "第 3 行 · 选项（option_B）"
    assert chinese_place("items[2].options[1].text") == "第 3 题 · 选项（options[1].text）"
    assert chinese_place("stimuli[0].body") == "第 1 份阅读材料 · body"
    assert chinese_place("item.params.a") == "预设参数（params.a）"
    assert form_field("item.options[1].text") == "options" and form_field("row 5, key") == ""
    [shown] = chinese_problems([Problem("item.stem", "must not be empty")])
    assert (shown.field, str(shown)) == ("stem", "题干（stem）：不能为空")
    assert chinese_place("sub-indicator D1.1") == "二级指标 D1.1" and chinese_place("grade band 3-4") == "学段 3-4"
    in_use = chinese_message("used by 2 item(s) (A, B) but not in framework f")
    assert in_use == "有 2 道题在使用（A, B），框架 f 里不能没有它"
    assert chinese_message("something new") == "something new"  # shown as it is
