"""Assessment files: read, checked on their own and against the bank, every problem listed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.assessment_file import (
    AssessmentFileError,
    check_against_bank,
    example_file,
    parse_assessment_file,
    read_assessment_file,
)
from assess.models import Assessment
from assess.simulate.pipeline import ensure_bank
from itembank.calibrations import bank_params, store_calibration
from itembank.models import PROVISIONAL

GOOD = """
code = "2026-T1"
name = "测试批次"
grades = [8]
calibration = "published"

[window]
opens = 2026-05-11T08:00:00        # Beijing time
closes = 2026-05-22T17:00:00+08:00

[blueprint]
min_items = 8
max_items = 10
se_target = 0.4
time_limit_minutes = 40
content = [{ area = "D1", min_items = 2, max_items = 4 }]
sub_content = [{ area = "D2.3", max_items = 2 }]

[bands."7-9"]
max_items = 12
"""


def _problems(text: str, *, filename: str = "a.toml") -> list[str]:
    with pytest.raises(AssessmentFileError) as caught:
        parse_assessment_file(read_assessment_file(text.encode(), filename=filename))
    return caught.value.problems


def test_a_good_file_reads_with_its_window_in_utc() -> None:
    f = parse_assessment_file(read_assessment_file(GOOD.encode(), filename="round.toml"))
    assert (f.code, f.name, f.purpose, f.grades, f.calibration) == (
        "2026-T1",
        "测试批次",
        "operational",
        (8,),
        "published",
    )
    assert f.opens_at == datetime(2026, 5, 11, 0, 0, tzinfo=UTC)  # 08:00 Beijing without an offset
    assert f.closes_at == datetime(2026, 5, 22, 9, 0, tzinfo=UTC)
    assert f.bands == {"7-9": {"max_items": 12}}


def test_json_reads_like_toml() -> None:
    doc = {
        "code": "J1",
        "name": "JSON 批次",
        "grades": [8],
        "window": {"opens": "2026-05-11T08:00:00+08:00", "closes": "2026-05-12T08:00:00+08:00"},
    }
    f = parse_assessment_file(read_assessment_file(json.dumps(doc).encode(), filename="r.json"))
    assert f.code == "J1" and f.opens_at == datetime(2026, 5, 11, 0, 0, tzinfo=UTC)


def test_every_problem_of_a_file_is_listed_with_its_place() -> None:
    bad = """
