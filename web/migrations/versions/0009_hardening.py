"""hardening: the login throttle's backoff slot

``login_failure.next_at``: past its limit, a client address may try once per backoff slot
(``assess.throttle``) instead of being locked out for the rest of the window.

Revision ID: 0009_hardening
Revises: 0004_login_failure
Create Date: 2026-12-03 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_hardening"
down_revision: str | None = "0004_login_failure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_failure") as batch:
        batch.add_column(sa.Column("next_at", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("login_failure") as batch:
        batch.drop_column("next_at")
