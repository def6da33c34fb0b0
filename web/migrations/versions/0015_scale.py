"""scale: versioned reporting-scale settings and bookmark standard setting (issue 16)

``scale_version``: a version of the reporting scale (baseline, cuts per band, level names, the
students' and the researcher's level descriptions, the 达标 line), one of them active; no row is
seeded: while none is stored the built-in default (today's constants) is in force.
``standard_setting_study``: a band's bookmark study with its frozen ordered item booklet.
``standard_setting_bookmark``: a panellist's page for a level boundary in a round.

Revision ID: 0015_scale
Revises: 0014_publish
Create Date: 2026-12-04 23:06:08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015_scale"
down_revision: str | None = "0014_publish"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scale_version",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("baseline_mean", sa.Float(), nullable=True),
        sa.Column("baseline_sd", sa.Float(), nullable=True),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("descriptions", sa.JSON(), nullable=False),
        sa.Column("described", sa.JSON(), nullable=False),
        sa.Column("cuts", sa.JSON(), nullable=False),
        sa.Column("pass_level", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("adopted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_scale_version_user_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scale_version")),
    )
    with op.batch_alter_table("scale_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scale_version_active"), ["active"], unique=False)
        batch_op.create_index(batch_op.f("ix_scale_version_number"), ["number"], unique=True)

    op.create_table(
        "standard_setting_study",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("band", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("calibration_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("rp", sa.Float(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booklet", sa.JSON(), nullable=False),
        sa.Column("described", sa.JSON(), nullable=False),
        sa.Column("adopted_version", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_standard_setting_study_assessment_id_assessment")
        ),
        sa.ForeignKeyConstraint(
            ["calibration_id"], ["calibration.id"], name=op.f("fk_standard_setting_study_calibration_id_calibration")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_standard_setting_study_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard_setting_study")),
    )
    with op.batch_alter_table("standard_setting_study", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_standard_setting_study_calibration_id"), ["calibration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_standard_setting_study_name"), ["name"], unique=True)

    op.create_table(
        "standard_setting_bookmark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("panellist", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("boundary", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["standard_setting_study.id"],
            name=op.f("fk_standard_setting_bookmark_study_id_standard_setting_study"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard_setting_bookmark")),
        sa.UniqueConstraint(
            "study_id",
            "round",
            "panellist",
            "boundary",
            name=op.f("uq_standard_setting_bookmark_study_id_round_panellist_boundary"),
        ),
    )
    with op.batch_alter_table("standard_setting_bookmark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_standard_setting_bookmark_study_id"), ["study_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("standard_setting_bookmark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_standard_setting_bookmark_study_id"))

    op.drop_table("standard_setting_bookmark")
    with op.batch_alter_table("standard_setting_study", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_standard_setting_study_name"))
        batch_op.drop_index(batch_op.f("ix_standard_setting_study_calibration_id"))

    op.drop_table("standard_setting_study")
    with op.batch_alter_table("scale_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scale_version_number"))
        batch_op.drop_index(batch_op.f("ix_scale_version_active"))

    op.drop_table("scale_version")
