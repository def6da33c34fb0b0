"""Student login: test ticket + PIN (a keyed hash), a throttle on failures, and the sitting to open.

:func:`login` is the whole login: it refuses a throttled ticket or address, looks the ticket up,
checks the PIN against the stored keyed hash (:mod:`assess.pins`: microseconds, on the event loop;
an argon2 hash of before in a worker thread, and then replaced by a keyed one), then opens the sitting
(:func:`assess.sitting.open_sitting`: the assessment the student sits now, and a sitting already
under way moved to this new device). Every refusal is an :class:`assess.exceptions.AssessError`
with a message for the student.

The throttle counts failures in the database (``login_failure``: one row per ticket or client
address, a window start and a count), so every worker, and every machine on one database, sees the
same counts: ``N`` workers do not give a guesser ``N`` allowances, and a restart forgets nothing.
A login reads the two rows (in one indexed lookup); only a failure writes (one upsert); a success
after failures clears the ticket's row. Rows of windows long past are swept now and then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio
import anyio.to_thread
from sqlalchemy import delete, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from assess import pins
from assess.exceptions import LoginFailed
from assess.models import LoginFailure, Student
from assess.sitting import Opened, open_sitting
from itembank.db import session_scope
from web.exceptions import LoginThrottled
from web.security import new_device_token

__all__ = ["LoginGuard", "LoginThrottle", "login", "normalise_ticket"]


class LoginThrottle:
    """Failures per key in a fixed window, counted in the database (table ``login_failure``).

    After ``limit`` failures the key waits out the window. ``scope`` prefixes the key
    (``ticket``/``client``), so both throttles share one table.
    """

    def __init__(
        self,
        engine: Engine,
        scope: str,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.scope = scope
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._swept = 0.0
        self._upsert = text(
            "INSERT INTO login_failure (subject, window_start, failures) VALUES (:subject, :now, 1) "
            "ON CONFLICT (subject) DO UPDATE SET "
            "failures = CASE WHEN login_failure.window_start <= :stale THEN 1 "
            "ELSE login_failure.failures + 1 END, "
            "window_start = CASE WHEN login_failure.window_start <= :stale THEN :now "
            "ELSE login_failure.window_start END "
            "RETURNING failures"
        )

    def _subject(self, key: str) -> str:
        return f"{self.scope}:{key}"[:128]

    def recorded(self, key: str) -> tuple[float, int] | None:
        """``(window start, failures)`` on record for ``key``, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(LoginFailure.window_start, LoginFailure.failures).where(
                    LoginFailure.subject == self._subject(key)
                )
            ).first()
        return None if row is None else (float(row[0]), int(row[1]))

    def wait_for(self, record: tuple[float, int] | None) -> int:
        """Seconds a key with ``record`` (see :meth:`recorded`) must wait (0 when it may try now)."""
        now = self._clock()
        if record is None or record[1] < self.limit or now - record[0] >= self.window:
            return 0
        return max(1, int(record[0] + self.window - now + 0.999))

    def wait_seconds(self, key: str) -> int:
        """Seconds until ``key`` may try again (0 when it may try now)."""
        return self.wait_for(self.recorded(key))

    def fail(self, key: str) -> int:
        """Count a failure; return how many tries ``key`` has left in this window."""
        now = self._clock()
        with self.engine.begin() as conn:
            count = conn.execute(
                self._upsert, {"subject": self._subject(key), "now": now, "stale": now - self.window}
            ).scalar_one()
            if now - self._swept >= self.window:  # forget windows long past, now and then
                self._swept = now
                conn.execute(delete(LoginFailure).where(col(LoginFailure.window_start) < now - 2 * self.window))
        return max(0, self.limit - int(count))

    def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        with self.engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(col(LoginFailure.subject) == self._subject(key)))


