"""A login throttle that holds under concurrent requests: claim the attempt first, then check.

A throttle that reads the failures, checks the password and then counts a failure lets every
request that arrives while the first is still checking through: fifty parallel guesses all read
"no failures yet". :meth:`AttemptThrottle.claim` instead counts the attempt *before* the check,
in one atomic statement (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, the same on SQLite
and PostgreSQL: the row is locked while it is updated, so concurrent claims are serialised and
each sees its own count), and refuses when the count passes the limit. A successful login clears
the count (per account) or gives its attempt back (per address, where many users share one); a
failed one leaves it. So at most ``limit`` password checks happen per key and window, however many
requests arrive at once and however many workers serve them.

Counts share the ``login_failure`` table with the student login's throttle (subjects are
prefixed: ``staff:NAME``, ``totp:ID``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from assess.accounts.exceptions import StaffThrottled
from assess.models import LoginFailure

__all__ = ["AttemptThrottle", "Claim"]

_CLAIM = text(
    "INSERT INTO login_failure (subject, window_start, failures, next_at) VALUES (:subject, :now, 1, 0) "
    "ON CONFLICT (subject) DO UPDATE SET "
    "failures = CASE WHEN login_failure.window_start <= :stale THEN 1 ELSE login_failure.failures + 1 END, "
    "window_start = CASE WHEN login_failure.window_start <= :stale THEN :now ELSE login_failure.window_start END "
    "RETURNING failures, window_start"
)


@dataclass(frozen=True)
class Claim:
    """An attempt counted: how many in this window (this one included) and how many are left."""

    count: int
    left: int


class AttemptThrottle:
    """At most ``limit`` attempts per key in a fixed window of ``window_seconds``, counted in the database."""

    def __init__(
        self,
        engine: Engine,
        scope: str,
        limit: int,
        window_seconds: float,
        *,
        message: str = "尝试次数太多，请 {minutes} 分钟后再试。",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.scope = scope
        self.limit = limit
        self.window = window_seconds
        self.message = message
        self._clock = clock

    def subject(self, key: str) -> str:
        """The row's key in ``login_failure``."""
        return f"{self.scope}:{key}"[:128]

    def claim(self, key: str) -> Claim:
        """Count an attempt for ``key`` now, in its own committed transaction.

        Raises
        ------
        StaffThrottled
            The attempt is over the limit: it must not be checked (``retry_after`` says when).
        """
        now = self._clock()
        with self.engine.begin() as conn:
            count, start = conn.execute(
                _CLAIM, {"subject": self.subject(key), "now": now, "stale": now - self.window}
            ).one()
        if int(count) > self.limit:
            wait = max(1, int(float(start) + self.window - now + 0.999))
            raise StaffThrottled(self.message.format(minutes=max(1, (wait + 59) // 60)), wait)
        return Claim(int(count), self.limit - int(count))

    def release(self, key: str) -> None:
        """Give back one claimed attempt (a success that should not count against ``key``)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(LoginFailure)
                .where(col(LoginFailure.subject) == self.subject(key), col(LoginFailure.failures) > 0)
                .values(failures=col(LoginFailure.failures) - 1)
            )

    def clear(self, key: str) -> None:
        """Forget the attempts of ``key`` (a successful login, or a teacher unlocking a student)."""
        with self.engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(col(LoginFailure.subject) == self.subject(key)))

    def attempts(self, key: str) -> int:
        """Attempts counted for ``key`` in the current window (0 when none or the window passed)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(LoginFailure.window_start, LoginFailure.failures).where(
                    col(LoginFailure.subject) == self.subject(key)
                )
            ).first()
        if row is None or self._clock() - float(row[0]) >= self.window:
            return 0
        return int(row[1])
