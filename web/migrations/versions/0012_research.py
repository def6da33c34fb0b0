"""research: background jobs and calibration runs (issue 16)

``research_job``: a background job run by a huey consumer: kind, parameters, status, progress,
the one-line reason of a failure, its log, attempts, the consumer that holds it and its heartbeat.
``calibration_run``: a calibration's inputs (assessment, items, models, anchors, groups), the job
that runs it, the code version, and its result (the draft calibration, summary, item statistics).

Revision ID: 0012_research
Revises: 0008_profile_store
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_research"
down_revision: str | None = "0010_sampling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "research_job",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_research_job_user_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_job")),
    )
    with op.batch_alter_table("research_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_research_job_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_research_job_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_research_job_user_id"), ["user_id"], unique=False)
    op.create_table(
        "calibration_run",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("items", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("poly_model", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("anchors", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("groups", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("min_responses", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("code_version", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column("calibration_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("item_stats", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_calibration_run_assessment_id_assessment")
        ),
        sa.ForeignKeyConstraint(
            ["calibration_id"], ["calibration.id"], name=op.f("fk_calibration_run_calibration_id_calibration")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["research_job.id"], name=op.f("fk_calibration_run_job_id_research_job")),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_calibration_run_user_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_run")),
        sa.UniqueConstraint("job_id", name=op.f("uq_calibration_run_job_id")),
    )
    with op.batch_alter_table("calibration_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_run_assessment_id"), ["assessment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_run_calibration_id"), ["calibration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_run_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_calibration_run_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("calibration_run")
    op.drop_table("research_job")
