"""login_failure: failed logins counted in the database, shared by every app worker

One row per ticket or client address (``subject``), with the start of its window (epoch
seconds) and the failures in it. Until now each worker counted on its own, so ``N`` workers gave
a guesser ``N`` allowances and a restart forgot the counts.

Revision ID: 0004_login_failure
Revises: 0003_response_index
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_login_failure"
down_revision: str | None = "0003_response_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_login_failure")),
    )


def downgrade() -> None:
    op.drop_table("login_failure")
