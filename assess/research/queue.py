"""Background jobs on huey: a job's row is the truth, huey carries "run job N" to a consumer.

Library: `huey <https://huey.readthedocs.io>`_. It has a storage for the embedded SQLite default
(``SqliteHuey``, a file beside the database) and an SQL storage through peewee that runs on the
same PostgreSQL server as the app (tables ``huey_*``, ``FOR UPDATE SKIP LOCKED`` dequeue), so every
deployment InfoLit supports gets a persistent queue without a new service. procrastinate is
PostgreSQL only (the SQLite default would need a second queue), saq needs Redis (a service the
deployment does not have); both are asyncio-first, where a calibration is CPU work on a thread.

How a job lives (:class:`~assess.research.models.ResearchJob`):

1. :func:`create_job` writes the row (``queued``) in the caller's transaction; after the commit
   :meth:`JobQueue.enqueue` puts its id on the queue.
2. A consumer takes the message and **claims** the row with one guarded ``UPDATE`` (queued, or
   running with a heartbeat older than ``stale_seconds``): two consumers never both run a job,
   and a duplicate message is harmless.
3. While the handler works, a thread beats the row's heartbeat; the handler reports progress and
   log lines through its :class:`JobContext` (each write its own short transaction, so any app
   worker's page sees it).
4. The handler returns (``done``) or raises: :class:`JobFailed` gives the one line the user
   reads, any other error its type and first line; the traceback goes to the log.
5. A consumer that dies leaves a ``running`` row whose heartbeat stops. Every consumer, when it
   starts and then once a minute, re-queues such rows (and queued rows whose message was lost);
   the next claim runs the job again from the start. After :data:`MAX_ATTEMPTS` lost runs the job
   is failed with a message saying so.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from huey.consumer import Consumer as HueyConsumer
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from assess.position import is_row_id
from assess.research.models import ResearchJob
from itembank.db import session_scope
from itembank.models import utcnow

__all__ = [
    "MAX_ATTEMPTS",
    "JobContext",
    "JobFailed",
    "JobQueue",
    "JobSettings",
    "JobView",
    "default_queue",
    "job_view",
    "Consumer",
    "claim_job",
    "create_job",
    "job_kind",
    "job_settings_from_env",
    "reclaim_lost_jobs",
    "run_job",
]

MAX_ATTEMPTS = 3
"""A job whose consumer was lost this many times is failed instead of run again."""


class JobFailed(Exception):
    """A job stopped for a reason the user can act on; ``str(exc)`` is the one line shown."""


@dataclass(frozen=True)
class JobSettings:
    """How often a running job beats its heartbeat, and when a silent one is taken as lost."""

    heartbeat_seconds: float = 5.0
    stale_seconds: float = 60.0
    workers: int = 1


def job_settings_from_env(env: Mapping[str, str] | None = None) -> JobSettings:
    """``INFOLIT_JOBS_HEARTBEAT_SECONDS``, ``INFOLIT_JOBS_STALE_SECONDS``, ``INFOLIT_JOBS_WORKERS``."""
    env = os.environ if env is None else env
    return JobSettings(
        heartbeat_seconds=float(env.get("INFOLIT_JOBS_HEARTBEAT_SECONDS") or 5.0),
        stale_seconds=float(env.get("INFOLIT_JOBS_STALE_SECONDS") or 60.0),
        workers=int(env.get("INFOLIT_JOBS_WORKERS") or 1),
    )


# ============================================================================================ handlers
@dataclass
class JobContext:
    """What a handler gets: the job's id and parameters, and the calls that report on it."""

    engine: Engine
    job_id: int
    params: dict[str, Any]
    total: int

    def progress(self, done: int, *, total: int | None = None, message: str = "") -> None:
        """``done`` of ``total`` steps (a heartbeat too); ``message`` is shown beside the bar."""
        values: dict[str, Any] = {"done": int(done), "heartbeat_at": utcnow()}
        if total is not None:
            values["total"] = self.total = int(total)
        if message:
            values["message"] = message[:255]
        _update(self.engine, self.job_id, **values)

    def log(self, line: str) -> None:
        """Append a line to the job's log."""
        _append_log(self.engine, self.job_id, line)


Handler = Callable[[JobContext], None]
_HANDLERS: dict[str, Handler] = {}


