"""Charts of a profile, each built once as a vector drawing: the PDF embeds it, a web page inlines it as SVG.

One module for every picture of a profile, so the PDF and the consoles show the same thing:

- :func:`draw_level_distribution`: the share in each proficiency level with its 95% interval,
  and the 达标率 bracket over the levels at or above the pass line;
- :func:`draw_comparison`: the group's mean with its interval beside its parent areas' and the
  nation's, differences marked where significant;
- :func:`draw_gaps`: girls vs boys, urban vs rural, grade by grade, as bars from zero with
  intervals, significant gaps filled;
- :func:`draw_percentiles`: the band from the 10th to the 90th percentile (25th-75th darker), the
  median and the mean, with the grade band's cut scores;
- :func:`draw_caterpillar`: a region's school means with intervals, lowest first (named rows for a
  few schools where names may be shown, an unnamed caterpillar otherwise);
- :func:`draw_dimensions`: each dimension's mean with its interval against the overall mean, a
  flag instead of a dot where the subscore is too unreliable to read.

And the researcher console's item pictures: :func:`draw_item_curves`, :func:`draw_test_information`,
:func:`draw_option_traces` (a distractor analysis: each option's share by ability group) and
:func:`draw_drift` (the common items' difficulties in two calibrations).

Each returns a :class:`Chart` (the drawing, a title and a Chinese description that is the chart's
alternative text), or ``None`` when there is nothing to draw (every number withheld). Library:
``reportlab.graphics``. It draws natively into the PDF (a drawing is a platypus flowable) and to
SVG with the same geometry; ``bench/renderers.py`` measures a few ms per chart against tens of ms for
the same chart in matplotlib, which matters when 776 profiles carry six charts each.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Circle, Drawing, Line, Path, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.fonts import BOLD, REGULAR, SVG_FONT_FAMILY, register_fonts
from reports.formatting import (
    MINUS,
    format_ci,
    format_difference,
    format_score,
    format_share,
    significance_mark,
)
from reports.profile import Comparison, Profile, SchoolPoint, Stat
from scoring.params import ItemParams

__all__ = [
    "CURVE_COLOURS",
    "LEVEL_COLOURS",
    "THETA_RANGE",
    "WIDTH",
    "Chart",
    "chart_svg",
    "draw_caterpillar",
    "draw_comparison",
    "draw_dimensions",
    "draw_drift",
    "draw_gaps",
    "draw_item_curves",
    "draw_level_distribution",
    "draw_option_traces",
    "draw_percentiles",
    "draw_profile_charts",
    "draw_test_information",
]

WIDTH = 470.0
"""Default chart width in points (the text width of an A4 page with 2 cm margins, less a little)."""
LEVEL_COLOURS = ("#c6d8ee", "#86b0dc", "#3f7fc1", "#1b4a86")
"""Fill of the four levels, lowest first (one sequential blue: the levels are ordered)."""
INK = colors.HexColor("#1f2328")
MUTED = colors.HexColor("#6b7280")
GRID = colors.HexColor("#e5e7eb")
OWN = colors.HexColor("#1b4a86")
OTHER = colors.HexColor("#8a94a6")
ABOVE = colors.HexColor("#1b4a86")
BELOW = colors.HexColor("#c2571a")
NEUTRAL = colors.HexColor("#a3acb9")

_LABEL_W = 118.0
_VALUE_W = 118.0
_ROW_H = 19.0
_AXIS_H = 22.0
_TOP = 16.0


@dataclass(frozen=True, eq=False)
class Chart:
    """A chart: the vector drawing (a platypus flowable), its title and its alternative text."""

    drawing: Drawing
    title: str
    description: str
    kind: str = ""


# ============================================================================================ helpers
def _drawing(width: float, height: float) -> Drawing:
    """A drawing whose initial font is ours (reportlab's default would put an unembedded Helvetica in the PDF)."""
    d = Drawing(width, height)
    d.initialFontName = REGULAR
    d.initialFontSize = 8
    return d


def _fit(text: str, width: float, size: float, font: str = REGULAR) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    span = max(hi - lo, 1e-9)
    mag = 10 ** math.floor(math.log10(span / n))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if span / (m * mag) <= n)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def _range(
    values: Sequence[float], pad: float, floor: float | None = None, ceil: float | None = None
) -> tuple[float, float]:
    """An axis range on round ticks around the finite ``values`` (padded by ``pad``, clamped)."""
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite) - pad, max(finite) + pad) if finite else (0.0, 1.0)
    ticks = _ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else hi - lo
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return (lo if floor is None else max(lo, floor), hi if ceil is None else min(hi, ceil))


@dataclass(frozen=True)
class _Axis:
    lo: float
    hi: float
    x0: float
    x1: float

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.x0 + (v - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0)


def _text(d: Drawing, x: float, y: float, text: str, *, size: float = 8.0, anchor: str = "start",
          bold: bool = False, colour: colors.Color = INK) -> None:  # fmt: skip
    d.add(String(x, y, text, fontName=BOLD if bold else REGULAR, fontSize=size, textAnchor=anchor, fillColor=colour))


