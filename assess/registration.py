"""Bulk registration of schools, classes and students from a CSV or XLSX file, and their tickets.

A school (or a bureau for its schools) fills one row per student; the areas, schools and classes
the rows name are created on the way, or reused when their codes are already registered.

The registration file
---------------------
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

No names are taken: a student is known by its code, and its test ticket does not name it. A code
names one thing: the same area, school or student code on several rows must carry the same name,
parent and attributes, and a code already in the database must agree with what is stored.
:func:`write_template` writes an empty file (optionally with example rows) to start from.

Validate everything, then write
-------------------------------
:func:`register_students` checks every row first, against the other rows and the database, and
raises :class:`~assess.exceptions.RegistrationError` listing every problem, each located as
``row 7, grade: ...`` (row 1 is the header), the same style as the item import. Only a file
without problems is written, in the caller's one transaction. Importing the same file again
changes nothing: existing areas, schools and classes are reused and existing students are
reported unchanged (a registered student whose grade, class or gender differs from the file is a
problem: registration never edits a student).

Tickets and PINs
----------------
Every new student gets a test ticket (准考证号): ten digits, nine drawn at random with
:mod:`secrets` (never sequential, so one ticket does not reveal its neighbours) and a final Luhn
check digit so a mistyped ticket is caught before any lookup (:func:`ticket_is_well_formed`).
The second login factor is a six-digit PIN, also drawn with :mod:`secrets`. Neither starts with
a zero, so a spreadsheet cannot drop a leading digit.

**The PIN is never stored in clear.** Only a keyed hash is kept (``Student.pin_hash``,
HMAC-SHA256 under a server key held outside the database: :mod:`assess.pins`, whose docstring
gives the threat model); the plain PINs are returned once, in :attr:`RegistrationSummary.tickets`,
so the caller can print them on the ticket cards (:mod:`reports.tickets`) or write them to a file
for the school. After that they cannot be shown again; a lost PIN is replaced with
:func:`reissue_pins`, which invalidates the old one. Check a PIN with :func:`verify_pin` (PINs
hashed with argon2id before still verify). A hash costs microseconds, so registering 50,000
students is bound by validation and the database writes, not by hashing.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from sqlalchemy import update
from sqlmodel import Session, col, select

from assess import pins as pins_module
from assess.exceptions import RegistrationError
from assess.models import GENDERS, LOCALES, REGIONS, SECTORS, Area, Assessment, School, SchoolClass, Student
from itembank.db import bulk_insert
from itembank.exceptions import Problem
from itembank.models import utcnow

__all__ = [
    "COLUMNS",
    "PIN_HASH_PARAMETERS",
    "IssuedTicket",
    "RegistrationFile",
    "RegistrationRow",
    "RegistrationSummary",
    "StudentListing",
    "list_students",
    "new_pin",
    "new_ticket",
    "parse_csv",
    "parse_xlsx",
    "pin_hasher",
    "read_registration",
    "register_students",
    "reissue_pins",
    "school_tickets",
    "ticket_is_well_formed",
    "verify_pin",
    "write_template",
]

COLUMNS: tuple[str, ...] = (
    "province_code", "province", "region", "city_code", "city", "county_code", "county",
    "school_code", "school", "locale", "sector", "grade", "class", "student_code", "gender",
)  # fmt: skip
"""Columns of the registration file, in the order the template writes them."""
_OPTIONAL = frozenset({"sector"})
_GRADES = range(3, 13)

PIN_HASH_PARAMETERS: dict[str, Any] = {"type": Type.ID, "time_cost": 2, "memory_cost": 19456, "parallelism": 1}
"""argon2id, 2 passes over 19 MiB, one lane: OWASP's minimum recommended argon2id setting."""

