"""One group's profile from the numbers of every level: :func:`assemble_profile`.

:mod:`reports.aggregate` runs the replicate engine once per level and hands the results over in a
:class:`ProfileContext`; this module only picks a group's rows out of them and names things:
identity and ancestry, participation, percentiles and levels, dimensions (flagged where the
subscore is unreliable), gaps, comparisons, a region's spread of schools and its sub-areas,
strengths and weaknesses by sub-indicator, the described levels of the group's grade bands, the
methods note and the headline. A group below its suppression threshold gets a profile that keeps
its identity and participation and withholds every number with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from reports.inputs import ReportInputs, SuppressionRules
from reports.items import SubIndicatorStats
from reports.level_stats import PERCENTILES, GapStats, LevelStats
from reports.profile import (
    PROFILE_LEVELS,
    Comparison,
    DimensionResult,
    Gap,
    GroupIdentity,
    LevelDescription,
    LevelShare,
    MethodsNote,
    Participation,
    Percentile,
    Profile,
    ProfileLevel,
    SchoolPoint,
    SchoolSpread,
    Stat,
    SubAreaRow,
    SubIndicatorResult,
)
from reports.tree import LOCALE_NAMES
from reports.wording import headline, strength_sentence, weakness_sentence

__all__ = ["ProfileContext", "assemble_profile", "bands_by_group", "index_gaps"]

IntArray = npt.NDArray[np.int64]

_GAP_LABELS = {"gender": "性别", "locale": "城乡", "grade": "年级"}


@dataclass(frozen=True, eq=False)
class ProfileContext:
    """The numbers of every level, and what every profile shares (see :func:`assemble_profile`).

    ``school_at[level][s]`` is school ``s``'s group at ``level``; ``gaps[level][g]`` the gaps of
    group ``g``; ``comparisons[level][g]`` its comparisons; ``subs[level]`` the sub-indicator
    numbers; ``items[level] (K, G)`` distinct items of each sub-indicator answered in each group;
    ``descriptions[band]`` the described levels of each grade band; ``bands[level][g]`` the grade
    bands of group ``g``'s students.
    """

    inputs: ReportInputs
    rules: SuppressionRules
    stats: dict[str, LevelStats]
    subs: dict[str, SubIndicatorStats]
    items: dict[str, IntArray]
    school_at: dict[str, IntArray]
    gaps: dict[str, dict[int, list[Gap]]]
    comparisons: dict[str, list[list[Comparison]]]
    descriptions: dict[str, tuple[LevelDescription, ...]]
    methods: MethodsNote
    show_names: bool
    assessed_per_school: IntArray
    bands: dict[str, list[list[str]]]


def index_gaps(stats: LevelStats) -> dict[int, list[Gap]]:
    """The gaps of one level by group."""
    out: dict[int, list[Gap]] = {}
    for gs in stats.gaps:
        out_rows = _gap_rows(gs)
        for g, gap in out_rows:
            out.setdefault(g, []).append(gap)
    return out


def bands_by_group(bands: tuple[str, ...], codes: IntArray, n_groups: int) -> list[list[str]]:
    """The grade bands of each group's students, sorted."""
    arr = np.asarray(bands)
    live = codes >= 0
    pairs = sorted(set(zip(codes[live].tolist(), arr[live].tolist(), strict=True)))
    out: list[list[str]] = [[] for _ in range(n_groups)]
    for g, b in pairs:
        out[g].append(b)
    return out


def _gap_rows(gs: GapStats) -> list[tuple[int, Gap]]:
    rows = []
    for g, a, b, mean_a, mean_b, diff, sig in gs.rows:
        label = f"{a} − {b}"
        rows.append((g, Gap(gs.kind, label, str(a), str(b), mean_a, mean_b, diff, sig)))  # type: ignore[arg-type]
    return rows


def _identity(ctx: ProfileContext, level: ProfileLevel, g: int) -> GroupIdentity:
    tree = ctx.inputs.tree
    idx = tree.levels[level]
    locale = tree.school_locale[g] if level == "school" else None
    return GroupIdentity(
        level=level,
        code=idx.codes[g],
        name=idx.names[g],
        region=idx.regions[g],
        ancestors=tree.ancestors(level, g),
        locale=locale,
        locale_name=LOCALE_NAMES.get(locale) if locale else None,
    )


