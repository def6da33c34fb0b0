"""Sympson-Hetter exposure control: calibrating the parameters, and turning it on for an assessment.

With Sympson-Hetter (1985) an item that comes up for selection is given with probability ``K``
(and blocked for the rest of the session otherwise), so that no item reaches more than a target
share of students. The parameters depend on the bank, the blueprint and the students, and are
found by simulation: :func:`calibrate_exposure` is the one calibration, used by the operational
``infolit exposure`` (:func:`set_exposure_control`), by national runs and by CAT studies alike.

The parameters are tuned on the administration rate ``P(A_j)``, which is what the target ``r``
bounds.
Two shortcuts fail once randomesque selection picks among the ``k > 1`` best accepted items:

* counting how often an item reaches the acceptance draw as ``P(S)`` (the classic update
  ``K = r / P(S)``) over-controls. An item accepted but not picked comes up again, so ``P(S)``
  stays near the rate at which the item reaches the draw at all, whatever ``K`` is, while
  ``P(A) < P(S) K``: many items are restricted that end far below the target;
* ``P(S) = P(A) / K`` (Sympson & Hetter's ``P(A) = P(S) K``) under-controls and oscillates:
  with session blocking and randomesque, ``P(A)`` is convex in ``K`` (about ``Kp / (1 - K(1-p))``
  with ``p`` the chance of being picked among the accepted), so the full step overshoots.

:func:`calibrate_exposure` therefore takes the classic step once, from ``K = 1``, and then the
damped fixed-point step ``K <- min(1, K (r / P(A))^(1/2))`` for every item, which also lets a
restricted item recover gradually instead of jumping back to ``K = 1``. With ``k = 1``, where
``P(A) = P(S) K`` holds, its fixed point is the classic update's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, select

from assess.banks import BandBank, band_of_grade, load_band_bank
from assess.blueprints import BlueprintSpec, parse_blueprint
from assess.engine import Blueprint, EngineBank, initial_theta
from assess.examinees import run_examinees
from assess.exceptions import ExposureRefused, NotFound
from assess.models import Assessment, BlueprintRow, TestSession

__all__ = ["ExposureSet", "calibrate_blueprint_exposure", "calibrate_exposure", "set_exposure_control"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as each calibration round finishes."""
_DAMPING = 0.5
"""Exponent of the fixed-point step after the first round."""


def calibrate_exposure(
    bank: EngineBank,
    blueprint: Blueprint,
    population: FloatArray,
    rng: np.random.Generator,
    *,
    grades: IntArray | None = None,
    target: float = 0.25,
    iterations: int = 10,
    progress: Progress | None = None,
) -> EngineBank:
    """Sympson-Hetter (1985) parameters for a target maximum exposure rate ``target``.

    Each round runs the examinees ``population`` (with their ``grades``, the blueprint's start
    rule) through the engine with the current parameters and measures each item's
    administration rate ``P(A_j)``. The first round, from ``K = 1``, sets ``K_j = target / P(A_j)``
    where ``P(A_j) > target`` (the classic step); later rounds set
    ``K_j <- min(1, K_j (target / P(A_j))^(1/2))``, a damped fixed-point step (see the module
    docstring for why the undamped and the ``P(S)``-counting updates fail with randomesque).

    Returns
    -------
    EngineBank
        ``bank`` with the calibrated parameters (:meth:`~assess.engine.EngineBank.with_exposure`).
    """
    population = np.asarray(population, dtype=np.float64)
    bp = dataclasses.replace(blueprint, sympson_hetter=True)
    current = bank.with_exposure(np.ones(bank.n_items))
    if progress is not None:
        progress("exposure calibration", 0, iterations)
    for it in range(iterations):
        run = run_examinees(current, bp, population, rng, grades=grades)
        given = run.state.given[run.state.given >= 0]
        p_adm = np.bincount(given, minlength=bank.n_items) / population.size
        step = (target / np.maximum(p_adm, 1e-12)) ** (1.0 if it == 0 else _DAMPING)
        current = current.with_exposure(np.minimum(1.0, current.exposure * step))
        if progress is not None:
            progress("exposure calibration", it + 1, iterations)
    return current


