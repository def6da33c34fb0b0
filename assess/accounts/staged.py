"""Staged uploads: a checked file kept until its owner confirms it, or it expires.

A registration file (:mod:`assess.console.roster`) and an item file
(:mod:`assess.research.bankimport`) are both checked completely, kept as a
:class:`~assess.accounts.models.StagedUpload` under a random token, and written only when the same
user confirms them. ``scope_path`` says what the file is for (a school's code, or the item bank's
mark), so a token never confirms a file staged for something else.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from assess.accounts.models import StagedUpload
from itembank.db import aware_utc

__all__ = ["find_staged", "keep_staged"]


def keep_staged(
    *,
    session: Session,
    user_id: int | None,
    scope_path: str,
    filename: str,
    content: bytes,
    now: datetime,
    lifetime: timedelta,
) -> str:
    """Keep a checked file for ``lifetime`` (forgetting every expired one); its token."""
    session.execute(delete(StagedUpload).where(col(StagedUpload.expires_at) < now))
    token = secrets.token_urlsafe(18)
    session.add(
        StagedUpload(
            token=token,
            user_id=user_id,
            scope_path=scope_path,
            filename=filename,
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def find_staged(
    *, session: Session, token: str, user_id: int | None, scope_path: str, now: datetime
) -> StagedUpload | None:
    """The file staged under ``token`` by ``user_id`` for ``scope_path`` and not expired, else ``None``."""
    staged = session.exec(select(StagedUpload).where(col(StagedUpload.token) == token)).first()
    if (
        staged is None
        or staged.user_id != user_id
        or staged.scope_path != scope_path
        or aware_utc(staged.expires_at) < now
    ):
        return None
    return staged
