"""What a school or regional information-literacy profile holds: frozen dataclasses, numbers only.

A :class:`Profile` is built by :mod:`reports.aggregate` (from plausible values, the people tree
and the sample design) and turned into PDF, XLSX, CSV and HTML by the rendering modules, which
read these fields and compute nothing of their own. Every reported number is a :class:`Stat`:
the estimate with its standard error split into sampling and measurement parts (Rubin's rules
over the plausible values), its degrees of freedom and 95% interval, the students and schools
behind it, and ``suppressed``, the reason (Chinese, for the reader) when the number is withheld.
A withheld number is ``nan`` in every numeric field, so a renderer that forgets to check
``reported`` prints "nan", never a figure that should not be seen.

Levels of a profile (:data:`PROFILE_LEVELS`): a school, a county (区县), a city (地市), a
province (省), one of the three regions (东部/中部/西部) and the nation. Scale scores are on the
reporting scale (500 + 100 z), shares are fractions 0..1 (render them as percentages).

This module changes only by adding fields (with defaults), so renderers written against it keep
working.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

__all__ = [
    "PROFILE_LEVELS",
    "PROFILE_LEVEL_NAMES",
    "AssessmentInfo",
    "Change",
    "Comparison",
    "DimensionResult",
    "Gap",
    "GroupIdentity",
    "LevelDescription",
    "LevelShare",
    "MethodsNote",
    "Participation",
    "Percentile",
    "Profile",
    "SchoolPoint",
    "SchoolSpread",
    "Stat",
    "StatisticRow",
    "SubAreaRow",
    "SubIndicatorResult",
]

ProfileLevel = Literal["school", "county", "city", "province", "region", "national"]
PROFILE_LEVELS: tuple[ProfileLevel, ...] = ("school", "county", "city", "province", "region", "national")
"""Every level a profile is built at, smallest first."""
PROFILE_LEVEL_NAMES: dict[str, str] = {
    "school": "学校",
    "county": "区县",
    "city": "地市",
    "province": "省",
    "region": "区域",
    "national": "全国",
}
"""Chinese name of each level."""

_NAN = float("nan")


@dataclass(frozen=True)
class Stat:
    """One reported number with its uncertainty, or the reason it is withheld.

    Parameters
    ----------
    estimate
        The estimate (mean over the plausible values); ``nan`` when suppressed.
    se, se_sampling, se_measurement
        Total standard error and its sampling part (replicate variance, the clustering of students
        in schools) and measurement part (between plausible values): ``se**2 == se_sampling**2 +
        se_measurement**2``.
    df
        Degrees of freedom of the SE (Barnard-Rubin with the Johnson-Rust complete-data df).
    ci_low, ci_high
        The 95% interval.
    n_students, n_schools
        Assessed students and schools behind the number (``-1`` schools: not known).
    suppressed
        Why the number is withheld (e.g. ``学生不足30人（12人）``), or ``None`` when it is reported.
    """

    estimate: float
    se: float
    se_sampling: float
    se_measurement: float
    df: float
    ci_low: float
    ci_high: float
    n_students: int
    n_schools: int
    suppressed: str | None = None

    @property
    def reported(self) -> bool:
        """Whether the number may be shown (not suppressed, and finite)."""
        return self.suppressed is None and math.isfinite(self.estimate)

    @classmethod
    def withheld(cls, reason: str, *, n_students: int = 0, n_schools: int = 0) -> Stat:
        """A number that is not reported, with its reason (every numeric field ``nan``)."""
        return cls(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, n_students, n_schools, reason)


@dataclass(frozen=True)
class AssessmentInfo:
    """The assessment a profile reports on.

    ``round_label`` names the round (e.g. ``2025年春季``) for titles; ``calibration`` is the name of
    the published item calibration the scores rest on.
    """

    code: str
    name: str
    grades: tuple[int, ...]
    opens_at: datetime | None
    closes_at: datetime | None
    calibration: str
    round_label: str = ""
    generated_at: datetime | None = None


@dataclass(frozen=True)
class GroupIdentity:
    """Which group a profile is about, and where it sits in the tree.

    Parameters
    ----------
    level
        One of :data:`PROFILE_LEVELS`.
    code, name
        The school's or area's code and Chinese name (region: ``东部`` ...; nation: ``全国``).
    region
        The region (东部/中部/西部) the group lies in, ``""`` for the nation.
    ancestors
        ``(level, code, name)`` from the nation down to the parent (empty for the nation).
    locale
        A school's locale (``urban`` / ``town`` / ``rural``); ``None`` for areas.
    locale_name
        The same in Chinese (城区 / 县镇 / 农村).
    """

    level: ProfileLevel
    code: str
    name: str
    region: str
    ancestors: tuple[tuple[str, str, str], ...] = ()
    locale: str | None = None
    locale_name: str | None = None

    @property
    def level_name(self) -> str:
        """The level in Chinese (学校, 区县, ...)."""
        return PROFILE_LEVEL_NAMES[self.level]

    @property
    def parent(self) -> tuple[str, str, str] | None:
        """``(level, code, name)`` of the parent group, or ``None`` for the nation."""
        return self.ancestors[-1] if self.ancestors else None


@dataclass(frozen=True)
class Participation:
    """Who was sampled, assessed and excluded, and the response rates against the design's thresholds.

    Parameters
    ----------
    schools_sampled, schools_participating
        Schools drawn (or registered, without a sample design) and schools with at least one
        assessed student.
    students_sampled, students_assessed, students_excluded
        Students drawn (registered), assessed (a finished, scored session) and excluded (by the
        design's exclusion rules; 0 without a sample design).
    school_response_rate, student_response_rate
        ``participating / sampled`` and ``assessed / (sampled - excluded)``, fractions 0..1
        (``nan`` where nothing was sampled).
    school_threshold, student_threshold
        The design's minimum rates (PISA's 85% of schools, 80% of students by default).
    weighted
        Whether the estimates use sampling weights.
    flags
        One Chinese sentence per rate below its threshold (empty when both meet them).
    """

    schools_sampled: int
    schools_participating: int
    students_sampled: int
    students_assessed: int
    students_excluded: int
    school_response_rate: float
    student_response_rate: float
    school_threshold: float = 0.85
    student_threshold: float = 0.80
    weighted: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Percentile:
    """The ``p``-th percentile (10, 25, 50, 75, 90) of the scale scores."""

    p: int
    stat: Stat


@dataclass(frozen=True)
class LevelShare:
    """Share (0..1) of students in one proficiency level (待提高, 合格, 良好, 优秀), lowest first."""

    level: str
    stat: Stat


@dataclass(frozen=True)
class DimensionResult:
    """One dimension's mean scale score, or a flag where its subscore is too unreliable to read.

    Parameters
    ----------
    code, name
        The dimension (``D1`` ...) and its Chinese name.
    mean
        Mean scale score on the dimension; withheld (``suppressed`` says why) where ``unreliable``.
    reliability
        Marginal reliability of the subscore, ``1 - mean posterior variance / variance of the PVs``.
    unreliable
        True where ``reliability`` is below :attr:`min_reliability` (too few items per student).
    min_reliability
        The threshold used.
    n_items
        Items of the dimension answered per student, on average.
    """

    code: str
    name: str
    mean: Stat
    reliability: float
    unreliable: bool
    min_reliability: float = 0.5
    n_items: float = 0.0


@dataclass(frozen=True)
class Gap:
    """A difference between two subgroups of the group (girls - boys, urban - rural, grade 8 - grade 4).

    Parameters
    ----------
    kind
        ``"gender"``, ``"locale"`` or ``"grade"``.
    label
        Chinese label of the difference, e.g. ``女生 − 男生``.
    group_a, group_b
        Chinese names of the two sides (``女生``, ``男生``).
    mean_a, mean_b
        Each side's mean scale score.
    difference
        ``mean_a - mean_b`` with its SE from the same replicates and PVs.
    significant
        ``|difference| > 1.96 SE`` (False when withheld).
    """

    kind: Literal["gender", "locale", "grade"]
    label: str
    group_a: str
    group_b: str
    mean_a: Stat
    mean_b: Stat
    difference: Stat
    significant: bool


@dataclass(frozen=True)
class Comparison:
    """The group against a larger group it belongs to (its parent area or the nation), on one statistic.

    Parameters
    ----------
    statistic
        ``"mean"`` (scale score) or ``"pass_rate"`` (达标率, 0..1).
    other_level, other_code, other_name
        The group compared against.
    own, other
        The two estimates.
    difference
        ``own - other``, SE from the same replicates (the overlap of the two groups is respected).
    significant
        ``|difference| > 1.96 SE``.
    """

    statistic: Literal["mean", "pass_rate"]
    other_level: ProfileLevel
    other_code: str
    other_name: str
    own: Stat
    other: Stat
    difference: Stat
    significant: bool

    @property
    def verdict(self) -> str:
        """``高于`` / ``低于`` / ``与……无显著差异`` as a Chinese word for the sentence."""
        if not self.significant or not self.difference.reported:
            return "无显著差异"
        return "高于" if self.difference.estimate > 0 else "低于"


@dataclass(frozen=True)
class SchoolPoint:
    """One school in a region's caterpillar chart: its mean with 95% interval.

    ``code`` and ``name`` are ``None`` where the viewer may not see school names; ``label`` is then
    an anonymous label (``学校 12``, by rank). ``mean.suppressed`` says why a school has no mean.
    """

    label: str
    code: str | None
    name: str | None
    rank: int
    mean: Stat
    locale: str | None = None


@dataclass(frozen=True)
class SchoolSpread:
    """How far a region's schools lie apart.

    Parameters
    ----------
    between_share
        Between-school share of the variance of scale scores (intraclass correlation).
    cv
        差异系数: coefficient of variation of the school means (weighted by enrolment), as in the
        county 均衡 supervision indicators.
    between_variance, within_variance
        The two variance components (scale points squared).
    schools
        Every school, lowest mean first (suppressed schools last), for the caterpillar chart.
    names_shown
        Whether ``schools`` carry codes and names (see :meth:`Profile.without_school_names`).
    """

    between_share: Stat
    cv: Stat
    between_variance: Stat
    within_variance: Stat
    schools: tuple[SchoolPoint, ...]
    names_shown: bool = True


@dataclass(frozen=True)
class SubIndicatorResult:
    """Observed against model-expected scores on one sub-indicator's items: a relative strength or weakness.

    Parameters
    ----------
    code, name, dimension
        The sub-indicator (``D3.2`` ...), its Chinese name and its dimension's code.
    n_items, n_responses
        Distinct items and responses behind the comparison.
    observed, expected
        Mean score as a fraction of the maximum, observed and as the calibrated model expects for
        these students' plausible abilities.
    difference
        ``observed - expected`` (fraction of the maximum score) with SE (replicates and PVs).
    verdict
        ``"strength"``, ``"weakness"`` (significant and at least :attr:`min_effect`),
        ``"as_expected"``, or ``"too_few"`` (too few responses to judge).
    sentence
        A short Chinese sentence a teacher can act on (empty for ``as_expected``).
    """

    code: str
    name: str
    dimension: str
    n_items: int
    n_responses: int
    observed: float
    expected: float
    difference: Stat
    verdict: Literal["strength", "weakness", "as_expected", "too_few"]
    sentence: str = ""
    min_effect: float = 0.03


@dataclass(frozen=True)
class LevelDescription:
    """What students at one proficiency level can do, drawn from the items that map into the level.

    An item maps at the scale score where a student has a 0.67 chance of success (RP67; for a
    partial-credit item, where the expected score reaches 67% of its maximum). ``statements`` are the sub-indicator
    descriptions of the items that map into the level, most items first.

    Parameters
    ----------
    level
        待提高, 合格, 良好 or 优秀.
    band
        The grade band whose cut scores bound the level.
    lower, upper
        The level's scale-score bounds (``-inf`` / ``inf`` at the ends).
    n_items
        Calibrated items mapping into the level.
    statements
        Chinese can-do sentences (``能……``), at most a handful.
    indicator_codes
        The sub-indicators the statements come from, in the same order.
    share
        Share of the group's students at the level (the profile's own estimate), if reported.
    """

    level: str
    band: str
    lower: float
    upper: float
    n_items: int
    statements: tuple[str, ...]
    indicator_codes: tuple[str, ...] = ()
    share: Stat | None = None


@dataclass(frozen=True)
class MethodsNote:
    """How the numbers were made, for the methods section (facts and ready Chinese paragraphs).

    Parameters
    ----------
    design
        The replicate design's method (``jk2-full``, ``jkn``, ``census`` ...).
    design_name
        The same in Chinese (e.g. ``按学校逐一删除的刀切法（分层）``).
    n_replicates
        Replicates behind the sampling variance (0 in census mode).
    weighted
        Whether sampling weights were used.
    n_plausible_values
        Plausible values per student.
    conditioning
        The variables of the latent regression (Chinese names).
    item_model
        The IRT models of the calibration (e.g. ``2PL, GPCM``).
    calibration
        The calibration's name.
    suppression
        The thresholds in Chinese.
    critical
        ``"normal"`` (1.96) or ``"t"``.
    paragraphs
        The methods note as Chinese paragraphs.
    """

    design: str
    design_name: str
    n_replicates: int
    weighted: bool
    n_plausible_values: int
    conditioning: tuple[str, ...]
    item_model: str
    calibration: str
    suppression: str
    critical: str = "normal"
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """Change since a previous round on the linked scale.

    Parameters
    ----------
    previous_code, previous_name
        The earlier assessment.
    mean_then, mean_change
        The earlier mean and ``now - then``; the SE combines both rounds' SEs and the linking error.
    pass_rate_then, pass_rate_change
        The same for the 达标率.
    linking_error
        SE of the link between the rounds' scales (scale points), included in ``mean_change.se``
        (in its measurement part).
    significant
        Whether the mean's change is significant.
    """

    previous_code: str
    previous_name: str
    mean_then: Stat
    mean_change: Stat
    pass_rate_then: Stat
    pass_rate_change: Stat
    linking_error: float
    significant: bool


@dataclass(frozen=True)
class SubAreaRow:
    """One area or school directly below a region, for the region's table (mean and 达标率)."""

    level: ProfileLevel
    code: str
    name: str
    mean: Stat
    pass_rate: Stat