code = "含空格 的编号"
grades = [8, 8, 13]
purpose = "exam"
colour = "blue"
[window]
opens = 2026-05-12T08:00:00+08:00
closes = 2026-05-11T08:00:00+08:00
[blueprint]
mode = "linear"
min_items = -1
[bands."7-9"]
max_items = "many"
booklets = [["D1.1-011"]]
"""
    problems = _problems(bad)
    joined = "\n".join(problems)
    for expected in (
        "colour：未知的字段",
        "code：只能用字母、数字和 - _ .",
        "name：必填",
        "purpose：应为 operational 或 field_trial",
        "grades：年级应为 1 到 12 的整数",
        "window：关闭时间必须晚于开放时间",
        "blueprint.mode: must be one of adaptive, booklets",
        "blueprint.min_items: must be a non-negative integer",
        "bands.7-9.max_items: must be a non-negative integer",
    ):
        assert expected in joined, (expected, problems)


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (b"", "a.toml", "文件是空的"),
        (b"code = ", "a.toml", "TOML 格式错误"),
        (b'{"code": ', "a.json", "JSON 格式错误：第 1 行"),
        ("code = '测'".encode("gbk"), "a.toml", "不是 UTF-8"),
        (b"[1, 2]", "a.json", "最外层必须是一个表"),
        (b"#" * (300 * 1024), "a.toml", "文件太大"),
        (b"[" * 100_000, "a.json", "嵌套太深"),
        (b"x = " + b"[" * 100_000, "a.toml", "嵌套太深"),
    ],
)
def test_unreadable_files_are_one_clear_problem(content: bytes, filename: str, expected: str) -> None:
    with pytest.raises(AssessmentFileError) as caught:
        read_assessment_file(content, filename=filename)
    assert len(caught.value.problems) == 1 and expected in caught.value.problems[0]


def test_dates_only_and_windows_shorter_than_the_time_limit_are_refused() -> None:
    text = GOOD.replace("opens = 2026-05-11T08:00:00        # Beijing time", "opens = 2026-05-11")
    assert any("需要日期和时间" in p for p in _problems(text))
    short = GOOD.replace("closes = 2026-05-22T17:00:00+08:00", "closes = 2026-05-11T08:30:00+08:00")
    assert any("开放时间比测评时限还短" in p for p in _problems(short))


# ------------------------------------------------------------------------------------- against the bank
@pytest.fixture
def bank(engine: Engine) -> Engine:
    """The starter bank with its provisional parameters also stored as a published calibration."""
    with Session(engine) as s:
        ensure_bank(session=s)
        store_calibration(
            session=s, name="published", params=bank_params(session=s, calibration=PROVISIONAL), status="operational"
        )
        s.commit()
    return engine


def test_a_good_file_passes_the_bank_check_with_one_design_per_band(bank: Engine) -> None:
    f = parse_assessment_file(read_assessment_file(GOOD.encode()))
    with Session(bank) as s:
        checked = check_against_bank(session=s, file=f)
        assert s.exec(select(Assessment)).all() == []  # nothing written
    assert checked.calibration_name == "published"
    assert list(checked.designs) == ["7-9"]
    spec = checked.designs["7-9"].spec
    assert (spec.min_items, spec.max_items, spec.time_limit_minutes) == (8, 12, 40)  # the band's own max_items
    assert [c.area for c in spec.content] == ["D1"]


def test_the_bank_check_lists_every_problem(bank: Engine) -> None:
    text = (
        GOOD.replace('calibration = "published"', 'calibration = "nope"')
        .replace("grades = [8]", "grades = [8, 4]")
        .replace('area = "D1"', 'area = "D9"')
        .replace('area = "D2.3"', 'area = "D2.99"')
        .replace('[bands."7-9"]', '[bands."10-12"]')
    )
    f = parse_assessment_file(read_assessment_file(text.encode()))
    with Session(bank) as s, pytest.raises(AssessmentFileError) as caught:
        check_against_bank(session=s, file=f)
    joined = "\n".join(caught.value.problems)
    for expected in (
        "calibration：没有名为 'nope' 的参数标定",
        "bands.10-12：grades 中没有这个年级段的年级",
        "blueprint.content[0].area：'D9' 不是指标框架",
        "blueprint.sub_content[0].area：'D2.99' 不是指标框架",
    ):
        assert expected in joined, (expected, caught.value.problems)
    assert len(caught.value.problems) == len(set(caught.value.problems))  # a shared rule once, not per band


def test_lengths_and_content_minima_the_bank_cannot_give_are_refused(bank: Engine) -> None:
    text = (
        GOOD.replace("max_items = 12", "max_items = 200")
        .replace("max_items = 10", "max_items = 200")
        .replace("min_items = 2,", "min_items = 60,")
    )
    f = parse_assessment_file(read_assessment_file(text.encode()))
    with Session(bank) as s, pytest.raises(AssessmentFileError) as caught:
        check_against_bank(session=s, file=f)
    joined = "\n".join(caught.value.problems)
    assert "bands.7-9.max_items：年级段 7-9 只有" in joined
    assert "维度 D1 只有" in joined and "少于最少 60 道" in joined


def test_an_unpublished_calibration_cannot_score_an_operational_round(bank: Engine) -> None:
    text = GOOD.replace('calibration = "published"', f'calibration = "{PROVISIONAL}"')
    f = parse_assessment_file(read_assessment_file(text.encode()))
    with Session(bank) as s, pytest.raises(AssessmentFileError) as caught:
        check_against_bank(session=s, file=f)
    assert any("还没有发布" in p for p in caught.value.problems)


def test_booklet_items_are_checked(bank: Engine) -> None:
    text = GOOD.replace(
        '[bands."7-9"]\nmax_items = 12',
        '[bands."7-9"]\nmode = "booklets"\nbooklets = [["D1.1-011", "NOPE-1", "D1.1-011"]]',
    )
    f = parse_assessment_file(read_assessment_file(text.encode()))
    with Session(bank) as s, pytest.raises(AssessmentFileError) as caught:
        check_against_bank(session=s, file=f)
    joined = "\n".join(caught.value.problems)
    assert "题库中没有题目 NOPE-1" in joined and "重复的题目" in joined


def test_the_example_file_passes_both_checks(bank: Engine) -> None:
    text = example_file(code="EX1", grades=(8,)).replace("# calibration", "calibration").replace('"..."', '"published"')
    f = parse_assessment_file(read_assessment_file(text.encode()))
    with Session(bank) as s:
        checked = check_against_bank(session=s, file=f)
    assert checked.file.code == "EX1" and checked.modes == ("adaptive",)


@pytest.mark.parametrize(
    ("blueprint", "expected"),
    [
        ({"start_theta": [1]}, "blueprint.start_theta：应为按年级的起始能力"),
        ({"start_theta": {"8": "a"}}, "blueprint.start_theta"),
        ({"content": [{"area": "D1", "min_items": "x"}]}, "blueprint.content[0].min_items：应为非负整数"),
        ({"content": {"D1": 2}}, "blueprint.content：应为内容约束的列表"),
        ({"sub_content": [{"area": "D1.1", "target_share": "x"}]}, "target_share：应为 0 到 1 之间的数"),
        ({"max_items": 10**12}, "blueprint.max_items：最多 200"),
        ({"mode": "booklets", "booklets": "x"}, "blueprint.booklets：应为题本列表"),
        ({"booklets": [["D1.1-011"]]}, '只有 mode = "booklets" 的设计才有题本'),
    ],
)
def test_values_of_the_wrong_kind_are_problems_not_crashes(blueprint: dict[str, object], expected: str) -> None:
    doc = {
        "code": "X",
        "name": "n",
        "grades": [8],
        "window": {"opens": "2026-01-01T08:00", "closes": "2026-02-01T08:00"},
        "blueprint": blueprint,
    }
    with pytest.raises(AssessmentFileError) as caught:
        parse_assessment_file(doc)
    assert any(expected in p for p in caught.value.problems), caught.value.problems
