from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.calibration import calibrate_assessment, response_matrix
from assess.exceptions import CalibrationRefused, NotFound
from assess.models import Assessment, Response, TestSession
from itembank.models import Calibration, utcnow
from itembank.services import bank_params
from tests.assess.conftest import make_tree, provisional_2pl_items

N_STUDENTS, N_ITEMS, PER_STUDENT = 800, 12, 10
Trial = tuple[Engine, int, list[str], np.ndarray, np.ndarray]


@pytest.fixture
def trial(engine: Engine) -> Iterator[Trial]:
    """A field trial of 800 grade-8 students, each answering 10 of 12 2PL items drawn from known parameters."""
    rng = np.random.default_rng(11)
    with Session(engine, expire_on_commit=False) as session:
        provisional, versions, codes, a, b = provisional_2pl_items(session, N_ITEMS)
        students = make_tree(session, N_STUDENTS, grade=8)
        now = utcnow()
        assessment = Assessment(
            code="FT1",
            name="试测",
            opens_at=now - timedelta(days=2),
            closes_at=now - timedelta(days=1),
            grades=[8],
            purpose="field_trial",
            calibration_id=provisional,
        )
        session.add(assessment)
        session.flush()
        theta = rng.standard_normal(N_STUDENTS)
        for s, student in enumerate(students):
            ts = TestSession(assessment_id=int(assessment.id or 0), student_id=int(student.id or 0), status="finished")
            session.add(ts)
            session.flush()
            for pos, j in enumerate(np.sort(rng.permutation(N_ITEMS)[:PER_STUDENT])):
                p = 1.0 / (1.0 + np.exp(-a[j] * (theta[s] - b[j])))
                score = int(rng.random() < p)
                session.add(
                    Response(session_id=int(ts.id or 0), item_version_id=versions[j], position=pos, score=score)
                )
        session.commit()
        yield engine, int(assessment.id or 0), codes, a, b


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_assessment_is_calibrated_from_its_stored_responses(trial: Trial) -> None:
    engine, aid, codes, a, b = trial
    seen: list[tuple[int, float, float]] = []
    with Session(engine) as session:
        data = response_matrix(session=session, assessment_id=aid)
        assert data.scores.shape == (N_STUDENTS, N_ITEMS)
        assert (np.isfinite(data.scores).sum(axis=1) == PER_STUDENT).all()
        result = calibrate_assessment(
            session=session,
            assessment_id=aid,
            name="trial-1",
            publish=False,
            callback=lambda cycle, loglik, change: seen.append((cycle, loglik, change)),
        )
        session.commit()
    assert result.params.ids == tuple(codes) and len(result.version_ids) == N_ITEMS
    assert result.n_students == N_STUDENTS and result.converged
    # recovery of the generating parameters (800 students, 10 items each)
    est_b = result.params.b[:, 0]
    assert np.sqrt(np.mean((est_b - b) ** 2)) < 0.25
    assert np.sqrt(np.mean((result.params.a - a) ** 2)) < 0.25
    # the callback gets scoring's (cycle, loglik, change)
    assert seen and all(ll < 0 for _, ll, _ in seen) and all(ch >= 0 for *_, ch in seen)
    with Session(engine) as session:
        row = session.exec(select(Calibration).where(Calibration.name == "trial-1")).one()
        assert row.id == result.calibration_id and row.status == "draft"
        assert "field trial assessment" in row.source and f"{N_STUDENTS} students" in row.source
        stored = bank_params(session=session, codes=codes, calibration="trial-1")
    np.testing.assert_allclose(stored.a, result.params.a)
    np.testing.assert_allclose(stored.b[:, 0], est_b)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_publishing_and_refusals(trial: Trial) -> None:
    engine, aid, *_ = trial
    with Session(engine) as session:
        with pytest.raises(CalibrationRefused, match="no item has 10000 scored responses"):
            calibrate_assessment(session=session, assessment_id=aid, name="x", min_responses=10_000)
        with pytest.raises(NotFound, match="no assessment 999"):
            calibrate_assessment(session=session, assessment_id=999, name="x")
        empty = Assessment(code="E1", name="空", opens_at=utcnow(), closes_at=utcnow())
        session.add(empty)
        session.flush()
        with pytest.raises(NotFound, match="no scored responses"):
            calibrate_assessment(session=session, assessment_id=int(empty.id or 0), name="x")
        assert session.exec(select(Calibration).where(Calibration.name == "x")).first() is None
        calibrate_assessment(session=session, assessment_id=aid, name="trial-2")
        row = session.exec(select(Calibration).where(Calibration.name == "trial-2")).one()
        assert row.status == "operational" and row.published_at is not None
