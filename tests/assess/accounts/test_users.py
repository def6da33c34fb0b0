from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts import users
from assess.accounts.exceptions import AccountInvalid, Forbidden, OutOfScope
from assess.accounts.models import AuditEvent, StaffSession, StaffUser
from assess.accounts.passwords import verify_password
from assess.accounts.scope import Actor
from assess.accounts.sessions import SessionPolicy, open_session, resolve_session
from itembank.models import utcnow
from tests.console_world import ConsoleWorld


def test_an_admin_creates_every_role_with_its_node(engine: Engine, actor: Callable[[str], Actor]) -> None:
    root = actor("root")
    with Session(engine) as s:
        made = users.create_user(session=s, actor=root, username=" Wang.Fang ", role_code="bureau", area_code="9901")
        assert made.user.username == "wang.fang" and made.user.scope_code == "9901" and made.user.must_change_password
        assert made.user.scope_path == "/99/9901/" and len(made.password) >= 14
        stored = s.exec(select(StaffUser).where(StaffUser.username == "wang.fang")).one()
        assert verify_password(stored.password_hash, made.password)
        users.create_user(
            session=s,
            actor=root,
            username="sch9",
            role_code="school",
            school_code="SNEXT01",
            password="A-long-enough-1",
        )
        users.create_user(session=s, actor=root, username="res2", role_code="researcher", password="A-long-enough-1")
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "user.create")).all()
        assert [e.target for e in events] == ["user:wang.fang", "user:sch9", "user:res2"]
        assert all(e.actor == "root" and e.client == "203.0.113.9" for e in events)
        assert made.password not in str([e.detail for e in events])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "ab", "role_code": "admin"}, "3-64"),
        ({"username": "root", "role_code": "admin"}, "已被使用"),
        ({"username": "x1x", "role_code": "boss"}, "未知的角色"),
        ({"username": "x1x", "role_code": "bureau"}, "指定所属地区"),
        ({"username": "x1x", "role_code": "bureau", "area_code": "99", "school_code": "SWEB001"}, "不能指定学校"),
        ({"username": "x1x", "role_code": "school", "area_code": "99"}, "指定所属学校"),
        ({"username": "x1x", "role_code": "admin", "area_code": "99"}, "不属于"),
        ({"username": "x1x", "role_code": "admin", "password": "short"}, "至少"),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_written(
    engine: Engine, actor: Callable[[str], Actor], kwargs: dict[str, str], message: str
) -> None:
    with Session(engine) as s:
        before = len(s.exec(select(StaffUser)).all())
        with pytest.raises(AccountInvalid, match=message):
            users.create_user(session=s, actor=actor("root"), **kwargs)
        s.rollback()
        assert len(s.exec(select(StaffUser)).all()) == before


def test_a_bureau_manages_only_school_accounts_under_it(engine: Engine, actor: Callable[[str], Actor]) -> None:
    county1 = actor("county1")
    with Session(engine) as s:
        made = users.create_user(
            session=s, actor=county1, username="sweb.head", role_code="school", school_code="SWEB001"
        )
        assert made.user.scope_code == "SWEB001"
        with pytest.raises(OutOfScope) as info:  # a school of the neighbouring county: as if absent
            users.create_user(session=s, actor=county1, username="x2x", role_code="school", school_code="SNEXT01")
        assert "SNEXT01" not in str(info.value)
        with pytest.raises(Forbidden):
            users.create_user(session=s, actor=county1, username="x3x", role_code="bureau", area_code="990101")
        listed = [u.username for u in users.list_users(session=s, actor=county1)]
        assert listed == ["school1", "sweb.head"]  # not school2 (another county), not itself, no bureau
        prov = [u.username for u in users.list_users(session=s, actor=actor("prov99"))]
        assert prov == ["school1", "school2", "sweb.head"]
        with pytest.raises(OutOfScope):
            users.disable_user(session=s, actor=county1, username="school2")
        with pytest.raises(OutOfScope):
            users.reset_password(session=s, actor=county1, username="county2")
        with pytest.raises(Forbidden):
            users.list_users(session=s, actor=actor("school1"))
        with pytest.raises(Forbidden):
            users.list_users(session=s, actor=actor("lab"))


def test_disabling_or_resetting_ends_the_sessions_at_once(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    policy, now = SessionPolicy(), utcnow()
    with Session(engine) as s:
        target = s.exec(select(StaffUser).where(StaffUser.username == "school1")).one()
        one = open_session(session=s, user=target, now=now, policy=policy)
        two = open_session(session=s, user=target, now=now, policy=policy)
        s.commit()
        assert resolve_session(session=s, token=one.token, now=now, policy=policy) is not None
        fresh = users.reset_password(session=s, actor=actor("county1"), username="school1")
        s.commit()
        assert resolve_session(session=s, token=one.token, now=now, policy=policy) is None
        assert resolve_session(session=s, token=two.token, now=now, policy=policy) is None
        s.refresh(target)
        assert verify_password(target.password_hash, fresh.password) and target.must_change_password
        three = open_session(session=s, user=target, now=now, policy=policy)
        users.disable_user(session=s, actor=actor("root"), username="school1")
        s.commit()
        assert resolve_session(session=s, token=three.token, now=now, policy=policy) is None
        assert all(r.revoked_at is not None for r in s.exec(select(StaffSession)).all())
        with pytest.raises(AccountInvalid, match="自己"):
            users.disable_user(session=s, actor=actor("root"), username="root")
        listed = {u.username: u.disabled for u in users.list_users(session=s, actor=actor("root"))}
        assert listed["school1"] and not listed["root"]
        users.enable_user(session=s, actor=actor("root"), username="school1")
        s.commit()
        assert resolve_session(session=s, token=three.token, now=now, policy=policy) is None  # old sessions stay dead


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    policy, now = SessionPolicy(), utcnow()
    with Session(engine) as s:
        me = s.exec(select(StaffUser).where(StaffUser.username == "county2")).one()
        here = open_session(session=s, user=me, now=now, policy=policy)
        there = open_session(session=s, user=me, now=now, policy=policy)
        s.commit()
        who = actor("county2")
        with pytest.raises(AccountInvalid, match="当前密码不正确"):
            users.change_password(session=s, actor=who, current="wrong", new="Another-good-pass-2")
        users.change_password(
            session=s,
            actor=who,
            current="Kx7-correct-horse",
            new="Another-good-pass-2",
            keep_session_id=here.session_id,
        )
        s.commit()
        assert resolve_session(session=s, token=here.token, now=now, policy=policy) is not None
        assert resolve_session(session=s, token=there.token, now=now, policy=policy) is None
