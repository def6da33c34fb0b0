"""``infolit jobs``: the background-job queue (huey): run a consumer, probe it, show a job."""

from __future__ import annotations

import time

import click

__all__ = ["jobs_group"]


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs (calibration runs): run a consumer, probe the queue, show a job."""


@jobs_group.command("worker")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads (default: INFOLIT_JOBS_WORKERS, 1).")
def worker_command(workers: int | None) -> None:
    """Run a job consumer in the foreground until SIGINT or SIGTERM.

    ``infolit serve`` runs one beside the app already (unless INFOLIT_JOBS_CONSUMER=0); run this
    on a machine of its own for heavy calibrations. Jobs whose consumer died are queued again when
    it starts.
    """
    from assess.research.queue import default_queue

    queue = default_queue()
    again = queue.reclaim()
    click.echo(f"jobs worker: queue {queue.where}, {workers or queue.settings.workers} thread(s), "
               f"{len(again)} lost job(s) queued again", err=True)  # fmt: skip
    queue.consumer(workers=workers).run()


def _wait(job_id: int) -> str:
    from sqlmodel import Session

    from assess.research.queue import job_view
    from itembank.db import get_engine

    while True:
        with Session(get_engine()) as session:
            view = job_view(session=session, job_id=job_id)
        if not view.active:
            return view.status
        time.sleep(0.5)


@jobs_group.command("probe")
@click.option("--steps", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--seconds", type=click.FloatRange(min=0), default=0.5, show_default=True, help="Pause per step.")
@click.option("--fail-at", type=click.IntRange(min=1), default=None, help="Fail at this step (to see a failure).")
@click.option("--wait", is_flag=True, help="Wait until a consumer has run it.")
def probe_command(steps: int, seconds: float, fail_at: int | None, wait: bool) -> None:
    """Queue a probe job that counts STEPS steps: checks that a consumer takes and runs jobs."""
    from assess.research.probe import PROBE, probe_params
    from assess.research.queue import create_job, default_queue
    from itembank.db import session_scope

    queue = default_queue()
    with session_scope(queue.engine) as session:
        job = create_job(session=session, kind=PROBE, params=probe_params(steps=steps, seconds=seconds,
                                                                           fail_at=fail_at), total=steps)  # fmt: skip
        job_id = int(job.id or 0)
    queue.enqueue(job_id)
    click.echo(f"job {job_id} queued")
    if wait:
        status = _wait(job_id)
        click.echo(f"job {job_id} {status}")
        if status != "done":
            raise SystemExit(1)


@jobs_group.command("show")
@click.argument("job_id", type=int)
@click.option("--log", "with_log", is_flag=True, help="Print the job's log too.")
def show_command(job_id: int, with_log: bool) -> None:
    """One line on job JOB_ID: kind, status, progress, the reason of a failure."""
    from sqlmodel import Session

    from assess.research.queue import job_view
    from itembank.db import get_engine

    with Session(get_engine()) as session:
        try:
            view = job_view(session=session, job_id=job_id)
        except KeyError:
            raise click.ClickException(f"no job {job_id}") from None
    click.echo(f"job {view.id} {view.kind}: {view.status} {view.done}/{view.total} ({view.percent}%), "
               f"attempt {view.attempts}{': ' + view.message if view.message else ''}")  # fmt: skip
    if with_log:
        click.echo(view.log.rstrip())
