"""A bank of three operational band-7-9 items with known parameters, and stored sittings with known thetas.

Calibration ``SS``: a 2PL item ``A`` (a 1.2, b 0.5), a GPCM item ``G`` with two score points
(a 0.8, b -0.4, 0.9) and a 2PL item ``X`` (a 1.0, b -1.0), the numbers of
``tests/scoring/test_bookmark.py``, so the booklet is X1, G1, A1, G2. Assessment ``IMP`` on that
calibration has six assessed grade-8 sittings with the thetas of :data:`THETAS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.accounts.scope import Actor
from assess.models import Assessment, TestSession
from assess.simulate.pipeline import ensure_bank
from itembank.calibrations import store_calibration
from itembank.models import Item, ItemVersion, utcnow
from scoring.params import ItemParams
from tests.assess.conftest import make_tree

THETAS = (-2.0, -0.5, 0.0, 0.5, 1.5, 2.5)
"""Stored thetas of the impact assessment's six sittings."""
ACTOR = Actor.command_line("tester")


@dataclass(frozen=True)
class Bank:
    """The fixture: its engine, the item codes standing for A, G and X, the students and the assessment id."""

    engine: Engine
    codes: dict[str, str]
    students: list[int]
    assessment_id: int


def _pick(session: Session) -> dict[str, str]:
    current = (col(ItemVersion.item_id) == col(Item.id)) & (col(ItemVersion.number) == col(Item.current_version))
    rows = session.exec(select(Item, ItemVersion).join(ItemVersion, current).order_by(col(Item.code))).all()
    in_band = [(i, v) for i, v in rows if "7-9" in (i.grade_bands or []) and i.status != "pilot"]
    one = [i.code for i, v in in_band if v.max_score == 1]
    two = [i.code for i, v in in_band if v.max_score == 2]
    return {"A": one[0], "X": one[1], "G": two[0]}


@pytest.fixture
def bank(engine: Engine) -> Bank:
    """The three-item calibration ``SS``, assessment ``IMP`` and its sittings (see the module docstring)."""
    return build_bank(engine)


def build_bank(engine: Engine) -> Bank:
    """Store the fixture's calibration, assessment and sittings (see the module docstring)."""
    with Session(engine, expire_on_commit=False) as session:
        ensure_bank(session=session)
        codes = _pick(session)
        session.execute(update(Item).where(col(Item.code).in_(list(codes.values()))).values(status="operational"))
        params = ItemParams(
            ids=(codes["A"], codes["G"], codes["X"]),
            models=("2pl", "gpcm", "2pl"),
            a=np.array([1.2, 0.8, 1.0]),
            b=np.array([[0.5, np.nan], [-0.4, 0.9], [-1.0, np.nan]]),
            c=np.zeros(3),
        )
        cal = store_calibration(session=session, name="SS", params=params, status="operational")
        now = utcnow()
        assessment = Assessment(code="IMP", name="影响数据", opens_at=now - timedelta(days=1),
                                closes_at=now + timedelta(days=1), grades=[8], calibration_id=cal.id)  # fmt: skip
        session.add(assessment)
        session.flush()
        students = make_tree(session, len(THETAS) + 2)
        for student, theta in zip(students, THETAS, strict=False):
            session.add(TestSession(assessment_id=int(assessment.id or 0), student_id=int(student.id or 0),
                                    status="finished", assessed=True, theta=theta))  # fmt: skip
        session.commit()
        return Bank(engine, codes, [int(s.id or 0) for s in students], int(assessment.id or 0))
