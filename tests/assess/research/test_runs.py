"""Calibration runs: the inputs stored, the job run, the draft calibration and the statistics beside it."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.exceptions import NotFound
from assess.models import Response, Student, TestSession
from assess.research.models import CalibrationRun, ResearchJob
from assess.research.queue import JobSettings, run_job
from assess.research.runs import (
    FIT_RANGE,
    RunRefused,
    RunSpec,
    code_version,
    misfits,
    run_parameters,
    run_view,
    start_run,
)
from itembank.db import session_scope
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion
from itembank.services import bank_params
from scoring.ability import estimate_eap
from scoring.classical import compute_classical_stats
from scoring.fit import compute_infit_outfit
from tests.assess.research.conftest import N_STUDENTS, Trial, build_trial

SETTINGS = JobSettings(heartbeat_seconds=0.5, stale_seconds=30)


def _run(engine: Engine, spec: RunSpec) -> int:
    with session_scope(engine) as s:
        run = start_run(session=s, actor=None, spec=spec)
        run_id, job_id = int(run.id or 0), run.job_id
    assert run_job(engine=engine, job_id=job_id, worker="test", settings=SETTINGS) is not None
    return run_id


def test_a_run_stores_its_inputs_and_a_draft_calibration_with_ses(trial: Trial) -> None:
    run_id = _run(trial.engine, RunSpec(name="ft1-2pl", assessment="FT1", model="2pl"))
    with Session(trial.engine) as s:
        view = run_view(session=s, run_id=run_id)
        assert view.status == "done" and view.percent == 100, view.log
        assert (view.items, view.model, view.anchors, view.groups) == ("all", "2pl", "none", "grade")
        assert view.code_version == code_version() and view.code_version.startswith("infolit ")
        cal = s.get(Calibration, view.calibration_id)
        assert cal is not None and cal.status == "draft" and cal.name == "ft1-2pl"  # publishing is a separate step
        lines, params = run_parameters(session=s, run=view)
    assert view.summary["n_students"] == N_STUDENTS and view.summary["n_items"] == 12 and view.summary["converged"]
    assert params is not None and len(lines) == 12
    by_code = {x.code: x for x in lines}
    b_hat = np.array([by_code[c].b[0] for c in trial.codes])
    a_hat = np.array([by_code[c].a for c in trial.codes])
    # recovery of the generating parameters (700 students, 10 of 12 items each)
    assert np.abs(b_hat - trial.b).mean() < 0.2 and np.corrcoef(b_hat, trial.b)[0, 1] > 0.95
    assert np.abs(a_hat - trial.a).mean() < 0.3
    assert all(x.se_a is not None and 0 < x.se_a < 0.5 and x.se_b[0] is not None for x in lines)
    assert "EM" in view.log and "已保存为草稿标定" in view.log


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_classical_statistics_are_those_of_the_response_matrix(trial: Trial) -> None:
    run_id = _run(trial.engine, RunSpec(name="ft1-stats", assessment="FT1"))
    with Session(trial.engine) as s:
        view = run_view(session=s, run_id=run_id)
        rows = s.exec(
            select(TestSession.student_id, Response.item_version_id, Response.score, Response.answer).join(
                TestSession, col(TestSession.id) == col(Response.session_id)
            )
        ).all()
    students = sorted({r[0] for r in rows})
    versions = sorted({r[1] for r in rows})
    x = np.full((len(students), len(versions)), np.nan)
    om = np.zeros(x.shape, dtype=bool)
    for sid, vid, score, answer in rows:
        x[students.index(sid), versions.index(vid)] = score
        om[students.index(sid), versions.index(vid)] = answer["value"] is None
    hand = compute_classical_stats(x, [1] * len(versions), om)
    got = sorted(view.item_stats, key=lambda r: r["n"])
    assert sorted(int(n) for n in hand.n) == [r["n"] for r in got]
    assert sorted(np.round(hand.p_value, 6)) == pytest.approx(sorted(r["p_value"] for r in view.item_stats))
    assert sorted(np.round(hand.item_rest, 6)) == pytest.approx(sorted(r["item_rest"] for r in view.item_stats))
    assert sum(r["omit_rate"] * r["n"] for r in view.item_stats) == pytest.approx(trial.omitted, abs=0.01)


def test_pilot_items_are_calibrated_with_the_operational_ones_anchored(trial: Trial) -> None:
    run_id = _run(trial.engine, RunSpec(name="ft1-pilot", assessment="FT1", items="pilot", anchors="operational"))
    with Session(trial.engine) as s:
        view = run_view(session=s, run_id=run_id)
        assert view.status == "done", view.log
        lines, _ = run_parameters(session=s, run=view)
        provisional = bank_params(session=s, codes=trial.codes, calibration=PROVISIONAL)
    assert view.summary["n_anchored"] == 9 and view.summary["n_free"] == 3
    by_code = {x.code: x for x in lines}
    for j, code in enumerate(trial.codes):
        line = by_code[code]
        if code in trial.pilot:
            assert not line.anchored and line.se_a is not None
            assert abs(line.b[0] - trial.b[j]) < 0.35  # on the anchors' scale
        else:
            assert (
                line.anchored
                and line.a == pytest.approx(provisional.a[j])
                and line.b[0] == pytest.approx(provisional.b[j, 0])
            )


def _counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return (
            int(s.exec(select(func.count()).select_from(CalibrationRun)).one()),
            int(s.exec(select(func.count()).select_from(ResearchJob)).one()),
            int(s.exec(select(func.count()).select_from(ItemParameter)).one()),
        )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RunSpec(name="x", assessment="FT1", items="pilot"), "正式题须锚定"),
        (RunSpec(name=PROVISIONAL, assessment="FT1"), "换一个名字"),
        (RunSpec(name="  ", assessment="FT1"), "起一个名字"),
        (RunSpec(name="x", assessment="FT1", model="4pl"), "二级计分题模型"),
        (RunSpec(name="x", assessment="FT1", min_responses=0), "最少作答人数"),
    ],
)
def test_a_refused_spec_writes_nothing(trial: Trial, spec: RunSpec, message: str) -> None:
    before = _counts(trial.engine)
    with pytest.raises(RunRefused, match=message), session_scope(trial.engine) as s:
        start_run(session=s, actor=None, spec=spec)
    assert _counts(trial.engine) == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_taken_name_and_an_unknown_assessment_are_refused(trial: Trial) -> None:
    _run(trial.engine, RunSpec(name="once", assessment="FT1"))
    before = _counts(trial.engine)
    with pytest.raises(RunRefused, match="已经有名为"), session_scope(trial.engine) as s:
        start_run(session=s, actor=None, spec=RunSpec(name="once", assessment="FT1"))
    with pytest.raises(NotFound, match="NOPE"), session_scope(trial.engine) as s:
        start_run(session=s, actor=None, spec=RunSpec(name="other", assessment="NOPE"))
    assert _counts(trial.engine) == before


def test_a_run_with_nothing_to_calibrate_fails_with_a_clear_line(trial: Trial) -> None:
    run_id = _run(trial.engine, RunSpec(name="too-few", assessment="FT1", min_responses=5000))
    with Session(trial.engine) as s:
        view = run_view(session=s, run_id=run_id)
        assert view.status == "failed" and view.message == "没有题目达到 5000 人作答，无可标定的题目。"
        assert view.calibration_id is None
        assert s.exec(select(Calibration).where(Calibration.name == "too-few")).first() is None


def test_the_misfit_flag_follows_the_mean_square_range() -> None:
    assert FIT_RANGE == (0.7, 1.3)
    assert not misfits(1.0, 1.29) and not misfits(0.7, 1.3)
    assert misfits(1.31, 1.0) and misfits(1.0, 0.69) and not misfits(float("nan"), 1.0)


def _scores(engine: Engine) -> tuple[np.ndarray, dict[str, int]]:
    """The response matrix (students by id, versions by id) and each ``CODE@N`` column."""
    with Session(engine) as s:
        rows = s.exec(
            select(TestSession.student_id, Response.item_version_id, Response.score).join(
                TestSession, col(TestSession.id) == col(Response.session_id)
            )
        ).all()
        idents = {
            int(v.id or 0): f"{code}@{v.number}"
            for v, code in s.exec(select(ItemVersion, Item.code).join(Item, col(Item.id) == col(ItemVersion.item_id)))
        }
    students = sorted({r[0] for r in rows})
    versions = sorted({r[1] for r in rows})
    x = np.full((len(students), len(versions)), np.nan)
    for sid, vid, score in rows:
        x[students.index(sid), versions.index(vid)] = score
    return x, {idents[v]: k for k, v in enumerate(versions)}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_reversed_item_fits_worst_and_the_fit_is_that_of_the_eap_abilities(engine: Engine) -> None:
    trial = build_trial(engine, reversed_item=4)
    run_id = _run(engine, RunSpec(name="rasch-fit", assessment="FT1", model="rasch", groups="none"))
    with Session(engine) as s:
        view = run_view(session=s, run_id=run_id)
        assert view.status == "done", view.log
        lines, params = run_parameters(session=s, run=view)
    # with ten items a person, EAP shrinkage holds even a reversed item's mean squares near 1.15-1.2:
    # it is the worst by far, every other item overfits a little (Rasch on 2PL data)
    worst_in = max(lines, key=lambda x: x.infit or 0)
    worst_out = max(lines, key=lambda x: x.outfit or 0)
    assert worst_in.code == worst_out.code == trial.codes[4], [(x.code, x.infit, x.outfit) for x in lines]
    others = [x for x in lines if x.code != trial.codes[4]]
    assert (worst_out.outfit or 0) > 1.1 and all((x.outfit or 0) < 1.0 for x in others)
    assert [x.misfit for x in lines] == [misfits(x.infit or np.nan, x.outfit or np.nan) for x in lines]
    # the stored values are infit/outfit at the EAP abilities under the run's own parameters
    assert params is not None
    data, column = _scores(engine)
    matrix = data[:, [column[f"{x.code}@{x.version}"] for x in lines]]
    dist = view.summary["groups"][0]
    theta = estimate_eap(matrix, params, prior_mean=dist["mean"], prior_sd=dist["sd"]).theta
    hand = compute_infit_outfit(matrix, params, theta, allow_non_rasch=True)
    assert [x.outfit for x in lines] == pytest.approx(np.round(hand.item_outfit, 6).tolist(), abs=1e-6)
    assert [x.infit for x in lines] == pytest.approx(np.round(hand.item_infit, 6).tolist(), abs=1e-6)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gender_dif_is_the_mantel_haenszel_of_a_hand_computation(engine: Engine) -> None:
    trial = build_trial(engine, n_students=1600, dif_item=2)
    run_id = _run(engine, RunSpec(name="dif", assessment="FT1", model="2pl", groups="none"))
    with Session(engine) as s:
        view = run_view(session=s, run_id=run_id)
        assert view.status == "done", view.log
        lines, params = run_parameters(session=s, run=view)
        genders = dict(s.exec(select(Student.id, Student.gender)).all())
        students = sorted(genders)
    assert params is not None
    by_code = {x.code: x for x in lines}
    planted = by_code[trial.codes[2]]
    assert planted.dif_flags == ("女生对男生 C",), planted.dif
    assert sum(1 for x in lines if any(f.endswith("C") for f in x.dif_flags)) == 1  # only the planted item
    assert all(len(x.dif) == 1 for x in lines)  # one school, one region: only the gender comparison
    # by hand: ability deciles of the EAP abilities, then alpha_MH = sum(A D / N) / sum(B C / N)
    data, column = _scores(engine)
    matrix = data[:, [column[f"{x.code}@{x.version}"] for x in lines]]
    dist = view.summary["groups"][0]
    theta = estimate_eap(matrix, params, prior_mean=dist["mean"], prior_sd=dist["sd"]).theta
    edges = np.quantile(theta, [k / 10 for k in range(1, 10)])
    stratum = np.searchsorted(edges, theta, side="right")
    girl = np.array([genders[sid] == "F" for sid in students])
    j = [x.code for x in lines].index(trial.codes[2])
    num = den = 0.0
    for k in range(10):
        given = (stratum == k) & np.isfinite(matrix[:, j])
        right = matrix[:, j] == 1
        a_ = np.sum(given & ~girl & right)  # reference (boys) right
        b_ = np.sum(given & ~girl & ~right)
        c_ = np.sum(given & girl & right)  # focal (girls) right
        d_ = np.sum(given & girl & ~right)
        n_ = a_ + b_ + c_ + d_
        if n_:
            num += a_ * d_ / n_
            den += b_ * c_ / n_
    d_dif = -2.35 * np.log(num / den)
    assert planted.dif[0]["d_dif"] == pytest.approx(d_dif, abs=1e-5) and d_dif < -1.5  # harder for girls
