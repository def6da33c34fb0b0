"""The problems of a registration file in Chinese, for the school console.

The registration checks (:mod:`assess.people_file`, :mod:`assess.people_checks`,
:mod:`assess.registration`, the readers of :mod:`itembank.tabular`) word their problems in
English for the command line and its tests. A school administrator reads them in the console,
so :func:`chinese_problem` rewrites each one: its place (``row 5, grade`` -> ``第 5 行 · 年级``)
and its message, by the patterns of :data:`_MESSAGES`, one per message those modules write. A
message no pattern knows is shown as it is (``tests/web/test_registration_text.py`` makes every
check of a bad file produce one the table knows).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["COLUMN_NAMES", "chinese_place", "chinese_problem"]

COLUMN_NAMES: dict[str, str] = {
    "province_code": "省份代码",
    "province": "省份",
    "region": "东中西部",
    "city_code": "地市代码",
    "city": "地市",
    "county_code": "区县代码",
    "county": "区县",
    "school_code": "学校代码",
    "school": "学校名称",
    "locale": "城乡类型",
    "sector": "办学性质",
    "grade": "年级",
    "class": "班级",
    "student_code": "学生编号",
    "gender": "性别",
}
"""Each column of the registration template, as the console names it (the column's own name follows)."""
_LEVELS = {"province": "省份", "city": "地市", "county": "区县"}


def _column(name: str) -> str:
    shown = COLUMN_NAMES.get(name)
    return f"{shown}（{name}）" if shown else name


def chinese_place(where: str) -> str:
    """``row 5, grade`` -> ``第 5 行 · 年级（grade）``; ``row 1`` -> ``第 1 行``; ``""`` -> ``整个文件``."""
    where = where.strip()
    if not where:
        return "整个文件"
    match = re.fullmatch(r"(?:row|line) (\d+)(?:, (\w+))?", where)
    if match is None:
        return where
    row, column = match.groups()
    return f"第 {row} 行" + (f" · {_column(column)}" if column else "")


def _level(name: str) -> str:
    return _LEVELS.get(name, name)


Rewrite = Callable[[re.Match[str]], str]
_MESSAGES: tuple[tuple[re.Pattern[str], Rewrite], ...] = tuple(
    (re.compile(pattern, re.DOTALL), rewrite)
    for pattern, rewrite in (
        (r"empty", lambda m: "未填写"),
        (r"empty \(use a grade 3-12\)", lambda m: "未填写（应为 3-12 年级）"),
        (r"empty \(use (.+)\)", lambda m: f"未填写（可填：{m[1].replace(' or ', '、')}）"),
        (r"(\d+) characters, at most (\d+)", lambda m: f"有 {m[1]} 个字符，最多 {m[2]} 个"),
        (r"contains the control character (U\+[0-9A-F]{4}); remove it", lambda m: f"含有控制字符 {m[1]}，请删除"),
        (
            r"(.+) is not a code \(letters, digits, '\.', '_', '-'\)",
            lambda m: f"{m[1]} 不是代码（只能用字母、数字和 . _ -）",
        ),
        (
            r"unknown (\w+) (.+) \(use (.+)\)",
            lambda m: f"无法识别的{COLUMN_NAMES.get(m[1], m[1])} {m[2]}（可填：{m[3].replace(' or ', '、')}）",
        ),
        (r"(.+) is not a grade \(use a number 3-12\)", lambda m: f"{m[1]} 不是年级（应填 3-12 的数字）"),
        (r"grade (\d+) is out of range \(3-12\)", lambda m: f"{m[1]} 年级超出范围（3-12）"),
        (
            r"(.+) is already the (\w+) code at row (\d+); a code names one area",
            lambda m: f"{m[1]} 已在第 {m[3]} 行用作{_level(m[2])}代码；一个代码只能表示一个地区",
        ),
        (
            r"school (\S+) (?:is named|has (\w+)) (.+) at row (\d+), here (.+)",
            lambda m: (
                f"学校 {m[1]} 的{COLUMN_NAMES.get(m[2] or 'school', '名称')}在第 {m[4]} 行是 {m[3]}，这里是 {m[5]}"
            ),
        ),
        (
            r"school (\S+) is registered (?:as|with (\w+)) (.+), here (.+)",
            lambda m: f"学校 {m[1]} 已登记的{COLUMN_NAMES.get(m[2] or 'school', '名称')}是 {m[3]}，这里是 {m[4]}",
        ),
        (
            r"(\w+) (\S+) is named (.+) at row (\d+), here (.+)",
            lambda m: f"{_level(m[1])} {m[2]} 在第 {m[4]} 行名为 {m[3]}，这里是 {m[5]}",
        ),
        (
            r"(\w+) (\S+) lies in (\w+) (\S+) at row (\d+), here in (\S+)",
            lambda m: f"{_level(m[1])} {m[2]} 在第 {m[5]} 行属于{_level(m[3])} {m[4]}，这里属于 {m[6]}",
        ),
        (
            r"province (\S+) is in (\S+) at row (\d+), here (\S+)",
            lambda m: f"省份 {m[1]} 在第 {m[3]} 行属于{m[2]}，这里是{m[4]}",
        ),
        (
            r"school (\S+) is in county (\S+) at row (\d+), here in county (\S+); a school code names one school",
            lambda m: f"学校 {m[1]} 在第 {m[3]} 行属于区县 {m[2]}，这里属于区县 {m[4]}；一个学校代码只能表示一所学校",
        ),
        (
            r"(.+) is already registered as a (\w+), not a (\w+)",
            lambda m: f"{m[1]} 已登记为{_level(m[2])}，不是{_level(m[3])}",
        ),
        (
            r"(\w+) (\S+) is registered as (.+), here (.+)",
            lambda m: f"{_level(m[1])} {m[2]} 已登记的名称是 {m[3]}，这里是 {m[4]}",
        ),
        (
            r"(\w+) (\S+) is registered in (\w+) (\S+), here in (\S+)",
            lambda m: f"{_level(m[1])} {m[2]} 已登记在{_level(m[3])} {m[4]} 下，这里写的是 {m[5]}",
        ),
        (
            r"province (\S+) is registered in (\S+), here (\S+)",
            lambda m: f"省份 {m[1]} 已登记为{m[2]}，这里是{m[3]}",
        ),
        (
            r"school (\S+) is registered in county (\S+), here in county (\S+); a school code names one school",
            lambda m: f"学校 {m[1]} 已登记在区县 {m[2]}，这里是区县 {m[3]}；一个学校代码只能表示一所学校",
        ),
        (
            r"student (\S+) appears again \(first at row (\d+)\)",
            lambda m: f"学生 {m[1]} 重复出现（第一次在第 {m[2]} 行）",
        ),
        (
            r"student (\S+) is already registered at another school; student codes are unique nationwide",
            lambda m: f"学生 {m[1]} 已在另一所学校登记；学生编号全国唯一",
        ),
        (
            r"student (\S+) is registered with (\w+) (.+), here (.+) "
            r"\(registration never changes a registered student\)",
            lambda m: (
                f"学生 {m[1]} 已登记的{COLUMN_NAMES.get(m[2], m[2])}是 {m[3]}，"
                f"这里是 {m[4]}（登记不会修改已登记的学生）"
            ),
        ),
        (
            r"(.+) is outside your part of the tree \(only (.+) is allowed\)",
            lambda m: f"{m[1]} 不在你的管理范围内（这里只能填 {m[2]}）",
        ),
        (r"assessment (.+) does not exist", lambda m: f"测评批次 {m[1]} 不存在"),
        (
            r"grade (\d+) is not tested in assessment (\S+) \(grades (.+)\)",
            lambda m: f"测评批次 {m[2]} 不测 {m[1]} 年级（只测 {m[3]} 年级）",
        ),
        (r"the file is empty", lambda m: "文件是空的"),
        (r"the file has a header but no student rows", lambda m: "文件只有表头，没有学生"),
        (r"column (\d+) has no name", lambda m: f"第 {m[1]} 列没有列名"),
        (
            r"column (.+): student names are not registered; remove the column",
            lambda m: f"{m[1]} 列：系统不登记学生姓名，请删除这一列",
        ),
        (r"unknown column (.+) \(column (\d+)\)", lambda m: f"无法识别的列 {m[1]}（第 {m[2]} 列）"),
        (r"column (.+) appears twice", lambda m: f"列 {m[1]} 出现了两次"),
        (r"missing column '(\w+)'", lambda m: f"缺少列 {_column(m[1])}"),
        (r"(\d+) cells but only (\d+) columns", lambda m: f"有 {m[1]} 个单元格，但表头只有 {m[2]} 列"),
        (
            r"a formula \(=(.+)\) without a saved value: .+",
            lambda m: f"公式（={m[1]}）没有保存的值：请直接填写数值，或用 Excel 打开后重新保存",
        ),
        (
            r"the file ends in the middle of a character .+",
            lambda m: "文件在一个字符的中间结束，看起来不完整：请重新复制或下载",
        ),
        (
            r"not valid UTF-8 text \(.+\); the file looks like GBK/GB18030 .+",
            lambda m: "文件不是 UTF-8 编码，看起来是 GBK/GB18030（中文 Windows）：请另存为“CSV UTF-8”",
        ),
        (r"not valid UTF-8 text \(.+\): .+", lambda m: "文件不是 UTF-8 编码：请另存为 UTF-8（Excel：“CSV UTF-8”）"),
        (r"not valid CSV: (.+)", lambda m: f"不是有效的 CSV：{m[1]}"),
        (
            r"not a valid \.xlsx workbook .+",
            lambda m: "不是有效的 XLSX 工作簿（损坏、不完整或不是 Excel 格式）：请重新保存",
        ),
        (
            r"the file is ([\d.,]+) MiB, more than the limit of ([\d.,]+) MiB: split it",
            lambda m: f"文件有 {m[1]} MiB，超过上限 {m[2]} MiB：请拆分后分批上传",
        ),
        (
            r"more than ([\d,]+) data rows \(the limit\): .+",
            lambda m: f"超过 {m[1]} 行数据（上限）：请拆分后分批上传",
        ),
    )
)


def chinese_message(message: str) -> str:
    """A problem's message in Chinese (the message itself when no pattern knows it)."""
    text = message.strip()
    for pattern, rewrite in _MESSAGES:
        match = pattern.fullmatch(text)
        if match is not None:
            return rewrite(match)
    return message


def chinese_problem(problem: str) -> tuple[str, str]:
    """A problem as the checks word it (``row 5, grade: ...``) -> its place and message in Chinese."""
    where, sep, what = problem.partition(": ")
    if not sep or (where and not re.fullmatch(r"(?:row|line) \d+(?:, \w+)?", where)):
        return "整个文件", chinese_message(problem)
    return chinese_place(where), chinese_message(what)
