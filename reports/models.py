"""Report tables: the plausible values of an assessment, drawn once after its calibration.

A :class:`PlausibleValueRun` records one draw for an assessment: the calibration the item
parameters came from, the population model (latent regression on grade, gender, locale and
region with school effects), the scale transformation (``scale_mean + scale_sd * (theta -
baseline_mean) / baseline_sd``, 500 + 100 z as sessions' scale scores) and the levels with the cut
scores of each grade band, as the framework in use defined them when the values were drawn. A
:class:`PlausibleValue` row holds one student's M values: on the theta scale, on the reporting
scale, the level of each (an index into the run's ``levels``), and the theta PVs of each
dimension. Storing the scale scores and levels with the transformation that made them keeps a
report reproducible after a framework's cuts change.

A :class:`ProfileBuild` records the newest set of profiles built from a run (every school and
region of the assessment), and :class:`StoredProfile` holds each profile as JSON
(:mod:`reports.store`), so the consoles show and render a profile without recomputing the
assessment's statistics.

Only the newest run of an assessment is kept (:func:`reports.plausible.store_plausible_values`
replaces the previous one in the same transaction). Layering as in the other packages:
``XBase`` -> ``X(table=True)`` -> ``XPublic``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models import utcnow

__all__ = [
    "PlausibleValue",
    "PlausibleValueBase",
    "PlausibleValueRun",
    "PlausibleValueRunBase",
    "PlausibleValueRunPublic",
    "ProfileBuild",
    "ProfileBuildPublic",
    "StoredProfile",
]


# ======================================================================================== runs
# Plausible-value run, shared fields.
class PlausibleValueRunBase(SQLModel):
    """What one draw of plausible values rests on (see the module docstring)."""

    n_pvs: int
    seed: int = 0
    n_students: int = 0
    n_sessions: int = 0
    conditioning: list[str] = Field(default_factory=list, sa_type=JSON)
    model: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    dimensions: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    scale_mean: float = 500.0
    scale_sd: float = 100.0
    baseline_mean: float = 0.0
    baseline_sd: float = 1.0
    levels: list[str] = Field(default_factory=list, sa_type=JSON)
    pass_level: int = 1
    cuts: dict[str, list[float]] = Field(default_factory=dict, sa_type=JSON)


# Plausible-value run row.
class PlausibleValueRun(PlausibleValueRunBase, table=True):
    """One draw of plausible values for an assessment (the newest is the one reports use)."""

    __tablename__ = "plausible_value_run"

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    calibration_id: int = Field(foreign_key="calibration.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


# Plausible-value run, handed out.
class PlausibleValueRunPublic(PlausibleValueRunBase):
    """A run as the CLI and the consoles show it."""

    id: int
    assessment_id: int
    calibration_id: int
    created_at: datetime


# ======================================================================================== values
# One student's plausible values, shared fields.
class PlausibleValueBase(SQLModel):
    """A student's M plausible values (theta, scale score, level index) and dimension PVs (theta)."""

    band: str = Field(max_length=16)
    theta: list[float] = Field(default_factory=list, sa_type=JSON)
    scale_score: list[float] = Field(default_factory=list, sa_type=JSON)
    level: list[int] = Field(default_factory=list, sa_type=JSON)
    dimension_theta: dict[str, list[float]] = Field(default_factory=dict, sa_type=JSON)
    eap: float = 0.0
    eap_sd: float = 0.0


# One student's plausible values row.
class PlausibleValue(PlausibleValueBase, table=True):
    """A student's plausible values in one run."""

    __tablename__ = "plausible_value"
    __table_args__ = (UniqueConstraint("run_id", "student_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="plausible_value_run.id", index=True, ondelete="CASCADE")
    student_id: int = Field(foreign_key="student.id", index=True)


# ======================================================================================== stored profiles
# A build of every profile of an assessment, shared fields.
class ProfileBuildBase(SQLModel):
    """What a stored set of profiles was built from and how (see :mod:`reports.store`)."""

    design: str = Field(default="auto", max_length=16)
    n_profiles: int = 0
    n_reported: int = 0
    seconds: dict[str, float] = Field(default_factory=dict, sa_type=JSON)


# The build row: one per assessment (the newest).
class ProfileBuild(ProfileBuildBase, table=True):
    """The newest stored set of profiles of an assessment, and the PV run it was computed from."""

    __tablename__ = "profile_build"

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", unique=True)
    run_id: int = Field(foreign_key="plausible_value_run.id", index=True, ondelete="CASCADE")
    built_at: datetime = Field(default_factory=utcnow)


# A build, handed out.
class ProfileBuildPublic(ProfileBuildBase):
    """A build as the CLI and the consoles show it."""

    id: int
    assessment_id: int
    run_id: int
    built_at: datetime


# One stored profile row.
class StoredProfile(SQLModel, table=True):
    """One school's or region's profile of a build, as the JSON of :class:`reports.profile.Profile`."""

    __tablename__ = "stored_profile"
    __table_args__ = (UniqueConstraint("build_id", "level", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    build_id: int = Field(foreign_key="profile_build.id", index=True, ondelete="CASCADE")
    level: str = Field(max_length=16)
    code: str = Field(max_length=64)
    reported: bool = True
    body: str = Field(sa_type=Text)