def _participation(ctx: ProfileContext, level: str, g: int) -> Participation:
    tree, sample = ctx.inputs.tree, ctx.inputs.sample
    mine = ctx.school_at[level] == g
    assessed = int(ctx.assessed_per_school[mine].sum())
    sampled = int(tree.sampled[mine].sum())
    excluded = int(tree.excluded[mine].sum())
    n_schools = int(mine.sum())
    taking = int((ctx.assessed_per_school[mine] > 0).sum())
    eligible = sampled - excluded
    student_rate = assessed / eligible if eligible > 0 else float("nan")
    school_rate = taking / n_schools if sample.from_frame and n_schools else float("nan")
    flags = []
    if np.isfinite(school_rate) and school_rate < sample.school_threshold:
        flags.append(
            f"学校应答率 {school_rate:.0%}，低于抽样设计要求的 {sample.school_threshold:.0%}，结果可能有偏差。"
        )
    if np.isfinite(student_rate) and student_rate < sample.student_threshold:
        flags.append(
            f"学生应答率 {student_rate:.0%}，低于抽样设计要求的 {sample.student_threshold:.0%}，结果可能有偏差。"
        )
    return Participation(
        schools_sampled=n_schools,
        schools_participating=taking,
        students_sampled=sampled,
        students_assessed=assessed,
        students_excluded=excluded,
        school_response_rate=school_rate,
        student_response_rate=student_rate,
        school_threshold=sample.school_threshold,
        student_threshold=sample.student_threshold,
        weighted=sample.weighted,
        flags=tuple(flags),
    )


def _dimensions(ctx: ProfileContext, st: LevelStats, g: int) -> tuple[DimensionResult, ...]:
    run = ctx.inputs.values.run
    out = []
    for dim in ctx.inputs.framework.dimensions:
        if dim.code not in st.dimensions:
            continue
        info = run.dimensions.get(dim.code, {})
        rel = float(info.get("reliability", float("nan")))
        unreliable = not (rel >= ctx.rules.min_reliability)
        mean = st.dimensions[dim.code][g]
        if unreliable and mean.reported:
            mean = Stat.withheld(
                f"分维度信度过低（{rel:.2f}），不宜解读", n_students=mean.n_students, n_schools=mean.n_schools
            )
        out.append(
            DimensionResult(
                dim.code, dim.name, mean, rel, unreliable, ctx.rules.min_reliability, float(info.get("items", 0.0))
            )
        )
    return tuple(out)


def _spread(ctx: ProfileContext, level: str, g: int) -> SchoolSpread | None:
    st = ctx.stats[level]
    if level == "school" or not st.spread:
        return None
    schools = np.nonzero(ctx.school_at[level] == g)[0]
    tree = ctx.inputs.tree
    means = ctx.stats["school"].mean
    order = sorted(
        schools.tolist(), key=lambda s: (not means[s].reported, means[s].estimate if means[s].reported else 0.0)
    )
    idx = tree.levels["school"]
    points = tuple(
        SchoolPoint(
            label=idx.names[s] if ctx.show_names else f"学校 {rank}",
            code=idx.codes[s] if ctx.show_names else None,
            name=idx.names[s] if ctx.show_names else None,
            rank=rank,
            mean=means[s],
            locale=tree.school_locale[s],
        )
        for rank, s in enumerate(order, start=1)
    )
    return SchoolSpread(
        between_share=st.spread["between_share"][g],
        cv=st.spread["school_means_cv"][g],
        between_variance=st.spread["between_variance"][g],
        within_variance=st.spread["within_variance"][g],
        schools=points,
        names_shown=ctx.show_names,
    )


def _sub_areas(ctx: ProfileContext, level: str, g: int) -> tuple[SubAreaRow, ...]:
    tree = ctx.inputs.tree
    for child in PROFILE_LEVELS:
        idx = tree.levels[child]
        if idx.parent_level != level or child not in ctx.stats:
            continue
        if child == "school" and not ctx.show_names:
            return ()
        st = ctx.stats[child]
        kids = np.nonzero(idx.parent == g)[0].tolist()
        return tuple(SubAreaRow(child, idx.codes[k], idx.names[k], st.mean[k], st.pass_rate[k]) for k in kids)
    return ()


