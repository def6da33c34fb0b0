"""``infolit research``: calibration runs of an assessment's responses, as background jobs."""

from __future__ import annotations

import time

import click

__all__ = ["research_group"]


@click.group("research")
def research_group() -> None:
    """Calibration runs: start one on an assessment's responses (a background job), list them, show one."""


@research_group.command("calibrate")
@click.argument("assessment")
@click.option("--name", required=True, help="Name of the calibration it stores (a draft until published).")
@click.option("--items", type=click.Choice(["all", "pilot"]), default="all", show_default=True,
              help="pilot: only the pilot items are estimated, the operational ones anchored.")  # fmt: skip
@click.option("--model", type=click.Choice(["declared", "rasch", "2pl", "3pl"]), default="declared",
              show_default=True, help="Model of the dichotomous items (declared: each item's own).")  # fmt: skip
@click.option("--poly-model", type=click.Choice(["declared", "grm", "gpcm"]), default="declared", show_default=True)
@click.option("--anchors", type=click.Choice(["none", "operational"]), default="none", show_default=True,
              help="operational: fix the operational items at the assessment's parameters.")  # fmt: skip
@click.option("--groups", type=click.Choice(["grade", "none"]), default="grade", show_default=True)
@click.option("--min-responses", type=int, default=50, show_default=True)
@click.option("--wait", is_flag=True, help="Follow the job until it ends (a consumer must be running).")
def calibrate_run_command(
    assessment: str,
    name: str,
    items: str,
    model: str,
    poly_model: str,
    anchors: str,
    groups: str,
    min_responses: int,
    wait: bool,
) -> None:
    """Start a calibration of ASSESSMENT's responses (its code) as a background job.

    The run, its inputs and the code version are stored; a consumer (``infolit serve`` or
    ``infolit jobs worker``) runs it and stores the result as a draft calibration with SEs and
    the classical statistics. ``infolit research show ID`` follows it.
    """
    from assess.exceptions import AssessError
    from assess.research.queue import default_queue
    from assess.research.runs import RunSpec, start_run
    from itembank.db import session_scope

    spec = RunSpec(name=name, assessment=assessment, items=items, model=model, poly_model=poly_model,
                   anchors=anchors, groups=groups, min_responses=min_responses)  # fmt: skip
    queue = default_queue()
    try:
        with session_scope(queue.engine) as session:
            run = start_run(session=session, actor=None, spec=spec)
            run_id, job_id = int(run.id or 0), run.job_id
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    queue.enqueue(job_id)
    click.echo(f"calibration run {run_id} queued (job {job_id})")
    if wait:
        status = _follow(run_id)
        if status != "done":
            raise SystemExit(1)


def _line(run_id: int) -> tuple[str, str]:
    from sqlmodel import Session

    from assess.research.runs import run_view
    from itembank.db import get_engine

    with Session(get_engine()) as session:
        v = run_view(session=session, run_id=run_id)
    text = f"run {v.id} {v.name} ({v.assessment}): {v.status} {v.percent}%"
    if v.message:
        text += f" - {v.message}"
    if v.status == "done":
        s = v.summary
        text += (f" - {s['n_students']} students, {s['n_items']} items ({s['n_anchored']} anchored), "
                 f"{s['n_cycles']} EM cycles, logLik {s['log_likelihood']:.2f}, {s['seconds']} s")  # fmt: skip
    return v.status, text


def _follow(run_id: int) -> str:
    last = ""
    while True:
        status, text = _line(run_id)
        if text != last:
            click.echo(text)
            last = text
        if status not in ("queued", "running"):
            return status
        time.sleep(1.0)


@research_group.command("show")
@click.argument("run_id", type=int)
@click.option("--log", "with_log", is_flag=True, help="Print the job's log too.")
def show_run_command(run_id: int, with_log: bool) -> None:
    """One line on calibration run RUN_ID (and its log)."""
    from sqlmodel import Session

    from assess.exceptions import NotFound
    from assess.research.runs import run_view
    from itembank.db import get_engine

    try:
        _, text = _line(run_id)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text)
    if with_log:
        with Session(get_engine()) as session:
            click.echo(run_view(session=session, run_id=run_id).log.rstrip())


@research_group.command("runs")
def list_runs_command() -> None:
    """The newest calibration runs, one line each."""
    from sqlmodel import Session

    from assess.research.runs import list_runs
    from itembank.db import get_engine

    with Session(get_engine()) as session:
        runs = list_runs(session=session)
    for v in runs:
        click.echo(f"{v.id}\t{v.name}\t{v.assessment}\t{v.status}\t{v.percent}%\t{v.message}")
