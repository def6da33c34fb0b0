"""Benchmark: the profile charts in reportlab.graphics (reports/charts.py) against matplotlib.

The same two charts are made both ways, a level-distribution bar chart with interval whiskers and a
caterpillar of 600 school means with intervals, and each is turned into what the reports need:
a PDF drawing and an SVG. Then every chart of a school and of a region profile is timed the way the
PDF uses them. Prints ms per chart.

    .venv/bin/python bench/charts.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

import numpy as np


def _best(fn: Callable[[], object], repeat: int) -> float:
    """Median ms of ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
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
    print(f"median of {args.repeat} runs; the national caterpillar has {n_schools} schools")
    for name, fn in rows:
        print(f"  {name:<44} {_best(fn, args.repeat):8.2f} ms")


if __name__ == "__main__":
    main()