def calibrate_blueprint_exposure(
    bank: BandBank,
    spec: BlueprintSpec,
    grades: Iterable[int],
    rng: np.random.Generator,
    *,
    sessions: int = 2_000,
    iterations: int = 8,
) -> BlueprintSpec:
    """``spec`` with Sympson-Hetter parameters calibrated for ``bank`` (``spec.exposure``, by code).

    ``sessions`` simulated students of ``grades`` (abilities drawn around each grade's start
    ability, SD 1) take the blueprint's test in each round of :func:`calibrate_exposure`, with
    ``spec.target_exposure`` as the target. Only operational items with ``K < 1`` are listed.
    """
    bp = spec.engine_blueprint()
    grade_of = rng.choice(np.array(sorted(set(grades)), dtype=np.int64), size=sessions)
    theta = initial_theta(bp, grade_of) + rng.standard_normal(sessions)
    calibrated = calibrate_exposure(
        bank.engine, bp, theta, rng, grades=grade_of, target=spec.target_exposure, iterations=iterations
    )
    exposure = {
        code: max(1e-4, round(float(k), 4))
        for code, k, pilot in zip(bank.codes, calibrated.exposure, bank.engine.pilot, strict=True)
        if k < 1.0 and not pilot
    }
    return dataclasses.replace(spec, exposure=exposure)


@dataclass(frozen=True)
class ExposureSet:
    """Exposure control as set on one grade band of an assessment."""

    band: str
    items: int  # operational items in the band's bank
    controlled: int  # items with K < 1
    lowest: float  # the smallest K (1.0 when none is controlled)


def set_exposure_control(
    *,
    session: Session,
    assessment_code: str,
    target: float,
    rng: np.random.Generator,
    sessions: int = 2_000,
    iterations: int = 8,
) -> list[ExposureSet]:
    """Turn on Sympson-Hetter exposure control for an adaptive assessment that has not started.

    For each adaptive grade band, calibrates the parameters on the assessment's calibration and
    its grades (:func:`calibrate_blueprint_exposure`) and stores them with the blueprint, in the
    caller's transaction.

    Raises
    ------
    NotFound
        No such assessment, or it has no calibration or no adaptive blueprint.
    ExposureRefused
        Students have already sat it (their tests ran without exposure control), or ``target``
        is not in (0, 1].
    """
    if not 0 < target <= 1:
        raise ExposureRefused(f"the target exposure rate must be in (0, 1], not {target}")
    assessment = session.exec(select(Assessment).where(Assessment.code == assessment_code)).first()
    if assessment is None:
        raise NotFound(f"no assessment {assessment_code!r}")
    if assessment.calibration_id is None:
        raise NotFound(f"assessment {assessment_code} has no calibration")
    sat = session.exec(select(TestSession.id).where(TestSession.assessment_id == assessment.id)).first()
    if sat is not None:
        raise ExposureRefused(
            f"assessment {assessment_code} has sessions already: exposure control must be set before it starts"
        )
    rows = session.exec(
        select(BlueprintRow).where(BlueprintRow.assessment_id == assessment.id, BlueprintRow.mode == "adaptive")
    ).all()
    if not rows:
        raise NotFound(f"assessment {assessment_code} has no adaptive blueprint")
    done = []
    for row in sorted(rows, key=lambda r: r.grade_band):
        grades = [g for g in assessment.grades or [] if band_of_grade(g, session=session) == row.grade_band]
        if not grades:
            continue
        bank = load_band_bank(session=session, calibration_id=assessment.calibration_id, band=row.grade_band)
        spec = dataclasses.replace(parse_blueprint(row.spec), sympson_hetter=True, target_exposure=target)
        spec = calibrate_blueprint_exposure(bank, spec, grades, rng, sessions=sessions, iterations=iterations)
        row.spec = spec.to_json()
        session.add(row)
        n_items = int((~bank.engine.pilot).sum())
        done.append(ExposureSet(row.grade_band, n_items, len(spec.exposure), min(spec.exposure.values(), default=1.0)))
    session.flush()
    return done
