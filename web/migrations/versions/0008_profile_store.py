"""profile_store: every profile of an assessment stored as JSON, for the consoles (issues 13 and 15)

``profile_build``: the newest set of profiles of an assessment and the plausible-value run it was
computed from; ``stored_profile``: one row per school or region profile of a build, the JSON of
``reports.profile.Profile`` (``reports.store``).

Revision ID: 0008_profile_store
Revises: 0007_accounts
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_profile_store"
down_revision: str | None = "0007_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "profile_build",
        sa.Column("design", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("n_profiles", sa.Integer(), nullable=False),
        sa.Column("n_reported", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("built_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_profile_build_assessment_id_assessment")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["plausible_value_run.id"], name=op.f("fk_profile_build_run_id_plausible_value_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_build")),
        sa.UniqueConstraint("assessment_id", name=op.f("uq_profile_build_assessment_id")),
    )  # fmt: skip
    with op.batch_alter_table("profile_build", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_profile_build_run_id"), ["run_id"], unique=False)
    op.create_table(
        "stored_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"], ["profile_build.id"], name=op.f("fk_stored_profile_build_id_profile_build"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_profile")),
        sa.UniqueConstraint("build_id", "level", "code", name=op.f("uq_stored_profile_build_id_level_code")),
    )  # fmt: skip
    with op.batch_alter_table("stored_profile", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_profile_build_id"), ["build_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_profile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_profile_build_id"))
    op.drop_table("stored_profile")
    with op.batch_alter_table("profile_build", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_build_run_id"))
    op.drop_table("profile_build")
