"""Staff users: create, list (filtered by scope), find, disable, enable, reset and change passwords.

Every function takes the acting :class:`~assess.accounts.scope.Actor` and works in the caller's
transaction. Permission first (the role must hold ``users.manage`` and may manage the target's
role: :func:`~assess.accounts.roles.can_manage_role`), then scope: a bureau sees, creates and
changes only school accounts whose school lies under its area; any other account answers as if
it did not exist (:class:`~assess.accounts.exceptions.OutOfScope`). Every change is audited and
ends the target's sessions where it should (disable, reset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.exceptions import AccountInvalid, Forbidden, OutOfScope
from assess.accounts.models import StaffTotp, StaffUser, StaffUserPublic
from assess.accounts.passwords import check_password_policy, hash_password, new_password, verify_password
from assess.accounts.roles import ROLE_CODES, can_manage_role, role
from assess.accounts.scope import Actor, Scope, visible_area, visible_school
from assess.accounts.sessions import revoke_user_sessions
from assess.models import Area, School
from itembank.models import utcnow

__all__ = [
    "NewUser",
    "change_password",
    "create_user",
    "disable_user",
    "enable_user",
    "find_user",
    "list_users",
    "normalise_username",
    "reset_password",
    "scope_of",
]

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


@dataclass(frozen=True)
class NewUser:
    """A user just created or reset, with the one-time password to hand over (shown this once)."""

    user: StaffUserPublic
    password: str


def normalise_username(username: str) -> str:
    """A username as stored: trimmed and lower case (``Zhang.Wei`` and ``zhang.wei`` are one user)."""
    return username.strip().lower()


def scope_of(session: Session, user: StaffUser) -> Scope:
    """The scope a user's role and node give it."""
    if user.role == "bureau":
        area = session.get(Area, user.area_id)
        assert area is not None
        return Scope.of_area(area)
    if user.role == "school":
        school = session.get(School, user.school_id)
        assert school is not None
        return Scope.of_school(school)
    return Scope.everything()


def _public(session: Session, user: StaffUser, totp: set[int] | None = None) -> StaffUserPublic:
    code = name = None
    if user.area_id is not None:
        area = session.get(Area, user.area_id)
        code, name = (area.code, area.name) if area is not None else (None, None)
    elif user.school_id is not None:
        school = session.get(School, user.school_id)
        code, name = (school.code, school.name) if school is not None else (None, None)
    uid = int(user.id or 0)
    enabled = (uid in totp) if totp is not None else _has_totp(session, uid)
    return StaffUserPublic(
        id=uid,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        scope_path=user.scope_path,
        scope_code=code,
        scope_name=name,
        disabled=user.disabled_at is not None,
        must_change_password=user.must_change_password,
        totp_enabled=enabled,
        created_at=user.created_at,
    )


def _has_totp(session: Session, user_id: int) -> bool:
    row = session.get(StaffTotp, user_id)
    return row is not None and row.confirmed_at is not None


def _require_manager(actor: Actor, target_role: str) -> None:
    actor.require("users.manage")
    if not can_manage_role(actor.role, target_role):
        raise Forbidden(f"你的账号不能管理「{role(target_role).name}」账号。")


def create_user(
    *,
    session: Session,
    actor: Actor,
    username: str,
    role_code: str,
    display_name: str = "",
    area_code: str | None = None,
    school_code: str | None = None,
    password: str | None = None,
) -> NewUser:
    """Create a staff account; without ``password`` a one-time one is made (and must be changed at login).

    A bureau account names its area (``area_code``), a school account its school
    (``school_code``); both must lie inside the actor's scope.

    Raises
    ------
    AccountInvalid
        A malformed or taken username, an unknown role, a missing or superfluous scope node, a
        weak password.
    Forbidden
        The actor may not create accounts of this role.
    OutOfScope
        The area or school does not exist or lies outside the actor's scope.
    """
    name = normalise_username(username)
    if not _USERNAME_RE.match(name):
        raise AccountInvalid("用户名需 3-64 个字符，只能用小写字母、数字和 . _ -，并以字母或数字开头。")
    if role_code not in ROLE_CODES:
        raise AccountInvalid(f"未知的角色 {role_code!r}（可选：{', '.join(ROLE_CODES)}）。")
    _require_manager(actor, role_code)
    if session.exec(select(StaffUser.id).where(StaffUser.username == name)).first() is not None:
        raise AccountInvalid(f"用户名 {name} 已被使用。")
    user = StaffUser(
        username=name,
        display_name=display_name.strip()[:64],
        role=role_code,
        password_hash="",
        created_by_id=actor.user_id,
    )
    needs = role(role_code).scoped_to
    if needs == "area":
        if not area_code or school_code:
            raise AccountInvalid("教育局账号需要指定所属地区（地区代码），不能指定学校。")
        area = visible_area(session, actor.scope, area_code)
        user.area_id, user.scope_path = area.id, area.path
    elif needs == "school":
        if not school_code or area_code:
            raise AccountInvalid("学校账号需要指定所属学校（学校代码），不能指定地区。")
        school = visible_school(session, actor.scope, school_code)
        user.school_id, user.scope_path = school.id, school.path
    elif area_code or school_code:
        raise AccountInvalid(f"「{role(role_code).name}」账号不属于某个地区或学校。")
    if actor.scope.kind != "all" and not actor.scope.covers(user.scope_path):
        raise OutOfScope("没有找到该地区或学校（或不在你的管理范围内）。")
    one_time = password is None
    plain = new_password() if password is None else password
    check_password_policy(plain, username=name)
    user.password_hash = hash_password(plain)
    user.must_change_password = one_time
    session.add(user)
    session.flush()
    audit.record(
        session, actor, "user.create", target=f"user:{name}", scope_path=user.scope_path, detail={"role": role_code}
    )
    return NewUser(_public(session, user), plain)


