"""Simulated adaptive sessions: in memory for CAT studies, and into the database for a national run.

:func:`simulate_sessions` runs a batch of examinees through the live engine's phases
(:func:`assess.examinees.run_examinees`, the loop the operational exposure calibration uses too)
with pilot items seeded as a live session seeds them, so CAT studies measure the engine that
serves students. :func:`run_adaptive` runs part of a simulated population through an adaptive
assessment and stores every session, answer and final score as a live session would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, select

from assess.banks import BandBank, band_of_grade, exposure_bank, load_band_bank
from assess.blueprints import BlueprintSpec, default_blueprint
from assess.engine import Blueprint, CatState, EngineBank, initial_theta
from assess.examinees import run_examinees
from assess.exposure import calibrate_blueprint_exposure
from assess.models import Assessment, BlueprintRow
from assess.scales import FinalScores, final_scores, final_scores_batch
from assess.scoring_rule import reported_result
from assess.simulate.answers import ResponseWriter, answer_bank, lock_answered
from assess.simulate.population import DEFAULT_CHUNK, ChunkProgress, Population
from itembank.models import utcnow

__all__ = ["SimulatedSessions", "run_adaptive", "simulate_sessions"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class SimulatedSessions:
    """What a batch of simulated sessions gave and estimated.

    ``items[s, t]`` is the ``t``-th item session ``s`` got (``-1`` padded), ``scores`` its score;
    ``theta`` and ``se`` are the final EAP estimates over operational items; ``considered`` is
    :attr:`assess.examinees.ExamineeRun.considered`.
    """

    true_theta: FloatArray
    items: IntArray
    scores: IntArray
    n_items: IntArray
    theta: FloatArray
    se: FloatArray
    considered: IntArray


def _pilot_seeder(
    bank: EngineBank, blueprint: Blueprint, n_sessions: int, n_pilot: int, rng: np.random.Generator
) -> Callable[[IntArray, CatState], tuple[BoolArray, IntArray]]:
    """A preset for :func:`~assess.examinees.run_examinees` that gives each session ``n_pilot`` pilot items.

    The positions are drawn at random among the first ``max(min_items, n_pilot)`` slots; at each
    the session gets a pilot item it has not had, drawn at random.
    """
    pool = np.nonzero(bank.pilot)[0]
    cap = blueprint.max_items + n_pilot
    pilot_at = np.zeros((n_sessions, cap), dtype=bool)
    span = max(blueprint.min_items, n_pilot)
    slots = np.argsort(rng.random((n_sessions, span)), axis=1)[:, :n_pilot]
    pilot_at[np.arange(n_sessions)[:, None], slots] = True
    given = np.zeros((n_sessions, pool.size), dtype=bool)

    def seed(rows: IntArray, state: CatState) -> tuple[BoolArray, IntArray]:
        want = pilot_at[rows, state.n_given[rows]]
        if not want.any():
            return want, np.empty(0, dtype=np.int64)
        pr = rows[want]
        draw = np.where(given[pr], -1.0, rng.random((pr.size, pool.size)))
        k = np.argmax(draw, axis=1)
        given[pr, k] = True
        return want, pool[k]

    return seed


def simulate_sessions(
    bank: EngineBank,
    blueprint: Blueprint,
    true_theta: FloatArray,
    rng: np.random.Generator,
    *,
    grades: IntArray | None = None,
    pilot_per_session: int = 0,
    answer_bank: EngineBank | None = None,
) -> SimulatedSessions:
    """Run adaptive sessions for examinees with abilities ``true_theta`` until each stops.

    Parameters
    ----------
    pilot_per_session
        Pilot items seeded at random positions among the first ``min_items`` slots, unscored.
    answer_bank
        The same items with the parameters answers are drawn from (the generating truth), when
        they differ from the estimates the engine selects and scores with.
    """
    true_theta = np.asarray(true_theta, dtype=np.float64)
    n_pilot = min(pilot_per_session, int(bank.pilot.sum()))
    seeder = _pilot_seeder(bank, blueprint, true_theta.size, n_pilot, rng) if n_pilot else None
    run = run_examinees(
        bank,
        blueprint,
        true_theta,
        rng,
        grades=grades,
        capacity=blueprint.max_items + n_pilot,
        answer_bank=answer_bank,
        preset=seeder,
    )
    state = run.state
    return SimulatedSessions(
        true_theta=true_theta,
        items=state.given,
        scores=state.scores,
        n_items=state.n_operational.copy(),
        theta=state.theta.copy(),
        se=state.se.copy(),
        considered=run.considered,
    )


def _open_assessment(
    session: Session, *, grades: list[int], calibration_id: int, spec: BlueprintSpec, now: datetime
) -> Assessment:
    """A new operational assessment for ``grades``, with ``spec`` as each band's adaptive blueprint."""
    assessment = Assessment(
        code=f"CAT{now:%Y%m%d%H%M%S}",
        name="学生信息素养自适应测评",
        opens_at=now - timedelta(days=10),
        closes_at=now + timedelta(days=20),
        grades=grades,
        purpose="operational",
        calibration_id=calibration_id,
    )
    session.add(assessment)
    session.flush()
    for band in sorted({band_of_grade(g, session=session) for g in grades}):
        session.add(
            BlueprintRow(assessment_id=int(assessment.id or 0), grade_band=band, mode="adaptive", spec=spec.to_json())
        )
    session.flush()
    return assessment