_MAX_LENGTH = {
    "province_code": 16, "city_code": 16, "county_code": 16, "school_code": 32, "student_code": 32,
    "province": 64, "city": 64, "county": 64, "school": 128, "class": 32,
}  # fmt: skip
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_GRADE_RE = re.compile(r"^(\d{1,2})(?:\.0+)?\s*(?:年级)?$")
_REGION = {"东部": "东部", "中部": "中部", "西部": "西部", "east": "东部", "central": "中部", "west": "西部"}
_LOCALE = {"urban": "urban", "城区": "urban", "town": "town", "县镇": "town", "rural": "rural", "农村": "rural"}
_SECTOR = {"public": "public", "公办": "public", "private": "private", "民办": "private"}
_GENDER = {"f": "F", "female": "F", "女": "F", "m": "M", "male": "M", "男": "M"}
_NAME_COLUMNS = {"name", "student_name", "姓名", "学生姓名"}
_LEVEL_COLUMN = {"province": "province_code", "city": "city_code", "county": "county_code"}
_LEVEL_NAME_COLUMN = {"province": "province", "city": "city", "county": "county"}
_PARENT_LEVEL = {"city": "province", "county": "city"}
_LOCALE_ZH = {"urban": "城区", "town": "县镇", "rural": "农村"}
_SECTOR_ZH = {"public": "公办", "private": "民办"}
_CHUNK = 900  # values per IN (...) list, below every driver's parameter limit

assert set(_REGION.values()) == set(REGIONS) and set(_LOCALE.values()) == set(LOCALES)
assert set(_SECTOR.values()) == set(SECTORS) and set(_GENDER.values()) == set(GENDERS)

Progress = Callable[[int, int], None]
"""Called as PINs are hashed, with the number hashed so far and the total."""


# ============================================================================================ records
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


@dataclass(frozen=True)
class IssuedTicket:
    """A student's login card: where it sits, its ticket, and its PIN (only when just issued).

    ``pin`` is the plain PIN, present only in the result of the call that created it
    (:func:`register_students`, :func:`reissue_pins`); it is never stored, so
    :func:`school_tickets` gives ``None``.
    """

    student_code: str
    school_code: str
    school_name: str
    grade: int
    class_name: str
    ticket: str
    pin: str | None = None


@dataclass(frozen=True)
class RegistrationSummary:
    """What a registration created and what it found already there.

    ``tickets`` holds the new students' tickets with their plain PINs, in file order: the only
    time the PINs exist outside the students' hands. ``unchanged`` lists the codes of students
    that were registered already (left exactly as they were). ``assessment`` is the name of the
    assessment the grades were checked against, if one was given.
    """

    source: str
    areas_created: dict[str, int]
    areas_reused: int
    schools_created: int
    schools_reused: int
    classes_created: int
    classes_reused: int
    students_created: int
    students_unchanged: int
    tickets: tuple[IssuedTicket, ...] = ()
    unchanged: tuple[str, ...] = ()
    assessment: str | None = None

    def lines(self) -> list[str]:
        """The summary as short lines, for the CLI."""
        made = self.areas_created
        areas = ", ".join(
            _count(made.get(level, 0), word, plural)
            for level, word, plural in (("province", "province", "provinces"), ("city", "city", "cities"),
                                        ("county", "county", "counties"))
        )  # fmt: skip
        return [
            f"areas: {areas} created; {self.areas_reused} already registered",
            f"schools: {self.schools_created} created, {self.schools_reused} already registered",
            f"classes: {self.classes_created} created, {self.classes_reused} already registered",
            f"students: {self.students_created} created, {self.students_unchanged} unchanged (already registered)",
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _count(n: int, word: str, plural: str) -> str:
    return f"{n} {word if n == 1 else plural}"


@dataclass(frozen=True)
class StudentListing:
    """A registered student as a school administrator lists it (no PIN, no name)."""

    student_code: str
    grade: int
    class_name: str
    gender: str
    ticket: str
    has_pin: bool


# ============================================================================================ reading
def read_registration(path: str | Path) -> RegistrationFile:
    """Read a registration file (``.csv`` or ``.xlsx`` by extension) with any reading problems."""
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".xlsx", ".xlsm"}:
        hint = " (save the old .xls workbook as .xlsx, or as CSV UTF-8)" if suffix == ".xls" else ""
        return RegistrationFile(
            source, problems=(Problem("", f"unknown file type {suffix or '(none)'!r}: use .csv or .xlsx{hint}"),)
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return RegistrationFile(source, problems=(Problem("", f"cannot read the file: {exc.strerror or exc}"),))
    return parse_csv(raw, source=source) if suffix == ".csv" else parse_xlsx(raw, source=source)


def parse_csv(raw: bytes, *, source: str = "<csv>") -> RegistrationFile:
    """Read CSV bytes (UTF-8, byte-order mark optional) into rows located by spreadsheet row."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return RegistrationFile(
            source,
            problems=(
                Problem(
                    f"row {line}",
                    f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); the file looks like "
                    "another encoding (e.g. GBK): save it as UTF-8 (Excel: 'CSV UTF-8')",
                ),
            ),
        )
    if not text.strip():
        return RegistrationFile(source, problems=(Problem("", "the file is empty"),))
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return RegistrationFile(source, problems=(Problem("", f"not valid CSV: {exc}"),))
    return _from_table(source, [(i, record) for i, record in enumerate(records, start=1)])


def parse_xlsx(raw: bytes, *, source: str = "<xlsx>") -> RegistrationFile:
    """Read the first worksheet of an XLSX workbook into rows located by sheet row."""
    if not raw:
        return RegistrationFile(source, problems=(Problem("", "the file is empty"),))
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it ignores (styles, data validation); irrelevant here
            warnings.simplefilter("ignore", UserWarning)
            workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged file
        return RegistrationFile(
            source,
            problems=(Problem("", f"not a valid .xlsx workbook ({type(exc).__name__}): save it again from Excel"),),
        )
    try:
        sheet = workbook.worksheets[0]
        table = [(i, [_text(v) for v in values]) for i, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    return _from_table(source, table)


def _text(value: object) -> str:
    """A cell as text: Excel numbers that are whole print without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _from_table(source: str, table: list[tuple[int, list[str]]]) -> RegistrationFile:
    nonempty = [(i, r) for i, r in table if any(c.strip() for c in r)]
    if not nonempty:
        return RegistrationFile(source, problems=(Problem("", "the file is empty"),))
    header_row, header_cells = nonempty[0]
    header = [h.strip().lower() for h in header_cells]
    while header and not header[-1]:
        header.pop()
    problems: list[Problem] = []
    where = f"row {header_row}"
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
        if name not in header and name not in _OPTIONAL:
            problems.append(Problem(where, f"missing column {name!r}"))
    rows: list[RegistrationRow] = []
    for index, record in nonempty[1:]:
        if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
            problems.append(Problem(f"row {index}", f"{len(record)} cells but only {len(header)} columns"))
        cells = {name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(header) if name}
        rows.append(RegistrationRow(index, cells))
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
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
        return
    if suffix != ".xlsx":
        raise ValueError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv or .xlsx")
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "学生名单"
    sheet.append(list(COLUMNS))
    for r in rows:
        sheet.append([int(v) if name == "grade" else v for name, v in zip(COLUMNS, r, strict=True)])
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
    notes.append(["列名", "填写说明"])
    for name in COLUMNS:
        notes.append([name, _COLUMN_HELP[name]])
    notes.append([])
    notes.append(["", "每行一名学生；第一行为列名。只读取第一个工作表。"])
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 60
    workbook.save(path)


# ============================================================================================ validation
@dataclass
class _Row:
    """A data row with its cells normalised; a field is ``None`` where its cell has a problem."""

    row: int
    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)


