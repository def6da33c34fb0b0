"""Reports on a weighted sample: the stored weights and JK2 zones, aligned with the tree, drive every estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.models import Area, School, Student, TestSession
from assess.sampling.select import draw_sample
from assess.sampling.store import load_weighted, store_draw, weigh_assessment
from assess.simulate.pipeline import run_national_simulation
from itembank.db import make_engine, session_scope
from itembank.models import utcnow
from reports.exceptions import ReportError
from reports.models import PlausibleValue, PlausibleValueRun
from reports.sample import choose_design, load_sample_frame
from reports.store import build_and_store
from reports.tree import find_assessment, load_tree
from scoring.survey import ReplicateDesign, estimate_mean
from tests.assess.sampling.helpers import design, small_frame
from tests.assess.sampling.world import make_assessment, seat_sample
from web import migrate


def _world(engine: Engine) -> None:
    sample = draw_sample(small_frame(60, big=1), design(schools=10), seed=5)
    with session_scope(engine) as session:
        assessment = make_assessment(session)
        store_draw(session=session, sample=sample, assessment_code="NAT-2026")
        seat_sample(session, sample, assessment, seed=5, take=12)
        weigh_assessment(session=session, assessment_code="NAT-2026")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_frame_is_the_stored_weights_in_the_trees_order(engine: Engine) -> None:
    _world(engine)
    with Session(engine) as session:
        assessment = find_assessment(session=session, code="NAT-2026")
        tree = load_tree(session=session, assessment=assessment)
        frame = load_sample_frame(session=session, tree=tree)
        stored = load_weighted(session=session, assessment_id=int(assessment.id or 0))
    assert frame is not None and stored is not None
    at = {int(s): j for j, s in enumerate(stored.student_ids.tolist())}
    j = np.array([at[int(s)] for s in tree.student_ids.tolist()])
    np.testing.assert_array_equal(frame.weights, stored.weights.final[j])
    np.testing.assert_array_equal(frame.zones, stored.zones.zone[j])
    used = stored.weights.used[stored.students.school[j]]  # the world seats every replacement too
    assert np.all(frame.weights[used] > 0) and np.all(frame.weights[~used] == 0)
    assert frame.zones is not None and np.all(frame.zones[used] >= 0)
    assert "抽中 10 所学校" in frame.note and frame.school_threshold == 0.85
    chosen = choose_design(tree, frame=frame)
    assert chosen.method == "jk2-full" and chosen.weighted and chosen.from_frame and chosen.note == frame.note


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_school_outside_the_draw_weighs_nothing_and_a_late_sitter_stops_the_build(engine: Engine) -> None:
    _world(engine)
    with session_scope(engine) as session:
        assessment = find_assessment(session=session, code="NAT-2026")
        county = session.exec(select(Area).where(Area.level == "county")).first()
        assert county is not None
        demo = School(code="DEMO1", name="演示学校", locale="urban", area_id=int(county.id or 0),
                      path=f"{county.path}DEMO1/")  # fmt: skip
        session.add(demo)
        session.flush()
        kid = Student(code="DEMO-K", grade=4, gender="F", ticket="TDEMO", school_id=int(demo.id or 0), path=demo.path)
        session.add(kid)
        session.flush()
        session.add(TestSession(assessment_id=int(assessment.id or 0), student_id=int(kid.id or 0),
                                status="finished", finished_at=utcnow(), assessed=True, scale_score=512.0))  # fmt: skip
    with Session(engine) as session:
        assessment = find_assessment(session=session, code="NAT-2026")
        tree = load_tree(session=session, assessment=assessment)
        frame = load_sample_frame(session=session, tree=tree)
    assert frame is not None
    outside = tree.student_ids == int(kid.id or 0)
    assert frame.weights[outside].tolist() == [0.0] and "学校不在样本中" in frame.note
    with session_scope(engine) as session:  # an absentee of a drawn school sits after the weights were made
        assessment = find_assessment(session=session, code="NAT-2026")
        sat = set(session.exec(select(TestSession.student_id)).all())
        late = session.exec(select(Student).where(Student.school_id != demo.id)).all()
        absentee = next(s for s in late if s.id not in sat)
        session.add(TestSession(assessment_id=int(assessment.id or 0), student_id=int(absentee.id or 0),
                                status="finished", finished_at=utcnow(), assessed=True, scale_score=480.0))  # fmt: skip
    with Session(engine) as session:
        tree = load_tree(session=session, assessment=find_assessment(session=session, code="NAT-2026"))
        with pytest.raises(ReportError, match="infolit sample weights NAT-2026"):
            load_sample_frame(session=session, tree=tree)


@pytest.mark.slow
def test_report_build_of_a_weighted_national_run_uses_the_weights_and_the_zones(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    migrate.upgrade(engine)
    run = run_national_simulation(engine, students=3000, field_trial=2000, seed=3)  # see tests/reports/conftest.py
    assert run.weighted_students > 0.9 * run.adaptive_students
    with Session(engine, expire_on_commit=False) as session:
        profiles, build = build_and_store(session=session, assessment_code=run.adaptive_assessment, n_pvs=5)
        session.commit()
    with Session(engine) as session:
        assessment = find_assessment(session=session, code=run.adaptive_assessment)
        tree = load_tree(session=session, assessment=assessment)
        frame = load_sample_frame(session=session, tree=tree)
        pv_run = session.exec(select(PlausibleValueRun).where(PlausibleValueRun.assessment_id == assessment.id)).one()
        rows = {r.student_id: r for r in session.exec(select(PlausibleValue).where(PlausibleValue.run_id == pv_run.id))}
    assert frame is not None and frame.zones is not None and frame.halves is not None
    scale = np.array([rows[int(s)].scale_score for s in tree.student_ids.tolist()])
    nation = profiles.get("national", "national")
    w = frame.weights
    per_pv = (w[:, None] * scale).sum(axis=0) / w.sum()
    assert nation.mean.estimate == pytest.approx(per_pv.mean(), rel=1e-9)
    jk2 = ReplicateDesign.jk2(frame.zones, frame.halves, weights=w)
    est = estimate_mean(scale, jk2)
    u = np.mean([jk2.variance(est.estimates[0, m], est.replicates[0, m]) for m in range(scale.shape[1])])
    assert nation.mean.se_sampling == pytest.approx(np.sqrt(u), rel=1e-9)
    assert nation.participation.weighted
    assert "抽中" in nation.methods.paragraphs[0] and "JK2" in nation.methods.design_name
    assert nation.methods.weighted and build.design == "auto"
