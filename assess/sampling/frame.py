"""The school frame: every school of the target population, read from CSV or XLSX and validated.

One row per school; row 1 is the header (names matched without regard to case or surrounding
spaces, in any order). Reading goes through :mod:`itembank.tabular`, the readers of every other
import (UTF-8 with or without BOM, comma/tab/semicolon; the first XLSX sheet), within
:data:`FRAME_LIMITS`. Columns:

================ ================================================================================
column           content
================ ================================================================================
school_code      the school's code, unique in the frame (letters, digits, ``.``, ``_``, ``-``; at
                 most 32), the code the school is later registered under
school           the school's name
province_code,   province code and name; every row of a province gives the same name and region
province
city_code, city  city code and name (a city lies in one province)
county_code,     county code and name (a county lies in one city)
county
region           ``东部`` / ``中部`` / ``西部`` (or ``east`` / ``central`` / ``west``)
locale           ``urban`` / ``town`` / ``rural``, or ``城区`` / ``县镇`` / ``农村``
sector           ``public`` / ``private``, or ``公办`` / ``民办`` (optional; empty means public)
grade_N          enrolment of grade N (3 to 12), a whole number 0 to 100,000; at least one
                 such column (a primary school's ``grade_8`` is 0 or empty)
================ ================================================================================

:func:`read_frame` returns a :class:`SchoolFrame` (columns as arrays) or raises
:class:`~assess.sampling.exceptions.FrameError` with every problem by row and column; nothing
is kept from a frame with a problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from assess.sampling.exceptions import FrameError
from itembank.exceptions import Problem
from itembank.tabular import ReadLimits, Table, parse_csv_table, parse_xlsx_table, read_table

__all__ = [
    "FRAME_COLUMNS",
    "FRAME_LIMITS",
    "SchoolFrame",
    "frame_from_table",
    "parse_frame_csv",
    "parse_frame_xlsx",
    "read_frame",
]

FRAME_COLUMNS: tuple[str, ...] = (
    "school_code", "school", "province_code", "province", "city_code", "city", "county_code", "county",
    "region", "locale", "sector",
)  # fmt: skip
"""The frame's columns other than the enrolments (``grade_3`` ... ``grade_12``)."""
_OPTIONAL = frozenset({"sector"})
FRAME_LIMITS = ReadLimits(max_bytes=64 * 1024 * 1024, max_rows=300_000)
"""A national frame: 64 MiB, 300,000 schools (China has about 200,000 primary and secondary schools)."""
MAX_ENROLMENT = 100_000
_GRADE_COLUMN = re.compile(r"^grade_(\d{1,2})$")
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_LENGTH = {
    "school_code": 32, "province_code": 16, "city_code": 16, "county_code": 16,
    "school": 128, "province": 64, "city": 64, "county": 64,
}  # fmt: skip
_REGION = {"东部": "东部", "中部": "中部", "西部": "西部", "east": "东部", "central": "中部", "west": "西部"}
_LOCALE = {"urban": "urban", "城区": "urban", "town": "town", "县镇": "town", "rural": "rural", "农村": "rural"}
_SECTOR = {"": "public", "public": "public", "公办": "public", "private": "private", "民办": "private"}
_WHOLE = re.compile(r"^\d+(?:\.0+)?$")

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SchoolFrame:
    """The schools of a frame as columns (one entry per school, in file order).

    ``enrolment`` maps each grade of the file to the schools' enrolments of that grade;
    ``rows`` gives each school's spreadsheet row (1 = the header).
    """

    source: str
    columns: Mapping[str, StrArray]
    enrolment: Mapping[int, IntArray]
    rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_schools(self) -> int:
        """Schools in the frame."""
        return int(self.columns["school_code"].size)

    @property
    def grades(self) -> tuple[int, ...]:
        """Grades with an enrolment column."""
        return tuple(sorted(self.enrolment))

    def column(self, name: str) -> StrArray:
        """One text column (:data:`FRAME_COLUMNS`)."""
        return self.columns[name]

    def enrolled(self, grades: tuple[int, ...]) -> IntArray:
        """Each school's enrolment summed over ``grades`` (grades without a column count 0)."""
        out = np.zeros(self.n_schools, dtype=np.int64)
        for g in grades:
            if g in self.enrolment:
                out += self.enrolment[g]
        return out

    @classmethod
    def from_columns(
        cls, columns: Mapping[str, object], enrolment: Mapping[int, object], *, source: str = "<frame>"
    ) -> SchoolFrame:
        """A frame from already-clean columns (a simulator's country); no checks beyond lengths."""
        cols = {k: np.asarray(v, dtype=np.str_) for k, v in columns.items()}
        n = cols["school_code"].size
        cols.setdefault("sector", np.full(n, "public"))
        enr = {int(g): np.asarray(v, dtype=np.int64) for g, v in enrolment.items()}
        if any(a.shape != (n,) for a in [*cols.values(), *enr.values()]):
            raise ValueError("every column of a frame needs one value per school")
        return cls(source, cols, enr, np.arange(2, n + 2, dtype=np.int64))