@dataclass
class _AreaDecl:
    code: str
    level: str
    name: str | None
    region: str | None
    parent: str | None
    row: int


@dataclass
class _SchoolDecl:
    code: str
    county: str | None
    name: str | None
    locale: str | None
    sector: str | None
    row: int


@dataclass
class _Problems:
    """Problems keyed for sorting by row and column order."""

    items: list[tuple[int, int, Problem]] = field(default_factory=list)

    def add(self, row: int, column: str, message: str) -> None:
        where = f"row {row}, {column}" if column else f"row {row}"
        self.items.append((row, COLUMNS.index(column) if column in COLUMNS else -1, Problem(where, message)))

    def general(self, problem: Problem) -> None:
        match = re.match(r"row (\d+)", problem.where)
        self.items.append((int(match.group(1)) if match else 0, -1, problem))

    def sorted(self) -> list[str]:
        return [str(p) for _, _, p in sorted(self.items, key=lambda t: (t[0], t[1]))]


def _parse_row(record: RegistrationRow, problems: _Problems) -> _Row:
    cells = record.cells
    row = record.row
    values: dict[str, Any] = {}

    def need(name: str) -> str | None:
        value = cells.get(name, "").strip()
        if not value:
            problems.add(row, name, "empty")
            return None
        limit = _MAX_LENGTH.get(name)
        if limit is not None and len(value) > limit:
            problems.add(row, name, f"{len(value)} characters, at most {limit}")
            return None
        return value

    for name in ("province_code", "city_code", "county_code", "school_code", "student_code"):
        value = need(name)
        if value is not None and not _CODE_RE.match(value):
            problems.add(row, name, f"{value!r} is not a code (letters, digits, '.', '_', '-')")
            value = None
        values[name] = value
    for name in ("province", "city", "county", "school", "class"):
        values[name] = need(name)

    def choose(name: str, table: Mapping[str, str], allowed: str, default: str | None = None) -> None:
        value = cells.get(name, "").strip()
        if not value and default is not None:
            values[name] = default
            return
        if not value:
            problems.add(row, name, f"empty (use {allowed})")
            values[name] = None
            return
        values[name] = table.get(value.lower())
        if values[name] is None:
            problems.add(row, name, f"unknown {name} {value!r} (use {allowed})")

    choose("region", _REGION, "东部, 中部 or 西部")
    choose("locale", _LOCALE, "urban, town, rural or 城区, 县镇, 农村")
    choose("sector", _SECTOR, "public, private or 公办, 民办", default="public")
    choose("gender", _GENDER, "F, M or 女, 男")
    grade_text = cells.get("grade", "").strip()
    match = _GRADE_RE.match(grade_text)
    grade = int(match.group(1)) if match else None
    if not grade_text:
        problems.add(row, "grade", "empty (use a grade 3-12)")
    elif grade is None:
        problems.add(row, "grade", f"{grade_text!r} is not a grade (use a number 3-12)")
    elif grade not in _GRADES:
        problems.add(row, "grade", f"grade {grade} is out of range (3-12)")
        grade = None
    values["grade"] = grade
    return _Row(row, values)