def list_users(
    *, session: Session, actor: Actor, role_code: str | None = None, include_disabled: bool = True
) -> list[StaffUserPublic]:
    """The accounts the actor may manage, by role and username: all for an admin, a bureau's school accounts.

    Raises
    ------
    Forbidden
        The actor may not manage accounts.
    """
    actor.require("users.manage")
    query = select(StaffUser).where(actor.scope.users())
    manageable = [r for r in ROLE_CODES if can_manage_role(actor.role, r)]
    query = query.where(col(StaffUser.role).in_(manageable))
    if role_code is not None:
        query = query.where(StaffUser.role == role_code)
    if not include_disabled:
        query = query.where(col(StaffUser.disabled_at).is_(None))
    users = session.exec(query.order_by(col(StaffUser.role), col(StaffUser.username))).all()
    with_totp = set(session.exec(select(StaffTotp.user_id).where(col(StaffTotp.confirmed_at).is_not(None))).all())
    return [_public(session, u, with_totp) for u in users]


def find_user(*, session: Session, actor: Actor, username: str) -> StaffUser:
    """The account ``username`` if the actor may manage it (else :class:`OutOfScope`, as if absent)."""
    actor.require("users.manage")
    name = normalise_username(username)
    user = session.exec(select(StaffUser).where(StaffUser.username == name, actor.scope.users())).first()
    if user is None or not can_manage_role(actor.role, user.role):
        raise OutOfScope(f"没有找到账号 {name}（或不在你的管理范围内）。")
    return user


def disable_user(*, session: Session, actor: Actor, username: str, now: datetime | None = None) -> StaffUserPublic:
    """Disable an account and end all of its sessions at once (idempotent).

    Raises
    ------
    AccountInvalid
        The actor tried to disable itself.
    """
    user = find_user(session=session, actor=actor, username=username)
    if user.id is not None and user.id == actor.user_id:
        raise AccountInvalid("不能停用自己的账号。")
    if user.disabled_at is None:
        user.disabled_at = now or utcnow()
        session.add(user)
        audit.record(session, actor, "user.disable", target=f"user:{user.username}", scope_path=user.scope_path)
    revoke_user_sessions(session=session, user_id=int(user.id or 0), now=now)
    return _public(session, user)


def enable_user(*, session: Session, actor: Actor, username: str) -> StaffUserPublic:
    """Enable a disabled account again (its old sessions stay dead)."""
    user = find_user(session=session, actor=actor, username=username)
    if user.disabled_at is not None:
        user.disabled_at = None
        session.add(user)
        audit.record(session, actor, "user.enable", target=f"user:{user.username}", scope_path=user.scope_path)
    return _public(session, user)


def reset_password(*, session: Session, actor: Actor, username: str, now: datetime | None = None) -> NewUser:
    """Give an account a new one-time password (to change at the next login) and end its sessions."""
    user = find_user(session=session, actor=actor, username=username)
    plain = new_password()
    user.password_hash = hash_password(plain)
    user.must_change_password = True
    user.password_changed_at = now or utcnow()
    session.add(user)
    revoke_user_sessions(session=session, user_id=int(user.id or 0), now=now)
    audit.record(session, actor, "user.reset_password", target=f"user:{user.username}", scope_path=user.scope_path)
    return NewUser(_public(session, user), plain)


def change_password(
    *,
    session: Session,
    actor: Actor,
    current: str,
    new: str,
    keep_session_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """The actor changes its own password; its other sessions end (``keep_session_id`` stays signed in).

    Raises
    ------
    AccountInvalid
        The current password is wrong, or the new one fails the policy or equals the old.
    """
    if actor.user_id is None:
        raise AccountInvalid("命令行操作员没有密码可改。")
    user = session.get(StaffUser, actor.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise AccountInvalid("当前密码不正确。")
    check_password_policy(new, username=user.username)
    if new == current:
        raise AccountInvalid("新密码不能与当前密码相同。")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now or utcnow()
    session.add(user)
    revoke_user_sessions(session=session, user_id=int(user.id or 0), now=now, keep=keep_session_id)
    audit.record(session, actor, "user.change_password", target=f"user:{user.username}", scope_path=user.scope_path)