@dataclass
class LoginGuard:
    """The two throttles of the login: per ticket and per client address."""

    per_ticket: LoginThrottle
    per_client: LoginThrottle

    @classmethod
    def create(
        cls, *, engine: Engine, max_failures: int, max_failures_per_client: int, window_seconds: float
    ) -> LoginGuard:
        """Throttles with the given limits over one window, counted in ``engine``'s database."""
        return cls(
            LoginThrottle(engine, "ticket", max_failures, window_seconds),
            LoginThrottle(engine, "client", max_failures_per_client, window_seconds),
        )

    def check(self, ticket: str, client: str) -> bool:
        """Raise :class:`LoginThrottled` if the ticket or the address must wait.

        Returns whether the ticket has failures on record (a successful login then clears them;
        most logins have none, and write nothing).
        """
        mine, theirs = self.per_ticket._subject(ticket), self.per_client._subject(client)
        with self.per_ticket.engine.connect() as conn:  # both rows in one round trip
            rows = conn.execute(
                select(LoginFailure.subject, LoginFailure.window_start, LoginFailure.failures).where(
                    col(LoginFailure.subject).in_([mine, theirs])
                )
            ).all()
        found = {str(r[0]): (float(r[1]), int(r[2])) for r in rows}
        record = found.get(mine)
        wait = max(self.per_ticket.wait_for(record), self.per_client.wait_for(found.get(theirs)))
        if wait:
            minutes = max(1, (wait + 59) // 60)
            raise LoginThrottled(f"尝试次数太多，请 {minutes} 分钟后再试，或请老师帮忙。", wait)
        return record is not None


def normalise_ticket(ticket: str) -> str:
    """A ticket as typed, without spaces (students copy tickets with stray spaces)."""
    return "".join(ticket.split())


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


async def login(
    *,
    engine: Engine,
    ticket: str,
    pin: str,
    client: str,
    guard: LoginGuard,
    now: datetime,
    limiter: anyio.CapacityLimiter | None = None,
) -> Opened:
    """Check a ticket and PIN and open the student's sitting on a new device token.

    A keyed PIN hash is verified at once. An argon2 hash of before is verified in a worker thread
    (argon2 releases the GIL), ``limiter`` bounding how many run at once (each takes tens of
    milliseconds and its own memory block), and then replaced with a keyed one.

    Raises
    ------
    LoginFailed
        Missing fields, an unknown ticket or a wrong PIN (the failure is counted).
    LoginThrottled
        Too many failures for this ticket or from this address.
    WindowClosed, TestFinished
        See :func:`assess.sitting.open_sitting`.
    """
    ticket = normalise_ticket(ticket)
    pin = pin.strip()
    if not ticket or not pin:
        raise LoginFailed("请输入准考证号和密码。")
    if len(ticket) > 32 or len(pin) > 64:
        raise LoginFailed("准考证号或密码太长，请核对后重新输入。")
    had_failures = guard.check(ticket, client)
    found = _find(engine, ticket)
    if found is None:
        guard.per_client.fail(client)
        raise LoginFailed("没有找到这个准考证号，请核对准考证上的号码后重新输入。")
    if not found.pin_hash:
        raise LoginFailed("这个准考证还不能登录（没有设置密码），请联系老师。")
    if pins.is_legacy_hash(found.pin_hash):  # tens of milliseconds: off the event loop
        ok = await anyio.to_thread.run_sync(pins.verify_pin, found.pin_hash, pin, limiter=limiter)
    else:  # keyed: microseconds
        ok = pins.verify_pin(found.pin_hash, pin)
    if not ok:
        guard.per_client.fail(client)
        left = guard.per_ticket.fail(ticket)
        hint = f"还可以再试 {left} 次。" if 0 < left <= 3 else ""
        if left == 0:
            hint = "尝试次数太多，请稍后再试，或请老师帮忙。"
        raise LoginFailed(f"密码不正确，请核对后重新输入。{hint}")
    if had_failures:
        guard.per_ticket.reset(ticket)
    if pins.needs_rehash(found.pin_hash):  # argon2, or a key no longer current: keyed from now on
        with engine.begin() as conn:
            pins.upgrade_pin_hash(conn, student_id=found.student_id, old_hash=found.pin_hash, pin=pin)
    with session_scope(engine) as session:
        student = session.merge(found.student, load=False)  # loaded above: no second SELECT
        return open_sitting(session=session, student=student, device=new_device_token(), now=now)
