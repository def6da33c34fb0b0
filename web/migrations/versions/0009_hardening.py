"""hardening: the login throttle's backoff slot, a sitting's assessed verdict, signed-out devices

``login_failure.next_at``: past its limit, a client address may try once per backoff slot
(``assess.throttle``) instead of being locked out for the rest of the window.

``test_session.assessed`` (``assess.scoring_rule``): whether an ended sitting had the blueprint's
minimum of scored answers; aggregates count only those. Existing ended sittings are judged by the
smallest ``min_items`` of their assessment's blueprints (20, the default, without one) and must
have a scale score; their stored values are left as they are.

``revoked_device``: device tokens signed out by a logout, refused until their tokens expire.

Revision ID: 0009_hardening
Revises: 0006_plausible_values
Create Date: 2026-12-03 04:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_hardening"
down_revision: str | None = "0006_plausible_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_DEFAULT_MIN_ITEMS = 20  # assess.blueprints.BlueprintSpec.min_items


def _min_items(spec: Any) -> int:
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            return _DEFAULT_MIN_ITEMS
    value = spec.get("min_items", _DEFAULT_MIN_ITEMS) if isinstance(spec, dict) else _DEFAULT_MIN_ITEMS
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return _DEFAULT_MIN_ITEMS


def upgrade() -> None:
    with op.batch_alter_table("login_failure") as batch:
        batch.add_column(sa.Column("next_at", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("test_session") as batch:
        batch.add_column(sa.Column("assessed", sa.Boolean(), nullable=True))
    op.create_table(
        "revoked_device",
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_revoked_device")),
    )
    conn = op.get_bind()
    minimum: dict[int, int] = {}
    for assessment_id, spec in conn.execute(sa.text("SELECT assessment_id, spec FROM blueprint")):
        m = _min_items(spec)
        minimum[int(assessment_id)] = min(minimum.get(int(assessment_id), m), m)
    ended = conn.execute(
        sa.text("SELECT DISTINCT assessment_id FROM test_session WHERE status IN ('finished', 'expired')")
    ).scalars()
    judge = sa.text(
        "UPDATE test_session SET assessed = CASE WHEN n_scored >= :m AND scale_score IS NOT NULL "
        "THEN :yes ELSE :no END WHERE assessment_id = :a AND status IN ('finished', 'expired')"
    ).bindparams(sa.bindparam("yes", type_=sa.Boolean()), sa.bindparam("no", type_=sa.Boolean()))
    for assessment_id in list(ended):
        m = minimum.get(int(assessment_id), _DEFAULT_MIN_ITEMS)
        conn.execute(judge, {"m": m, "a": int(assessment_id), "yes": True, "no": False})


def downgrade() -> None:
    op.drop_table("revoked_device")
    with op.batch_alter_table("test_session") as batch:
        batch.drop_column("assessed")
    with op.batch_alter_table("login_failure") as batch:
        batch.drop_column("next_at")
