"""The problems of an item (a form or an import file) in Chinese, for the researcher console.

:mod:`itembank.validate` words its problems in English for the command line. The console shows
them in Chinese: :func:`chinese_place` names the place (``row 5, key`` -> ``第 5 行 · 答案（key）``,
``items[2].options[1].text`` -> ``第 3 题 · 选项（options[1].text）``) and :func:`chinese_message`
rewrites the message by the patterns of :data:`_MESSAGES`; a message no pattern knows is shown
as it is. :func:`form_field` says which field of the console's item form a problem belongs to,
so the form shows it next to that field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from itembank.exceptions import Problem

__all__ = ["FIELD_NAMES", "ChineseProblem", "chinese_message", "chinese_place", "chinese_problems", "form_field"]

FIELD_NAMES: dict[str, str] = {
    "code": "题目编号",
    "type": "题型",
    "indicator": "二级指标",
    "dimension": "维度",
    "grade_bands": "学段",
    "status": "状态",
    "author": "作者",
    "stimulus": "阅读材料",
    "stem": "题干",
    "options": "选项",
    "key": "答案",
    "scoring": "计分方式",
    "parts": "小题",
    "score_map": "得分表",
    "rubric": "评分标准",
    "rationale": "答案说明",
    "enemies": "互斥题",
    "params": "预设参数",
    "model": "参数模型",
    "a": "区分度 a",
    "b": "难度 b",
    "c": "猜测参数 c",
}
"""Each field of an item, as the console names it."""

_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"missing required field", "必填，不能省略"),
    (r"must not be empty", "不能为空"),
    (r"must be text, got (.+)", r"须为文字（现在是 \1）"),
    (r"must be a (?:finite )?number, got (.+)", r"须为数字（现在是 \1）"),
    (r"must be a whole number, got (.+)", r"须为整数（现在是 \1）"),
    (r"must be a list, got (.+)", r"须为列表（现在是 \1）"),
    (r"unknown field \(expected: (.+)\)", r"不认识的字段（可用：\1）"),
    (r"(.+) is not a valid code .*", r"\1 不是有效的编号（字母、数字、“.”“-”“_”，最多 64 个字符）"),
    (r"unknown type (.+) \(expected: (.+)\)", r"没有 \1 这种题型（可选：\2）"),
    (r"unknown status (.+) \(expected: (.+)\)", r"没有 \1 这种状态（可选：\2）"),
    (r"unknown stimulus (.+) \(.*\)", r"找不到阅读材料 \1（文件里和题库里都没有）"),
    (r"missing: (\w+) items need '(\w+)'", r"\1 题必须填写 \2"),
    (r"(\w+) items have no '(\w+)'", r"\1 题没有 \2 这一项"),
    (r"unknown scoring (.+) \(expected: (.+)\)", r"没有 \1 这种计分方式（可选：\2）"),
    (r"unknown indicator (.+) \(dimension (.+) has (.+)\)", r"维度 \2 下没有二级指标 \1（可选：\3）"),
    (r"unknown indicator (.+) \(.*\)", r"指标框架里没有二级指标 \1"),
    (r"must name at least one grade band", "至少选择一个学段"),
    (r"unknown grade band (.+) \(expected: (.+)\)", r"没有学段 \1（可选：\2）"),
    (r"grade band (.+) is listed twice", r"学段 \1 重复了"),
    (r"an item cannot be its own enemy", "题目不能与自己互斥"),
    (r"enemy (.+) is not an item in this file nor in the bank", r"互斥题 \1 不在文件里，也不在题库里"),
    (r"needs (\d+) to (\d+) options, got (\d+)", r"需要 \1 到 \2 个选项（现在 \3 个）"),
    (r"options (\w) and (\w) have the same text", r"选项 \1 和 \2 的内容相同"),
    (r"must be an option key, got (.+)", r"须为选项字母（现在是 \1）"),
    (r"key (.+) is listed twice", r"答案 \1 重复了"),
    (r'a true_false key is \["T"\] or \["F"\], got (.+)', r"判断题的答案只能是“正确”或“错误”（现在是 \1）"),
    (r"a single_choice item has exactly one key, got (\d+)", r"单选题只能有一个答案（现在 \1 个）"),
    (r"a multiple_response item has two or more keys, got (\d+)", r"多选题至少要有两个答案（现在 \1 个）"),
    (r"key (.+) is not among the options (.+)", r"答案 \1 不在选项 \2 之中"),
    (r"a partial_credit task has 2 to 5 parts, got (\d+)", r"组合题需要 2 到 5 个小题（现在 \1 个）"),
    (r"must be one option key \(text\), got (.+)", r"须为一个选项字母（现在是 \1）"),
    (r"must start at 0, got (.+)", r"须从 0 开始（现在是 \1）"),
    (r"steps must be 0 or 1: (.+)", r"相邻得分只能相差 0 或 1：\1"),
    (r"the highest score must be at least 2, got (.+)", r"最高分至少为 2（现在是 \1）"),
    (r"needs one entry per score 0\.\.(\d+) \((\d+)\), got (\d+)", r"每个得分 0..\1 各需一条（共 \2 条，现在 \3 条）"),
    (r"slope a must lie in \((.+), (.+)\], got (.+)", r"区分度 a 须在 (\1, \2] 之间（现在是 \3）"),
    (r"difficulty must lie in \[(.+), (.+)\], got (.+)", r"难度须在 [\1, \2] 之间（现在是 \3）"),
    (r"needs one difficulty, got (\d+)", r"需要一个难度值（现在 \1 个）"),
    (r"needs (\d+) thresholds \(max score (\d+)\), got (\d+)", r"需要 \1 个阈值（满分 \2 分，现在 \3 个）"),
    (r"grm thresholds must be strictly increasing, got (.+)", r"GRM 阈值须严格递增（现在是 \1）"),
    (r"lower asymptote c must lie in \[(.+), (.+)\], got (.+)", r"猜测参数 c 须在 [\1, \2] 之间（现在是 \3）"),
    (r"model (\w+) has no lower asymptote: c must be 0, got (.+)", r"\1 模型没有猜测参数：c 须为 0（现在是 \2）"),
    (r"unknown model (.+) \(expected: (.+)\)", r"没有 \1 这种模型（可选：\2）"),
    (r"model (.+) does not fit any item \(expected: (.+)\)", r"模型 \1 不适用（可选：\2）"),
    (r"model (.+) does not fit a dichotomous item \(expected: (.+)\)", r"模型 \1 不适用于二级计分题（可选：\2）"),
    (
        r"model (.+) does not fit a polytomous \(0\.\.(\d+)\) item \(expected: (.+)\)",
        r"模型 \1 不适用于 0..\2 分的多级计分题（可选：\3）",
    ),
    (r"duplicate item code (.+) \(first at (.+)\)", r"题目编号 \1 重复（第一次出现在 \2）"),
    (r"the file holds no items", "文件里没有题目"),
    (r"the file has a header but no item rows", "文件只有表头，没有题目行"),
    (r"unknown column (.+) \(column (\d+)\)", r"不认识的列 \1（第 \2 列）"),
    (r"missing column (.+)", r"缺少列 \1"),
    (r"column (.+) appears twice", r"列 \1 出现了两次"),
    (r"the file is empty", "文件是空的"),
    (r"used by (\d+) item\(s\) \((.+)\) but not in framework (.+)", r"有 \1 道题在使用（\2），框架 \3 里不能没有它"),
)


def _field_name(path: str) -> str:
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    shown = "选项" if head.startswith("option_") else FIELD_NAMES.get(head.removesuffix("_json"), "")
    return f"{shown}（{path}）" if shown else path


def chinese_place(where: str) -> str:
    """The place of a problem in Chinese (``""`` -> ``整个文件``)."""
    where = where.strip()
    if not where:
        return "整个文件"
    row = re.fullmatch(r"row (\d+)(?:, (.+))?", where)
    if row:
        number, column = row.groups()
        return f"第 {number} 行" + (f" · {_field_name(column)}" if column else "")
    record = re.fullmatch(r"(items|stimuli)\[(\d+)\](?:\.(.+))?", where)
    if record:
        kind, index, rest = record.groups()
        head = f"第 {int(index) + 1} {'题' if kind == 'items' else '份阅读材料'}"
        return head + (f" · {_field_name(rest)}" if rest else "")
    if where.startswith("item."):
        return _field_name(where.removeprefix("item."))
    framework = re.fullmatch(r"(sub-indicator|grade band) (.+)", where)
    if framework:
        kind, code = framework.groups()
        return f"{'二级指标' if kind == 'sub-indicator' else '学段'} {code}"
    return where


def chinese_message(message: str) -> str:
    """The message of a problem in Chinese (as it is when no pattern knows it)."""
    for pattern, replacement in _MESSAGES:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, replacement, message)
    return message


def form_field(where: str) -> str:
    """The item form's field a problem belongs to (``item.options[1].text`` -> ``options``; ``""`` for none)."""
    if not where.startswith("item."):
        return ""
    head = re.split(r"[.\[]", where.removeprefix("item."), maxsplit=1)[0]
    return "params" if head in ("model", "a", "b", "c") else head


@dataclass(frozen=True)
class ChineseProblem:
    """A problem as the console shows it: the form field it belongs to, its place and message in Chinese."""

    field: str
    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}：{self.message}"


def chinese_problems(problems: tuple[Problem, ...] | list[Problem]) -> list[ChineseProblem]:
    """Every problem in Chinese, in order."""
    return [ChineseProblem(form_field(p.where), chinese_place(p.where), chinese_message(p.message)) for p in problems]