def _final_results(
    bank: BandBank, spec: BlueprintSpec, sim: SimulatedSessions, grades: IntArray
) -> tuple[IntArray, list[FinalScores]]:
    """Operational items of each session (``-1`` elsewhere) and the reported scores, as a live finish gives them."""
    bp = spec.engine_blueprint()
    op_items = np.where((sim.items >= 0) & ~bank.engine.pilot[np.maximum(sim.items, 0)], sim.items, -1)
    prior = initial_theta(bp, grades)
    results = final_scores_batch(bank.engine, op_items, np.maximum(sim.scores, 0), band=bank.band, prior_mean=prior)
    if spec.final_estimator != "eap":
        results = [
            final_scores(
                bank.engine, row[row >= 0].tolist(), sc[row >= 0].tolist(), method=spec.final_estimator, band=bank.band
            )
            for row, sc in zip(op_items, sim.scores, strict=True)
        ]
    return op_items, results


def _session_rows(
    bank: BandBank, spec: BlueprintSpec, sim: SimulatedSessions, grades: IntArray
) -> tuple[list[list[int]], list[list[int]], list[dict[str, Any]]]:
    """Each simulated session's item versions, scores and final result columns, as a live finish stores them."""
    op_items, results = _final_results(bank, spec, sim, grades)
    items: list[list[int]] = []
    scores: list[list[int]] = []
    for s in range(sim.items.shape[0]):
        got = sim.items[s][sim.items[s] >= 0]
        items.append([bank.version_ids[j] for j in got])
        scores.append(sim.scores[s][: got.size].tolist())
    finals: list[dict[str, Any]] = []
    for s, r in enumerate(results):
        n_scored = int((op_items[s] >= 0).sum())
        reported = reported_result(r, n_scored=n_scored, min_items=spec.min_items)
        finals.append(
            {
                "n_scored": n_scored,
                "theta": r.theta,
                "se": r.se,
                "scale_score": reported.scale_score,
                "level": reported.level,
                "passed": reported.passed,
                "assessed": reported.assessed,
                "subscores": r.subscores,
            }
        )
    return items, scores, finals


def run_adaptive(
    *,
    session: Session,
    population: Population,
    members: IntArray,
    calibration_id: int,
    truth_calibration_id: int,
    rng: np.random.Generator,
    spec: BlueprintSpec | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    assessment: Assessment | None = None,
    chunk: int = DEFAULT_CHUNK,
    chunk_progress: ChunkProgress | None = None,
) -> Assessment:
    """Run ``members`` through adaptive tests on ``calibration_id``; answers follow ``truth_calibration_id``.

    The engine selects and scores with the operational calibration, while simulated students
    answer according to the generating parameters, as real students answer according to the
    truth and not to our estimates of it. A blueprint that asks for Sympson-Hetter without
    parameters gets them calibrated for each band's bank and students
    (:func:`assess.exposure.calibrate_blueprint_exposure`), stored with the blueprint.

    Each band's students go through in chunks of ``chunk`` (:data:`DEFAULT_CHUNK`), in order:
    simulated, scored and written before the next chunk begins, so memory does not grow with the
    number of students. The random stream runs on across chunks, so a band of at most ``chunk``
    students gets the numbers an unchunked run gives it; a smaller chunk gives other (equally
    distributed) draws.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    tick = progress or (lambda _s, _n: None)
    now = now or utcnow()
    spec = spec or default_blueprint()
    grades = sorted({int(g) for g in population.grades[members]})
    if assessment is None:
        assessment = _open_assessment(session, grades=grades, calibration_id=calibration_id, spec=spec, now=now)
    writer = ResponseWriter.for_bank(session, rng)
    bp = spec.engine_blueprint()
    band_of = {g: band_of_grade(g, session=session) for g in grades}
    for band in sorted(set(band_of.values())):
        who = members[np.array([band_of[int(g)] == band for g in population.grades[members]], dtype=bool)]
        if who.size == 0:
            continue
        bank = load_band_bank(session=session, calibration_id=calibration_id, band=band)
        truth = load_band_bank(session=session, calibration_id=truth_calibration_id, band=band)
        band_spec = spec
        if spec.sympson_hetter and not spec.exposure:  # calibrated for this bank and these students
            band_spec = calibrate_blueprint_exposure(bank, spec, population.grades[who].tolist(), rng)
            row = session.exec(
                select(BlueprintRow).where(BlueprintRow.assessment_id == assessment.id, BlueprintRow.grade_band == band)
            ).one()
            row.spec = band_spec.to_json()
            session.add(row)
        engine_bank = exposure_bank(bank, band_spec) if band_spec.sympson_hetter else bank.engine
        answers = answer_bank(bank.version_ids, [truth])
        for start in range(0, who.size, chunk):
            part = who[start : start + chunk]
            sim = simulate_sessions(
                engine_bank,
                bp,
                population.true_theta[part],
                rng,
                grades=population.grades[part],
                pilot_per_session=spec.pilot_items,
                answer_bank=answers,
            )
            items, scores, finals = _session_rows(bank, spec, sim, population.grades[part])
            del sim
            writer.write(
                assessment_id=int(assessment.id or 0),
                student_ids=population.student_ids[part],
                items=items,
                scores=scores,
                started=now - timedelta(days=5),
                finals=finals,
            )
            if chunk_progress is not None:
                chunk_progress(f"adaptive band {band}", start + part.size, who.size)
        tick(f"adaptive band {band}", who.size)
    lock_answered(session, int(assessment.id or 0))
    return assessment
