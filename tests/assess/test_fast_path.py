"""The answer fast path (assess.fast_path) against the full path (assess.full_path), on both databases.

Two engines on one database stand for two worker processes: each has its own cache, and the
database's guard must keep them honest.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess import fast_path
from assess.adaptive import choose_next, rebuild_state, session_pilots
from assess.banks import blueprint_for, load_band_bank
from assess.blueprints import parse_blueprint
from assess.engine import record_answers
from assess.exceptions import BlueprintError, SessionClosed
from assess.exposure import calibrate_blueprint_exposure
from assess.full_path import start_session, submit_answer
from assess.models import Assessment, BlueprintRow, Response, Student, TestSession
from assess.simulate.answers import answer_for_score
from itembank.db import make_engine
from itembank.exceptions import InvalidResponseError
from itembank.models import Item, ItemVersion, StimulusVersion, utcnow
from tests.assess.conftest import BLUEPRINT  # noqa: E402

Live = tuple[Engine, int, list[int]]


def _answer(version: Any, rnd: random.Random) -> Any:
    return answer_for_score(version, rnd.choice([0, 1]) if version.max_score == 1 else 1, rnd)


def _start(engine: Engine, aid: int, sid: int, *, seed: int, device: str = "d1") -> tuple[int, int]:
    with Session(engine, expire_on_commit=False) as session:
        a, s = session.get(Assessment, aid), session.get(Student, sid)
        assert a is not None and s is not None
        p = start_session(session=session, assessment=a, student=s, device=device, seed=seed)
        session.commit()
    assert p.item is not None
    return int(p.test_session_id or 0), int(p.item.id or 0)


def _version(engine: Engine, vid: int) -> ItemVersion:
    with Session(engine, expire_on_commit=False) as session:
        v = session.get(ItemVersion, vid)
        assert v is not None
        return v


class Worker:
    """One app worker: its own engine (so its own cache); answers as assess.sitting.answer does."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.fast = 0
        self.full = 0

    def answer(
        self, ts_id: int, sid: int, aid: int, vid: int, value: Any, device: str = "d1"
    ) -> tuple[str, int | None]:
        step = fast_path.take_answer(
            engine=self.engine,
            test_session_id=ts_id,
            student_id=sid,
            assessment_id=aid,
            device=device,
            item_version_id=vid,
            answer=value,
            now=utcnow(),
        )
        if step is not None:
            self.fast += 1
            return step.status, None if step.item is None else step.item.id
        fast_path.forget(self.engine, ts_id)
        with Session(self.engine, expire_on_commit=False) as session:
            p = submit_answer(session=session, test_session_id=ts_id, item_version_id=vid, answer=value, device=device)
            session.commit()
            self.full += 1
            return p.status, None if p.item is None else int(p.item.id or 0)


def _fast_path_test(engine: Engine, aid: int, sid: int, seed: int) -> tuple[Worker, list[int]]:
    """Student ``sid`` takes the test through a :class:`Worker` (the same answers as :func:`_full_path_test`)."""
    worker = Worker(engine)
    rnd = random.Random(7)
    ts_id, vid = _start(engine, aid, sid, seed=seed)
    shown = []
    while vid is not None:
        shown.append(vid)
        _, vid = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))  # type: ignore[assignment]
    return worker, shown


def _full_path_test(engine: Engine, aid: int, sid: int, seed: int) -> list[int]:
    rnd = random.Random(7)
    ts_id, vid = _start(engine, aid, sid, seed=seed)
    shown = []
    while True:
        shown.append(vid)
        with Session(engine, expire_on_commit=False) as session:
            p = submit_answer(
                session=session,
                test_session_id=ts_id,
                item_version_id=vid,
                answer=_answer(_version(engine, vid), rnd),
                device="d1",
            )
            session.commit()
        if p.item is None:
            return shown
        vid = int(p.item.id or 0)


