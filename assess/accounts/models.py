"""Staff account tables: users with a role and a scope node, server-side sessions, TOTP, the audit log.

A staff user (教育局、学校、研究人员、管理员) has one role (:mod:`assess.accounts.roles`) and, for
a bureau or a school, one node of the people tree: a bureau user an :class:`~assess.models.Area`
(province, city or county, and so everything under it), a school user a
:class:`~assess.models.School`. ``scope_path`` repeats that node's materialised path (empty for
admins and researchers, who see everything), so "the users under this bureau" is the same
indexed prefix query as "the schools under this bureau"; codes never change, and neither do paths.

Sessions live in the database (:class:`StaffSession`): the browser holds a random token and the
table only its SHA-256, so a copy of the table lets nobody in, and a session dies the moment its
row is revoked (log out, log out everywhere, a disabled user, a password reset).

The audit log (:class:`AuditEvent`) is append-only: the migration installs triggers on SQLite and
PostgreSQL that refuse every UPDATE and DELETE, and no service writes anything but inserts.

A console job (:class:`StaffJob`) is work too long for a request (every school profile of an area
as one ZIP): its owner, its scope, its progress and, once done, its file; any app worker can
report its progress, since it lives in the database. A staged upload (:class:`StagedUpload`) is a
registration file that passed its checks and waits for the user to confirm it.

Layers follow the house style: ``XBase`` -> ``X(table=True)`` -> ``XPublic``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, LargeBinary
from sqlmodel import Field, SQLModel

from itembank.models import utcnow

__all__ = [
    "AuditEvent",
    "AuditEventPublic",
    "StaffJob",
    "StaffSession",
    "StagedUpload",
    "StaffTotp",
    "StaffUser",
    "StaffUserBase",
    "StaffUserPublic",
]


# ============================================================================================ users
# Staff user, shared fields.
class StaffUserBase(SQLModel):
    """A staff account: login name, the name shown in the console, and its role."""

    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=64)
    role: str = Field(max_length=16, index=True)


# Staff user row: a bureau has an area, a school user a school, admins and researchers neither.
class StaffUser(StaffUserBase, table=True):
    """A staff account with its scope node and argon2id password hash."""

    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(
            "(role = 'bureau' AND area_id IS NOT NULL AND school_id IS NULL)"
            " OR (role = 'school' AND school_id IS NOT NULL AND area_id IS NULL)"
            " OR (role IN ('admin', 'researcher') AND area_id IS NULL AND school_id IS NULL)",
            name="scope_fits_role",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    area_id: int | None = Field(default=None, foreign_key="area.id", index=True)
    school_id: int | None = Field(default=None, foreign_key="school.id", index=True)
    scope_path: str = Field(default="", max_length=255, index=True)
    password_hash: str = Field(max_length=255)
    must_change_password: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    password_changed_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


# Staff user, handed out (never the password hash).
class StaffUserPublic(StaffUserBase):
    """A staff account as listed: its scope as codes and names, its state."""

    id: int
    scope_path: str
    scope_code: str | None
    scope_name: str | None
    disabled: bool
    must_change_password: bool
    totp_enabled: bool
    created_at: datetime


# ============================================================================================ sessions
# Staff session row: the token's hash, its life, and whether the second factor is still awaited.
class StaffSession(SQLModel, table=True):
    """A signed-in staff browser (or API client); valid until it expires, idles out or is revoked."""

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    second_factor_pending: bool = False
    client: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)


# TOTP second factor of a staff user (admin and bureau): the secret sealed with a server key.
class StaffTotp(SQLModel, table=True):
    """A user's RFC 6238 secret (AES-GCM under a key outside the database) and the last step used."""

    __tablename__ = "staff_totp"

    user_id: int = Field(primary_key=True, foreign_key="staff_user.id")
    sealed_secret: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None
    last_step: int = 0  # a code is good once: only for a time step after this one


# ============================================================================================ audit
# Audit event row: append-only (triggers refuse UPDATE and DELETE).
class AuditEvent(SQLModel, table=True):
    """Who did what, when, from where, to what (and in which part of the people tree)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=48, index=True)
    target: str = Field(default="", max_length=128)
    scope_path: str = Field(default="", max_length=255, index=True)
    client: str = Field(default="", max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


# Audit event, handed out.
class AuditEventPublic(SQLModel):
    """An audit event as the admins' log shows it."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    scope_path: str
    client: str
    detail: dict[str, Any]


# ============================================================================================ jobs
# Console job row: a long piece of work a user started, its progress, and its file once done.
class StaffJob(SQLModel, table=True):
    """A background job of a staff user (``kind`` e.g. ``profiles_zip``), visible to its owner only."""

    __tablename__ = "staff_job"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=32, unique=True, index=True)  # random: a job id cannot be guessed
    user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    kind: str = Field(max_length=32)
    scope_path: str = Field(default="", max_length=255)
    target: str = Field(default="", max_length=128)
    status: str = Field(default="queued", max_length=16)  # queued | running | done | failed
    done: int = 0
    total: int = 0
    message: str = Field(default="", max_length=255)
    filename: str = Field(default="", max_length=128)
    media_type: str = Field(default="", max_length=96)
    content: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


# Staged upload row: a checked registration file awaiting the user's confirmation.
class StagedUpload(SQLModel, table=True):
    """A registration file that passed every check, kept until its owner confirms it (or it expires)."""

    __tablename__ = "staged_upload"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=32, unique=True, index=True)
    user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    scope_path: str = Field(default="", max_length=255)
    filename: str = Field(max_length=128)
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
