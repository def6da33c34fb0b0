"""The school frame: a clean file reads into columns; a malformed one lists every problem by row and column."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from assess.sampling.exceptions import FrameError
from assess.sampling.frame import parse_frame_csv, parse_frame_xlsx, read_frame
from itembank.tabular import append_xlsx_row
from tests.assess.sampling.helpers import HEADER, ROW, frame_csv


def test_a_clean_csv_reads_into_columns_with_names_normalised() -> None:
    second = ("S002", "河西中学", "44", "广东省", "4401", "广州市", "440102", "河西区", "east", "rural", "", "0", "300")
    frame = parse_frame_csv(frame_csv([ROW, second]))
    assert frame.n_schools == 2 and frame.grades == (4, 8)
    assert list(frame.column("region")) == ["东部", "东部"]
    assert list(frame.column("locale")) == ["urban", "rural"]
    assert list(frame.column("sector")) == ["public", "public"]
    assert frame.enrolled((4, 8)).tolist() == [120, 300] and frame.enrolled((4,)).tolist() == [120, 0]


def test_an_xlsx_frame_reads_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    append_xlsx_row(sheet, list(HEADER))
    append_xlsx_row(sheet, [*ROW[:-2], 120, 0])
    path = tmp_path / "frame.xlsx"
    book.save(path)
    frame = read_frame(path)
    assert frame.enrolment[4].tolist() == [120] and frame.column("school_code")[0] == "S001"


def test_every_problem_is_listed_by_row_and_column() -> None:
    bad = [
        ROW,
        ("S001", "重复", "44", "广东省", "4401", "广州市", "440101", "新华区", "东部", "城区", "公办", "10", "0"),
        ("S 3", "", "44", "广西", "4401", "广州市", "440101", "新华区", "北部", "郊区", "公立", "12.5", "-3"),
        ("S004", "x", "44", "广东", "4401", "广州市", "440101", "新华区", "东部", "城区", "公办", "100001", "0"),
    ]
    with pytest.raises(FrameError) as caught:
        parse_frame_csv(frame_csv(bad), source="frame.csv")
    text = [str(p) for p in caught.value.problems]
    assert "row 3, school_code: 'S001' is already on row 2" in text
    assert "row 4, school_code: 'S 3': a code has letters, digits, '.', '_' and '-' only" in text
    assert "row 4, school: empty cell" in text
    assert any(t.startswith("row 5, province_code: province '44' has another name and region on row 2") for t in text)
    assert any(t.startswith("row 4, region: '北部' is not one of") for t in text)
    assert any(t.startswith("row 4, locale: '郊区'") for t in text)
    assert any(t.startswith("row 4, sector: '公立'") for t in text)
    assert "row 4, grade_4: '12.5' is not a whole number of students" in text
    assert "row 4, grade_8: '-3' is not a whole number of students" in text
    assert "row 5, grade_4: 100,001 students, more than 100,000" in text
    rows = [int(t.split(",")[0].split()[1]) for t in text]
    assert rows == sorted(rows)  # file order


def test_header_problems_stop_before_the_rows() -> None:
    header = ("school_code", "school", "province_code", "grade_2", "grade_2", "extra")
    with pytest.raises(FrameError) as caught:
        parse_frame_csv(frame_csv([("S1", "x", "44", "1", "2", "3")], header=header))
    text = [str(p) for p in caught.value.problems]
    assert "row 1: column 'grade_2': grades run from 3 to 12" in text
    assert "row 1: column 'grade_2' appears twice" in text
    assert "row 1: unknown column 'extra' (column 6); enrolments are grade_3 ... grade_12" in text
    assert "row 1: missing column 'county_code'" in text
    assert "row 1: no enrolment column: add grade_N columns (e.g. grade_4, grade_8)" in text


def test_an_unreadable_file_is_one_problem() -> None:
    with pytest.raises(FrameError, match="GBK"):
        parse_frame_csv("学校代码,名称\n".encode("gb18030") * 3)
    with pytest.raises(FrameError, match="not a valid .xlsx"):
        parse_frame_xlsx(b"PK\x03\x04 not a zip")
    with pytest.raises(FrameError, match="header but no school"):
        parse_frame_csv(frame_csv([]))


CELL = st.sampled_from(
    ["", "S1", "44", "东部", "城区", "公办", "x" * 200, "=1+1", "-1", "1e9", "\x00", "12"]
) | st.text(max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(CELL, min_size=0, max_size=15), min_size=0, max_size=6), st.booleans())
def test_fuzzed_frames_read_or_raise_frame_error(rows: list[list[str]], keep_header: bool) -> None:
    body = [tuple(r) for r in rows]
    raw = frame_csv([tuple(r) for r in body], header=HEADER if keep_header else tuple(body[0]) if body else ())
    try:
        frame = parse_frame_csv(raw)
    except FrameError as error:
        assert error.problems
    else:
        assert frame.n_schools >= 1 and all(np.all(v >= 0) for v in frame.enrolment.values())


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_a_frame_error_not_a_crash(raw: bytes) -> None:
    for parse in (parse_frame_csv, parse_frame_xlsx):
        try:
            parse(raw)
        except FrameError as error:
            assert error.problems


def test_a_workbook_in_memory_reads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    append_xlsx_row(sheet, list(HEADER))
    append_xlsx_row(sheet, list(ROW))
    buf = io.BytesIO()
    book.save(buf)
    assert parse_frame_xlsx(buf.getvalue()).n_schools == 1
