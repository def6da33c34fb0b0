from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from itembank.xlsx import iter_first_sheet

VALUE = (
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=15)
    | st.sampled_from([" lead", "trail ", "=1+1", "'quoted", "中文", "a\nb"])
    | st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2100, 1, 1))
    | st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2100, 1, 1))
)


def _openpyxl_rows(raw: bytes) -> list[tuple[int, dict[int, Any]]]:
    """What openpyxl's read-only reader gives (data_only=True), as row -> {column: value}."""
    workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    out = []
    for number, row in enumerate(workbook.worksheets[0].iter_rows(), start=1):
        values = {j: c.value for j, c in enumerate(row) if c.value is not None}
        if values:
            out.append((number, values))
    workbook.close()
    return out


def _ours(raw: bytes) -> list[tuple[int, dict[int, Any]]]:
    out = []
    for number, cells in iter_first_sheet(raw):
        values = {c.column: c.value for c in cells if c.value is not None}
        if values:
            out.append((number, values))
    return out


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(VALUE, max_size=6), min_size=1, max_size=6), shared=st.booleans())
def test_the_streaming_reader_reads_what_openpyxl_reads(rows: list[list[Any]], shared: bool) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for r in rows:
        sheet.append([v.replace("=", "'=") if isinstance(v, str) and v.startswith("=") else v for v in r])
    buffer = io.BytesIO()
    workbook.save(buffer)
    raw = buffer.getvalue()
    if shared:  # Excel keeps strings in a shared table: rewrite the inline strings that way
        raw = _with_shared_strings(raw)
    assert _ours(raw) == _openpyxl_rows(raw)


def _with_shared_strings(raw: bytes) -> bytes:
    """The same workbook with every inline string moved to xl/sharedStrings.xml (as Excel saves)."""
    import re

    src = zipfile.ZipFile(io.BytesIO(raw))
    sheet = src.read("xl/worksheets/sheet1.xml").decode("utf-8")
    table: list[str] = []

    def share(m: re.Match[str]) -> str:
        table.append(m.group(2))
        return f'<c{m.group(1)} t="s"><v>{len(table) - 1}</v></c>'

    sheet = re.sub(r'<c([^>]*?) t="inlineStr"><is><t(?: [^>]*)?>(.*?)</t></is></c>', share, sheet, flags=re.S)
    shared = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + "".join(f'<si><t xml:space="preserve">{t}</t></si>' for t in table)
        + "</sst>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet.encode("utf-8")
            elif info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
                )
            dst.writestr(info, data)
        dst.writestr("xl/sharedStrings.xml", shared)
    return out.getvalue()


def test_formulas_are_flagged_with_their_saved_value_or_none() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([1, "=A1+1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    [(number, cells)] = list(iter_first_sheet(buffer.getvalue()))
    assert number == 1 and [(c.column, c.value, c.formula) for c in cells] == [(0, 1, None), (1, None, "A1+1")]


def test_a_cell_beyond_excels_last_column_is_a_damaged_file() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["B2"] = "x"
    buffer = io.BytesIO()
    workbook.save(buffer)
    src = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'r="B2"', b'r="AAAAAAAAAAAAAAA2"')
            dst.writestr(info, data)
    with pytest.raises(ValueError, match="beyond Excel's last column"):
        list(iter_first_sheet(out.getvalue()))
