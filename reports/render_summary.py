"""A node summary (:mod:`reports.summary`) as a file: PDF (reportlab), XLSX (openpyxl) or CSV.

The three carry the same numbers: the node's participation, mean scale score, 达标 rate and level
shares, and the comparison table of its children. A withheld number is written as the reason it
is withheld. Text cells go through :mod:`itembank.tabular`'s neutralising (a school named
``=HYPERLINK(...)`` stays text in Excel).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from assess.scales import LEVELS
from itembank.tabular import append_xlsx_row, csv_bytes
from reports.summary import NodeSummary
from reports.tickets import CJK_FONT, _register_font

__all__ = ["FORMATS", "render_summary", "summary_rows"]

FORMATS: dict[str, str] = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
"""The formats a summary renders to, with their media types."""
LEVEL_LABEL = {"province": "省", "city": "市", "county": "区县", "school": "学校"}
_HEADER: tuple[str, ...] = (
    "代码",
    "名称",
    "层级",
    "应测人数",
    "完成人数",
    "作答中",
    "未开始",
    "平均量表分",
    "达标率",
    *(f"{name}比例" for name in LEVELS),
    "说明",
)
_GREY = Color(0.4, 0.4, 0.4)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _row(s: NodeSummary) -> list[object]:
    shares = s.level_shares or {}
    return [
        s.node.code,
        s.node.name,
        LEVEL_LABEL.get(s.node.level, s.node.level),
        s.registered,
        s.assessed,
        s.in_progress,
        s.not_started,
        "" if s.mean_scale is None else round(s.mean_scale, 1),
        _pct(s.pass_rate),
        *(_pct(shares.get(name)) if s.level_shares is not None else "" for name in LEVELS),
        f"未报告：{s.suppressed}" if s.suppressed else "",
    ]


def summary_rows(summary: NodeSummary) -> list[Sequence[object]]:
    """The header, the node's own row, then one row per child."""
    return [_HEADER, _row(summary), *(_row(c) for c in summary.children)]


def _pdf(summary: NodeSummary) -> bytes:
    _register_font()
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, pageCompression=1)
    width, height = A4
    c.setTitle(f"{summary.node.name} 信息素养测评结果")
    c.setAuthor("InfoLit")
    y = height - 20 * mm
    c.setFont(CJK_FONT, 16)
    c.drawString(18 * mm, y, f"{summary.node.name}（{summary.node.code}）信息素养测评结果")
    y -= 9 * mm
    c.setFont(CJK_FONT, 10)
    c.drawString(18 * mm, y, f"测评：{summary.assessment_name}（{summary.assessment_code}）")
    y -= 10 * mm
    facts = [
        ("应测人数", str(summary.registered)),
        ("完成人数", str(summary.assessed)),
        ("作答中", str(summary.in_progress)),
        ("未开始", str(summary.not_started)),
        ("平均量表分", "—" if summary.mean_scale is None else f"{summary.mean_scale:.1f}"),
        ("达标率", _pct(summary.pass_rate) or "—"),
    ]
    if summary.level_shares is not None:
        facts += [(f"{name}比例", _pct(summary.level_shares.get(name))) for name in LEVELS]
    for label, value in facts:
        c.drawString(22 * mm, y, label)
        c.drawString(60 * mm, y, value)
        y -= 6 * mm
    if summary.suppressed:
        c.setFillColor(_GREY)
        c.drawString(22 * mm, y, f"人数不足，成绩未报告：{summary.suppressed}")
        c.setFillColorRGB(0, 0, 0)
        y -= 6 * mm
    if summary.children:
        y -= 4 * mm
        c.setFont(CJK_FONT, 12)
        c.drawString(18 * mm, y, "下级地区与学校对比")
        y -= 7 * mm
        columns = (18, 40, 100, 120, 140, 165)
        for k, head in enumerate(("代码", "名称", "完成人数", "平均分", "达标率", "说明")):
            c.setFont(CJK_FONT, 9)
            c.drawString(columns[k] * mm, y, head)
        for child in summary.children:
            y -= 6 * mm
            if y < 20 * mm:
                c.showPage()
                c.setFont(CJK_FONT, 9)
                y = height - 20 * mm
            values = (
                child.node.code,
                child.node.name[:24],
                str(child.assessed),
                "—" if child.mean_scale is None else f"{child.mean_scale:.1f}",
                _pct(child.pass_rate) or "—",
                "未报告" if child.suppressed else "",
            )
            for k, value in enumerate(values):
                c.drawString(columns[k] * mm, y, value)
    c.setFont(CJK_FONT, 8)
    c.setFillColor(_GREY)
    c.drawString(18 * mm, 12 * mm, "说明：平均量表分与达标率按已完成测评学生的量表分计算；人数不足的单位不报告成绩。")
    c.showPage()
    c.save()
    return buffer.getvalue()


def _xlsx(summary: NodeSummary) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("结果")
    for row in summary_rows(summary):
        append_xlsx_row(sheet, list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render_summary(summary: NodeSummary, fmt: str) -> bytes:
    """The summary as ``fmt`` (``pdf``, ``xlsx`` or ``csv``; ``ValueError`` for another)."""
    if fmt == "pdf":
        return _pdf(summary)
    if fmt == "xlsx":
        return _xlsx(summary)
    if fmt == "csv":
        return csv_bytes(summary_rows(summary))
    raise ValueError(f"unknown format {fmt!r} (pdf, xlsx, csv)")
