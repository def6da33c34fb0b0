"""Checks of a registration file: each row, the rows against each other, and against the database.

Every problem is collected (each located as ``row 7, grade: ...``, row 1 being the header) before
anything is written; :class:`ProblemList` keeps the first :attr:`ProblemList.limit` of them in
file order and counts the rest, so a file with 100,000 bad rows costs neither the memory nor the
screen of 100,000 messages.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from assess.models import GENDERS, LOCALES, REGIONS, SECTORS, Area, Assessment, School, SchoolClass, Student
from assess.people_file import COLUMNS, RegistrationRow
from assess.pins import chunks
from itembank.exceptions import Problem

__all__ = [
    "AreaDecl",
    "ParsedRow",
    "ProblemList",
    "SchoolDecl",
    "check_assessment",
    "check_stored_areas",
    "check_stored_schools",
    "check_students",
    "declare_areas",
    "declare_schools",
    "parse_row",
]

_GRADES = range(3, 13)
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
_LEVEL_COLUMN = {"province": "province_code", "city": "city_code", "county": "county_code"}
_LEVEL_NAME_COLUMN = {"province": "province", "city": "city", "county": "county"}
_PARENT_LEVEL = {"city": "province", "county": "city"}


def _control_character(text: str) -> str | None:
    """The first control, surrogate or unassigned character of a name (none belongs in one)."""
    for ch in text:
        if unicodedata.category(ch) in {"Cc", "Cs", "Cn"}:
            return ch
    return None


assert set(_REGION.values()) == set(REGIONS) and set(_LOCALE.values()) == set(LOCALES)
assert set(_SECTOR.values()) == set(SECTORS) and set(_GENDER.values()) == set(GENDERS)


@dataclass
class ParsedRow:
    """A data row with its cells normalised; a field is ``None`` where its cell has a problem."""

    row: int
    values: dict[str, Any]

    def get(self, name: str) -> Any:
        """The normalised value of column ``name`` (``None`` if its cell has a problem)."""
        return self.values.get(name)


@dataclass
class AreaDecl:
    """An area as the rows declare it (the first row naming its code, completed by later ones)."""

    code: str
    level: str
    name: str | None
    region: str | None
    parent: str | None
    row: int


@dataclass
class SchoolDecl:
    """A school as the rows declare it (the first row naming its code)."""

    code: str
    county: str | None
    name: str | None
    locale: str | None
    sector: str | None
    row: int


class ProblemList:
    """Problems of a file in file order (by row, then column): the first ``limit`` kept, the rest counted.

    A bounded heap keeps the ``limit`` smallest by (row, column, arrival), so the problems shown
    are exactly those a full sort would show first.
    """

    def __init__(self, limit: int = 50) -> None:
        self.limit = limit
        self.total = 0
        self._heap: list[tuple[int, int, int, Problem]] = []

    def _push(self, row: int, column: int, problem: Problem) -> None:
        self.total += 1
        entry = (-row, -column, -self.total, problem)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        elif entry > self._heap[0]:
            heapq.heapreplace(self._heap, entry)

    def add(self, row: int, column: str, message: str) -> None:
        """A problem of ``row`` (and ``column``, a name of :data:`COLUMNS`, or ``""``)."""
        where = f"row {row}, {column}" if column else f"row {row}"
        self._push(row, COLUMNS.index(column) if column in COLUMNS else -1, Problem(where, message))

    def general(self, problem: Problem) -> None:
        """A problem located by its own text (``row 1: ...``, or about the whole file)."""
        match = re.match(r"row (\d+)", problem.where)
        self._push(int(match.group(1)) if match else 0, -1, problem)

    @property
    def more(self) -> int:
        """How many problems were counted but not kept."""
        return self.total - len(self._heap)

    def sorted(self) -> list[str]:
        """The kept problems as text, in file order."""
        return [str(entry[3]) for entry in sorted(self._heap, reverse=True)]


def parse_row(record: RegistrationRow, problems: ProblemList) -> ParsedRow:
    """Normalise one row's cells (codes, names, choices, grade), reporting each bad cell."""
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
        bad = _control_character(value)
        if bad is not None:
            problems.add(row, name, f"contains the control character U+{ord(bad):04X}; remove it")
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
    return ParsedRow(row, values)


def declare_areas(rows: Sequence[ParsedRow], problems: ProblemList) -> dict[str, AreaDecl]:
    """Collect the areas the rows name, reporting every row that disagrees with an earlier one."""
    areas: dict[str, AreaDecl] = {}
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
                areas[code] = AreaDecl(code, level, name, region, parent, r.row)
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


def declare_schools(rows: Sequence[ParsedRow], problems: ProblemList) -> dict[str, SchoolDecl]:
    """Collect the schools the rows name, reporting every row that disagrees with an earlier one."""
    schools: dict[str, SchoolDecl] = {}
    for r in rows:
        code = r.get("school_code")
        if code is None:
            continue
        first = schools.get(code)
        if first is None:
            schools[code] = SchoolDecl(
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


def check_stored_areas(session: Session, areas: Mapping[str, AreaDecl], problems: ProblemList) -> dict[str, Area]:
    """Compare the file's areas with those already registered under the same codes."""
    stored: dict[str, Area] = {}
    for chunk in chunks(sorted(areas)):
        stored.update({a.code: a for a in session.exec(select(Area).where(col(Area.code).in_(chunk))).all()})
    parent_ids = {a.parent_id for a in stored.values() if a.parent_id is not None}
    parent_code: dict[int, str] = {}
    for chunk in chunks(sorted(parent_ids)):
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


def check_stored_schools(
    session: Session,
    schools: Mapping[str, SchoolDecl],
    problems: ProblemList,
) -> dict[str, School]:
    """Compare the file's schools with those already registered under the same codes."""
    stored: dict[str, School] = {}
    for chunk in chunks(sorted(schools)):
        stored.update({s.code: s for s in session.exec(select(School).where(col(School.code).in_(chunk))).all()})
    area_ids = {s.area_id for s in stored.values()}
    area_code: dict[int, str] = {}
    for chunk in chunks(sorted(area_ids)):
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


def check_students(
    session: Session,
    rows: Sequence[ParsedRow],
    stored_schools: Mapping[str, School],
    problems: ProblemList,
) -> tuple[list[ParsedRow], list[ParsedRow]]:
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
    for chunk in chunks(codes):
        found = session.exec(
            select(Student, SchoolClass.name)
            .join(SchoolClass, col(SchoolClass.id) == Student.class_id, isouter=True)
            .where(col(Student.code).in_(chunk))
        ).all()
        stored.update({s.code: (s, name) for s, name in found})
    school_of = {s.id: code for code, s in stored_schools.items()}
    new: list[ParsedRow] = []
    unchanged: list[ParsedRow] = []
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


def check_assessment(
    session: Session, code: str, rows: Sequence[ParsedRow], problems: ProblemList
) -> Assessment | None:
    """The assessment ``code``, with a problem for each row whose grade it does not test."""
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
