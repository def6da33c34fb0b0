"""A small item bundle covering every item type, for tests (not the starter bank)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

STIMULUS = {
    "code": "S-T-01",
    "kind": "email",
    "title": "一封“中奖”邮件",
    "body": "**发件人**：prize@lucky-example.com\n**主题**：恭喜您中奖！\n\n请点击链接并填写银行卡号领取奖品。\n\n"
    "| 奖项 | 奖品 |\n|---|---|\n| 一等奖 | 平板电脑 |",
}


def _options(*texts: str) -> list[dict[str, str]]:
    return [{"key": "ABCDEF"[i], "text": t} for i, t in enumerate(texts)]


ITEMS: list[dict[str, Any]] = [
    {
        "code": "T4.3-001",
        "type": "single_choice",
        "indicator": "D4.3",
        "grade_bands": ["5-6", "7-9"],
        "status": "operational",
        "author": "测试",
        "stimulus": "S-T-01",
        "stem": "收到这封邮件后，最稳妥的做法是什么？",
        "options": _options("立即点击链接领奖", "回复邮件询问真假", "不点链接，告诉家长或老师", "转发给同学"),
        "key": ["C"],
        "rationale": "C 正确：这是典型的钓鱼邮件。",
        "enemies": [],
        "params": {"model": "3pl", "a": 1.2, "b": [-0.4], "c": 0.2},
    },
    {
        "code": "T4.3-002",
        "type": "multiple_response",
        "indicator": "D4.3",
        "grade_bands": ["7-9"],
        "status": "pilot",
        "author": "测试",
        "stimulus": "S-T-01",
        "stem": "这封邮件中哪些迹象说明它可能是诈骗？（多选）",
        "options": _options("索要银行卡号", "发件地址陌生", "邮件使用中文", "声称中奖"),
        "key": ["A", "B", "D"],
        "scoring": "partial",
        "rubric": [
            {"score": 0, "description": "选了错误选项或没有作答"},
            {"score": 1, "description": "只选出部分正确迹象，没有错误选项"},
            {"score": 2, "description": "选出全部三个迹象"},
        ],
        "rationale": "A、B、D 都是诈骗迹象；C 不是。",
        "enemies": ["T4.3-001"],
        "params": {"model": "gpcm", "a": 1.0, "b": [-0.5, 0.6], "c": 0.0},
    },
    {
        "code": "T2.1-001",
        "type": "true_false",
        "indicator": "D2.1",
        "grade_bands": ["3-4"],
        "status": "operational",
        "author": "测试",
        "stem": "计算机内部用二进制表示数据。",
        "key": ["T"],
        "rationale": "正确。",
        "enemies": [],
        "params": {"model": "2pl", "a": 0.9, "b": [-1.5], "c": 0.0},
    },
    {
        "code": "T3.1-001",
        "type": "multiple_response",
        "indicator": "D3.1",
        "grade_bands": ["10-12"],
        "status": "draft",
        "author": "测试",
        "stem": "下列哪些是有效的检索技巧？",
        "options": _options("使用引号精确匹配", "使用 site: 限定网站", "只输入一个字"),
        "key": ["A", "B"],
        "scoring": "all_or_nothing",
        "rationale": "A、B 正确。",
        "enemies": [],
        "params": {"model": "2pl", "a": 1.1, "b": [0.8], "c": 0.0},
    },
    {
        "code": "T1.2-001",
        "type": "partial_credit",
        "indicator": "D1.2",
        "grade_bands": ["7-9", "10-12"],
        "status": "operational",
        "author": "测试",
        "stem": "阅读下面的说法，判断信息是否可信。\n\n<script>alert(1)</script>",
        "parts": [
            {"prompt": "来源是否权威？", "options": _options("是", "否"), "key": "B"},
            {"prompt": "发布时间是否较新？", "options": _options("是", "否"), "key": "A"},
            {"prompt": "是否有其他来源证实？", "options": _options("是", "否", "无法判断"), "key": "C"},
        ],
        "score_map": [0, 0, 1, 2],
        "rubric": [
            {"score": 0, "description": "答对 0-1 个小题"},
            {"score": 1, "description": "答对 2 个小题"},
            {"score": 2, "description": "全部答对"},
        ],
        "rationale": "综合判断来源、时效和佐证。",
        "enemies": [],
        "params": {"model": "grm", "a": 1.3, "b": [-0.2, 0.9], "c": 0.0},
    },
]


def bundle() -> dict[str, Any]:
    """A fresh copy of the sample bundle in the canonical JSON format."""
    return {
        "format": "infolit-items",
        "version": 1,
        "stimuli": [copy.deepcopy(STIMULUS)],
        "items": copy.deepcopy(ITEMS),
    }


def write_json(path: Path, doc: dict[str, Any] | None = None) -> Path:
    """Write ``doc`` (default: the sample bundle) as UTF-8 JSON."""
    path.write_text(json.dumps(doc if doc is not None else bundle(), ensure_ascii=False, indent=2), encoding="utf-8")
    return path
