"""Calibration runs: a researcher's calibration of an assessment's responses, run as a background job.

:func:`start_run` checks a :class:`RunSpec` and writes the run and its job in the caller's
transaction (nothing of it when the spec is refused); the caller enqueues the job after the
commit. :func:`execute_run` is the job (kind ``calibration``): it reads the responses, calibrates
with :func:`scoring.calibrate.calibrate` (anchors fixed at their operational values, grades as
groups), stores the estimates as a **draft** calibration in the item bank (parameters with SEs,
one row per item version; publishing is a separate, reviewed step) and the classical statistics
beside them, with the diagnostics of :mod:`assess.research.diagnostics` (S-X2, distractors,
not-reached rates, drift, dimensionality) in the run's JSON results. Progress: reading 0-5%, EM
5-90% (by the log of the largest parameter change on its way to the tolerance), statistics and
diagnostics 90-98%, storing 98-100%.

The run stores its inputs and the code version, so it can be repeated: same responses, same spec,
same code, same numbers (the EM is deterministic).
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, func, select

from assess.accounts.scope import Actor
from assess.exceptions import AssessError, NotFound
from assess.models import Area, Assessment, Response, School, Student, TestSession
from assess.research.diagnostics import ItemColumn, compute_diagnostics
from assess.research.models import CalibrationRun
from assess.research.queue import JobContext, JobFailed, create_job, job_kind, job_view
from itembank.db import session_scope
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion
from itembank.services import item_params, store_calibration
from scoring.classical import compute_classical_stats
from scoring.params import ItemParams

__all__ = [
    "CALIBRATION",
    "ANCHORS",
    "GROUPS",
    "ITEM_SETS",
    "MODELS",
    "POLY_MODELS",
    "ParameterLine",
    "RunRefused",
    "RunSpec",
    "RunView",
    "FIT_RANGE",
    "DIF_COMPARISONS",
    "ability_strata",
    "code_version",
    "compute_dif",
    "count_runs",
    "execute_run",
    "list_runs",
    "misfits",
    "run_parameters",
    "run_of_job",
    "run_view",
    "start_run",
]

CALIBRATION = "calibration"
"""The job kind of a calibration run."""
ITEM_SETS = {"all": "全部题目", "pilot": "仅试测题（正式题锚定）"}
MODELS = {"declared": "按题目声明的模型", "rasch": "Rasch", "2pl": "2PL", "3pl": "3PL"}
POLY_MODELS = {"declared": "按题目声明的模型", "grm": "GRM（等级反应）", "gpcm": "GPCM（广义分部评分）"}
ANCHORS = {"none": "不锚定", "operational": "正式题锚定在现用参数"}
GROUPS = {"grade": "按年级分组（纵向量尺）", "none": "单组"}
FloatArray = npt.NDArray[np.float64]


class RunRefused(AssessError, ValueError):
    """A calibration run cannot start as asked (the message says what to change)."""


@lru_cache(maxsize=1)
def code_version() -> str:
    """``infolit X.Y.Z`` and, in a git checkout, the commit (``+dirty`` with uncommitted changes)."""
    version = f"infolit {metadata.version('infolit')}"
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} {commit}{'+dirty' if dirty else ''}" if commit else version


@dataclass(frozen=True)
class RunSpec:
    """What to calibrate: the assessment's responses, which items, models, anchors, groups.

    ``items``: ``all`` or ``pilot`` (only the pilot items are estimated: online calibration, which
    needs ``anchors="operational"``). ``model``: the dichotomous items' model (``declared`` keeps
    each item's own); ``poly_model`` the same for partial-credit items. ``anchors``:
    ``operational`` fixes every operational item at its parameters in the assessment's calibration.
    ``groups``: ``grade`` gives each grade its own latent distribution (grade 8, or the lowest,
    the reference N(0, 1)). Items with fewer than ``min_responses`` scored responses are left out.
    """

    name: str
    assessment: str
    items: str = "all"
    model: str = "declared"
    poly_model: str = "declared"
    anchors: str = "none"
    groups: str = "grade"
    min_responses: int = 50

    def check(self) -> None:
        """Refuse a spec that cannot run (:class:`RunRefused`, one line)."""
        name = self.name.strip()
        if not name or len(name) > 64 or any(ch < " " for ch in name):
            raise RunRefused("请给这次标定起一个名字（1-64 个字符）。")
        if name == PROVISIONAL:
            raise RunRefused(f"“{PROVISIONAL}”是题库文件自带的参数，请换一个名字。")
        for value, allowed, what in (
            (self.items, ITEM_SETS, "题目范围"),
            (self.model, MODELS, "二级计分题模型"),
            (self.poly_model, POLY_MODELS, "多级计分题模型"),
            (self.anchors, ANCHORS, "锚定方式"),
            (self.groups, GROUPS, "分组方式"),
        ):
            if value not in allowed:
                raise RunRefused(f"{what}只能是：{'、'.join(allowed)}（收到 {value!r}）。")
        if self.items == "pilot" and self.anchors != "operational":
            raise RunRefused("只标定试测题时，正式题须锚定在现用参数上（选择“正式题锚定”）。")
        if not 1 <= self.min_responses <= 100_000:
            raise RunRefused("每题最少作答人数须在 1 到 100000 之间。")


def start_run(*, session: Session, actor: Actor | None, spec: RunSpec) -> CalibrationRun:
    """Check ``spec`` and record the run and its queued job in the caller's transaction.

    Raises
    ------
    RunRefused
        The spec does not fit (a bad choice, a name already used by a run or a calibration).
    NotFound
        No assessment with that code.
    """
    spec.check()
    name = spec.name.strip()
    assessment = session.exec(select(Assessment).where(Assessment.code == spec.assessment)).first()
    if assessment is None:
        raise NotFound(f"没有代码为 {spec.assessment} 的测评批次。")
    taken = session.exec(select(CalibrationRun.id).where(CalibrationRun.name == name)).first()
    if taken is not None or session.exec(select(Calibration.id).where(Calibration.name == name)).first() is not None:
        raise RunRefused(f"已经有名为“{name}”的标定，请换一个名字。")
    if spec.anchors == "operational" and assessment.calibration_id is None:
        raise RunRefused(f"测评批次 {assessment.code} 没有现用参数，无法锚定。")
    user_id = actor.user_id if actor is not None else None
    job = create_job(session=session, kind=CALIBRATION, total=100, user_id=user_id)
    run = CalibrationRun(
        name=name,
        assessment_id=int(assessment.id or 0),
        items=spec.items,
        model=spec.model,
        poly_model=spec.poly_model,
        anchors=spec.anchors,
        groups=spec.groups,
        min_responses=spec.min_responses,
        job_id=int(job.id or 0),
        user_id=user_id,
        code_version=code_version(),
    )
    session.add(run)
    session.flush()
    job.params = {"run_id": int(run.id or 0)}
    session.add(job)
    session.flush()
    return run


# ============================================================================================ the job
@dataclass(frozen=True, eq=False)
class _Data:
    student_ids: npt.NDArray[np.int64]
    version_ids: tuple[int, ...]
    scores: FloatArray
    omitted: npt.NDArray[np.bool_]


def _is_omitted(answer: Any) -> bool:
    value = answer.get("value") if isinstance(answer, dict) else answer
    if value is None or value == "" or value == []:
        return True
    return isinstance(value, list) and all(v is None or v == "" or v == [] for v in value)


def _read(session: Session, assessment_id: int) -> _Data:
    """The assessment's scored responses as a matrix, and which of them were omitted.

    Only a response that scored 0 can be an omission, so only those answers are read and decoded.
    """
    base = (
        select(TestSession.student_id, Response.item_version_id, Response.score)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id)
    )
    rows = session.exec(base.where(col(Response.score).is_not(None))).all()
    if not rows:
        raise JobFailed("这个测评批次还没有计分的作答。")
    ids = np.array(rows, dtype=np.int64)
    students, r = np.unique(ids[:, 0], return_inverse=True)
    versions, c = np.unique(ids[:, 1], return_inverse=True)
    scores = np.full((students.size, versions.size), np.nan)
    scores[r, c] = ids[:, 2]
    omitted = np.zeros(scores.shape, dtype=bool)
    zeros = session.exec(
        select(TestSession.student_id, Response.item_version_id, Response.answer)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id, Response.score == 0)
    ).all()
    left = [(sid, vid) for sid, vid, answer in zeros if _is_omitted(answer)]
    if left:
        pairs = np.array(left, dtype=np.int64)
        omitted[np.searchsorted(students, pairs[:, 0]), np.searchsorted(versions, pairs[:, 1])] = True
    return _Data(students, tuple(int(v) for v in versions), scores, omitted)


@dataclass(frozen=True)
class _Version:
    code: str
    number: int
    status: str
    max_score: int
    declared: str  # the model of its provisional parameters
    dimension: str = ""

    @property
    def ident(self) -> str:
        return f"{self.code}@{self.number}"


def _versions(session: Session, version_ids: tuple[int, ...]) -> dict[int, _Version]:
    provisional = session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).first()
    rows = session.exec(
        select(ItemVersion, Item, ItemParameter.model)
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .join(ItemParameter, col(ItemParameter.item_version_id) == col(ItemVersion.id))
        .where(ItemParameter.calibration_id == provisional, col(ItemVersion.id).in_(version_ids))
    ).all()
    return {int(v.id or 0): _Version(item.code, v.number, item.status, v.max_score, model, item.dimension)
            for v, item, model in rows}  # fmt: skip


def _model(v: _Version, run: CalibrationRun) -> str:
    if v.max_score == 1:
        return v.declared if run.model == "declared" else run.model
    return v.declared if run.poly_model == "declared" else run.poly_model


def _anchors(session: Session, assessment: Assessment, chosen: dict[int, _Version]) -> ItemParams | None:
    operational = [v for v, info in chosen.items() if info.status == "operational"]
    if assessment.calibration_id is None or not operational:
        return None
    rows = session.exec(
        select(ItemParameter)
        .where(ItemParameter.calibration_id == assessment.calibration_id)
        .where(col(ItemParameter.item_version_id).in_(operational))
    ).all()
    if not rows:
        return None
    return item_params([chosen[p.item_version_id].ident for p in rows], rows)


class _Progress:
    """EM progress 5-90%: the log of the largest change, from the first cycle's down to the tolerance."""

    def __init__(self, job: JobContext, tol: float) -> None:
        self.job, self.tol = job, tol
        self.first: float | None = None
        self.last = 0.0

    def __call__(self, cycle: int, loglik: float, change: float) -> None:
        if not math.isfinite(change) or change <= 0:
            return
        if self.first is None:
            self.first = max(change, self.tol * 10)
        span = math.log(self.first / self.tol)
        share = min(1.0, max(0.0, math.log(self.first / max(change, self.tol)) / span))
        now = time.monotonic()
        if now - self.last < 0.5 and share < 1.0:
            return
        self.last = now
        self.job.progress(5 + int(85 * share), message=f"EM 第 {cycle} 轮，logLik {loglik:.1f}，最大变化 {change:.2g}")