def _declare_areas(rows: Sequence[_Row], problems: _Problems) -> dict[str, _AreaDecl]:
    """Collect the areas the rows name, reporting every row that disagrees with an earlier one."""
    areas: dict[str, _AreaDecl] = {}
    for r in rows:
        chain = [
            ("province", r.get("province_code"), r.get("province"), None),
            ("city", r.get("city_code"), r.get("city"), r.get("province_code")),
            ("county", r.get("county_code"), r.get("county"), r.get("city_code")),
        ]
        for level, code, name, parent in chain:
            if code is None:
                continue
            first = areas.get(code)
            region = r.get("region")
            if first is None:
                areas[code] = _AreaDecl(code, level, name, region, parent, r.row)
                continue
            code_col, name_col = _LEVEL_COLUMN[level], _LEVEL_NAME_COLUMN[level]
            if first.level != level:
                problems.add(
                    r.row,
                    code_col,
                    f"{code!r} is already the {first.level} code at row {first.row}; a code names one area",
                )
                continue
            if name is not None and first.name is not None and name != first.name:
                problems.add(
                    r.row, name_col, f"{level} {code} is named {first.name!r} at row {first.row}, here {name!r}"
                )
            if first.name is None:
                first.name = name
            if level in _PARENT_LEVEL and parent is not None and first.parent is not None and parent != first.parent:
                problems.add(
                    r.row,
                    code_col,
                    f"{level} {code} lies in {_PARENT_LEVEL[level]} {first.parent} at row {first.row}, "
                    f"here in {parent}",
                )
            if level == "province" and region is not None and first.region is not None and region != first.region:
                problems.add(r.row, "region", f"province {code} is in {first.region} at row {first.row}, here {region}")
    return areas