@dataclass(frozen=True)
class StatisticRow:
    """One row of the long table (CSV / XLSX): a group, a statistic, and its numbers.

    ``statistic`` is a stable machine name (``mean``, ``p10`` ... ``p90``, ``level:合格``,
    ``pass_rate``, ``dimension:D1``, ``gap:gender``, ``vs:county:mean``, ``between_share``, ``cv``,
    ``subindicator:D3.2``, ``school_mean:S001``, ``change:mean`` ...); ``label`` is its Chinese label.
    """

    level: str
    code: str
    name: str
    statistic: str
    label: str
    estimate: float
    se: float
    se_sampling: float
    se_measurement: float
    df: float
    ci_low: float
    ci_high: float
    n_students: int
    n_schools: int
    significant: bool | None
    suppressed: str


@dataclass(frozen=True)
class Profile:
    """A school's or region's information-literacy profile.

    Parameters
    ----------
    identity, assessment
        Who and which assessment.
    suppressed
        Why the whole profile is withheld (too few students or schools), or ``None``. A withheld
        profile keeps its identity and participation; every number in it is withheld too.
    participation
        Sampled / assessed / excluded and the response rates.
    mean, sd
        Mean and standard deviation of the scale scores.
    percentiles
        10, 25, 50, 75, 90.
    levels
        Share in each of the four levels, lowest first.
    pass_rate
        达标率: share at or above the pass line (合格).
    pass_level
        The level name of the pass line.
    dimensions
        One per dimension of the framework.
    gaps
        Gender; urban/rural (regions; schools of one locale have none); grade by grade.
    comparisons
        Against each ancestor that exists (parent area up to the nation), mean and 达标率.
    spread
        For a region: the spread of its schools; ``None`` for a school.
    sub_areas
        For a region: the areas (or, for a county, the schools) directly below it.
    sub_indicators
        Observed vs expected on each sub-indicator.
    strengths, weaknesses
        The sentences of the sub-indicators judged strengths and weaknesses.
    level_descriptions
        What students at each level can do (per grade band where bands differ).
    methods
        The methods note.
    change
        Change since the previous round, or ``None``.
    headline
        Two to four Chinese sentences for the one-page summary.
    """

    identity: GroupIdentity
    assessment: AssessmentInfo
    suppressed: str | None
    participation: Participation
    mean: Stat
    sd: Stat
    percentiles: tuple[Percentile, ...]
    levels: tuple[LevelShare, ...]
    pass_rate: Stat
    pass_level: str
    dimensions: tuple[DimensionResult, ...]
    gaps: tuple[Gap, ...]
    comparisons: tuple[Comparison, ...]
    spread: SchoolSpread | None
    sub_areas: tuple[SubAreaRow, ...]
    sub_indicators: tuple[SubIndicatorResult, ...]
    strengths: tuple[str, ...]
    weaknesses: tuple[str, ...]
    level_descriptions: tuple[LevelDescription, ...]
    methods: MethodsNote
    change: Change | None = None
    headline: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """``(level, code)``: unique within an assessment."""
        return (self.identity.level, self.identity.code)

    @property
    def reported(self) -> bool:
        """Whether the profile carries numbers (not withheld as a whole)."""
        return self.suppressed is None

    def without_school_names(self) -> Profile:
        """A copy whose caterpillar chart names no school (for a viewer not entitled to see them)."""
        if self.spread is None or not self.spread.names_shown:
            return self
        points = tuple(replace(p, label=f"学校 {p.rank}", code=None, name=None) for p in self.spread.schools)
        rows = tuple(r for r in self.sub_areas if r.level != "school")
        return replace(self, spread=replace(self.spread, schools=points, names_shown=False), sub_areas=rows)

    def rows(self) -> Iterator[StatisticRow]:
        """Every number of the profile as long-table rows (the CSV and XLSX hold exactly these)."""
        yield from _profile_rows(self)


