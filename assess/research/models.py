"""Research tables: background jobs and calibration runs.

A research job (:class:`ResearchJob`) is work that never runs inside a request: a calibration of
thousands of students, a probe of the queue. Its row is the truth about it (status, progress, the
one-line reason of a failure, the log); the queue (:mod:`assess.research.queue`, huey) only
carries "run job N" to a consumer. A consumer claims the row before it works, beats a heartbeat
while it works, and a job whose heartbeat stopped (its consumer died) is claimed again by the next
consumer that looks, so a job survives a restart of the app.

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

__all__ = ["JOB_STATUSES", "CalibrationRun", "CalibrationRunBase", "ResearchJob", "ResearchJobBase"]

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
