"""``infolit research``: calibration runs of an assessment's responses, as background jobs."""

from __future__ import annotations

import time

import click

__all__ = ["research_group"]


@click.group("research")
def research_group() -> None:
    """Calibration runs: start one on an assessment's responses (a background job), list them, show one.

    Publishing: publish a draft calibration (linked to the operational scale), undo it, list the
    publications, rescore ended sittings under a published calibration.
    """


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


# ============================================================================================ publishing
def _publication_line(v: object) -> str:
    from assess.research.publish import PublicationView

    assert isinstance(v, PublicationView)
    link = "first publication, not linked"
    if v.linked:
        link = (
            f"linked to {v.previous} by Stocking-Lord: A={v.slope:.4f} B={v.intercept:.4f}, "
            f"{v.n_common} common items, criterion {v.criterion:.6f}"
        )
    when = v.published_at.strftime("%Y-%m-%d %H:%M")
    undone = f", undone by {v.undone_by} {v.undone_at:%Y-%m-%d %H:%M}" if v.undone_at is not None else ""
    return f"{v.id}\t{v.calibration}\t{v.status}\t{link}\tby {v.published_by} {when}{undone}"


@research_group.command("publish")
@click.argument("calibration")
@click.option("--yes", is_flag=True, help="Publish without asking (after the review is printed).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the exposure recalibration.")
def publish_command(calibration: str, yes: bool, seed: int) -> None:
    """Publish the draft CALIBRATION: linked to the operational scale, open rounds moved, exposure recalibrated.

    Prints the review first (the Stocking-Lord constants A and B, the number of common items and
    the criterion; the rounds that move to it or keep theirs; the blueprints whose exposure
    parameters are calibrated again), then asks. All in one transaction; ``infolit research
    unpublish`` undoes it.
    """
    from assess.exceptions import AssessError
    from assess.research.publish import plan_publication, publish_calibration
    from itembank.db import get_engine, session_scope
    from itembank.models import utcnow
    from web.commands.operator import operator

    try:
        with session_scope(get_engine()) as session:
            plan = plan_publication(session=session, calibration=calibration, now=utcnow())
            if plan.linked:
                click.echo(
                    f"linking to {plan.previous} (Stocking-Lord): A = {plan.slope:.4f}, B = {plan.intercept:.4f}, "
                    f"{plan.n_common} common items, criterion {plan.criterion:.6f}"
                )
            else:
                click.echo("first publication: no operational calibration to link to, published on its own scale")
            click.echo(f"rounds moved to it: {', '.join(plan.moves) or 'none'}")
            for k in plan.kept:
                click.echo(f"round {k.code} keeps its calibration: {k.reason}")
            exposure = ", ".join(f"{a} {b}" for a, b in plan.exposure)
            click.echo(f"exposure recalibrated: {exposure or 'none'}")
            if not yes:
                click.confirm(f"publish {calibration}?", abort=True)
            view = publish_calibration(
                session=session, actor=operator(), calibration=calibration, now=utcnow(), seed=seed
            )
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"published: {_publication_line(view)}")


@research_group.command("unpublish")
@click.option("--yes", is_flag=True, help="Undo without asking.")
def unpublish_command(yes: bool) -> None:
    """Undo the newest publication in force: the previous calibration, its parameters and exposure, exactly."""
    from assess.exceptions import AssessError
    from assess.research.publish import undo_publication
    from itembank.db import get_engine, session_scope
    from itembank.models import utcnow
    from web.commands.operator import operator

    if not yes:
        click.confirm("undo the newest publication?", abort=True)
    try:
        with session_scope(get_engine()) as session:
            view = undo_publication(session=session, actor=operator(), now=utcnow())
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"undone: {_publication_line(view)}")


@research_group.command("publications")
def publications_command() -> None:
    """The publication history, newest first, one line each."""
    from sqlmodel import Session

    from assess.research.publish import list_publications
    from itembank.db import get_engine

    with Session(get_engine()) as session:
        for v in list_publications(session=session):
            click.echo(_publication_line(v))


@research_group.command("rescore")
@click.option("--calibration", required=True, help="A published (operational or superseded) calibration.")
@click.option("--assessment", default=None, help="The round's code (default: every round with ended sittings).")
@click.option("--chunk", type=int, default=500, show_default=True, help="Sittings scored and written per step.")
def rescore_command(calibration: str, assessment: str | None, chunk: int) -> None:
    """Rescore ended sittings under a calibration: theta, SE, scale score, level, 达标; the round then uses it.

    Runs here, in one transaction, with a progress bar (the console and the API run it as a
    background job).
    """
    from assess.exceptions import AssessError
    from assess.research.rescore import rescore_sittings
    from itembank.db import get_engine, session_scope
    from itembank.models import utcnow
    from web.commands.operator import operator

    with click.progressbar(length=1, label="rescoring", show_pos=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            with session_scope(get_engine()) as session:
                result = rescore_sittings(
                    session=session,
                    actor=operator(),
                    calibration=calibration,
                    assessment=assessment,
                    now=utcnow(),
                    chunk=chunk,
                    progress=progress,
                )
        except AssessError as exc:
            raise click.ClickException(str(exc)) from None
    for r in result.rounds:
        shift = "-" if r.mean_shift is None else f"{r.mean_shift:+.1f}"
        click.echo(
            f"{r.assessment}: {r.sittings} sittings rescored under {result.calibration} (was {r.previous}), "
            f"{r.assessed} assessed, {r.levels_changed} levels changed, mean scale-score change {shift}"
        )
