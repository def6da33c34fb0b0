"""The login throttle: attempts per ticket and failures per client address, counted in the database.

Every worker (and every machine on one database) shares the counts in table ``login_failure``
(one row per subject: ``ticket:<ticket>`` or ``client:<address>``), so ``N`` workers do not give a
guesser ``N`` allowances and a restart forgets nothing.

Per ticket (:meth:`LoginGuard.admit`): the attempt is **counted before its PIN is checked**, in one
atomic upsert that returns the new count, and an attempt beyond the limit is refused without a
check. So 300 guesses sent at once check exactly ``limit`` PINs, on any number of workers. A
successful login deletes the ticket's row (the student starts afresh), and a teacher can do the
same (:func:`unlock_student`). The key is the ticket in upper case, so a ticket typed in another
case is the same ticket.

Per client address (a school lab shares one address behind its NAT): failures are counted after
the check; below the limit nobody waits. Past it the address is **not locked** for the rest of
the window: it may try once every ``backoff`` seconds (a slot claimed atomically, so workers do
not each give one), and a lab that an attacker's burst pushed over the limit logs in again a few
seconds after the burst ends. A guesser at that address is held to one PIN per ``backoff``
seconds across all tickets. The address is checked inside the caller's verification slot, so
concurrent attempts overshoot the limit by at most the number of verifications running at once.

Rows of windows long past are swept now and then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.exceptions import LoginThrottled, NotFound
from assess.models import LoginFailure, Student

__all__ = [
    "Admitted",
    "LoginGuard",
    "LoginThrottle",
    "Record",
    "ticket_key",
    "unlock_student",
]


def _subject(scope: str, key: str) -> str:
    return f"{scope}:{key}"[:128]


def ticket_key(ticket: str) -> str:
    """The throttle's key for a ticket: without spaces, in upper case (one key per student)."""
    return "".join(ticket.split()).upper()


@dataclass(frozen=True)
class Record:
    """What ``login_failure`` holds for one subject: window start, count, next backoff slot (0: none)."""

    window_start: float
    count: int
    next_at: float


@dataclass(frozen=True)
class Admitted:
    """An attempt counted before its check: the count in this window, and the tries left after it."""

    count: int
    left: int