# ============================================================================================ reading
def read_frame(path: str | Path, *, limits: ReadLimits = FRAME_LIMITS) -> SchoolFrame:
    """Read and check a frame file (``.csv`` or ``.xlsx`` by extension).

    Raises
    ------
    FrameError
        Every problem of the file, by row and column (the first ``limits.max_problems`` listed).
    """
    return frame_from_table(read_table(path, limits=limits), limits=limits)


def parse_frame_csv(raw: bytes, *, source: str = "<csv>", limits: ReadLimits = FRAME_LIMITS) -> SchoolFrame:
    """Check a frame given as CSV bytes (see :func:`read_frame`)."""
    return frame_from_table(parse_csv_table(raw, source=source, limits=limits), limits=limits)


def parse_frame_xlsx(raw: bytes, *, source: str = "<xlsx>", limits: ReadLimits = FRAME_LIMITS) -> SchoolFrame:
    """Check a frame given as XLSX bytes (see :func:`read_frame`)."""
    return frame_from_table(parse_xlsx_table(raw, source=source, limits=limits), limits=limits)


class _Problems:
    """Problems in file order (row, then column position), the first ``limit`` kept and the rest counted."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[tuple[int, int, Problem]] = []

    def add(self, row: int, column: int, where: str, message: str) -> None:
        self.items.append((row, column, Problem(where, message)))

    def raise_if_any(self, source: str) -> None:
        if not self.items:
            return
        ordered = [p for _r, _c, p in sorted(self.items, key=lambda t: (t[0], t[1]))]
        raise FrameError(source, ordered[: self.limit], more=max(0, len(ordered) - self.limit))


def _control_character(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in {"Cc", "Cs", "Cn"}:
            return ch
    return None


def frame_from_table(table: Table, *, limits: ReadLimits = FRAME_LIMITS) -> SchoolFrame:
    """Check a table read by :mod:`itembank.tabular` as a frame (see the module docstring).

    Raises
    ------
    FrameError
        Every problem, by row and column.
    """
    source = table.source
    problems = _Problems(limits.max_problems)
    if table.problems or not table.rows:
        raise FrameError(source, table.problems or (Problem("", "the file is empty"),))
    header_row = table.rows[0]
    header = [h.strip().lower() for h in header_row.cells]
    while header and not header[-1]:
        header.pop()
    hw = f"row {header_row.number}"
    grades: dict[int, int] = {}
    for i, name in enumerate(header):
        m = _GRADE_COLUMN.match(name)
        if not name:
            problems.add(1, i, hw, f"column {i + 1} has no name")
        elif header.index(name) != i:
            problems.add(1, i, hw, f"column {name!r} appears twice")
        elif m is not None:
            g = int(m.group(1))
            if not 3 <= g <= 12:
                problems.add(1, i, hw, f"column {name!r}: grades run from 3 to 12")
            else:
                grades[g] = i
        elif name not in FRAME_COLUMNS:
            problems.add(1, i, hw, f"unknown column {name!r} (column {i + 1}); enrolments are grade_3 ... grade_12")
    for name in FRAME_COLUMNS:
        if name not in header and name not in _OPTIONAL:
            problems.add(1, len(header), hw, f"missing column {name!r}")
    if not grades:
        problems.add(1, len(header), hw, "no enrolment column: add grade_N columns (e.g. grade_4, grade_8)")
    for cell in table.cell_problems:
        name = header[cell.column] if cell.column < len(header) and header[cell.column] else f"column {cell.column + 1}"
        problems.add(cell.row, cell.column, f"row {cell.row}, {name}", cell.message)
    problems.raise_if_any(source)  # a broken header would make every row a problem: stop here
    data = table.rows[1:]
    if not data:
        raise FrameError(source, (Problem("", "the frame has a header but no school"),))
    pos = {name: header.index(name) for name in FRAME_COLUMNS if name in header}
    values: dict[str, list[str]] = {name: [] for name in FRAME_COLUMNS}
    enrol: dict[int, list[int]] = {g: [] for g in grades}
    first_row: dict[str, int] = {}
    declared: dict[tuple[str, str], tuple[int, tuple[str, ...]]] = {}
    for record in data:
        r = record.number
        cells = record.cells
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.add(r, len(header), f"row {r}", f"{len(cells)} cells but only {len(header)} columns")

        row_vals: dict[str, str] = {}
        for name in FRAME_COLUMNS:
            i_col = pos.get(name)
            text = cells[i_col].strip() if i_col is not None and i_col < len(cells) else ""
            col = pos.get(name, len(header))
            where = f"row {r}, {name}"
            if name in {"region", "locale", "sector"}:
                table_of = {"region": _REGION, "locale": _LOCALE, "sector": _SECTOR}[name]
                norm = table_of.get(text.lower() if text.isascii() else text)
                if norm is None:
                    choices = " / ".join(k for k in table_of if k)
                    problems.add(r, col, where, f"{text!r} is not one of {choices}" if text else "empty cell")
                    norm = ""
                row_vals[name] = norm
                continue
            if not text:
                problems.add(r, col, where, "empty cell")
            elif len(text) > _MAX_LENGTH[name]:
                problems.add(r, col, where, f"{len(text)} characters, more than {_MAX_LENGTH[name]}")
            elif name.endswith("_code") and not _CODE_RE.match(text):
                problems.add(r, col, where, f"{text!r}: a code has letters, digits, '.', '_' and '-' only")
            elif (bad := _control_character(text)) is not None:
                problems.add(r, col, where, f"control character U+{ord(bad):04X} in the name")
            row_vals[name] = text
        code = row_vals["school_code"]
        if code:
            if code in first_row:
                problems.add(
                    r, pos["school_code"], f"row {r}, school_code", f"{code!r} is already on row {first_row[code]}"
                )
            else:
                first_row[code] = r
        for level, parent_value in (
            ("province", (row_vals["province"], row_vals["region"])),
            ("city", (row_vals["city"], row_vals["province_code"])),
            ("county", (row_vals["county"], row_vals["city_code"])),
        ):
            key_code = row_vals[f"{level}_code"]
            if not key_code or not all(parent_value):
                continue
            seen = declared.setdefault((level, key_code), (r, parent_value))
            if seen[1] != parent_value:
                what = {"province": "name and region", "city": "name and province", "county": "name and city"}[level]
                problems.add(
                    r, pos[f"{level}_code"], f"row {r}, {level}_code",
                    f"{level} {key_code!r} has another {what} on row {seen[0]} ({' / '.join(seen[1])})",
                )  # fmt: skip
        for g, i in grades.items():
            text = cells[i].strip() if i < len(cells) else ""
            n = 0
            if text and not _WHOLE.match(text):
                problems.add(r, i, f"row {r}, grade_{g}", f"{text!r} is not a whole number of students")
            elif text:
                n = int(float(text))
                if n > MAX_ENROLMENT:
                    problems.add(r, i, f"row {r}, grade_{g}", f"{n:,} students, more than {MAX_ENROLMENT:,}")
                    n = 0
            enrol[g].append(n)
        for name in FRAME_COLUMNS:
            values[name].append(row_vals[name])
    problems.raise_if_any(source)
    return SchoolFrame(
        source,
        {k: np.asarray(v, dtype=np.str_) for k, v in values.items()},
        {g: np.asarray(v, dtype=np.int64) for g, v in sorted(enrol.items())},
        np.asarray([rec.number for rec in data], dtype=np.int64),
    )
