"""item_version: the interactive item types' presentation and scoring data (issue 17)

``interaction``: the public presentation data of an ordering, matching, inline-choice, entry or
hotspot item (targets, gaps, regions, the entry's label). ``rule``: the private scoring data of
an entry item (tolerance, accepted answers), private like ``key``. Both nullable JSON: the items
of the earlier types have neither.

Revision ID: 0013_interactions
Revises: 0012_research
Create Date: 2026-12-04 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_interactions"
down_revision: str | None = "0012_research"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE ... ADD COLUMN on both dialects: a batch copy of item_version would have
    # to drop a table that response and item_parameter rows point at
    op.add_column("item_version", sa.Column("interaction", sa.JSON(), nullable=True))
    op.add_column("item_version", sa.Column("rule", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("item_version", "rule")
    op.drop_column("item_version", "interaction")
