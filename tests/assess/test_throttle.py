"""The login throttle: attempts per ticket counted before the check, an address's backoff, unlocking."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.exceptions import LoginThrottled, NotFound
from assess.models import LoginFailure
from assess.throttle import LoginGuard, LoginThrottle, ticket_key, unlock_student
from itembank.db import session_scope
from tests.assess.conftest import make_tree


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _guard(engine: Engine, clock: Clock, *, per_ticket: int = 3, per_client: int = 4) -> LoginGuard:
    return LoginGuard(
        LoginThrottle(engine, "ticket", per_ticket, 600, clock=clock),
        LoginThrottle(engine, "client", per_client, 600, backoff=2.0, clock=clock),
    )


def test_ticket_key_is_one_per_student() -> None:
    assert ticket_key(" t123 456 ") == ticket_key("T123456") == "T123456"


def test_attempts_are_counted_before_the_check_and_refused_past_the_limit(engine: Engine) -> None:
    clock = Clock()
    guard = _guard(engine, clock)
    assert [guard.admit("t1").left for _ in range(3)] == [2, 1, 0]
    with pytest.raises(LoginThrottled) as refused:
        guard.admit("T1")  # the same ticket in another case
    assert refused.value.retry_after == 600
    clock.now += 601
    assert guard.admit("T1").left == 2  # a new window
    guard.succeeded("t1")
    assert guard.admit("T1").left == 2  # a success starts the ticket afresh


def test_an_address_past_its_limit_backs_off_instead_of_locking(engine: Engine) -> None:
    clock = Clock()
    guard = _guard(engine, clock)
    for _ in range(4):
        guard.check_client("lab")
        guard.failed("lab")
    guard.check_client("lab")  # past the limit: the first slot is free
    with pytest.raises(LoginThrottled) as wait:
        guard.check_client("lab")  # the next one waits for the backoff, not for the window
    assert wait.value.retry_after == 2
    clock.now += 1
    with pytest.raises(LoginThrottled):
        guard.check_client("lab")
    clock.now += 1
    guard.check_client("lab")  # two seconds later, one more try
    guard.check_client("another address")  # others are not held up at all
    clock.now += 600
    guard.check_client("lab")
    guard.check_client("lab")  # a new window: no backoff


def test_an_address_backoff_slot_is_taken_once(engine: Engine) -> None:
    """Two guards (two workers) on one database cannot both take one slot."""
    clock = Clock()
    one, two = _guard(engine, clock), _guard(engine, clock)
    for _ in range(4):
        one.failed("nat")
    outcomes = []
    for guard in (one, two, one, two):
        try:
            guard.check_client("nat")
            outcomes.append("tried")
        except LoginThrottled:
            outcomes.append("waits")
    assert outcomes == ["tried", "waits", "waits", "waits"]


def test_unlock_student_forgets_the_tickets_attempts(engine: Engine) -> None:
    clock = Clock()
    with session_scope(engine) as s:
        students = make_tree(s, n_students=2)
        ids, tickets = [int(p.id or 0) for p in students], [p.ticket for p in students]
    guard = _guard(engine, clock)
    for ticket in tickets:
        for _ in range(3):
            guard.admit(ticket)
    guard.failed("lab")
    with session_scope(engine) as s:
        assert unlock_student(session=s, ticket=tickets[0].lower()) is True
        assert unlock_student(session=s, student_id=ids[1]) is True
        assert unlock_student(session=s, student_id=ids[1]) is False  # nothing left to forget
    assert guard.admit(tickets[0]).left == 2 and guard.admit(tickets[1]).left == 2
    with Session(engine) as s:  # the address keeps its count: it is not the student's
        assert s.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 3
    with session_scope(engine) as s, pytest.raises(NotFound):
        unlock_student(session=s, ticket="NO-SUCH")
