"""The tables and key figures of a profile, as text: what the PDF and the HTML page print, cell by cell.

Both renderers lay out the same :class:`Table` objects, so a school sees the same numbers in
either. A table's leading ``label_columns`` are text, the rest numbers. A :class:`Row` whose
``withheld`` is set prints its labels and then one cell, ``隐去：reason``, across the number
columns. Significant differences carry ``▲`` / ``▼`` (:data:`SIGNIFICANCE_NOTE` explains them).
Scores and SEs print to one decimal, shares as percentages (their SEs in percentage points), as
:mod:`reports.formatting` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reports.formatting import (
    WITHHELD,
    format_ci,
    format_count,
    format_difference,
    format_estimate,
    format_rate,
    format_score,
    format_se,
    format_share,
    format_signed,
    significance_mark,
)
from reports.profile import LevelDescription, Profile, Stat
from reports.wording import who

__all__ = [
    "LEVELS_INTRO",
    "NOTHING_STANDS_OUT",
    "SIGNIFICANCE_NOTE",
    "VERDICT_NAMES",
    "KeyFigure",
    "LevelBlock",
    "Row",
    "Table",
    "change_table",
    "comparison_table",
    "dimension_table",
    "distribution_table",
    "gap_table",
    "key_figures",
    "level_blocks",
    "level_table",
    "participation_table",
    "profile_tables",
    "spread_table",
    "sub_area_table",
    "sub_indicator_table",
    "withheld_reason",
]

LEVELS_INTRO = "以下描述来自落在各水平分数范围内的题目（学生有 67% 的把握答对该题的位置），随标定题库而更新。"
"""The line before the described levels."""
NOTHING_STANDS_OUT = "各分指标的表现都与按总体水平预期的相符（或作答次数不足以判断），没有显著的相对优势或薄弱之处。"
"""What the summary says when no sub-indicator is a strength or a weakness."""
SIGNIFICANCE_NOTE = "▲ 显著高于，▼ 显著低于（差异的绝对值大于 1.96 倍标准误）；未标记的差异不显著。"
"""The legend of the significance marks."""
VERDICT_NAMES = {"strength": "相对优势", "weakness": "相对薄弱", "as_expected": "与预期相符", "too_few": "作答不足"}
"""Chinese names of a sub-indicator's verdict."""


@dataclass(frozen=True)
class Row:
    """One table row: its cells, or its labels and the reason its numbers are withheld."""

    cells: tuple[str, ...]
    withheld: str | None = None
    strong: bool = False


@dataclass(frozen=True)
class Table:
    """A table: title, column headers, rows; ``label_columns`` leading text columns, then numbers."""

    kind: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    label_columns: int = 1
    note: str = ""


@dataclass(frozen=True)
class KeyFigure:
    """One of the summary's headline numbers: a label, the value, and a line of detail."""

    label: str
    value: str
    detail: str


@dataclass(frozen=True)
class LevelBlock:
    """One described level: its heading (name, score range, the group's share) and its can-do statements."""

    heading: str
    statements: tuple[str, ...]
    band: str = ""


def _stat_row(label: str, s: Stat, *, share: bool = False, strong: bool = False) -> Row:
    if not s.reported:
        return Row((label,), withheld=s.suppressed or "无数据", strong=strong)
    return Row(
        (label, format_estimate(s, share=share), format_se(s, share=share), format_ci(s, share=share)), None, strong
    )


# ============================================================================================ tables
def distribution_table(p: Profile) -> Table:
    """Mean, SD and the percentiles, each with SE and 95% interval."""
    rows = [_stat_row("平均量表分", p.mean, strong=True), _stat_row("标准差", p.sd)]
    rows += [_stat_row(f"第{q.p}百分位数", q.stat) for q in p.percentiles]
    return Table("distribution", "量表分的分布", ("统计量", "估计值", "标准误", "95% 置信区间"), tuple(rows))


def _level_range(p: Profile, level: str) -> str:
    bands = {d.band for d in p.level_descriptions}
    if len(bands) != 1:
        return WITHHELD
    d = next((d for d in p.level_descriptions if d.level == level), None)
    return _range_text(d) if d is not None else WITHHELD


def _range_text(d: LevelDescription, unit: str = "") -> str:
    if not math.isfinite(d.lower):
        return f"{d.upper:g}{unit}以下"
    if not math.isfinite(d.upper):
        return f"{d.lower:g}{unit}及以上"
    return f"{d.lower:g}–{d.upper:g}{unit}"


