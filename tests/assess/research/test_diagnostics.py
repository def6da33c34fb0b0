"""A calibration run's diagnostics: S-X2 on booklets, distractors, not-reached rates, drift, dimensionality."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.models import Assessment, Booklet, Response, TestSession
from assess.research.diagnostics import SX2_ALPHA, option_labels
from assess.research.models import CalibrationRun
from assess.research.runs import RunSpec, run_parameters, run_view
from assess.simulate.pipeline import ensure_bank
from itembank.db import session_scope
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion, utcnow
from tests.assess.conftest import make_tree
from tests.assess.research.test_runs import _run

PER_DIMENSION = 4


@dataclass(frozen=True)
class BookletTrial:
    """Two booklets over 4 items of each of 4 dimensions; some sittings expired before their booklet's end."""

    engine: Engine
    codes: list[str]  # by version, in booklet order of the items
    booklets: list[list[str]]
    dimension: dict[str, str]
    not_reached: dict[str, float]  # the share of each item's ended sittings that stopped before it
    keyed: dict[str, str]  # the key of each single-choice item


def _items(session: Session) -> list[tuple[int, str, str, ItemVersion, float, float]]:
    """Each dimension's first 2 single-choice items and 2 true/false ones (version id, code, dimension, version, a, b).

    A 3PL item's lower asymptote is left out: the simulation answers from the 2PL curve.
    """
    provisional = session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one()
    rows = session.exec(
        select(ItemVersion, Item.code, Item.dimension, ItemParameter.a, ItemParameter.b)
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .join(ItemParameter, col(ItemParameter.item_version_id) == col(ItemVersion.id))
        .where(
            ItemParameter.calibration_id == provisional,
            col(ItemParameter.model).in_(["2pl", "3pl"]),
            col(ItemVersion.type).in_(["single_choice", "true_false"]),
        )  # fmt: skip
        .order_by(col(ItemVersion.id))
    ).all()
    taken: dict[tuple[str, str], int] = {}
    out = []
    for v, code, dim, a, b in rows:
        if taken.get((dim, v.type), 0) < PER_DIMENSION // 2:
            taken[(dim, v.type)] = taken.get((dim, v.type), 0) + 1
            out.append((int(v.id or 0), code, dim, v, float(a), float(b[0])))
    return sorted(out, key=lambda row: row[0])


