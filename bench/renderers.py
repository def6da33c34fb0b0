"""Benchmark: the rendering libraries chosen for the reports, against the alternatives.

Charts: the same two charts both ways, a level-distribution bar chart with interval whiskers and a
caterpillar of 600 school means with intervals, in reportlab.graphics (reports/charts.py) and in
matplotlib, each turned into what the reports need (a PDF drawing and an SVG); then every chart of
a school and of the national profile as the PDF draws them.

Workbooks: one profile's XLSX (every row of ``Profile.rows()`` with numbers as numbers, and the
column dictionary) with xlsxwriter in memory (reports/render_xlsx.py), xlsxwriter in
constant-memory mode, and openpyxl's write-only mode.

Profiles: the small synthetic assessment of tests/reports/small.py. Prints the median ms of
``--repeat`` runs of each.

    .venv/bin/python bench/renderers.py [--repeat 30] [--only charts|xlsx]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# the repository first: this folder holds bench/reports.py, which must not stand in for the reports package
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import io
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median ms of ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


# ============================================================================================ charts
def _fake_profiles() -> tuple[object, object]:
    from tests.reports.small import small_profiles

    profiles = small_profiles()
    school = max(profiles.at("school"), key=lambda p: p.participation.students_assessed)
    return school, profiles.get("national", "national")


def _matplotlib_levels(shares: list[float], lo: list[float], hi: list[float], fmt: str) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 2.2))
    x = np.arange(4)
    ax.bar(x, shares, color=["#c6d8ee", "#86b0dc", "#3f7fc1", "#1b4a86"])
    ax.errorbar(x, shares, yerr=[np.subtract(shares, lo), np.subtract(hi, shares)], fmt="none", ecolor="k")
    ax.set_xticks(x, ["L1", "L2", "L3", "L4"])
    for k, v in enumerate(shares):
        ax.text(k + 0.32, v, f"{100 * v:.1f}%")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()


def _matplotlib_caterpillar(means: np.ndarray, half: np.ndarray, fmt: str) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    x = np.arange(means.size)
    ax.vlines(x, means - half, means + half, linewidth=0.5)
    ax.plot(x, means, "k.", markersize=1.5)
    ax.axhline(float(means.mean()), linestyle="--", color="k")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()


def bench_charts(repeat: int) -> None:
    """The charts: reportlab.graphics (reports/charts.py) against matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    from reportlab.graphics import renderPDF
    from reportlab.pdfgen.canvas import Canvas

    from reports import charts
    from reports.fonts import register_fonts

    t0 = time.perf_counter()
    register_fonts()
    print(f"fonts registered in {1000 * (time.perf_counter() - t0):.0f} ms (once per process)")
    school, nation = _fake_profiles()
    shares = [lv.stat.estimate for lv in school.levels]  # type: ignore[attr-defined]
    lo = [lv.stat.ci_low for lv in school.levels]  # type: ignore[attr-defined]
    hi = [lv.stat.ci_high for lv in school.levels]  # type: ignore[attr-defined]
    rng = np.random.default_rng(1)
    means = np.sort(rng.normal(500, 60, 600))
    half = rng.uniform(8, 25, 600)

    def to_pdf(chart: charts.Chart | None) -> None:
        assert chart is not None
        canvas = Canvas(io.BytesIO())
        renderPDF.draw(chart.drawing, canvas, 0, 0)

    from dataclasses import replace

    from reports.profile import SchoolPoint, Stat

    points = tuple(
        SchoolPoint(f"学校 {k + 1}", None, None, k + 1, Stat(m, h / 1.96, h / 1.96, 0.0, 30.0, m - h, m + h, 60, 1))
        for k, (m, h) in enumerate(zip(means.tolist(), half.tolist(), strict=True))
    )
    big = replace(nation, spread=replace(nation.spread, schools=points, names_shown=False))  # type: ignore[type-var]
    rows = [
        ("level bars: draw + into a PDF page", lambda: to_pdf(charts.draw_level_distribution(school))),  # type: ignore[arg-type]
        ("level bars: draw + SVG", lambda: charts.chart_svg(charts.draw_level_distribution(school), "x")),  # type: ignore[arg-type]
        ("level bars: matplotlib PDF", lambda: _matplotlib_levels(shares, lo, hi, "pdf")),
        ("level bars: matplotlib SVG", lambda: _matplotlib_levels(shares, lo, hi, "svg")),
        ("caterpillar: draw + into a PDF page", lambda: to_pdf(charts.draw_caterpillar(big))),  # type: ignore[arg-type]
        ("caterpillar: draw + SVG", lambda: charts.chart_svg(charts.draw_caterpillar(big), "x")),  # type: ignore[arg-type]
        ("caterpillar (600): matplotlib PDF", lambda: _matplotlib_caterpillar(means, half, "pdf")),
        ("caterpillar (600): matplotlib SVG", lambda: _matplotlib_caterpillar(means, half, "svg")),
        ("all charts of a school profile: draw", lambda: charts.draw_profile_charts(school)),  # type: ignore[arg-type]
        ("all charts of the national profile: draw", lambda: charts.draw_profile_charts(big)),  # type: ignore[arg-type]
    ]
    n_schools = len(big.spread.schools)  # type: ignore[attr-defined]
    print(f"median of {repeat} runs; the national caterpillar has {n_schools} schools")
    for name, fn in rows:
        print(f"  {name:<44} {_median_ms(fn, repeat):8.2f} ms")


# ============================================================================================ workbooks
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


def bench_xlsx(repeat: int) -> None:
    """One profile's workbook: xlsxwriter (in memory, constant-memory) against openpyxl write-only."""
    from reports.render_xlsx import render_profile_xlsx
    from tests.reports.small import small_profiles

    profiles = small_profiles()
    for label, p in (("school", profiles.get("school", "32010101")), ("nation", profiles.get("national", "national"))):
        n = len(list(p.rows()))
        xw = _median_ms(lambda p=p: render_profile_xlsx(p), repeat)  # type: ignore[misc]
        cm = _median_ms(lambda p=p: _xlsxwriter_constant_memory(p), repeat)  # type: ignore[misc]
        op = _median_ms(lambda p=p: _openpyxl(p), repeat)  # type: ignore[misc]
        print(
            f"{label} profile ({n} rows): xlsxwriter in memory {xw:6.2f} ms, constant_memory {cm:6.2f} ms, "
            f"openpyxl write_only {op:6.2f} ms ({op / xw:.1f}x the first)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", choices=("charts", "xlsx"), default=None)
    args = parser.parse_args()
    if args.only in (None, "charts"):
        bench_charts(args.repeat)
    if args.only in (None, "xlsx"):
        bench_xlsx(args.repeat)


if __name__ == "__main__":
    main()
