"""``infolit data``: data out, an assessment's anonymised responses and a calibration's parameters, as files."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import click

__all__ = ["data_group"]

_OUT = click.Path(dir_okay=False, path_type=Path, allow_dash=True)


@click.group("data")
def data_group() -> None:
    """Data out: an assessment's anonymised responses (wide, long) and a calibration's parameters."""


@data_group.group("export")
def export_group() -> None:
    """Write a file for R or another program; FILE '-' is stdout."""


def _write(file: Path, chunks: Iterable[str]) -> int:
    """Write text chunks to FILE (or stdout), UTF-8 without a byte-order mark; the characters written."""
    n = 0
    if str(file) == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
            n += len(chunk)
        sys.stdout.flush()
        return n
    with file.open("w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)
            n += len(chunk)
    return n


def _responses(assessment: str, file: Path, kind: str) -> None:
    from sqlmodel import Session

    from assess.accounts import audit
    from assess.exceptions import AssessError
    from assess.research.dataout import assessment_source, long_csv, wide_csv
    from itembank.db import get_engine, session_scope
    from web.commands.operator import operator

    write: Callable[..., Iterable[str]] = wide_csv if kind == "wide" else long_csv
    try:
        with Session(get_engine()) as session:
            source = assessment_source(session=session, code=assessment)
            _write(file, write(session=session, source=source))
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    with session_scope() as session:
        audit.record(session, operator(), "data.export", target=f"assessment:{assessment}",
                     detail={"file": f"responses-{kind}"})  # fmt: skip
    if str(file) != "-":
        click.echo(f"wrote {file}: {kind} responses of {assessment}, {len(source.columns)} item columns")


@export_group.command("wide")
@click.argument("assessment")
@click.argument("file", type=_OUT)
def wide_command(assessment: str, file: Path) -> None:
    """ASSESSMENT's scored responses as the RESPONSES.csv that ``infolit calibrate`` reads.

    One row per student under a pseudonym (never the student code or ticket), one column per
    item version (CODE, or CODE@N when the assessment showed several versions of an item).
    """
    _responses(assessment, file, "wide")


@export_group.command("long")
@click.argument("assessment")
@click.argument("file", type=_OUT)
def long_command(assessment: str, file: Path) -> None:
    """ASSESSMENT's responses, one row each: pseudonym, item, exact version, score, raw answer, latency, times."""
    _responses(assessment, file, "long")


@export_group.command("parameters")
@click.argument("calibration")
@click.argument("file", type=_OUT)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="File format (default: from FILE's extension, else csv).")  # fmt: skip
def parameters_command(calibration: str, file: Path, fmt: str | None) -> None:
    """CALIBRATION's parameters with SEs: CSV (item,version,model,a,b1..,c,se_...) or the canonical JSON."""
    from sqlmodel import Session

    from assess.exceptions import AssessError
    from assess.research.dataout import parameters_csv, parameters_json
    from itembank.db import get_engine

    fmt = fmt or ("json" if file.suffix.lower() == ".json" else "csv")
    try:
        with Session(get_engine()) as session:
            text = (parameters_json if fmt == "json" else parameters_csv)(session=session, name=calibration)
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    _write(file, [text])
    if str(file) != "-":
        click.echo(f"wrote {file}: parameters of calibration {calibration} ({fmt})")