def _result(engine: Engine, sid: int) -> tuple[Any, ...]:
    with Session(engine) as session:
        ts = session.exec(select(TestSession).where(TestSession.student_id == sid)).one()
        rows = session.exec(select(Response).where(Response.session_id == ts.id).order_by(col(Response.position))).all()
        answers = [(r.position, r.item_version_id, r.answer, r.score, r.pilot) for r in rows]
        return ts.status, ts.position, ts.n_scored, ts.theta, ts.se, ts.scale_score, ts.level, ts.subscores, answers


@pytest.mark.parametrize("seed", [3, 17])
def test_the_fast_path_gives_the_full_paths_items_and_scores(live: Live, seed: int) -> None:
    engine, aid, students = live
    full_shown = _full_path_test(engine, aid, students[0], seed)
    worker, fast_shown = _fast_path_test(engine, aid, students[1], seed)
    assert worker.full == 0 and worker.fast == len(fast_shown), "every answer took the fast path"
    assert fast_shown == full_shown
    with Session(engine) as session:  # the fast path locks what it shows, as the full path does
        shown = session.exec(select(ItemVersion).where(col(ItemVersion.id).in_(fast_shown))).all()
        assert shown and all(v.locked for v in shown)
    a, b = _result(engine, students[0]), _result(engine, students[1])
    assert a[:3] == b[:3] and a[6:] == b[6:]
    assert a[3:6] == pytest.approx(b[3:6], abs=1e-9)


def test_two_workers_share_a_session_through_the_database(live: Live) -> None:
    engine, aid, students = live
    full_shown = _full_path_test(engine, aid, students[0], 5)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        workers = [Worker(engine), Worker(other)]
        rnd = random.Random(7)
        sid = students[1]
        ts_id, vid = _start(engine, aid, sid, seed=5)
        shown: list[int] = []
        turn = 0
        while vid is not None:
            shown.append(vid)
            value = _answer(_version(engine, vid), rnd)
            worker = workers[turn % 2 if len(shown) % 3 else 0]  # mostly alternate, sometimes stay
            turn += 1
            status, nxt = worker.answer(ts_id, sid, aid, vid, value)
            if nxt is not None and len(shown) == 4:
                # the same answer again on the *other* worker, whose cache is one item behind:
                # the database refuses its guarded write and the full path makes it a no-op
                before = _result(engine, sid)
                again = workers[(turn) % 2].answer(ts_id, sid, aid, vid, value)
                assert again == (status, nxt) and _result(engine, sid) == before
            vid = nxt  # type: ignore[assignment]
        assert shown == full_shown
        stored = _result(engine, sid)[8]
        assert [r[0] for r in stored] == list(range(len(shown))) and [r[1] for r in stored] == shown
        a, b = _result(engine, students[0]), _result(engine, sid)
        assert a[:3] == b[:3] and a[6:] == b[6:]
        assert sum(w.fast for w in workers) >= len(shown) - 2
    finally:
        other.dispose()


def test_a_takeover_or_a_deadline_behind_the_cache_is_refused_and_writes_nothing(live: Live) -> None:
    engine, aid, students = live
    sid = students[2]
    worker = Worker(engine)
    rnd = random.Random(1)
    ts_id, vid = _start(engine, aid, sid, seed=8)
    _, vid = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))  # type: ignore[assignment]
    assert vid is not None and worker.fast == 1  # the cache now holds the session for device d1

    _start(engine, aid, sid, seed=8, device="d2")  # a login on another device takes it over
    before = _result(engine, sid)
    with pytest.raises(SessionClosed):
        worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))
    assert _result(engine, sid) == before
    status, nxt = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd), device="d2")
    assert status == "in_progress" and nxt is not None and worker.fast == 2

    with Session(engine) as session:  # time runs out behind the cache's back
        late = utcnow() - timedelta(seconds=1)
        session.exec(update(TestSession).where(col(TestSession.id) == ts_id).values(deadline=late))  # type: ignore[call-overload]
        session.commit()
    before = _result(engine, sid)
    with pytest.raises(SessionClosed):
        worker.answer(ts_id, sid, aid, nxt, _answer(_version(engine, nxt), rnd), device="d2")
    assert _result(engine, sid) == before  # refused, and the refusal's transaction wrote nothing