def level_table(p: Profile) -> Table:
    """Share of students in each level and the 达标率, with SEs (percentage points) and intervals."""
    rows = []
    for lv in p.levels:
        r = _stat_row(lv.level, lv.stat, share=True)
        rows.append(Row((r.cells[0], _level_range(p, lv.level), *r.cells[1:]), r.withheld, r.strong))
    r = _stat_row(f"达标率（{p.pass_level}及以上）", p.pass_rate, share=True, strong=True)
    rows.append(Row((r.cells[0], "", *r.cells[1:]), r.withheld, True))
    note = "占比的标准误以百分点计。"
    if len({d.band for d in p.level_descriptions}) > 1:
        note += "各水平的分数范围随年级段不同，见“各水平的学生能做什么”。"
    return Table(
        "levels", "各水平学生占比", ("水平", "分数范围", "占比", "标准误", "95% 置信区间"), tuple(rows), 2, note
    )


def dimension_table(p: Profile) -> Table:
    """Each dimension's mean with SE and interval, and the subscore's reliability."""
    rows = []
    for d in p.dimensions:
        r = _stat_row(d.name, d.mean)
        rel = f"{d.reliability:.2f}" if math.isfinite(d.reliability) else WITHHELD
        rows.append(r if r.withheld is not None else Row((*r.cells, rel)))  # the reason names the reliability
    note = f"分维度信度低于 {p.dimensions[0].min_reliability:.2f} 时不报告该维度的平均分。" if p.dimensions else ""
    return Table(
        "dimensions", "各维度平均量表分", ("维度", "平均分", "标准误", "95% 置信区间", "信度"), tuple(rows), 1, note
    )


def gap_table(p: Profile) -> Table:
    """Each gap: both sides' means, the difference with SE, and whether it is significant."""
    rows = []
    for g in p.gaps:
        if not g.difference.reported:
            rows.append(Row((g.label,), withheld=g.difference.suppressed or "无数据"))
            continue
        mark = significance_mark(g.difference, g.significant)
        rows.append(
            Row(
                (
                    g.label,
                    format_estimate(g.mean_a),
                    format_estimate(g.mean_b),
                    f"{format_difference(g.difference)}{mark}",
                    format_se(g.difference),
                    "显著" if g.significant else "不显著",
                )
            )
        )
    return Table(
        "gaps",
        "群体差距（平均量表分之差）",
        ("差距", "前者平均", "后者平均", "差", "标准误", "显著性"),
        tuple(rows),
        note=SIGNIFICANCE_NOTE,
    )


def comparison_table(p: Profile) -> Table:
    """The group against each larger group it belongs to, on the mean and the 达标率."""
    rows = []
    own = who(p.identity.level)
    for c in p.comparisons:
        share = c.statistic == "pass_rate"
        what = "达标率" if share else "平均分"
        label = f"与{c.other_name}相比（{what}）"
        if not c.difference.reported:
            rows.append(Row((label,), withheld=c.difference.suppressed or "无法比较"))
            continue
        mark = significance_mark(c.difference, c.significant)
        rows.append(
            Row(
                (
                    label,
                    format_estimate(c.own, share=share),
                    format_estimate(c.other, share=share),
                    f"{format_difference(c.difference, share=share)}{mark}",
                    format_se(c.difference, share=share),
                    c.verdict if c.verdict == "无显著差异" else f"显著{c.verdict}",
                )
            )
        )
    note = "达标率之差以百分点计。" + SIGNIFICANCE_NOTE
    return Table(
        "comparisons", "与上级区域和全国比较", ("比较", own, "比较对象", "差", "标准误", "结论"), tuple(rows), note=note
    )


def sub_indicator_table(p: Profile) -> Table:
    """Observed against model-expected scores on each sub-indicator, with the verdict."""
    rows = []
    for s in p.sub_indicators:
        label = f"{s.code} {s.name}"
        if s.verdict == "too_few" or not s.difference.reported:
            rows.append(Row((label, format_count(s.n_responses)), withheld=s.difference.suppressed or "作答不足"))
            continue
        mark = significance_mark(s.difference, s.verdict in ("strength", "weakness"))
        rows.append(
            Row(
                (
                    label,
                    format_count(s.n_responses),
                    format_share(s.observed),
                    format_share(s.expected),
                    f"{format_difference(s.difference, share=True)}{mark}",
                    format_se(s.difference, share=True),
                    VERDICT_NAMES[s.verdict],
                ),
                strong=s.verdict in ("strength", "weakness"),
            )
        )
    effect = f"{100 * p.sub_indicators[0].min_effect:.0f}" if p.sub_indicators else "3"
    note = (
        "实际得分率与按学生总体水平（合理值）和题目参数预期的得分率之差，以百分点计；差异显著且至少 "
        f"{effect} 个百分点时判为相对优势或相对薄弱。"
    )
    return Table(
        "sub_indicators",
        "分指标诊断：实际与预期得分率",
        ("分指标", "作答次数", "实际", "预期", "差", "标准误", "判断"),
        tuple(rows),
        2,
        note,
    )