def _people(session: Session, assessment_id: int) -> dict[int, tuple[Any, Any, Any, Any]]:
    """Grade, gender, school locale and region of every student with a sitting of the assessment."""
    return {
        int(st.id or 0): (st.grade, st.gender, locale, region)
        for st, locale, region in session.exec(
            select(Student, School.locale, Area.region)
            .join(School, col(School.id) == col(Student.school_id))
            .join(Area, col(Area.id) == col(School.area_id))
            .join(TestSession, col(TestSession.student_id) == col(Student.id))
            .where(TestSession.assessment_id == assessment_id)  # no IN list of 50,000 ids
        ).all()
    }


def _item_rows(
    versions: list[Any],
    result: Any,
    stats: Any,
    fit: Any,
    dif: dict[str, Any],
    extra_items: Sequence[dict[str, Any]],
    anchored: set[str],
) -> list[dict[str, Any]]:
    """One row of statistics per calibrated item version, in the calibration's order."""
    return [
        {
            "code": v.code,
            "version": v.number,
            "model": result.params.models[j],
            "anchored": v.ident in anchored,
            "n": int(stats.n[j]),
            "p_value": _num(stats.p_value[j]),
            "item_rest": _num(stats.item_rest[j]),
            "omit_rate": _num(stats.omit_rate[j]),
            "infit": _num(fit.item_infit[j]),
            "outfit": _num(fit.item_outfit[j]),
            "misfit": misfits(float(fit.item_infit[j]), float(fit.item_outfit[j])),
            "dif": dif.get(v.ident, []),
            **extra_items[j],
        }
        for j, v in enumerate(versions)
    ]


