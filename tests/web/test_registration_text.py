"""The registration file's problems in Chinese in the school console (web/registration_text.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from assess.people_file import COLUMNS
from tests.web.conftest import ConsoleDb, make_console_app, staff_login
from tests.web.test_console_flows import ROW, _csv, _upload
from web.registration_text import chinese_place, chinese_problem

ENGLISH = re.compile(r"\b(is|the|at row|here|unknown|empty|column|cells|grade \d+|registered|appears|use)\b")
"""Words of the checks' English messages: none may be left in a translated message."""

MESSAGES = [
    "row 4, gender: unknown gender 'X' (use F, M or 女, 男)",
    "row 3, grade: empty (use a grade 3-12)",
    "row 3, region: empty (use 东部, 中部 or 西部)",
    "row 3, grade: 'abc' is not a grade (use a number 3-12)",
    "row 3, grade: grade 14 is out of range (3-12)",
    "row 2, school: empty",
    "row 2, school: 200 characters, at most 128",
    "row 2, school: contains the control character U+0007; remove it",
    "row 2, student_code: 'a b' is not a code (letters, digits, '.', '_', '-')",
    "row 5, city_code: '9901' is already the province code at row 2; a code names one area",
    "row 5, county: county 990101 is named '测试区' at row 2, here '别区'",
    "row 5, city_code: county 990101 lies in city 9901 at row 2, here in 9902",
    "row 5, region: province 99 is in 东部 at row 2, here 西部",
    "row 5, school_code: school S1 is in county 1 at row 2, here in county 2; a school code names one school",
    "row 5, school: school S1 is named '一中' at row 2, here '二中'",
    "row 5, locale: school S1 has locale 'urban' at row 2, here 'rural'",
    "row 5, city_code: '9901' is already registered as a province, not a city",
    "row 5, county: county 990101 is registered as '测试区', here '别区'",
    "row 5, city_code: county 990101 is registered in city 9901, here in 9902",
    "row 5, region: province 99 is registered in 东部, here 西部",
    "row 5, school_code: school S1 is registered in county 1, here in county 2; a school code names one school",
    "row 5, school: school S1 is registered as '一中', here '二中'",
    "row 5, sector: school S1 is registered with sector 'public', here 'private'",
    "row 6, student_code: student P1 appears again (first at row 2)",
    "row 6, student_code: student P1 is already registered at another school; student codes are unique nationwide",
    "row 6, grade: student P1 is registered with grade 8, here 9 (registration never changes a registered student)",
    "row 6, school_code: 'S2' is outside your part of the tree (only 'S1' is allowed)",
    "assessment 'X' does not exist",
    "row 6, grade: grade 9 is not tested in assessment A1 (grades 8)",
    "the file is empty",
    "the file has a header but no student rows",
    "row 1: column 3 has no name",
    "row 1: column '姓名': student names are not registered; remove the column",
    "row 1: unknown column 'colour' (column 16)",
    "row 1: column 'grade' appears twice",
    "row 1: missing column 'gender'",
    "row 7: 17 cells but only 15 columns",
    "row 3, grade: a formula (=A1+1) without a saved value: type the value in, or open the file in Excel and save it",
    "row 2: not valid UTF-8 text (byte 0xb2 at offset 40); the file looks like GBK/GB18030 (Chinese Windows): save it",
    "row 2: not valid UTF-8 text (byte 0xff at offset 40): save it as UTF-8",
    "row 9: the file ends in the middle of a character (at byte offset 99): it looks cut short; copy it again",
    "row 3: not valid CSV: unexpected end of data",
    "not a valid .xlsx workbook (damaged, cut short, or not Excel's format): save it again",
    "the file is 40.0 MiB, more than the limit of 32 MiB: split it",
    "more than 100,000 data rows (the limit): split the file and import the parts",
]


@pytest.mark.parametrize("problem", MESSAGES)
def test_every_message_of_the_checks_reads_in_chinese(problem: str) -> None:
    where, what = chinese_problem(problem)
    assert not ENGLISH.search(where) and not ENGLISH.search(what), (where, what)
    assert re.search(r"[\u4e00-\u9fff]", what), what


def test_places_name_the_row_and_the_column_in_chinese() -> None:
    assert chinese_place("row 5, grade") == "第 5 行 · 年级（grade）"
    assert chinese_place("row 1") == "第 1 行"
    assert chinese_place("") == "整个文件"
    assert chinese_problem("something new: a message no pattern knows") == (
        "整个文件",
        "something new: a message no pattern knows",
    )  # shown as it is


def test_a_bad_roster_upload_lists_its_problems_in_chinese(cdb: ConsoleDb, tmp_path: Path) -> None:
    rows = [
        {**ROW, "student_code": "NEW-01", "gender": "X"},
        {**ROW, "student_code": "NEW-01", "grade": "15"},
        {**ROW, "student_code": "NEW-03", "school_code": "SFAR001", "class": ""},
        {**ROW, "student_code": "bad code", "grade": "八"},
    ]
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        staff_login(client, "school2")
        report = _upload(client, _csv(*rows))
    assert report.status_code == 422  # type: ignore[attr-defined]
    cells = re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', report.text)  # type: ignore[attr-defined]
    assert len(cells) >= 6, cells
    for where, what in cells:
        assert where.startswith("第 ") and not ENGLISH.search(what), (where, what)
    assert any("学生 NEW-01 重复出现" in what for _, what in cells)
    assert COLUMNS  # the template's columns are what the places name