def job_kind(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for jobs of kind ``name`` (the module that defines it must be imported)."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def _handler(kind: str) -> Handler:
    if kind not in _HANDLERS:
        import assess.research.probe  # noqa: F401  (the built-in kinds register themselves)
        import assess.research.rescore  # noqa: F401
        import assess.research.runs  # noqa: F401
    if kind not in _HANDLERS:
        raise JobFailed(f"未知的任务类型：{kind}")
    return _HANDLERS[kind]


# ============================================================================================ the row
def _update(engine: Engine, job_id: int, **values: Any) -> None:
    with session_scope(engine) as session:
        session.execute(update(ResearchJob).where(col(ResearchJob.id) == job_id).values(**values))


def _append_log(engine: Engine, job_id: int, line: str) -> None:
    stamp = utcnow().strftime("%H:%M:%S")
    text = "".join(f"{stamp} {part}\n" for part in (line.splitlines() or [""]))
    with session_scope(engine) as session:
        session.execute(
            update(ResearchJob).where(col(ResearchJob.id) == job_id).values(log=col(ResearchJob.log).concat(text))
        )


def create_job(
    *, session: Session, kind: str, params: dict[str, Any] | None = None, total: int = 0, user_id: int | None = None
) -> ResearchJob:
    """Record a queued job in the caller's transaction (enqueue it with :meth:`JobQueue.enqueue` after the commit)."""
    job = ResearchJob(kind=kind, params=dict(params or {}), total=total, user_id=user_id)
    session.add(job)
    session.flush()
    return job


def claim_job(*, engine: Engine, job_id: int, worker: str, stale_seconds: float) -> ResearchJob | None:
    """Claim job ``job_id`` for ``worker`` if nobody runs it (queued, or running without a recent heartbeat).

    One guarded ``UPDATE``: of two consumers that race, exactly one gets the row. ``None`` when the
    job is finished, held by a live consumer, or gone.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_seconds)
    with session_scope(engine) as session:
        claimed = session.execute(
            update(ResearchJob)
            .where(
                col(ResearchJob.id) == job_id,
                or_(
                    col(ResearchJob.status) == "queued",
                    (col(ResearchJob.status) == "running") & (col(ResearchJob.heartbeat_at) < cutoff),
                ),
            )
            .values(
                status="running",
                worker=worker[:96],
                attempts=col(ResearchJob.attempts) + 1,
                started_at=now,
                heartbeat_at=now,
                message="",
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        job = session.get(ResearchJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


class _Heartbeat:
    """Beats a running job's heartbeat every ``seconds`` on its own thread, until stopped."""

    def __init__(self, engine: Engine, job_id: int, seconds: float) -> None:
        self._engine, self._job_id, self._seconds = engine, job_id, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"infolit-heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                _update(self._engine, self._job_id, heartbeat_at=utcnow())
            except Exception:  # noqa: BLE001 - a missed beat is retried; the job itself goes on
                continue

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, JobFailed):
        return str(exc).splitlines()[0] if str(exc) else "任务失败"
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def run_job(*, engine: Engine, job_id: int, worker: str, settings: JobSettings) -> str | None:
    """Claim job ``job_id`` and run its handler; the status it ended in (``None`` if it was not ours to run)."""
    job = claim_job(engine=engine, job_id=job_id, worker=worker, stale_seconds=settings.stale_seconds)
    if job is None:
        return None
    _append_log(engine, job_id, f"开始运行（第 {job.attempts} 次，{worker}）")
    context = JobContext(engine=engine, job_id=job_id, params=dict(job.params), total=job.total)
    try:
        with _Heartbeat(engine, job_id, settings.heartbeat_seconds):
            _handler(job.kind)(context)
    except Exception as exc:  # noqa: BLE001 - every failure is stored on the job, nothing escapes the consumer
        reason = _reason(exc)
        if not isinstance(exc, JobFailed):
            _append_log(engine, job_id, "".join(traceback.format_exception(exc)).rstrip())
        _append_log(engine, job_id, f"失败：{reason}")
        _update(engine, job_id, status="failed", message=reason[:255], finished_at=utcnow(), heartbeat_at=utcnow())
        return "failed"
    _append_log(engine, job_id, "完成")
    with session_scope(engine) as session:
        session.execute(
            update(ResearchJob)
            .where(col(ResearchJob.id) == job_id)
            .values(status="done", done=col(ResearchJob.total), message="", finished_at=utcnow(), heartbeat_at=utcnow())
        )
    return "done"