def _declare_schools(rows: Sequence[_Row], problems: _Problems) -> dict[str, _SchoolDecl]:
    schools: dict[str, _SchoolDecl] = {}
    for r in rows:
        code = r.get("school_code")
        if code is None:
            continue
        first = schools.get(code)
        if first is None:
            schools[code] = _SchoolDecl(
                code, r.get("county_code"), r.get("school"), r.get("locale"), r.get("sector"), r.row
            )
            continue
        county = r.get("county_code")
        if county is not None and first.county is not None and county != first.county:
            problems.add(
                r.row,
                "school_code",
                f"school {code} is in county {first.county} at row {first.row}, here in county {county}; "
                "a school code names one school",
            )
        for column, attr in (("school", "name"), ("locale", "locale"), ("sector", "sector")):
            value, before = r.get(column), getattr(first, attr)
            if value is not None and before is not None and value != before:
                what = "is named" if column == "school" else f"has {column}"
                problems.add(r.row, column, f"school {code} {what} {before!r} at row {first.row}, here {value!r}")
    return schools


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _check_stored_areas(session: Session, areas: Mapping[str, _AreaDecl], problems: _Problems) -> dict[str, Area]:
    """Compare the file's areas with those already registered under the same codes."""
    stored: dict[str, Area] = {}
    for chunk in _chunks(sorted(areas)):
        stored.update({a.code: a for a in session.exec(select(Area).where(col(Area.code).in_(chunk))).all()})
    parent_ids = {a.parent_id for a in stored.values() if a.parent_id is not None}
    parent_code: dict[int, str] = {}
    for chunk in _chunks(sorted(parent_ids)):
        parent_code.update(dict(session.exec(select(Area.id, Area.code).where(col(Area.id).in_(chunk))).all()))  # type: ignore[arg-type]
    for code, decl in areas.items():
        area = stored.get(code)
        if area is None:
            continue
        code_col, name_col = _LEVEL_COLUMN[decl.level], _LEVEL_NAME_COLUMN[decl.level]
        if area.level != decl.level:
            problems.add(decl.row, code_col, f"{code!r} is already registered as a {area.level}, not a {decl.level}")
            continue
        if decl.name is not None and area.name != decl.name:
            problems.add(decl.row, name_col, f"{decl.level} {code} is registered as {area.name!r}, here {decl.name!r}")
        stored_parent = parent_code.get(area.parent_id) if area.parent_id is not None else None
        if decl.level in _PARENT_LEVEL and decl.parent is not None and stored_parent != decl.parent:
            problems.add(
                decl.row,
                code_col,
                f"{decl.level} {code} is registered in {_PARENT_LEVEL[decl.level]} {stored_parent}, "
                f"here in {decl.parent}",
            )
        if decl.level == "province" and decl.region is not None and area.region != decl.region:
            problems.add(decl.row, "region", f"province {code} is registered in {area.region}, here {decl.region}")
    return stored


def _check_stored_schools(
    session: Session,
    schools: Mapping[str, _SchoolDecl],
    problems: _Problems,
) -> dict[str, School]:
    stored: dict[str, School] = {}
    for chunk in _chunks(sorted(schools)):
        stored.update({s.code: s for s in session.exec(select(School).where(col(School.code).in_(chunk))).all()})
    area_ids = {s.area_id for s in stored.values()}
    area_code: dict[int, str] = {}
    for chunk in _chunks(sorted(area_ids)):
        area_code.update(dict(session.exec(select(Area.id, Area.code).where(col(Area.id).in_(chunk))).all()))  # type: ignore[arg-type]
    for code, decl in schools.items():
        school = stored.get(code)
        if school is None:
            continue
        county = area_code.get(school.area_id)
        if decl.county is not None and county != decl.county:
            problems.add(
                decl.row,
                "school_code",
                f"school {code} is registered in county {county}, here in county {decl.county}; "
                "a school code names one school",
            )
        for column, attr in (("school", "name"), ("locale", "locale"), ("sector", "sector")):
            value = getattr(decl, attr)
            if value is not None and getattr(school, attr) != value:
                problems.add(
                    decl.row,
                    column,
                    f"school {code} is registered {'as' if column == 'school' else f'with {column}'} "
                    f"{getattr(school, attr)!r}, here {value!r}",
                )
    return stored


def _check_students(
    session: Session,
    rows: Sequence[_Row],
    stored_schools: Mapping[str, School],
    problems: _Problems,
) -> tuple[list[_Row], list[_Row]]:
    """Split the rows into new and unchanged students; report duplicates and clashes."""
    first_row: dict[str, int] = {}
    for r in rows:
        code = r.get("student_code")
        if code is None:
            continue
        if code in first_row:
            problems.add(r.row, "student_code", f"student {code} appears again (first at row {first_row[code]})")
        else:
            first_row[code] = r.row
    stored: dict[str, tuple[Student, str | None]] = {}
    codes = sorted(first_row)
    for chunk in _chunks(codes):
        found = session.exec(
            select(Student, SchoolClass.name)
            .join(SchoolClass, col(SchoolClass.id) == Student.class_id, isouter=True)
            .where(col(Student.code).in_(chunk))
        ).all()
        stored.update({s.code: (s, name) for s, name in found})
    school_of = {s.id: code for code, s in stored_schools.items()}
    new: list[_Row] = []
    unchanged: list[_Row] = []
    for r in rows:
        code = r.get("student_code")
        if code is None or first_row.get(code) != r.row:
            continue
        if code not in stored:
            new.append(r)
            continue
        student, class_name = stored[code]
        if school_of.get(student.school_id) != r.get("school_code"):
            problems.add(
                r.row,
                "student_code",
                f"student {code} is already registered at another school; student codes are unique nationwide",
            )
            continue
        differences = [
            (column, before, after)
            for column, before, after in (
                ("grade", student.grade, r.get("grade")),
                ("class", class_name, r.get("class")),
                ("gender", student.gender, r.get("gender")),
            )
            if after is not None and before != after
        ]
        for column, before, after in differences:
            problems.add(
                r.row,
                column,
                f"student {code} is registered with {column} {before!r}, here {after!r} "
                "(registration never changes a registered student)",
            )
        if not differences:
            unchanged.append(r)
    return new, unchanged


