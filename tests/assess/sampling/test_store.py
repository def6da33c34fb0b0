"""A draw and its weights in the database (SQLite and PostgreSQL): stored, read back, replaced."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from assess.exceptions import NotFound
from assess.sampling.exceptions import SamplingError
from assess.sampling.models import SampleDraw, SampleSchool, SampleWeight
from assess.sampling.participation import participation_rates
from assess.sampling.select import draw_sample
from assess.sampling.store import load_weighted, store_draw, weigh_assessment
from assess.sampling.summary import summarize_sample
from itembank.db import session_scope
from tests.assess.sampling.helpers import design, small_frame
from tests.assess.sampling.world import make_assessment, seat_sample


def test_a_tested_sample_is_weighted_stored_and_read_back(engine: Engine) -> None:
    d = design(schools=10, min_measure=1)
    sample = draw_sample(small_frame(60, big=1), d, seed=4)
    with session_scope(engine) as session:
        assessment = make_assessment(session)
        store_draw(session=session, sample=sample, assessment_code="NAT-2026")
        seat_sample(session, sample, assessment, seed=4, take=15)
    with session_scope(engine) as session:
        got = weigh_assessment(session=session, assessment_code="NAT-2026")
        aid = int(got.assessment.id or 0)
    key = got.schools.stratum[got.students.school]
    for stratum, total in sample.stratum_enrolment.items():
        if len(set(got.weights.cell.tolist())) == len(sample.allocation):
            assert got.weights.final[key == stratum].sum() == pytest.approx(total, rel=1e-9)
    with session_scope(engine) as session:
        back = load_weighted(session=session, assessment_id=aid)
        assert back is not None
        n_rows = session.exec(select(func.count()).select_from(SampleWeight)).one()
    assert n_rows == got.students.n
    np.testing.assert_allclose(back.weights.final, got.weights.final)
    np.testing.assert_array_equal(back.zones.zone, got.zones.zone)
    np.testing.assert_array_equal(back.weights.used, got.weights.used)
    np.testing.assert_array_equal(back.students.assessed, got.students.assessed)
    rates = participation_rates(back.schools, back.students, back.weights, back.design)
    assert rates[-1].group == "全部" and rates[-1].students_assessed == int(got.students.assessed[
        got.weights.used[got.students.school]].sum())  # fmt: skip
    summary = summarize_sample(back)
    assert summary.n_zones >= 4 and 450 < summary.mean < 550 and summary.design_effect > 1
    assert summary.sum_weights == pytest.approx(got.weights.final.sum())


def test_drawing_again_needs_replace_and_replaces_the_weights(engine: Engine) -> None:
    d = design(schools=8)
    frame = small_frame(60)
    with session_scope(engine) as session:
        assessment = make_assessment(session)
        store_draw(session=session, sample=draw_sample(frame, d, seed=1), assessment_code="NAT-2026")
        seat_sample(session, draw_sample(frame, d, seed=1), assessment, take=5)
        weigh_assessment(session=session, assessment_code="NAT-2026")
    with session_scope(engine) as session, pytest.raises(SamplingError, match="--replace"):
        store_draw(session=session, sample=draw_sample(frame, d, seed=2), assessment_code="NAT-2026")
    with session_scope(engine) as session:
        store_draw(session=session, sample=draw_sample(frame, d, seed=2), assessment_code="NAT-2026", replace=True)
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(SampleDraw)).one() == 1
        assert session.exec(select(func.count()).select_from(SampleWeight)).one() == 0
        n = session.exec(select(func.count()).select_from(SampleSchool)).one()
        assert n == draw_sample(frame, d, seed=2).n


def test_unknown_assessment_and_missing_draw_are_clear(engine: Engine) -> None:
    sample = draw_sample(small_frame(30), design(schools=8), seed=0)
    with session_scope(engine) as session, pytest.raises(NotFound, match="NOPE"):
        store_draw(session=session, sample=sample, assessment_code="NOPE")
    with session_scope(engine) as session:
        make_assessment(session)
    with session_scope(engine) as session, pytest.raises(NotFound, match="没有抽样"):
        weigh_assessment(session=session, assessment_code="NAT-2026")
    with session_scope(engine) as session:
        store_draw(session=session, sample=sample, assessment_code="NAT-2026")
    with session_scope(engine) as session, pytest.raises(SamplingError, match="还没有学生完成测评"):
        weigh_assessment(session=session, assessment_code="NAT-2026")


def test_the_migration_matches_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from tests.itembank.test_services import _table_of

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    mine = {"sample_draw", "sample_school", "sample_weight"}
    assert [d for d in diff if _table_of(d) in mine] == []
