"""A profile as an XLSX workbook: the long table (the CSV's rows, numbers as numbers) and its data dictionary.

:func:`render_profile_xlsx` is the renderer :mod:`reports.files` registers for ``xlsx``. Sheet
``统计数据`` holds exactly the rows and columns of the CSV (:meth:`reports.profile.Profile.rows`,
:func:`reports.files.row_cells`): estimates, SEs, intervals and counts are number cells, a
withheld number an empty cell with its reason in ``suppressed``. Sheet ``数据字典`` says what each
column means (:data:`reports.files.CSV_COLUMNS`). Text is written as text, never as a formula; a
text that a spreadsheet could take for one (:func:`itembank.tabular.looks_like_formula`) also gets
Excel's quote-prefix style, so it stays text when someone edits the cell.

Library: xlsxwriter, building the workbook in memory. ``bench/renderers.py`` measured, for a profile
of 40-60 rows: xlsxwriter in memory 11 ms, xlsxwriter ``constant_memory`` 30 ms (it streams rows
through temporary files, which pays only for far bigger sheets), openpyxl write-only 22-26 ms.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from itembank.tabular import looks_like_formula
from reports.files import CSV_COLUMNS, row_cells
from reports.profile import Profile

__all__ = ["DATA_SHEET", "DICTIONARY_SHEET", "render_profile_xlsx", "render_profiles_xlsx"]

DATA_SHEET = "统计数据"
"""Name of the sheet with the long table."""
DICTIONARY_SHEET = "数据字典"
"""Name of the sheet with the column meanings."""

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WIDTHS = {"level": 9, "code": 14, "name": 22, "statistic": 24, "label": 34, "suppressed": 26, "significant": 11}
_NUMBER_FORMATS = {"n_students": "0", "n_schools": "0", "df": "0.0"}


class _Writer:
    """Cells into one sheet, text as text (quote prefix where it looks like a formula), numbers as numbers."""

    def __init__(self, book: xlsxwriter.Workbook, sheet: Worksheet) -> None:
        self.sheet = sheet
        self.quoted: Format = book.add_format({"quote_prefix": True})
        self.header: Format = book.add_format({"bold": True, "bg_color": "#EEF3FA", "bottom": 1})

    def row(self, r: int, values: Sequence[object], formats: Sequence[Format | None] = ()) -> None:
        for c, value in enumerate(values):
            fmt = formats[c] if c < len(formats) else None
            if value is None or value == "":
                continue
            if isinstance(value, str):
                text = _XML_ILLEGAL.sub("\ufffd", value)
                self.sheet.write_string(r, c, text, self.quoted if looks_like_formula(text) else fmt)
            elif isinstance(value, int | float):
                self.sheet.write_number(r, c, value, fmt)
            else:
                raise TypeError(f"cannot write a {type(value).__name__} to a cell")


def _data_sheet(book: xlsxwriter.Workbook, profiles: Iterable[Profile]) -> None:
    sheet = book.add_worksheet(DATA_SHEET)
    out = _Writer(book, sheet)
    names = [name for name, _ in CSV_COLUMNS]
    out.row(0, names, [out.header] * len(names))
    formats: list[Format | None] = []
    for c, name in enumerate(names):
        fmt = book.add_format({"num_format": _NUMBER_FORMATS[name]}) if name in _NUMBER_FORMATS else None
        formats.append(fmt)
        sheet.set_column(c, c, _WIDTHS.get(name, 11))
    r = 0
    for p in profiles:
        for row in p.rows():
            r += 1
            out.row(r, row_cells(row), formats)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(r, 1), len(names) - 1)


def _dictionary_sheet(book: xlsxwriter.Workbook) -> None:
    sheet = book.add_worksheet(DICTIONARY_SHEET)
    out = _Writer(book, sheet)
    out.row(0, ["column", "meaning"], [out.header, out.header])
    for r, (name, meaning) in enumerate(CSV_COLUMNS, start=1):
        out.row(r, [name, meaning])
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 90)


def render_profiles_xlsx(profiles: Iterable[Profile]) -> bytes:
    """Many profiles' long tables as one workbook (a region's schools, say), with the data dictionary."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"title": "学生信息素养测评统计数据", "author": "InfoLit", "comments": "InfoLit reports"})
    _data_sheet(book, profiles)
    _dictionary_sheet(book)
    book.close()
    return buf.getvalue()


def render_profile_xlsx(profile: Profile) -> bytes:
    """One profile's long table (the CSV's rows) and the data dictionary, as XLSX bytes."""
    return render_profiles_xlsx([profile])