def _check_assessment(session: Session, code: str, rows: Sequence[_Row], problems: _Problems) -> Assessment | None:
    assessment = session.exec(select(Assessment).where(Assessment.code == code)).first()
    if assessment is None:
        problems.general(Problem("", f"assessment {code!r} does not exist"))
        return None
    grades = sorted(int(g) for g in assessment.grades)
    if not grades:
        return assessment
    shown = ", ".join(str(g) for g in grades)
    for r in rows:
        grade = r.get("grade")
        if grade is not None and grade not in grades:
            problems.add(r.row, "grade", f"grade {grade} is not tested in assessment {code} (grades {shown})")
    return assessment


# ============================================================================================ secrets
def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def new_ticket() -> str:
    """A random ticket: nine random digits (no leading zero) and a Luhn check digit."""
    body = str(secrets.randbelow(9 * 10**8) + 10**8)
    return body + _luhn_digit(body)


def ticket_is_well_formed(ticket: str) -> bool:
    """Whether ``ticket`` has ten digits and a correct check digit (a cheap test before any lookup)."""
    return len(ticket) == 10 and ticket.isdigit() and _luhn_digit(ticket[:-1]) == ticket[-1]


def new_pin() -> str:
    """A random six-digit PIN (100000-999999: no leading zero for a spreadsheet to drop)."""
    return str(secrets.randbelow(9 * 10**5) + 10**5)


def pin_hasher() -> PasswordHasher:
    """The argon2id hasher with :data:`PIN_HASH_PARAMETERS` (used to hash and to verify PINs)."""
    return PasswordHasher(**PIN_HASH_PARAMETERS)


def verify_pin(pin_hash: str, pin: str) -> bool:
    """Whether ``pin`` matches the stored ``pin_hash`` (keyed or argon2, see :mod:`assess.pins`)."""
    return pins_module.verify_pin(pin_hash, pin)


def _unique_tickets(session: Session, n: int) -> list[str]:
    """``n`` new tickets, distinct from each other and from every stored ticket."""
    chosen: set[str] = set()
    while len(chosen) < n:
        candidates = {new_ticket() for _ in range(n - len(chosen))} - chosen
        taken: set[str] = set()
        for chunk in _chunks(sorted(candidates)):
            taken.update(session.exec(select(Student.ticket).where(col(Student.ticket).in_(chunk))).all())
        chosen |= candidates - taken
    return list(chosen)


def _hash_pins(pins: Sequence[str], hasher: PasswordHasher | None, progress: Progress | None) -> list[str]:
    """Hash PINs: keyed (:mod:`assess.pins`, microseconds each), or with an argon2 ``hasher`` on a thread pool."""
    if not pins:
        return []
    if hasher is None:
        hashes = pins_module.hash_pins(pins)
        if progress is not None:
            progress(len(hashes), len(pins))
        return hashes
    workers = max(1, min(len(pins), os.cpu_count() or 1))
    hashes: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for h in pool.map(hasher.hash, pins):
            hashes.append(h)
            if progress is not None:
                progress(len(hashes), len(pins))
    return hashes