class LoginThrottle:
    """Counts per key in a fixed window, in the database (table ``login_failure``).

    ``scope`` prefixes the key (``ticket``/``client``), so both throttles share one table.
    ``backoff`` (seconds): past the limit, one attempt per ``backoff`` seconds instead of a wait
    for the end of the window (``None``: wait for the window).
    """

    def __init__(
        self,
        engine: Engine,
        scope: str,
        limit: int,
        window_seconds: float,
        *,
        backoff: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.scope = scope
        self.limit = limit
        self.window = window_seconds
        self.backoff = backoff
        self._clock = clock
        self._swept = 0.0
        self._upsert = text(
            "INSERT INTO login_failure (subject, window_start, failures, next_at) VALUES (:subject, :now, 1, 0) "
            "ON CONFLICT (subject) DO UPDATE SET "
            "failures = CASE WHEN login_failure.window_start <= :stale THEN 1 "
            "ELSE login_failure.failures + 1 END, "
            "next_at = CASE WHEN login_failure.window_start <= :stale THEN 0 ELSE login_failure.next_at END, "
            "window_start = CASE WHEN login_failure.window_start <= :stale THEN :now "
            "ELSE login_failure.window_start END "
            "RETURNING failures, window_start"
        )

    def subject(self, key: str) -> str:
        """The row's subject for ``key``."""
        return _subject(self.scope, key)

    def recorded(self, key: str) -> Record | None:
        """What is on record for ``key``, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(LoginFailure.window_start, LoginFailure.failures, LoginFailure.next_at).where(
                    LoginFailure.subject == self.subject(key)
                )
            ).first()
        return None if row is None else Record(float(row[0]), int(row[1]), float(row[2] or 0.0))

    def until_window_end(self, window_start: float) -> int:
        """Whole seconds (at least 1) until the window that began at ``window_start`` ends."""
        return max(1, int(window_start + self.window - self._clock() + 0.999))

    def wait_for(self, record: Record | None) -> int:
        """Seconds a key with ``record`` must wait for the window to end (0 when under the limit)."""
        if record is None or record.count < self.limit or self._clock() - record.window_start >= self.window:
            return 0
        return self.until_window_end(record.window_start)

    def wait_seconds(self, key: str) -> int:
        """Seconds until ``key`` may try again by the window alone (0 when it may try now)."""
        return self.wait_for(self.recorded(key))

    def count(self, key: str) -> Record:
        """Count one for ``key`` in its window (a new window once the last one is over); the new record.

        One upsert that returns the new count, so attempts counted at once on several workers
        each get their own number.
        """
        now = self._clock()
        with self.engine.begin() as conn:
            count, window_start = conn.execute(
                self._upsert, {"subject": self.subject(key), "now": now, "stale": now - self.window}
            ).one()
            if now - self._swept >= self.window:  # forget windows long past, now and then
                self._swept = now
                conn.execute(delete(LoginFailure).where(col(LoginFailure.window_start) < now - 2 * self.window))
        return Record(float(window_start), int(count), 0.0)

    def fail(self, key: str) -> int:
        """Count a failure; return how many tries ``key`` has left in this window."""
        return max(0, self.limit - self.count(key).count)

    def claim_slot(self, key: str) -> int:
        """Past the limit with a backoff: claim the next slot; 0 if claimed, else the seconds to wait.

        One conditional ``UPDATE`` claims it, so two workers cannot both take one slot.
        """
        assert self.backoff is not None
        now = self._clock()
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(LoginFailure)
                .where(col(LoginFailure.subject) == self.subject(key), col(LoginFailure.next_at) <= now)
                .values(next_at=now + self.backoff)
            ).rowcount
            if claimed:
                return 0
            row = conn.execute(select(LoginFailure.next_at).where(LoginFailure.subject == self.subject(key))).first()
        return 0 if row is None else max(1, int(float(row[0]) - now + 0.999))

    def reset(self, key: str) -> None:
        """Forget the count of ``key`` (after a successful login)."""
        with self.engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(col(LoginFailure.subject) == self.subject(key)))


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


@dataclass
class LoginGuard:
    """The two throttles of the login: attempts per ticket, failures per client address."""

    per_ticket: LoginThrottle
    per_client: LoginThrottle

    @classmethod
    def create(
        cls,
        *,
        engine: Engine,
        max_failures: int,
        max_failures_per_client: int,
        window_seconds: float,
        client_backoff_seconds: float = 2.0,
    ) -> LoginGuard:
        """Throttles with the given limits over one window, counted in ``engine``'s database."""
        return cls(
            LoginThrottle(engine, "ticket", max_failures, window_seconds),
            LoginThrottle(engine, "client", max_failures_per_client, window_seconds, backoff=client_backoff_seconds),
        )

    def check_client(self, client: str) -> None:
        """Raise :class:`LoginThrottled` if the address must wait (past its limit: one try per backoff)."""
        throttle = self.per_client
        record = throttle.recorded(client)
        if throttle.wait_for(record) == 0:
            return
        if throttle.backoff is None:
            assert record is not None
            wait = throttle.wait_for(record)
            raise LoginThrottled(f"这个网络的登录尝试太多，请 {_minutes(wait)} 分钟后再试，或请老师帮忙。", wait)
        wait = throttle.claim_slot(client)
        if wait:
            raise LoginThrottled(f"这个网络的登录尝试太多，请等 {wait} 秒再试。", wait)

    def admit(self, ticket: str) -> Admitted:
        """Count an attempt on ``ticket`` before its PIN is checked; refuse it past the limit.

        Raises
        ------
        LoginThrottled
            The ticket has had its tries in this window (nothing is checked).
        """
        throttle = self.per_ticket
        counted = throttle.count(ticket_key(ticket))
        if counted.count > throttle.limit:
            wait = throttle.until_window_end(counted.window_start)
            raise LoginThrottled(f"尝试次数太多，请 {_minutes(wait)} 分钟后再试，或请老师帮忙。", wait)
        return Admitted(counted.count, max(0, throttle.limit - counted.count))

    def succeeded(self, ticket: str) -> None:
        """A right PIN: the ticket starts afresh (the address keeps its failures)."""
        self.per_ticket.reset(ticket_key(ticket))

    def failed(self, client: str) -> None:
        """A wrong PIN or an unknown ticket: one more failure for the address."""
        self.per_client.fail(client)


def unlock_student(*, session: Session, student_id: int | None = None, ticket: str | None = None) -> bool:
    """Let a student log in again at once: forget the failed logins of the student's ticket.

    For a teacher (the school console) or an operator (``infolit people unlock TICKET``). Name the
    student by id or by ticket. Runs in the caller's transaction. Returns whether the ticket had
    attempts on record. The address's count is left alone: it is not the student's.

    Raises
    ------
    NotFound
        No such student.
    """
    if student_id is not None:
        found = session.get(Student, student_id)
    elif ticket is not None:
        key = ticket_key(ticket)
        found = session.exec(select(Student).where(col(Student.ticket).in_([key, "".join(ticket.split())]))).first()
    else:
        raise ValueError("unlock_student needs student_id or ticket")
    if found is None:
        raise NotFound("没有这个学生（准考证号或编号不对）")
    subject = _subject("ticket", ticket_key(found.ticket))
    deleted = session.connection().execute(delete(LoginFailure).where(col(LoginFailure.subject) == subject)).rowcount
    return bool(deleted)