def test_a_malformed_answer_changes_nothing_and_the_session_goes_on(live: Live) -> None:
    engine, aid, students = live
    sid = students[0]
    worker = Worker(engine)
    ts_id, vid = _start(engine, aid, sid, seed=4)
    before = _result(engine, sid)
    with pytest.raises(InvalidResponseError):
        worker.answer(ts_id, sid, aid, vid, {"bogus": 1})
    assert _result(engine, sid) == before
    status, nxt = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), random.Random(2)))
    assert status == "in_progress" and nxt is not None and worker.fast == 1


def test_items_are_locked_with_their_stimuli_when_shown(live: Live) -> None:
    engine, aid, students = live
    shown = _full_path_test(engine, aid, students[0], 11)
    with Session(engine) as session:
        versions = session.exec(select(ItemVersion).where(col(ItemVersion.id).in_(shown))).all()
        assert versions and all(v.locked for v in versions)
        stimuli = {v.stimulus_version_id for v in versions if v.stimulus_version_id is not None}
        if stimuli:
            assert all(
                sv.locked for sv in session.exec(select(StimulusVersion).where(col(StimulusVersion.id).in_(stimuli)))
            )
        # an item never shown stays unlocked (editable in place)
        n_unlocked = session.exec(
            select(func.count(col(ItemVersion.id))).where(col(ItemVersion.locked).is_(False))
        ).one()
    assert n_unlocked > 0


def test_a_session_remembered_at_start_answers_without_reading_it_back(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, aid, students = live
    sid = students[1]
    with Session(engine, expire_on_commit=False) as session:
        a, s = session.get(Assessment, aid), session.get(Student, sid)
        assert a is not None and s is not None and a.calibration_id is not None
        p = start_session(session=session, assessment=a, student=s, device="d1", seed=21)
        ts = session.get(TestSession, p.test_session_id)
        assert ts is not None
        fast_path.remember(session=session, test_session=ts, assessment=a, student=s)
        session.commit()
    assert p.item is not None

    def no_read(*_: Any) -> None:
        raise AssertionError("the remembered session was read back")

    monkeypatch.setattr(fast_path, "_load", no_read)
    worker = Worker(engine)
    vid = int(p.item.id or 0)
    status, nxt = worker.answer(
        int(p.test_session_id or 0), sid, aid, vid, _answer(_version(engine, vid), random.Random(3))
    )
    assert status == "in_progress" and nxt is not None and worker.fast == 1


def _lock_every_version(engine: Engine) -> None:
    """As after a first wave of students: every version shown, so answers take the kept connection."""
    with Session(engine) as session:
        session.exec(update(ItemVersion).values(locked=True))  # type: ignore[call-overload]
        session.exec(update(StimulusVersion).values(locked=True))  # type: ignore[call-overload]
        session.commit()


def test_the_move_and_the_answer_are_one_transaction(live: Live) -> None:
    """A failing INSERT (here a row already at the position) leaves the session where it was."""
    engine, aid, students = live
    sid = students[0]
    _lock_every_version(engine)
    worker = Worker(engine)
    rnd = random.Random(5)
    ts_id, vid = _start(engine, aid, sid, seed=6)
    status, nxt = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))
    assert status == "in_progress" and nxt is not None and worker.fast == 1
    with Session(engine) as session:  # a stray row where the next answer goes
        other = session.exec(select(ItemVersion.id).where(col(ItemVersion.id).not_in([vid, nxt]))).first()
        session.add(Response(session_id=ts_id, item_version_id=other, position=1, answer={"value": "A"}, score=0))
        session.commit()
    before = _result(engine, sid)
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        worker.answer(ts_id, sid, aid, nxt, _answer(_version(engine, nxt), rnd))
    assert _result(engine, sid) == before


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_lost_connection_falls_back_to_the_full_path_and_loses_nothing(live: Live) -> None:
    engine, aid, students = live
    sid = students[0]
    _lock_every_version(engine)
    worker = Worker(engine)
    rnd = random.Random(9)
    ts_id, vid = _start(engine, aid, sid, seed=10)
    _, vid = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))  # type: ignore[assignment]
    assert vid is not None and worker.fast == 1
    writer = fast_path._state(engine).writer.driver_connection
    assert writer.autocommit  # one statement per answer, no BEGIN/COMMIT round trips
    with engine.connect() as conn:  # the server drops the fast path's connection
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({writer.info.backend_pid})")
    status, vid = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))  # type: ignore[arg-type]
    assert status == "in_progress" and vid is not None and (worker.fast, worker.full) == (1, 1)
    status, vid = worker.answer(ts_id, sid, aid, vid, _answer(_version(engine, vid), rnd))  # type: ignore[arg-type]
    assert status == "in_progress" and worker.fast == 2  # on a new connection
    stored = _result(engine, sid)[-1]
    assert [r[0] for r in stored] == [0, 1, 2]

    kept = fast_path._state(engine).writer.driver_connection
    fast_path._state(engine).drop_writer()  # back to the pool as the pool hands connections out
    assert kept.autocommit is False


