"""Database tables of a sample: the draw, its schools (linked by code to the people tree), the students' weights.

Layers follow the house style, one comment per layer. A draw belongs to one assessment (its
schools are registered under the same codes as in the frame); drawing again replaces the draw and,
with it (``ON DELETE CASCADE``), its schools and weights.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel, UniqueConstraint

from itembank.models import utcnow

__all__ = ["SampleDraw", "SampleDrawPublic", "SampleSchool", "SampleWeight"]


# Draw base: what the list of sampled schools was made from.
class SampleDrawBase(SQLModel):
    """One draw of the design for an assessment."""

    name: str = Field(max_length=128)
    seed: int = Field(sa_type=sa.BigInteger)
    frame_source: str = Field(default="", max_length=255)
    n_schools: int = 0
    n_sampled: int = 0


# Draw row.
class SampleDraw(SampleDrawBase, table=True):
    """The stored draw: the design file as given (TOML) and the frame's enrolment per stratum."""

    __tablename__ = "sample_draw"

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", unique=True)
    design: str = Field(sa_column=Column(sa.Text, nullable=False))
    strata: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    drawn_at: datetime = Field(default_factory=utcnow)
    weighted_at: datetime | None = None


# Draw public view.
class SampleDrawPublic(SampleDrawBase):
    """A draw as the CLI shows it."""

    id: int
    assessment_id: int
    drawn_at: datetime
    weighted_at: datetime | None


# School row: one sampled school or replacement, with its weight factors once computed.
class SampleSchool(SQLModel, table=True):
    """A drawn school (``role``: sampled, replacement1, replacement2; ``replaces``: the code it stands in for)."""

    __tablename__ = "sample_school"
    __table_args__ = (UniqueConstraint("draw_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    draw_id: int = Field(
        sa_column=Column(sa.ForeignKey("sample_draw.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    code: str = Field(max_length=32)
    name: str = Field(max_length=128)
    stratum: str = Field(max_length=128)
    sort_position: int
    role: str = Field(max_length=16)
    replaces: str = Field(default="", max_length=32)
    enrolment: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    measure: float
    probability: float
    certainty: bool = False
    participated: bool | None = None
    used: bool | None = None
    base_weight: float | None = None
    nonresponse_factor: float | None = None
    zone: int | None = None
    half: int | None = None


# Weight row: one sampled student's weight and its factors.
class SampleWeight(SQLModel, table=True):
    """A sampled student's final weight (0 where not assessed), its factors, and its jackknife zone and half."""

    __tablename__ = "sample_weight"

    draw_id: int = Field(
        sa_column=Column(sa.ForeignKey("sample_draw.id", ondelete="CASCADE"), primary_key=True, nullable=False)
    )
    student_id: int = Field(foreign_key="student.id", primary_key=True, index=True)
    school_id: int = Field(foreign_key="sample_school.id", index=True)
    assessed: bool
    final: float
    base: float
    school_adjustment: float
    within: float
    student_adjustment: float
    trim: float
    zone: int
    half: int
