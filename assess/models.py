"""Assessment tables: the people tree, assessments with blueprints, test sessions and responses.

The people tree is province -> city -> county/district (one :class:`Area` table with a ``level``
and a materialised ``path`` such as ``/44/4403/440305/``) -> :class:`School` -> :class:`SchoolClass`
-> :class:`Student`. A bureau's scope is an area path: everything whose path starts with it lies
under it, which makes "a bureau sees only its region" one indexed prefix query on both SQLite and
PostgreSQL.

An :class:`Assessment` (测评批次) has a window, target grades, the calibration it scores with, and
one :class:`BlueprintRow` per grade band (adaptive or booklets). A :class:`TestSession` is one
student's sitting; every answer is a :class:`Response` row written in the same transaction that
moves the session on, and it points at the exact :class:`itembank.models.ItemVersion` shown.

Layers follow the house style: ``XBase`` -> ``XCreate`` -> ``X(table=True)`` -> ``XPublic``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models import utcnow

__all__ = [
    "AREA_LEVELS",
    "GENDERS",
    "LOCALES",
    "REGIONS",
    "SECTORS",
    "SESSION_STATUSES",
    "Area",
    "AreaBase",
    "AreaPublic",
    "Assessment",
    "AssessmentBase",
    "AssessmentPublic",
    "BlueprintRow",
    "LoginFailure",
    "Booklet",
    "Response",
    "ResponseBase",
    "RevokedDevice",
    "School",
    "SchoolBase",
    "SchoolClass",
    "SchoolPublic",
    "Student",
    "StudentBase",
    "StudentPublic",
    "TestSession",
    "TestSessionPublic",
]

REGIONS: tuple[str, ...] = ("东部", "中部", "西部")
"""The three regions of the national sampling frame."""
AREA_LEVELS: tuple[str, ...] = ("province", "city", "county")
"""Levels of the administrative tree (a bureau sits at one of them)."""
LOCALES: tuple[str, ...] = ("urban", "town", "rural")
"""城区 / 县镇 / 农村 schools."""
SECTORS: tuple[str, ...] = ("public", "private")
"""公办 / 民办 schools."""
GENDERS: tuple[str, ...] = ("F", "M")
"""Recorded gender."""
SESSION_STATUSES: tuple[str, ...] = ("in_progress", "finished", "expired")
"""Life cycle of a test session."""


# ============================================================================================ areas
# Area, shared fields: a province, city or county/district.
class AreaBase(SQLModel):
    """An administrative area; ``region`` is the province's 东部/中部/西部, inherited below it."""

    code: str = Field(max_length=16, unique=True, index=True)
    name: str = Field(max_length=64)
    level: str = Field(max_length=16)
    region: str = Field(max_length=8, index=True)


# Area row.
class Area(AreaBase, table=True):
    """An area with its parent and materialised path (``/44/4403/440305/``)."""

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="area.id", index=True)
    path: str = Field(max_length=255, index=True)


# Area, handed out.
class AreaPublic(AreaBase):
    """An area as listed."""

    id: int
    path: str


# ============================================================================================ schools
# School, shared fields.
class SchoolBase(SQLModel):
    """A school: locale (urban, county-town, rural) and sector (public, private)."""

    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=128)
    locale: str = Field(max_length=8)
    sector: str = Field(default="public", max_length=8)


# School row: hangs under a county; ``path`` extends the county's path.
class School(SchoolBase, table=True):
    """A school under a county/district."""

    id: int | None = Field(default=None, primary_key=True)
    area_id: int = Field(foreign_key="area.id", index=True)
    path: str = Field(max_length=255, index=True)


# School, handed out.
class SchoolPublic(SchoolBase):
    """A school as listed."""

    id: int
    area_id: int
    path: str