def _x_axis(d: Drawing, axis: _Axis, y: float, top: float, fmt: str = "score") -> None:
    """Ticks, labels and light vertical grid lines from ``y`` up to ``top``."""
    d.add(Line(axis.x0, y, axis.x1, y, strokeColor=MUTED, strokeWidth=0.6))
    for t in _ticks(axis.lo, axis.hi):
        x = axis(t)
        d.add(Line(x, y, x, top, strokeColor=GRID, strokeWidth=0.5))
        d.add(Line(x, y, x, y - 3, strokeColor=MUTED, strokeWidth=0.6))
        label = f"{100 * t:.0f}%" if fmt == "share" else f"{t:+g}" if fmt == "diff" and t else f"{t:g}"
        label = label.replace("-", MINUS)
        _text(d, x, y - 11, label, size=7, anchor="middle", colour=MUTED)


@dataclass(frozen=True)
class _Row:
    label: str
    stat: Stat
    colour: colors.Color
    value: str
    bold: bool = False
    filled: bool = True
    note: str = ""


@dataclass(frozen=True)
class _Rows:
    """A chart of horizontal rows: label | dot (or bar from ``bar_from``) with its interval | value."""

    rows: Sequence[_Row]
    lo: float
    hi: float
    width: float = WIDTH
    bar_from: float | None = None
    fmt: str = "score"
    references: Sequence[tuple[float, str]] = field(default_factory=tuple)

    def draw(self) -> Drawing:
        height = _TOP + len(self.rows) * _ROW_H + _AXIS_H
        d = _drawing(self.width, height)
        axis = _Axis(self.lo, self.hi, _LABEL_W, self.width - _VALUE_W)
        bottom = _AXIS_H
        _x_axis(d, axis, bottom, height - _TOP + 4, self.fmt)
        _references(d, axis, self.references, bottom, height - _TOP + 4)
        for k, row in enumerate(self.rows):
            y = height - _TOP - (k + 0.5) * _ROW_H
            _text(d, _LABEL_W - 6, y - 3, _fit(row.label, _LABEL_W - 10, 8.5, BOLD if row.bold else REGULAR),
                  size=8.5, anchor="end", bold=row.bold)  # fmt: skip
            _text(d, self.width - _VALUE_W + 6, y - 3, _fit(row.value, _VALUE_W - 8, 8), size=8, bold=row.bold)
            s = row.stat
            if not s.reported:
                _text(d, axis.x0 + 4, y - 3, _fit(row.note or f"隐去：{s.suppressed}", axis.x1 - axis.x0 - 8, 7.5),
                      size=7.5, colour=MUTED)  # fmt: skip
                continue
            if self.bar_from is not None:
                x0, x1 = sorted((axis(self.bar_from), axis(s.estimate)))
                fill = row.colour if row.filled else colors.white
                d.add(Rect(x0, y - 5, max(x1 - x0, 0.8), 10, fillColor=fill, strokeColor=row.colour, strokeWidth=0.8))
            lo, hi = axis(s.ci_low), axis(s.ci_high)
            d.add(Line(lo, y, hi, y, strokeColor=INK if self.bar_from is not None else row.colour, strokeWidth=1.1))
            for x in (lo, hi):
                d.add(Line(x, y - 3, x, y + 3, strokeColor=INK if self.bar_from is not None else row.colour,
                           strokeWidth=1.1))  # fmt: skip
            if self.bar_from is None:
                d.add(Circle(axis(s.estimate), y, 3.2, fillColor=row.colour if row.filled else colors.white,
                             strokeColor=row.colour, strokeWidth=1))  # fmt: skip
        if self.bar_from is not None:
            x = axis(self.bar_from)
            d.add(Line(x, bottom, x, height - _TOP + 4, strokeColor=INK, strokeWidth=0.8))
        return d


def _references(d: Drawing, axis: _Axis, refs: Sequence[tuple[float, str]], bottom: float, top: float) -> None:
    """Dashed vertical reference lines, labelled above; labels of nearby lines spread apart."""
    xs = sorted((axis(v), label) for v, label in refs)
    for k, (x, label) in enumerate(xs):
        d.add(Line(x, bottom, x, top, strokeColor=MUTED, strokeWidth=0.7, strokeDashArray=(3, 2)))
        near_left = k > 0 and x - xs[k - 1][0] < 70
        near_right = k + 1 < len(xs) and xs[k + 1][0] - x < 70
        anchor = "start" if near_left else "end" if near_right else "middle"
        _text(d, x + (2 if anchor == "start" else -2 if anchor == "end" else 0), top + 3, label, size=7,
              anchor=anchor, colour=MUTED)  # fmt: skip