def participation_table(p: Profile) -> Table:
    """Sampled (registered), assessed and excluded students and schools, and the response rates."""
    pa = p.participation
    rows = [
        Row(("应测 / 参测学校", f"{format_count(pa.schools_sampled)} / {format_count(pa.schools_participating)}")),
        Row(("学校应答率", f"{format_rate(pa.school_response_rate)}（要求 {pa.school_threshold:.0%}）")),
        Row(
            (
                "应测 / 参测 / 排除学生",
                f"{format_count(pa.students_sampled)} / {format_count(pa.students_assessed)} / "
                f"{format_count(pa.students_excluded)}",
            )
        ),
        Row(("学生应答率", f"{format_rate(pa.student_response_rate)}（要求 {pa.student_threshold:.0%}）")),
        Row(("抽样权重", "使用" if pa.weighted else "未使用（各参测学生权重相同）")),
    ]
    rows += [Row(("提示", flag), strong=True) for flag in pa.flags]
    return Table("participation", "参测情况", ("项目", "数量"), tuple(rows), 2)


def spread_table(p: Profile) -> Table | None:
    """A region's school spread: between-school share, 差异系数, the variance components."""
    sp = p.spread
    if sp is None:
        return None
    rows = [
        _stat_row("校间差异占比", sp.between_share, share=True, strong=True),
        _stat_row("差异系数（校际平均分）", sp.cv),
        _stat_row("校间方差", sp.between_variance),
        _stat_row("校内方差", sp.within_variance),
    ]
    cv = rows[1]
    if cv.withheld is None:  # the 差异系数 is a ratio: two decimals, not a score
        rows[1] = Row(
            (cv.cells[0], f"{sp.cv.estimate:.3f}", f"{sp.cv.se:.3f}", f"{sp.cv.ci_low:.3f}–{sp.cv.ci_high:.3f}")
        )
    note = (
        "校间差异占比：学生量表分的方差中学校之间差异所占的比例；差异系数：各校平均分的标准差与平均数之比"
        "（按参测人数加权），与县域义务教育均衡督导评估的口径一致。"
    )
    return Table("spread", "校间差异指标", ("指标", "估计值", "标准误", "95% 置信区间"), tuple(rows), 1, note)


def sub_area_table(p: Profile) -> Table | None:
    """The areas (or a county's schools) directly below a region: mean and 达标率 with intervals."""
    if not p.sub_areas:
        return None
    level = p.sub_areas[0].level
    head = "学校" if level == "school" else "下级区域"
    rows = []
    for a in p.sub_areas:
        if not a.mean.reported:
            rows.append(Row((a.name,), withheld=a.mean.suppressed or "无数据"))
            continue
        rows.append(
            Row(
                (
                    a.name,
                    format_score(a.mean.estimate),
                    format_ci(a.mean),
                    format_estimate(a.pass_rate, share=True),
                    format_ci(a.pass_rate, share=True),
                )
            )
        )
    return Table(
        "sub_areas",
        f"各{'校' if level == 'school' else '下级区域'}平均量表分与达标率",
        (head, "平均分", "95% 置信区间", "达标率", "95% 置信区间"),
        tuple(rows),
    )


def change_table(p: Profile) -> Table | None:
    """Change since the previous round (linked scale), for the mean and the 达标率."""
    ch = p.change
    if ch is None:
        return None
    rows = []
    for label, then, change, share in (
        ("平均量表分", ch.mean_then, ch.mean_change, False),
        ("达标率", ch.pass_rate_then, ch.pass_rate_change, True),
    ):
        if not change.reported:
            rows.append(Row((label,), withheld=change.suppressed or "无法比较"))
            continue
        significant = abs(change.estimate) > 1.959963984540054 * change.se
        mark = significance_mark(change, significant)
        rows.append(
            Row(
                (
                    label,
                    format_estimate(then, share=share),
                    f"{format_difference(change, share=share)}{mark}",
                    format_se(change, share=share),
                    format_ci(change, share=share) if not share else _points_ci(change),
                )
            )
        )
    note = f"与“{ch.previous_name}”相比；平均分变化的标准误含两轮之间的链接误差 {ch.linking_error:.1f} 分。"
    return Table(
        "change", "与上一轮相比的变化", ("统计量", "上一轮", "变化", "标准误", "95% 置信区间"), tuple(rows), 1, note
    )


