"""The registration file: its columns, its readers (CSV, XLSX) and the template to fill in.

CSV (UTF-8 with or without a byte-order mark, as Excel's "CSV UTF-8" writes it; comma, tab or
semicolon separated) or XLSX (the first worksheet). Row 1 is the header; column names are matched
without regard to case or surrounding spaces, in any order. One row per student (:data:`COLUMNS`):

================ ================================================================================
column           content
================ ================================================================================
province_code    province code (e.g. ``44``); letters, digits, ``.``, ``_``, ``-``; at most 16
province         province name (``广东省``)
region           the province's region: ``东部``, ``中部``, ``西部`` (or ``east``, ``central``,
                 ``west``)
city_code, city  city code (``4403``) and name (``深圳市``)
county_code,     county or district code (``440305``) and name (``南山区``); schools hang under it
county
school_code,     school code (at most 32 characters) and name
school
locale           ``urban`` / ``town`` / ``rural``, or ``城区`` / ``县镇`` / ``农村``
sector           ``public`` / ``private``, or ``公办`` / ``民办`` (an empty cell means public)
grade            3 to 12 (``4`` or ``4年级``)
class            the class name, e.g. ``3班`` (classes are keyed by school, grade and name)
student_code     the school's code for the student (学籍号 or similar), unique across the country
gender           ``F`` / ``M``, or ``女`` / ``男``
================ ================================================================================

No names are taken: a student is known by its code, and its test ticket does not name it.
:func:`write_template` writes an empty file (optionally with example rows) to start from.

Reading goes through :mod:`itembank.tabular` (the same readers a sampling frame uses), with its
limits (:data:`PEOPLE_LIMITS`: 32 MiB, 100,000 students a file) and its clear problems for a file
that is not UTF-8, cut short, or holds XLSX formulas without saved values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from itembank.exceptions import Problem
from itembank.tabular import (
    DEFAULT_LIMITS,
    ReadLimits,
    Table,
    append_xlsx_row,
    csv_bytes,
    parse_csv_table,
    parse_xlsx_table,
    read_table,
)

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "PEOPLE_LIMITS",
    "RegistrationFile",
    "RegistrationRow",
    "parse_csv",
    "parse_xlsx",
    "read_registration",
    "registration_from_table",
    "write_template",
]

COLUMNS: tuple[str, ...] = (
    "province_code", "province", "region", "city_code", "city", "county_code", "county",
    "school_code", "school", "locale", "sector", "grade", "class", "student_code", "gender",
)  # fmt: skip
"""Columns of the registration file, in the order the template writes them."""
OPTIONAL_COLUMNS = frozenset({"sector"})
"""Columns a file may leave out."""
PEOPLE_LIMITS: ReadLimits = DEFAULT_LIMITS
"""Limits of a registration file (:class:`itembank.tabular.ReadLimits`)."""
_NAME_COLUMNS = {"name", "student_name", "姓名", "学生姓名"}


@dataclass(frozen=True)
class RegistrationRow:
    """One data row of a registration file: its spreadsheet row number (1 = the header) and cells."""

    row: int
    cells: Mapping[str, str]


@dataclass(frozen=True)
class RegistrationFile:
    """What a reader made of a file: the header, the non-empty data rows, and reading problems."""

    source: str
    columns: tuple[str, ...] = ()
    rows: tuple[RegistrationRow, ...] = ()
    problems: tuple[Problem, ...] = ()

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, object]], *, source: str = "<rows>") -> RegistrationFile:
        """Rows given as mappings (column -> value); row numbers count as if a header were row 1."""
        columns: list[str] = []
        for record in records:
            columns += [k.strip().lower() for k in record if k.strip().lower() not in columns]
        rows = tuple(
            RegistrationRow(i, {k.strip().lower(): _text(v) for k, v in record.items()})
            for i, record in enumerate(records, start=2)
        )
        return cls(source, tuple(columns), rows)


def _text(value: object) -> str:
    """A value as cell text: whole numbers print without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ============================================================================================ reading
def read_registration(path: str | Path, *, limits: ReadLimits = PEOPLE_LIMITS) -> RegistrationFile:
    """Read a registration file (``.csv`` or ``.xlsx`` by extension) with any reading problems."""
    return registration_from_table(read_table(path, limits=limits))


def parse_csv(raw: bytes, *, source: str = "<csv>", limits: ReadLimits = PEOPLE_LIMITS) -> RegistrationFile:
    """Read CSV bytes (UTF-8, byte-order mark optional) into rows located by spreadsheet row."""
    return registration_from_table(parse_csv_table(raw, source=source, limits=limits))


def parse_xlsx(raw: bytes, *, source: str = "<xlsx>", limits: ReadLimits = PEOPLE_LIMITS) -> RegistrationFile:
    """Read the first worksheet of an XLSX workbook into rows located by sheet row."""
    return registration_from_table(parse_xlsx_table(raw, source=source, limits=limits))


