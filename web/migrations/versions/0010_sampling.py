"""sampling: the national sample design's draw, schools and student weights (issue 14)

``sample_draw``: one draw of a design for an assessment (the design file, the seed, the frame's
enrolment per stratum); ``sample_school``: each sampled school and replacement with its inclusion
probability and, once weighted, its part in the weights and its jackknife zone; ``sample_weight``:
each sampled student's final weight, its factors and its zone and half (``assess.sampling.store``).

Revision ID: 0010_sampling
Revises: 0008_profile_store
Create Date: 2026-12-03 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_sampling"
down_revision: str | None = "0008_profile_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sample_draw",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("frame_source", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("n_schools", sa.Integer(), nullable=False),
        sa.Column("n_sampled", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("design", sa.Text(), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("drawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("weighted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_sample_draw_assessment_id_assessment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_draw")),
        sa.UniqueConstraint("assessment_id", name=op.f("uq_sample_draw_assessment_id")),
    )  # fmt: skip
    op.create_table(
        "sample_school",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("stratum", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("sort_position", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("replaces", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("enrolment", sa.JSON(), nullable=False),
        sa.Column("measure", sa.Float(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("certainty", sa.Boolean(), nullable=False),
        sa.Column("participated", sa.Boolean(), nullable=True),
        sa.Column("used", sa.Boolean(), nullable=True),
        sa.Column("base_weight", sa.Float(), nullable=True),
        sa.Column("nonresponse_factor", sa.Float(), nullable=True),
        sa.Column("zone", sa.Integer(), nullable=True),
        sa.Column("half", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["draw_id"], ["sample_draw.id"], name=op.f("fk_sample_school_draw_id_sample_draw"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_school")),
        sa.UniqueConstraint("draw_id", "code", name=op.f("uq_sample_school_draw_id_code")),
    )  # fmt: skip
    with op.batch_alter_table("sample_school", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_school_draw_id"), ["draw_id"], unique=False)
    op.create_table(
        "sample_weight",
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("assessed", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Float(), nullable=False),
        sa.Column("base", sa.Float(), nullable=False),
        sa.Column("school_adjustment", sa.Float(), nullable=False),
        sa.Column("within", sa.Float(), nullable=False),
        sa.Column("student_adjustment", sa.Float(), nullable=False),
        sa.Column("trim", sa.Float(), nullable=False),
        sa.Column("zone", sa.Integer(), nullable=False),
        sa.Column("half", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["draw_id"], ["sample_draw.id"], name=op.f("fk_sample_weight_draw_id_sample_draw"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["sample_school.id"], name=op.f("fk_sample_weight_school_id_sample_school")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["student.id"], name=op.f("fk_sample_weight_student_id_student")),
        sa.PrimaryKeyConstraint("draw_id", "student_id", name=op.f("pk_sample_weight")),
    )  # fmt: skip
    with op.batch_alter_table("sample_weight", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_weight_school_id"), ["school_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sample_weight_student_id"), ["student_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample_weight", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_weight_student_id"))
        batch_op.drop_index(batch_op.f("ix_sample_weight_school_id"))
    op.drop_table("sample_weight")
    with op.batch_alter_table("sample_school", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_school_draw_id"))
    op.drop_table("sample_school")
    op.drop_table("sample_draw")
