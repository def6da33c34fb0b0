"""The end-to-end national run: bank -> sample -> field trial -> calibration -> adaptive tests -> weights.

:func:`run_national_simulation` is what ``infolit simulate`` and ``infolit demo`` run. Each stage
commits on its own, so a long run that is interrupted keeps what it finished. The calibration is
the operational service (:func:`assess.calibration.calibrate_assessment`) on the field trial's
stored answers; only here, where the generating parameters are known, is it compared with them.

The operational students are a probability sample: a synthetic country's frame
(:mod:`assess.simulate.country`, 30,000 schools) is drawn through the national design
(stratified PPS, replacements), some schools refuse and some students miss the test, and after
testing the sample is weighted and its JK2 zones formed (:mod:`assess.sampling`), as a real
assessment's would be (``infolit sample weights``). ``sample=False`` keeps the older
census-like population of :mod:`assess.simulate.population` (every student of about 700
schools tested, no weights).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.blueprints import BlueprintSpec, default_blueprint
from assess.calibration import AssessmentCalibration, calibrate_assessment
from assess.exceptions import NotFound
from assess.models import Area, Response, Student, TestSession
from assess.registration import IssuedTicket, register_students
from assess.sampling.store import store_draw, weigh_assessment
from assess.simulate.adaptive import run_adaptive
from assess.simulate.country import SeatedSample, build_country, national_design, plan_schools, seat_national_sample
from assess.simulate.field_trial import run_field_trial
from assess.simulate.population import DEFAULT_CHUNK, ChunkProgress, Population, build_population
from itembank.db import session_scope
from itembank.models import PROVISIONAL, Calibration, ItemParameter, utcnow
from itembank.services import count_items, import_starter_bank, load_framework

__all__ = [
    "CalibrationCheck",
    "NationalRun",
    "calibrate_field_trial",
    "country_size",
    "ensure_bank",
    "register_demo_students",
    "run_national_simulation",
]

IntArray = npt.NDArray[np.int64]
Stage = Callable[[str, int], None]
CycleProgress = Callable[[int, float], None]
"""``progress(cycle, change)``: the EM cycle and the largest parameter change in it."""


@dataclass(frozen=True)
class NationalRun:
    """What a national simulation produced (the regional summary is :func:`reports.regions.summarize_regions`)."""

    students: int
    field_trial_students: int
    adaptive_students: int
    responses: int
    calibration: str
    calibration_cycles: int
    calibration_converged: bool
    rmse_b: float
    median_abs_error_b: float
    seconds: dict[str, float]
    adaptive_assessment: str = ""
    adaptive_assessment_id: int = 0
    sampled_schools: int = 0
    schools_refused: int = 0
    replacements_used: int = 0
    absent: int = 0
    weighted_students: int = 0


@dataclass(frozen=True, eq=False)
class CalibrationCheck:
    """A field trial's calibration beside the generating parameters.

    ``rmse_b`` and ``median_abs_error_b`` compare each item's mean difficulty with the generating
    one (the median is the robust figure: in a small trial a nearly flat item can get an extreme
    difficulty).
    """

    calibration: AssessmentCalibration
    rmse_b: float
    median_abs_error_b: float


def country_size(students: int) -> int:
    """Schools in the synthetic country for a sample of ``students``: 30,000, or one per 10 students beyond 300,000.

    A school tests at most 35 students of its grade, so the 30,000-school frame holds under a
    million; a larger sample gets a proportionally larger country, sampled at the same rate.
    """
    return max(30_000, students // 10)


def ensure_bank(*, session: Session) -> int:
    """Load the default framework and the starter bank if the database has no items yet."""
    if count_items(session=session) == 0:
        load_framework(session=session)
        import_starter_bank(session=session)
    return count_items(session=session)


def _generating_b(session: Session, version_ids: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Mean provisional (generating) difficulty of each version."""
    provisional = session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one()
    rows = session.exec(
        select(ItemParameter.item_version_id, ItemParameter.b).where(
            ItemParameter.calibration_id == provisional, col(ItemParameter.item_version_id).in_(version_ids)
        )
    ).all()
    b_of = {int(v): np.nanmean(np.asarray(b, dtype=float)) for v, b in rows}
    return np.array([b_of[v] for v in version_ids])


def calibrate_field_trial(
    *,
    session: Session,
    assessment_id: int,
    name: str,
    reference_grade: int = 8,
    progress: CycleProgress | None = None,
) -> CalibrationCheck:
    """Calibrate a simulated field trial, publish the calibration, and compare it with the truth."""
    result = calibrate_assessment(
        session=session,
        assessment_id=assessment_id,
        name=name,
        reference_grade=reference_grade,
        callback=(lambda cycle, _loglik, change: progress(cycle, change)) if progress else None,
    )
    err = np.nanmean(result.params.b, axis=1) - _generating_b(session, result.version_ids)
    return CalibrationCheck(result, float(np.sqrt(np.mean(err**2))), float(np.median(np.abs(err))))


def register_demo_students(
    *, session: Session, assessment_code: str, grades: tuple[int, ...] = (4, 8), per_grade: int = 3
) -> list[IssuedTicket]:
    """Register a demonstration school with a few students who have not been tested yet.

    They go through the same registration as a school's file (argon2id PIN hashes, tickets), so
    that a newcomer can log in and take the adaptive test in a browser. Returns their tickets with
    the plain PINs, which exist only in this return value.

    Raises
    ------
    NotFound
        The database has no county (the national simulation has not run).
    """
    county = session.exec(select(Area).where(Area.level == "county").order_by(col(Area.code))).first()
    if county is None:
        raise NotFound("no county in the database: run the national simulation first")
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