def build_booklet_trial(engine: Engine, *, n_students: int = 1000, seed: int = 3) -> BookletTrial:
    """Grade-8 students on two booklets of 12 of the 16 items (8 shared); every 10th sitting expired early.

    A wrong answer picks a distractor at random (the lowest-ability students favour the first
    distractor), one in ten wrong answers is left blank (an omission).
    """
    rng = np.random.default_rng(seed)
    with Session(engine, expire_on_commit=False) as session:
        ensure_bank(session=session)
        items = _items(session)
        assert len({dim for _, _, dim, *_ in items}) >= 3
        codes = [code for _, code, *_ in items]
        session.execute(update(Item).where(col(Item.code).in_(codes)).values(status="operational"))
        students = make_tree(session, n_students, grade=8)
        for k, st in enumerate(students):
            st.gender = "F" if k % 2 else "M"
            session.add(st)
        now = utcnow()
        assessment = Assessment(code="FT2", name="试测二", opens_at=now - timedelta(days=2),
                                closes_at=now - timedelta(days=1), grades=[8], purpose="field_trial")  # fmt: skip
        session.add(assessment)
        session.flush()
        half = len(items) // 2
        order = [items[: half + half // 2], items[half // 2 :]]  # overlap: the middle half
        booklet_rows = []
        for i, its in enumerate(order):
            row = Booklet(assessment_id=int(assessment.id or 0), code=f"B{i + 1}", grade_band="7-9",
                          item_codes=[c for _, c, *_ in its])  # fmt: skip
            session.add(row)
            booklet_rows.append(row)
        session.flush()
        theta = rng.standard_normal(n_students)
        held: dict[str, int] = {}
        missed: dict[str, int] = {}
        for s, st in enumerate(students):
            k = s % 2
            its = order[k]
            expired = s % 10 == 0
            stop = len(its) - 3 if expired else len(its)
            ts = TestSession(assessment_id=int(assessment.id or 0), student_id=int(st.id or 0),
                             booklet_id=booklet_rows[k].id, status="expired" if expired else "finished")  # fmt: skip
            session.add(ts)
            session.flush()
            for pos, (vid, code, _, version, a, b) in enumerate(its):
                held[code] = held.get(code, 0) + 1
                if pos >= stop:
                    missed[code] = missed.get(code, 0) + 1
                    continue
                right = rng.random() < 1 / (1 + np.exp(-a * (theta[s] - b)))
                options = [o["key"] for o in version.options] if version.options else ["T", "F"]
                key = list(version.key or ())[0]
                wrong = [o for o in options if o != key]
                if right:
                    value: str | None = key
                elif rng.random() < 0.1:
                    value = None
                else:
                    value = wrong[0] if theta[s] < -1 else str(rng.choice(wrong))
                session.add(Response(session_id=int(ts.id or 0), item_version_id=vid, position=pos,
                                     score=int(bool(right)), answer={"value": value}))  # fmt: skip
        session.commit()
    return BookletTrial(
        engine,
        codes,
        [[c for _, c, *_ in its] for its in order],
        {c: d for _, c, d, *_ in items},
        {c: missed.get(c, 0) / held[c] for c in held},
        {c: list(v.key or ())[0] for _, c, _, v, *_ in items if v.type == "single_choice"},
    )


@pytest.fixture
def booklets(engine: Engine) -> BookletTrial:
    return build_booklet_trial(engine)


def test_a_booklet_run_has_sx2_not_reached_rates_distractors_and_the_dimensionality(booklets: BookletTrial) -> None:
    run_id = _run(booklets.engine, RunSpec(name="ft2", assessment="FT2", model="2pl"))
    with Session(booklets.engine) as s:
        view = run_view(session=s, run_id=run_id)
        lines, _ = run_parameters(session=s, run=view)
    assert view.status == "done", view.log
    by_code = {x.code: x for x in lines}
    # S-X2: every item lies in a booklet of 500 (450 of them complete: the expired sittings are another form)
    assert all(x.sx2 is not None and x.sx2_df > 0 and x.sx2_p is not None for x in lines)
    assert all(x.sx2_misfit == (x.sx2_p is not None and x.sx2_p < SX2_ALPHA) for x in lines)
    assert sum(x.sx2_misfit for x in lines) <= 2  # the items follow the 2PL
    assert "16 of 16 items" in view.summary["sx2_note"]
    # not reached: exactly the hand count of the simulation
    for code, share in booklets.not_reached.items():
        assert by_code[code].not_reached == pytest.approx(share, abs=1e-6)
    assert max(booklets.not_reached.values()) > 0
    # distractors of a single-choice item: the persons given it, shares and omissions summing to one,
    # the key rising from the lowest ability group to the highest
    code = next(c for c in booklets.codes if c in booklets.keyed)
    d = by_code[code].distractors
    assert d is not None and d["type"] == "single_choice" and not d["sampled"]
    assert sum(d["n"]) == by_code[code].n
    assert np.allclose(np.sum(d["shares"], axis=1) + d["omitted"], 1.0)
    k = d["options"].index(booklets.keyed[code])
    assert d["key"][k] and d["discrimination"][k] > 0.2
    assert d["shares"][0][d["options"].index(next(o for o in d["options"] if o != booklets.keyed[code]))] > 0
    # dimensionality: the dimensions of the items, a correlation matrix, one dimension against several
    dims = view.summary["dimensionality"]
    assert dims["dimensions"] == sorted(set(booklets.dimension.values()))
    assert sum(dims["n_items"]) == 16
    r = np.array(dims["correlation"])
    assert np.allclose(np.diag(r), 1.0) and np.all(np.linalg.eigvalsh(r) > 0)
    assert all(0 < rel < 1 for rel in dims["reliability"])
    # the per-dimension calibrations have the 1D model's item parameters, plus the correlations
    assert dims["df"] == len(dims["dimensions"]) * (len(dims["dimensions"]) - 1) // 2
    assert dims["aic_md"] == pytest.approx(-2 * dims["log_likelihood_md"] + 2 * dims["n_parameters_md"])
    assert view.summary["drift"] is None  # no operational calibration, no earlier run


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_item_whose_parameters_moved_since_the_previous_run_is_flagged(booklets: BookletTrial) -> None:
    first = _run(booklets.engine, RunSpec(name="ft2-a", assessment="FT2", model="2pl"))
    # as if the earlier calibration had been of other students (a little estimation noise in every
    # item) and one item had been 1.5 logits easier then
    moved = booklets.codes[5]
    rng = np.random.default_rng(1)
    with session_scope(booklets.engine) as s:
        cal = s.exec(select(CalibrationRun.calibration_id).where(CalibrationRun.id == first)).one()
        for row, code in s.exec(
            select(ItemParameter, Item.code)
            .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
            .join(Item, col(Item.id) == col(ItemVersion.item_id))
            .where(ItemParameter.calibration_id == cal)
        ).all():
            row.b = [row.b[0] + rng.normal(0, 0.03) - (1.5 if code == moved else 0.0)]
            s.add(row)
    second = _run(booklets.engine, RunSpec(name="ft2-b", assessment="FT2", model="2pl"))
    with Session(booklets.engine) as s:
        view = run_view(session=s, run_id=second)
        lines, _ = run_parameters(session=s, run=view)
    drift = view.summary["drift"]
    assert drift["base"] == "ft2-a" and drift["n_common"] == 16 and drift["method"] == "mean_sigma"
    flagged = [x["ident"] for x in drift["items"] if x["drifted"]]
    assert flagged == [f"{moved}@1"]
    entry = next(x for x in drift["items"] if x["ident"] == f"{moved}@1")
    assert entry["d_b"] == pytest.approx(1.5, abs=0.15)
    assert drift["A"] == pytest.approx(1.0, abs=0.05) and drift["B"] == pytest.approx(0.0, abs=0.05)
    assert {x.code for x in lines if x.drift} == {moved}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_adaptive_like_run_says_sx2_is_not_computed(trial: object) -> None:
    from tests.assess.research.conftest import Trial

    assert isinstance(trial, Trial)
    run_id = _run(trial.engine, RunSpec(name="sparse", assessment="FT1", model="2pl"))
    with Session(trial.engine) as s:
        view = run_view(session=s, run_id=run_id)
        lines, _ = run_parameters(session=s, run=view)
    assert view.summary["sx2_note"] == "not computed (sparse)"
    assert all(x.sx2 is None and not x.sx2_misfit for x in lines)
    assert all(x.not_reached is None for x in lines)  # no booklets: nothing is "not reached"
    assert "error" in view.summary["dimensionality"]  # the trial's items all measure one dimension


def test_true_false_options_are_named_in_chinese() -> None:
    assert option_labels(["T", "F"], "true_false") == ["正确", "错误"]
    assert option_labels(["A", "B"], "single_choice") == ["A", "B"]