# ============================================================================================ charts
def draw_level_distribution(p: Profile, *, width: float = WIDTH) -> Chart | None:
    """Share in each level (bars, 95% interval whiskers) and the 达标率 over the levels from the pass line up."""
    register_fonts()
    shown = [lv for lv in p.levels if lv.stat.reported]
    if not shown:
        return None
    height = 166.0
    d = _drawing(width, height)
    base, top = 30.0, height - 36.0
    peak = max(max(lv.stat.ci_high, lv.stat.estimate) for lv in shown)
    ymax = min(1.0, max(0.25, math.ceil(peak * 10 + 0.5) / 10))
    x0, x1 = 48.0, width - 16.0
    for t in _ticks(0.0, ymax, 5):
        y = base + t / ymax * (top - base)
        d.add(Line(x0, y, x1, y, strokeColor=GRID, strokeWidth=0.5))
        _text(d, x0 - 5, y - 2.5, f"{100 * t:.0f}%", size=7, anchor="end", colour=MUTED)
    slot = (x1 - x0) / len(p.levels)
    names = [lv.level for lv in p.levels]
    pass_at = names.index(p.pass_level) if p.pass_level in names else len(names)
    for k, lv in enumerate(p.levels):
        cx = x0 + (k + 0.5) * slot
        _text(d, cx, base - 13, lv.level, size=8.5, anchor="middle", bold=k >= pass_at)
        s = lv.stat
        if not s.reported:
            _text(d, cx, base + 6, "隐去", size=7.5, anchor="middle", colour=MUTED)
            continue
        h = s.estimate / ymax * (top - base)
        colour = colors.HexColor(LEVEL_COLOURS[min(k, len(LEVEL_COLOURS) - 1)])
        d.add(Rect(cx - slot * 0.3, base, slot * 0.6, max(h, 0.6), fillColor=colour, strokeColor=None))
        lo = base + max(s.ci_low, 0.0) / ymax * (top - base)
        hi = base + min(s.ci_high, ymax) / ymax * (top - base)
        d.add(Line(cx, lo, cx, hi, strokeColor=INK, strokeWidth=0.9))
        for y in (lo, hi):
            d.add(Line(cx - 3, y, cx + 3, y, strokeColor=INK, strokeWidth=0.9))
        _text(d, cx + slot * 0.3 + 2, base + h + 2, format_share(s.estimate), size=8, bold=True)
    d.add(Line(x0, base, x1, base, strokeColor=MUTED, strokeWidth=0.6))
    if p.pass_rate.reported and pass_at < len(names):
        bx0, bx1, by = x0 + pass_at * slot + 6, x1 - 6, height - 20.0
        d.add(Line(bx0, by, bx1, by, strokeColor=OWN, strokeWidth=1))
        for x in (bx0, bx1):
            d.add(Line(x, by, x, by - 5, strokeColor=OWN, strokeWidth=1))
        label = f"达标率 {format_share(p.pass_rate.estimate)}（{format_ci(p.pass_rate, share=True)}）"
        _text(d, (bx0 + bx1) / 2, by + 5, label, size=8.5, anchor="middle", bold=True, colour=OWN)
    parts = [f"{lv.level} {format_share(lv.stat.estimate) if lv.stat.reported else '隐去'}" for lv in p.levels]
    desc = "各水平学生占比：" + "，".join(parts)
    if p.pass_rate.reported:
        desc += f"；达标率（{p.pass_level}及以上）{format_share(p.pass_rate.estimate)}"
    return Chart(d, "各水平学生占比", desc + "。", "levels")


def _mean_comparisons(p: Profile) -> list[Comparison]:
    return [c for c in p.comparisons if c.statistic == "mean"]


def draw_comparison(p: Profile, *, width: float = WIDTH) -> Chart | None:
    """The group's mean with its 95% interval beside each larger group it belongs to (parent, nation)."""
    register_fonts()
    if not p.mean.reported:
        return None
    rows = [_Row(p.identity.name, p.mean, OWN, f"{format_score(p.mean.estimate)}（{format_ci(p.mean)}）", bold=True)]
    parts = [f"{p.identity.name} {format_score(p.mean.estimate)} 分"]
    for c in _mean_comparisons(p):
        mark = significance_mark(c.difference, c.significant)
        diff = f"差 {format_difference(c.difference)}{mark}" if c.difference.reported else "无法比较"
        rows.append(_Row(c.other_name, c.other, OTHER, f"{format_score(c.other.estimate)}  {diff}"))
        if c.other.reported:
            verdict = c.verdict if c.verdict == "无显著差异" else f"显著{c.verdict}"
            parts.append(f"{c.other_name} {format_score(c.other.estimate)} 分（{p.identity.name}与之相比{verdict}）")
    values = [v for r in rows if r.stat.reported for v in (r.stat.ci_low, r.stat.ci_high)]
    lo, hi = _range(values, 10.0)
    d = _Rows(rows, lo, hi, width).draw()
    return Chart(
        d, "平均量表分与上级区域、全国比较", "平均量表分（95% 置信区间）：" + "；".join(parts) + "。", "comparison"
    )


