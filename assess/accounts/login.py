"""Staff login: username and password, then the TOTP code where the account has one, then a session.

:func:`log_in` is the first step and :func:`give_second_factor` the second. Both are plain
synchronous functions over an engine, each step in its own short transactions, so the web layer
runs them in a worker thread (an argon2id check takes tens of milliseconds) and the CLI calls
them directly.

Throttling (:class:`LoginThrottles`) claims an attempt before checking it
(:mod:`assess.accounts.throttle`), per account and per client address, and per account again for
TOTP codes, so a burst of parallel guesses gets no more checks than a slow one. An unknown
username costs the same argon2 work as a wrong password and the same answer, so a login does not
reveal which accounts exist. Every outcome is audited: success, failure (with the reason in the
detail, never the password), throttled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts import audit, totp
from assess.accounts.exceptions import StaffLoginFailed, StaffThrottled
from assess.accounts.models import StaffUser
from assess.accounts.passwords import burn_verification, hash_password, needs_rehash, verify_password
from assess.accounts.scope import Actor, Scope
from assess.accounts.sessions import SessionPolicy, open_session, pass_second_factor, resolve_session
from assess.accounts.throttle import AttemptThrottle
from assess.accounts.users import normalise_username, scope_of
from itembank.db import session_scope

__all__ = ["LoginStep", "LoginThrottles", "actor_of", "give_second_factor", "log_in"]

_WRONG = "用户名或密码不正确。"


@dataclass(frozen=True)
class LoginThrottles:
    """Attempts allowed per account, per client address and per account's TOTP codes, in one window."""

    per_user: AttemptThrottle
    per_client: AttemptThrottle
    per_totp: AttemptThrottle

    @classmethod
    def create(
        cls, *, engine: Engine, per_user: int = 5, per_client: int = 100, per_totp: int = 5, window_seconds: float = 900
    ) -> LoginThrottles:
        """Throttles counted in ``engine``'s database (shared by every worker)."""
        return cls(
            AttemptThrottle(engine, "staff", per_user, window_seconds),
            AttemptThrottle(engine, "staff-client", per_client, window_seconds),
            AttemptThrottle(engine, "totp", per_totp, window_seconds),
        )


@dataclass(frozen=True)
class LoginStep:
    """Where a login stands: a session token, and whether the TOTP code or a new password is still due.

    ``token`` is the new session's token (for the cookie or the bearer header). With
    ``needs_second_factor`` the session is good for nothing but :func:`give_second_factor`.
    """

    token: str
    session_id: int
    user_id: int
    username: str
    role: str
    needs_second_factor: bool
    must_change_password: bool


def actor_of(session: Session, user: StaffUser, *, client: str = "", session_id: int | None = None) -> Actor:
    """The acting user a signed-in account is, with its scope."""
    return Actor(int(user.id or 0), user.username, user.role, scope_of(session, user), client[:64], session_id)


def _audit_failure(engine: Engine, username: str, client: str, reason: str, user: StaffUser | None = None) -> None:
    with session_scope(engine) as session:
        who = Actor(user.id if user else None, username[:64], user.role if user else "", Scope.everything(), client)
        audit.record(session, who, "login.failure", target=f"user:{username[:60]}", detail={"reason": reason})


def log_in(
    *,
    engine: Engine,
    throttles: LoginThrottles,
    username: str,
    password: str,
    client: str,
    now: datetime,
    policy: SessionPolicy,
    user_agent: str = "",
) -> LoginStep:
    """Check a username and password and open a session (pending its second factor where one is set).

    Raises
    ------
    StaffThrottled
        Too many attempts for this account or from this address (nothing was checked).
    StaffLoginFailed
        An empty field, an unknown user, a wrong password or a disabled account (one answer for all).
    """
    name = normalise_username(username)
    if not name or not password:
        raise StaffLoginFailed("请输入用户名和密码。")
    if len(name) > 64 or len(password) > 256 or any(ch < " " or ch == "\x7f" for ch in name):
        raise StaffLoginFailed(_WRONG)  # a control character names no user (and a NUL cannot reach PostgreSQL)
    try:
        throttles.per_client.claim(client)
        throttles.per_user.claim(name)
    except StaffThrottled:
        with session_scope(engine) as session:
            who = Actor(None, name[:64], "", Scope.everything(), client)
            audit.record(session, who, "login.throttled", target=f"user:{name[:60]}")
        raise
    with session_scope(engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.username == name)).first()
    if user is None:
        burn_verification(password)
        _audit_failure(engine, name, client, "unknown user")
        raise StaffLoginFailed(_WRONG)
    if not verify_password(user.password_hash, password):
        _audit_failure(engine, name, client, "wrong password", user)
        raise StaffLoginFailed(_WRONG)
    if user.disabled_at is not None:
        _audit_failure(engine, name, client, "disabled", user)
        raise StaffLoginFailed("这个账号已被停用，请联系管理员。")
    throttles.per_user.clear(name)
    throttles.per_client.release(client)
    with session_scope(engine) as session:
        user = session.get(StaffUser, user.id)
        assert user is not None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            session.add(user)
        pending = totp.totp_enabled(session, int(user.id or 0))
        signed = open_session(
            session=session, user=user, now=now, policy=policy, second_factor_pending=pending,
            client=client, user_agent=user_agent,
        )  # fmt: skip
        if not pending:
            actor = actor_of(session, user, client=client, session_id=signed.session_id)
            audit.record(session, actor, "login.success", target=f"user:{name}", scope_path=user.scope_path)
        return LoginStep(
            signed.token, signed.session_id, int(user.id or 0), user.username, user.role, pending,
            user.must_change_password,
        )  # fmt: skip


def give_second_factor(
    *,
    engine: Engine,
    throttles: LoginThrottles,
    token: str,
    code: str,
    client: str,
    now: datetime,
    policy: SessionPolicy,
) -> LoginStep:
    """Check the TOTP code of a session waiting for it; the session is then signed in fully.

    Raises
    ------
    StaffLoginFailed
        No such pending session (expired, revoked), or a wrong or reused code.
    StaffThrottled
        Too many codes tried for this account.
    """
    with session_scope(engine) as session:
        found = resolve_session(session=session, token=token, now=now, policy=policy, pending_ok=True)
        if found is None or not found[0].second_factor_pending:
            raise StaffLoginFailed("登录已失效，请重新输入用户名和密码。")
        row, user = found
        uid, session_id = int(user.id or 0), int(row.id or 0)
    throttles.per_totp.claim(str(uid))
    refused: StaffLoginFailed | None = None
    with session_scope(engine) as session:
        owner = session.get(StaffUser, uid)
        assert owner is not None
        user = owner
        try:
            totp.verify_code(session=session, user_id=uid, code=code, now=now)
        except StaffLoginFailed as exc:
            refused = exc
        else:
            pass_second_factor(session=session, session_id=session_id)
            actor = actor_of(session, user, client=client, session_id=session_id)
            audit.record(session, actor, "login.success", target=f"user:{user.username}", scope_path=user.scope_path)
        step = LoginStep(token, session_id, uid, user.username, user.role, False, user.must_change_password)
    if refused is not None:
        _audit_failure(engine, step.username, client, "wrong totp code", user)
        raise refused
    throttles.per_totp.clear(str(uid))
    return step
