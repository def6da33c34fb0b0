"""Background jobs of the consoles: started by a user, run by a worker thread, followed by anyone's request.

A job (:class:`~assess.accounts.models.StaffJob`) lives in the database: the worker that runs it
writes its progress there (each write its own short transaction), and the page that shows the
progress may be served by any worker. Only the user who started a job sees it, by a random token.
A job whose worker died stops sending heartbeats and is reported failed after
:data:`STALE_AFTER`. Finished files are kept for :data:`KEEP_FOR`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.exceptions import OutOfScope
from assess.accounts.models import StaffJob
from assess.accounts.scope import Actor
from itembank.db import aware_utc, session_scope
from itembank.models import utcnow

__all__ = [
    "KEEP_FOR",
    "STALE_AFTER",
    "JobState",
    "fail_job",
    "finish_job",
    "job_file",
    "job_state",
    "report_progress",
    "start_job",
]

STALE_AFTER = timedelta(minutes=2)
"""A running job without a heartbeat for this long is taken as dead."""
KEEP_FOR = timedelta(hours=24)
"""How long a finished job's file is kept."""


@dataclass(frozen=True)
class JobState:
    """Where a job stands (``status`` queued, running, done or failed) and, when done, its file's name."""

    token: str
    kind: str
    target: str
    status: str
    done: int
    total: int
    message: str
    filename: str

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        return 100 if self.status == "done" else int(100 * self.done / self.total) if self.total else 0


def start_job(*, session: Session, actor: Actor, kind: str, target: str, scope_path: str, total: int) -> str:
    """Record a new job of the actor in the caller's transaction; its token."""
    session.execute(delete(StaffJob).where(col(StaffJob.created_at) < utcnow() - KEEP_FOR))
    token = secrets.token_urlsafe(18)
    session.add(StaffJob(token=token, user_id=actor.user_id, kind=kind, target=target, scope_path=scope_path,
                         total=total))  # fmt: skip
    audit.record(session, actor, "job.start", target=target, scope_path=scope_path, detail={"kind": kind})
    session.flush()
    return token


def _set(engine: Engine, token: str, **values: object) -> None:
    with session_scope(engine) as session:
        session.execute(update(StaffJob).where(col(StaffJob.token) == token).values(heartbeat_at=utcnow(), **values))


def report_progress(*, engine: Engine, token: str, done: int, message: str = "") -> None:
    """The job has done ``done`` of its steps (a heartbeat too)."""
    _set(engine, token, status="running", done=done, message=message[:255])


def finish_job(*, engine: Engine, token: str, filename: str, media_type: str, content: bytes) -> None:
    """The job is done; store its file."""
    _set(engine, token, status="done", filename=filename[:128], media_type=media_type, content=content,
         finished_at=utcnow(), message="")  # fmt: skip


def fail_job(*, engine: Engine, token: str, message: str) -> None:
    """The job failed with ``message`` (shown to the user)."""
    _set(engine, token, status="failed", message=message[:255], finished_at=utcnow())


def _own(session: Session, actor: Actor, token: str) -> StaffJob:
    job = session.exec(select(StaffJob).where(col(StaffJob.token) == token)).first()
    if job is None or job.user_id != actor.user_id:
        raise OutOfScope("没有找到这个任务。")
    return job


def job_state(*, session: Session, actor: Actor, token: str, now: datetime | None = None) -> JobState:
    """The actor's job ``token`` (:class:`OutOfScope` for anyone else's)."""
    job = _own(session, actor, token)
    status, message = job.status, job.message
    if status in ("queued", "running") and aware_utc(job.heartbeat_at) < (now or utcnow()) - STALE_AFTER:
        status, message = "failed", "任务中断（服务器重启），请重新开始。"
    return JobState(job.token, job.kind, job.target, status, job.done, job.total, message, job.filename)


def job_file(*, session: Session, actor: Actor, token: str) -> tuple[str, str, bytes]:
    """The file of the actor's finished job: name, media type, bytes (:class:`OutOfScope` otherwise)."""
    job = _own(session, actor, token)
    if job.status != "done" or job.content is None:
        raise OutOfScope("这个任务还没有完成。")
    return job.filename, job.media_type, job.content