def draw_gaps(p: Profile, *, width: float = WIDTH) -> Chart | None:
    """Each gap (girls − boys, urban − rural, grade − grade) as a bar from zero with its interval."""
    register_fonts()
    if not p.gaps or not any(g.difference.reported for g in p.gaps):
        return None
    rows, parts = [], []
    for g in p.gaps:
        s = g.difference
        if s.reported:
            verdict = "显著" if g.significant else "不显著"
            value = f"{format_difference(s)}（{verdict}）"
            parts.append(f"{g.label} {format_difference(s)} 分，{verdict}")
        else:
            value = "—"
            parts.append(f"{g.label} 隐去（{s.suppressed}）")
        colour = (ABOVE if s.estimate > 0 else BELOW) if g.significant and s.reported else NEUTRAL
        rows.append(_Row(g.label, s, colour, value, filled=g.significant))
    reach = max((max(abs(r.stat.ci_low), abs(r.stat.ci_high)) for r in rows if r.stat.reported), default=10.0)
    lo, hi = _range([-reach, reach], 2.0)
    edge = max(abs(lo), abs(hi))
    d = _Rows(rows, -edge, edge, width, bar_from=0.0, fmt="diff").draw()
    return Chart(d, "群体差距（实心：差异显著）", "平均量表分的差距：" + "；".join(parts) + "。", "gaps")


def draw_percentiles(p: Profile, *, width: float = WIDTH) -> Chart | None:
    """The 10th-90th percentile band (25th-75th darker), median and mean, and the grade band's cut scores."""
    register_fonts()
    q = {x.p: x.stat for x in p.percentiles if x.stat.reported}
    if not {10, 25, 50, 75, 90} <= set(q):
        return None
    bands = {d.band for d in p.level_descriptions}
    cuts = [(d.lower, d.level) for d in p.level_descriptions if len(bands) == 1 and math.isfinite(d.lower)]
    lo, hi = _range([q[10].estimate, q[90].estimate, *(c for c, _ in cuts)], 20.0)
    height = 86.0
    d = _drawing(width, height)
    axis = _Axis(lo, hi, 20.0, width - 20.0)
    y, base = 46.0, 20.0
    _x_axis(d, axis, base, height - 14)
    for value, level in cuts:
        x = axis(value)
        d.add(Line(x, base, x, height - 14, strokeColor=MUTED, strokeWidth=0.7, strokeDashArray=(3, 2)))
        _text(d, x + 2, height - 12, f"{level} {value:g}", size=7, colour=MUTED)
    d.add(Rect(axis(q[10].estimate), y - 8, axis(q[90].estimate) - axis(q[10].estimate), 16,
               fillColor=colors.HexColor(LEVEL_COLOURS[0]), strokeColor=None))  # fmt: skip
    d.add(Rect(axis(q[25].estimate), y - 8, axis(q[75].estimate) - axis(q[25].estimate), 16,
               fillColor=colors.HexColor(LEVEL_COLOURS[1]), strokeColor=None))  # fmt: skip
    xm = axis(q[50].estimate)
    d.add(Line(xm, y - 10, xm, y + 10, strokeColor=OWN, strokeWidth=2))
    if p.mean.reported:
        d.add(Circle(axis(p.mean.estimate), y, 3.2, fillColor=colors.white, strokeColor=INK, strokeWidth=1.1))
    for pct in (10, 25, 50, 75, 90):
        _text(d, axis(q[pct].estimate), y + 12 if pct in (25, 75) else y - 18, f"P{pct} {q[pct].estimate:.0f}",
              size=7, anchor="middle", colour=INK)  # fmt: skip
    desc = "量表分分布：" + "，".join(
        f"第{pct}百分位数 {format_score(q[pct].estimate)}" for pct in (10, 25, 50, 75, 90)
    )
    if p.mean.reported:
        desc += f"；平均分 {format_score(p.mean.estimate)}（空心圆）"
    if cuts:
        desc += "；虚线为水平分数线：" + "，".join(f"{lv} {v:g}" for v, lv in cuts)
    return Chart(d, "量表分分布（第10至第90百分位数）", desc + "。", "percentiles")


def draw_dimensions(p: Profile, *, width: float = WIDTH) -> Chart | None:
    """Each dimension's mean with its interval against the overall mean; a flag where it is unreliable."""
    register_fonts()
    if not p.dimensions or not any(x.mean.reported for x in p.dimensions):
        return None
    rows, parts = [], []
    for dim in p.dimensions:
        s = dim.mean
        if s.reported:
            rows.append(_Row(dim.name, s, OWN, f"{format_score(s.estimate)}（{format_ci(s)}）"))
            parts.append(f"{dim.name} {format_score(s.estimate)}")
        else:
            note = f"信度 {dim.reliability:.2f}，过低，不宜解读" if dim.unreliable else f"隐去：{s.suppressed}"
            rows.append(_Row(dim.name, s, OTHER, "—", note=note))
            parts.append(f"{dim.name} 不报告（{s.suppressed}）")
    values = [v for r in rows if r.stat.reported for v in (r.stat.ci_low, r.stat.ci_high)]
    refs: list[tuple[float, str]] = []
    if p.mean.reported:
        values.append(p.mean.estimate)
        refs.append((p.mean.estimate, f"总分平均 {p.mean.estimate:.0f}"))
    lo, hi = _range(values, 10.0)
    d = _Rows(rows, lo, hi, width, references=refs).draw()
    return Chart(d, "各维度平均量表分", "各维度平均量表分：" + "；".join(parts) + "。", "dimensions")


