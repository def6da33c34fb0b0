"""A profile as an A4 PDF in Chinese: cover, one-page summary, charts and tables, described levels, methods.

:func:`render_profile_pdf` is the renderer :mod:`reports.files` registers for ``pdf``. It lays out
what :mod:`reports.charts` draws and :mod:`reports.tables` prints, and computes nothing itself.

- Page 1, the cover: the group's name, where it sits (全国 › 东部 › …), the assessment, the date.
- Page 2, the summary a head teacher reads in a minute: the key figures, the headline sentences,
  the level distribution, the mean beside the parent area's and the nation's, and the strengths
  and weaknesses as sentences.
- Then the details: for a region first the spread of its schools (caterpillar chart, 差异系数,
  between-school share, the areas or schools below it); the score distribution and levels, the
  dimensions, the comparisons, the gaps, the sub-indicator diagnosis, the change since the last
  round; what students at each level can do; participation and the methods note.

A withheld number prints as ``—`` or ``隐去：reason``; significant differences carry ▲/▼ with the
legend under the table. Every font is Noto Sans SC (:mod:`reports.fonts`), embedded as a subset.
A school profile takes four pages. A withheld profile (too few students) gets the cover and one
page saying why. The output is byte-for-byte reproducible (reportlab's invariant mode).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable

from reports.charts import Chart, draw_profile_charts
from reports.fonts import BOLD, REGULAR, register_fonts
from reports.formatting import format_count
from reports.profile import Profile
from reports.tables import (
    LEVELS_INTRO,
    NOTHING_STANDS_OUT,
    KeyFigure,
    Table,
    key_figures,
    level_blocks,
    profile_tables,
    withheld_reason,
)

__all__ = ["render_profile_pdf"]

PAGE_W, PAGE_H = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 18 * mm, 20 * mm, 16 * mm
TEXT_W = PAGE_W - 2 * MARGIN_X
NAVY = colors.HexColor("#1b4a86")
PALE = colors.HexColor("#eef3fa")
RULE = colors.HexColor("#c9d3e0")
MUTED = colors.HexColor("#6b7280")
INK = colors.HexColor("#1f2328")


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    caption: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    head_right: ParagraphStyle
    bullet: ParagraphStyle
    figure_label: ParagraphStyle
    figure_value: ParagraphStyle
    figure_detail: ParagraphStyle
    headline: ParagraphStyle


_NO_LINE_START = "，。、；：！？）》」』】〕〉”’％…·—"
"""Chinese punctuation that must not begin a line (reportlab's CJK wrap knows only the Japanese set)."""


def _teach_line_breaking() -> None:
    """Add Chinese punctuation to the characters reportlab's CJK wrapping keeps off the start of a line."""
    from reportlab.platypus import paragraph

    missing = "".join(ch for ch in _NO_LINE_START if ch not in paragraph.ALL_CANNOT_START)
    if missing:
        paragraph.ALL_CANNOT_START += missing


@cache
def _styles() -> _Styles:
    register_fonts()
    _teach_line_breaking()

    def style(name: str, size: float, leading: float, **kw: Any) -> ParagraphStyle:
        kw.setdefault("fontName", REGULAR)
        kw.setdefault("textColor", INK)
        return ParagraphStyle(name, fontSize=size, leading=leading, wordWrap="CJK", bulletFontName=REGULAR, **kw)

    return _Styles(
        body=style("body", 9, 13.5),
        small=style("small", 7.5, 10.5, textColor=MUTED, spaceBefore=2),
        h1=style("h1", 15, 20, fontName=BOLD, textColor=NAVY, spaceBefore=12, spaceAfter=6),
        h2=style("h2", 10.5, 14, fontName=BOLD, textColor=NAVY, spaceBefore=8, spaceAfter=3),
        caption=style("caption", 8.5, 12, fontName=BOLD, spaceBefore=4, spaceAfter=2),
        cell=style("cell", 8, 10),
        cell_bold=style("cell_bold", 8, 10, fontName=BOLD),
        head_right=style("head_right", 8, 10, fontName=BOLD, alignment=TA_RIGHT),
        bullet=style("bullet", 8.5, 12, leftIndent=11, bulletIndent=0, spaceAfter=1.5),
        figure_label=style("figure_label", 8, 10, textColor=MUTED, alignment=TA_CENTER),
        figure_value=style("figure_value", 17, 21, fontName=BOLD, textColor=NAVY, alignment=TA_CENTER),
        figure_detail=style("figure_detail", 7, 9, textColor=MUTED, alignment=TA_CENTER),
        headline=style("headline", 9.5, 14.5),
    )


def _p(text: str, st: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: a name with ``<`` or ``&`` prints as written)."""
    return Paragraph(_escape(text), st)


# ============================================================================================ pages
def _path(p: Profile) -> str:
    return " › ".join([*(name for _lv, _code, name in p.identity.ancestors), p.identity.name])


def _title(p: Profile) -> str:
    return f"{p.identity.name}学生信息素养测评报告"


def _fit_size(text: str, font: str, size: float, width: float) -> float:
    while size > 12 and stringWidth(text, font, size) > width:
        size -= 1
    return size


def _cover(p: Profile) -> Any:
    """The cover, drawn straight onto the first page."""

    def draw(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        a, ident = p.assessment, p.identity
        canvas.saveState()
        canvas.setFillColor(NAVY)
        canvas.rect(0, PAGE_H - 300, PAGE_W, 300, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont(REGULAR, 11)
        canvas.drawString(MARGIN_X, PAGE_H - 70, a.name)
        size = _fit_size(ident.name, BOLD, 30, TEXT_W)
        canvas.setFont(BOLD, size)
        canvas.drawString(MARGIN_X, PAGE_H - 150, ident.name)
        canvas.setFont(REGULAR, 16)
        canvas.drawString(MARGIN_X, PAGE_H - 182, f"学生信息素养测评报告（{ident.level_name}）")
        canvas.setFont(REGULAR, 9)
        canvas.drawString(MARGIN_X, PAGE_H - 270, _path(p))
        lines = [
            ("学校代码" if ident.level == "school" else "区域代码", ident.code),
            ("测评时间", _dates(p)),
            ("参测学生", f"{format_count(p.participation.students_assessed)} 人"),
            ("题目参数标定", a.calibration),
            ("报告生成", f"{a.generated_at:%Y年%m月%d日}" if a.generated_at else "—"),
        ]
        if ident.locale_name:
            lines.insert(1, ("城乡类别", ident.locale_name))
        y = PAGE_H - 350
        for label, value in lines:
            canvas.setFillColor(MUTED)
            canvas.setFont(REGULAR, 10)
            canvas.drawString(MARGIN_X, y, label)
            canvas.setFillColor(INK)
            canvas.drawString(MARGIN_X + 90, y, value)
            y -= 22
        canvas.setFillColor(MUTED)
        canvas.setFont(REGULAR, 8)
        notes = (
            "本报告中的群体结果基于合理值（plausible values）估计，均附标准误和 95% 置信区间；",
            "“▲”“▼”表示与比较对象的差异显著；人数不足的结果不予报告并注明原因。",
        )
        for k, line in enumerate(notes):
            canvas.drawString(MARGIN_X, 80 - 12 * k, line)
        canvas.drawRightString(PAGE_W - MARGIN_X, 40, "InfoLit 学生信息素养测评系统")
        canvas.restoreState()

    return draw


def _dates(p: Profile) -> str:
    a = p.assessment
    if a.opens_at is None:
        return a.round_label or "—"
    start = f"{a.opens_at:%Y年%m月%d日}"
    if a.closes_at is None or a.closes_at.date() == a.opens_at.date():
        return start
    return f"{start}至{a.closes_at:%Y年%m月%d日}"


def _header_footer(p: Profile) -> Any:
    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 7.5)
        canvas.setFillColor(MUTED)
        top = PAGE_H - MARGIN_TOP + 8
        canvas.drawString(MARGIN_X, top, f"{p.identity.name} · 学生信息素养测评报告")
        canvas.drawRightString(PAGE_W - MARGIN_X, top, p.assessment.name)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, top - 4, PAGE_W - MARGIN_X, top - 4)
        canvas.drawCentredString(PAGE_W / 2, MARGIN_BOTTOM - 18, f"第 {doc.page} 页")
        canvas.restoreState()

    return draw


# ============================================================================================ blocks
def _chart(chart: Chart | None, st: _Styles) -> list[Flowable]:
    if chart is None:
        return []
    return [KeepTogether([_p(chart.title, st.caption), chart.drawing])]


_WIDTHS: dict[str, tuple[float, ...]] = {
    "distribution": (0.34, 0.2, 0.18, 0.28),
    "levels": (0.27, 0.21, 0.14, 0.13, 0.25),
    "dimensions": (0.28, 0.16, 0.14, 0.28, 0.14),
    "gaps": (0.22, 0.14, 0.14, 0.16, 0.14, 0.2),
    "comparisons": (0.3, 0.13, 0.13, 0.14, 0.12, 0.18),
    "sub_indicators": (0.33, 0.1, 0.1, 0.1, 0.11, 0.1, 0.16),
    "spread": (0.34, 0.2, 0.18, 0.28),
    "sub_areas": (0.32, 0.14, 0.2, 0.14, 0.2),
    "change": (0.24, 0.18, 0.18, 0.16, 0.24),
    "participation": (0.4, 0.6),
}


def _cell(text: str, style: ParagraphStyle, width: float) -> object:
    """A table cell: the plain string where it fits on one line (cheap to lay out), else a wrapping paragraph."""
    if stringWidth(text, style.fontName, style.fontSize) <= width - 6:
        return text
    return _p(text, style)


def _table(t: Table, st: _Styles, width: float = TEXT_W, *, keep: bool = True) -> list[Flowable]:
    """The table with its title and note; withheld rows print their reason across the number columns."""
    fractions = _WIDTHS.get(t.kind) or tuple(1 / len(t.columns) for _ in t.columns)
    widths = [f * width for f in fractions]
    n = len(t.columns)
    heads = [st.cell_bold if j < t.label_columns else st.head_right for j in range(n)]
    data: list[list[object]] = [[_cell(c, heads[j], widths[j]) for j, c in enumerate(t.columns)]]
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, 0), BOLD, 8, 10),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("BACKGROUND", (0, 0), (-1, 0), PALE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, NAVY),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (t.label_columns, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for k, row in enumerate(t.rows, start=1):
        cell = st.cell_bold if row.strong else st.cell
        if row.strong:
            commands.append(("FONT", (0, k), (-1, k), BOLD, 8, 10))
        labels = [_cell(c, cell, widths[j]) for j, c in enumerate(row.cells[: t.label_columns])]
        if row.withheld is not None:
            first = len(row.cells)
            labels = [_cell(c, cell, widths[j]) for j, c in enumerate(row.cells)]
            reason = _cell(f"隐去：{row.withheld}", st.small, sum(widths[first:]))
            data.append([*labels, reason, *([""] * (n - first - 1))])
            commands += [
                ("SPAN", (first, k), (-1, k)),
                ("ALIGN", (first, k), (-1, k), "LEFT"),
                ("FONT", (first, k), (-1, k), REGULAR, 7.5, 10),
                ("TEXTCOLOR", (first, k), (-1, k), MUTED),
            ]
        else:
            data.append([*labels, *row.cells[t.label_columns :], *([""] * (n - len(row.cells)))])
        if k < len(t.rows):
            commands.append(("LINEBELOW", (0, k), (-1, k), 0.25, RULE))
    table = _grid(data, widths, commands, repeat=1)
    out: list[Flowable] = [_p(t.title, st.caption), table]
    if t.note:
        out.append(_p(t.note, st.small))
    return [KeepTogether(out)] if keep and len(t.rows) <= 12 else out


def _grid(data: list[list[Any]], widths: Sequence[float], commands: list[tuple[Any, ...]], repeat: int = 0) -> Flowable:
    """A platypus table in our font (a cell without one would fall back to an unembedded Helvetica)."""
    style = TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 8, 10), *commands])
    return PdfTable(data, colWidths=list(widths), repeatRows=repeat, style=style, hAlign="LEFT")


def _side_by_side(left: list[Flowable], right: list[Flowable], gap: float = 10.0) -> Flowable:
    half = (TEXT_W - gap) / 2
    commands = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), gap / 2)]  # fmt: skip
    return _grid([[left, right]], [half + gap / 2, half + gap / 2], commands)


def _key_figures(figures: Sequence[KeyFigure], st: _Styles) -> Flowable:
    cells = [
        [_p(f.label, st.figure_label), _p(f.value, st.figure_value), _p(f.detail, st.figure_detail)] for f in figures
    ]
    width = TEXT_W / len(cells)
    commands: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, -1), PALE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]
    commands += [("LINEAFTER", (k, 0), (k, 0), 1.5, colors.white) for k in range(len(cells) - 1)]
    return _grid([cells], [width] * len(cells), commands)


def _bullets(items: Sequence[str], st: _Styles, mark: str = "•") -> list[Flowable]:
    return [Paragraph(_escape(s), st.bullet, bulletText=mark) for s in items]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ============================================================================================ sections
def _summary(p: Profile, charts: dict[str, Chart], st: _Styles) -> list[Flowable]:
    who_name = p.identity.name
    out: list[Flowable] = [_p(f"一页摘要：{who_name}", st.h1), _key_figures(key_figures(p), st), Spacer(1, 8)]
    if p.headline:
        box = _grid([[[_p(s, st.headline) for s in p.headline]]], [TEXT_W],
                    [("LINEBEFORE", (0, 0), (0, 0), 2.5, NAVY), ("LEFTPADDING", (0, 0), (-1, -1), 9),
                     ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)])  # fmt: skip
        out += [box, Spacer(1, 4)]
    out += _chart(charts.get("levels"), st)
    out += _chart(charts.get("comparison"), st)
    if p.participation.flags:
        out += _bullets(p.participation.flags, st, "！")
    out.append(_p("优势与不足", st.h2))
    if p.strengths or p.weaknesses:
        out += _bullets(p.strengths, st, "▲") + _bullets(p.weaknesses, st, "▼")
    else:
        out.append(_p(NOTHING_STANDS_OUT, st.body))
    return out


def _spread(p: Profile, charts: dict[str, Chart], tables: dict[str, Table], st: _Styles) -> list[Flowable]:
    if p.spread is None:
        return []
    out: list[Flowable] = [_p("学校之间的差异", st.h1)]
    out += _chart(charts.get("caterpillar"), st)
    if "spread" in tables:
        out += _table(tables["spread"], st)
    if "sub_areas" in tables:
        out += _table(tables["sub_areas"], st)
    return out


def _details(p: Profile, charts: dict[str, Chart], tables: dict[str, Table], st: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_p("详细结果", st.h1)]
    out += _chart(charts.get("percentiles"), st)
    half = TEXT_W / 2 - 5
    out.append(_side_by_side(_table(tables["distribution"], st, half, keep=False),
                             _table(tables["levels"], st, half, keep=False)))  # fmt: skip
    out += _chart(charts.get("dimensions"), st)
    unreliable = [d for d in p.dimensions if d.unreliable]
    if unreliable:
        names = "、".join(f"{d.name}（信度 {d.reliability:.2f}）" for d in unreliable)
        out.append(_p(f"{names}的分维度得分信度低于 {unreliable[0].min_reliability:.2f}，不报告其平均分。", st.small))
    for kind in ("comparisons", "gaps"):
        if kind == "gaps":
            out += _chart(charts.get("gaps"), st)
        if kind in tables:
            out += _table(tables[kind], st)
    for kind in ("sub_indicators", "change"):
        if kind in tables:
            out += [CondPageBreak(120), *_table(tables[kind], st)]
    return out


def _levels_and_methods(p: Profile, tables: dict[str, Table], st: _Styles) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(160), _p("各水平的学生能做什么", st.h2)]
    out.append(_p(LEVELS_INTRO, st.small))
    blocks = level_blocks(p)
    bands = sorted({b.band for b in blocks})
    if len(bands) == 1:
        out += [KeepTogether([_p(b.heading, st.caption), *_bullets(b.statements, st)]) for b in blocks]
    for k in range(0, len(bands) if len(bands) > 1 else 0, 2):  # several grade bands: two side by side
        columns = [
            [f for b in blocks if b.band == band for f in (_p(b.heading, st.caption), *_bullets(b.statements, st))]
            for band in bands[k : k + 2]
        ]
        out.append(_side_by_side(columns[0], columns[1] if len(columns) > 1 else []))
    out += [CondPageBreak(120), _p("参测情况与方法说明", st.h2)]
    part = tables["participation"]
    out.append(_p("；".join(f"{r.cells[0]}：{r.cells[1]}" for r in part.rows) + "。", st.small))
    out += [_p(par, st.small) for par in p.methods.paragraphs]
    return out


def _withheld(p: Profile, tables: dict[str, Table], st: _Styles) -> list[Flowable]:
    return [
        _p(f"{p.identity.name}：结果不予报告", st.h1),
        _p(withheld_reason(p), st.body),
        Spacer(1, 8),
        *_table(tables["participation"], st),
        _p(p.methods.suppression, st.small),
    ]


def _story(p: Profile) -> list[Flowable]:
    st = _styles()
    tables = profile_tables(p)
    story: list[Flowable] = [NextPageTemplate("body"), PageBreak()]
    if not p.reported:
        return story + _withheld(p, tables, st)
    charts = draw_profile_charts(p, width=TEXT_W)
    story += _summary(p, charts, st)
    story.append(PageBreak())
    if p.spread is not None:
        story += _spread(p, charts, tables, st)
        story.append(CondPageBreak(220))
    story += _details(p, charts, tables, st)
    story += _levels_and_methods(p, tables, st)
    return story


def render_profile_pdf(profile: Profile) -> bytes:
    """The profile as a PDF (A4, Chinese, every font embedded as a subset)."""
    register_fonts()
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=_title(profile),
        author="InfoLit",
        subject=profile.assessment.name,
        creator="InfoLit reports",
        invariant=1,
        initialFontName=REGULAR,
        lang="zh-CN",
        displayDocTitle=1,
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, TEXT_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM, id="body", leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)  # fmt: skip
    doc.addPageTemplates(
        [
            PageTemplate("cover", frames=[frame], onPage=_cover(profile)),
            PageTemplate("body", frames=[frame], onPage=_header_footer(profile)),
        ]
    )
    doc.build(_story(profile))
    return buf.getvalue()
