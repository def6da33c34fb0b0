"""The fast and the full answer path agree on the interactive item types (items, scores, results).

A band whose only items are the interactive samples (tests/itembank/samples.py): each sitting sees
every new type, answered by the simulator's answers at every score, on both paths.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from assess.models import BlueprintRow, Response
from itembank.models import ItemVersion
from tests.assess.conftest import BLUEPRINT
from tests.assess.test_fast_path import Live, _fast_path_test, _full_path_test, _result
from tests.itembank import samples

SPEC = dataclasses.replace(BLUEPRINT, min_items=7, max_items=7, se_target=0.0, content=(), randomesque_k=1)


@pytest.fixture
def interactive(live: Live) -> Live:
    engine, aid, students = live
    with Session(engine) as session:
        samples.install_interactive(session)
        session.execute(update(BlueprintRow).where(col(BlueprintRow.assessment_id) == aid).values(spec=SPEC.to_json()))
        session.commit()
    return engine, aid, students


@pytest.mark.parametrize("seed", [5, 11])
def test_fast_and_full_paths_agree_on_every_interactive_type(interactive: Live, seed: int) -> None:
    engine, aid, students = interactive
    full_shown = _full_path_test(engine, aid, students[0], seed)
    worker, fast_shown = _fast_path_test(engine, aid, students[1], seed)
    assert worker.full == 0 and fast_shown == full_shown
    a, b = _result(engine, students[0]), _result(engine, students[1])
    assert a[:3] == b[:3] and a[6:] == b[6:]
    assert a[3:6] == pytest.approx(b[3:6], abs=1e-9)
    with Session(engine) as session:
        types = set(session.exec(select(ItemVersion.type).where(col(ItemVersion.id).in_(fast_shown))).all())
        stored = session.exec(select(Response.answer, Response.score)).all()
    assert types == {"ordering", "matching", "inline_choice", "entry", "hotspot", "search_sim", "inbox_sim"}
    assert len(stored) == 2 * len(fast_shown) and {s for _, s in stored} >= {0, 1}
