from __future__ import annotations

import re

from click.testing import CliRunner, Result
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent, StaffSession, StaffUser
from assess.accounts.passwords import verify_password
from itembank.db import get_engine
from tests.console_world import build_console_world
from web.commands.users import users_group


def invoke(*args: str) -> Result:
    return CliRunner().invoke(users_group, list(args))


def test_an_operator_manages_accounts_from_the_command_line(env_db: str) -> None:
    build_console_world(get_engine())
    made = invoke("create", "Li.Na", "--role", "bureau", "--area", "990101", "--name", "测试区教育局")
    assert made.exit_code == 0, made.output
    password = re.search(r"one-time password: (\S+)", made.output)
    assert password is not None and "created li.na (bureau of 990101 测试区)" in made.output
    with Session(get_engine()) as s:
        user = s.exec(select(StaffUser).where(StaffUser.username == "li.na")).one()
        assert verify_password(user.password_hash, password.group(1)) and user.must_change_password
    listed = invoke("list", "--role", "bureau")
    assert listed.exit_code == 0 and "li.na" in listed.output and "must change password" in listed.output
    assert "school1" not in listed.output
    refused = invoke("create", "x9x", "--role", "school", "--area", "99")
    assert refused.exit_code == 1 and "学校账号需要指定所属学校" in refused.output
    assert invoke("disable", "li.na").exit_code == 0
    assert "disabled" in invoke("list", "--role", "bureau").output
    again = invoke("reset-password", "li.na")
    assert again.exit_code == 0 and "one-time password of li.na" in again.output
    assert invoke("enable", "li.na").exit_code == 0
    assert invoke("disable", "nobody").exit_code == 1
    assert "had no second factor" in invoke("remove-totp", "li.na").output
    roles = invoke("roles")
    assert "bureau (教育局): one area and what lies under it" in roles.output and "users.manage" in roles.output
    with Session(get_engine()) as s:
        events = s.exec(select(AuditEvent)).all()
        assert [e.action for e in events] == ["user.create", "user.disable", "user.reset_password", "user.enable"]
        assert all(e.actor.startswith("cli:") for e in events)
        assert s.exec(select(StaffSession)).all() == []
