"""Student login: test ticket + PIN (a keyed hash), the throttle, and the sitting to open.

:func:`login` is the whole login, for the pages and the JSON API alike. It asks the address's
throttle, counts the attempt on the ticket *before* the check (:class:`assess.throttle.LoginGuard`:
guesses sent at once cannot pass together), looks the ticket up and checks the PIN against the
stored keyed hash (:mod:`assess.pins`: microseconds, on the event loop). An argon2 hash from before
the keyed scheme is checked in a worker thread, at most ``limiter`` at once (so the event loop
keeps serving answers while a KDF runs), and then replaced by a keyed one. Then it opens the
sitting (:func:`assess.sitting.open_sitting`: the assessment the student sits now, and a sitting
already under way moved to this new device).

An unknown ticket, a ticket without a PIN and a wrong PIN get **one message at one cost**: the
PIN is checked against a dummy keyed hash (:func:`assess.pins.dummy_pin_hash`) and the attempt is
counted on the ticket all the same, so
neither the answer nor its timing nor the "tries left" hint tells whether a ticket exists. The
reason is logged (``login_refused``, never the ticket or the PIN). Every refusal is an
:class:`assess.exceptions.AssessError` with a message for the student.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import anyio
import anyio.to_thread
from sqlalchemy.engine import Engine
from sqlmodel import select

from assess import pins
from assess.exceptions import LoginFailed, LoginThrottled
from assess.models import Student
from assess.sitting import Opened, open_sitting
from assess.throttle import LoginGuard, LoginThrottle
from itembank.db import session_scope
from web.logging import log_event
from web.security import new_device_token

__all__ = ["WRONG", "LoginGuard", "LoginThrottle", "login", "normalise_ticket"]

WRONG = "准考证号或密码不正确，请核对准考证后重新输入。"
"""What an unknown ticket, a ticket without a PIN and a wrong PIN are all told."""


def normalise_ticket(ticket: str) -> str:
    """A ticket as typed, without spaces (students copy tickets with stray spaces)."""
    return "".join(ticket.split())


def _printable(text: str) -> bool:
    """No control characters (a NUL cannot even be sent to PostgreSQL)."""
    return all(ch >= " " and ch != "\x7f" for ch in text)


@dataclass(frozen=True)
class _Found:
    student: Student  # detached, every column loaded: the sitting's session takes it over without a query

    @property
    def student_id(self) -> int:
        return int(self.student.id or 0)

    @property
    def pin_hash(self) -> str:
        return str(self.student.pin_hash or "")


def _find(engine: Engine, ticket: str) -> _Found | None:
    with session_scope(engine) as session:
        row = session.exec(select(Student).where(Student.ticket == ticket)).first()
        if row is None and ticket != ticket.upper():
            row = session.exec(select(Student).where(Student.ticket == ticket.upper())).first()
    if row is None or row.id is None:
        return None
    return _Found(row)


async def _verify(stored: str, pin: str, limiter: anyio.CapacityLimiter | None) -> bool:
    """Check a PIN: a keyed hash at once, an argon2 hash of before in a worker thread (``limiter`` at most)."""
    if pins.is_legacy_hash(stored):  # tens of milliseconds: off the event loop
        return await anyio.to_thread.run_sync(pins.verify_pin, stored, pin, limiter=limiter)
    return pins.verify_pin(stored, pin)


def _refused(reason: str, client: str, via: str, student: int | None = None) -> None:
    log_event("login_refused", reason=reason, client=client, via=via, student=student)


async def login(
    *,
    engine: Engine,
    ticket: str,
    pin: str,
    client: str,
    guard: LoginGuard,
    now: datetime,
    limiter: anyio.CapacityLimiter | None = None,
    via: str = "page",
) -> Opened:
    """Check a ticket and PIN and open the student's sitting on a new device token.

    ``limiter`` bounds how many argon2 hashes of before are checked at once (each takes tens of
    milliseconds and its own memory block; a keyed hash takes microseconds). ``via``
    (``page``/``api``) goes into the log line of a refusal.

    Raises
    ------
    LoginFailed
        Missing fields, an unknown ticket or a wrong PIN (counted; one message for all).
    LoginThrottled
        Too many attempts for this ticket, or from this address (see :mod:`assess.throttle`).
    WindowClosed, TestFinished
        See :func:`assess.sitting.open_sitting`.
    """
    ticket = normalise_ticket(ticket)
    pin = pin.strip()
    if not ticket or not pin:
        _refused("empty", client, via)
        raise LoginFailed("请输入准考证号和密码。")
    if len(ticket) > 32 or len(pin) > 64 or not _printable(ticket) or not _printable(pin):
        _refused("malformed", client, via)
        raise LoginFailed(WRONG)
    try:
        guard.check_client(client)
        admitted = guard.admit(ticket)
    except LoginThrottled:
        _refused("throttled", client, via)
        raise
    found = _find(engine, ticket)
    known = found is not None and bool(found.pin_hash)
    stored = found.pin_hash if found is not None and known else pins.dummy_pin_hash()
    ok = await _verify(stored, pin, limiter) and known
    if not ok:
        guard.failed(client)
        reason = "unknown_ticket" if found is None else "no_pin" if not known else "wrong_pin"
        _refused(reason, client, via, None if found is None else found.student_id)
        hint = f"还可以再试 {admitted.left} 次。" if 0 < admitted.left <= 3 else ""
        if admitted.left == 0:
            hint = "尝试次数太多，请稍后再试，或请老师帮忙。"
        raise LoginFailed(WRONG + hint)
    assert found is not None
    guard.succeeded(ticket)
    if pins.needs_rehash(found.pin_hash):  # argon2, or a key no longer current: keyed from now on
        with engine.begin() as conn:
            pins.upgrade_pin_hash(conn, student_id=found.student_id, old_hash=found.pin_hash, pin=pin)
    with session_scope(engine) as session:
        student = session.merge(found.student, load=False)  # loaded above: no second SELECT
        return open_sitting(session=session, student=student, device=new_device_token(), now=now)
