"""Plausible values of an assessment: drawn once after its calibration, stored, read back for reports.

Group results come from plausible values (PVs), not EAP means, which shrink toward the prior and
attenuate group differences. :func:`draw_plausible_values` fits the population model of
:mod:`scoring.population` to an assessment's stored answers with the item parameters of its
calibration fixed: a latent regression on grade, gender, urban/rural and region dummies, with
school effects absorbed (school-mean conditioning, as NAEP's and PISA's conditioning models
condition on the school) and a residual variance per grade, estimated by EM; it then draws M PVs
per student from each posterior (proper imputation: coefficients and school effects drawn anew
for each PV). Each dimension gets its own PVs from the same model fitted to that dimension's
items alone (unidimensional subscales, as ICILS reports its strands), with the dimension's
marginal reliability ``1 - mean posterior variance / variance of the PVs``.

The PVs go onto the reporting scale exactly as a session's score does
(:func:`assess.scales.to_scale`: 500 + 100 z against the calibration's baseline, or the baseline of
the scale version in force where it sets one) and into levels by the cut scores of each student's
grade band under that version (:func:`assess.standards.versions.active_scale`), and
are stored with that transformation (:mod:`reports.models`). :func:`ensure_plausible_values`
draws them when an assessment has none, or when sessions finished or the calibration changed
since the last draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sqlalchemy import delete, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from assess.banks import grade_band
from assess.models import Response, TestSession
from assess.scoring_rule import assessed_clause
from assess.standards.versions import ScaleSettings, active_scale
from itembank.calibrations import item_params
from itembank.models import Calibration, Item, ItemParameter, ItemVersion
from reports.exceptions import NoScores, NotCalibrated
from reports.models import PlausibleValue, PlausibleValueRun, PlausibleValueRunPublic
from reports.tree import PeopleTree
from scoring.params import ItemParams
from scoring.population import draw_latent_regression_pvs, fit_latent_regression

__all__ = [
    "CONDITIONING_NAMES",
    "AssessmentResponses",
    "DrawnValues",
    "StoredValues",
    "conditioning_covariates",
    "draw_plausible_values",
    "ensure_plausible_values",
    "load_plausible_values",
    "load_responses",
    "store_plausible_values",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str], None]
SCALE_MEAN, SCALE_SD = 500.0, 100.0
"""The reporting scale: 500 + 100 z, as :func:`assess.scales.to_scale`."""

CONDITIONING_NAMES: dict[str, str] = {
    "grade": "年级",
    "girl": "性别",
    "urban": "城乡",
    "rural": "城乡",
    "east": "区域",
    "west": "区域",
    "school": "学校（学校均值条件化）",
}
"""Chinese names of the conditioning variables, for the methods note."""


@dataclass(frozen=True, eq=False)
class AssessmentResponses:
    """The scored operational answers of an assessment's assessed students, on its calibration's items.

    ``matrix`` is students (aligned with :attr:`reports.tree.PeopleTree.student_ids`) x items
    (``params`` order), its stored entries the scores (explicit zeros kept); ``indicators[j]`` and
    ``dimensions[j]`` tag item ``j``; ``version_ids[j]`` is its item version.
    """

    params: ItemParams
    version_ids: tuple[int, ...]
    indicators: tuple[str, ...]
    dimensions: tuple[str, ...]
    matrix: sp.csr_matrix
    calibration_id: int
    calibration_name: str
    baseline_mean: float
    baseline_sd: float


@dataclass(frozen=True, eq=False)
class DrawnValues:
    """PVs of every assessed student, before storing: ``theta (n, M)`` and per dimension ``(n, M)``."""

    theta: FloatArray
    eap: FloatArray
    eap_sd: FloatArray
    dimension_theta: dict[str, FloatArray]
    dimension_reliability: dict[str, float]
    dimension_items: dict[str, float]
    conditioning: tuple[str, ...]
    model: dict[str, object]


@dataclass(frozen=True, eq=False)
class StoredValues:
    """Stored PVs aligned with a tree's students: scale scores, levels, dimension scale scores.

    ``scale (n, M)``; ``level (n, M)`` indices into ``levels``; ``passed (n, M)`` whether at or above
    the pass level; ``dimension_scale[code] (n, M)``; ``bands[i]`` each student's grade band.
    """

    run: PlausibleValueRunPublic
    scale: FloatArray
    level: IntArray
    passed: npt.NDArray[np.bool_]
    dimension_scale: dict[str, FloatArray]
    eap_sd: FloatArray
    bands: tuple[str, ...]
    levels: tuple[str, ...]
    pass_level: int
    cuts: dict[str, tuple[float, ...]]


_BATCH = 200_000
"""Answers fetched from the database at a time by :func:`load_responses`."""


def _calibration(session: Session, tree: PeopleTree) -> Calibration:
    cid = tree.assessment.calibration_id
    row = session.get(Calibration, cid) if cid is not None else None
    if row is None:
        raise NotCalibrated(f"测评 {tree.assessment.code} 没有题目参数标定，无法抽取合理值")
    return row


def load_responses(*, session: Session, tree: PeopleTree) -> AssessmentResponses:
    """The scored, non-pilot answers of the tree's sessions on the items of the assessment's calibration.

    Raises
    ------
    NotCalibrated
        The assessment has no calibration, or none of the answered items is in it.
    """
    cal = _calibration(session, tree)
    query = (
        sa_select(col(Response.session_id), col(Response.item_version_id), col(Response.score))
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(
            col(TestSession.assessment_id) == tree.assessment.id,
            assessed_clause(),
            col(Response.score).is_not(None),
            col(Response.pilot).is_(False),
        )
    )
    # core rows (ten times faster than ORM rows here), fetched and packed a batch at a time: a million
    # students' thirty million answers as Python rows would take several GB, as an array 720 MB. The
    # option goes on the statement: Connection.execution_options sets it on the session's connection
    # for the rest of the transaction, and PostgreSQL then refuses the run's INSERT as a cursor
    result = session.connection().execute(query.execution_options(yield_per=_BATCH))
    parts = [np.array([tuple(r) for r in batch], dtype=np.int64) for batch in result.partitions()]  # numpy probes Rows
    arr = np.concatenate(parts).reshape(-1, 3) if parts else np.empty((0, 3), dtype=np.int64)
    del parts
    # the tree's sessions are in student order, which need not be session-id order (a sampled
    # country registers its students school by school, then tests them in another order)
    by_id = np.argsort(tree.session_ids, kind="stable")
    sorted_ids = tree.session_ids[by_id]
    pos = np.minimum(np.searchsorted(sorted_ids, arr[:, 0]), max(sorted_ids.size - 1, 0))
    arr = arr[sorted_ids[pos] == arr[:, 0]] if sorted_ids.size else arr[:0]
    versions = np.unique(arr[:, 1])
    prow = session.exec(
        select(ItemParameter, Item.code, Item.indicator, Item.dimension)
        .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .where(ItemParameter.calibration_id == cal.id, col(ItemParameter.item_version_id).in_(versions.tolist()))
    ).all()
    if not prow:
        raise NotCalibrated(f"测评 {tree.assessment.code} 的作答题目不在标定 {cal.name} 中")
    prow = sorted(prow, key=lambda r: r[0].item_version_id)
    vids = np.array([r[0].item_version_id for r in prow], dtype=np.int64)
    params = item_params([f"{r[1]}@{r[0].item_version_id}" for r in prow], [r[0] for r in prow])
    keep = np.isin(arr[:, 1], vids)
    arr = arr[keep]
    student_row = by_id[np.searchsorted(sorted_ids, arr[:, 0])]
    item_col = np.searchsorted(vids, arr[:, 1])
    order = np.lexsort((item_col, student_row))
    student_row, item_col, score = student_row[order], item_col[order], arr[order, 2].astype(np.float64)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(student_row, minlength=tree.n_students))])
    matrix = sp.csr_matrix((score, item_col, indptr), shape=(tree.n_students, vids.size))
    return AssessmentResponses(
        params=params,
        version_ids=tuple(int(v) for v in vids),
        indicators=tuple(str(r[2]) for r in prow),
        dimensions=tuple(str(r[3]) for r in prow),
        matrix=matrix,
        calibration_id=int(cal.id or 0),
        calibration_name=cal.name,
        baseline_mean=float(cal.latent_mean),
        baseline_sd=float(cal.latent_sd),
    )


def conditioning_covariates(tree: PeopleTree) -> tuple[FloatArray, list[str]]:
    """Dummies of the reporting variables: grade (lowest grade the reference), girl, urban, rural, east, west.

    Town schools and the central region are the references. With school effects absorbed, the
    locale and region dummies (constant within a school) are carried by the school effects.
    """
    cols: list[FloatArray] = []
    names: list[str] = []
    grades = sorted(set(tree.grade.tolist()))
    for g in grades[1:]:
        cols.append((tree.grade == g).astype(np.float64))
        names.append(f"grade{g}")
    cols.append(tree.girl.astype(np.float64))
    names.append("girl")
    region = np.array(tree.levels["region"].codes, dtype=object)[np.maximum(tree.levels["region"].of_student, 0)]
    for name, values in (("urban", tree.locale == "urban"), ("rural", tree.locale == "rural")):
        cols.append(values.astype(np.float64))
        names.append(name)
    for name in ("east", "west"):
        cols.append((region == name).astype(np.float64))
        names.append(name)
    return np.column_stack(cols), names


def _reliability(pv: FloatArray, eap_sd: FloatArray) -> float:
    """Marginal reliability: 1 - mean posterior variance / mean (over PVs) variance of the PVs."""
    total = float(np.mean(np.var(pv, axis=0)))
    return float(1.0 - np.mean(eap_sd**2) / total) if total > 0 else 0.0


def draw_plausible_values(
    responses: AssessmentResponses,
    tree: PeopleTree,
    rng: np.random.Generator,
    *,
    n_pvs: int = 10,
    progress: Progress | None = None,
) -> DrawnValues:
    """Fit the latent regression (overall and per dimension) and draw ``n_pvs`` PVs per student.

    The overall model conditions on :func:`conditioning_covariates` with absorbed school effects and
    a residual variance per grade; each dimension's model is the same on that dimension's items.
    """
    say = progress or (lambda _msg: None)
    x, names = conditioning_covariates(tree)
    schools = tree.levels["school"].of_student
    say("潜在回归（总分）")
    fit = fit_latent_regression(
        responses.matrix, responses.params, x, names=names, variance_groups=tree.grade, schools=schools
    )
    theta = draw_latent_regression_pvs(responses.matrix, responses.params, fit, rng, n_draws=n_pvs)
    dims: dict[str, FloatArray] = {}
    rel: dict[str, float] = {}
    per: dict[str, float] = {}
    for code in sorted(set(responses.dimensions)):
        cols = np.array([j for j, d in enumerate(responses.dimensions) if d == code], dtype=np.int64)
        sub = responses.matrix[:, cols].tocsr()
        say(f"潜在回归（{code}）")
        dfit = fit_latent_regression(
            sub, responses.params.subset(cols), x, names=names, variance_groups=tree.grade, schools=schools
        )
        dims[code] = draw_latent_regression_pvs(sub, responses.params.subset(cols), dfit, rng, n_draws=n_pvs)
        rel[code] = _reliability(dims[code], dfit.eap_sd)
        per[code] = float(sub.getnnz() / max(tree.n_students, 1))
    model: dict[str, object] = {
        "names": list(fit.names),
        "coefficients": [round(float(v), 6) for v in fit.coefficients],
        "residual_sd": {str(k): round(float(v), 6) for k, v in zip(fit.variance_groups, fit.residual_sd, strict=True)},
        "dropped": list(fit.dropped),
        "n_schools": len(fit.absorbed),
        "n_iter": fit.n_iter,
        "converged": fit.converged,
        "log_likelihood": round(float(fit.log_likelihood), 4),
        "reliability": round(_reliability(theta, fit.eap_sd), 4),
    }
    return DrawnValues(
        theta=theta,
        eap=fit.eap,
        eap_sd=fit.eap_sd,
        dimension_theta=dims,
        dimension_reliability=rel,
        dimension_items=per,
        conditioning=(*names, "school"),
        model=model,
    )


def _cuts_by_band(
    session: Session, grades: IntArray, scale: ScaleSettings
) -> tuple[dict[int, str], dict[str, tuple[float, ...]]]:
    band_of: dict[int, str] = {}
    cuts: dict[str, tuple[float, ...]] = {}
    for g in sorted(set(grades.tolist())):
        spec = grade_band(int(g), session=session)
        band_of[int(g)] = spec.code
        cuts[spec.code] = tuple(float(c) for c in scale.band_cuts(spec).cuts)
    return band_of, cuts


def _baseline(scale: ScaleSettings, responses_mean: float, responses_sd: float) -> tuple[float, float]:
    """The scale version's baseline, or the calibration's latent distribution where it sets none."""
    mean = responses_mean if scale.baseline_mean is None else scale.baseline_mean
    sd = responses_sd if scale.baseline_sd is None else scale.baseline_sd
    return float(mean), float(sd)


def store_plausible_values(
    *, session: Session, tree: PeopleTree, responses: AssessmentResponses, drawn: DrawnValues, seed: int
) -> PlausibleValueRunPublic:
    """Store a draw as the assessment's run (replacing any earlier run) in the caller's transaction."""
    scale = active_scale(session=session)
    band_of, cuts = _cuts_by_band(session, tree.grade, scale)
    b_mean, b_sd = _baseline(scale, responses.baseline_mean, responses.baseline_sd)

    sc = np.asarray(SCALE_MEAN + SCALE_SD * (drawn.theta - b_mean) / b_sd)  # assess.scales.to_scale, vectorised
    bands = [band_of[int(g)] for g in tree.grade.tolist()]
    cut_rows = np.array([cuts[b] for b in bands])  # (n, 3)
    level = (sc[:, :, None] >= cut_rows[:, None, :]).sum(axis=2)
    old = session.exec(select(PlausibleValueRun.id).where(PlausibleValueRun.assessment_id == tree.assessment.id)).all()
    if old:
        session.exec(delete(PlausibleValue).where(col(PlausibleValue.run_id).in_(old)))
        session.exec(delete(PlausibleValueRun).where(col(PlausibleValueRun.id).in_(old)))
    run = PlausibleValueRun(
        assessment_id=int(tree.assessment.id or 0),
        calibration_id=responses.calibration_id,
        n_pvs=int(drawn.theta.shape[1]),
        seed=seed,
        n_students=tree.n_students,
        n_sessions=tree.n_students,
        conditioning=list(drawn.conditioning),
        model=drawn.model,
        dimensions={
            code: {
                "reliability": round(drawn.dimension_reliability[code], 4),
                "items": round(drawn.dimension_items[code], 2),
            }
            for code in drawn.dimension_theta
        },
        scale_mean=SCALE_MEAN,
        scale_sd=SCALE_SD,
        baseline_mean=b_mean,
        baseline_sd=b_sd,
        levels=list(scale.levels),
        pass_level=scale.pass_level,
        cuts={k: list(v) for k, v in cuts.items()},
    )
    session.add(run)
    session.flush()
    rid = int(run.id or 0)
    dim_codes = sorted(drawn.dimension_theta)
    table = PlausibleValue.__table__  # type: ignore[attr-defined]
    for lo in range(0, tree.n_students, 5_000):  # rows built per batch: all at once they would not fit a million
        rows = [
            {
                "run_id": rid,
                "student_id": int(tree.student_ids[i]),
                "band": bands[i],
                "theta": [round(float(v), 5) for v in drawn.theta[i]],
                "scale_score": [round(float(v), 3) for v in sc[i]],
                "level": [int(v) for v in level[i]],
                "dimension_theta": {d: [round(float(v), 5) for v in drawn.dimension_theta[d][i]] for d in dim_codes},
                "eap": round(float(drawn.eap[i]), 5),
                "eap_sd": round(float(drawn.eap_sd[i]), 5),
            }
            for i in range(lo, min(lo + 5_000, tree.n_students))
        ]
        session.execute(insert(table), rows)
    session.flush()
    return PlausibleValueRunPublic.model_validate(run, from_attributes=True)


def _current_run(session: Session, tree: PeopleTree) -> PlausibleValueRun | None:
    run = session.exec(
        select(PlausibleValueRun)
        .where(PlausibleValueRun.assessment_id == tree.assessment.id)
        .order_by(col(PlausibleValueRun.id).desc())
    ).first()
    if run is None or run.calibration_id != tree.assessment.calibration_id or run.n_students != tree.n_students:
        return None
    scale = active_scale(session=session)
    _, cuts = _cuts_by_band(session, tree.grade, scale)
    b_mean, b_sd = _baseline(scale, run.baseline_mean, run.baseline_sd)
    same = run.levels == list(scale.levels) and run.pass_level == scale.pass_level
    same = same and (b_mean, b_sd) == (run.baseline_mean, run.baseline_sd)
    if not same or any(list(run.cuts.get(band, ())) != list(c) for band, c in cuts.items()):
        return None  # the scale version in force changed since the draw
    return run


def ensure_plausible_values(
    *,
    session: Session,
    tree: PeopleTree,
    n_pvs: int = 10,
    seed: int = 20250601,
    redraw: bool = False,
    progress: Progress | None = None,
) -> PlausibleValueRunPublic:
    """The assessment's stored run, drawing (and storing) one when there is none or it is stale.

    A run is stale when the assessment's calibration changed, the number of assessed students
    differs from the run's (sessions finished since), or the scale version in force gives other
    levels, cuts or baseline than the run was stored with. ``redraw`` draws anew regardless.
    """
    run = None if redraw else _current_run(session, tree)
    if run is not None:
        return PlausibleValueRunPublic.model_validate(run, from_attributes=True)
    responses = load_responses(session=session, tree=tree)
    drawn = draw_plausible_values(responses, tree, np.random.default_rng(seed), n_pvs=n_pvs, progress=progress)
    return store_plausible_values(session=session, tree=tree, responses=responses, drawn=drawn, seed=seed)


def load_plausible_values(*, session: Session, tree: PeopleTree) -> StoredValues:
    """The newest stored run's values for the tree's students, in the tree's order.

    Raises
    ------
    NoScores
        The assessment has no stored plausible values, or they do not cover every assessed student.
    """
    run = session.exec(
        select(PlausibleValueRun)
        .where(PlausibleValueRun.assessment_id == tree.assessment.id)
        .order_by(col(PlausibleValueRun.id).desc())
    ).first()
    if run is None:
        raise NoScores(f"测评 {tree.assessment.code} 还没有抽取合理值（infolit report pvs {tree.assessment.code}）")
    rows = session.execute(
        sa_select(
            col(PlausibleValue.student_id), col(PlausibleValue.band), col(PlausibleValue.scale_score),
            col(PlausibleValue.level), col(PlausibleValue.dimension_theta), col(PlausibleValue.eap_sd),
        ).where(col(PlausibleValue.run_id) == run.id)
    ).all()  # fmt: skip
    by_student = {int(r[0]): r for r in rows}
    missing = [int(s) for s in tree.student_ids.tolist() if int(s) not in by_student]
    if missing:
        raise NoScores(
            f"测评 {tree.assessment.code} 的合理值缺少 {len(missing)} 名学生"
            f"（请重新抽取：infolit report pvs {tree.assessment.code} --redraw）"
        )
    ordered = [by_student[int(s)] for s in tree.student_ids.tolist()]
    m = int(run.n_pvs)
    scale = np.array([r[2] for r in ordered], dtype=np.float64).reshape(-1, m)
    level = np.array([r[3] for r in ordered], dtype=np.int64).reshape(-1, m)
    dims = sorted(run.dimensions)
    b_mean, b_sd = float(run.baseline_mean), float(run.baseline_sd)
    dim_scale = {
        d: run.scale_mean + run.scale_sd * (np.array([r[4][d] for r in ordered], dtype=np.float64) - b_mean) / b_sd
        for d in dims
    }
    return StoredValues(
        run=PlausibleValueRunPublic.model_validate(run, from_attributes=True),
        scale=scale,
        level=level,
        passed=level >= int(run.pass_level),
        dimension_scale=dim_scale,
        eap_sd=np.array([r[5] for r in ordered], dtype=np.float64),
        bands=tuple(str(r[1]) for r in ordered),
        levels=tuple(run.levels),
        pass_level=int(run.pass_level),
        cuts={k: tuple(v) for k, v in run.cuts.items()},
    )