def reclaim_lost_jobs(*, engine: Engine, stale_seconds: float) -> list[int]:
    """Jobs to put on the queue again: running without a heartbeat, or queued, for ``stale_seconds``.

    A running job lost :data:`MAX_ATTEMPTS` times is failed here instead (its log says so).
    """
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    with session_scope(engine) as session:
        rows = session.exec(
            select(ResearchJob.id, ResearchJob.status, ResearchJob.attempts).where(
                or_(
                    (col(ResearchJob.status) == "running") & (col(ResearchJob.heartbeat_at) < cutoff),
                    (col(ResearchJob.status) == "queued") & (col(ResearchJob.created_at) < cutoff),
                )
            )
        ).all()
    again: list[int] = []
    for job_id, status, attempts in rows:
        assert job_id is not None
        if status == "running" and attempts >= MAX_ATTEMPTS:
            reason = f"后台进程 {attempts} 次中途退出，任务已停止（详见日志）。"
            _append_log(engine, job_id, reason)
            _update(engine, job_id, status="failed", message=reason, finished_at=utcnow())
            continue
        if status == "running":
            _append_log(engine, job_id, "运行它的后台进程已停止，任务重新排队")
        again.append(job_id)
    return again


# ============================================================================================ the queue
def _storage_file(database_url: str, data_dir: Path) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        beside = Path(url.database).with_suffix(".jobs.db")
        if beside.parent.is_dir():  # never make the database's folder (that is the operator's to make)
            return beside
    return data_dir / "infolit-jobs.db"


def _pg_database(database_url: str) -> Any:
    from playhouse.pool import PooledPostgresqlDatabase

    url = make_url(database_url)
    return PooledPostgresqlDatabase(
        url.database,
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        autoconnect=True,
        prefer_psycopg3=True,
        max_connections=16,
        stale_timeout=300,
    )


def _sql_huey(name: str, database: Any) -> Any:
    from huey.contrib.sql_huey import BytesBlobField, SqlHuey, SqlStorage
    from peewee import CharField, CompositeKey, FloatField, IntegerField, Model, TimestampField

    class PrefixedStorage(SqlStorage):  # type: ignore[misc]
        """huey's SQL storage (its own four models) with the tables named ``huey_*``: ``task`` is too common a name."""

        def create_models(self) -> Any:
            class Base(Model):
                class Meta:
                    database = self.database
                    table_function = staticmethod(lambda model: f"huey_{model.__name__.lower()}")

            class KV(Base):
                queue = CharField()
                key = CharField()
                value = BytesBlobField()

                class Meta:
                    primary_key = CompositeKey("queue", "key")

            class Schedule(Base):
                queue = CharField()
                data = BytesBlobField()
                timestamp = TimestampField(resolution=1000)

                class Meta:
                    indexes = ((("queue", "timestamp"), False),)

            class Task(Base):
                queue = CharField()
                data = BytesBlobField()
                priority = FloatField(default=0.0)

            Task.add_index(Task.priority.desc(), Task.id)  # type: ignore[attr-defined]

            class Counter(Base):
                queue = CharField()
                key = CharField()
                value = IntegerField()

                class Meta:
                    primary_key = CompositeKey("queue", "key")

            return (KV, Schedule, Task, Counter)

    return SqlHuey(name, database=database, storage_class=PrefixedStorage, utc=True)


