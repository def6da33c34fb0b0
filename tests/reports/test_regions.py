from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.models import Area, Assessment, School, Student, TestSession
from itembank.models import utcnow
from reports.regions import RegionSummary, summarize_regions
from reports.render_text import format_region_table, pad_cell, text_width


def _school(session: Session, code: str, region: str) -> int:
    area = Area(code=code, name=f"{region}县", level="county", region=region, path=f"/{code}/")
    session.add(area)
    session.flush()
    school = School(code=f"S{code}", name="学校", locale="urban", area_id=int(area.id or 0), path=f"/{code}/S{code}/")
    session.add(school)
    session.flush()
    return int(school.id or 0)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_regions_are_summarised_by_hand(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as session:
        west, east = _school(session, "62", "西部"), _school(session, "32", "东部")
        a1, a2 = (
            Assessment(code=c, name=c, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=1))
            for c in ("A1", "A2")
        )
        session.add_all([a1, a2])
        session.flush()
        # (school, assessment, status, scale score, passed, assessed: assess.scoring_rule)
        sittings = [
            (east, a1, "finished", 520.0, True, True),
            (east, a1, "finished", 480.0, False, True),
            (east, a1, "expired", 560.0, True, True),  # out of time, scored on what it answered: counted
            (east, a1, "in_progress", None, None, None),  # not finished: left out
            (east, a1, "finished", 500.0, True, False),  # handed in with too few answers: left out
            (west, a1, "finished", 450.0, False, True),
            (west, a1, "finished", None, None, False),  # finished but not scored: left out
            (west, a2, "finished", 600.0, True, True),  # another assessment
        ]
        for k, (school, assessment, status, scale, passed, assessed) in enumerate(sittings):
            student = Student(code=f"P{k}", grade=8, gender="F", ticket=f"T{k:09d}", school_id=school, path="/")
            session.add(student)
            session.flush()
            session.add(
                TestSession(
                    assessment_id=int(assessment.id or 0),
                    student_id=int(student.id or 0),
                    status=status,
                    scale_score=scale,
                    passed=passed,
                    assessed=assessed,
                )
            )
        session.commit()
        only_a1 = summarize_regions(session=session, assessment_id=int(a1.id or 0))
        everything = summarize_regions(session=session)
    assert only_a1 == (RegionSummary("东部", 3, 520.0, pytest.approx(2 / 3)), RegionSummary("西部", 1, 450.0, 0.0))
    assert everything[1] == RegionSummary("西部", 2, 525.0, 0.5)
    assert [r.region for r in everything] == ["东部", "西部"]  # east, central, west order


def test_the_region_table_pads_chinese_by_display_width() -> None:
    assert text_width("东部ab") == 6
    assert pad_cell("东部", 6) == "  东部" and pad_cell("东部", 6, right=False) == "东部  "
    table = format_region_table([RegionSummary("东部", 1234, 512.345, 0.6789), RegionSummary("西部", 5, 480.0, 0.0)])
    lines = table.splitlines()
    assert lines[0] == "区域      学生数  平均量表分    达标率"
    assert lines[1] == "东部       1,234       512.3     67.9%"
    assert {text_width(line) for line in lines} == {38}