def _national_mean(p: Profile) -> Stat | None:
    for c in _mean_comparisons(p):
        if c.other_level == "national" and c.other.reported:
            return c.other
    return None


def draw_caterpillar(p: Profile, *, width: float = WIDTH, named_rows: int = 30) -> Chart | None:
    """A region's school means with 95% intervals, lowest first, against the region's and the nation's mean.

    Up to ``named_rows`` schools, where names may be shown, are labelled rows; otherwise each school
    is a thin interval at its rank, coloured by whether it lies wholly above or below the region's mean.
    """
    register_fonts()
    if p.spread is None:
        return None
    shown = [s for s in p.spread.schools if s.mean.reported]
    if not shown or not p.mean.reported:
        return None
    hidden = len(p.spread.schools) - len(shown)
    nation = _national_mean(p)
    region = p.mean.estimate
    above = sum(1 for s in shown if s.mean.ci_low > region)
    below = sum(1 for s in shown if s.mean.ci_high < region)
    desc = (
        f"{len(shown)} 所学校的平均量表分（95% 置信区间），从低到高排列：最低 {format_score(shown[0].mean.estimate)}，"
        f"最高 {format_score(shown[-1].mean.estimate)}；{p.identity.name}平均 {format_score(region)}。"
        f"{above} 所学校的区间整体高于{p.identity.name}平均，{below} 所整体低于。"
    )
    if hidden:
        desc += f"另有 {hidden} 所学校人数不足，未显示。"
    title = "各校平均量表分（95% 置信区间）" + ("" if p.spread.names_shown else "，不显示校名")
    refs = [(region, f"{p.identity.name} {region:.0f}")]
    if nation is not None and p.identity.level != "national":
        refs.append((nation.estimate, f"全国 {nation.estimate:.0f}"))
    values = [v for s in shown for v in (s.mean.ci_low, s.mean.ci_high)] + [r for r, _ in refs]
    lo, hi = _range(values, 10.0)
    if len(shown) <= named_rows:
        rows = []
        for s in shown:
            colour = ABOVE if s.mean.ci_low > region else BELOW if s.mean.ci_high < region else NEUTRAL
            rows.append(
                _Row(s.name or s.label, s.mean, colour, f"{format_score(s.mean.estimate)}（{format_ci(s.mean)}）")
            )
        return Chart(_Rows(rows, lo, hi, width, references=refs).draw(), title, desc, "caterpillar")
    return Chart(_caterpillar(shown, region, refs, lo, hi, width), title, desc, "caterpillar")


def _caterpillar(shown: Sequence[SchoolPoint], region: float, refs: Sequence[tuple[float, str]], lo: float, hi: float,
                 width: float) -> Drawing:  # fmt: skip
    """The unnamed caterpillar: x the rank, y the scale score."""
    height = 200.0
    d = _drawing(width, height)
    x0, x1, base, top = 44.0, width - 10.0, 24.0, height - 12.0
    for t in _ticks(lo, hi):
        y = base + (t - lo) / (hi - lo) * (top - base)
        d.add(Line(x0, y, x1, y, strokeColor=GRID, strokeWidth=0.5))
        _text(d, x0 - 5, y - 2.5, f"{t:g}", size=7, anchor="end", colour=MUTED)

    def yv(v: float) -> float:
        return base + (min(max(v, lo), hi) - lo) / (hi - lo) * (top - base)

    n = len(shown)
    step = (x1 - x0) / n
    stroke = max(0.35, min(1.6, step * 0.6))
    # one path per colour (and one for the means): hundreds of schools cost a handful of shapes
    paths = {c: Path(strokeColor=c, strokeWidth=stroke, fillColor=None) for c in (ABOVE, BELOW, NEUTRAL)}
    dots = Path(strokeColor=INK, strokeWidth=1.4 if step < 3 else min(3.0, step * 0.8), fillColor=None)
    for k, s in enumerate(shown):
        m = s.mean
        x = x0 + (k + 0.5) * step
        path = paths[ABOVE if m.ci_low > region else BELOW if m.ci_high < region else NEUTRAL]
        path.moveTo(x, yv(m.ci_low))
        path.lineTo(x, yv(m.ci_high))
        half = max(0.8, min(1.5, step * 0.4))
        dots.moveTo(x - half, yv(m.estimate))
        dots.lineTo(x + half, yv(m.estimate))
    for path in (*paths.values(), dots):
        if path.points:
            d.add(path)
    for k, (value, label) in enumerate(refs):
        y = yv(value)
        d.add(Line(x0, y, x1, y, strokeColor=INK if k == 0 else MUTED, strokeWidth=0.8,
                   strokeDashArray=(4, 2) if k == 0 else (1.5, 1.5)))  # fmt: skip
        _text(d, x0 + 4 + 90 * k, y + 3, label, size=7, colour=INK if k == 0 else MUTED)
    d.add(Line(x0, base, x1, base, strokeColor=MUTED, strokeWidth=0.6))
    _text(d, (x0 + x1) / 2, base - 14, f"学校（按平均分从低到高，共 {n} 所）", size=7.5, anchor="middle", colour=MUTED)
    return d