# School class row (教学班).
class SchoolClass(SQLModel, table=True):
    """A class of one grade in a school."""

    __tablename__ = "school_class"
    __table_args__ = (UniqueConstraint("school_id", "grade", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id", index=True)
    grade: int
    name: str = Field(max_length=32)


# ============================================================================================ students
# Student, shared fields: what a school registers.
class StudentBase(SQLModel):
    """A student: grade, gender, and the test ticket (准考证号) the student logs in with."""

    code: str = Field(max_length=32, unique=True, index=True)
    grade: int = Field(index=True)
    gender: str = Field(max_length=1)
    ticket: str = Field(max_length=16, unique=True, index=True)


# Student row: the second login factor is stored only as a hash.
class Student(StudentBase, table=True):
    """A registered student; ``pin_hash`` is the KDF hash of the second factor the school hands out."""

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id", index=True)
    class_id: int | None = Field(default=None, foreign_key="school_class.id", index=True)
    pin_hash: str = Field(default="", max_length=255)
    path: str = Field(max_length=255, index=True)
    created_at: datetime = Field(default_factory=utcnow)


# Student, handed out (never with the PIN).
class StudentPublic(StudentBase):
    """A student as a school administrator sees it."""

    id: int
    school_id: int
    class_id: int | None


# ============================================================================================ assessments
# Assessment, shared fields.
class AssessmentBase(SQLModel):
    """A testing round (测评批次): its window, grades and the calibration it scores with."""

    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=128)
    opens_at: datetime
    closes_at: datetime
    grades: list[int] = Field(default_factory=list, sa_type=JSON)
    purpose: str = Field(default="operational", max_length=16)  # operational | field_trial


# Assessment row.
class Assessment(AssessmentBase, table=True):
    """An assessment; ``calibration_id`` fixes the item parameters used for selection and scores."""

    id: int | None = Field(default=None, primary_key=True)
    calibration_id: int | None = Field(default=None, foreign_key="calibration.id")
    created_at: datetime = Field(default_factory=utcnow)


# Assessment, handed out.
class AssessmentPublic(AssessmentBase):
    """An assessment as listed."""

    id: int
    calibration_id: int | None


# Blueprint row: one per assessment and grade band; the rules are validated by
# :class:`assess.blueprints.BlueprintSpec` before they are stored.
class BlueprintRow(SQLModel, table=True):
    """The test design for one grade band of an assessment (JSON, see :mod:`assess.blueprints`)."""

    __tablename__ = "blueprint"
    __table_args__ = (UniqueConstraint("assessment_id", "grade_band"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    grade_band: str = Field(max_length=8)
    mode: str = Field(max_length=16)  # adaptive | booklets
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


# Booklet row: a linear form of a field trial (item codes in order).
class Booklet(SQLModel, table=True):
    """A linear, matrix-sampled form: rotated blocks of items in a fixed order."""

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    code: str = Field(max_length=32)
    grade_band: str = Field(max_length=8)
    item_codes: list[str] = Field(default_factory=list, sa_type=JSON)


# ============================================================================================ sessions
# Test session row: all state of a sitting lives here and in its responses, so any app worker can
# serve the next request and a worker may die without losing an answer.
class TestSession(SQLModel, table=True):
    """One student's sitting of an assessment."""

    __test__ = False  # not a pytest test class, despite its name
    __tablename__ = "test_session"
    __table_args__ = (UniqueConstraint("assessment_id", "student_id"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    student_id: int = Field(foreign_key="student.id", index=True)
    booklet_id: int | None = Field(default=None, foreign_key="booklet.id")
    status: str = Field(default="in_progress", max_length=16, index=True)
    seed: int = 0
    device: str = Field(default="", max_length=64)
    started_at: datetime = Field(default_factory=utcnow)
    deadline: datetime | None = None
    finished_at: datetime | None = None
    # the item on screen now (the only one an answer is accepted for) and its position
    current_item_version_id: int | None = Field(default=None, foreign_key="item_version.id")
    position: int = 0
    n_scored: int = 0
    theta: float | None = None
    se: float | None = None
    scale_score: float | None = None
    level: str | None = Field(default=None, max_length=32)
    passed: bool | None = None
    subscores: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # ended with the blueprint's minimum of scored answers (assess.scoring_rule); None while in progress
    assessed: bool | None = None


# Login attempts, counted per ticket or client address over a window. The row is shared by every
# app worker (and every machine on one database), so N workers do not give a guesser N allowances.
class LoginFailure(SQLModel, table=True):
    """Login attempts of a ticket, or failures of a client address, in the current window (assess.throttle)."""

    __tablename__ = "login_failure"

    subject: str = Field(primary_key=True, max_length=128)
    window_start: float  # epoch seconds: plain arithmetic on both SQLite and PostgreSQL
    failures: int = 0
    next_at: float = 0.0  # past the limit: when the next backoff slot opens (epoch seconds)


# Signed-out devices: a token naming one is refused until it would have expired anyway.
class RevokedDevice(SQLModel, table=True):
    """A device token signed out (logout): tokens that name it are refused until ``expires_at``."""

    __tablename__ = "revoked_device"

    device: str = Field(primary_key=True, max_length=64)
    expires_at: float  # epoch seconds: the latest expiry of a token naming the device


# Test session, handed out (to researchers and the student's own pages).
class TestSessionPublic(SQLModel):
    """A session's progress and, when finished, its result."""

    id: int
    status: str
    position: int
    started_at: datetime
    deadline: datetime | None
    finished_at: datetime | None
    theta: float | None
    se: float | None
    scale_score: float | None
    level: str | None
    assessed: bool | None


# Response, shared fields.
class ResponseBase(SQLModel):
    """An answer: what the student chose and the score it earned (``None`` for pilot items)."""

    position: int
    answer: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    score: int | None = None
    pilot: bool = False
    latency_ms: int | None = None


# Response row: unique per session and position, and per session and item version.
class Response(ResponseBase, table=True):
    """A stored answer; ``item_version_id`` is exactly the version the student saw."""

    __table_args__ = (
        UniqueConstraint("session_id", "position"),
        UniqueConstraint("session_id", "item_version_id"),
        Index("ix_response_item_version_score", "item_version_id", "score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="test_session.id")  # indexed as the lead of both unique keys
    item_version_id: int = Field(foreign_key="item_version.id")
    answered_at: datetime = Field(default_factory=utcnow)