@job_kind(CALIBRATION)
def execute_run(job: JobContext) -> None:
    """The calibration job: read, calibrate, store the draft calibration and the statistics."""
    from scoring.calibrate import calibrate

    run_id = int(job.params["run_id"])
    started = time.monotonic()
    job.progress(0, total=100, message="读取作答数据")
    with Session(job.engine) as session:
        run = session.get(CalibrationRun, run_id)
        if run is None:
            raise JobFailed(f"没有标定任务 {run_id}。")
        assessment = session.get(Assessment, run.assessment_id)
        assert assessment is not None
        data = _read(session, run.assessment_id)
        info = _versions(session, data.version_ids)
        answered = np.isfinite(data.scores).sum(axis=0)
        keep = [k for k, v in enumerate(data.version_ids) if v in info and answered[k] >= run.min_responses]
        chosen = {data.version_ids[k]: info[data.version_ids[k]] for k in keep}
        anchors = _anchors(session, assessment, chosen) if run.anchors == "operational" else None
        anchored = set(anchors.ids) if anchors is not None else set()
        if run.items == "pilot":
            keep = [k for k in keep if chosen[data.version_ids[k]].status == "pilot"
                    or chosen[data.version_ids[k]].ident in anchored]  # fmt: skip
        free = [k for k in keep if chosen[data.version_ids[k]].ident not in anchored]
        if not free:
            raise JobFailed(f"没有题目达到 {run.min_responses} 人作答，无可标定的题目。")
        people = _people(session, run.assessment_id)
        grades = {sid: p[0] for sid, p in people.items()}
    versions = [chosen[data.version_ids[k]] for k in keep]
    matrix = data.scores[:, keep]
    seen = np.isfinite(matrix).any(axis=1)
    matrix, omitted = matrix[seen], data.omitted[:, keep][seen]
    groups = np.array([grades[int(s)] for s in data.student_ids[seen]])
    use_groups = run.groups == "grade" and np.unique(groups).size > 1
    reference = 8 if (groups == 8).any() else int(groups.min())
    job.log(f"{matrix.shape[0]} 名学生，{len(keep)} 道题（{len(free)} 道待估，{len(keep) - len(free)} 道锚定），"
            f"{'按年级分组' if use_groups else '单组'}")  # fmt: skip
    job.progress(5, message=f"EM 标定：{matrix.shape[0]} 名学生，{len(free)} 道题")
    tol = 1e-4
    result = calibrate(
        matrix,
        [_model(v, run) for v in versions],
        item_ids=[v.ident for v in versions],
        fixed=anchors,
        groups=groups if use_groups else None,
        reference_group=reference if use_groups else None,
        tol=tol,
        callback=_Progress(job, tol),
    )
    job.log(f"EM：{result.n_cycles} 轮，{'收敛' if result.converged else '未收敛'}，logLik {result.log_likelihood:.2f}")
    job.progress(90, message="计算经典统计量与项目拟合")
    stats = compute_classical_stats(matrix, [v.max_score for v in versions], omitted)
    fit, theta = _item_fit(matrix, result, groups if use_groups else None)
    kept = data.student_ids[seen]
    dif = compute_dif(matrix, theta, {
        "gender": np.array([people[int(s)][1] for s in kept], dtype=object),
        "locale": np.array([people[int(s)][2] for s in kept], dtype=object),
        "region": np.array([people[int(s)][3] for s in kept], dtype=object),
    }, ids=[v.ident for v in versions])  # fmt: skip
    columns = [ItemColumn(data.version_ids[k], v.ident, result.params.models[j], v.dimension, v.ident in anchored)
               for j, (k, v) in enumerate(zip(keep, versions, strict=True))]  # fmt: skip
    with Session(job.engine) as session:
        extra = compute_diagnostics(
            session=session, run=run, columns=columns, matrix=matrix, students=kept, theta=theta, result=result,
            groups=groups if use_groups else None, reference=reference if use_groups else None, anchors=anchors,
            progress=lambda percent, message: job.progress(percent, message=message),
        )  # fmt: skip
    item_stats = _item_rows(versions, result, stats, fit, dif, extra.items, anchored)
    ref = result.distribution()
    summary = {
        "n_students": int(matrix.shape[0]),
        "n_items": len(keep),
        "n_free": len(free),
        "n_anchored": len(keep) - len(free),
        "n_cycles": int(result.n_cycles),
        "converged": bool(result.converged),
        "log_likelihood": float(result.log_likelihood),
        "aic": float(result.aic),
        "bic": float(result.bic),
        "groups": [{"group": d.group, "mean": d.mean, "sd": d.sd} for d in result.latent],
        **extra.summary,
        "seconds": round(time.monotonic() - started, 1),
    }
    job.progress(98, message="保存参数")
    with session_scope(job.engine) as session:
        stored = store_calibration(
            session=session,
            name=run.name,
            params=result.params,
            standard_errors=result.se,
            source=f"calibration run {run_id}: assessment {assessment.code}, {summary['n_students']} students, "
            f"{summary['n_items']} items ({summary['n_anchored']} anchored), {result.n_cycles} EM cycles, "
            f"logLik {result.log_likelihood:.2f}; {run.code_version}",
            latent_mean=ref.mean,
            latent_sd=ref.sd,
        )
        row = session.get(CalibrationRun, run_id)
        assert row is not None
        row.calibration_id = stored.id
        row.summary = summary
        row.item_stats = item_stats
        session.add(row)
    job.log(f"已保存为草稿标定“{run.name}”（{stored.n_items} 道题的参数与标准误）")