def _sub_indicators(ctx: ProfileContext, level: str, g: int) -> tuple[SubIndicatorResult, ...]:
    subs = ctx.subs.get(level)
    if subs is None:
        return ()
    fw = ctx.inputs.framework
    rules = ctx.rules
    out = []
    for k, code in enumerate(subs.codes):
        spec = fw.indicator(code)
        name = spec.name if spec else code
        diff = subs.difference[k][g]
        n_resp = int(subs.responses[k, g])
        if diff.reported and n_resp < rules.min_responses:
            diff = Stat.withheld(
                f"作答不足 {rules.min_responses} 次（{n_resp} 次）",
                n_students=diff.n_students,
                n_schools=diff.n_schools,
            )
        verdict = "too_few"
        sentence = ""
        if diff.reported:
            big = abs(diff.estimate) >= rules.min_effect and abs(diff.estimate) > 1.959963984540054 * diff.se
            verdict = "as_expected" if not big else ("strength" if diff.estimate > 0 else "weakness")
            if verdict == "strength":
                sentence = strength_sentence(level, name, diff.estimate)
            elif verdict == "weakness":
                sentence = weakness_sentence(level, name, diff.estimate, spec.description if spec else "")
        out.append(
            SubIndicatorResult(
                code=code, name=name, dimension=spec.dimension if spec else code.split(".")[0],
                n_items=int(ctx.items[level][k, g]), n_responses=n_resp, observed=float(subs.observed[k, g]),
                expected=float(subs.expected[k, g]), difference=diff, verdict=verdict,  # type: ignore[arg-type]
                sentence=sentence, min_effect=rules.min_effect,
            )
        )  # fmt: skip
    return tuple(out)


def _descriptions(
    ctx: ProfileContext, level: str, g: int, levels: tuple[LevelShare, ...]
) -> tuple[LevelDescription, ...]:
    mine = ctx.bands[level][g]
    out: list[LevelDescription] = []
    share = {ls.level: ls.stat for ls in levels} if len(mine) == 1 else {}
    for band in mine:
        out.extend(replace(d, share=share.get(d.level)) for d in ctx.descriptions.get(band, ()))
    return tuple(out)


def _ranked(subs: tuple[SubIndicatorResult, ...], verdict: str) -> tuple[str, ...]:
    chosen = [s for s in subs if s.verdict == verdict]
    chosen.sort(key=lambda s: -abs(s.difference.estimate))
    return tuple(s.sentence for s in chosen)


def assemble_profile(ctx: ProfileContext, level: ProfileLevel, g: int) -> Profile:
    """The profile of group ``g`` of ``level`` (see the module docstring)."""
    st = ctx.stats[level]
    reason = st.suppressed[g]
    levels = tuple(LevelShare(name, st.levels[k][g]) for k, name in enumerate(ctx.inputs.values.levels))
    subs = _sub_indicators(ctx, level, g) if reason is None else ()
    p = Profile(
        identity=_identity(ctx, level, g),
        assessment=ctx.inputs.info,
        suppressed=reason,
        participation=_participation(ctx, level, g),
        mean=st.mean[g],
        sd=st.sd[g],
        percentiles=tuple(Percentile(q, st.percentiles[q][g]) for q in PERCENTILES),
        levels=levels,
        pass_rate=st.pass_rate[g],
        pass_level=ctx.inputs.values.levels[ctx.inputs.values.pass_level],
        dimensions=_dimensions(ctx, st, g),
        gaps=tuple(ctx.gaps[level].get(g, [])) if reason is None else (),
        comparisons=tuple(ctx.comparisons[level][g]),
        spread=_spread(ctx, level, g) if reason is None else None,
        sub_areas=_sub_areas(ctx, level, g),
        sub_indicators=subs,
        strengths=_ranked(subs, "strength"),
        weaknesses=_ranked(subs, "weakness"),
        level_descriptions=_descriptions(ctx, level, g, levels),
        methods=ctx.methods,
    )
    return replace(p, headline=headline(p, subs))