def draw_profile_charts(p: Profile, *, width: float = WIDTH) -> dict[str, Chart]:
    """Every chart the profile has, by kind (``levels``, ``comparison``, ``dimensions``, ...)."""
    out: dict[str, Chart] = {}
    for fn in (draw_level_distribution, draw_comparison, draw_dimensions, draw_percentiles, draw_gaps,
               draw_caterpillar):  # fmt: skip
        chart = fn(p, width=width)
        if chart is not None:
            out[chart.kind] = chart
    return out


# ============================================================================================ item curves
CURVE_COLOURS = ("#1b4a86", "#c2571a", "#2f8f5b", "#8a5cc2", "#b5892d", "#3f7fc1")
"""Lines of the item and test curves (categories in order; distinct hues, not a sequence)."""
THETA_RANGE = (-4.0, 4.0)
"""The ability range the item and test curves are drawn over."""


@dataclass(frozen=True)
class _Series:
    label: str
    ys: Sequence[float]
    colour: str
    right: bool = False  # on the right-hand axis, dashed


def _curves(xs: Sequence[float], series: Sequence[_Series], *, left_label: str, right_label: str,
            width: float, height: float = 190.0) -> Drawing:  # fmt: skip
    """Lines over theta with a left axis (and a right one for the ``right`` series), a legend below."""
    register_fonts()
    d = _drawing(width, height)
    x0, x1, y0, y1 = 44.0, width - (44.0 if right_label else 14.0), 44.0, height - 16.0
    ax = _Axis(xs[0], xs[-1], x0, x1)

    def axis_for(right: bool) -> _Axis | None:
        values = [v for s in series if s.right == right for v in s.ys if math.isfinite(v)]
        if not values:
            return None
        lo, hi = _range([0.0, max(values)], 0.0, floor=0.0)
        return _Axis(lo, hi if hi > lo else lo + 1.0, y0, y1)

    left, right = axis_for(False), axis_for(True)
    d.add(Line(x0, y0, x1, y0, strokeColor=MUTED, strokeWidth=0.6))
    for t in _ticks(ax.lo, ax.hi, 8):
        x = ax(t)
        d.add(Line(x, y0, x, y1, strokeColor=GRID, strokeWidth=0.5))
        _text(d, x, y0 - 11, f"{t:g}".replace("-", MINUS), size=7, anchor="middle", colour=MUTED)
    _text(d, (x0 + x1) / 2, y0 - 22, "能力 θ", size=7.5, anchor="middle", colour=MUTED)
    for axis, x, anchor, label in ((left, x0, "end", left_label), (right, x1, "start", right_label)):
        if axis is None:
            continue
        d.add(Line(x, y0, x, y1, strokeColor=MUTED, strokeWidth=0.6))
        for t in _ticks(axis.lo, axis.hi, 4):
            y = axis(t)
            _text(d, x + (-4 if anchor == "end" else 4), y - 2.5, f"{t:g}", size=7, anchor=anchor, colour=MUTED)
        _text(d, x, y1 + 5, label, size=7.5, anchor="middle", colour=MUTED)
    legend_x = x0
    for s in series:
        axis = right if s.right else left
        assert axis is not None
        points: list[float] = []
        for x, y in zip(xs, s.ys, strict=True):
            if math.isfinite(y):
                points += [ax(x), axis(y)]
        colour = colors.HexColor(s.colour)
        dash = (4, 2) if s.right else None
        d.add(PolyLine(points, strokeColor=colour, strokeWidth=1.4, strokeDashArray=dash))
        d.add(Line(legend_x, 8, legend_x + 16, 8, strokeColor=colour, strokeWidth=1.4, strokeDashArray=dash))
        _text(d, legend_x + 20, 5.5, s.label, size=7.5)
        legend_x += 28 + stringWidth(s.label, REGULAR, 7.5)
    return d