# ------------------------------------------------------------------------------ Sympson-Hetter, live
def _use_sympson_hetter(engine: Engine, aid: int, seed: int = 0) -> dict[str, float]:
    """Turn on exposure control with low parameters, so the acceptance draws reject often."""
    rnd = random.Random(seed)
    with Session(engine) as session:
        codes = session.exec(select(Item.code).where(col(Item.status) == "operational")).all()
        exposure = {code: round(rnd.uniform(0.1, 0.6), 3) for code in codes}
        row = session.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == aid)).one()
        row.spec = dataclasses.replace(BLUEPRINT, sympson_hetter=True, exposure=exposure).to_json()
        session.add(row)
        session.commit()
    return exposure


def test_with_exposure_control_the_fast_path_still_gives_the_full_paths_items(live: Live) -> None:
    """Rejected items stay blocked: the fast path carries them, the full path blocks them again."""
    engine, aid, students = live
    _use_sympson_hetter(engine, aid)
    full_shown = _full_path_test(engine, aid, students[0], 5)
    worker, fast_shown = _fast_path_test(engine, aid, students[1], 5)
    assert worker.full == 0 and fast_shown == full_shown
    a, b = _result(engine, students[0]), _result(engine, students[1])
    assert a[:3] == b[:3] and a[6:] == b[6:]


def test_rejections_are_carried_through_the_session_and_rebuilt_from_the_answers(live: Live) -> None:
    engine, aid, students = live
    _use_sympson_hetter(engine, aid, seed=1)
    with Session(engine) as session:
        a = session.get(Assessment, aid)
        assert a is not None and a.calibration_id is not None
        bank = load_band_bank(session=session, calibration_id=a.calibration_id, band="7-9")
        spec = blueprint_for(session=session, assessment_id=aid, band="7-9")
    seed, grade = 11, 8
    pilots = session_pilots(bank, spec, seed)
    carried = rebuild_state(bank, spec, grade, [], seed=seed, pilots=pilots)
    answered: list[tuple[int, int | None]] = []
    plain_blocked = 0
    for position in range(6):  # a session as it runs: choose, answer, choose again ...
        j = choose_next(bank, spec, carried, seed=seed, position=position, pilots=pilots)
        assert j >= 0
        score = position % 2
        record_answers(bank.engine, carried, np.array([0]), np.array([j]), np.array([score]))
        answered.append((bank.version_ids[j], score))
        given = carried.given[0, : carried.n_given[0]]
        plain = bank.engine.pilot.copy()
        plain[given] = True
        for g in given:
            plain |= bank.engine.enemies[g]
        plain_blocked = int(plain.sum())
    assert int(carried.blocked[0].sum()) > plain_blocked, "no item was rejected: the test shows nothing"
    rebuilt = rebuild_state(bank, spec, grade, answered, seed=seed, pilots=pilots)
    assert np.array_equal(rebuilt.blocked, carried.blocked)
    assert rebuilt.theta[0] == pytest.approx(carried.theta[0])
    unreplayed = rebuild_state(bank, spec, grade, answered)  # without the seed: answers only
    assert int(unreplayed.blocked[0].sum()) == plain_blocked


