"""Database engines and sessions: the one module that knows SQLite from PostgreSQL.

SQLite (the embedded default) runs in WAL mode with foreign keys enforced and a busy timeout, so
several readers and one writer can share the file. A server process checkpoints the WAL in a
thread of its own (:class:`WalCheckpointer`), so no request waits for the copy and its fsyncs;
SQLite's own automatic checkpoint stays on as a backstop at a larger WAL size. PostgreSQL URLs are
used unchanged with a connection pool sized for a handful of app workers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

from sqlalchemy import JSON, Boolean, Column, DateTime, Table, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from itembank.settings import get_settings

_log = logging.getLogger("infolit.db")

__all__ = [
    "AUTO_CHECKPOINT_PAGES",
    "DriverStatement",
    "WalCheckpointer",
    "aware_utc",
    "bulk_insert",
    "dialect_name",
    "driver_converters",
    "get_engine",
    "make_engine",
    "ping",
    "session_scope",
]


AUTO_CHECKPOINT_PAGES = 8000
"""SQLite checkpoints by itself once the WAL holds this many pages (about 32 MB); a server's
:class:`WalCheckpointer` keeps it far below that."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTO_CHECKPOINT_PAGES}")
    cursor.close()


class WalCheckpointer:
    """Checkpoint a SQLite database's WAL every ``interval`` seconds in a background thread.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold: in a web
    worker that is a request, and the event loop waits for the copy of the WAL into the database
    and its two fsyncs (in WAL mode with ``synchronous=NORMAL`` the checkpoint is where the data
    reaches the disk). Here a thread does it instead, in ``PASSIVE`` mode (it never waits for
    readers or writers), with the GIL released while SQLite works. A page written many times
    between checkpoints is copied once, so the work also shrinks. Several workers may each run
    one; SQLite lets one checkpoint run at a time and the others skip.

    Nothing happens for other databases. ``start``/``stop`` are idempotent.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WalCheckpointer:
        """Start the thread (SQLite files only)."""
        if (
            self._thread is None
            and self.engine.dialect.name == "sqlite"
            and self.engine.url.database not in (None, "", ":memory:")
        ):
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="infolit-wal-checkpoint", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread after a last checkpoint."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=30)

    def checkpoint(self) -> tuple[int, int, int] | None:
        """One passive checkpoint now: ``(busy, wal pages, pages checkpointed)``, or ``None`` on an error."""
        try:
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                row = cursor.fetchone()
                cursor.close()
            finally:
                raw.close()
        except Exception:  # noqa: BLE001 - a failed checkpoint is retried; SQLite's own is the backstop
            _log.warning("WAL checkpoint failed", exc_info=True)
            return None
        self.runs += 1
        return (int(row[0]), int(row[1]), int(row[2])) if row else None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint()
        self.checkpoint()


def _create_private(path: Path) -> None:
    """Create an empty SQLite file readable by its owner only (0600); SQLite gives its WAL the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return  # an existing database keeps the mode its operator gave it


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with the dialect's settings applied.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path`` or ``postgresql+psycopg://...``.
    echo
        Log SQL statements.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private(Path(parsed.database))
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")


def dialect_name(engine: Engine) -> str:
    """Return ``"sqlite"`` or ``"postgresql"``."""
    return engine.dialect.name


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """Return the process-wide engine for the configured database."""
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Yield a session inside one transaction: committed on success, rolled back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


@overload
def aware_utc(value: datetime) -> datetime: ...
@overload
def aware_utc(value: None) -> None: ...
def aware_utc(value: datetime | None) -> datetime | None:
    """A stored timestamp (naive values are UTC, as every column stores them) as an aware UTC one.

    ``None`` stays ``None``.
    """
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ping(engine: Engine) -> None:
    """Run ``SELECT 1`` on the database (raises whatever the driver raises when it does not answer)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def driver_converters(columns: Sequence[Column[Any]], dialect: str) -> list[Callable[[Any], Any] | None]:
    """Per column, what turns a Python value into what SQLAlchemy would hand the driver.

    JSON becomes text, timestamps UTC (SQLite's text format), SQLite booleans 0/1; ``None`` in
    the list means the value goes as it is.
    """

    def convert(column: Column[Any]) -> Callable[[Any], Any] | None:
        kind = getattr(column.type, "impl", column.type)  # see through TypeDecorators (UTCDateTime)
        if isinstance(kind, JSON):
            return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
        if isinstance(kind, DateTime):
            if dialect == "sqlite":
                return lambda v: None if v is None else _naive_utc(v).isoformat(" ", "microseconds")
            return lambda v: None if v is None else aware_utc(v)  # timestamptz: no session-timezone guess
        if isinstance(kind, Boolean) and dialect == "sqlite":
            return lambda v: None if v is None else int(bool(v))
        return None

    return [convert(c) for c in columns]


class DriverStatement:
    """One SQL statement run straight on the driver's cursor, in the connection's transaction.

    For the hottest writes only (a student's answer): SQLAlchemy's per-statement work costs more
    than SQLite's own. ``sql`` marks each parameter with ``{}``; ``columns[i]`` is the column the
    ``i``-th parameter is stored in or compared with, which fixes its conversion (as in
    :func:`bulk_insert`), so ORM reads see exactly what an ORM write would have stored.
    """

    def __init__(self, sql: str, columns: Sequence[Column[Any]]) -> None:
        self.sql = sql
        self.columns = tuple(columns)
        self._by_dialect: dict[str, tuple[str, list[Callable[[Any], Any] | None]]] = {}

    def execute(self, conn: Connection, values: Sequence[Any]) -> int:
        """Run with ``values`` (one per ``{}``) on ``conn``; return the driver's row count."""
        raw = conn.connection.dbapi_connection
        assert raw is not None
        return self.execute_on(raw, conn.dialect.name, values)

    def execute_on(self, dbapi_connection: Any, dialect: str, values: Sequence[Any]) -> int:
        """Run on a driver connection of ``dialect`` (``"sqlite"``/``"postgresql"``); return the row count."""
        prepared = self._by_dialect.get(dialect)
        if prepared is None:
            mark = "?" if dialect == "sqlite" else "%s"
            prepared = (self.sql.format(*([mark] * len(self.columns))), driver_converters(self.columns, dialect))
            self._by_dialect[dialect] = prepared
        sql, converters = prepared
        params = [v if f is None or v is None else f(v) for f, v in zip(converters, values, strict=True)]
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert many rows fast, inside the session's transaction; return the number inserted.

    SQLAlchemy's executemany spends most of its time processing parameters row by row. This
    converts the values once per column type and hands them to the driver directly: SQLite's
    ``executemany``, or PostgreSQL's ``COPY ... FROM STDIN``. Values follow what SQLAlchemy would
    store (see :func:`driver_converters`), so ORM reads are unchanged.
    Columns absent from the rows are left to their server defaults (NULL here).
    """
    if not rows:
        return 0
    columns = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in columns]
    conn = session.connection()
    dialect = conn.dialect.name
    converters = driver_converters(columns, dialect)
    values = [
        tuple(f(row[n]) if f is not None else row[n] for n, f in zip(names, converters, strict=True)) for row in rows
    ]
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    quoted = ", ".join(f'"{n}"' for n in names)
    try:
        if dialect == "postgresql":
            with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join("?" for _ in names)
            cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', values)
    finally:
        cursor.close()
    return len(values)
