"""response: drop the index on session_id alone (the two unique indexes begin with it)

Every stored answer updated four indexes on ``response``; ``ix_response_session_id`` duplicated
the leading column of ``uq_response_session_id_position`` and
``uq_response_session_id_item_version_id``, which serve the same lookups.

Revision ID: 0003_response_index
Revises: 0002_assess
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_response_index"
down_revision: str | None = "0002_assess"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_session_id"))


def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_session_id"), ["session_id"], unique=False)
