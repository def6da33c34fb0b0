"""A people tree with staff users of every role, for the accounts and console tests.

::

    99 测试省 ── 9901 测试市 ─┬─ 990101 测试区 ── SWEB001 测试路第一中学   (county1, school1)
                              └─ 990102 隔壁区 ── SNEXT01 隔壁第二中学     (county2, school2)
    88 远方省 ── 8801 远方市 ──── 880101 远方区 ── SFAR001 远方第三中学     (far88, farschool)

``prov99`` is the bureau of province 99, ``root`` an admin, ``lab`` a researcher. Every user's
password is :data:`PASSWORD`. Each school has grade-8 students of the open assessment: some
finished (with scale scores), one in progress, the rest not started. The web tests add this onto
their world (whose SWEB001 and pupils it reuses); the assess tests build it on an empty database.
Every code and name of SNEXT01 and SFAR001 is distinctive, so a test can look for any trace of
them in a response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts.models import StaffUser
from assess.accounts.passwords import hash_password
from assess.models import Area, Assessment, School, SchoolClass, Student, TestSession
from assess.pins import hash_pin
from itembank.db import session_scope
from itembank.importing import starter_bank_files
from itembank.models import utcnow

PASSWORD = "Kx7-correct-horse"
STUDENT_PIN = "135792"
NEXT_MARKERS = ("SNEXT01", "隔壁第二中学", "NXT-", "990102", "隔壁区")
"""Everything that would betray SNEXT01 (its code, name, student codes, county) in a response."""
FAR_MARKERS = ("SFAR001", "远方第三中学", "FAR-", "880101", "远方区", "远方省", "8801")
"""The same for the far province's school."""

_RANDOM_HEX = re.compile(r"[0-9a-f]{32,}")


def without_tokens(text: str) -> str:
    """``text`` without its random hex tokens (a page's CSRF tokens: 32 hex digits or more).

    An all-digit marker such as ``8801`` or a scale score occurs in one of them by chance now and
    then (CI saw both), which is no leak.
    """
    return _RANDOM_HEX.sub("", text)


def leaked(text: str, markers: Iterable[str]) -> list[str]:
    """The markers that ``text`` shows outside its random tokens (see :func:`without_tokens`)."""
    shown = without_tokens(text)
    return [m for m in markers if m in shown]