def draw_item_curves(params: ItemParams, j: int, *, width: float = WIDTH, label: str = "") -> Chart:
    """Item ``j``'s category curves P(X = k | θ) (for a dichotomous item, the ICC P(X = 1 | θ)) and its information.

    Probabilities and information come from :mod:`scoring.irt` (the models' own formulas).
    """
    from scoring.irt import item_information, probabilities

    xs = np.linspace(*THETA_RANGE, 81)
    item = params.subset([j])
    p = probabilities(item, xs)[:, 0, :]
    info = item_information(item, xs)[:, 0]
    k = int(item.max_scores[0])
    name = label or item.ids[0]
    if k == 1:
        curves = [_Series("P(答对)", p[:, 1].tolist(), CURVE_COLOURS[0])]
    else:
        curves = [_Series(f"P(得 {c} 分)", p[:, c].tolist(), CURVE_COLOURS[c % len(CURVE_COLOURS)])
                  for c in range(k + 1)]  # fmt: skip
    curves.append(_Series("信息量", info.tolist(), "#6b7280", right=True))
    b = [f"{x:.2f}".replace("-", MINUS) for x in item.b[0, :k]]
    peak = float(xs[int(np.argmax(info))])
    description = (
        f"题目 {name}（{item.models[0]}，a = {float(item.a[0]):.2f}，b = {'、'.join(b)}）的"
        f"{'项目特征曲线' if k == 1 else '各得分类别的概率曲线'}与信息量曲线；信息量在 θ ≈ {peak:.1f} 处最大，"
        f"最大值 {float(info.max()):.2f}。"
    ).replace("-", MINUS)
    drawing = _curves(xs.tolist(), curves, left_label="概率", right_label="信息量", width=width)
    return Chart(drawing, f"{name} 的特征曲线与信息量", description, kind="item")


def draw_test_information(params: ItemParams, *, width: float = WIDTH, label: str = "") -> Chart:
    """The test information I(θ) = Σ I_j(θ) and the conditional SE 1 / √I(θ) (Lord, 1980, eq. 5-6)."""
    from scoring.irt import test_information

    xs = np.linspace(*THETA_RANGE, 81)
    info = test_information(params, xs)
    with np.errstate(divide="ignore"):
        se = np.where(info > 0, 1.0 / np.sqrt(info), np.inf)
    shown = np.minimum(se, 2.0)  # above 2 the curve leaves the chart's top
    peak = float(xs[int(np.argmax(info))])
    low = xs[se <= 0.45]
    band = (
        f"条件标准误在 θ 从 {low.min():.1f} 到 {low.max():.1f} 之间不超过 0.45"
        if low.size
        else "条件标准误处处大于 0.45"
    )
    description = (
        f"{label or '全部题目'}（{params.n_items} 道题）的测验信息量曲线（实线）与条件标准误曲线（虚线）：信息量在 "
        f"θ ≈ {peak:.1f} 处最大，为 {float(info.max()):.1f}；{band}。"
    ).replace("-", MINUS)
    drawing = _curves(xs.tolist(), [_Series("测验信息量", info.tolist(), CURVE_COLOURS[0]),
                                    _Series("条件标准误", shown.tolist(), CURVE_COLOURS[1], right=True)],
                      left_label="信息量", right_label="标准误", width=width)  # fmt: skip
    return Chart(drawing, "测验信息量与条件标准误", description, kind="test_information")


def draw_option_traces(
    mean_ability: Sequence[float],
    shares: Sequence[Sequence[float]],
    labels: Sequence[str],
    key: Sequence[bool],
    *,
    omitted: Sequence[float] | None = None,
    width: float = WIDTH,
    label: str = "",
) -> Chart:
    """Option trace lines of a distractor analysis: the share choosing each option in each ability group.

    ``mean_ability`` is each group's mean ability (lowest first), ``shares`` groups x options; the
    keyed options are drawn first and named "（答案）", the omissions dashed on the same axis.
    """
    xs = [float(x) for x in mean_ability]
    order = [k for k in range(len(labels)) if key[k]] + [k for k in range(len(labels)) if not key[k]]
    series = [
        _Series(f"{labels[k]}（答案）" if key[k] else str(labels[k]), [float(row[k]) for row in shares],
                CURVE_COLOURS[i % len(CURVE_COLOURS)])
        for i, k in enumerate(order)
    ]  # fmt: skip
    if omitted is not None and any(v > 0 for v in omitted):
        series.append(_Series("漏答", [float(v) for v in omitted], "#6b7280"))
    top = [f"{labels[k]} {float(shares[-1][k]):.0%}" for k in order]
    bottom = [f"{labels[k]} {float(shares[0][k]):.0%}" for k in order]
    name = label or "题目"
    description = (
        f"{name}各选项在 {len(xs)} 个能力组（从低到高）中的选择比例：能力最低组 {'，'.join(bottom)}；"
        f"能力最高组 {'，'.join(top)}。"
    )
    drawing = _curves(xs, series, left_label="选择比例", right_label="", width=width)
    return Chart(drawing, f"{name} 的选项分析", description, kind="options")