FIT_RANGE = (0.7, 1.3)
"""Acceptable infit and outfit mean squares (Wright & Linacre, 1994, "Reasonable mean-square fit
values", Rasch Measurement Transactions 8:3, the range for run-of-the-mill tests); outside it an
item is flagged for review."""


def misfits(infit: float, outfit: float) -> bool:
    """Whether an item's infit or outfit mean square lies outside :data:`FIT_RANGE` (``nan``: not flagged)."""
    lo, hi = FIT_RANGE
    return any(math.isfinite(v) and not lo <= v <= hi for v in (infit, outfit))


def _item_fit(matrix: FloatArray, result: Any, groups: npt.NDArray[Any] | None) -> tuple[Any, FloatArray]:
    """Infit and outfit of each item at the persons' EAP abilities (each person's prior: its group's distribution)."""
    from scoring.ability import estimate_eap
    from scoring.fit import compute_infit_outfit

    if groups is None:
        ref = result.distribution()
        mean, sd = np.full(matrix.shape[0], ref.mean), np.full(matrix.shape[0], ref.sd)
    else:
        by = {d.group: d for d in result.latent}
        mean = np.array([by[str(g)].mean for g in groups])
        sd = np.array([by[str(g)].sd for g in groups])
    theta = estimate_eap(matrix, result.params, prior_mean=mean, prior_sd=sd).theta
    return compute_infit_outfit(matrix, result.params, theta, allow_non_rasch=True), theta


