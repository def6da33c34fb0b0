"""Publishing a calibration: linking, what moves, exposure recalibration, atomic, undone exactly."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import assess.research.publish as publish_module
from assess.accounts.scope import Actor
from assess.blueprints import BlueprintSpec, parse_blueprint
from assess.full_path import _sitting_of, start_session
from assess.models import Assessment, BlueprintRow, Student, TestSession
from assess.research.publish import (
    PublishRefused,
    list_publications,
    plan_publication,
    publish_calibration,
    undo_publication,
)
from assess.simulate.pipeline import ensure_bank
from itembank.calibrations import bank_params, store_calibration
from itembank.models import PROVISIONAL, Calibration, ItemParameter, utcnow
from scoring.linking import LinkingConstants, transform_params
from scoring.params import ItemParams, ItemParamsSE
from tests.assess.conftest import BLUEPRINT, make_tree

ACTOR = Actor.command_line("tester")
TRUE_A, TRUE_B = 1.25, 0.4  # theta_old = A theta_new + B
FAST = {"sessions": 150, "iterations": 2}
_TABLES = ("calibration", "item_parameter", "assessment", "blueprint", "calibration_publication")


def _snapshot(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))] for t in _TABLES}  # noqa: S608


def _new_scale(base: ItemParams, rng: np.random.Generator, noise: float) -> ItemParams:
    """``base`` as a new calibration would find it: on theta_new = (theta_old - B) / A, with estimation noise."""
    moved = transform_params(base, LinkingConstants(1.0 / TRUE_A, -TRUE_B / TRUE_A, "truth"))
    if noise == 0:
        return moved
    a = moved.a * np.exp(rng.normal(0, noise, moved.a.size))
    b = moved.b + rng.normal(0, noise, (moved.b.shape[0], 1))  # thresholds shift together: they stay ordered
    return dataclasses.replace(moved, a=a, b=b)


def _world(
    engine: Engine,
    *,
    operational: bool = True,
    noise: float = 0.0,
    seed: int = 3,
    students: bool = True,
    blueprint: BlueprintSpec = BLUEPRINT,
) -> None:
    """The starter bank, an operational calibration OLD (or none), a draft NEW on a shifted scale, an open round A1."""
    rng = np.random.default_rng(seed)
    with Session(engine, expire_on_commit=False) as session:
        ensure_bank(session=session)
        base = bank_params(session=session, calibration=PROVISIONAL)
        prov = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).one()
        cal_id = prov.id
        if operational:
            old = store_calibration(session=session, name="OLD", params=base, status="operational")
            cal_id = old.id
        new = _new_scale(base, rng, noise)
        se = ItemParamsSE(new.ids, np.full(new.a.size, 0.1), np.where(np.isfinite(new.b), 0.2, np.nan),
                          np.full(new.a.size, np.nan))  # fmt: skip
        store_calibration(session=session, name="NEW", params=new, standard_errors=se, latent_mean=0.1, latent_sd=0.9)
        now = _now()
        a1 = Assessment(code="A1", name="春季测评", opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=5),
                        grades=[8], calibration_id=cal_id)  # fmt: skip
        session.add(a1)
        session.flush()
        spec = dataclasses.replace(blueprint, sympson_hetter=True, target_exposure=0.3, exposure={base.ids[0]: 0.5})
        session.add(BlueprintRow(assessment_id=int(a1.id or 0), grade_band="7-9", mode="adaptive", spec=spec.to_json()))
        if students:
            make_tree(session, 3, grade=8)
        session.commit()


def _now() -> datetime:
    return utcnow()


def _publish(engine: Engine, name: str = "NEW") -> Any:
    with Session(engine, expire_on_commit=False) as session:
        view = publish_calibration(session=session, actor=ACTOR, calibration=name, now=_now(), **FAST)
        session.commit()
    return view


def test_publishing_links_through_common_items_and_transforms_the_parameters(engine: Engine) -> None:
    _world(engine)
    with Session(engine) as session:
        plan = plan_publication(session=session, calibration="NEW", now=_now())
        old = bank_params(session=session, calibration="OLD")
    assert plan.previous == "OLD" and plan.linked and plan.method == "stocking_lord"
    assert plan.n_common == len(old.ids)
    assert plan.slope == pytest.approx(TRUE_A, abs=1e-5) and plan.intercept == pytest.approx(TRUE_B, abs=1e-5)
    assert plan.criterion is not None and plan.criterion < 1e-10
    assert plan.moves == ("A1",) and plan.exposure == (("A1", "7-9"),)
    view = _publish(engine)
    assert view.linked and view.moved == ("A1",) and view.exposure[0].band == "7-9"
    with Session(engine) as session:
        published = bank_params(session=session, calibration="NEW")
        default = bank_params(session=session)  # what bank_params (and new rounds) take now
        statuses = {c.name: c.status for c in session.exec(select(Calibration))}
        cal = session.exec(select(Calibration).where(Calibration.name == "NEW")).one()
        row = session.exec(select(ItemParameter).where(ItemParameter.calibration_id == cal.id)).first()
        assert row is not None and row.se_b is not None
    np.testing.assert_allclose(published.a, old.a, atol=1e-5)
    np.testing.assert_allclose(published.b, old.b, atol=1e-5)
    np.testing.assert_array_equal(default.a, published.a)
    assert statuses == {PROVISIONAL: "draft", "OLD": "superseded", "NEW": "operational"}
    assert cal.latent_mean == pytest.approx(TRUE_A * 0.1 + TRUE_B) and cal.latent_sd == pytest.approx(TRUE_A * 0.9)
    assert row.se_a == pytest.approx(0.1 / TRUE_A) and row.se_b[0] == pytest.approx(0.2 * TRUE_A)


def test_stocking_lord_on_publish_recovers_a_known_transformation_in_a_simulation(engine: Engine) -> None:
    """Estimates with noise (SD 0.08 on log a and on each item's location): A and B within 0.05 of the truth."""
    _world(engine, noise=0.08, seed=11)
    view = _publish(engine)
    assert view.slope == pytest.approx(TRUE_A, abs=0.05) and view.intercept == pytest.approx(TRUE_B, abs=0.05)
    assert view.criterion is not None and 0 < view.criterion < 0.05


def test_the_first_publication_is_not_linked_and_moves_rounds_off_the_provisional_parameters(engine: Engine) -> None:
    _world(engine, operational=False)
    with Session(engine) as session:
        plan = plan_publication(session=session, calibration="NEW", now=_now())
    assert not plan.linked and plan.previous is None and plan.slope is None and plan.n_common == 0
    assert plan.moves == ("A1",)
    view = _publish(engine)
    with Session(engine) as session:
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        new = session.exec(select(Calibration).where(Calibration.name == "NEW")).one()
        stored = bank_params(session=session, calibration="NEW")
        provisional = bank_params(session=session, calibration=PROVISIONAL)
    assert a1.calibration_id == new.id and not view.linked
    np.testing.assert_allclose(stored.a, TRUE_A * provisional.a)  # on its own scale, as estimated


def test_publish_then_undo_restores_the_previous_parameters_and_exposure_exactly(engine: Engine) -> None:
    _world(engine)
    before = _snapshot(engine)
    _publish(engine)
    during = _snapshot(engine)
    assert during["item_parameter"] != before["item_parameter"]  # NEW moved to the OLD scale
    assert during["blueprint"] != before["blueprint"]  # exposure calibrated again on the new bank
    assert during["assessment"] != before["assessment"]
    with Session(engine) as session:
        undone = undo_publication(session=session, actor=ACTOR, now=_now())
        session.commit()
    after = _snapshot(engine)
    assert undone.status == "undone" and not undone.can_undo
    assert {t: after[t] for t in _TABLES[:-1]} == {t: before[t] for t in _TABLES[:-1]}
    with Session(engine) as session:
        history = list_publications(session=session)
        with pytest.raises(PublishRefused, match="没有可以撤销"):
            undo_publication(session=session, actor=ACTOR, now=_now())
    assert [(h.calibration, h.status, h.published_by, h.undone_by) for h in history] == [
        ("NEW", "undone", "cli:tester", "cli:tester")
    ]
    _publish(engine)  # and it can be published again
    with Session(engine) as session:
        assert bank_params(session=session).a[0] == pytest.approx(bank_params(session=session, calibration="OLD").a[0])


def test_a_failure_midway_leaves_everything_as_it_was(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exposure recalibration fails after the parameters were transformed and the round moved: nothing stays."""
    _world(engine)
    before = _snapshot(engine)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the simulation died")

    monkeypatch.setattr(publish_module, "calibrate_blueprint_exposure", fail)
    with Session(engine) as session, pytest.raises(RuntimeError, match="died"):
        try:
            publish_calibration(session=session, actor=ACTOR, calibration="NEW", now=_now(), **FAST)
        finally:
            session.rollback()
    assert _snapshot(engine) == before


def test_new_sessions_after_publishing_use_the_new_parameters(engine: Engine) -> None:
    _world(engine)
    with Session(engine, expire_on_commit=False) as session:
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        student = session.exec(select(Student)).first()
        assert student is not None
        old_bank = _sitting_of(
            session, TestSession(assessment_id=int(a1.id or 0), student_id=int(student.id or 0))
        ).bank
    _publish(engine)
    with Session(engine, expire_on_commit=False) as session:
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        student = session.exec(select(Student)).first()
        assert student is not None
        start_session(session=session, assessment=a1, student=student, now=_now())
        session.commit()
        ts = session.exec(select(TestSession)).one()
        bank = _sitting_of(session, ts).bank
        new = session.exec(select(Calibration).where(Calibration.name == "NEW")).one()
        stored = bank_params(session=session, calibration="NEW", codes=list(bank.codes))
        row = session.exec(select(BlueprintRow)).one()
    assert bank.calibration_id == new.id != old_bank.calibration_id
    np.testing.assert_array_equal(bank.engine.params.a, stored.a)
    assert parse_blueprint(row.spec).exposure  # the recalibrated exposure is what the round now carries
    with Session(engine) as session, pytest.raises(PublishRefused, match="A1 已有学生"):
        undo_publication(session=session, actor=ACTOR, now=_now())


def test_a_round_with_sittings_keeps_its_calibration(engine: Engine) -> None:
    _world(engine)
    with Session(engine, expire_on_commit=False) as session:
        a1 = session.exec(select(Assessment).where(Assessment.code == "A1")).one()
        student = session.exec(select(Student)).first()
        assert student is not None
        start_session(session=session, assessment=a1, student=student, now=_now())
        session.commit()
        old_id = a1.calibration_id
    view = _publish(engine)
    assert view.moved == () and [k.code for k in view.kept] == ["A1"] and "已有学生作答" in view.kept[0].reason
    with Session(engine) as session:
        assert session.exec(select(Assessment.calibration_id)).one() == old_id


def test_refusals_change_nothing(engine: Engine) -> None:
    _world(engine)
    before = _snapshot(engine)
    with Session(engine) as session:
        with pytest.raises(PublishRefused, match="不是草稿"):
            publish_calibration(session=session, actor=ACTOR, calibration="OLD", now=_now(), **FAST)
        with pytest.raises(PublishRefused, match="暂定参数"):
            publish_calibration(session=session, actor=ACTOR, calibration=PROVISIONAL, now=_now(), **FAST)
        with pytest.raises(publish_module.NotFound):
            plan_publication(session=session, calibration="NOPE", now=_now())
        with pytest.raises(PublishRefused, match="没有可以撤销"):
            undo_publication(session=session, actor=ACTOR, now=_now())
        old = bank_params(session=session, calibration="OLD")
        store_calibration(session=session, name="ONE", params=old.subset([old.ids[0]]))
        with pytest.raises(PublishRefused, match="只有 1 道共同题"):
            publish_calibration(session=session, actor=ACTOR, calibration="ONE", now=_now(), **FAST)
        session.rollback()
    assert _snapshot(engine) == before


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_publications_at_once_end_with_one_operational_calibration(engine: Engine) -> None:
    """The second waits for the first, then links to it and supersedes it (not OLD a second time)."""
    import threading

    _world(engine)
    with Session(engine) as session:
        base = bank_params(session=session, calibration="NEW")
        store_calibration(session=session, name="NEW2", params=base)
        session.commit()
    inside = threading.Event()
    results: dict[str, Any] = {}

    def first() -> None:
        with Session(engine) as session:
            results["first"] = publish_calibration(session=session, actor=ACTOR, calibration="NEW", now=_now(), **FAST)
            inside.set()
            time.sleep(1.0)  # the second publication starts meanwhile and must wait
            session.commit()

    def second() -> None:
        inside.wait(30)
        with Session(engine) as session:
            results["second"] = publish_calibration(
                session=session, actor=ACTOR, calibration="NEW2", now=_now(), **FAST
            )
            session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["second"].previous == "NEW"
    with Session(engine) as session:
        statuses = {c.name: c.status for c in session.exec(select(Calibration))}
    assert statuses == {PROVISIONAL: "draft", "OLD": "superseded", "NEW": "superseded", "NEW2": "operational"}


def test_a_round_the_new_calibration_cannot_serve_keeps_its_calibration(engine: Engine) -> None:
    """A draft without the D1 items: the round's blueprint asks for at least two D1 items, so it stays on OLD."""
    from itembank.models import Item

    _world(engine)
    with Session(engine) as session:
        d1 = set(session.exec(select(Item.code).where(Item.dimension == "D1")).all())
        new = bank_params(session=session, calibration="NEW")
        store_calibration(session=session, name="PART", params=new.subset([c for c in new.ids if c not in d1]))
        session.commit()
        plan = plan_publication(session=session, calibration="PART", now=_now())
    assert plan.moves == () and plan.exposure == ()
    assert [k.code for k in plan.kept] == ["A1"] and "维度 D1" in plan.kept[0].reason
