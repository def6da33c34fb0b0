"""publish: the publication record of a calibration (issue 16)

``calibration_publication``: a calibration made operational by a researcher: the calibration it
was linked to (Stocking-Lord constants A, B, the number of common items, the criterion), its
estimates before the transformation, the calibrations it superseded, the assessments moved to it,
their blueprints before the exposure recalibration, who and when, and whether it was undone.

Revision ID: 0014_publish
Revises: 0012_research
Create Date: 2026-12-04 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_publish"
down_revision: str | None = "0012_research"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calibration_publication",
        sa.Column("calibration_id", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("slope", sa.Float(), nullable=True),
        sa.Column("intercept", sa.Float(), nullable=True),
        sa.Column("n_common", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.Float(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("superseded", sa.JSON(), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("blueprints", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("undone_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("undone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["calibration_id"], ["calibration.id"], name=op.f("fk_calibration_publication_calibration_id_calibration")
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["calibration.id"], name=op.f("fk_calibration_publication_previous_id_calibration")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_calibration_publication_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_publication")),
    )
    with op.batch_alter_table("calibration_publication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_publication_calibration_id"), ["calibration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_publication_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_publication_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("calibration_publication")