def test_an_item_that_is_never_accepted_is_never_given(live: Live) -> None:
    engine, aid, students = live
    exposure = _use_sympson_hetter(engine, aid, seed=2)
    with Session(engine) as session:
        row = session.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == aid)).one()
        first_code = session.exec(
            select(Item.code)
            .join(ItemVersion, col(ItemVersion.item_id) == col(Item.id))
            .where(ItemVersion.id == _start(engine, aid, students[0], seed=3)[1])
        ).one()
        # the item the first session got first is now (almost) never accepted; everything else always
        spec = {**row.spec, "exposure": {code: (1e-9 if code == first_code else 1.0) for code in exposure}}
        row.spec = spec
        session.add(row)
        session.commit()
    firsts = set()
    for sid in students[1:3]:  # the same seed: without exposure control, the same first item
        _, vid = _start(engine, aid, sid, seed=3)
        firsts.add(_version(engine, vid).item_id)
    with Session(engine) as session:
        never = session.exec(select(Item.id).where(Item.code == first_code)).one()
    assert never not in firsts


def test_exposure_parameters_are_calibrated_for_the_bank_and_round_trip(live: Live) -> None:
    engine, aid, _ = live
    with Session(engine) as session:
        a = session.get(Assessment, aid)
        assert a is not None and a.calibration_id is not None
        bank = load_band_bank(session=session, calibration_id=a.calibration_id, band="7-9")
    spec = dataclasses.replace(BLUEPRINT, sympson_hetter=True, target_exposure=0.3)
    calibrated = calibrate_blueprint_exposure(bank, spec, [7, 8, 9], np.random.default_rng(4), sessions=400)
    k = calibrated.exposure
    operational = {c for c, p in zip(bank.codes, bank.engine.pilot, strict=True) if not p}
    assert k and set(k) <= operational and all(0 < v < 1 for v in k.values())
    assert parse_blueprint(calibrated.to_json()).exposure == k
    with pytest.raises(BlueprintError, match="exposure"):
        parse_blueprint({**calibrated.to_json(), "exposure": {"X": 0}})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_national_run_with_exposure_control_stores_its_parameters(engine: Engine) -> None:
    from assess.blueprints import default_blueprint
    from assess.simulate.pipeline import run_national_simulation

    spec = dataclasses.replace(default_blueprint(), sympson_hetter=True, target_exposure=0.3)
    # sample=False and the trial's size: see tests/assess/simulate/test_pipeline.py
    run = run_national_simulation(engine, students=3000, field_trial=2000, seed=3, spec=spec, sample=False)
    with Session(engine) as session:
        cat = session.exec(select(Assessment).where(Assessment.code == run.adaptive_assessment)).one()
        rows = session.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == cat.id)).all()
        assert rows and all(parse_blueprint(r.spec).sympson_hetter for r in rows)
        assert all(parse_blueprint(r.spec).exposure for r in rows)  # calibrated for each band's bank
        unfinished = session.exec(
            select(func.count(col(TestSession.id))).where(
                TestSession.assessment_id == cat.id, TestSession.status != "finished"
            )
        ).one()
    assert run.adaptive_students > 0 and unfinished == 0


def test_exposure_control_is_turned_on_from_the_command_line_before_the_assessment_opens(
    live: Live, env_db: str
) -> None:
    from click.testing import CliRunner

    from web.cli import cli

    engine, aid, students = live
    runner = CliRunner()
    result = runner.invoke(cli, ["exposure", "A1", "--target", "0.3", "--sessions", "300"])
    assert result.exit_code == 0, result.output
    assert "已开启曝光控制" in result.output and "7-9" in result.output
    with Session(engine) as session:
        spec = blueprint_for(session=session, assessment_id=aid, band="7-9")
    assert spec.sympson_hetter and spec.target_exposure == 0.3 and spec.exposure
    assert spec.min_items == BLUEPRINT.min_items  # the rest of the blueprint is kept

    _start(engine, aid, students[0], seed=1)  # a session with exposure control; the test has begun
    again = runner.invoke(cli, ["exposure", "A1"])
    assert again.exit_code != 0 and "before it starts" in again.output
    unknown = runner.invoke(cli, ["exposure", "NOPE"])
    assert unknown.exit_code != 0 and "no assessment" in unknown.output
