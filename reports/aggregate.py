"""Every profile of an assessment, from its stored plausible values, the people tree and the sample design.

:func:`build_assessment_profiles` is the service (database in, :class:`ProfileSet` out);
:func:`build_profiles` is the pure part, on :class:`ReportInputs` already read. One pass of the
replicate engine per level (:func:`reports.level_stats.compute_level`: every school at once, then
every county, city, province, region and the nation), all with the same design
(:func:`reports.sample.choose_design`), so that comparisons with the parent area and the nation
get their SEs replicate by replicate. Then each group's numbers are assembled into a
:class:`~reports.profile.Profile`: participation, comparisons, the spread of a region's schools,
strengths and weaknesses by sub-indicator, described levels, the methods note, the headline, and
the change since a previous round when one is given.

Suppression: a school with fewer than 10 assessed students, an area with fewer than 30 or with
fewer than 5 schools, and a subgroup (girls, rural students, ...) with fewer than 30 is withheld
with its reason (:class:`SuppressionRules`). Bulk rendering and the consoles take the
:class:`ProfileSet`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from assess.standards.versions import active_scale
from itembank.framework_store import current_framework
from itembank.models import utcnow
from reports.assemble import ProfileContext, assemble_profile, bands_by_group, index_gaps
from reports.exceptions import UnknownGroup
from reports.inputs import ReportInputs, SuppressionRules
from reports.items import (
    SubIndicatorStats,
    describe_levels,
    indicator_scores,
    item_locations,
    items_answered,
    sub_indicator_stats,
)
from reports.level_stats import LevelInput, LevelStats, compare_levels, compute_level, level_design
from reports.plausible import (
    CONDITIONING_NAMES,
    AssessmentResponses,
    StoredValues,
    ensure_plausible_values,
    load_plausible_values,
)
from reports.plausible import load_responses as _load_responses
from reports.profile import (
    PROFILE_LEVEL_NAMES,
    PROFILE_LEVELS,
    AssessmentInfo,
    Change,
    Comparison,
    LevelDescription,
    MethodsNote,
    Profile,
    Stat,
)
from reports.sample import DesignMode, SampleFrame, choose_design, load_sample_frame
from reports.tree import PeopleTree, find_assessment, load_tree
from reports.wording import (
    methods_paragraphs,
    suppression_text,
)

__all__ = [
    "ProfileSet",
    "ReportInputs",
    "SuppressionRules",
    "build_assessment_profiles",
    "build_profiles",
    "load_report_inputs",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class ProfileSet:
    """Every profile of an assessment, by ``(level, code)``, with the time each stage took."""

    assessment: AssessmentInfo
    profiles: dict[tuple[str, str], Profile]
    seconds: dict[str, float]

    def __len__(self) -> int:
        return len(self.profiles)

    def __iter__(self) -> Iterator[Profile]:
        return iter(self.profiles.values())

    def at(self, level: str) -> tuple[Profile, ...]:
        """Every profile of one level, ordered by code."""
        return tuple(p for (lv, _), p in sorted(self.profiles.items()) if lv == level)

    def get(self, level: str, code: str) -> Profile:
        """One profile.

        Raises
        ------
        UnknownGroup
            No group of that level has the code.
        """
        try:
            return self.profiles[(level, code)]
        except KeyError:
            name = PROFILE_LEVEL_NAMES.get(level, level)
            raise UnknownGroup(f"测评 {self.assessment.code} 没有代码为 {code} 的{name}") from None

    def find(self, code: str) -> Profile:
        """The profile with ``code`` at whichever level has it (schools first)."""
        for level in PROFILE_LEVELS:
            if (level, code) in self.profiles:
                return self.profiles[(level, code)]
        raise UnknownGroup(f"测评 {self.assessment.code} 没有代码为 {code} 的学校或区域")


# ============================================================================================ loading
def load_report_inputs(
    *,
    session: Session,
    assessment_code: str,
    design: DesignMode = "auto",
    frame: SampleFrame | None = None,
    n_pvs: int = 10,
    seed: int = 20250601,
    progress: Progress | None = None,
) -> ReportInputs:
    """Read the tree, draw the PVs if needed (stored in the caller's transaction), and pick the design."""
    assessment = find_assessment(session=session, code=assessment_code)
    tree = load_tree(session=session, assessment=assessment)
    if frame is None:
        frame = load_sample_frame(session=session, tree=tree)
    ensure_plausible_values(session=session, tree=tree, n_pvs=n_pvs, seed=seed, progress=progress)
    values = load_plausible_values(session=session, tree=tree)
    responses = _load_responses(session=session, tree=tree)
    info = AssessmentInfo(
        code=assessment.code,
        name=assessment.name,
        grades=tuple(int(g) for g in assessment.grades),
        opens_at=assessment.opens_at,
        closes_at=assessment.closes_at,
        calibration=responses.calibration_name,
        round_label=f"{assessment.opens_at:%Y年%m月}" if assessment.opens_at else "",
        generated_at=utcnow(),
    )
    return ReportInputs(
        tree=tree,
        values=values,
        responses=responses,
        framework=current_framework(session=session),
        sample=choose_design(tree, frame=frame, mode=design),
        info=info,
        described={band: dict(text) for band, text in active_scale(session=session).described.items()},
    )


# ============================================================================================ the pass
def _school_at(tree: PeopleTree) -> dict[str, IntArray]:
    """Each school's group at every level (following the parents; ``-1`` where a level is missing)."""
    n = tree.levels["school"].n_groups
    out: dict[str, IntArray] = {"school": np.arange(n, dtype=np.int64)}
    cur_level: str = "school"
    cur = out["school"]
    while tree.levels[cur_level].parent_level is not None:
        up = tree.levels[cur_level].parent_level
        assert up is not None
        par = tree.levels[cur_level].parent
        cur = np.where(cur >= 0, par[np.maximum(cur, 0)], -1)
        out[up] = cur
        cur_level = up
    for lv in PROFILE_LEVELS:
        out.setdefault(lv, np.full(n, -1, dtype=np.int64))
    return out


def _theta(values: StoredValues, responses: AssessmentResponses) -> FloatArray:
    run = values.run
    return np.asarray(responses.baseline_mean + responses.baseline_sd * (values.scale - run.scale_mean) / run.scale_sd)


def _level_input(inputs: ReportInputs, level: str, rules: SuppressionRules) -> LevelInput:
    tree, values = inputs.tree, inputs.values
    rule, sub = rules.for_level(level)
    return LevelInput(
        scale=values.scale,
        level=values.level,
        passed=values.passed,
        dimensions=values.dimension_scale,
        girl=tree.girl,
        locale=tree.locale,
        grade=tree.grade,
        codes=tree.levels[level].of_student,
        n_groups=tree.levels[level].n_groups,
        n_levels=len(values.levels),
        rule=rule,
        subgroup_rule=sub,
        spread=level != "school",
    )


def _comparisons(
    inputs: ReportInputs, stats: dict[str, LevelStats], rules: SuppressionRules
) -> dict[str, list[list[Comparison]]]:
    """For each level, each group's comparisons with its parent and the nation (mean and 达标率)."""
    tree = inputs.tree
    out: dict[str, list[list[Comparison]]] = {}
    for level, st in stats.items():
        rows: list[list[Comparison]] = [[] for _ in range(st.n_groups)]
        idx = tree.levels[level]
        targets: list[tuple[str, IntArray]] = []
        if idx.parent_level is not None:
            targets.append((idx.parent_level, idx.parent))
            if idx.parent_level != "national" and "national" in stats:
                targets.append(("national", np.zeros(st.n_groups, dtype=np.int64)))
        rule = rules.for_level(level)[0]
        for other_level, other_idx in targets:
            other = stats[other_level]
            present = {int(g) for g in st.mean_replicates.groups if int(g) >= 0}  # type: ignore[call-overload]
            there = {int(g) for g in other.mean_replicates.groups if int(g) >= 0}  # type: ignore[call-overload]
            pairs = [(g, int(other_idx[g])) for g in range(st.n_groups) if g in present and int(other_idx[g]) in there]
            oi = tree.levels[other_level]
            for statistic, own_r, oth_r, own_s, oth_s in (
                ("mean", st.mean_replicates, other.mean_replicates, st.mean, other.mean),
                ("pass_rate", st.pass_replicates, other.pass_replicates, st.pass_rate, other.pass_rate),
            ):
                for (g, h), (diff, sig) in zip(pairs, compare_levels(own_r, oth_r, pairs, rule), strict=True):
                    if not own_s[g].reported or not oth_s[h].reported:
                        diff, sig = Stat.withheld(own_s[g].suppressed or oth_s[h].suppressed or "无法比较"), False
                    rows[g].append(
                        Comparison(
                            statistic,  # type: ignore[arg-type]
                            oi.level, oi.codes[h], oi.names[h], own_s[g], oth_s[h], diff, sig,
                        )
                    )  # fmt: skip
        out[level] = rows
    return out


def _level_descriptions(inputs: ReportInputs) -> dict[str, tuple[LevelDescription, ...]]:
    """Described levels of every grade band in the assessment (items answered in the band, RP67).

    Where the scale version in force holds a researcher's text for a band's level (the standard
    setting's described levels), the report prints that text instead of the drafted statements.
    """
    values, resp = inputs.values, inputs.responses
    run = values.run
    theta_loc = item_locations(resp.params)
    scale_loc = run.scale_mean + run.scale_sd * (theta_loc - resp.baseline_mean) / resp.baseline_sd
    bands = np.asarray(values.bands)
    csr = resp.matrix
    descriptions = {i.code: i.description for i in inputs.framework.indicators}
    out: dict[str, tuple[LevelDescription, ...]] = {}
    for band in sorted(set(values.bands)):
        answered = np.asarray(csr[bands == band].getnnz(axis=0)).reshape(-1)
        loc = np.where(answered >= 30, scale_loc, np.nan)
        cuts = values.cuts[band]
        drafted = describe_levels(loc, resp.indicators, band, cuts, values.levels, descriptions)
        written = inputs.described.get(band, {})
        out[band] = tuple(
            replace(d, statements=(written[d.level],), indicator_codes=()) if written.get(d.level) else d
            for d in drafted
        )
    return out


def _methods(inputs: ReportInputs, rules: SuppressionRules) -> MethodsNote:
    run, sample = inputs.values.run, inputs.sample
    cond = []
    for name in run.conditioning:
        label = CONDITIONING_NAMES.get("grade" if name.startswith("grade") else name, name)
        if label not in cond:
            cond.append(label)
    models = ", ".join(sorted({m.upper() for m in inputs.responses.params.models}))
    dims = {d.code: d.name for d in inputs.framework.dimensions}
    rel = "；".join(f"{dims.get(c, c)} {v['reliability']:.2f}" for c, v in sorted(run.dimensions.items()))
    reliability = f"总分的边际信度为 {run.model.get('reliability', float('nan')):.2f}" + (
        f"，各维度：{rel}。" if rel else "。"
    )
    supp = suppression_text(rules.school, rules.region, rules.subgroup)
    tree = inputs.tree
    return MethodsNote(
        design=sample.method,
        design_name=sample.name,
        n_replicates=sample.design.n_replicates,
        weighted=sample.weighted,
        n_plausible_values=int(run.n_pvs),
        conditioning=tuple(cond),
        item_model=models,
        calibration=inputs.responses.calibration_name,
        suppression=supp,
        paragraphs=methods_paragraphs(
            assessment=inputs.info.name,
            n_students=tree.n_students,
            n_schools=int(np.unique(tree.levels["school"].of_student).size),
            design=sample.name,
            weighted=sample.weighted,
            calibration=inputs.responses.calibration_name,
            item_models=models,
            n_pvs=int(run.n_pvs),
            conditioning=cond,
            suppression=supp,
            reliability=reliability,
            sample_note=sample.note,
        ),
    )


def build_profiles(
    inputs: ReportInputs,
    *,
    levels: Sequence[str] | None = None,
    rules: SuppressionRules | None = None,
    show_school_names: bool = True,
    previous: ProfileSet | None = None,
    linking_error: float = 0.0,
    progress: Progress | None = None,
) -> ProfileSet:
    """Every profile of the given levels (default all) of an assessment (see the module docstring).

    ``previous`` is the profile set of an earlier round on the linked scale: each profile gets its
    change since then (matched by level and code), with ``linking_error`` (scale points) in the SE.
    """
    say = progress or (lambda _m: None)
    rules = rules or SuppressionRules()
    tree = inputs.tree
    wanted = [lv for lv in PROFILE_LEVELS if (levels is None or lv in levels) and tree.levels[lv].n_groups]
    seconds: dict[str, float] = {}
    stats: dict[str, LevelStats] = {}
    design = inputs.sample.design
    for lv in PROFILE_LEVELS:  # every level: comparisons need the parents and the nation
        if tree.levels[lv].n_groups == 0:
            continue
        t0 = time.perf_counter()
        say(f"统计：{PROFILE_LEVEL_NAMES[lv]}")
        stats[lv] = compute_level(_level_input(inputs, lv, rules), design)
        seconds[f"level:{lv}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("分指标诊断")
    resp = inputs.responses
    scores = indicator_scores(resp.matrix, resp.params, resp.indicators, _theta(inputs.values, resp))
    subs: dict[str, SubIndicatorStats] = {}
    items: dict[str, IntArray] = {}
    resp = inputs.responses
    for lv in wanted:
        codes, n_groups = tree.levels[lv].of_student, tree.levels[lv].n_groups
        subs[lv] = sub_indicator_stats(scores, level_design(design, codes), codes, n_groups, rules.for_level(lv)[0])
        items[lv] = items_answered(resp.matrix, resp.indicators, codes, n_groups)
    seconds["sub_indicators"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ctx = ProfileContext(
        inputs=inputs, rules=rules, stats=stats, subs=subs, items=items, school_at=_school_at(tree),
        gaps={lv: index_gaps(st) for lv, st in stats.items()}, comparisons=_comparisons(inputs, stats, rules),
        descriptions=_level_descriptions(inputs), methods=_methods(inputs, rules), show_names=show_school_names,
        assessed_per_school=np.bincount(
            tree.levels["school"].of_student[tree.levels["school"].of_student >= 0],
            minlength=tree.levels["school"].n_groups,
        ).astype(np.int64),
        bands={
            lv: bands_by_group(inputs.values.bands, tree.levels[lv].of_student, tree.levels[lv].n_groups)
            for lv in wanted
        },
    )  # fmt: skip
    profiles: dict[tuple[str, str], Profile] = {}
    for lv in wanted:
        for g in range(tree.levels[lv].n_groups):
            p = assemble_profile(ctx, lv, g)
            if previous is not None and (lv, p.identity.code) in previous.profiles:
                p = replace(p, change=_change(p, previous.profiles[(lv, p.identity.code)], linking_error))
            profiles[p.key] = p
    seconds["assemble"] = time.perf_counter() - t0
    return ProfileSet(inputs.info, profiles, seconds)


def _difference(now: Stat, then: Stat, link: float) -> Stat:
    """``now - then`` for independent samples: variances add (the linking error in the measurement part)."""
    if not now.reported or not then.reported:
        return Stat.withheld(
            now.suppressed or then.suppressed or "无法比较", n_students=min(now.n_students, then.n_students)
        )
    d = now.estimate - then.estimate
    samp = float(np.hypot(now.se_sampling, then.se_sampling))
    meas = float(np.sqrt(now.se_measurement**2 + then.se_measurement**2 + link**2))
    se = float(np.hypot(samp, meas))
    return Stat(d, se, samp, meas, min(now.df, then.df), d - 1.959963984540054 * se, d + 1.959963984540054 * se,
                min(now.n_students, then.n_students), min(now.n_schools, then.n_schools))  # fmt: skip


def _change(now: Profile, then: Profile, linking_error: float) -> Change:
    mean = _difference(now.mean, then.mean, linking_error)
    share = _difference(now.pass_rate, then.pass_rate, 0.0)
    return Change(
        previous_code=then.assessment.code,
        previous_name=then.assessment.name,
        mean_then=then.mean,
        mean_change=mean,
        pass_rate_then=then.pass_rate,
        pass_rate_change=share,
        linking_error=linking_error,
        significant=mean.reported and abs(mean.estimate) > 1.959963984540054 * mean.se,
    )


def build_assessment_profiles(
    *,
    session: Session,
    assessment_code: str,
    levels: Sequence[str] | None = None,
    design: DesignMode = "auto",
    rules: SuppressionRules | None = None,
    show_school_names: bool = True,
    previous_code: str | None = None,
    linking_error: float = 0.0,
    n_pvs: int = 10,
    progress: Progress | None = None,
) -> ProfileSet:
    """Read an assessment (drawing its PVs if none are stored) and build its profiles (see :func:`build_profiles`).

    ``previous_code`` names an earlier round of the same scale: its profiles are built too and
    each profile gets the change since then.
    """
    t0 = time.perf_counter()
    inputs = load_report_inputs(
        session=session, assessment_code=assessment_code, design=design, n_pvs=n_pvs, progress=progress
    )
    t_load = time.perf_counter() - t0
    before = None
    if previous_code is not None:
        old = load_report_inputs(
            session=session, assessment_code=previous_code, design=design, n_pvs=n_pvs, progress=progress
        )
        before = build_profiles(old, levels=levels, rules=rules, show_school_names=show_school_names)
        if old.responses.calibration_id == inputs.responses.calibration_id:
            linking_error = 0.0
    out = build_profiles(
        inputs, levels=levels, rules=rules, show_school_names=show_school_names, previous=before,
        linking_error=linking_error, progress=progress,
    )  # fmt: skip
    return ProfileSet(out.assessment, out.profiles, {"load": t_load, **out.seconds})
