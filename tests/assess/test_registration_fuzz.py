"""Fuzzing the people import (CSV and XLSX): no crash, and a refused file writes nothing.

The readers turn any bytes into problems; :func:`assess.registration.register_students` raises
only :class:`~assess.exceptions.RegistrationError`, and when it does the people tree is exactly as
it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy.engine import Engine

from assess.exceptions import RegistrationError
from assess.registration import COLUMNS, parse_csv, parse_xlsx
from itembank.tabular import append_xlsx_row
from tests.assess.test_registration import BASE, FAST, counts, register

DB_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
NASTY = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\u202e反转", "=1+1", "'=1+1", "@SUM(A1)", "-1", "; DROP TABLE student; --",
     "<b>x</b>", "\r\n", '"', "校" * 200, "4年级", "4.0", "F", "女", "东部", "城区"]
)  # fmt: skip
TEXT = (st.text(max_size=20) | NASTY).map(lambda t: t.replace("\ud800", ""))
CELL = st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False) | TEXT


def _register_or_refuse(engine: Engine, parsed: Any) -> None:
    before = counts(engine)
    try:
        register(engine, parsed, hasher=FAST)
    except RegistrationError as error:
        assert error.problems and counts(engine) == before


@given(st.binary(max_size=3000))
def test_any_bytes_read_as_problems_not_exceptions(raw: bytes) -> None:
    for parsed in (parse_csv(raw), parse_xlsx(raw)):
        assert parsed.rows or parsed.problems or parsed.columns


def _rows(changes: list[tuple[int, str, str]], n: int = 3) -> list[dict[str, Any]]:
    rows = [{**BASE, "student_code": f"FZ{k}"} for k in range(n)]
    for index, column, value in changes:
        rows[index % n][column] = value
    return rows


@DB_SETTINGS
@given(changes=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(COLUMNS), TEXT), min_size=1, max_size=8))
def test_mutated_csv_registers_or_changes_nothing(engine: Engine, changes: list[tuple[int, str, str]]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in _rows(changes):
        writer.writerow([r[c] for c in COLUMNS])
    _register_or_refuse(engine, parse_csv(("\ufeff" + out.getvalue()).encode("utf-8")))


@DB_SETTINGS
@given(
    changes=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(COLUMNS), CELL | st.just(dt.datetime(2025, 5, 1))),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_xlsx_registers_or_changes_nothing(engine: Engine, changes: list[tuple[int, str, Any]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    append_xlsx_row(sheet, list(COLUMNS))
    for r in _rows(changes):
        append_xlsx_row(sheet, [r[c] for c in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    _register_or_refuse(engine, parse_xlsx(buffer.getvalue()))


@DB_SETTINGS
@given(records=st.lists(st.dictionaries(st.sampled_from([*COLUMNS, "姓名", "x"]), CELL, max_size=16), max_size=4))
def test_records_of_any_shape_register_or_change_nothing(engine: Engine, records: list[dict[str, Any]]) -> None:
    _register_or_refuse(engine, records)
