"""The Chinese sentences of a profile: strengths and weaknesses, the summary headline, the methods note.

Aggregation only decides what to say and with which numbers; the renderers print these strings
as they are. Numbers are rounded as a reader expects them: scale scores to whole points, shares
to whole percent, differences with their sign.
"""

from __future__ import annotations

from collections.abc import Sequence

from reports.profile import Comparison, Profile, Stat, SubIndicatorResult
from scoring.survey import SuppressionRule

__all__ = [
    "DESIGN_NAMES",
    "describe_design",
    "headline",
    "methods_paragraphs",
    "strength_sentence",
    "suppression_text",
    "weakness_sentence",
    "who",
]

DESIGN_NAMES: dict[str, str] = {
    "jk2-full": "IEA 配对刀切法（JK2，完全复制）",
    "jk2-half": "IEA 配对刀切法（JK2，半复制）",
    "jkn": "按学校逐一删除的分层刀切法（JKn）",
    "fay-brr": "Fay 平衡重复复制法（k = 0.5）",
    "census": "学校普查模式（只计测量误差）",
    "replicates": "抽样设计提供的重复权重",
}
"""Chinese names of the replicate designs."""

_WHO = {
    "school": "本校",
    "county": "本区县",
    "city": "本市",
    "province": "本省",
    "region": "本区域",
    "national": "全国",
}


def who(level: str) -> str:
    """How a profile names its own group in a sentence (本校, 本区县, ...)."""
    return _WHO.get(level, "本地")


def describe_design(method: str, n_replicates: int, strata: str = "") -> str:
    """The design in Chinese, with its replicates (and strata, for JKn)."""
    name = DESIGN_NAMES.get(method, method)
    if method == "jkn" and strata:
        name = f"{name[:-1]}，按{strata}分层）"
    return name if n_replicates == 0 else f"{name}，{n_replicates} 个重复样本"


def suppression_text(school: SuppressionRule, region: SuppressionRule, subgroup: SuppressionRule) -> str:
    """The thresholds as one Chinese sentence."""
    return (
        f"学校参测学生少于 {school.min_students} 人，或区域参测学生少于 {region.min_students} 人、"
        f"学校少于 {region.min_schools} 所时，不报告该学校或区域的结果；男女生、城乡等子群体少于 "
        f"{subgroup.min_students} 人时不报告其差距。被隐去的数字均注明原因。"
    )


def _points(x: float) -> str:
    return f"{abs(x) * 100:.0f}"


def strength_sentence(level: str, name: str, difference: float) -> str:
    """A relative strength on a sub-indicator (``difference`` a share of the maximum score, > 0)."""
    return (
        f"{who(level)}学生在“{name}”方面表现突出：得分率比按其总体水平预期的高 {_points(difference)} 个百分点。"
        "可以总结这方面的教学做法，用到其他方面。"
    )


def weakness_sentence(level: str, name: str, difference: float, description: str) -> str:
    """A relative weakness on a sub-indicator, with what to practise (the sub-indicator's description)."""
    aim = description.rstrip("。") if description else name
    return (
        f"{who(level)}学生在“{name}”方面相对薄弱：得分率比按其总体水平预期的低 {_points(difference)} 个百分点。"
        f"建议在教学中有针对性地练习：{aim}。"
    )


def _fmt_mean(s: Stat) -> str:
    return f"{s.estimate:.0f} 分（95% 置信区间 {s.ci_low:.0f}–{s.ci_high:.0f}）"


def _comparison_phrase(c: Comparison) -> str:
    if not c.difference.reported:
        return ""
    if not c.significant:
        return f"与{c.other_name}无显著差异"
    return f"{c.verdict}{c.other_name} {abs(c.difference.estimate):.0f} 分"


def headline(p: Profile, subs: Sequence[SubIndicatorResult]) -> tuple[str, ...]:
    """Two to four sentences for the one-page summary (empty when the profile is withheld)."""
    if not p.reported or not p.mean.reported:
        return ()
    out = [
        f"{who(p.identity.level)}共有 {p.participation.students_assessed:,} 名学生完成测评，"
        f"平均量表分 {_fmt_mean(p.mean)}" + (f"，达标率 {p.pass_rate.estimate:.0%}。" if p.pass_rate.reported else "。")
    ]
    phrases = [x for x in (_comparison_phrase(c) for c in p.comparisons if c.statistic == "mean") if x]
    if phrases:
        out.append("平均分" + "，".join(phrases) + "。")
    shown = [f"{lv.level} {lv.stat.estimate:.0%}" for lv in reversed(p.levels) if lv.stat.reported]
    if shown:
        out.append("各水平学生占比：" + "，".join(shown) + "。")
    good = [s.name for s in subs if s.verdict == "strength"]
    weak = [s.name for s in subs if s.verdict == "weakness"]
    if good or weak:
        parts = []
        if good:
            parts.append("相对优势：" + "、".join(good[:3]))
        if weak:
            parts.append("相对薄弱：" + "、".join(weak[:3]))
        out.append("；".join(parts) + "。")
    return tuple(out)


def methods_paragraphs(
    *,
    assessment: str,
    n_students: int,
    n_schools: int,
    design: str,
    weighted: bool,
    calibration: str,
    item_models: str,
    n_pvs: int,
    conditioning: Sequence[str],
    suppression: str,
    reliability: str,
    sample_note: str = "",
) -> tuple[str, ...]:
    """The methods note: sample (with the sample design's participation, where there is one), model, PVs, SEs."""
    return (
        f"样本：本报告基于“{assessment}”中完成测评并计分的 {n_students:,} 名学生（{n_schools} 所学校）。"
        + sample_note
        + ("各项估计均使用抽样权重。" if weighted else "未使用抽样权重（各参测学生权重相同）。"),
        f"测量模型：题目参数来自项目反应理论标定“{calibration}”（{item_models}）。量表分为 500 + 100z，"
        "水平划分采用指标框架为各年级段规定的分数线，达到“合格”即为达标。",
        f"合理值：在题目参数固定的条件下，以{'、'.join(conditioning)}为背景变量，用 EM 算法估计潜在回归"
        f"（人群）模型，并为每名学生抽取 {n_pvs} 个合理值（plausible values）。每个统计量对每个合理值分别计算，"
        "再按 Rubin 规则合并；这样群体之间的差距不会像个人能力估计（EAP）那样被压缩。" + reliability,
        f"标准误：每个估计的标准误分为抽样部分和测量部分。抽样部分采用{design}，考虑了学生嵌套于学校的整群结构；"
        "测量部分来自合理值之间的差异。差距和比较（男女生、城乡、与上级区域和全国相比）的标准误用同一组"
        "重复样本计算，差异的绝对值大于 1.96 倍标准误时标为“显著”。",
        f"结果隐去：{suppression}",
    )