def _row(p: Profile, statistic: str, label: str, s: Stat, significant: bool | None = None) -> StatisticRow:
    ident = p.identity
    return StatisticRow(
        ident.level, ident.code, ident.name, statistic, label, s.estimate, s.se, s.se_sampling,
        s.se_measurement, s.df, s.ci_low, s.ci_high, s.n_students, s.n_schools,
        significant if s.reported else None, s.suppressed or "",
    )  # fmt: skip


def _profile_rows(p: Profile) -> Iterator[StatisticRow]:
    yield _row(p, "mean", "平均量表分", p.mean)
    yield _row(p, "sd", "量表分标准差", p.sd)
    for q in p.percentiles:
        yield _row(p, f"p{q.p}", f"第{q.p}百分位数", q.stat)
    for lv in p.levels:
        yield _row(p, f"level:{lv.level}", f"{lv.level}比例", lv.stat)
    yield _row(p, "pass_rate", "达标率", p.pass_rate)
    for d in p.dimensions:
        yield _row(p, f"dimension:{d.code}", f"{d.name}平均分", d.mean)
    for g in p.gaps:
        key = g.label.replace(" ", "")
        yield _row(p, f"gap:{g.kind}:{key}", f"差距（{g.label}）", g.difference, g.significant)
    for c in p.comparisons:
        what = "平均分" if c.statistic == "mean" else "达标率"
        yield _row(
            p, f"vs:{c.other_level}:{c.statistic}", f"与{c.other_name}相比（{what}之差）", c.difference, c.significant
        )
    if p.spread is not None:
        yield _row(p, "between_share", "校间差异占比", p.spread.between_share)
        yield _row(p, "cv", "差异系数", p.spread.cv)
        for pt in p.spread.schools:
            yield _row(p, f"school_mean:{pt.code or pt.label}", f"{pt.name or pt.label}平均分", pt.mean)
    for si in p.sub_indicators:
        yield _row(
            p,
            f"subindicator:{si.code}",
            f"{si.name}（实际−预期得分率）",
            si.difference,
            si.verdict in ("strength", "weakness"),
        )
    if p.change is not None:
        yield _row(
            p,
            "change:mean",
            f"平均分变化（与{p.change.previous_name}相比）",
            p.change.mean_change,
            p.change.significant,
        )
        yield _row(p, "change:pass_rate", f"达标率变化（与{p.change.previous_name}相比）", p.change.pass_rate_change)
