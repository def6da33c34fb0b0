"""A tested sample in the database: the people tree of the drawn schools, and sittings with scores."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlmodel import Session, select

from assess.models import Area, Assessment, School, Student, TestSession
from assess.sampling.select import DrawnSample
from itembank.models import utcnow


def make_assessment(session: Session, code: str = "NAT-2026", grades: tuple[int, ...] = (4,)) -> Assessment:
    """An operational assessment of ``grades``."""
    now = utcnow()
    row = Assessment(code=code, name="全国测评", opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=9),
                     grades=list(grades))  # fmt: skip
    session.add(row)
    session.flush()
    return row


def seat_sample(
    session: Session, sample: DrawnSample, assessment: Assessment, *, seed: int = 0, refuse: float = 0.2,
    absent: float = 0.1, take: int = 40,
) -> dict[str, float]:  # fmt: skip
    """Register every drawn school with up to ``take`` students per grade; sittings for those who sat.

    A school refuses with probability ``refuse``; a student is absent with probability ``absent``.
    Returns each school's true mean score (its students score around it).
    """
    rng = np.random.default_rng(seed)
    f = sample.frame
    areas: dict[str, int] = {}

    def area(code: str, name: str, level: str, parent: str | None, path: str, region: str) -> int:
        if code not in areas:
            found = session.exec(select(Area).where(Area.code == code)).first()
            if found is None:
                found = Area(code=code, name=name, level=level, region=region, path=path,
                             parent_id=areas.get(parent) if parent else None)  # fmt: skip
                session.add(found)
                session.flush()
            areas[code] = int(found.id or 0)
        return areas[code]

    truth: dict[str, float] = {}
    now = utcnow()
    k = 0
    for row in sample.index.tolist():
        p, c, q = (str(f.column(n)[row]) for n in ("province_code", "city_code", "county_code"))
        reg = str(f.column("region")[row])
        area(p, str(f.column("province")[row]), "province", None, f"/{p}/", reg)
        area(c, str(f.column("city")[row]), "city", p, f"/{p}/{c}/", reg)
        county = area(q, str(f.column("county")[row]), "county", c, f"/{p}/{c}/{q}/", reg)
        code = str(f.column("school_code")[row])
        school = School(code=code, name=str(f.column("school")[row]), locale=str(f.column("locale")[row]),
                        area_id=county, path=f"/{p}/{c}/{q}/{code}/")  # fmt: skip
        session.add(school)
        session.flush()
        mu = 500 + 40 * rng.standard_normal()
        truth[code] = mu
        refuses = rng.random() < refuse
        for g in assessment.grades:
            n = int(min(take, f.enrolment[g][row]))
            for _ in range(n):
                k += 1
                st = Student(code=f"P{k:07d}", grade=g, gender="F" if k % 2 else "M", ticket=f"T{k:09d}",
                             school_id=int(school.id or 0), path=school.path)  # fmt: skip
                session.add(st)
                session.flush()
                if refuses or rng.random() < absent:
                    continue
                session.add(
                    TestSession(assessment_id=int(assessment.id or 0), student_id=int(st.id or 0), status="finished",
                                finished_at=now, assessed=True, scale_score=mu + 80 * rng.standard_normal())
                )  # fmt: skip
    session.flush()
    return truth
