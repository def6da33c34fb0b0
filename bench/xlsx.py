"""Benchmark: one profile's XLSX (the long table + data dictionary) with xlsxwriter vs openpyxl.

xlsxwriter (in memory, the renderer's mode, and constant-memory) against openpyxl's write-only
mode, all writing the same two sheets (every row of ``Profile.rows()`` with numbers as numbers,
and the column dictionary) to bytes in memory. Profiles: the small synthetic assessment of
tests/reports/small.py (a school and the nation). Prints ms per file.

    .venv/bin/python bench/xlsx.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import io
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def _values(profile: Any) -> list[list[object]]:
    from reports.files import CSV_COLUMNS

    rows: list[list[object]] = []
    for r in profile.rows():
        row: list[object] = []
        for name, _ in CSV_COLUMNS:
            v = getattr(r, name)
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            elif isinstance(v, bool):
                v = "是" if v else "否"
            row.append(v)
        rows.append(row)
    return rows


def _openpyxl(profile: Any) -> bytes:
    from openpyxl import Workbook

    from itembank.tabular import append_xlsx_row
    from reports.files import CSV_COLUMNS

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("统计")
    append_xlsx_row(ws, [name for name, _ in CSV_COLUMNS])
    for row in _values(profile):
        append_xlsx_row(ws, row)
    dictionary = wb.create_sheet("数据字典")
    append_xlsx_row(dictionary, ["column", "meaning"])
    for row in CSV_COLUMNS:
        append_xlsx_row(dictionary, list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsxwriter_constant_memory(profile: Any) -> bytes:
    import xlsxwriter

    from reports.render_xlsx import _data_sheet, _dictionary_sheet

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    _data_sheet(book, [profile])
    _dictionary_sheet(book)
    book.close()
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    from reports.render_xlsx import render_profile_xlsx
    from tests.reports.small import small_profiles

    profiles = small_profiles()
    for label, p in (("school", profiles.get("school", "32010101")), ("nation", profiles.get("national", "national"))):
        n = len(list(p.rows()))
        xw = _median_ms(lambda p=p: render_profile_xlsx(p), args.repeat)  # type: ignore[misc]
        cm = _median_ms(lambda p=p: _xlsxwriter_constant_memory(p), args.repeat)  # type: ignore[misc]
        op = _median_ms(lambda p=p: _openpyxl(p), args.repeat)  # type: ignore[misc]
        print(
            f"{label} profile ({n} rows): xlsxwriter in memory {xw:6.2f} ms, constant_memory {cm:6.2f} ms, "
            f"openpyxl write_only {op:6.2f} ms ({op / xw:.1f}x the first)"
        )


if __name__ == "__main__":
    main()
