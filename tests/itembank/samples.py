"""A small item bundle covering every item type, for tests (not the starter bank)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from itembank.formats import parse_json
from itembank.importing import import_items
from itembank.models import Item

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


def _rubric(*descriptions: str) -> list[dict[str, Any]]:
    return [{"score": i, "description": d} for i, d in enumerate(descriptions)]


INTERACTIVE_ITEMS: list[dict[str, Any]] = [
    {
        "code": "T3.2-010",
        "type": "ordering",
        "indicator": "D3.2",
        "grade_bands": ["5-6", "7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "把查找资料的步骤按正确的顺序排好。",
        "options": _options("确定要查的问题", "选择关键词", "搜索并浏览结果", "核对信息来源"),
        "key": ["A", "B", "C", "D"],
        "scoring": "adjacent_pairs",
        "score_map": [0, 0, 1, 2],
        "rubric": _rubric("相邻顺序对得不到两个", "有两个相邻顺序正确", "顺序全部正确"),
        "rationale": "先明确问题，再选词、搜索，最后核对来源。",
        "enemies": [],
        "params": {"model": "gpcm", "a": 1.0, "b": [-0.6, 0.4], "c": 0.0},
    },
    {
        "code": "T1.3-010",
        "type": "matching",
        "indicator": "D1.3",
        "grade_bands": ["7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "把每条信息来源归入合适的可信度类别。",
        "options": _options("政府统计局发布的数据", "匿名论坛里的帖子", "学校官网的通知"),
        "interaction": {"targets": [{"key": "1", "text": "比较可信"}, {"key": "2", "text": "需要核实"}]},
        "key": ["A=1", "B=2", "C=1"],
        "scoring": "per_match",
        "score_map": [0, 0, 1, 2],
        "rubric": _rubric("配对正确少于两项", "配对正确两项", "全部配对正确"),
        "rationale": "官方机构发布的信息较可信；匿名帖子需要核实。",
        "enemies": [],
        "params": {"model": "gpcm", "a": 0.9, "b": [-0.3, 0.7], "c": 0.0},
    },
    {
        "code": "T4.1-010",
        "type": "inline_choice",
        "indicator": "D4.1",
        "grade_bands": ["5-6", "7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "在空格处选择合适的词语。",
        "interaction": {
            "text": "设置密码时，应该使用{{1}}的密码，并且{{2}}告诉别人。",
            "gaps": [
                {"key": "1", "options": _options("生日", "字母、数字和符号组合")},
                {"key": "2", "options": _options("不要", "可以")},
            ],
        },
        "key": ["1=B", "2=A"],
        "scoring": "all_or_nothing",
        "rationale": "强密码由多种字符组成，并且不告诉别人。",
        "enemies": [],
        "params": {"model": "2pl", "a": 1.1, "b": [-0.8], "c": 0.0},
    },
    {
        "code": "T2.2-010",
        "type": "entry",
        "indicator": "D2.2",
        "grade_bands": ["5-6", "7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "一本书 25 元，打八折后是多少元？",
        "interaction": {"kind": "numeric", "label": "打折后的价格", "unit": "元", "max_length": 20},
        "rule": {"value": 20, "tolerance": 0},
        "rationale": "25 × 0.8 = 20。",
        "enemies": [],
        "params": {"model": "2pl", "a": 1.0, "b": [-0.5], "c": 0.0},
    },
    {
        "code": "T2.2-011",
        "type": "entry",
        "indicator": "D2.2",
        "grade_bands": ["7-9"],
        "status": "pilot",
        "author": "测试",
        "stem": "手机扫一扫就能打开网址的黑白方块图案叫什么？",
        "interaction": {"kind": "text", "label": "图案的名称", "max_length": 30},
        "rule": {"accepted": ["二维码", "QR码"], "normalise": ["width", "space", "case", "punct"]},
        "rationale": "二维码（QR 码）。",
        "enemies": [],
        "params": {"model": "2pl", "a": 0.8, "b": [-1.0], "c": 0.0},
    },
    {
        "code": "T4.3-010",
        "type": "hotspot",
        "indicator": "D4.3",
        "grade_bands": ["5-6", "7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "点选这封邮件中可疑的地方（可以选多处）。",
        "interaction": {
            "scene": "下面是小林收到的一封邮件。",
            "image": {"src": "/static/items/mail-scene.svg", "width": 400, "height": 300},
            "regions": [
                {"key": "R1", "label": "发件人地址", "shape": {"x": 8, "y": 48, "w": 380, "h": 26}},
                {"key": "R2", "label": "邮件标题“收件箱 · 邮件”", "shape": {"x": 8, "y": 6, "w": 200, "h": 26}},
                {"key": "R3", "label": "“立即点击验证账户”按钮", "shape": {"x": 8, "y": 156, "w": 190, "h": 42}},
                {"key": "R4", "label": "“客服电话请见银行官网”", "shape": {"x": 8, "y": 248, "w": 260, "h": 26}},
            ],
        },
        "key": ["R1", "R3"],
        "scoring": "hits",
        "score_map": [0, 1, 2],
        "rubric": _rubric("没有找出可疑之处，或选错的不少于选对的", "净找出一处", "找出两处且没有选错"),
        "rationale": "陌生的发件地址和催促点击的按钮是钓鱼邮件的迹象。",
        "enemies": [],
        "params": {"model": "gpcm", "a": 1.2, "b": [-0.4, 0.5], "c": 0.0},
    },
    {
        "code": "T4.3-011",
        "type": "inbox_sim",
        "indicator": "D4.3",
        "grade_bands": ["7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "下面是小林邮箱里的三封邮件。请为每封邮件选择最合适的处理方式。",
        "interaction": {
            "messages": [
                {
                    "key": "M1",
                    "from": "班主任 王老师",
                    "subject": "周五春游的安排",
                    "body": "同学们：周五早上 8 点在校门口集合。",
                    "time": "09:12",
                },
                {
                    "key": "M2",
                    "from": "prize@lucky-example.com",
                    "subject": "恭喜您中奖！",
                    "body": "请回复您的银行卡号和密码领取奖品。",
                    "time": "10:40",
                },
                {
                    "key": "M3",
                    "from": "同学 小张",
                    "subject": "数学作业第 3 题怎么做？",
                    "body": "你能告诉我第 3 题的思路吗？",
                    "time": "18:05",
                },
            ],
            "actions": ["reply", "forward", "report", "delete", "keep"],
        },
        "rule": {"expected": {"M1": "keep", "M2": "report", "M3": "reply"}},
        "scoring": "per_message",
        "score_map": [0, 0, 1, 2],
        "rubric": _rubric("处理正确少于两封", "处理正确两封", "三封都处理正确"),
        "rationale": "通知保留；诈骗邮件举报；同学的问题回复。",
        "enemies": [],
        "params": {"model": "gpcm", "a": 1.0, "b": [-0.7, 0.3], "c": 0.0},
    },
    {
        "code": "T3.1-010",
        "type": "search_sim",
        "indicator": "D3.1",
        "grade_bands": ["5-6", "7-9"],
        "status": "operational",
        "author": "测试",
        "stem": "小明想知道蚕宝宝吃什么。请用给出的词语搜索，然后选出最能回答问题的一条结果。",
        "interaction": {
            "words": ["蚕", "桑叶", "吃什么", "游戏", "图片", "饲养"],
            "results": [
                {
                    "key": "R1",
                    "title": "蚕宝宝小游戏在线玩",
                    "url": "games.example.com/can",
                    "snippet": "免费游戏，蚕宝宝闯关。",
                },
                {
                    "key": "R2",
                    "title": "可爱的蚕图片大全",
                    "url": "pics.example.com/can",
                    "snippet": "高清蚕宝宝图片下载。",
                },
                {
                    "key": "R3",
                    "title": "蚕的饲养：蚕吃什么？",
                    "url": "kepu.example.org/can",
                    "snippet": "蚕主要吃新鲜桑叶，也可少量喂柘叶。",
                },
                {
                    "key": "R4",
                    "title": "桑叶的药用价值",
                    "url": "health.example.com/sangye",
                    "snippet": "桑叶可以泡茶。",
                },
            ],
            "prompt": "任务：找到说明“蚕吃什么”的可靠结果。",
        },
        "rule": {"query_required": ["蚕", "吃什么"], "query_forbidden": ["游戏"], "best": ["R3"], "acceptable": ["R4"]},
        "scoring": "per_step",
        "score_map": [0, 1, 2],
        "rubric": _rubric("搜索词和选择都不合适", "搜索词合适或选择正确（只做到一项）", "搜索词合适且选出最佳结果"),
        "rationale": "搜索词应包含“蚕”和“吃什么”，不含无关的“游戏”；R3 直接回答问题。",
        "enemies": [],
        "params": {"model": "gpcm", "a": 1.1, "b": [-0.6, 0.5], "c": 0.0},
    },
]
"""One or two sample items of every interactive type (the starter bank's content is not these)."""


def interactive_bundle() -> dict[str, Any]:
    """A fresh copy of the interactive sample items (with the sample stimulus) in the canonical JSON format."""
    return {
        "format": "infolit-items",
        "version": 1,
        "stimuli": [copy.deepcopy(STIMULUS)],
        "items": copy.deepcopy(INTERACTIVE_ITEMS),
    }


def install_interactive(session: Session) -> None:
    """Import the interactive sample items into a loaded bank and retire every other item.

    A band 7-9 test then draws seven operational items (ordering, matching, inline choice, numeric
    entry, hotspot, search page, inbox) and one pilot (text entry).
    """
    import_items(session=session, bundle=parse_json(json.dumps(interactive_bundle(), ensure_ascii=False).encode()))
    codes = [i["code"] for i in INTERACTIVE_ITEMS]
    session.execute(update(Item).where(col(Item.code).not_in(codes)).values(status="retired"))
    session.flush()
