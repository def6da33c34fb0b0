"""Scale tables: versions of the reporting scale, bookmark standard-setting studies and their bookmarks.

A scale version (:class:`ScaleVersion`) is the reporting scale's settings: the baseline of the
500/100 scale, the level cut scores per grade band, the level names, their student-facing
descriptions and the researcher's described levels, and the 达标 line. One version is active;
adopting another is an audited act and the earlier ones stay. While no version is stored the
built-in default (:data:`assess.standards.versions.DEFAULT_VERSION`, today's constants) is active.

A standard-setting study (:class:`StandardSettingStudy`) is one grade band's bookmark study (Lewis,
Mitzel & Green): its ordered item booklet, frozen when the study is made, and the impact
assessment; a bookmark (:class:`Bookmark`) is one panellist's page for one level boundary in one
round.

Layers follow the house style: ``XBase`` -> ``X(table=True)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models import utcnow

__all__ = [
    "Bookmark",
    "ScaleVersion",
    "ScaleVersionBase",
    "StandardSettingStudy",
    "StandardSettingStudyBase",
]


# Scale version, shared fields.
class ScaleVersionBase(SQLModel):
    """The settings of a scale version (``cuts``: band code -> three ascending cuts)."""

    name: str = Field(max_length=64)
    baseline_mean: float | None = None  # None: the calibration's latent mean (sessions: 0)
    baseline_sd: float | None = None  # None: the calibration's latent SD (sessions: 1)
    levels: list[str] = Field(default_factory=list, sa_type=JSON)
    descriptions: dict[str, str] = Field(default_factory=dict, sa_type=JSON)  # level -> student text
    described: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=JSON)  # band -> level -> text
    cuts: dict[str, list[float]] = Field(default_factory=dict, sa_type=JSON)  # bands not here: the framework's
    pass_level: int = 1  # index in levels of the lowest 达标 level
    source: str = Field(default="", max_length=128)
    note: str = Field(default="", sa_type=Text)


# Scale version row.
class ScaleVersion(ScaleVersionBase, table=True):
    """A stored scale version; ``number`` counts from 1 (the default), ``active`` marks the one in force."""

    __tablename__ = "scale_version"

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True, index=True)
    active: bool = Field(default=False, index=True)
    user_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    adopted_at: datetime | None = None


# Standard-setting study, shared fields.
class StandardSettingStudyBase(SQLModel):
    """What a bookmark study is about: a band, the calibration of its booklet, the impact assessment."""

    name: str = Field(max_length=64, unique=True, index=True)
    band: str = Field(max_length=16)
    calibration_id: int = Field(foreign_key="calibration.id", index=True)
    assessment_id: int | None = Field(default=None, foreign_key="assessment.id")
    rp: float = 0.67


# Standard-setting study row.
class StandardSettingStudy(StandardSettingStudyBase, table=True):
    """A bookmark study: ``booklet`` is the ordered item booklet, one dict per page (code, score, theta...)."""

    __tablename__ = "standard_setting_study"

    id: int | None = Field(default=None, primary_key=True)
    booklet: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    described: dict[str, str] = Field(default_factory=dict, sa_type=JSON)  # level -> the researcher's text
    adopted_version: int | None = None
    user_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)


# Bookmark row.
class Bookmark(SQLModel, table=True):
    """One panellist's bookmark (a 1-based booklet page) for one level boundary (1..3) in one round (1..3)."""

    __tablename__ = "standard_setting_bookmark"
    __table_args__ = (UniqueConstraint("study_id", "round", "panellist", "boundary"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="standard_setting_study.id", index=True)
    round: int
    panellist: str = Field(max_length=64)
    boundary: int
    page: int
    created_at: datetime = Field(default_factory=utcnow)
