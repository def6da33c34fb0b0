"""Student login: test ticket + PIN (a keyed hash), the throttle, and the sitting to open.

:func:`login` is the whole login, for the pages and the JSON API alike. One claim of the guard
(:meth:`assess.throttle.LoginGuard.claim`) asks the address's throttle, counts the attempt on the
ticket *before* the check (guesses sent at once cannot pass together), reads the ticket's student
with its sittings, checks the PIN against the stored keyed hash (:mod:`assess.pins`: microseconds,
on the event loop) and clears the ticket's count, as one unit. An argon2 hash from before the
keyed scheme is checked after the claim in a worker thread, at most ``limiter`` at once (so the
event loop keeps serving answers while a KDF runs), and then replaced by a keyed one. Then it
opens the sitting (:func:`assess.sitting.open_sitting_of`: the assessment the student sits now,
from what the worker keeps, and a sitting already under way moved to this new device).

An unknown ticket, a ticket without a PIN and a wrong PIN get **one message at one cost**: the
PIN is checked against a dummy keyed hash (:func:`assess.pins.dummy_pin_hash`) and the attempt is
counted on the ticket all the same, so
neither the answer nor its timing nor the "tries left" hint tells whether a ticket exists. The
reason is logged (``login_refused``, never the ticket or the PIN). Every refusal is an
:class:`assess.exceptions.AssessError` with a message for the student.
"""

from __future__ import annotations

from datetime import datetime

import anyio
import anyio.to_thread
from sqlalchemy.engine import Engine

from assess import pins
from assess.exceptions import LoginFailed, LoginThrottled
from assess.sitting import Opened, open_sitting_of
from assess.throttle import LoginGuard, LoginThrottle, TicketOwner
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
    dummy = pins.dummy_pin_hash()

    def check(owner: TicketOwner | None) -> bool | None:
        # inside the guard's claim: counted before, cleared (or the address's failure counted) after
        stored = owner.pin_hash if owner is not None and owner.pin_hash else dummy
        if pins.is_legacy_hash(stored):
            return None  # an argon2 hash of before: checked below, off the event loop
        return pins.verify_pin(stored, pin) and owner is not None and bool(owner.pin_hash)

    try:
        claimed = await guard.claim(ticket, client, check)
    except LoginThrottled:
        _refused("throttled", client, via)
        raise
    owner, ok = claimed.owner, claimed.verified
    if ok is None:  # the slow hash, in a worker thread (``limiter`` at most at once)
        assert owner is not None
        ok = await _verify(owner.pin_hash, pin, limiter)
        if ok:
            guard.succeeded(ticket)
        else:
            guard.failed(client)
    if not ok:
        known = owner is not None and bool(owner.pin_hash)
        reason = "unknown_ticket" if owner is None else "no_pin" if not known else "wrong_pin"
        _refused(reason, client, via, None if owner is None else owner.student_id)
        left = claimed.admitted.left
        hint = f"还可以再试 {left} 次。" if 0 < left <= 3 else ""
        if left == 0:
            hint = "尝试次数太多，请稍后再试，或请老师帮忙。"
        raise LoginFailed(WRONG + hint)
    assert owner is not None
    if pins.needs_rehash(owner.pin_hash):  # argon2, or a key no longer current: keyed from now on
        with engine.begin() as conn:
            pins.upgrade_pin_hash(conn, student_id=owner.student_id, old_hash=owner.pin_hash, pin=pin)
    return open_sitting_of(
        engine=engine,
        student_id=owner.student_id,
        grade=owner.grade,
        sittings=owner.sittings,
        device=new_device_token(),
        now=now,
    )
