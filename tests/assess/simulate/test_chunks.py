"""The national run in chunks: registration and adaptive sittings lose or duplicate nothing at chunk boundaries.

Two copies of a migrated SQLite database take the same small sample (about 300 students): one
registers and tests it in a single chunk, the other in chunks of 70. Registration draws every
random number as in one piece, so both store exactly the same students; the adaptive sittings
draw on across chunks, so they differ in their draws but not in what is stored for whom: every
operational student has one finished sitting, every answer is stored once at its position, and
each sitting's stored score is the one its own stored answers give.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.banks import band_of_grade, load_band_bank
from assess.blueprints import default_blueprint
from assess.engine import initial_theta
from assess.models import Response, Student, TestSession
from assess.scales import final_scores_batch
from assess.simulate.adaptive import run_adaptive
from assess.simulate.country import SeatedSample, build_country, national_design, plan_schools, seat_national_sample
from assess.simulate.pipeline import ensure_bank
from itembank.db import make_engine, session_scope
from itembank.models import PROVISIONAL, Calibration

GRADES = (4, 8)


def _seat(engine: Engine, chunk: int) -> tuple[SeatedSample, int]:
    rng = np.random.default_rng(5)
    country = build_country(rng, n_schools=600, grades=GRADES)
    design = national_design(plan_schools(country, 300, GRADES), GRADES)
    with session_scope(engine) as session:
        ensure_bank(session=session)
        provisional = int(session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one() or 0)
        seated = seat_national_sample(
            session=session, country=country, design=design, field_trial=0, rng=rng, seed=5, chunk=chunk
        )
    return seated, provisional


def _test(engine: Engine, seated: SeatedSample, provisional: int, chunk: int) -> int:
    with session_scope(engine) as session:
        cat = run_adaptive(
            session=session,
            population=seated.population,
            members=seated.operational,
            calibration_id=provisional,
            truth_calibration_id=provisional,
            rng=np.random.default_rng(9),
            chunk=chunk,
        )
        return int(cat.id or 0)


def _dump(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


@pytest.fixture
def two(sqlite_template: Path, tmp_path: Path) -> tuple[Engine, Engine]:
    engines = []
    for name in ("whole.db", "chunked.db"):
        shutil.copy(sqlite_template, tmp_path / name)
        engines.append(make_engine(f"sqlite:///{tmp_path / name}"))
    return engines[0], engines[1]


def _rescored(session: Session, assessment_id: int, band: str, calibration_id: int) -> dict[int, tuple[float, float]]:
    """Each sitting of the band rescored from its stored operational answers: ``session id -> (theta, se)``."""
    bank = load_band_bank(session=session, calibration_id=calibration_id, band=band)
    index = {v: j for j, v in enumerate(bank.version_ids)}
    sittings = session.exec(
        select(TestSession.id, Student.grade)
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .where(TestSession.assessment_id == assessment_id)
        .order_by(col(TestSession.id))
    ).all()
    mine = [(int(sid or 0), int(g)) for sid, g in sittings if band_of_grade(int(g), session=session) == band]
    items = np.full((len(mine), 40), -1, dtype=np.int64)
    scores = np.zeros((len(mine), 40), dtype=np.int64)
    for row, (sid, _g) in enumerate(mine):
        answers = session.exec(
            select(Response.item_version_id, Response.score)
            .where(Response.session_id == sid, col(Response.pilot).is_(False))
            .order_by(col(Response.position))
        ).all()
        for t, (v, sc) in enumerate(answers):
            items[row, t], scores[row, t] = index[int(v)], int(sc)
    prior = initial_theta(default_blueprint().engine_blueprint(), np.array([g for _, g in mine], dtype=np.int64))
    results = final_scores_batch(bank.engine, items, scores, band=band, prior_mean=prior)
    return {sid: (r.theta, r.se) for (sid, _), r in zip(mine, results, strict=True)}


@pytest.mark.slow
def test_chunks_of_70_store_what_one_chunk_stores(two: tuple[Engine, Engine]) -> None:
    whole, chunked = two
    seated_whole, provisional = _seat(whole, chunk=10**6)
    seated_chunked, _ = _seat(chunked, chunk=70)
    n = int(seated_whole.population.student_ids.size)
    assert 250 <= n <= 400 and seated_chunked.operational.size > 3 * 70  # several chunks, a ragged last one
    # registration: the same students, ids, tickets and abilities, each once
    students = "select id, code, grade, gender, ticket, school_id, class_id, path from student order by id"
    assert _dump(whole, students) == _dump(chunked, students)
    assert len({r[1] for r in _dump(chunked, students)}) == n
    for a, b in zip(
        (seated_whole.population.student_ids, seated_whole.population.true_theta, seated_whole.operational),
        (seated_chunked.population.student_ids, seated_chunked.population.true_theta, seated_chunked.operational),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)

    whole_id = _test(whole, seated_whole, provisional, chunk=10**6)
    chunked_id = _test(chunked, seated_chunked, provisional, chunk=70)
    sat = "select student_id, status from test_session where assessment_id = {} order by student_id"
    expected = sorted((int(seated_chunked.population.student_ids[i]), "finished") for i in seated_chunked.operational)
    assert _dump(whole, sat.format(whole_id)) == expected
    assert _dump(chunked, sat.format(chunked_id)) == expected  # every operational student once, finished
    # every answer once, at positions 0..position-1 of its own sitting
    per_sitting = _dump(
        chunked,
        "select t.id, t.position, count(r.id), count(distinct r.position), min(r.position), max(r.position) "
        "from test_session t join response r on r.session_id = t.id "
        f"where t.assessment_id = {chunked_id} group by t.id",
    )
    assert len(per_sitting) == len(expected)
    assert all(pos == cnt == distinct and lo == 0 and hi == pos - 1 for _, pos, cnt, distinct, lo, hi in per_sitting)
    with Session(chunked) as session:
        stored = {
            int(sid or 0): (theta, se)
            for sid, theta, se in session.exec(
                select(TestSession.id, TestSession.theta, TestSession.se).where(TestSession.assessment_id == chunked_id)
            ).all()
        }
        rescored: dict[int, tuple[float, float]] = {}
        for band in sorted({band_of_grade(g, session=session) for g in GRADES}):
            rescored |= _rescored(session, chunked_id, band, provisional)
    assert rescored.keys() == stored.keys()
    for sid, (theta, se) in rescored.items():
        assert stored[sid] == pytest.approx((theta, se), abs=1e-9), sid
