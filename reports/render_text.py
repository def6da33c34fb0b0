"""Plain-text tables for a terminal: the regional summary and the CAT-study table.

Rendering only: the numbers come from :mod:`reports.regions` and :mod:`assess.simulate.study`.
Chinese characters take two terminal columns, so cells are padded by display width
(:func:`pad_cell`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # types only: padding a cell (the exposure command) loads no simulation code
    from assess.simulate.study import CatStudy
    from reports.profile import Profile
    from reports.regions import RegionSummary

__all__ = ["format_profile_summary", "format_region_table", "format_study", "pad_cell", "text_width"]


def text_width(text: str) -> int:
    """Terminal columns ``text`` takes (East Asian wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad_cell(text: str, width: int, *, right: bool = True) -> str:
    """Pad ``text`` to ``width`` terminal columns, right-aligned unless ``right`` is false."""
    pad = " " * max(0, width - text_width(text))
    return pad + text if right else text + pad


def format_region_table(regions: Sequence[RegionSummary]) -> str:
    """区域 / 学生数 / 平均量表分 / 达标率, one line per region under a header."""
    widths = (6, 10, 12, 10)

    def line(cells: Sequence[str]) -> str:
        return "".join(pad_cell(c, w, right=i > 0) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    lines = [line(("区域", "学生数", "平均量表分", "达标率"))]
    lines += [line((r.region, f"{r.students:,}", f"{r.mean_scale:.1f}", f"{r.pass_rate:.1%}")) for r in regions]
    return "\n".join(lines)


def format_profile_summary(profiles: Sequence[Profile]) -> str:
    """区域 / 学校数 / 学生数 / 平均量表分 and its SE / 达标率 and its SE, one line per profile.

    The numbers are printed as the report files print them (:mod:`reports.formatting`: scores to
    one decimal, shares as percentages, their SEs in percentage points); a withheld profile shows
    ``—`` and why.
    """
    from reports.formatting import format_count, format_estimate, format_se

    names = max((text_width(p.identity.name) for p in profiles), default=0)
    widths = (max(8, names + 2), 8, 10, 12, 8, 10, 8)

    def line(cells: Sequence[str]) -> str:
        return "".join(pad_cell(c, w, right=i > 0) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    lines = [line(("区域", "学校数", "学生数", "平均量表分", "标准误", "达标率", "标准误"))]
    for p in profiles:
        part = p.participation
        cells = (
            p.identity.name, format_count(part.schools_participating), format_count(part.students_assessed),
            format_estimate(p.mean), format_se(p.mean), format_estimate(p.pass_rate, share=True),
            format_se(p.pass_rate, share=True),
        )  # fmt: skip
        lines.append(line(cells) + (f"  （{p.suppressed}）" if p.suppressed else ""))
    return "\n".join(lines)


def _fmt(x: float, spec: str) -> str:
    return "-" if not np.isfinite(x) else format(x, spec)


def format_study(study: CatStudy) -> str:
    """The study as plain-text tables: one summary line per method, then bias/RMSE by ability band."""
    bp = study.blueprint
    lines = [
        f"CAT study: {study.n_examinees} examinees, pool of {study.bank_size} operational items",
        f"blueprint: {bp.min_items}-{bp.max_items} items, SE stop {bp.se_target:g}, "
        f"{len(bp.content)} content rules, randomesque k={bp.randomesque_k}, "
        f"Sympson-Hetter {'on' if bp.sympson_hetter else 'off'}",
        "",
    ]
    head = (
        f"{'method':<19}{'N':>7}{'pool':>6}{'length':>14}{'bias':>8}{'RMSE':>7}{'rel':>7}{'r^2':>7}"
        f"{'content':>9}{'maxexp':>8}{'unused':>8}{'chi2':>9}{'overlap':>8}{'time s':>8}{'ms/ex':>8}"
    )
    lines += [head, "-" * len(head)]
    for m in study.methods:
        e = m.exposure
        length = f"{m.length_mean:.1f} [{m.length_min}-{m.length_max}]"
        lines.append(
            f"{m.name:<19}{m.n_examinees:>7}{e.pool_size:>6}{length:>14}{_fmt(m.bias, '+.3f'):>8}"
            f"{_fmt(m.rmse, '.3f'):>7}{_fmt(m.reliability, '.3f'):>7}{_fmt(m.squared_correlation, '.3f'):>7}"
            f"{_fmt(100 * m.content_attainment, '.1f'):>8}%{_fmt(e.max_rate, '.3f'):>8}"
            f"{_fmt(100 * e.never_used, '.1f'):>7}%{_fmt(e.chi_square, '.1f'):>9}{_fmt(e.overlap, '.3f'):>8}"
            f"{m.seconds:>8.2f}{m.ms_per_examinee:>8.3f}"
        )
    lines.append("")
    lines.append("conditional bias / RMSE by band of true theta")
    band_head = f"{'true theta':<17}" + "".join(f"{m.name:>22}" for m in study.methods)
    sub_head = f"{'':<17}" + "".join(f"{'n':>6}{'bias':>8}{'RMSE':>8}" for _ in study.methods)
    lines += [band_head, sub_head, "-" * len(band_head)]
    edges = study.band_edges
    for b in range(edges.size - 1):
        lo = "   -inf" if not np.isfinite(edges[b]) else f"{edges[b]:+7.2f}"
        hi = "+inf" if not np.isfinite(edges[b + 1]) else f"{edges[b + 1]:+.2f}"
        row = f"{lo} .. {hi:<6}"
        row = f"{row:<17}"
        for m in study.methods:
            row += (
                f"{int(m.band_n[b]):>6}{_fmt(float(m.band_bias[b]), '+.3f'):>8}{_fmt(float(m.band_rmse[b]), '.3f'):>8}"
            )
        lines.append(row)
    lines.append("")
    lines.append(
        "rel = 1 - mean(SE^2)/var(theta_hat); r^2 = squared correlation with true theta; content = sessions "
        "meeting every min/max; maxexp/unused/chi2/overlap = item exposure over the method's pool "
        "(Chang & Ying 1999; Chen, Ankenmann & Spray 2003)."
    )
    for m in study.methods:
        if m.note:
            lines.append(f"{m.name}: {m.note}")
    lines.extend(study.notes)
    return "\n".join(lines)
