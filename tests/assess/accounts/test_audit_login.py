from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from assess.accounts import audit, totp
from assess.accounts.exceptions import StaffLoginFailed, StaffThrottled
from assess.accounts.login import LoginThrottles, give_second_factor, log_in
from assess.accounts.models import AuditEvent, StaffUser
from assess.accounts.scope import Actor, Scope
from assess.accounts.sessions import SessionPolicy, resolve_session
from itembank.models import utcnow
from tests.console_world import PASSWORD, ConsoleWorld

POLICY = SessionPolicy()


def test_the_audit_log_refuses_updates_and_deletes(engine: Engine, actor: Callable[[str], Actor]) -> None:
    with Session(engine) as s:
        audit.record(s, actor("root"), "data.export", target="assessment:WEB-OPEN", scope_path="/99/")
        s.commit()
    for statement in (update(AuditEvent).values(actor="someone else"), delete(AuditEvent)):
        with Session(engine) as s, pytest.raises(DBAPIError, match="append-only"):
            s.execute(statement)
            s.commit()
    if engine.dialect.name == "postgresql":
        with Session(engine) as s, pytest.raises(DBAPIError, match="append-only"):
            s.execute(text("TRUNCATE audit_event"))
    with Session(engine) as s:
        page = audit.list_events(session=s, scope=Scope.everything(), action="data.export")
        assert page.total == 1 and page.events[0].actor == "root" and page.events[0].scope_path == "/99/"
        with pytest.raises(KeyError):
            audit.record(s, actor("root"), "made.up")


def _throttles(engine: Engine, **limits: int) -> LoginThrottles:
    return LoginThrottles.create(engine=engine, **limits)


def _actions(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        return [(e.action, e.detail.get("reason", "")) for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_login_opens_a_session_and_refusals_say_the_same_thing(engine: Engine, cworld: ConsoleWorld) -> None:
    throttles, now = _throttles(engine), utcnow()
    step = log_in(
        engine=engine,
        throttles=throttles,
        username=" County1 ",
        password=PASSWORD,
        client="1.2.3.4",
        now=now,
        policy=POLICY,
    )
    assert (step.username, step.role, step.needs_second_factor) == ("county1", "bureau", False)
    with Session(engine) as s:
        assert resolve_session(session=s, token=step.token, now=now, policy=POLICY) is not None
    messages = set()
    for name, password in (("county1", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(StaffLoginFailed) as info:
            log_in(
                engine=engine,
                throttles=throttles,
                username=name,
                password=password,
                client="1.2.3.4",
                now=now,
                policy=POLICY,
            )
        messages.add(str(info.value))
    assert len(messages) == 1  # an unknown user is not told apart from a wrong password
    with Session(engine) as s:
        s.execute(update(StaffUser).where(StaffUser.username == "county2").values(disabled_at=now))
        s.commit()
    with pytest.raises(StaffLoginFailed, match="停用"):
        log_in(
            engine=engine,
            throttles=throttles,
            username="county2",
            password=PASSWORD,
            client="1.2.3.4",
            now=now,
            policy=POLICY,
        )
    assert _actions(engine) == [
        ("login.success", ""),
        ("login.failure", "wrong password"),
        ("login.failure", "unknown user"),
        ("login.failure", "disabled"),
    ]


def test_parallel_password_guesses_are_held_to_the_limit(engine: Engine, cworld: ConsoleWorld) -> None:
    throttles, now = _throttles(engine, per_user=3), utcnow()

    def guess(i: int) -> str:
        try:
            log_in(
                engine=engine,
                throttles=throttles,
                username="prov99",
                password=f"guess-{i}",
                client=f"10.0.0.{i}",
                now=now,
                policy=POLICY,
            )
        except StaffThrottled:
            return "throttled"
        except StaffLoginFailed:
            return "checked"
        return "in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(guess, range(24)))
    assert outcomes.count("checked") == 3 and outcomes.count("throttled") == 21
    with pytest.raises(StaffThrottled):  # even the right password waits out the window
        log_in(
            engine=engine,
            throttles=throttles,
            username="prov99",
            password=PASSWORD,
            client="10.9.9.9",
            now=now,
            policy=POLICY,
        )


def test_an_account_with_totp_is_signed_in_only_after_its_code(engine: Engine, cworld: ConsoleWorld) -> None:
    throttles, now = _throttles(engine, per_totp=2), utcnow()
    with Session(engine) as s:
        root = s.exec(select(StaffUser).where(StaffUser.username == "root")).one()
        enrol = totp.begin_enrolment(session=s, user=root)
        totp.confirm_enrolment(session=s, user_id=int(root.id or 0), code=pyotp.TOTP(enrol.secret).at(now), now=now)
        s.commit()
    later = now + timedelta(seconds=30)  # the enrolment's code is spent: the next step's code logs in
    step = log_in(
        engine=engine,
        throttles=throttles,
        username="root",
        password=PASSWORD,
        client="1.1.1.1",
        now=later,
        policy=POLICY,
    )
    assert step.needs_second_factor
    with Session(engine) as s:
        assert resolve_session(session=s, token=step.token, now=later, policy=POLICY) is None
    with pytest.raises(StaffLoginFailed, match="不正确"):
        give_second_factor(
            engine=engine,
            throttles=throttles,
            token=step.token,
            code="000000",
            client="1.1.1.1",
            now=later,
            policy=POLICY,
        )
    done = give_second_factor(
        engine=engine,
        throttles=throttles,
        token=step.token,
        code=pyotp.TOTP(enrol.secret).at(later),
        client="1.1.1.1",
        now=later,
        policy=POLICY,
    )
    assert not done.needs_second_factor
    with Session(engine) as s:
        assert resolve_session(session=s, token=step.token, now=later, policy=POLICY) is not None
    with pytest.raises(StaffLoginFailed, match="失效"):  # the session is no longer waiting for a code
        give_second_factor(
            engine=engine,
            throttles=throttles,
            token=step.token,
            code="123456",
            client="1.1.1.1",
            now=later,
            policy=POLICY,
        )
    assert [a for a, _ in _actions(engine)] == ["login.failure", "login.success"]