def registration_from_table(table: Table) -> RegistrationFile:
    """Check a table's header against :data:`COLUMNS` and key its cells by column name."""
    source = table.source
    if not table.rows:
        return RegistrationFile(source, problems=table.problems or (Problem("", "the file is empty"),))
    header_row = table.rows[0]
    header = [h.strip().lower() for h in header_row.cells]
    while header and not header[-1]:
        header.pop()
    problems = list(table.problems)
    where = f"row {header_row.number}"
    for i, name in enumerate(header):
        if not name:
            problems.append(Problem(where, f"column {i + 1} has no name"))
        elif name in _NAME_COLUMNS:
            problems.append(Problem(where, f"column {name!r}: student names are not registered; remove the column"))
        elif name not in COLUMNS:
            problems.append(Problem(where, f"unknown column {name!r} (column {i + 1})"))
        elif header.index(name) != i:
            problems.append(Problem(where, f"column {name!r} appears twice"))
    for name in COLUMNS:
        if name not in header and name not in OPTIONAL_COLUMNS:
            problems.append(Problem(where, f"missing column {name!r}"))
    for cell in table.cell_problems:
        known = cell.column < len(header) and bool(header[cell.column])
        column = header[cell.column] if known else f"column {cell.column + 1}"
        problems.append(Problem(f"row {cell.row}, {column}", cell.message))
    rows: list[RegistrationRow] = []
    for record in table.rows[1:]:
        cells = record.cells
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.append(Problem(f"row {record.number}", f"{len(cells)} cells but only {len(header)} columns"))
        named = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name}
        rows.append(RegistrationRow(record.number, named))
    return RegistrationFile(source, tuple(header), tuple(rows), tuple(problems))


# ============================================================================================ template
_EXAMPLE_ROWS: tuple[tuple[str, ...], ...] = (
    ("44", "广东省", "东部", "4403", "深圳市", "440305", "南山区", "4403050001", "南山实验学校", "城区", "公办",
     "4", "1班", "G440305201601", "女"),
    ("44", "广东省", "东部", "4403", "深圳市", "440305", "南山区", "4403050001", "南山实验学校", "城区", "公办",
     "4", "1班", "G440305201602", "男"),
    ("44", "广东省", "东部", "4403", "深圳市", "440305", "南山区", "4403050001", "南山实验学校", "城区", "公办",
     "8", "2班", "G440305201201", "女"),
)  # fmt: skip
_COLUMN_HELP = {
    "province_code": "省级行政区划代码，如 44",
    "province": "省名称，如 广东省",
    "region": "东部 / 中部 / 西部",
    "city_code": "市级代码，如 4403",
    "city": "市名称",
    "county_code": "区县代码，如 440305",
    "county": "区县名称",
    "school_code": "学校代码（全国唯一）",
    "school": "学校名称",
    "locale": "城区 / 县镇 / 农村（或 urban / town / rural）",
    "sector": "公办 / 民办（或 public / private），空白为公办",
    "grade": "年级 3-12",
    "class": "班级名称，如 3班",
    "student_code": "学生编号（学籍号等，全国唯一；不填姓名）",
    "gender": "女 / 男（或 F / M）",
}


def write_template(path: str | Path, *, example: bool = False) -> None:
    """Write an empty registration file (``.csv`` or ``.xlsx`` by extension) to fill in.

    The CSV starts with a UTF-8 byte-order mark so Excel shows Chinese text. The XLSX formats the
    code columns as text (so Excel keeps leading zeros) and adds a second sheet, 说明, describing
    each column. With ``example``, three example rows follow the header.
    """
    path = Path(path)
    rows = _EXAMPLE_ROWS if example else ()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        path.write_bytes(csv_bytes([COLUMNS, *rows]))
        return
    if suffix != ".xlsx":
        raise ValueError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv or .xlsx")
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "学生名单"
    append_xlsx_row(sheet, list(COLUMNS))
    for r in rows:
        append_xlsx_row(sheet, [int(v) if name == "grade" else v for name, v in zip(COLUMNS, r, strict=True)])
    for j, name in enumerate(COLUMNS, start=1):
        letter = get_column_letter(j)
        sheet.column_dimensions[letter].width = max(10, len(name) + 4)
        if name.endswith("_code"):  # text, so Excel keeps leading zeros of codes typed in
            sheet.column_dimensions[letter].number_format = "@"
            for row_cells in sheet.iter_rows(min_row=1, max_row=len(rows) + 1, min_col=j, max_col=j):
                for cell in row_cells:
                    cell.number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("说明")
    append_xlsx_row(notes, ["列名", "填写说明"])
    for name in COLUMNS:
        append_xlsx_row(notes, [name, _COLUMN_HELP[name]])
    notes.append([])
    append_xlsx_row(notes, ["", "每行一名学生；第一行为列名。只读取第一个工作表。"])
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 60
    workbook.save(path)
