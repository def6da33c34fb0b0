"""Calibrating an assessment from its stored responses: the operational service.

:func:`calibrate_assessment` reads the scored responses of an assessment (field-trial booklets or
adaptive sessions, whatever was stored), calibrates every item that has enough of them with
:func:`scoring.calibrate.calibrate` (grades as groups on one vertical scale) and stores the
result as a calibration in the item bank. Nothing in it knows where the answers came from: the
simulation pipeline (:mod:`assess.simulate.pipeline`) calls it on simulated answers and compares
the estimates with the generating parameters itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select

from assess.exceptions import CalibrationRefused, NotFound
from assess.models import Assessment, Response, Student, TestSession
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion
from itembank.services import publish_calibration, store_calibration
from scoring.calibrate import calibrate
from scoring.params import ItemParams

__all__ = ["AssessmentCalibration", "Callback", "ResponseMatrix", "calibrate_assessment", "response_matrix"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Callback = Callable[[int, float, float], None]
"""``callback(cycle, loglik, change)``, as :func:`scoring.calibrate.calibrate` calls it after each cycle."""


@dataclass(frozen=True, eq=False)
class ResponseMatrix:
    """Scores of an assessment, persons x item versions (``nan`` = not administered)."""

    student_ids: IntArray
    version_ids: tuple[int, ...]
    scores: FloatArray


@dataclass(frozen=True, eq=False)
class AssessmentCalibration:
    """A calibration made from an assessment's responses and stored in the item bank.

    ``version_ids[j]`` is the item version of ``params`` row ``j`` (whose id is the item code).
    """

    name: str
    calibration_id: int
    n_students: int
    version_ids: tuple[int, ...]
    params: ItemParams
    n_cycles: int
    converged: bool
    log_likelihood: float


def response_matrix(*, session: Session, assessment_id: int) -> ResponseMatrix:
    """Persons x item versions scores of an assessment, from its stored responses.

    Raises
    ------
    NotFound
        The assessment has no scored responses.
    """
    rows = session.exec(
        select(TestSession.student_id, Response.item_version_id, Response.score)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id, col(Response.score).is_not(None))
    ).all()
    if not rows:
        raise NotFound(f"assessment {assessment_id} has no scored responses")
    arr = np.array(rows, dtype=np.int64)
    students, r = np.unique(arr[:, 0], return_inverse=True)
    versions, c = np.unique(arr[:, 1], return_inverse=True)
    out = np.full((students.size, versions.size), np.nan)
    out[r, c] = arr[:, 2]
    return ResponseMatrix(students, tuple(int(v) for v in versions), out)


def _item_models(session: Session, version_ids: tuple[int, ...]) -> dict[int, tuple[str, str]]:
    """Code and IRT model of each version that has provisional parameters (the item's declared model)."""
    provisional = session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one()
    rows = session.exec(
        select(ItemVersion.id, Item.code, ItemParameter.model)
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .join(ItemParameter, col(ItemParameter.item_version_id) == col(ItemVersion.id))
        .where(ItemParameter.calibration_id == provisional, col(ItemVersion.id).in_(version_ids))
    ).all()
    return {int(v or 0): (code, model) for v, code, model in rows}


def calibrate_assessment(
    *,
    session: Session,
    assessment_id: int,
    name: str,
    reference_grade: int = 8,
    min_responses: int = 50,
    publish: bool = True,
    callback: Callback | None = None,
) -> AssessmentCalibration:
    """Calibrate every item of an assessment from its responses and store (and publish) it.

    The model of each item follows its provisional parameters (2PL, 3PL with a prior on c, GRM or
    GPCM); items with fewer than ``min_responses`` scored responses are left out. Grades are
    separate groups with their own latent mean and SD, ``reference_grade`` (when present) fixed
    at N(0, 1), so that items shared by adjacent grades put them on one vertical scale. The
    calibration is stored under ``name`` in the caller's transaction.

    Raises
    ------
    NotFound
        The assessment does not exist or has no scored responses.
    CalibrationRefused
        No item has ``min_responses`` responses and provisional parameters.
    """
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"no assessment {assessment_id}")
    data = response_matrix(session=session, assessment_id=assessment_id)
    info = _item_models(session, data.version_ids)
    answered = np.isfinite(data.scores).sum(axis=0)
    keep = [k for k, v in enumerate(data.version_ids) if v in info and answered[k] >= min_responses]
    if not keep:
        raise CalibrationRefused(
            f"assessment {assessment.code}: no item has {min_responses} scored responses to calibrate from"
        )
    matrix = data.scores[:, keep]
    versions = tuple(data.version_ids[k] for k in keep)
    grade_of = dict(
        session.exec(select(Student.id, Student.grade).where(col(Student.id).in_(data.student_ids.tolist()))).all()
    )
    groups = np.array([grade_of[int(s)] for s in data.student_ids])
    has_ref = bool((groups == reference_grade).any())
    result = calibrate(
        matrix,
        [info[v][1] for v in versions],
        item_ids=[info[v][0] for v in versions],
        groups=groups if np.unique(groups).size > 1 else None,
        reference_group=reference_grade if has_ref else None,
        callback=callback,
    )
    ref = result.distribution()
    stored = store_calibration(
        session=session,
        name=name,
        params=result.params,
        standard_errors=result.se,
        source=f"{assessment.purpose.replace('_', ' ')} assessment {assessment_id}: {data.student_ids.size} "
        f"students, {len(versions)} items, {result.n_cycles} EM cycles, logLik {result.log_likelihood:.2f}",
        latent_mean=ref.mean,
        latent_sd=ref.sd,
    )
    if publish:
        publish_calibration(session=session, name=name)
    return AssessmentCalibration(
        name=name,
        calibration_id=int(stored.id),
        n_students=int(data.student_ids.size),
        version_ids=versions,
        params=result.params,
        n_cycles=result.n_cycles,
        converged=result.converged,
        log_likelihood=float(result.log_likelihood),
    )
