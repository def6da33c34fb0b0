"""The XLSX of a profile reopens (openpyxl) with the same rows and numbers as the CSV, and text stays text."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from itembank.tabular import restore_cell
from reports.files import CSV_COLUMNS, available_formats, profile_csv
from reports.profile import Profile
from reports.render_xlsx import DATA_SHEET, DICTIONARY_SHEET, render_profile_xlsx, render_profiles_xlsx
from tests.reports.small import small_profiles


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _sheet_rows(data: bytes, sheet: str = DATA_SHEET) -> list[tuple[object, ...]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [tuple(row) for row in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()


NUMERIC = {"estimate", "se", "se_sampling", "se_measurement", "df", "ci_low", "ci_high", "n_students", "n_schools"}


def _same(column: str, xlsx: object, text: str) -> bool:
    """An XLSX cell holds what a CSV cell says: the number itself (number columns), the text itself, or nothing."""
    if text == "":
        return xlsx is None
    if column in NUMERIC:
        return isinstance(xlsx, int | float) and not isinstance(xlsx, bool) and float(xlsx) == float(text)
    return xlsx == restore_cell(text)  # codes such as 32010101 stay text


@pytest.mark.parametrize(("level", "code"), [("school", "32010101"), ("county", "320101"), ("school", "51010207")])
def test_the_workbook_has_the_csv_rows_with_numbers_as_numbers(level: str, code: str) -> None:
    p = small_profiles().get(level, code)
    expected = _csv_rows(profile_csv(p))
    got = _sheet_rows(render_profile_xlsx(p))
    assert len(got) == len(expected) == len(list(p.rows())) + 1
    assert list(got[0]) == expected[0] == [name for name, _ in CSV_COLUMNS]
    for want, have in zip(expected[1:], got[1:], strict=True):
        assert len(have) == len(want)
        for column, text, cell in zip(expected[0], want, have, strict=True):
            assert _same(column, cell, text), (column, text, cell)
    mean = next(r for r in got if r[3] == "mean")
    estimate = mean[expected[0].index("estimate")]
    if p.reported:
        assert isinstance(estimate, float) and estimate == round(p.mean.estimate, 6)
        assert mean[expected[0].index("n_students")] == p.mean.n_students
    else:
        assert estimate is None and mean[expected[0].index("suppressed")] == p.suppressed


def test_the_data_dictionary_sheet_says_what_each_column_means() -> None:
    rows = _sheet_rows(render_profile_xlsx(small_profiles().get("school", "32010101")), DICTIONARY_SHEET)
    assert rows[0] == ("column", "meaning") and rows[1:] == list(CSV_COLUMNS)


def test_text_that_looks_like_a_formula_stays_text() -> None:
    p: Profile = small_profiles().get("school", "32010101")
    evil = replace(p, identity=replace(p.identity, name='=HYPERLINK("http://x","点此")', code="@SUM(A1)\x01"))
    book = load_workbook(io.BytesIO(render_profile_xlsx(evil)))
    sheet = book[DATA_SHEET]
    name, code = sheet.cell(row=2, column=3), sheet.cell(row=2, column=2)
    assert name.value == '=HYPERLINK("http://x","点此")' and name.data_type == "s" and name.quotePrefix
    assert code.value == "@SUM(A1)\ufffd" and code.data_type == "s" and code.quotePrefix
    plain = sheet.cell(row=2, column=4)
    assert plain.value == "mean" and not plain.quotePrefix


def test_many_profiles_in_one_workbook_and_the_registered_format() -> None:
    county = small_profiles().get("county", "320101")
    schools = [p for p in small_profiles().at("school") if p.identity.code.startswith("320101")]
    rows = _sheet_rows(render_profiles_xlsx([county, *schools]))
    assert {r[1] for r in rows[1:]} == {"320101", *(s.identity.code for s in schools)}
    assert available_formats()["xlsx"] is render_profile_xlsx
    assert all(not (isinstance(v, float) and math.isnan(v)) for r in rows for v in r)