def _students(
    engine: Engine,
    *,
    students: int,
    field_trial: int,
    grades: tuple[int, ...],
    sample: bool,
    rng: np.random.Generator,
    seed: int,
    tick: Stage,
    chunk: int,
    chunk_progress: ChunkProgress | None,
) -> tuple[Population, IntArray, IntArray, SeatedSample | None]:
    """The registered students, the field trial's members and the operational ones, and the seated sample.

    With ``sample``, a national sample drawn from a synthetic country and seated in its schools;
    otherwise a plain population whose field trial takes whole schools (no sample, ``None``).
    """
    with session_scope(engine) as session:
        if sample:
            country = build_country(rng, n_schools=country_size(students), grades=grades)
            n_schools = plan_schools(country, students - field_trial, grades)
            seated = seat_national_sample(
                session=session, country=country, design=national_design(n_schools, grades),
                field_trial=field_trial, rng=rng, seed=seed, progress=tick, chunk=chunk, chunk_progress=chunk_progress,
            )  # fmt: skip
            return seated.population, seated.field_trial, seated.operational, seated
        pop = build_population(session=session, n_students=students, rng=rng, grades=grades, progress=tick)
    ft_members, rest = _split_by_school(pop, field_trial, rng)
    return pop, ft_members, rest, None


def _split_by_school(pop: Population, field_trial: int, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """Field-trial members (whole schools, in random school order, until the target) and the rest."""
    school_order = rng.permutation(np.unique(pop.school_ids))
    per_school = {int(s): np.nonzero(pop.school_ids == s)[0] for s in school_order}
    ft: list[int] = []
    for s in school_order:
        if len(ft) >= min(field_trial, pop.student_ids.size):
            break
        ft.extend(per_school[int(s)].tolist())
    members = np.array(sorted(ft), dtype=np.int64)
    return members, np.setdiff1d(np.arange(pop.student_ids.size), members)


def _count_responses(engine: Engine, assessment_ids: list[int]) -> int:
    with session_scope(engine) as session:
        return int(
            session.exec(
                select(func.count(col(Response.id)))
                .join(TestSession, col(TestSession.id) == col(Response.session_id))
                .where(col(TestSession.assessment_id).in_(assessment_ids))
            ).one()
        )


def run_national_simulation(
    engine: Engine,
    *,
    students: int = 50_000,
    field_trial: int = 5_000,
    seed: int = 1,
    grades: tuple[int, ...] = (4, 8),
    spec: BlueprintSpec | None = None,
    stage: Stage | None = None,
    calibration_progress: CycleProgress | None = None,
    sample: bool = True,
    chunk: int = DEFAULT_CHUNK,
    chunk_progress: ChunkProgress | None = None,
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
    calibration_progress
        Called after each EM cycle of the calibration with the cycle and its largest change.
    sample
        Draw the operational students through the national sample design and weight them after
        testing (the default); ``False``: every student of the simulated schools, no weights.
    chunk
        Students registered, and adaptive sittings simulated, scored and written, at a time
        (:data:`~assess.simulate.population.DEFAULT_CHUNK`): memory stays bounded however many
        students there are. Registration draws the same numbers whatever the chunk; the adaptive
        stage does for bands of at most ``chunk`` students.
    chunk_progress
        Called after each chunk of registration and of the adaptive stage (for progress bars).
    """
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
    pop, ft_members, rest, seated = _students(
        engine, students=students, field_trial=field_trial, grades=grades, sample=sample, rng=rng, seed=seed,
        tick=tick, chunk=chunk, chunk_progress=chunk_progress,
    )  # fmt: skip
    times["population"] = time.perf_counter() - t0
    t0 = time.perf_counter()
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
    with session_scope(engine) as session:
        check = calibrate_field_trial(
            session=session,
            assessment_id=trial_id,
            name=f"national-{now:%Y%m%d-%H%M%S}-s{seed}",
            reference_grade=8 if 8 in grades else grades[-1],
            progress=calibration_progress,
        )
    tick("calibration", 1)
    times["calibration"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        cat = run_adaptive(
            session=session,
            population=pop,
            members=rest,
            calibration_id=check.calibration.calibration_id,
            truth_calibration_id=provisional_id,
            rng=rng,
            spec=spec or default_blueprint(),
            now=now,
            progress=tick,
            chunk=chunk,
            chunk_progress=chunk_progress,
        )
        cat_id, cat_code = int(cat.id or 0), cat.code
    times["adaptive"] = time.perf_counter() - t0
    weighted = 0
    if seated is not None:
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            store_draw(session=session, sample=seated.sample, assessment_code=cat_code)
            weighted = int((weigh_assessment(session=session, assessment_code=cat_code).weights.final > 0).sum())
        tick("weights", weighted)
        times["weights"] = time.perf_counter() - t0
    return NationalRun(
        students=int(pop.student_ids.size),
        field_trial_students=int(ft_members.size),
        adaptive_students=int(rest.size),
        responses=_count_responses(engine, [trial_id, cat_id]),
        calibration=check.calibration.name,
        calibration_cycles=check.calibration.n_cycles,
        calibration_converged=check.calibration.converged,
        rmse_b=check.rmse_b,
        median_abs_error_b=check.median_abs_error_b,
        seconds=times,
        adaptive_assessment=cat_code,
        adaptive_assessment_id=cat_id,
        sampled_schools=int(seated.sample.sampled.sum()) if seated else 0,
        schools_refused=seated.schools_refused if seated else 0,
        replacements_used=seated.replacements_used if seated else 0,
        absent=seated.absent if seated else 0,
        weighted_students=weighted,
    )