def _points_ci(s: Stat) -> str:
    """A share difference's interval in signed percentage points (``−1.2–+3.4``)."""
    return f"{format_signed(100 * s.ci_low)}–{format_signed(100 * s.ci_high)}"


def profile_tables(p: Profile) -> dict[str, Table]:
    """Every table the profile has, by kind."""
    out: dict[str, Table] = {}
    for table in (
        distribution_table(p),
        level_table(p),
        dimension_table(p),
        gap_table(p) if p.gaps else None,
        comparison_table(p) if p.comparisons else None,
        spread_table(p),
        sub_area_table(p),
        sub_indicator_table(p) if p.sub_indicators else None,
        change_table(p),
        participation_table(p),
    ):
        if table is not None:
            out[table.kind] = table
    return out


# ============================================================================================ summary
def _versus(p: Profile, level: str | None) -> tuple[str, str] | None:
    """``(other name, phrase)`` for the mean's comparison with the parent (``None``) or ``level``."""
    means = [c for c in p.comparisons if c.statistic == "mean"]
    c = next((c for c in means if c.other_level == level), None) if level else (means[0] if means else None)
    if c is None:
        return None
    if not c.difference.reported:
        return c.other_name, "无法比较"
    if not c.significant:
        return c.other_name, "无显著差异"
    mark = significance_mark(c.difference, True)
    return c.other_name, f"{mark} {'高' if c.difference.estimate > 0 else '低'} {abs(c.difference.estimate):.1f} 分"


def key_figures(p: Profile) -> tuple[KeyFigure, ...]:
    """The summary's headline numbers: students, mean, 达标率, comparisons (and a region's spread)."""
    pa = p.participation
    out = [
        KeyFigure(
            "参测学生",
            f"{format_count(pa.students_assessed)} 人",
            f"学生应答率 {format_rate(pa.student_response_rate)}",
        )
    ]
    if p.mean.reported:
        out.append(KeyFigure("平均量表分", format_score(p.mean.estimate), f"95% 置信区间 {format_ci(p.mean)}"))
    if p.pass_rate.reported:
        out.append(
            KeyFigure(
                "达标率", format_share(p.pass_rate.estimate), f"95% 置信区间 {format_ci(p.pass_rate, share=True)}"
            )
        )
    parent = _versus(p, None)
    if parent is not None:
        nation = _versus(p, "national") if parent[0] != "全国" else None
        detail = f"与全国相比：{nation[1]}" if nation is not None else "平均量表分之差"
        out.append(KeyFigure(f"与{parent[0]}相比", parent[1], detail))
    if p.spread is not None and p.spread.cv.reported:
        share = format_estimate(p.spread.between_share, share=True)
        out.append(KeyFigure("差异系数", f"{p.spread.cv.estimate:.3f}", f"校间差异占比 {share}"))
    return tuple(out)


def level_blocks(p: Profile) -> tuple[LevelBlock, ...]:
    """The described levels, highest first, with the group's share in each (per grade band where bands differ)."""
    bands = {d.band for d in p.level_descriptions}
    out = []
    for d in sorted(p.level_descriptions, key=lambda d: (d.band, -d.lower if math.isfinite(d.lower) else math.inf)):
        band = f"{d.band} 年级段，" if len(bands) > 1 else ""
        share = ""
        if d.share is not None and d.share.reported:
            share = f"；{who(p.identity.level)} {format_share(d.share.estimate)} 的学生处于该水平"
        heading = f"{d.level}（{band}{_range_text(d, ' 分')}{share}）"
        statements = d.statements or ("标定题库中落在该水平的题目太少，暂无描述。",)
        out.append(LevelBlock(heading, tuple(statements), d.band))
    return tuple(out)


def withheld_reason(p: Profile) -> str:
    """Why a withheld profile carries no numbers, as a sentence."""
    return f"原因：{p.suppressed}。为保护学生隐私并保证结果可靠，参测人数不足的学校或区域不报告任何统计结果。"
