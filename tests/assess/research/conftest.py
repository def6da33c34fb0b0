from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from assess.models import Assessment, Response, TestSession
from itembank.models import Item, utcnow
from tests.assess.conftest import make_tree, provisional_2pl_items

N_STUDENTS, N_ITEMS, PER_STUDENT, N_PILOT = 700, 12, 10, 3


@dataclass(frozen=True)
class Trial:
    """A field trial with known item parameters (the provisional ones: the truth of the simulation)."""

    engine: Engine
    assessment_id: int
    codes: list[str]
    a: np.ndarray
    b: np.ndarray
    pilot: list[str]
    omitted: int  # responses stored as omitted (answer value None, score 0)


def build_trial(
    engine: Engine,
    *,
    seed: int = 5,
    n_students: int = N_STUDENTS,
    reversed_item: int | None = None,
    dif_item: int | None = None,
) -> Trial:
    """A field trial of grade-8 students, each answering 10 of 12 2PL items; the last 3 items are pilot items.

    ``reversed_item``: that item's answers come from a slope of -4 (abler students fail it), a
    misfit no model with a positive slope can take. ``dif_item``: that item is one logit harder for
    girls (half the students are girls, ``F``; the others boys, ``M``) at the same ability.
    """
    rng = np.random.default_rng(seed)
    with Session(engine, expire_on_commit=False) as session:
        provisional, versions, codes, a, b = provisional_2pl_items(session, N_ITEMS)
        pilot = codes[-N_PILOT:]
        session.execute(update(Item).where(col(Item.code).in_(codes[:-N_PILOT])).values(status="operational"))
        session.execute(update(Item).where(col(Item.code).in_(pilot)).values(status="pilot"))
        students = make_tree(session, n_students, grade=8)
        for k, student in enumerate(students):
            student.gender = "F" if k % 2 == 0 else "M"
            session.add(student)
        now = utcnow()
        assessment = Assessment(
            code="FT1",
            name="试测",
            opens_at=now - timedelta(days=2),
            closes_at=now - timedelta(days=1),
            grades=[8],
            purpose="field_trial",
            calibration_id=provisional,
        )
        session.add(assessment)
        session.flush()
        theta = rng.standard_normal(n_students)
        omitted = 0
        for s, student in enumerate(students):
            ts = TestSession(assessment_id=int(assessment.id or 0), student_id=int(student.id or 0), status="finished")
            session.add(ts)
            session.flush()
            for pos, j in enumerate(np.sort(rng.permutation(N_ITEMS)[:PER_STUDENT])):
                slope = -4.0 if j == reversed_item else a[j]
                shift = 1.0 if j == dif_item and s % 2 == 0 else 0.0
                p = 1.0 / (1.0 + np.exp(-slope * (theta[s] - b[j] - shift)))
                score = int(rng.random() < p)
                left = score == 0 and rng.random() < 0.1
                omitted += left
                session.add(
                    Response(
                        session_id=int(ts.id or 0),
                        item_version_id=versions[j],
                        position=pos,
                        score=score,
                        answer={"value": None if left else "A"},
                        pilot=codes[j] in pilot,
                    )
                )
        session.commit()
    return Trial(engine, int(assessment.id or 0), codes, a, b, pilot, int(omitted))


@pytest.fixture
def trial(engine: Engine) -> Iterator[Trial]:
    yield build_trial(engine)
