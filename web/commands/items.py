"""``infolit items``: import, export and list the item bank."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import click

from itembank import services
from itembank.db import session_scope
from itembank.exceptions import ItemBankError, ValidationReport
from itembank.formats import bundle_document, csv_text, detect_format, dump_json, read_bundles, write_bundle
from itembank.models import ITEM_TYPES, STATUSES

__all__ = ["display_width", "items_group", "report_problems"]


@click.group("items")
def items_group() -> None:
    """The item bank: import, export and list items."""


def report_problems(report: ValidationReport, *, prefix_source: bool = True) -> click.ClickException:
    """Print every problem of ``report`` on stderr, one per line; return the one-line error to raise."""
    for problem in report.problems:
        click.echo(f"{report.source}: {problem}" if prefix_source else str(problem), err=True)
    if report.more:
        click.echo(
            f"{report.source}: ...and {report.more:,} more" if prefix_source else f"...and {report.more:,} more",
            err=True,
        )
    n = report.total
    return click.ClickException(f"{n:,} problem{'s' if n != 1 else ''} in {report.source}; nothing was changed")


@items_group.command("import")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--starter-bank", is_flag=True, help="Import the starter bank shipped in itembank/bank/ (d1.json ...).")
def import_command(files: tuple[Path, ...], starter_bank: bool) -> None:
    """Import items from FILES (canonical JSON, CSV or a QTI 3.0 package .zip, by extension) in one transaction.

    Everything is validated before anything is written: a bad file is refused with every problem
    listed (row or JSON path) and the bank is left as it was. Codes are keys, so importing the
    same file again changes nothing.
    """
    paths = list(files) + (services.starter_bank_files() if starter_bank else [])
    if not paths:
        raise click.UsageError("give one or more FILES, or --starter-bank")
    bundle = read_bundles(paths)
    try:
        with session_scope() as session:
            summary = services.import_items(session=session, bundle=bundle)
            total = services.count_items(session=session)
    except ValidationReport as report:
        raise report_problems(report, prefix_source=len(paths) == 1) from None
    except ItemBankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"imported {', '.join(str(p) for p in paths)}")
    click.echo(str(summary))
    click.echo(f"the bank now holds {total} items")


@items_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "qti"]),
    default=None,
    help="File format (default: from FILE's extension; .zip is a QTI 3.0 content package).",
)
@click.option("--dimension", help="Only items of this dimension (e.g. D2).")
@click.option("--band", help="Only items for this grade band (e.g. 7-9).")
@click.option("--status", type=click.Choice(STATUSES), help="Only items with this status.")
@click.option("--type", "type_", type=click.Choice(ITEM_TYPES), help="Only items of this type.")
@click.option("--no-bom", is_flag=True, help="CSV: leave out the UTF-8 byte-order mark (Excel wants it).")
def export_command(
    file: Path,
    fmt: str | None,
    dimension: str | None,
    band: str | None,
    status: str | None,
    type_: str | None,
    no_bom: bool,
) -> None:
    """Write the bank (current versions, provisional parameters) to FILE as JSON, CSV or QTI 3.0; '-' is stdout."""
    to_stdout = str(file) == "-"
    if fmt is None:
        if to_stdout:
            raise click.UsageError("give --format json|csv when writing to stdout")
    if to_stdout and fmt == "qti":
        raise click.UsageError("a QTI package is a ZIP file: give a FILE.zip, not '-'")
        try:
            fmt = detect_format(file)
        except ValueError as exc:
            raise click.UsageError(f"{exc} (or give --format)") from None
    with session_scope() as session:
        bundle = services.export_items(session=session, dimension=dimension, band=band, status=status, type=type_)
    if to_stdout:
        text = (
            dump_json(bundle_document(bundle.stimuli, bundle.items))
            if fmt == "json"
            else csv_text(bundle.stimuli, bundle.items)
        )
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_bundle(file, bundle.stimuli, bundle.items, fmt=fmt, bom=not no_bom)
    click.echo(f"wrote {len(bundle.items)} items and {len(bundle.stimuli)} stimuli to {file} ({fmt})")


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal columns (with an ellipsis) and pad it to exactly that width."""
    text = " ".join(text.split())
    if display_width(text) > width:
        out = ""
        for ch in text:
            if display_width(out + ch) > width - 1:
                break
            out += ch
        text = out + "…"
    return text + " " * (width - display_width(text))


@items_group.command("list")
@click.option("--dimension", help="Only items of this dimension (e.g. D2).")
@click.option("--indicator", help="Only items of this sub-indicator (e.g. D2.3).")
@click.option("--band", help="Only items for this grade band (e.g. 7-9).")
@click.option("--status", type=click.Choice(STATUSES), help="Only items with this status.")
@click.option("--type", "type_", type=click.Choice(ITEM_TYPES), help="Only items of this type.")
@click.option("--stem-width", default=40, show_default=True, help="Columns of the stem shown.")
def list_command(
    dimension: str | None,
    indicator: str | None,
    band: str | None,
    status: str | None,
    type_: str | None,
    stem_width: int,
) -> None:
    """List items as a table (code order), with filters."""
    with session_scope() as session:
        items = services.list_items(
            session=session, dimension=dimension, indicator=indicator, band=band, status=status, type=type_
        )
    if not items:
        click.echo("no items match")
        return
    header = ("code", "type", "indicator", "bands", "status", "v", "stimulus", "stem")
    rows = [
        (
            i.code,
            i.type,
            i.indicator,
            ",".join(i.grade_bands),
            i.status,
            str(i.current_version),
            i.stimulus or "",
            i.stem,
        )
        for i in items
    ]
    widths = [max(display_width(r[k]) for r in [header, *rows]) for k in range(len(header) - 1)]
    widths.append(max(4, stem_width))
    for r in [header, *rows]:
        click.echo("  ".join(_fit(cell, w) for cell, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"{len(items)} item{'s' if len(items) != 1 else ''}")


@items_group.command("status")
@click.argument("code")
@click.argument("status", type=click.Choice(STATUSES))
def status_command(code: str, status: str) -> None:
    """Move item CODE to STATUS: one step along draft -> pilot -> operational, or to retired.

    Any other move is refused with the reason; an item becomes operational only with parameters
    from a calibration of responses.
    """
    from assess.exceptions import AssessError
    from assess.research.bankedit import change_status
    from web.commands.operator import operator

    try:
        with session_scope() as session:
            old = change_status(session=session, actor=operator(), code=code, status=status)
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"item {code}: {old} -> {status}")