def draw_drift(
    base: Sequence[float],
    new: Sequence[float],
    drifted: Sequence[bool],
    ids: Sequence[str],
    *,
    base_label: str = "",
    width: float = WIDTH,
) -> Chart:
    """The common items' difficulty in the earlier calibration (x) against the new one, linked (y).

    Items on the diagonal kept their place; the drifted ones are drawn in the warning colour and
    named.
    """
    register_fonts()
    height = min(width, 320.0)
    d = _drawing(width, height)
    lo, hi = _range([*base, *new], 0.2)
    side = min(width - 60.0, height - 50.0)
    x0, y0 = 44.0 + (width - 60.0 - side) / 2, 34.0
    ax, ay = _Axis(lo, hi, x0, x0 + side), _Axis(lo, hi, y0, y0 + side)
    for t in _ticks(lo, hi):
        d.add(Line(ax(t), y0, ax(t), y0 + side, strokeColor=GRID, strokeWidth=0.5))
        d.add(Line(x0, ay(t), x0 + side, ay(t), strokeColor=GRID, strokeWidth=0.5))
        _text(d, ax(t), y0 - 11, f"{t:g}".replace("-", MINUS), size=7, anchor="middle", colour=MUTED)
        _text(d, x0 - 4, ay(t) - 2.5, f"{t:g}".replace("-", MINUS), size=7, anchor="end", colour=MUTED)
    d.add(Line(ax(lo), ay(lo), ax(hi), ay(hi), strokeColor=MUTED, strokeWidth=0.8, strokeDashArray=(3, 2)))
    _text(d, x0 + side / 2, y0 - 24, f"难度 b：{base_label or '上次标定'}", size=7.5, anchor="middle", colour=MUTED)
    _text(d, x0, y0 + side + 6, "难度 b：本次标定（已链接）", size=7.5, colour=MUTED)
    for b0, b1, flag, ident in zip(base, new, drifted, ids, strict=True):
        colour = BELOW if flag else OWN
        d.add(Circle(ax(b0), ay(b1), 3.2 if flag else 2.4, fillColor=colour, strokeColor=None))
        if flag:
            _text(d, ax(b0) + 5, ay(b1) + 2, str(ident), size=7, colour=BELOW)
    moved = [str(i) for i, f in zip(ids, drifted, strict=True) if f]
    description = (
        f"{len(ids)} 道共同题在{base_label or '上次标定'}与本次标定（链接到同一量尺后）中的难度散点图，虚线为两次相等；"
        + (f"发生漂移的题目：{'、'.join(moved)}。" if moved else "没有题目发生漂移。")
    )
    return Chart(d, "共同题的参数漂移", description, kind="drift")


# ============================================================================================ SVG
_SVG_NS = "http://www.w3.org/2000/svg"
_PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-dasharray", "stroke-opacity", "font-family", "font-size", "font-weight", "font-style", "clip-path",
}  # fmt: skip


def _presentation(style: str) -> dict[str, str]:
    """A ``style`` attribute as SVG presentation attributes (which a strict style-src CSP still applies)."""
    out: dict[str, str] = {}
    for part in style.split(";"):
        name, _, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if name not in _PRESENTATION or not value:
            continue
        if name == "font-family":  # one family for the whole drawing, set on the root; bold where asked
            if value == BOLD:
                out["font-weight"] = "bold"
            continue
        if name == "font-size":
            value = value.removesuffix("px")
        out[name] = value
    return out


def chart_svg(chart: Chart, ident: str) -> str:
    """The chart as an inline ``<svg>`` element for an HTML page.

    ``ident`` (unique within the page) prefixes the element's ids. The SVG carries ``role="img"``
    and is labelled by its ``<title>`` and ``<desc>`` (the chart's title and description). It has
    no ``style`` attributes: reportlab's are turned into presentation attributes, so the drawing
    looks the same under the consoles' Content-Security-Policy (``style-src 'self'``), which
    ignores inline styles. Give ``svg.chart`` ``max-width: 100%; height: auto`` in the page's
    stylesheet to let it scale with its container.
    """
    ET.register_namespace("", _SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    raw = str(renderSVG.drawToString(chart.drawing))
    root = ET.fromstring(raw[raw.index("<svg") :])
    for el in root.iter():
        style = el.attrib.pop("style", None)
        if style:
            el.attrib.update(_presentation(style))
        if el.get("id") in ("clip", "group"):
            el.set("id", f"{ident}-{el.get('id')}")
        if el.get("clip-path") == "url(#clip)":
            el.set("clip-path", f"url(#{ident}-clip)")
    root.set("id", ident)
    root.set("font-family", SVG_FONT_FAMILY)
    root.set("class", "chart")
    root.set("role", "img")
    root.set("aria-labelledby", f"{ident}-title {ident}-desc")
    for tag, text in (("title", chart.title), ("desc", chart.description)):
        found = root.find(f"{{{_SVG_NS}}}{tag}")
        label = found if found is not None else ET.SubElement(root, f"{{{_SVG_NS}}}{tag}")
        label.text = text
        label.set("id", f"{ident}-{tag}")
    return ET.tostring(root, encoding="unicode")