# ============================================================================================ service
def register_students(
    *,
    session: Session,
    rows: RegistrationFile | Sequence[Mapping[str, object]],
    assessment: str | None = None,
    hasher: PasswordHasher | None = None,
    progress: Progress | None = None,
) -> RegistrationSummary:
    """Validate a registration file completely, then create its areas, schools, classes and students.

    Parameters
    ----------
    session
        An open session; everything is written in its transaction (commit is the caller's, e.g.
        :func:`itembank.db.session_scope`). Nothing is written when a problem is found.
    rows
        A file read by :func:`read_registration` (its reading problems are reported with the
        rest), or mappings from column name to value, numbered as rows 2, 3, ...
    assessment
        Code of an assessment: every student's grade must be one it tests.
    hasher
        An argon2 hasher to hash PINs with instead of the keyed hash (:mod:`assess.pins`, the default).
    progress
        Called as PINs are hashed, with the number hashed so far and the total.

    Returns
    -------
    RegistrationSummary
        Counts, and the new students' tickets with their plain PINs (returned this once only).

    Raises
    ------
    RegistrationError
        With every problem of the file, each as ``row N, column: message``.
    """
    file = rows if isinstance(rows, RegistrationFile) else RegistrationFile.from_records(rows)
    problems = _Problems()
    for p in file.problems:
        problems.general(p)
    if file.problems and not file.rows:
        raise RegistrationError(problems.sorted())
    missing = [c for c in COLUMNS if c not in file.columns and c not in _OPTIONAL]
    if missing and not file.problems:
        for name in missing:
            problems.general(Problem("row 1", f"missing column {name!r}"))
    if missing:
        raise RegistrationError(problems.sorted())
    if not file.rows:
        problems.general(Problem("", "the file has a header but no student rows"))
        raise RegistrationError(problems.sorted())

    parsed = [_parse_row(r, problems) for r in file.rows]
    areas = _declare_areas(parsed, problems)
    schools = _declare_schools(parsed, problems)
    stored_areas = _check_stored_areas(session, areas, problems)
    stored_schools = _check_stored_schools(session, schools, problems)
    new_rows, unchanged_rows = _check_students(session, parsed, stored_schools, problems)
    tested_in = _check_assessment(session, assessment, parsed, problems) if assessment is not None else None
    if problems.items:
        raise RegistrationError(problems.sorted())

    # ---- everything checked: draw the secrets (slow: hashing) before taking any write lock
    pins = [new_pin() for _ in new_rows]
    tickets = _unique_tickets(session, len(new_rows))
    hashes = _hash_pins(pins, hasher, progress)

    # ---- areas, level by level so parents exist first
    created = {"province": 0, "city": 0, "county": 0}
    area_by_code: dict[str, Area] = dict(stored_areas)
    for level in ("province", "city", "county"):
        for decl in areas.values():
            if decl.level != level or decl.code in area_by_code:
                continue
            parent = area_by_code[decl.parent] if decl.parent is not None else None
            region = parent.region if parent is not None else (decl.region or "")
            area = Area(
                code=decl.code,
                name=decl.name or decl.code,
                level=level,
                region=region,
                parent_id=parent.id if parent is not None else None,
                path=f"{parent.path if parent is not None else '/'}{decl.code}/",
            )
            session.add(area)
            area_by_code[decl.code] = area
            created[level] += 1
        session.flush()

    # ---- schools
    school_by_code: dict[str, School] = dict(stored_schools)
    for school_decl in schools.values():
        if school_decl.code in school_by_code:
            continue
        assert school_decl.county is not None and school_decl.name is not None and school_decl.locale is not None
        county = area_by_code[school_decl.county]
        school = School(
            code=school_decl.code,
            name=school_decl.name,
            locale=school_decl.locale,
            sector=school_decl.sector or "public",
            area_id=county.id,  # type: ignore[arg-type]
            path=f"{county.path}{school_decl.code}/",
        )
        session.add(school)
        school_by_code[school_decl.code] = school
    session.flush()

    # ---- classes (school, grade, name)
    wanted = {(r.get("school_code"), r.get("grade"), r.get("class")) for r in parsed}
    school_ids = sorted(int(s.id) for s in school_by_code.values() if s.id is not None)
    class_id: dict[tuple[int, int, str], int] = {}
    for chunk in _chunks(school_ids):
        for c in session.exec(select(SchoolClass).where(col(SchoolClass.school_id).in_(chunk))).all():
            class_id[(c.school_id, c.grade, c.name)] = int(c.id)  # type: ignore[arg-type]
    classes_created = classes_reused = 0
    new_classes: list[SchoolClass] = []
    for school_code, grade, name in sorted(wanted):
        key = (int(school_by_code[school_code].id), int(grade), str(name))  # type: ignore[arg-type]
        if key in class_id:
            classes_reused += 1
            continue
        klass = SchoolClass(school_id=key[0], grade=key[1], name=key[2])
        session.add(klass)
        new_classes.append(klass)
        classes_created += 1
    session.flush()
    for klass in new_classes:
        class_id[(klass.school_id, klass.grade, klass.name)] = int(klass.id)  # type: ignore[arg-type]

    # ---- students
    now = utcnow()
    student_rows: list[dict[str, Any]] = []
    issued: list[IssuedTicket] = []
    for r, ticket, pin, pin_hash in zip(new_rows, tickets, pins, hashes, strict=True):
        school = school_by_code[r.get("school_code")]
        sid = int(school.id)  # type: ignore[arg-type]
        student_rows.append(
            {
                "code": r.get("student_code"),
                "grade": r.get("grade"),
                "gender": r.get("gender"),
                "ticket": ticket,
                "school_id": sid,
                "class_id": class_id[(sid, r.get("grade"), r.get("class"))],
                "pin_hash": pin_hash,
                "path": school.path,
                "created_at": now,
            }
        )
        issued.append(
            IssuedTicket(
                student_code=r.get("student_code"),
                school_code=school.code,
                school_name=school.name,
                grade=r.get("grade"),
                class_name=r.get("class"),
                ticket=ticket,
                pin=pin,
            )
        )
    for chunk in _chunks(student_rows):
        bulk_insert(session, Student.__table__, list(chunk))  # type: ignore[attr-defined]

    return RegistrationSummary(
        source=file.source,
        areas_created=created,
        areas_reused=len(stored_areas),
        schools_created=len(schools) - len(stored_schools),
        schools_reused=len(stored_schools),
        classes_created=classes_created,
        classes_reused=classes_reused,
        students_created=len(student_rows),
        students_unchanged=len(unchanged_rows),
        tickets=tuple(issued),
        unchanged=tuple(r.get("student_code") for r in unchanged_rows),
        assessment=tested_in.name if tested_in is not None else None,
    )


