"""One pass of the replicate engine over every group of one level: the numbers a profile reports.

:func:`compute_level` takes the plausible values of every assessed student, the replicate design
and the group of each student at one level (every school, or every county, ...) and computes, for
all groups at once, each statistic under every PV and replicate (:mod:`scoring.survey`), combined
by Rubin's rules and suppressed by the level's rule: mean, SD, percentiles, level shares, 达标率,
dimension means, the gender / urban-rural / grade gaps, and for areas the between-school
variance and 差异系数. The replicate estimates of the mean and the 达标率 are kept
(:class:`LevelStats.mean_replicates`) so that a group can be compared with its parent or the
nation replicate by replicate (:func:`compare_levels`).

A group whose students all lie in one variance unit (a school, under a school-level jackknife)
has no sampling variance: every replicate scales all its weights by one factor or drops it, which
leaves a ratio or quantile as it is. Such a level is computed in census mode
(:meth:`~scoring.survey.ReplicateDesign.without_sampling_variance`): the same numbers, without
hundreds of replicates per school.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reports.profile import Stat
from scoring.survey import (
    ReplicateDesign,
    ReplicateEstimates,
    SuppressionRule,
    SurveyEstimates,
    estimate_between_school_share,
    estimate_level_shares,
    estimate_mean,
    estimate_percentiles,
    estimate_share_at_or_above,
)

__all__ = [
    "PERCENTILES",
    "GapStats",
    "LevelInput",
    "LevelStats",
    "compare_levels",
    "compute_level",
    "level_design",
    "stat_of",
    "stats_by_group",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PERCENTILES: tuple[int, ...] = (10, 25, 50, 75, 90)
"""The percentiles a profile reports."""
NO_STUDENTS = "没有已计分的学生"
"""Reason shown for a group with no assessed student."""


def stat_of(est: SurveyEstimates, k: int) -> Stat:
    """Row ``k`` of combined estimates as a :class:`~reports.profile.Stat` (withheld rows keep their reason)."""
    reason = est.suppressed[k]
    n_s, n_k = int(est.n_students[k]), int(est.n_schools[k])
    if reason is not None or not np.isfinite(est.estimate[k]):
        return Stat.withheld(reason or "无法估计", n_students=n_s, n_schools=n_k)
    return Stat(
        float(est.estimate[k]), float(est.se[k]), float(est.se_sampling[k]), float(est.se_measurement[k]),
        float(est.df[k]), float(est.ci_low[k]), float(est.ci_high[k]), n_s, n_k, None,
    )  # fmt: skip


def stats_by_group(est: SurveyEstimates, n_groups: int, statistic: str | None = None) -> list[Stat]:
    """One :class:`Stat` per group index ``0..n_groups-1`` (a group without a row: withheld, no students)."""
    out = [Stat.withheld(NO_STUDENTS) for _ in range(n_groups)]
    for k, (g, s) in enumerate(zip(est.groups, est.statistics, strict=True)):
        if statistic is not None and s != statistic:
            continue
        gi = int(g)  # type: ignore[call-overload]
        if 0 <= gi < n_groups:
            out[gi] = stat_of(est, k)
    return out


def level_design(design: ReplicateDesign, codes: IntArray) -> ReplicateDesign:
    """``design`` itself, or its census form when every group lies inside one variance unit (same numbers)."""
    if design.n_replicates == 0:
        return design
    live = codes >= 0
    pairs = np.unique(np.stack([codes[live], design.units[live]]), axis=1)
    per_group = np.bincount(pairs[0], minlength=int(codes.max()) + 1 if codes.size else 0)
    return design.without_sampling_variance() if per_group.size and per_group.max() <= 1 else design


@dataclass(frozen=True, eq=False)
class LevelInput:
    """What one level's pass needs (see :func:`compute_level`).

    ``scale (n, M)`` scale-score PVs, ``level (n, M)`` level indices, ``passed (n, M)``, ``dimensions``
    code -> ``(n, M)`` dimension scale PVs, ``girl`` and ``locale`` (``urban``/``town``/``rural``) and
    ``grade`` per student, ``codes`` each student's group (``-1``: none), ``n_groups``; ``rule`` the
    level's suppression rule, ``subgroup_rule`` the gaps' rule; ``spread`` whether to compute the
    between-school variance (areas).
    """

    scale: FloatArray
    level: IntArray
    passed: npt.NDArray[np.bool_]
    dimensions: dict[str, FloatArray]
    girl: npt.NDArray[np.bool_]
    locale: npt.NDArray[np.str_]
    grade: IntArray
    codes: IntArray
    n_groups: int
    n_levels: int
    rule: SuppressionRule
    subgroup_rule: SuppressionRule
    spread: bool


@dataclass(frozen=True, eq=False)
class GapStats:
    """One kind of gap for every group: ``(group, label_a, label_b, mean_a, mean_b, difference)`` rows."""

    kind: str
    rows: tuple[tuple[int, Hashable, Hashable, Stat, Stat, Stat, bool], ...]


@dataclass(frozen=True, eq=False)
class LevelStats:
    """Every number of every group of one level, group index by group index (see the module docstring)."""

    n_groups: int
    mean: list[Stat]
    sd: list[Stat]
    percentiles: dict[int, list[Stat]]
    levels: list[list[Stat]]
    pass_rate: list[Stat]
    dimensions: dict[str, list[Stat]]
    gaps: tuple[GapStats, ...]
    spread: dict[str, list[Stat]]
    mean_replicates: ReplicateEstimates
    pass_replicates: ReplicateEstimates
    suppressed: list[str | None]


def _labels(codes: IntArray) -> IntArray:
    """Group labels for the engine: students without a group get a label of their own (dropped later)."""
    return np.where(codes >= 0, codes, -1)


def _touched_blocks(design: ReplicateDesign, groups: IntArray) -> list[tuple[IntArray, IntArray]]:
    """Groups that the same replicates change, with those replicates: ``[(group labels, replicate columns)]``.

    A replicate whose factors are 1 for every unit of a group leaves the group's statistics at
    their full-sample values; a group inside one jackknife stratum is changed only by its stratum's
    replicates.
    """
    labels, inv = np.unique(groups, return_inverse=True)
    inv = inv.reshape(-1)
    n_units = design.factors.shape[0]
    pairs = np.unique(inv * n_units + design.units)
    g_of, u_of = pairs // n_units, pairs % n_units
    changed = design.factors != 1.0  # (U, R)
    touched = np.zeros((labels.size, design.n_replicates), dtype=bool)
    np.logical_or.at(touched, g_of, changed[u_of])
    sigs, block = np.unique(touched, axis=0, return_inverse=True)
    block = block.reshape(-1)
    return [(labels[block == b], np.nonzero(sigs[b])[0]) for b in range(sigs.shape[0])]


def _percentiles(
    values: FloatArray, design: ReplicateDesign, probs: list[float], groups: IntArray
) -> ReplicateEstimates:
    """:func:`~scoring.survey.estimate_percentiles`, block by block of groups changed by the same replicates.

    The same numbers as one call over everybody (a replicate that changes no weight of a group
    leaves its quantiles where they are), at a fraction of the cost under a stratified jackknife:
    a county's quantiles are recomputed for its own province's replicates only.
    """
    r = design.n_replicates
    blocks = _touched_blocks(design, groups) if r else []
    if len(blocks) <= 1:
        return estimate_percentiles(values, design, probs, groups=groups)
    rows: dict[int, tuple[FloatArray, FloatArray, int, int]] = {}
    names: tuple[str, ...] = ()
    for labels, cols in blocks:
        keep = np.isin(groups, labels)
        sub = ReplicateDesign(
            design.weights[keep], design.units[keep], design.factors[:, cols], design.scale, design.rscales[cols],
            design.method, design.schools[keep], design.mse,
        )  # fmt: skip
        est = estimate_percentiles(values[keep], sub, probs, groups=groups[keep])
        names = est.statistics[: len(probs)]
        full = np.repeat(est.estimates[:, :, None], r, axis=2)
        full[:, :, cols] = est.replicates
        for k in range(0, len(est.groups), len(probs)):
            g = int(est.groups[k])  # type: ignore[call-overload]
            sl = slice(k, k + len(probs))
            rows[g] = (est.estimates[sl], full[sl], int(est.n_students[k]), int(est.n_schools[k]))
    order = sorted(rows)
    p = len(probs)
    return ReplicateEstimates(
        tuple(g for g in order for _ in range(p)), names * len(order),
        np.concatenate([rows[g][0] for g in order]), np.concatenate([rows[g][1] for g in order]),
        design.scale, design.rscales, design.mse,
        np.repeat([rows[g][2] for g in order], p), np.repeat([rows[g][3] for g in order], p),
    )  # fmt: skip


def _sd(scale: FloatArray, design: ReplicateDesign, groups: IntArray) -> ReplicateEstimates:
    r"""Weighted SD :math:`\sqrt{\overline{y^2} - \bar y^2}` per group, per PV and replicate."""
    m = scale.shape[1]
    both = estimate_mean(np.hstack([scale, scale**2]), design, groups=groups)
    est = np.sqrt(np.maximum(both.estimates[:, m:] - both.estimates[:, :m] ** 2, 0.0))
    rep = np.sqrt(np.maximum(both.replicates[:, m:] - both.replicates[:, :m] ** 2, 0.0))
    return ReplicateEstimates(
        both.groups, tuple("sd" for _ in both.groups), est, rep, both.scale, both.rscales, both.mse,
        both.n_students, both.n_schools,
    )  # fmt: skip


def _gap(
    kind: str,
    inp: LevelInput,
    design: ReplicateDesign,
    sub: IntArray,
    pairs: Sequence[tuple[int, int]],
    names: Sequence[Hashable],
) -> GapStats:
    """Mean differences between subgroups ``sub`` (0..K-1) of every group, for the given pairs of subgroups."""
    k = int(sub.max()) + 1 if sub.size else 1
    combined = np.where(inp.codes >= 0, inp.codes * k + sub, -1)
    est = estimate_mean(inp.scale, design, groups=combined)
    present = {int(g) for g in est.groups}  # type: ignore[call-overload]
    want = [(g * k + a, g * k + b) for g in range(inp.n_groups) for a, b in pairs if {g * k + a, g * k + b} <= present]
    if not want:
        return GapStats(kind, ())
    side = est.combine().suppress(inp.subgroup_rule)
    diff = ReplicateEstimates.subtract(
        est.select([a for a, _ in want]), est.select([b for _, b in want]), statistic="difference"
    ).combine()
    diff = diff.suppress(inp.subgroup_rule)
    rows = []
    for r, (a, b) in enumerate(want):
        d = stat_of(diff, r)
        rows.append(
            (a // k, names[a % k], names[b % k], stat_of(side, side.index(a)), stat_of(side, side.index(b)), d,
             bool(diff.significant[r]) and d.reported)
        )  # fmt: skip
    return GapStats(kind, tuple(rows))


def _gaps(inp: LevelInput, design: ReplicateDesign) -> tuple[GapStats, ...]:
    out = [_gap("gender", inp, design, inp.girl.astype(np.int64), [(1, 0)], ["男生", "女生"])]
    if inp.spread:  # urban / rural: areas only (a school has one locale)
        loc = np.select([inp.locale == "urban", inp.locale == "town"], [0, 1], 2).astype(np.int64)
        out.append(_gap("locale", inp, design, loc, [(0, 2)], ["城区", "县镇", "农村"]))
    grades = sorted(set(inp.grade.tolist()))
    if len(grades) > 1:
        gi = np.searchsorted(np.asarray(grades), inp.grade).astype(np.int64)
        pairs = [(j + 1, j) for j in range(len(grades) - 1)]
        out.append(_gap("grade", inp, design, gi, pairs, [f"{g}年级" for g in grades]))
    return tuple(out)


def _spread(inp: LevelInput, design: ReplicateDesign, labels: IntArray) -> dict[str, list[Stat]]:
    if not inp.spread or np.any(design.schools < 0):
        return {}
    est = estimate_between_school_share(inp.scale, design, groups=labels).combine().suppress(inp.rule)
    return {s: stats_by_group(est, inp.n_groups, s) for s in sorted(set(est.statistics))}


def compute_level(inp: LevelInput, design: ReplicateDesign) -> LevelStats:
    """Every statistic of every group of one level in one pass (see the module docstring)."""
    labels = _labels(inp.codes)
    d = level_design(design, inp.codes)
    n = inp.n_groups
    passed = inp.passed.astype(np.float64)
    mean_rep = estimate_mean(inp.scale, design, groups=labels)  # full design: for the comparisons
    pass_rep = estimate_share_at_or_above(passed, design, 0.5, groups=labels)
    if d is not design:  # census form: the same estimates, without replicates' rounding noise in U and df
        mean = estimate_mean(inp.scale, d, groups=labels).combine().suppress(inp.rule)
        pass_rate = estimate_share_at_or_above(passed, d, 0.5, groups=labels).combine().suppress(inp.rule)
    else:
        mean, pass_rate = mean_rep.combine().suppress(inp.rule), pass_rep.combine().suppress(inp.rule)
    reasons = [s.suppressed for s in stats_by_group(mean, n)]
    pct = _percentiles(inp.scale, d, [p / 100 for p in PERCENTILES], labels).combine().suppress(inp.rule)
    cuts = [k + 0.5 for k in range(inp.n_levels - 1)]
    lv = estimate_level_shares(inp.level.astype(np.float64), d, cuts, groups=labels).combine().suppress(inp.rule)
    lv_names = [f"level{k}" for k in range(inp.n_levels)]
    dims = {
        code: stats_by_group(estimate_mean(v, d, groups=labels).combine().suppress(inp.rule), n)
        for code, v in inp.dimensions.items()
    }
    return LevelStats(
        n_groups=n,
        mean=stats_by_group(mean, n),
        sd=stats_by_group(_sd(inp.scale, d, labels).combine().suppress(inp.rule), n),
        percentiles={p: stats_by_group(pct, n, f"p{p}") for p in PERCENTILES},
        levels=[stats_by_group(lv, n, name) for name in lv_names],
        pass_rate=stats_by_group(pass_rate, n),
        dimensions=dims,
        gaps=_gaps(inp, d),
        spread=_spread(inp, design, labels),
        mean_replicates=mean_rep,
        pass_replicates=pass_rep,
        suppressed=reasons,
    )


def compare_levels(
    own: ReplicateEstimates, other: ReplicateEstimates, pairs: Sequence[tuple[int, int]], rule: SuppressionRule
) -> list[tuple[Stat, bool]]:
    """``own[g] - other[h]`` for each ``(g, h)``, SE from the same replicates and PVs, suppressed by ``rule``.

    Both estimates must come from one design over the same students (every level is computed with
    the same design), so the covariance of a group with the larger group containing it is respected.
    """
    if not pairs:
        return []
    diff = own.select([g for g, _ in pairs]).subtract(other.select([h for _, h in pairs]), statistic="difference")
    est = diff.combine().suppress(rule)
    return [(stat_of(est, k), bool(est.significant[k]) and est.suppressed[k] is None) for k in range(len(pairs))]
