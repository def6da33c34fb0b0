"""Plausible values: stored and read back unchanged on both databases; a redraw replaces the run; refusals."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.models import Area, Assessment, School, Student, TestSession
from itembank.models import Calibration, utcnow
from reports.exceptions import NoScores, NotCalibrated, UnknownAssessment
from reports.models import PlausibleValue, PlausibleValueRun
from reports.plausible import (
    AssessmentResponses,
    DrawnValues,
    conditioning_covariates,
    ensure_plausible_values,
    load_plausible_values,
    store_plausible_values,
)
from reports.tree import find_assessment, load_tree
from scoring.params import ItemParams


def _people(session: Session, *, calibrated: bool = True) -> Assessment:
    """Two schools (urban, rural) of grade 4 and 8 in one county of an eastern province; 6 scored sessions."""
    now = utcnow()
    cal = Calibration(name="c1", status="operational")
    session.add(cal)
    province = Area(code="32", name="江苏省", level="province", region="东部", path="/32/")
    session.add(province)
    session.flush()
    county = Area(
        code="320101", name="安平区", level="county", region="东部", path="/32/320101/", parent_id=province.id
    )
    session.add(county)
    session.flush()
    schools = [
        School(code=f"S{k}", name=f"学校{k}", locale=loc, area_id=int(county.id or 0), path=f"/32/320101/S{k}/")
        for k, loc in ((1, "urban"), (2, "rural"))
    ]
    session.add_all(schools)
    assessment = Assessment(
        code="A1", name="测评", opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=1), grades=[4, 8],
        calibration_id=cal.id if calibrated else None,
    )  # fmt: skip
    session.add(assessment)
    session.flush()
    for k in range(6):
        student = Student(
            code=f"P{k}", grade=4 if k < 3 else 8, gender="F" if k % 2 else "M", ticket=f"T{k:09d}",
            school_id=int(schools[k // 3].id or 0), path="/",
        )  # fmt: skip
        session.add(student)
        session.flush()
        session.add(
            TestSession(
                assessment_id=int(assessment.id or 0), student_id=int(student.id or 0), status="finished",
                scale_score=500.0, passed=True, assessed=True,
            )
        )  # fmt: skip
    session.flush()
    return assessment


def _responses(cal_id: int, n: int) -> AssessmentResponses:
    params = ItemParams(ids=("I1",), models=("2pl",), a=np.ones(1), b=np.zeros((1, 1)), c=np.zeros(1))
    return AssessmentResponses(
        params=params, version_ids=(1,), indicators=("D1.1",), dimensions=("D1",),
        matrix=sp.csr_matrix((np.ones(n), np.zeros(n, dtype=np.int64), np.arange(n + 1)), shape=(n, 1)),
        calibration_id=cal_id, calibration_name="c1", baseline_mean=0.0, baseline_sd=1.0,
    )  # fmt: skip


def test_stored_values_read_back_unchanged_and_a_redraw_replaces_the_run(engine: Engine) -> None:
    with Session(engine) as session:
        assessment = _people(session)
        tree = load_tree(session=session, assessment=assessment)
        theta = np.array([[-1.0, -0.9], [0.0, 0.1], [0.5, 0.4], [1.0, 1.2], [-2.0, -1.5], [0.25, 0.3]])
        drawn = DrawnValues(
            theta=theta, eap=theta.mean(axis=1), eap_sd=np.full(6, 0.4), dimension_theta={"D1": theta - 0.1},
            dimension_reliability={"D1": 0.7}, dimension_items={"D1": 1.0}, conditioning=("girl", "school"),
            model={"reliability": 0.8},
        )  # fmt: skip
        responses = _responses(int(assessment.calibration_id or 0), 6)
        store_plausible_values(session=session, tree=tree, responses=responses, drawn=drawn, seed=7)
        session.commit()
    with Session(engine) as session:
        tree = load_tree(session=session, assessment=find_assessment(session=session, code="A1"))
        got = load_plausible_values(session=session, tree=tree)
        np.testing.assert_allclose(got.scale, 500 + 100 * theta)
        # cuts: band 3-4 (330, 400, 470), band 7-9 (420, 490, 560)
        np.testing.assert_array_equal(got.level, [[2, 2], [3, 3], [3, 3], [3, 3], [0, 0], [2, 2]])
        np.testing.assert_array_equal(got.passed, got.level >= 1)
        np.testing.assert_allclose(got.dimension_scale["D1"], 500 + 100 * (theta - 0.1))
        assert got.bands == ("3-4", "3-4", "3-4", "7-9", "7-9", "7-9")
        assert got.cuts == {"3-4": (330.0, 400.0, 470.0), "7-9": (420.0, 490.0, 560.0)}
        assert got.run.seed == 7 and got.run.dimensions == {"D1": {"reliability": 0.7, "items": 1.0}}
        # a new draw replaces the old run, rows and all
        store_plausible_values(
            session=session, tree=tree, responses=_responses(got.run.calibration_id, 6), drawn=drawn, seed=8
        )
        session.commit()
        assert [r.seed for r in session.exec(select(PlausibleValueRun)).all()] == [8]
        assert len(session.exec(select(PlausibleValue)).all()) == 6
        # current (same calibration, same students): ensure_plausible_values does not draw again
        assert ensure_plausible_values(session=session, tree=tree).seed == 8


def test_covariates_are_dummies_of_the_reporting_variables(engine: Engine) -> None:
    with Session(engine) as session:
        tree = load_tree(session=session, assessment=_people(session))
    x, names = conditioning_covariates(tree)
    assert names == ["grade8", "girl", "urban", "rural", "east", "west"]
    np.testing.assert_array_equal(x[:, 0], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(x[:, 1], [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(x[:, 2:4], [[1, 0]] * 3 + [[0, 1]] * 3)
    np.testing.assert_array_equal(x[:, 4:], [[1, 0]] * 6)


def test_refusals_name_what_is_missing(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(UnknownAssessment, match="没有代码为 NOPE 的测评"):
            find_assessment(session=session, code="NOPE")
        assessment = _people(session, calibrated=False)
        tree = load_tree(session=session, assessment=assessment)
        with pytest.raises(NoScores, match="还没有抽取合理值"):
            load_plausible_values(session=session, tree=tree)
        with pytest.raises(NotCalibrated, match="没有题目参数标定"):
            ensure_plausible_values(session=session, tree=tree)
        empty = Assessment(code="A2", name="空", opens_at=utcnow(), closes_at=utcnow())
        session.add(empty)
        session.flush()
        with pytest.raises(NoScores, match="测评 A2 还没有已完成并计分的作答"):
            load_tree(session=session, assessment=empty)


def test_values_follow_the_scale_version_in_force_and_a_new_version_makes_the_run_stale(engine: Engine) -> None:
    from dataclasses import replace

    from assess.accounts.scope import Actor
    from assess.standards.versions import DEFAULT_VERSION, adopt_version
    from reports.plausible import _current_run

    theta = np.array([[-1.0], [0.0], [0.5], [1.0], [-2.0], [0.25]])
    drawn = DrawnValues(
        theta=theta, eap=theta[:, 0], eap_sd=np.full(6, 0.4), dimension_theta={"D1": theta},
        dimension_reliability={"D1": 0.7}, dimension_items={"D1": 1.0}, conditioning=("school",), model={},
    )  # fmt: skip
    with Session(engine) as session:
        assessment = _people(session)
        tree = load_tree(session=session, assessment=assessment)
        store_plausible_values(session=session, tree=tree, responses=_responses(int(assessment.calibration_id or 0), 6),
                               drawn=drawn, seed=7)  # fmt: skip
        session.commit()
        assert _current_run(session, tree) is not None
        version = replace(DEFAULT_VERSION, cuts={"7-9": (300.0, 400.0, 450.0)}, baseline_mean=0.5, baseline_sd=2.0)
        adopt_version(session=session, actor=Actor.command_line("t"), settings=version)
        session.commit()
        assert _current_run(session, tree) is None  # the run was stored under version 1: a report would redraw
        store_plausible_values(session=session, tree=tree, responses=_responses(int(assessment.calibration_id or 0), 6),
                               drawn=drawn, seed=7)  # fmt: skip
        session.commit()
        assert _current_run(session, tree) is not None
        got = load_plausible_values(session=session, tree=tree)
    np.testing.assert_allclose(got.scale, 500 + 100 * (theta - 0.5) / 2.0)
    assert got.cuts == {"3-4": (330.0, 400.0, 470.0), "7-9": (300.0, 400.0, 450.0)}
    # scores 425, 475, 500 (band 3-4: 330/400/470); 525, 375, 487.5 (7-9: 300/400/450)
    np.testing.assert_array_equal(got.level[:, 0], [2, 3, 3, 3, 1, 3])
