"""``infolit sessions``: students' sittings (``expire``: close the abandoned ones and score them)."""

from __future__ import annotations

import click

from assess.exceptions import NotFound
from assess.expiry import expire_overdue
from itembank.db import get_engine
from itembank.models import utcnow

__all__ = ["sessions_group"]


@click.group("sessions")
def sessions_group() -> None:
    """Students' sittings: close those abandoned past their deadline, scored on what they answered."""


@sessions_group.command("expire")
@click.option("--assessment", "assessment_code", metavar="CODE", help="Only this assessment's sittings.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds past the deadline before a sitting counts as abandoned.",
)
def expire_command(assessment_code: str | None, grace: float) -> None:
    """End every sitting still in progress past its deadline, scored on what it answered.

    Run it at the end of an assessment's window (``infolit serve`` also does it now and then): a
    student who closed the browser and never came back is then scored like one whose time ran
    out, and counted in the reports if the sitting has the blueprint's minimum of scored answers
    (fewer: not assessed). Sittings still within their time are left alone.
    """
    try:
        done = expire_overdue(engine=get_engine(), now=utcnow(), assessment_code=assessment_code, grace_seconds=grace)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"expired {done.expired} abandoned sitting{'s' if done.expired != 1 else ''} "
        f"({done.assessed} assessed, {done.expired - done.assessed} with too few answers); "
        f"{done.running} still within their time"
    )