class JobQueue:
    """The huey queue of one database, with the one task that runs a job.

    On SQLite the queue is a ``SqliteHuey`` file beside the database file (``infolit.jobs.db``);
    on PostgreSQL it is huey's SQL storage in the same database. Producer (the app, the CLI) and
    consumers (``infolit serve``'s own, ``infolit jobs worker``) build the same queue from the
    same settings.
    """

    def __init__(self, *, engine: Engine, database_url: str, data_dir: Path, settings: JobSettings) -> None:
        self.engine, self.settings = engine, settings
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        if make_url(database_url).get_backend_name().startswith("postgresql"):
            self.huey = _sql_huey("infolit", _pg_database(database_url))
            self.where = "PostgreSQL (huey_* tables)"
        else:
            from huey import SqliteHuey

            path = _storage_file(database_url, data_dir)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey("infolit", filename=str(path), utc=True)
            self.where = str(path)
        from huey import crontab

        @self.huey.task(name="infolit.run_job")  # type: ignore[untyped-decorator]
        def run(job_id: int) -> str | None:
            return run_job(engine=self.engine, job_id=job_id, worker=self.worker_name, settings=self.settings)

        @self.huey.periodic_task(crontab(minute="*"), name="infolit.reclaim_jobs")  # type: ignore[untyped-decorator]
        def reclaim() -> None:
            try:
                self.reclaim()
            except SQLAlchemyError as exc:  # the database is away; the next minute tries again
                logging.getLogger("infolit.jobs").warning("lost jobs not reclaimed: %s", exc)

        self._run = run

    def enqueue(self, job_id: int) -> None:
        """Put job ``job_id`` on the queue (after the transaction that created it committed)."""
        self._run(job_id)

    def reclaim(self) -> list[int]:
        """Re-queue the jobs whose consumer was lost (see :func:`reclaim_lost_jobs`)."""
        again = reclaim_lost_jobs(engine=self.engine, stale_seconds=self.settings.stale_seconds)
        for job_id in again:
            self.enqueue(job_id)
        return again

    def pending(self) -> int:
        """Messages waiting on the queue."""
        return int(self.huey.pending_count())

    def consumer(self, *, workers: int | None = None, signals: bool = True) -> HueyConsumer:
        """A huey consumer of this queue on threads (``signals=False``: leave the process's signal handlers alone)."""
        return (HueyConsumer if signals else _QuietConsumer)(
            self.huey,
            workers=workers or self.settings.workers,
            worker_type="thread",
            periodic=True,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=1.0,
            check_worker_health=True,
            shutdown_timeout=10.0,
        )

    def close(self) -> None:
        """Close the storage's connections."""
        storage = getattr(self.huey, "storage", None)
        database = getattr(storage, "database", None)
        if database is not None and hasattr(database, "close_all"):
            database.close_all()  # the pool's connections of every thread (consumers' too)
        elif storage is not None and hasattr(storage, "close"):
            storage.close()


class _QuietConsumer(HueyConsumer):  # type: ignore[misc]
    """A huey consumer that installs no signal handlers (the app server owns SIGTERM, SIGINT and SIGHUP)."""

    def _set_signal_handlers(self) -> None:
        return None


class Consumer:
    """A consumer running on threads beside the app (``infolit serve``): start, then stop at shutdown."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._consumer = queue.consumer(signals=False)

    def start(self) -> Consumer:
        """Re-queue lost jobs (if the database answers: the periodic reclaim tries again), then take messages."""
        try:
            self.queue.reclaim()
        except SQLAlchemyError as exc:
            logging.getLogger("infolit.jobs").warning("lost jobs not reclaimed at start: %s", exc)
        self._consumer.start()
        return self

    def stop(self) -> None:
        """Stop taking messages; wait a little for the job in hand (a job cut off is run again later)."""
        self._consumer.stop(graceful=True)


def default_queue() -> JobQueue:
    """The queue of the process's settings and engine (the CLI, ``infolit jobs worker``)."""
    from itembank.db import get_engine
    from itembank.settings import get_settings

    settings = get_settings()
    return JobQueue(
        engine=get_engine(),
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        settings=job_settings_from_env(),
    )


@dataclass(frozen=True)
class JobView:
    """A job as a page or the CLI shows it."""

    id: int
    kind: str
    status: str
    done: int
    total: int
    message: str
    attempts: int
    log: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        if self.status == "done":
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def active(self) -> bool:
        """Whether it is still queued or running (a page keeps polling)."""
        return self.status in ("queued", "running")


def job_view(*, session: Session, job_id: int) -> JobView:
    """Job ``job_id`` as shown (:class:`KeyError` if there is none, an id beyond the column's range too)."""
    job = session.get(ResearchJob, job_id) if is_row_id(job_id) else None  # no query past the range
    if job is None:
        raise KeyError(job_id)
    assert job.id is not None
    return JobView(job.id, job.kind, job.status, job.done, job.total, job.message, job.attempts, job.log,
                   job.created_at, job.finished_at)  # fmt: skip