DIF_COMPARISONS: tuple[tuple[str, str, str, str], ...] = (
    ("gender", "M", "F", "女生对男生"),
    ("locale", "urban", "rural", "乡村对城市"),
    ("locale", "urban", "town", "县镇对城市"),
    ("region", "东部", "中部", "中部对东部"),
    ("region", "东部", "西部", "西部对东部"),
)
"""The DIF comparisons: (variable, reference group, focal group, label)."""
DIF_STRATA = 10
"""Ability strata of the MH matching (deciles of the EAP abilities)."""


def ability_strata(theta: FloatArray, n: int = DIF_STRATA) -> FloatArray:
    """Each person's ability stratum 0..n-1 (quantiles of ``theta``): the MH matching variable.

    Under matrix sampling or an adaptive test persons answer different items, so their summed
    scores are not comparable; MH DIF is matched on the EAP ability instead (Zwick, 2012, sec. 4),
    which rests on all of the person's answers under the calibration just made.
    """
    edges = np.quantile(theta, np.linspace(0, 1, n + 1)[1:-1])
    return np.searchsorted(edges, theta, side="right").astype(np.float64)


def compute_dif(
    matrix: FloatArray, theta: FloatArray, variables: dict[str, npt.NDArray[Any]], *, ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Mantel-Haenszel DIF with ETS classes of each dichotomous item, per comparison of :data:`DIF_COMPARISONS`.

    Returns, by item id, one entry per comparison that both groups have at least 100 persons
    for: label, reference, focal, MH D-DIF, its SE, p-value, ETS class.
    """
    from scoring.dif import compute_mantel_haenszel

    binary = [j for j in range(matrix.shape[1]) if set(np.unique(matrix[np.isfinite(matrix[:, j]), j])) <= {0.0, 1.0}]
    out: dict[str, list[dict[str, Any]]] = {}
    if not binary:
        return out
    strata = ability_strata(theta)
    for variable, reference, focal, label in DIF_COMPARISONS:
        labels = variables[variable]
        if (labels == reference).sum() < 100 or (labels == focal).sum() < 100:
            continue
        (res,) = compute_mantel_haenszel(matrix, labels, reference=reference, focal=focal, matching=strata,
                                         items=binary, item_ids=ids)  # fmt: skip
        for k, j in enumerate(res.items):
            if not res.ets_class[k]:
                continue
            out.setdefault(ids[j], []).append({
                "label": label, "reference": reference, "focal": focal, "d_dif": _num(res.d_dif[k]),
                "se": _num(res.se_d_dif[k]), "p_value": _num(res.p_value[k]), "ets": res.ets_class[k],
            })  # fmt: skip
    return out


def _num(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None


# ============================================================================================ views
@dataclass(frozen=True)
class RunView:
    """A run as its page shows it: inputs, job state, result summary."""

    id: int
    name: str
    assessment: str
    items: str
    model: str
    poly_model: str
    anchors: str
    groups: str
    min_responses: int
    code_version: str
    created_at: Any
    job_id: int
    status: str
    percent: int
    message: str
    log: str
    calibration_id: int | None
    summary: dict[str, Any]
    item_stats: tuple[dict[str, Any], ...]

    @property
    def active(self) -> bool:
        """Still queued or running."""
        return self.status in ("queued", "running")

    def label(self, field: str) -> str:
        """The Chinese label of an input's value."""
        table = {"items": ITEM_SETS, "model": MODELS, "poly_model": POLY_MODELS, "anchors": ANCHORS,
                 "groups": GROUPS}[field]  # fmt: skip
        value = str(getattr(self, field))
        return table.get(value, value)


def _view(session: Session, run: CalibrationRun) -> RunView:
    job = job_view(session=session, job_id=run.job_id)
    code = session.exec(select(Assessment.code).where(Assessment.id == run.assessment_id)).one()
    return RunView(
        id=int(run.id or 0), name=run.name, assessment=code, items=run.items, model=run.model,
        poly_model=run.poly_model, anchors=run.anchors, groups=run.groups, min_responses=run.min_responses,
        code_version=run.code_version, created_at=run.created_at, job_id=run.job_id, status=job.status,
        percent=job.percent, message=job.message, log=job.log, calibration_id=run.calibration_id,
        summary=dict(run.summary), item_stats=tuple(run.item_stats),
    )  # fmt: skip


def run_view(*, session: Session, run_id: int) -> RunView:
    """Run ``run_id`` (:class:`NotFound` if there is none)."""
    if not 0 < run_id < 2**31:  # beyond an integer column's range: PostgreSQL would refuse the query
        raise NotFound("没有这个标定任务。")
    run = session.get(CalibrationRun, run_id)
    if run is None:
        raise NotFound("没有这个标定任务。")
    return _view(session, run)


def list_runs(*, session: Session, limit: int = 50) -> list[RunView]:
    """The newest runs first."""
    rows = session.exec(select(CalibrationRun).order_by(col(CalibrationRun.id).desc()).limit(limit)).all()
    return [_view(session, r) for r in rows]


@dataclass(frozen=True)
class ParameterLine:
    """One item's estimates beside its classical statistics."""

    code: str
    version: int
    model: str
    anchored: bool
    a: float
    b: tuple[float, ...]
    c: float
    se_a: float | None
    se_b: tuple[float | None, ...]
    se_c: float | None
    n: int
    p_value: float | None
    item_rest: float | None
    omit_rate: float | None
    infit: float | None = None
    outfit: float | None = None
    misfit: bool = False
    dif: tuple[dict[str, Any], ...] = ()
    sx2: float | None = None
    sx2_df: int = 0
    sx2_p: float | None = None
    sx2_misfit: bool = False
    not_reached: float | None = None
    drift: bool | None = None
    distractors: dict[str, Any] | None = None

    @property
    def dif_flags(self) -> tuple[str, ...]:
        """The comparisons in which the item is of ETS class B or C (``"女生对男生 C"``)."""
        return tuple(f"{d['label']} {d['ets']}" for d in self.dif if d["ets"] in ("B", "C"))


def run_parameters(*, session: Session, run: RunView) -> tuple[list[ParameterLine], ItemParams | None]:
    """The run's parameter table with SEs and classical statistics, and the same as an :class:`ItemParams`."""
    if run.calibration_id is None:
        return [], None
    rows = session.exec(
        select(ItemParameter, Item.code, ItemVersion.number)
        .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .where(ItemParameter.calibration_id == run.calibration_id)
    ).all()
    stats = {(s["code"], s["version"]): s for s in run.item_stats}
    lines = []
    for p, code, number in rows:
        s = stats.get((code, number), {})
        lines.append(ParameterLine(
            code=code, version=number, model=p.model, anchored=bool(s.get("anchored", False)), a=p.a, b=tuple(p.b),
            c=p.c, se_a=p.se_a, se_b=tuple(p.se_b or ()), se_c=p.se_c, n=int(s.get("n", 0)),
            p_value=s.get("p_value"), item_rest=s.get("item_rest"), omit_rate=s.get("omit_rate"),
            infit=s.get("infit"), outfit=s.get("outfit"), misfit=bool(s.get("misfit", False)),
            dif=tuple(s.get("dif", ())), sx2=s.get("sx2"), sx2_df=int(s.get("sx2_df", 0)), sx2_p=s.get("sx2_p"),
            sx2_misfit=bool(s.get("sx2_misfit", False)), not_reached=s.get("not_reached"), drift=s.get("drift"),
            distractors=s.get("distractors"),
        ))  # fmt: skip
    from itembank.keys import natural_key

    lines.sort(key=lambda line: natural_key(line.code))
    params = item_params([f"{x.code}@{x.version}" for x in lines], lines) if lines else None
    return lines, params


def count_runs(*, session: Session) -> int:
    """How many runs there are."""
    return int(session.exec(select(func.count()).select_from(CalibrationRun)).one())


def run_of_job(*, session: Session, job_id: int) -> int | None:
    """The run a job belongs to (``None`` for a job of another kind)."""
    return session.exec(select(CalibrationRun.id).where(CalibrationRun.job_id == job_id)).first()
