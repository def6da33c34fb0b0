"""``infolit assessment``: testing rounds from the command line (an operator on the server acts as an admin).

``create --blueprint FILE`` checks an assessment file (TOML or JSON, :mod:`assess.assessment_file`)
and stores the round, or lists every problem and writes nothing; ``example`` prints a file to
start from; ``list`` shows every round with its window and sittings; ``open CODE [--until WHEN]``
opens a window now; ``close CODE`` closes it, ending the sittings still open and scoring what they
answered. Every change is written to the audit log as ``cli:<login name>``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import click

from assess.exceptions import AssessError
from itembank.db import get_engine, session_scope
from itembank.models import utcnow
from web.commands.operator import operator as _operator

__all__ = ["assessment_group"]

_BEIJING = timezone(timedelta(hours=8), "CST")


def _local(value: datetime) -> str:
    return value.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M")


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "应写成 2026-05-22T17:00（北京时间）或带时区的 ISO 8601 时间", param_hint="--until"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=_BEIJING)).astimezone(UTC)


@click.group("assessment")
def assessment_group() -> None:
    """Testing rounds: create one from an assessment file, list them, open and close their windows."""


@assessment_group.command("create")
@click.option(
    "--blueprint",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The assessment file (TOML or JSON): code, grades, window, calibration, each band's design.",
)
def create_command(path: Path) -> None:
    """Check an assessment file and create the round; a file with problems lists them all and writes nothing."""
    from assess.administration import create_assessment
    from assess.assessment_file import AssessmentFileError

    content = path.read_bytes()
    try:
        with session_scope(get_engine()) as session:
            made = create_assessment(
                session=session, actor=_operator(), content=content, filename=path.name, now=utcnow()
            )
    except AssessmentFileError as exc:
        click.echo(f"{path.name}：{len(exc.problems)} 处问题，未写入任何数据：", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1) from None
    bands = ", ".join(f"{band} {mode}" for band, mode in made.bands)
    click.echo(f"已创建测评批次 {made.code}（{made.name}，{made.purpose_name}）")
    click.echo(f"年级 {', '.join(map(str, made.grades))}；方案 {bands}；参数标定 {made.calibration or '无'}")
    click.echo(f"开放时间 {_local(made.opens_at)} 至 {_local(made.closes_at)}（北京时间），{made.status_name}")


@assessment_group.command("example")
@click.option("--code", default="2026-SPRING", show_default=True, help="The round's code in the example.")
def example_command(code: str) -> None:
    """Print an example assessment file (TOML) to edit."""
    from assess.assessment_file import example_file

    click.echo(example_file(code=code), nl=False)


@assessment_group.command("list")
def list_command() -> None:
    """List every round: window (Beijing time), state, design, sittings in progress / finished / timed out."""
    from assess.administration import list_assessments

    with session_scope(get_engine()) as session:
        rows = list_assessments(session=session, actor=_operator(), now=utcnow())
    if not rows:
        click.echo("还没有测评批次")
        return
    for a in rows:
        bands = ",".join(f"{band}:{mode}" for band, mode in a.bands) or "-"
        click.echo(
            f"{a.code}\t{a.status_name}\t{_local(a.opens_at)} - {_local(a.closes_at)}\t"
            f"年级 {','.join(map(str, a.grades))}\t{bands}\t{a.calibration or '-'}\t"
            f"作答中 {a.in_progress} 完成 {a.finished} 超时 {a.expired}\t{a.name}"
        )


@assessment_group.command("open")
@click.argument("code")
@click.option(
    "--until", default=None, metavar="WHEN", help="Move the closing time too (Beijing time unless an offset is given)."
)
def open_command(code: str, until: str | None) -> None:
    """Open the window of round CODE now, after checking that students can sit it."""
    from assess.administration import open_assessment

    closes = _when(until)
    try:
        with session_scope(get_engine()) as session:
            done = open_assessment(session=session, actor=_operator(), code=code, now=utcnow(), until=closes)
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"测评 {done.code} 已开放，{_local(done.closes_at)}（北京时间）关闭")


@assessment_group.command("close")
@click.argument("code")
def close_command(code: str) -> None:
    """Close the window of round CODE now: sittings still open end, scored on what they answered."""
    from assess.administration import close_assessment

    try:
        done = close_assessment(engine=get_engine(), actor=_operator(), code=code, now=utcnow())
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"测评 {done.assessment.code} 已关闭；结束了 {done.expired} 场未交卷的作答"
        f"（{done.assessed} 场达到最少题数并计分，{done.expired - done.assessed} 场题数不足不计入结果）"
    )
    if done.running:
        click.echo(f"仍有 {done.running} 场作答未能结束，请再次运行 close", err=True)
