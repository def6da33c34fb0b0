"""Staff sessions kept in the database: opened at login, checked on every request, revocable.

The browser (or an API client) holds a random token of 32 bytes; the table holds only its
SHA-256 (:class:`~assess.accounts.models.StaffSession`), so a copy of the table signs nobody in.
A session is good while all of these hold: it is not revoked, its absolute expiry has not passed,
it was used within the idle limit, its user is enabled, and (for an account with a second factor)
the TOTP code was given. Any worker checks this with one indexed query, so logging out, "log out
everywhere", disabling a user and resetting a password end its sessions at once on every worker.

``last_seen_at`` is written at most once a minute per session, so a console page that polls (the
live monitor) does not write on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from assess.accounts.models import StaffSession, StaffUser
from itembank.db import aware_utc
from itembank.models import utcnow

__all__ = [
    "SessionPolicy",
    "SignedIn",
    "hash_token",
    "open_session",
    "pass_second_factor",
    "resolve_session",
    "revoke_session",
    "revoke_user_sessions",
]

_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a staff session lives: at most ``hours`` from login, ``idle_minutes`` between requests."""

    hours: float = 10.0
    idle_minutes: float = 60.0


@dataclass(frozen=True)
class SignedIn:
    """A session just opened: the token to hand to the client (shown this once) and its row id."""

    token: str
    session_id: int
    expires_at: datetime


def hash_token(token: str) -> str:
    """The stored form of a session token (hex SHA-256: the token is random, so no salt or KDF is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    *,
    session: Session,
    user: StaffUser,
    now: datetime,
    policy: SessionPolicy,
    second_factor_pending: bool = False,
    client: str = "",
    user_agent: str = "",
) -> SignedIn:
    """Open a session for ``user`` in the caller's transaction."""
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=hash_token(token),
        user_id=int(user.id or 0),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=policy.hours),
        second_factor_pending=second_factor_pending,
        client=client[:64],
        user_agent=user_agent[:200],
    )
    session.add(row)
    session.flush()
    return SignedIn(token, int(row.id or 0), row.expires_at)


def resolve_session(
    *, session: Session, token: str | None, now: datetime, policy: SessionPolicy, pending_ok: bool = False
) -> tuple[StaffSession, StaffUser] | None:
    """The live session of ``token`` and its user, or ``None`` (see the module docstring for "live").

    ``pending_ok`` accepts a session still waiting for its second factor (only the TOTP page
    does). A live session's ``last_seen_at`` moves on, at most once a minute.
    """
    if not token or len(token) > 128:
        return None
    found = session.exec(
        select(StaffSession, StaffUser)
        .join(StaffUser, col(StaffUser.id) == col(StaffSession.user_id))
        .where(col(StaffSession.token_hash) == hash_token(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if (
        row.revoked_at is not None
        or user.disabled_at is not None
        or aware_utc(row.expires_at) <= now
        or aware_utc(row.last_seen_at) + timedelta(minutes=policy.idle_minutes) <= now
        or (row.second_factor_pending and not pending_ok)
    ):
        return None
    if now - aware_utc(row.last_seen_at) >= _TOUCH_EVERY:
        session.execute(update(StaffSession).where(col(StaffSession.id) == row.id).values(last_seen_at=now))
    return row, user


def pass_second_factor(*, session: Session, session_id: int) -> None:
    """Mark a session's second factor as given (its TOTP code checked)."""
    session.execute(update(StaffSession).where(col(StaffSession.id) == session_id).values(second_factor_pending=False))


def revoke_session(*, session: Session, session_id: int, now: datetime | None = None) -> None:
    """End one session (log out)."""
    session.execute(
        update(StaffSession)
        .where(col(StaffSession.id) == session_id, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now or utcnow())
    )


def revoke_user_sessions(
    *, session: Session, user_id: int, now: datetime | None = None, keep: int | None = None
) -> int:
    """End every live session of a user (except ``keep``); how many were ended."""
    query = update(StaffSession).where(col(StaffSession.user_id) == user_id, col(StaffSession.revoked_at).is_(None))
    if keep is not None:
        query = query.where(col(StaffSession.id) != keep)
    result = session.execute(query.values(revoked_at=now or utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
