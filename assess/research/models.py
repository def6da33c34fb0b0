"""Research tables: background jobs and calibration runs.

A research job (:class:`ResearchJob`) is work that never runs inside a request: a calibration of
thousands of students, a probe of the queue. Its row is the truth about it (status, progress, the
one-line reason of a failure, the log); the queue (:mod:`assess.research.queue`, huey) only
carries "run job N" to a consumer. A consumer claims the row before it works, beats a heartbeat
while it works, and a job whose heartbeat stopped (its consumer died) is claimed again by the next
consumer that looks, so a job survives a restart of the app.

A publication (:class:`Publication`) records that a researcher made a calibration the operational
one (:mod:`assess.research.publish`): the linking constants, the estimates as they were before the
transformation, what it superseded, which assessments moved to it and their blueprints before the
exposure recalibration, so that undoing it restores the previous state exactly.

A calibration run (:class:`CalibrationRun`) is what a researcher asked for (which responses, which
models, which items anchored, groups), the code version that ran it, and its result: a
calibration in the item bank (:class:`~itembank.models.Calibration`, parameters with SEs, stored
as a draft) and the statistics shown beside it.

Layers follow the house style: ``XBase`` -> ``X(table=True)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from itembank.models import utcnow

__all__ = [
    "JOB_STATUSES",
    "PUBLICATION_STATUSES",
    "CalibrationRun",
    "CalibrationRunBase",
    "Publication",
    "PublicationBase",
    "ResearchJob",
    "ResearchJobBase",
]

JOB_STATUSES = ("queued", "running", "done", "failed")
"""A job's life: queued -> running -> done | failed (a lost running job goes back to running)."""


# Research job, shared fields.
class ResearchJobBase(SQLModel):
    """What a job is and where it stands."""

    kind: str = Field(max_length=32, index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="queued", max_length=16, index=True)
    done: int = 0
    total: int = 0
    message: str = Field(default="", max_length=255)  # progress note, or the one-line reason of a failure


# Research job row.
class ResearchJob(ResearchJobBase, table=True):
    """A background job: its row is written by the consumer that runs it and read by any app worker."""

    __tablename__ = "research_job"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    log: str = Field(default="", sa_type=Text)
    attempts: int = 0
    worker: str = Field(default="", max_length=96)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None


# Calibration run, shared fields: the inputs, as the researcher gave them.
class CalibrationRunBase(SQLModel):
    """The inputs of a calibration run (see :class:`assess.research.runs.RunSpec`)."""

    name: str = Field(max_length=64, unique=True, index=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    items: str = Field(default="all", max_length=16)  # all | pilot
    model: str = Field(default="declared", max_length=16)  # declared | rasch | 2pl | 3pl
    poly_model: str = Field(default="declared", max_length=16)  # declared | grm | gpcm
    anchors: str = Field(default="none", max_length=16)  # none | operational
    groups: str = Field(default="grade", max_length=16)  # grade | none
    min_responses: int = 50


# Calibration run row.
class CalibrationRun(CalibrationRunBase, table=True):
    """A calibration run: its inputs, its job, the code that ran it and its result."""

    __tablename__ = "calibration_run"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="research_job.id", unique=True)
    user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    code_version: str = Field(default="", max_length=96)
    calibration_id: int | None = Field(default=None, foreign_key="calibration.id", index=True)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    item_stats: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow)


PUBLICATION_STATUSES = ("published", "undone")
"""A publication is in force until it is undone (only the newest one in force can be undone)."""


# Publication, shared fields: what was published and how it was linked.
class PublicationBase(SQLModel):
    """A calibration made operational, its linking to the previous scale, and what it changed."""

    calibration_id: int = Field(foreign_key="calibration.id", index=True)
    previous_id: int | None = Field(default=None, foreign_key="calibration.id")  # the scale linked to
    status: str = Field(default="published", max_length=16, index=True)
    linked: bool = False
    method: str = Field(default="", max_length=32)
    slope: float | None = None  # A of theta_base = A theta_new + B
    intercept: float | None = None  # B
    n_common: int = 0
    criterion: float | None = None  # the Stocking-Lord criterion at (A, B)


# Publication row: everything needed to undo it.
class Publication(PublicationBase, table=True):
    """A publication: the record behind the history page and the undo."""

    __tablename__ = "calibration_publication"

    id: int | None = Field(default=None, primary_key=True)
    # the calibration's estimates as stored before publishing (untransformed), and its latent scale
    raw: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # calibrations that were operational before (id -> published_at ISO), made "superseded"
    superseded: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # assessments moved to the new calibration: id -> previous calibration id
    moved: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # blueprint id -> its spec before the exposure recalibration
    blueprints: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # what the page says: kept assessments and why, exposure recalibrated per band
    report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    published_by: str = Field(default="", max_length=64)
    published_at: datetime = Field(default_factory=utcnow)
    undone_by: str = Field(default="", max_length=64)
    undone_at: datetime | None = None
