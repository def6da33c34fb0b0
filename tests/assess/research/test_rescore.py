"""Rescoring ended sittings under a chosen calibration: the live scoring again, a hand EAP, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.accounts.scope import Actor
from assess.banks import load_band_bank
from assess.engine import initial_theta
from assess.full_path import finish_session
from assess.models import Assessment, Response, Student, TestSession
from assess.research.rescore import RescoreRefused, rescore_sittings
from assess.scales import to_scale
from itembank.calibrations import bank_params
from itembank.models import Calibration
from scoring.irt import probabilities
from tests.assess.conftest import BLUEPRINT
from tests.assess.research.test_publish import _now, _publish, _world

ACTOR = Actor.command_line("tester")
N_ITEMS = 9


def _sittings(engine: Engine, *, seed: int = 4) -> list[int]:
    """Three grade-8 sittings of A1 on OLD with stored answers, ended through the live scoring."""
    rng = np.random.default_rng(seed)
    with Session(engine, expire_on_commit=False) as session:
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        bank = load_band_bank(session=session, calibration_id=int(a1.calibration_id or 0), band="7-9")
        operational = [j for j in range(len(bank.codes)) if not bank.engine.pilot[j]]
        ids = []
        for student in session.exec(select(Student).order_by(col(Student.id))).all():
            ts = TestSession(assessment_id=int(a1.id or 0), student_id=int(student.id or 0), seed=1)
            session.add(ts)
            session.flush()
            for pos, j in enumerate(rng.choice(operational, N_ITEMS, replace=False)):
                k = int(bank.engine.params.max_scores[j])
                score = int(rng.integers(0, k + 1))
                session.add(Response(session_id=int(ts.id or 0), item_version_id=bank.version_ids[j], position=pos,
                                     score=score, answer={"value": "A"}, pilot=False))  # fmt: skip
            session.flush()
            finish_session(session=session, test_session=ts, now=_now())
            ids.append(int(ts.id or 0))
        session.commit()
    return ids


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(TestSession).order_by(col(TestSession.id))).all()
        return [(r.theta, r.se, r.scale_score, r.level, r.passed, r.assessed, r.n_scored, r.subscores) for r in rows]


def _hand_eap(engine: Engine, session_id: int, calibration: str) -> float:
    """EAP over the engine's 61 nodes on [-6, 6], prior N(grade-8 start, 1), from the stored parameters."""
    with Session(engine) as session:
        answers = session.exec(
            select(Response.item_version_id, Response.score)
            .where(Response.session_id == session_id)
            .order_by(col(Response.position))
        ).all()
        cal = session.exec(select(Calibration).where(Calibration.name == calibration)).one()
        bank = load_band_bank(session=session, calibration_id=int(cal.id or 0), band="7-9")
        codes = [bank.codes[bank.index_of(v)] for v, _ in answers]
        params = bank_params(session=session, calibration=calibration, codes=codes)
    nodes = np.linspace(-6, 6, 61)
    p = probabilities(params, nodes)  # (Q, n, K+1)
    scores = np.array([s for _, s in answers])
    start = float(initial_theta(BLUEPRINT.engine_blueprint(), np.array([8]))[0])
    log_post = -0.5 * (nodes - start) ** 2 + np.log(p[:, np.arange(len(codes)), scores]).sum(axis=1)
    w = np.exp(log_post - log_post.max())
    return float((w * nodes).sum() / w.sum())


def test_rescoring_under_the_same_calibration_reproduces_the_live_scores(engine: Engine) -> None:
    _world(engine)
    _sittings(engine)
    live = _stored(engine)
    assert all(r[0] is not None for r in live)
    with Session(engine) as session:
        done = rescore_sittings(session=session, actor=ACTOR, calibration="OLD", now=_now(), chunk=2)
        session.commit()
    assert [(r.assessment, r.previous, r.sittings, r.levels_changed) for r in done.rounds] == [("A1", "OLD", 3, 0)]
    again = _stored(engine)
    for before, after in zip(live, again, strict=True):
        assert after[0] == pytest.approx(before[0], abs=1e-12) and after[2:] == before[2:]


def test_rescoring_under_another_calibration_gives_its_eap_and_the_round_follows(engine: Engine) -> None:
    _world(engine, noise=0.3, seed=8)  # NEW differs from OLD beyond a linear transformation
    ids = _sittings(engine)
    before = _stored(engine)
    _publish(engine)  # NEW published; A1 has sittings so it keeps OLD
    calls: list[tuple[int, int]] = []
    with Session(engine) as session:
        done = rescore_sittings(session=session, actor=ACTOR, calibration="NEW", assessment="A1", now=_now(),
                                chunk=2, progress=lambda d, t: calls.append((d, t)))  # fmt: skip
        session.commit()
    assert calls == [(2, 3), (3, 3)]
    after = _stored(engine)
    for sid, row in zip(ids, after, strict=True):
        theta = _hand_eap(engine, sid, "NEW")
        assert row[0] == pytest.approx(theta, abs=1e-9)
        assert row[2] == pytest.approx(to_scale(theta))
    assert [r[0] for r in after] != [r[0] for r in before]
    assert done.rounds[0].mean_shift is not None
    with Session(engine) as session:
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        new = session.exec(select(Calibration).where(Calibration.name == "NEW")).one()
    assert a1.calibration_id == new.id  # what the reports use from now on
    with Session(engine) as session:  # and back under the previous one
        rescore_sittings(session=session, actor=ACTOR, calibration="OLD", assessment="A1", now=_now())
        session.commit()
    assert [r[0] for r in _stored(engine)] == pytest.approx([r[0] for r in before], abs=1e-12)


def test_refusals_write_nothing(engine: Engine) -> None:
    _world(engine)
    _sittings(engine)
    before = _stored(engine)
    with Session(engine, expire_on_commit=False) as session:
        with pytest.raises(RescoreRefused, match="没有发布过"):
            rescore_sittings(session=session, actor=ACTOR, calibration="NEW", now=_now())
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        ts = session.exec(select(TestSession)).first()
        assert ts is not None
        ts.status = "in_progress"
        session.add(ts)
        session.flush()
        with pytest.raises(RescoreRefused, match="正在作答"):
            rescore_sittings(session=session, actor=ACTOR, calibration="OLD", assessment=a1.code, now=_now())
        session.rollback()
    assert _stored(engine) == before
