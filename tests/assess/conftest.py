from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.blueprints import BlueprintSpec
from assess.engine import ContentRule
from assess.models import Area, Assessment, BlueprintRow, School, Student
from assess.simulate.pipeline import ensure_bank
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion, utcnow

BLUEPRINT = BlueprintSpec(
    min_items=8,
    max_items=10,
    se_target=0.45,
    time_limit_minutes=40,
    content=tuple(ContentRule(d, min_items=2, max_items=4) for d in ("D1", "D2", "D3", "D4")),
    randomesque_k=2,
    pilot_items=1,
)


def provisional_2pl_items(session: Session, n_items: int) -> tuple[int, list[int], list[str], np.ndarray, np.ndarray]:
    """The bank's first ``n_items`` 2PL items under the provisional calibration (the bank loaded first).

    Returns the provisional calibration's id and, in item-version order, the version ids, item
    codes, slopes and difficulties: the known truth a simulated field trial answers from.
    """
    ensure_bank(session=session)
    provisional = int(session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one() or 0)
    rows = session.exec(
        select(ItemVersion.id, Item.code, ItemParameter.a, ItemParameter.b)
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .join(ItemParameter, col(ItemParameter.item_version_id) == col(ItemVersion.id))
        .where(ItemParameter.calibration_id == provisional, ItemParameter.model == "2pl")
        .order_by(col(ItemVersion.id))
    ).all()[:n_items]
    versions = [int(v or 0) for v, *_ in rows]
    codes = [c for _, c, _, _ in rows]
    a = np.array([float(x) for _, _, x, _ in rows])
    b = np.array([float(x[0]) for *_, x in rows])
    return provisional, versions, codes, a, b


def make_tree(session: Session, n_students: int = 3, grade: int = 8) -> list[Student]:
    prov = Area(code="44", name="广东省", level="province", region="东部", path="/44/")
    session.add(prov)
    session.flush()
    county = Area(code="440101", name="新华区", level="county", region="东部", path="/44/440101/", parent_id=prov.id)
    session.add(county)
    session.flush()
    school = School(
        code="S1", name="新华路第一中学", locale="urban", area_id=int(county.id or 0), path="/44/440101/S1/"
    )
    session.add(school)
    session.flush()
    students = [
        Student(
            code=f"P{i}", grade=grade, gender="F", ticket=f"T{i:09d}", school_id=int(school.id or 0), path=school.path
        )
        for i in range(n_students)
    ]
    session.add_all(students)
    session.flush()
    return students


@pytest.fixture
def live(engine: Engine) -> Iterator[tuple[Engine, int, list[int]]]:
    """A database with the starter bank, an open adaptive assessment on the provisional calibration, students."""
    with Session(engine, expire_on_commit=False) as session:
        ensure_bank(session=session)
        cal = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).one()
        now = utcnow()
        assessment = Assessment(
            code="A1",
            name="测试批次",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
            grades=[8],
            calibration_id=cal.id,
        )
        session.add(assessment)
        session.flush()
        session.add(
            BlueprintRow(
                assessment_id=int(assessment.id or 0), grade_band="7-9", mode="adaptive", spec=BLUEPRINT.to_json()
            )
        )
        students = make_tree(session)
        session.commit()
        yield engine, int(assessment.id or 0), [int(s.id or 0) for s in students]