# ============================================================================================ queries
def _school(session: Session, school_code: str) -> School:
    school = session.exec(select(School).where(School.code == school_code)).first()
    if school is None:
        raise LookupError(f"school {school_code!r} is not registered")
    return school


def _students_of(
    session: Session, school: School, grade: int | None, class_name: str | None
) -> list[tuple[Student, str]]:
    query = (
        select(Student, SchoolClass.name)
        .join(SchoolClass, col(SchoolClass.id) == Student.class_id, isouter=True)
        .where(Student.school_id == school.id)
    )
    if grade is not None:
        query = query.where(Student.grade == grade)
    if class_name is not None:
        query = query.where(SchoolClass.name == class_name)
    rows = session.exec(query).all()
    return sorted(((s, n or "") for s, n in rows), key=lambda t: (t[0].grade, t[1], t[0].code))


def list_students(
    *, session: Session, school_code: str, grade: int | None = None, class_name: str | None = None
) -> list[StudentListing]:
    """The students of a school (optionally one grade or class), by grade, class and code.

    Raises ``LookupError`` when the school is not registered.
    """
    school = _school(session, school_code)
    return [
        StudentListing(s.code, s.grade, name, s.gender, s.ticket, bool(s.pin_hash))
        for s, name in _students_of(session, school, grade, class_name)
    ]


def school_tickets(
    *, session: Session, school_code: str, grade: int | None = None, class_name: str | None = None
) -> list[IssuedTicket]:
    """The ticket cards of a school's students, without PINs (they are not stored)."""
    school = _school(session, school_code)
    return [
        IssuedTicket(s.code, school.code, school.name, s.grade, name, s.ticket)
        for s, name in _students_of(session, school, grade, class_name)
    ]


def reissue_pins(
    *,
    session: Session,
    school_code: str,
    grade: int | None = None,
    class_name: str | None = None,
    hasher: PasswordHasher | None = None,
    progress: Progress | None = None,
) -> list[IssuedTicket]:
    """Give a school's students (optionally one grade or class) new PINs; the old ones stop working.

    Tickets stay the same. The new plain PINs are returned this once, like at registration.
    """
    school = _school(session, school_code)
    students = _students_of(session, school, grade, class_name)
    pins = [new_pin() for _ in students]
    hashes = _hash_pins(pins, hasher, progress)
    if students:
        session.exec(
            update(Student),
            params=[{"id": s.id, "pin_hash": h} for (s, _), h in zip(students, hashes, strict=True)],
        )
    return [
        IssuedTicket(s.code, school.code, school.name, s.grade, name, s.ticket, pin)
        for (s, name), pin in zip(students, pins, strict=True)
    ]
