"""A profile as a self-contained HTML fragment for the bureau and school consoles.

:func:`render_profile_html` is the renderer :mod:`reports.files` registers for ``html`` (UTF-8
bytes); :func:`profile_html` gives the same as text for a template. The fragment is one
``<section lang="zh-CN">`` holding what the PDF holds, in the same order and with the same
numbers (:mod:`reports.tables`, :mod:`reports.charts`): key figures, headline, charts as inline
SVG, tables, strengths and weaknesses, described levels, the methods note.

It is meant to sit inside a console page under its strict Content-Security-Policy: no script, no
``style`` attribute or element (charts use SVG presentation attributes), class names for the
page's stylesheet to style. Accessible: headings from ``<h2>`` down, each table with a
``<caption>`` and ``<th scope>`` headers, a withheld row's reason in a cell spanning the number
columns, each chart a ``<figure>`` whose SVG is ``role="img"`` labelled by its title and a
description that carries its numbers in words. Every text is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

from reports.charts import Chart, chart_svg, draw_profile_charts
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

__all__ = ["profile_html", "render_profile_html"]


def _e(text: str) -> str:
    return escape(text, quote=True)


def _ident(p: Profile) -> str:
    """An id prefix for the profile's elements (unique per level and code within a page)."""
    return "profile-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{p.identity.level}-{p.identity.code}")


def _figure(chart: Chart | None, ident: str) -> str:
    if chart is None:
        return ""
    return (
        f'<figure class="profile-chart profile-chart-{chart.kind}">{chart_svg(chart, f"{ident}-{chart.kind}")}'
        f"<figcaption>{_e(chart.title)}</figcaption></figure>"
    )


def _table(t: Table) -> str:
    n = len(t.columns)
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in t.columns)
    body = []
    for row in t.rows:
        cls = ' class="strong"' if row.strong else ""
        label = f'<th scope="row">{_e(row.cells[0])}</th>' if row.cells else ""
        rest = "".join(f"<td>{_e(c)}</td>" for c in row.cells[1:])
        if row.withheld is not None:
            span = n - len(row.cells)
            rest += f'<td class="withheld" colspan="{span}">隐去：{_e(row.withheld)}</td>'
        else:
            rest += "<td></td>" * (n - len(row.cells))
        body.append(f"<tr{cls}>{label}{rest}</tr>")
    note = f'<p class="note">{_e(t.note)}</p>' if t.note else ""
    return (
        f'<div class="profile-table profile-table-{t.kind}"><table><caption>{_e(t.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</div>"
    )


def _key_figures(figures: Iterable[KeyFigure]) -> str:
    items = "".join(
        f'<div><dt>{_e(f.label)}</dt><dd><strong>{_e(f.value)}</strong> <span class="detail">{_e(f.detail)}</span></dd>'
        "</div>"
        for f in figures
    )
    return f'<dl class="key-figures">{items}</dl>'


def _list(items: Iterable[str], cls: str) -> str:
    lis = "".join(f"<li>{_e(s)}</li>" for s in items)
    return f'<ul class="{cls}">{lis}</ul>' if lis else ""


def _section(ident: str, key: str, title: str, body: str) -> str:
    return (
        f'<section class="profile-{key}" aria-labelledby="{ident}-{key}-h">'
        f'<h3 id="{ident}-{key}-h">{_e(title)}</h3>{body}</section>'
    )


def _header(p: Profile, ident: str) -> str:
    path = " › ".join([*(name for _lv, _code, name in p.identity.ancestors), p.identity.name])
    a = p.assessment
    when = f"{a.opens_at:%Y年%m月%d日}" if a.opens_at else a.round_label
    meta = [a.name, f"测评时间 {when}" if when else "", f"参测学生 {p.participation.students_assessed:,} 人"]
    return (
        f'<header><p class="profile-path">{_e(path)}</p>'
        f'<h2 id="{ident}-title">{_e(p.identity.name)}学生信息素养测评报告</h2>'
        f'<p class="profile-meta">{_e(" · ".join(m for m in meta if m))}</p></header>'
    )


def _summary(p: Profile, charts: dict[str, Chart], ident: str) -> str:
    body = _key_figures(key_figures(p)) + _list(p.headline, "headline")
    body += _figure(charts.get("levels"), ident) + _figure(charts.get("comparison"), ident)
    body += _list(p.participation.flags, "flags")
    good_bad = _list(p.strengths, "strengths") + _list(p.weaknesses, "weaknesses")
    if not good_bad:
        good_bad = f"<p>{NOTHING_STANDS_OUT}</p>"
    body += f"<h4>优势与不足</h4>{good_bad}"
    return _section(ident, "summary", "摘要", body)


def _details(p: Profile, charts: dict[str, Chart], tables: dict[str, Table], ident: str) -> str:
    parts = [_figure(charts.get("percentiles"), ident), _table(tables["distribution"]), _table(tables["levels"])]
    parts += [_figure(charts.get("dimensions"), ident), _table(tables["dimensions"])]
    for kind in ("comparisons", "gaps", "sub_indicators", "change"):
        if kind == "gaps":
            parts.append(_figure(charts.get("gaps"), ident))
        if kind in tables:
            parts.append(_table(tables[kind]))
    return _section(ident, "details", "详细结果", "".join(parts))


def _levels(p: Profile, ident: str) -> str:
    intro = f"<p>{LEVELS_INTRO}</p>"
    blocks = "".join(f"<h4>{_e(b.heading)}</h4>{_list(b.statements, 'can-do')}" for b in level_blocks(p))
    return _section(ident, "levels", "各水平的学生能做什么", intro + blocks)


def _methods(p: Profile, tables: dict[str, Table], ident: str) -> str:
    body = _table(tables["participation"]) + "".join(f"<p>{_e(par)}</p>" for par in p.methods.paragraphs)
    return _section(ident, "methods", "参测情况与方法说明", body)


def profile_html(profile: Profile) -> str:
    """The profile as an HTML fragment (one ``<section>``; see the module docstring)."""
    p = profile
    ident = _ident(p)
    tables = profile_tables(p)
    opening = f'<section class="profile profile-{p.identity.level}" lang="zh-CN" id="{ident}"'
    parts = [f'{opening} aria-labelledby="{ident}-title">', _header(p, ident)]
    if not p.reported:
        reason = f"<p>{_e(withheld_reason(p))}</p>"
        parts += [_section(ident, "withheld", "结果不予报告", reason + _table(tables["participation"])), "</section>"]
        return "".join(parts)
    charts = draw_profile_charts(p)
    parts.append(_summary(p, charts, ident))
    if p.spread is not None:
        spread = _figure(charts.get("caterpillar"), ident)
        spread += "".join(_table(tables[k]) for k in ("spread", "sub_areas") if k in tables)
        parts.append(_section(ident, "spread", "学校之间的差异", spread))
    parts += [_details(p, charts, tables, ident), _levels(p, ident), _methods(p, tables, ident), "</section>"]
    return "".join(parts)


def render_profile_html(profile: Profile) -> bytes:
    """:func:`profile_html` as UTF-8 bytes (the ``html`` format of :mod:`reports.files`)."""
    return profile_html(profile).encode("utf-8")
