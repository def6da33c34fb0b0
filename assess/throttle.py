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

The login itself takes :meth:`LoginGuard.claim`: the attempt counted, the address's record and the
ticket's student (with its sittings) read, the PIN checked and the ticket's count cleared (or the
address's failure counted) as one unit, on a driver connection the guard keeps.

- SQLite: one ``BEGIN IMMEDIATE`` transaction. SQLite's write lock admits one login at a time
  (on every worker), so the count a login reads holds every attempt before it, and the check runs
  before any other login's; the attempt is written when it must be remembered (a wrong PIN, a
  ticket past its limit, an argon2 hash still to check), and a right PIN on a ticket without a
  record writes nothing. A lock held by another worker is waited for on the event loop (0.5 ms,
  then up to 4 ms at a time), not in SQLite's busy handler, which slept the whole worker in steps
  growing to 100 ms.
- PostgreSQL, in autocommit: the count (the upsert above, returning the new count) and the read
  are one statement (a data-modifying ``WITH``), the clear a second: two round trips, where the
  separate steps took seven or more. Both are prepared once on the connection and run on libpq
  directly. That connection commits without waiting for the WAL flush (``synchronous_commit =
  off``, for the throttle's own rows only): a crash of PostgreSQL can forget the attempts of its
  last fraction of a second (a guesser gains at most those few tries per crash), and the counts
  stay atomic, since a commit is visible to every worker at once either way.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy import delete, event, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.exceptions import LoginThrottled, NotFound
from assess.models import LoginFailure, Student

__all__ = [
    "Admitted",
    "Claimed",
    "LoginGuard",
    "LoginThrottle",
    "Record",
    "SittingRow",
    "TicketOwner",
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


@dataclass(frozen=True)
class SittingRow:
    """One of a student's test sessions, as the login reads it (newest first)."""

    id: int
    assessment_id: int
    status: str


@dataclass(frozen=True)
class TicketOwner:
    """The student a ticket names, as the login needs it: id, grade, PIN hash and sittings."""

    student_id: int
    grade: int
    pin_hash: str
    sittings: tuple[SittingRow, ...]


@dataclass(frozen=True)
class Claimed:
    """A login attempt counted and checked (:meth:`LoginGuard.claim`).

    ``verified``: ``True`` (the ticket's count is cleared), ``False`` (the address's failure is
    counted), ``None`` (``check`` could not decide here: an argon2 hash, checked by the caller,
    who then calls :meth:`LoginGuard.succeeded` or :meth:`LoginGuard.failed`).
    """

    admitted: Admitted
    owner: TicketOwner | None
    verified: bool | None


class _Busy(Exception):
    """SQLite: another connection holds the write lock (try again shortly)."""


class _Broken(Exception):
    """PostgreSQL: the connection broke (it is discarded; the attempt is made once more on a new one)."""


class _NotCounted(Exception):
    """The address is past its limit: the attempt was not counted (the backoff decides)."""


_PARAM = re.compile(r":([a-z_]+)")

_COUNT = (
    "INSERT INTO login_failure (subject, window_start, failures, next_at) "
    "SELECT :subject, :now, 1, 0 WHERE :force OR NOT EXISTS (SELECT 1 FROM login_failure "
    "WHERE subject = :client AND failures >= :client_limit AND window_start > :client_stale) "
    "ON CONFLICT (subject) DO UPDATE SET "
    "failures = CASE WHEN login_failure.window_start <= :stale THEN 1 ELSE login_failure.failures + 1 END, "
    "next_at = CASE WHEN login_failure.window_start <= :stale THEN 0 ELSE login_failure.next_at END, "
    "window_start = CASE WHEN login_failure.window_start <= :stale THEN :now ELSE login_failure.window_start END "
    "RETURNING failures, window_start"
)
"""Count an attempt on the ticket, unless the address is past its limit (then nothing is written)."""
_READ = (
    "SELECT {counted} s.id, s.ticket, s.grade, s.pin_hash, ts.id, ts.assessment_id, ts.status "
    "FROM (SELECT 1 AS one) AS one {join} "
    "LEFT JOIN student AS s ON s.ticket IN (:ticket, :upper) "
    "LEFT JOIN test_session AS ts ON ts.student_id = s.id "
    "ORDER BY ts.started_at DESC"
)
"""The ticket's student (the exact ticket or its upper case) and its sittings, newest first."""
_SQLITE_READ = _READ.format(
    counted="t.window_start, t.failures, c.window_start, c.failures,",
    join="LEFT JOIN login_failure AS t ON t.subject = :subject LEFT JOIN login_failure AS c ON c.subject = :client",
)
_POSTGRES_READ = f"WITH counted AS ({_COUNT}) " + _READ.format(
    counted="counted.failures, counted.window_start,", join="LEFT JOIN counted ON true"
)
_CLEAR = "DELETE FROM login_failure WHERE subject = :subject"
_FAIL = (
    "INSERT INTO login_failure (subject, window_start, failures, next_at) VALUES (:subject, :now, 1, 0) "
    "ON CONFLICT (subject) DO UPDATE SET "
    "failures = CASE WHEN login_failure.window_start <= :stale THEN 1 ELSE login_failure.failures + 1 END, "
    "next_at = CASE WHEN login_failure.window_start <= :stale THEN 0 ELSE login_failure.next_at END, "
    "window_start = CASE WHEN login_failure.window_start <= :stale THEN :now ELSE login_failure.window_start END"
)
_SWEEP = "DELETE FROM login_failure WHERE window_start < :before"


def _for(dialect: str, sql: str) -> str:
    """``:name`` parameters as the driver wants them (``%(name)s`` for psycopg)."""
    return sql if dialect == "sqlite" else _PARAM.sub(r"%(\1)s", sql)


_PG_TYPES = {"subject": 25, "client": 25, "ticket": 25, "upper": 25, "now": 701, "stale": 701}
_PG_TYPES |= {"client_stale": 701, "client_limit": 20, "force": 16}
"""The PostgreSQL type (oid: text, float8, int8, bool) of each parameter of the hot statements."""
_READ_TYPES = (int, float, int, str, int, str, int, int, str)
"""What each column of the PostgreSQL read is, in order (its values arrive as text)."""


def _pg_text(value: object) -> bytes:
    if isinstance(value, bool):
        return b"t" if value else b"f"
    return (repr(value) if isinstance(value, float) else str(value)).encode()


class _Prepared:
    """A hot PostgreSQL statement, prepared once on the guard's connection and run on libpq itself.

    psycopg's execute (a cursor, the query converted, its generators) cost four times what libpq
    does for these two statements of every login; here the parameters go as text with their types
    fixed at ``PREPARE`` and the row comes back as text, read by :data:`_READ_TYPES`.
    """

    def __init__(self, name: str, sql: str) -> None:
        self.name = f"infolit_login_{name}".encode()
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in self.names:
                self.names.append(match.group(1))
            return f"${self.names.index(match.group(1)) + 1}"

        self.sql = _PARAM.sub(number, sql).encode()
        self.types = [_PG_TYPES[n] for n in self.names]

    def prepare(self, driver: Any) -> None:
        from psycopg import errors, pq

        result = driver.pgconn.prepare(self.name, self.sql, self.types)
        if result.status != pq.ExecStatus.COMMAND_OK:
            error = errors.error_from_result(result, encoding="utf-8")
            if not isinstance(error, errors.DuplicatePreparedStatement):  # a connection used before
                raise error

    def run(self, driver: Any, params: dict[str, Any]) -> list[tuple[bytes | None, ...]]:
        from psycopg import errors, pq

        result = driver.pgconn.exec_prepared(self.name, [_pg_text(params[n]) for n in self.names])
        if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            raise errors.error_from_result(result, encoding="utf-8")
        fields = range(result.nfields)
        return [tuple(result.get_value(r, c) for c in fields) for r in range(result.ntuples)]


_PG_READ = _Prepared("read", _POSTGRES_READ)
_PG_CLEAR = _Prepared("clear", _CLEAR)


def _pg_rows(found: list[tuple[bytes | None, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(None if v is None else f(v.decode()) for f, v in zip(_READ_TYPES, row, strict=True)) for row in found]


class _Line:
    """The guard's own driver connection (checked out of the pool once, used under ``lock``).

    SQLite: busy timeout 0 (the guard waits for the write lock itself, on the event loop).
    PostgreSQL: autocommit and ``synchronous_commit = off``. Given back (settings restored) by
    :meth:`close`, and when the engine is disposed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.lock = threading.Lock()
        self.raw: Any = None
        self.sql = {name: _for(self.dialect, sql) for name, sql in _STATEMENTS.items()}
        event.listen(engine, "engine_disposed", lambda _engine: self.close(invalidate=True))

    def connection(self) -> Any:
        """The driver connection (call under ``lock``)."""
        if self.raw is None:
            raw = self.engine.raw_connection()
            driver: Any = raw.driver_connection
            try:
                if self.dialect == "sqlite":
                    driver.execute("PRAGMA busy_timeout=0")
                else:
                    driver.autocommit = True
                    driver.execute("SET synchronous_commit = off")
                    _PG_READ.prepare(driver)
                    _PG_CLEAR.prepare(driver)
            except BaseException:
                raw.invalidate()
                raise
            self.raw = raw
        return self.raw.driver_connection

    def close(self, *, invalidate: bool = False) -> None:
        """Give the connection back to the pool as the pool hands connections out (or discard it)."""
        with self.lock:
            raw, self.raw = self.raw, None
            if raw is None:
                return
            if not invalidate:
                try:
                    driver: Any = raw.driver_connection
                    if self.dialect == "sqlite":
                        driver.execute("PRAGMA busy_timeout=30000")
                    else:
                        driver.execute("RESET synchronous_commit")
                        driver.execute(f"DEALLOCATE {_PG_READ.name.decode()}")
                        driver.execute(f"DEALLOCATE {_PG_CLEAR.name.decode()}")
                        driver.autocommit = False
                except Exception:  # noqa: BLE001 - cannot be reset: do not give it back
                    invalidate = True
            if invalidate:
                raw.invalidate()
            raw.close()

    def broken(self, exc: BaseException) -> bool:
        """Whether ``exc`` left the connection unusable (then it is discarded)."""
        dialect = self.engine.dialect
        raw = self.raw
        gone = isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            exc, None if raw is None else raw.driver_connection, None
        )
        if gone and raw is not None:
            self.raw = None
            raw.invalidate()
        return gone


_STATEMENTS = {
    "count": _COUNT,
    "sqlite_read": _SQLITE_READ,
    "postgres_read": _POSTGRES_READ,
    "clear": _CLEAR,
    "fail": _FAIL,
    "sweep": _SWEEP,
}


def _owner(rows: list[tuple[Any, ...]], ticket: str) -> TicketOwner | None:
    """The student of ``rows`` (the exact ticket before its upper case) with its sittings."""
    students = {row[1]: row for row in rows if row[0] is not None}
    chosen = students.get(ticket) or next(iter(students.values()), None)
    if chosen is None:
        return None
    sid = int(chosen[0])
    sittings = tuple(SittingRow(int(r[4]), int(r[5]), str(r[6])) for r in rows if r[0] == sid and r[4] is not None)
    return TicketOwner(sid, int(chosen[2]), str(chosen[3] or ""), sittings)


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


@dataclass
class LoginGuard:
    """The two throttles of the login: attempts per ticket, failures per client address."""

    per_ticket: LoginThrottle
    per_client: LoginThrottle
    _line: _Line = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._line = _Line(self.per_ticket.engine)

    def close(self) -> None:
        """Give the guard's connection back to the pool (at shutdown; it is taken again when needed)."""
        self._line.close()

    def open(self) -> None:
        """Take the guard's connection now (at startup; PostgreSQL prepares its statements on it)."""
        with self._line.lock:
            self._line.connection()

    async def claim(self, ticket: str, client: str, check: Callable[[TicketOwner | None], bool | None]) -> Claimed:
        """A login attempt as one unit: count it, read the ticket's student, ``check``, clear or fail.

        ``check`` gets the ticket's student (``None``: no such ticket) and says whether the PIN is
        right (``None``: it cannot say here, see :class:`Claimed`). It runs only for an attempt
        within the ticket's limit, counted before it (PostgreSQL) or under the write lock that
        orders every login (SQLite), and before the count is cleared. An address past its limit
        first claims a backoff slot (:meth:`check_client`), as before.

        Raises
        ------
        LoginThrottled
            The address must wait, or the ticket has had its tries in this window (``check`` is not
            called).
        """
        force = retried = False
        delay = 0.0005
        deadline = time.monotonic() + 30.0
        while True:
            try:
                with self._line.lock:
                    return self._claim_once(ticket, client, check, force=force)
            except _Busy:
                if time.monotonic() > deadline:
                    raise TimeoutError("the database stayed locked for 30 s") from None
                await anyio.sleep(delay)  # the event loop serves other requests meanwhile
                delay = min(2 * delay, 0.004)
            except _NotCounted:
                self.check_client(client)  # raises, or claims the address's next slot
                force = True
            except _Broken as exc:  # at worst the attempt is counted twice: stricter, never looser
                if retried:
                    raise exc.__cause__ or exc from None
                retried = True

    def _claim_once(
        self, ticket: str, client: str, check: Callable[[TicketOwner | None], bool | None], *, force: bool
    ) -> Claimed:
        line, tickets, clients = self._line, self.per_ticket, self.per_client
        now, client_now = tickets._clock(), clients._clock()
        key = ticket_key(ticket)
        params = {
            "subject": tickets.subject(key),
            "now": now,
            "stale": now - tickets.window,
            "force": force,
            "client": clients.subject(client),
            "client_limit": clients.limit,
            "client_stale": client_now - clients.window,
            "ticket": ticket,
            "upper": ticket.upper(),
        }
        try:
            conn = line.connection()
        except BaseException as exc:
            if line.dialect == "sqlite" and "locked" in str(exc):
                raise _Busy from exc
            raise
        sqlite = line.dialect == "sqlite"
        try:
            if sqlite:
                # the write lock first: every login's read-check-write runs alone, so the attempt
                # is written only when it must be (a wrong PIN, a count to keep); a right PIN on a
                # ticket without a record writes nothing at all
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except conn.OperationalError as exc:  # another connection writes: not now
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise _Busy from exc
                    raise
                found = conn.execute(line.sql["sqlite_read"], params).fetchall()
                t_start, t_count, c_start, c_count = found[0][:4]
                rows = [r[4:] for r in found]
                over = c_count is not None and c_count >= clients.limit and c_start > params["client_stale"]
                if over and not force:
                    raise _NotCounted
                if t_count is None or t_start <= params["stale"]:
                    count, window_start = 1, now
                else:
                    count, window_start = int(t_count) + 1, float(t_start)
                recorded = t_count is not None
            else:
                found = _pg_rows(_PG_READ.run(conn, params))
                if found[0][0] is None:
                    raise _NotCounted
                count, window_start = int(found[0][0]), float(found[0][1])
                rows = [r[2:] for r in found]
                recorded = True
            written = not sqlite  # PostgreSQL counted it in the read

            def write_count() -> None:
                nonlocal written
                if not written:
                    conn.execute(line.sql["count"], {**params, "force": True})
                    written = True

            if count > tickets.limit:
                write_count()
                if sqlite:
                    conn.commit()
                wait = tickets.until_window_end(window_start)
                raise LoginThrottled(f"尝试次数太多，请 {_minutes(wait)} 分钟后再试，或请老师帮忙。", wait)
            owner = _owner(rows, ticket)
            verified = check(owner)
            if verified is True:
                if recorded and sqlite:
                    conn.execute(line.sql["clear"], {"subject": params["subject"]})
                elif recorded:
                    _PG_CLEAR.run(conn, params)
            else:  # a wrong PIN, or one to check after the claim: the attempt stays counted
                write_count()
                if verified is False:
                    fail = {"subject": params["client"], "now": client_now, "stale": client_now - clients.window}
                    conn.execute(line.sql["fail"], fail)
            if now - tickets._swept >= tickets.window:  # forget windows long past, now and then
                tickets._swept = now
                conn.execute(line.sql["sweep"], {"before": now - 2 * tickets.window})
            if sqlite:
                conn.commit()
            return Claimed(Admitted(count, max(0, tickets.limit - count)), owner, verified)
        except BaseException as exc:
            if sqlite and conn.in_transaction:
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001 - unusable: discard it
                    line.broken(exc)
            elif not sqlite and line.broken(exc):
                raise _Broken from exc
            if sqlite and isinstance(exc, conn.OperationalError) and "locked" in str(exc):
                raise _Busy from exc  # nothing was committed: the whole attempt again
            raise

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
