"""The end-to-end national run: bank -> sample -> field trial -> calibration -> adaptive tests.

:func:`run_national_simulation` is what ``infolit simulate`` and ``infolit demo`` run. Each stage
commits on its own, so a long run that is interrupted keeps what it finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import case, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.blueprints import BlueprintSpec, default_blueprint
from assess.models import Area, Assessment, Response, School, Student, TestSession
from assess.national import Population, build_population, run_adaptive, run_field_trial
from assess.registration import IssuedTicket, register_students
from itembank.db import session_scope
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion, utcnow
from itembank.services import (
    count_items,
    import_starter_bank,
    load_framework,
    publish_calibration,
    store_calibration,
)
from scoring.calibrate import calibrate

__all__ = [
    "NationalRun",
    "RegionSummary",
    "calibrate_from_assessment",
    "register_demo_students",
    "region_summary",
    "response_matrix",
    "run_national_simulation",
]

Stage = Callable[[str, int], None]


@dataclass(frozen=True)
class RegionSummary:
    """Students with a finished adaptive session and their mean scale score, per region."""

    region: str
    students: int
    mean_scale: float
    pass_rate: float


@dataclass(frozen=True)
class NationalRun:
    """What a national simulation produced."""

    students: int
    field_trial_students: int
    adaptive_students: int
    responses: int
    calibration: str
    calibration_cycles: int
    calibration_converged: bool
    rmse_b: float
    median_abs_error_b: float
    regions: tuple[RegionSummary, ...]
    seconds: dict[str, float]
    adaptive_assessment: str = ""


def ensure_bank(*, session: Session) -> int:
    """Load the default framework and the starter bank if the database has no items yet."""
    if count_items(session=session) == 0:
        load_framework(session=session)
        import_starter_bank(session=session)
    return count_items(session=session)


def response_matrix(
    *, session: Session, assessment_id: int
) -> tuple[npt.NDArray[np.int64], list[int], npt.NDArray[np.float64]]:
    """Persons x item versions scores of an assessment (``nan`` = not administered).

    Returns the student ids (rows), the item version ids (columns) and the matrix.
    """
    rows = session.exec(
        select(TestSession.student_id, Response.item_version_id, Response.score)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id, col(Response.score).is_not(None))
    ).all()
    if not rows:
        raise LookupError(f"assessment {assessment_id} has no scored responses")
    arr = np.array(rows, dtype=np.int64)
    students, r = np.unique(arr[:, 0], return_inverse=True)
    versions, c = np.unique(arr[:, 1], return_inverse=True)
    out = np.full((students.size, versions.size), np.nan)
    out[r, c] = arr[:, 2]
    return students, versions.tolist(), out


def calibrate_from_assessment(
    *,
    session: Session,
    assessment_id: int,
    name: str,
    reference_grade: int = 8,
    publish: bool = True,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[str, int, bool, float, float]:
    """Calibrate every item of an assessment from its responses and store (and publish) it.

    The model of each item follows its provisional parameters (2PL, 3PL with a prior on c, GRM or
    GPCM); grades are separate groups with their own latent mean and SD, the reference grade fixed
    at N(0, 1), so that the common (grade 5-6) items put both grades on one vertical scale.

    Returns the calibration name, EM cycles, convergence flag, and the RMSE and median absolute
    error of the difficulties against the provisional (generating) parameters (the median is the
    robust figure: in a small trial a nearly flat item can get an extreme difficulty).
    """
    students, version_ids, matrix = response_matrix(session=session, assessment_id=assessment_id)
    provisional = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).one()
    par_rows = session.exec(
        select(ItemVersion.id, Item.code, ItemParameter.model, ItemParameter.b)
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .join(ItemParameter, col(ItemParameter.item_version_id) == col(ItemVersion.id))
        .where(ItemParameter.calibration_id == provisional.id, col(ItemVersion.id).in_(version_ids))
    ).all()
    info = {int(v or 0): (code, model, b) for v, code, model, b in par_rows}
    keep = [k for k, v in enumerate(version_ids) if v in info and np.isfinite(matrix[:, k]).sum() >= 50]
    matrix = matrix[:, keep]
    versions = [version_ids[k] for k in keep]
    codes = [info[v][0] for v in versions]
    models = [info[v][1] for v in versions]
    grade_of = dict(session.exec(select(Student.id, Student.grade).where(col(Student.id).in_(students.tolist()))).all())
    groups = np.array([grade_of[int(s)] for s in students])
    has_ref = bool((groups == reference_grade).any())
    result = calibrate(
        matrix,
        models,
        item_ids=codes,
        groups=groups if np.unique(groups).size > 1 else None,
        reference_group=reference_grade if has_ref else None,
        callback=(lambda cycle, change, *_: progress(cycle, change)) if progress else None,
    )
    ref = result.distribution()
    store_calibration(
        session=session,
        name=name,
        params=result.params,
        standard_errors=result.se,
        source=f"field trial assessment {assessment_id}: {students.size} students, {len(versions)} items, "
        f"{result.n_cycles} EM cycles, logLik {result.log_likelihood:.2f}",
        latent_mean=ref.mean,
        latent_sd=ref.sd,
    )
    if publish:
        publish_calibration(session=session, name=name)
    true_b = np.array([np.nanmean(np.asarray(info[v][2], dtype=float)) for v in versions])
    est_b = np.nanmean(result.params.b, axis=1)
    err = est_b - true_b
    rmse = float(np.sqrt(np.mean(err**2)))
    return name, result.n_cycles, result.converged, rmse, float(np.median(np.abs(err)))


def region_summary(*, session: Session, assessment_id: int | None = None) -> tuple[RegionSummary, ...]:
    """Finished adaptive sessions per region: students, mean scale score, 达标 rate."""
    q = (
        select(
            Area.region,
            func.count(col(TestSession.id)),
            func.avg(TestSession.scale_score),
            func.avg(case((col(TestSession.passed).is_(True), 1.0), else_=0.0)),
        )
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .join(School, col(School.id) == col(Student.school_id))
        .join(Area, col(Area.id) == col(School.area_id))
        .join(Assessment, col(Assessment.id) == col(TestSession.assessment_id))
        .where(TestSession.status == "finished", col(TestSession.scale_score).is_not(None))
        .group_by(Area.region)
    )
    if assessment_id is not None:
        q = q.where(TestSession.assessment_id == assessment_id)
    order = {"东部": 0, "中部": 1, "西部": 2}
    rows = sorted(session.exec(q).all(), key=lambda r: order.get(r[0], 9))
    return tuple(RegionSummary(r, int(n), float(m or 0.0), float(p or 0.0)) for r, n, m, p in rows)


def register_demo_students(
    *, session: Session, assessment_code: str, grades: tuple[int, ...] = (4, 8), per_grade: int = 3
) -> list[IssuedTicket]:
    """Register a demonstration school with a few students who have not been tested yet.

    They go through the same registration as a school's file (argon2id PIN hashes, tickets), so
    that a newcomer can log in and take the adaptive test in a browser. Returns their tickets with
    the plain PINs, which exist only in this return value.
    """
    county = session.exec(select(Area).where(Area.level == "county").order_by(col(Area.code))).first()
    if county is None:
        raise LookupError("no county in the database: run the national simulation first")
    parts = county.path.strip("/").split("/")
    areas = {a.code: a for a in session.exec(select(Area).where(col(Area.code).in_(parts))).all()}
    province, city = areas[parts[0]], areas[parts[1]]
    taken = {c for c in session.exec(select(Student.code).where(col(Student.code).like("DEMO%"))).all()}
    rows: list[dict[str, object]] = []
    for grade in grades:
        for i in range(per_grade):
            code = f"DEMO{grade:02d}{i + 1:02d}"
            if code in taken:
                continue
            rows.append(
                {
                    "province_code": province.code,
                    "province": province.name,
                    "region": province.region,
                    "city_code": city.code,
                    "city": city.name,
                    "county_code": county.code,
                    "county": county.name,
                    "school_code": f"DEMO{county.code}",
                    "school": "InfoLit 演示学校",
                    "locale": "urban",
                    "sector": "public",
                    "grade": str(grade),
                    "class": "演示班",
                    "student_code": code,
                    "gender": "F" if i % 2 else "M",
                }
            )
    if not rows:
        return []
    summary = register_students(session=session, rows=rows, assessment=assessment_code)
    return list(summary.tickets)


def run_national_simulation(
    engine: Engine,
    *,
    students: int = 50_000,
    field_trial: int = 5_000,
    seed: int = 1,
    grades: tuple[int, ...] = (4, 8),
    spec: BlueprintSpec | None = None,
    stage: Stage | None = None,
    calibration_progress: Callable[[int, float], None] | None = None,
) -> NationalRun:
    """Run the whole national pipeline into the database behind ``engine``.

    Parameters
    ----------
    students
        Sample size (all grades together).
    field_trial
        Students (drawn by school, so whole schools take part) who take booklets; the rest
        take adaptive tests on the calibration estimated from them.
    stage
        Called with a stage name and a count as each stage finishes (for progress bars).
    """
    import time

    tick = stage or (lambda _s, _n: None)
    rng = np.random.default_rng(seed)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        ensure_bank(session=session)
        provisional_id = int(session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one() or 0)
    tick("bank", 1)
    times["bank"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        pop: Population = build_population(session=session, n_students=students, rng=rng, grades=grades, progress=tick)
    times["population"] = time.perf_counter() - t0
    # field trial: whole schools, in random school order, until the target is reached
    t0 = time.perf_counter()
    school_order = rng.permutation(np.unique(pop.school_ids))
    per_school = {int(s): np.nonzero(pop.school_ids == s)[0] for s in school_order}
    ft: list[int] = []
    for s in school_order:
        if len(ft) >= min(field_trial, students):
            break
        ft.extend(per_school[int(s)].tolist())
    ft_members = np.array(sorted(ft), dtype=np.int64)
    rest = np.setdiff1d(np.arange(pop.student_ids.size), ft_members)
    now = utcnow()
    with session_scope(engine) as session:
        trial = run_field_trial(
            session=session,
            population=pop,
            members=ft_members,
            calibration_id=provisional_id,
            rng=rng,
            now=now,
            progress=tick,
        )
        trial_id = int(trial.id or 0)
    times["field_trial"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    name = f"national-{now:%Y%m%d-%H%M%S}-s{seed}"
    with session_scope(engine) as session:
        cal_name, cycles, converged, rmse_b, mae_b = calibrate_from_assessment(
            session=session,
            assessment_id=trial_id,
            name=name,
            reference_grade=8 if 8 in grades else grades[-1],
            progress=calibration_progress,
        )
        cal_id = int(session.exec(select(Calibration.id).where(Calibration.name == cal_name)).one() or 0)
    tick("calibration", 1)
    times["calibration"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        cat = run_adaptive(
            session=session,
            population=pop,
            members=rest,
            calibration_id=cal_id,
            truth_calibration_id=provisional_id,
            rng=rng,
            spec=spec or default_blueprint(),
            now=now,
            progress=tick,
        )
        cat_id = int(cat.id or 0)
        cat_code = cat.code
    times["adaptive"] = time.perf_counter() - t0
    with session_scope(engine) as session:
        n_resp = int(
            session.exec(
                select(func.count(col(Response.id)))
                .join(TestSession, col(TestSession.id) == col(Response.session_id))
                .where(col(TestSession.assessment_id).in_([trial_id, cat_id]))
            ).one()
        )
        regions = region_summary(session=session, assessment_id=cat_id)
    return NationalRun(
        students=int(pop.student_ids.size),
        field_trial_students=int(ft_members.size),
        adaptive_students=int(rest.size),
        responses=n_resp,
        calibration=cal_name,
        calibration_cycles=cycles,
        calibration_converged=converged,
        rmse_b=rmse_b,
        median_abs_error_b=mae_b,
        regions=regions,
        seconds=times,
        adaptive_assessment=cat_code,
    )
