from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts.models import StaffSession, StaffUser
from assess.accounts.sessions import (
    SessionPolicy,
    hash_token,
    open_session,
    pass_second_factor,
    resolve_session,
    revoke_session,
    revoke_user_sessions,
)
from itembank.models import utcnow
from tests.console_world import ConsoleWorld


def test_a_session_lives_until_expiry_idle_or_revocation(engine: Engine, cworld: ConsoleWorld) -> None:
    policy, t0 = SessionPolicy(hours=8, idle_minutes=30), utcnow()
    with Session(engine) as s:
        user = s.exec(select(StaffUser).where(StaffUser.username == "lab")).one()
        signed = open_session(session=s, user=user, now=t0, policy=policy)
        s.commit()
        row = s.get(StaffSession, signed.session_id)
        assert row is not None and row.token_hash == hash_token(signed.token) and signed.token not in row.token_hash
        assert resolve_session(session=s, token=signed.token, now=t0, policy=policy) is not None
        assert resolve_session(session=s, token=signed.token + "x", now=t0, policy=policy) is None
        assert resolve_session(session=s, token=None, now=t0, policy=policy) is None
        # used every 20 minutes it lives on, up to its 8 hours
        at = t0
        for _ in range(23):
            at += timedelta(minutes=20)
            assert resolve_session(session=s, token=signed.token, now=at, policy=policy) is not None
            s.commit()
        assert resolve_session(session=s, token=signed.token, now=t0 + timedelta(hours=8), policy=policy) is None
        idle = open_session(session=s, user=user, now=t0, policy=policy)
        s.commit()
        assert resolve_session(session=s, token=idle.token, now=t0 + timedelta(minutes=31), policy=policy) is None
        gone = open_session(session=s, user=user, now=t0, policy=policy)
        revoke_session(session=s, session_id=gone.session_id)
        s.commit()
        assert resolve_session(session=s, token=gone.token, now=t0, policy=policy) is None


def test_a_pending_second_factor_signs_nobody_in_until_given(engine: Engine, cworld: ConsoleWorld) -> None:
    policy, t0 = SessionPolicy(), utcnow()
    with Session(engine) as s:
        user = s.exec(select(StaffUser).where(StaffUser.username == "root")).one()
        signed = open_session(session=s, user=user, now=t0, policy=policy, second_factor_pending=True)
        s.commit()
        assert resolve_session(session=s, token=signed.token, now=t0, policy=policy) is None
        assert resolve_session(session=s, token=signed.token, now=t0, policy=policy, pending_ok=True) is not None
        pass_second_factor(session=s, session_id=signed.session_id)
        s.commit()
        assert resolve_session(session=s, token=signed.token, now=t0, policy=policy) is not None
        other = open_session(session=s, user=user, now=t0, policy=policy)
        assert revoke_user_sessions(session=s, user_id=int(user.id or 0), keep=other.session_id) == 1
        s.commit()
        assert resolve_session(session=s, token=other.token, now=t0, policy=policy) is not None