@dataclass(frozen=True)
class ConsoleWorld:
    """What the tree holds: ids of the open assessment and of a few students by code."""

    assessment_id: int
    assessment_code: str
    students: dict[str, int]  # student code -> id
    tickets: dict[str, str]  # student code -> ticket
    classes: dict[str, int]  # school code -> the id of its grade-8 class


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One argon2id hash of :data:`PASSWORD`, shared by every user (hashing once keeps the tests quick)."""
    return hash_password(PASSWORD)


def _area(s: Session, code: str, name: str, level: str, parent: Area | None) -> Area:
    found = s.exec(select(Area).where(Area.code == code)).first()
    if found is not None:
        return found
    path = f"{parent.path if parent else '/'}{code}/"
    area = Area(code=code, name=name, level=level, region="东部", path=path, parent_id=parent.id if parent else None)
    s.add(area)
    s.flush()
    return area


def _school(s: Session, code: str, name: str, county: Area) -> School:
    found = s.exec(select(School).where(School.code == code)).first()
    if found is not None:
        return found
    school = School(code=code, name=name, locale="urban", area_id=int(county.id or 0), path=f"{county.path}{code}/")
    s.add(school)
    s.flush()
    return school


def _class(s: Session, school: School) -> SchoolClass:
    found = s.exec(select(SchoolClass).where(SchoolClass.school_id == school.id, SchoolClass.grade == 8)).first()
    if found is not None:
        return found
    klass = SchoolClass(school_id=int(school.id or 0), grade=8, name="8年级1班")
    s.add(klass)
    s.flush()
    return klass


def _assessment(s: Session) -> Assessment:
    found = s.exec(select(Assessment).where(Assessment.code == "WEB-OPEN")).first()
    if found is not None:
        return found
    now = utcnow()
    made = Assessment(
        code="WEB-OPEN",
        name="学生信息素养测评（测试）",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=10),
        grades=[8],
    )
    s.add(made)
    s.flush()
    return made


def _user(s: Session, username: str, role: str, area: Area | None = None, school: School | None = None) -> None:
    node_path = school.path if school is not None else area.path if area is not None else ""
    s.add(
        StaffUser(
            username=username,
            display_name=username,
            role=role,
            area_id=area.id if area is not None else None,
            school_id=school.id if school is not None else None,
            scope_path=node_path,
            password_hash=password_hash(),
        )
    )


def build_console_world(engine: Engine) -> ConsoleWorld:
    """Add the tree, its students and sittings and the staff users (see the module docstring)."""
    now = utcnow()
    with session_scope(engine) as s:
        p99 = _area(s, "99", "测试省", "province", None)
        c9901 = _area(s, "9901", "测试市", "city", p99)
        k1 = _area(s, "990101", "测试区", "county", c9901)
        k2 = _area(s, "990102", "隔壁区", "county", c9901)
        p88 = _area(s, "88", "远方省", "province", None)
        c8801 = _area(s, "8801", "远方市", "city", p88)
        k88 = _area(s, "880101", "远方区", "county", c8801)
        schools = {
            "SWEB001": _school(s, "SWEB001", "测试路第一中学", k1),
            "SNEXT01": _school(s, "SNEXT01", "隔壁第二中学", k2),
            "SFAR001": _school(s, "SFAR001", "远方第三中学", k88),
        }
        assessment = _assessment(s)
        prefix = {"SWEB001": "WEBX-", "SNEXT01": "NXT-", "SFAR001": "FAR-"}
        pin_hash = hash_pin(STUDENT_PIN)
        students: dict[str, int] = {}
        tickets: dict[str, str] = {}
        classes: dict[str, int] = {}
        for n, (code, school) in enumerate(schools.items()):
            klass = _class(s, school)
            classes[code] = int(klass.id or 0)
            for i in range(1, 5):
                student = Student(
                    code=f"{prefix[code]}{i:02d}",
                    grade=8,
                    gender="FM"[i % 2],
                    ticket=f"C{n}{i:07d}",
                    school_id=int(school.id or 0),
                    class_id=klass.id,
                    pin_hash=pin_hash,
                    path=school.path,
                )
                s.add(student)
                s.flush()
                students[student.code], tickets[student.code] = int(student.id or 0), student.ticket
                if i <= 2:  # two finished, with scale scores that differ by school
                    score = 400.0 + 40 * n + 30 * i
                    s.add(
                        TestSession(
                            assessment_id=int(assessment.id or 0),
                            student_id=int(student.id or 0),
                            status="finished",
                            position=9,
                            n_scored=9,
                            theta=(score - 500) / 100,
                            se=0.35,
                            scale_score=score,
                            level="合格" if score >= 450 else "待提高",
                            passed=score >= 450,
                            started_at=now - timedelta(minutes=50),
                            finished_at=now - timedelta(minutes=10),
                        )
                    )
                elif i == 3:  # one in progress, on its fourth item, with 20 minutes left
                    s.add(
                        TestSession(
                            assessment_id=int(assessment.id or 0),
                            student_id=int(student.id or 0),
                            status="in_progress",
                            position=3,
                            device="tablet-7",
                            started_at=now - timedelta(minutes=20),
                            deadline=now + timedelta(minutes=20),
                        )
                    )
        _user(s, "root", "admin")
        _user(s, "lab", "researcher")
        _user(s, "prov99", "bureau", area=p99)
        _user(s, "county1", "bureau", area=k1)
        _user(s, "county2", "bureau", area=k2)
        _user(s, "far88", "bureau", area=p88)
        _user(s, "school1", "school", school=schools["SWEB001"])
        _user(s, "school2", "school", school=schools["SNEXT01"])
        _user(s, "farschool", "school", school=schools["SFAR001"])
        s.flush()
        return ConsoleWorld(int(assessment.id or 0), assessment.code, students, tickets, classes)


def store_console_profiles(engine: Engine) -> None:
    """Give the finished sittings answers on calibrated items, draw PVs and store every profile.

    The web world's provisional calibration becomes the open assessment's; each finished sitting
    gets 20 scored answers (more right answers for the higher scale scores) and counts as
    assessed. Suppression is off (thresholds of one student and one school), so the small world's
    profiles show numbers. Does nothing on a database without that calibration.
    """
    from sqlmodel import col

    from assess.models import Response
    from itembank.models import PROVISIONAL, Calibration, ItemParameter
    from reports.inputs import SuppressionRules
    from reports.store import build_and_store
    from scoring.survey import SuppressionRule

    with session_scope(engine) as s:
        cal = s.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).first()
        if cal is None:
            return
        assessment = _assessment(s)
        assessment.calibration_id = cal.id
        s.add(assessment)
        versions = s.exec(
            select(ItemParameter.item_version_id)
            .where(ItemParameter.calibration_id == cal.id)
            .order_by(col(ItemParameter.item_version_id))
            .limit(20)
        ).all()
        sittings = s.exec(
            select(TestSession).where(TestSession.assessment_id == assessment.id, TestSession.status == "finished")
        ).all()
        for sitting in sittings:
            right = round(20 * ((sitting.scale_score or 500.0) - 350.0) / 250.0)  # 0.2 .. 0.8 of them
            for position, version in enumerate(versions):
                s.add(
                    Response(
                        session_id=int(sitting.id or 0),
                        item_version_id=int(version),
                        position=position,
                        answer={"choice": "A"},
                        score=int((position * 7) % 20 < right),
                    )
                )
            sitting.assessed, sitting.n_scored = True, len(versions)
            s.add(sitting)
    loose = SuppressionRules(
        school=SuppressionRule(1, 1),
        region=SuppressionRule(1, 1),
        subgroup=SuppressionRule(1, 1),
        region_subgroup=SuppressionRule(1, 1),
    )
    with session_scope(engine) as s:
        build_and_store(session=s, assessment_code="WEB-OPEN", rules=loose, n_pvs=5)


@lru_cache(maxsize=1)
def starter_bank_size() -> int:
    """The number of items in the starter bank files (what a world that imports the bank holds)."""
    return sum(len(json.loads(p.read_text(encoding="utf-8"))["items"]) for p in starter_bank_files())
