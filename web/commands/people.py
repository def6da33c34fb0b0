"""``infolit people``: register schools, classes and students from a file; print their tickets.

``infolit people template FILE.csv|.xlsx`` writes an empty registration file (the format is
described in :mod:`assess.registration`); ``infolit people import FILE`` validates it completely
and then registers it in one transaction, writing the new students' tickets and PINs to a PDF of
cut-out cards (and optionally a CSV). The PINs are not stored in clear anywhere: those files are
the only copy, so they are never overwritten; ``infolit people tickets --new-pins`` replaces lost
PINs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlmodel import select
from tqdm import tqdm

from assess.accounts import audit
from assess.exceptions import RegistrationError
from assess.models import School, Student
from assess.registration import (
    IssuedTicket,
    list_students,
    read_registration,
    register_students,
    reissue_pins,
    school_tickets,
    write_template,
)
from itembank.db import session_scope
from reports.tickets import render_tickets, tickets_csv, write_private
from web.commands.items import display_width
from web.commands.operator import operator

__all__ = ["DEFAULT_LOGIN_URL", "people_group"]

DEFAULT_LOGIN_URL = "http://localhost:8000/"
"""The address printed on cards when neither ``--login-url`` nor ``INFOLIT_LOGIN_URL`` is set."""
_TITLE = "学生信息素养测评"

_login_url_option = click.option(
    "--login-url",
    envvar="INFOLIT_LOGIN_URL",
    default=DEFAULT_LOGIN_URL,
    show_default=True,
    help="Address printed on the cards (or set INFOLIT_LOGIN_URL).",
)
_title_option = click.option(
    "--title", default=None, help=f"Card heading (default: the assessment's name, or {_TITLE})."
)


@click.group("people")
def people_group() -> None:
    """Schools, classes and students: register them from a file, list them, print their tickets."""


@contextmanager
def _hash_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over PIN hashing, opened on the first report (when the total is known)."""
    state: dict[str, Any] = {}

    def report(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=label, unit="PIN", leave=False, dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        yield report
    finally:
        if "bar" in state:
            state["bar"].close()


def _free_path(path: Path) -> Path:
    """``path``, or ``name-2.pdf``, ``name-3.pdf``... when it exists (a tickets file is never overwritten)."""
    candidate, k = path, 1
    while candidate.exists():
        k += 1
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
    return candidate


def _refuse_existing(paths: Sequence[Path | None], force: bool) -> None:
    for p in paths:
        if p is not None and p.exists() and not force:
            raise click.UsageError(f"{p} exists; choose another name (or --force to overwrite it)")


def _write(path: Path, data: bytes, written: list[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, data)  # 0600: the PINs in it log in as the students
    written.append(path)


def _write_cards(
    cards: Sequence[IssuedTicket],
    *,
    pdf: Path,
    csv_out: Path | None,
    login_url: str,
    title: str,
    written: list[Path],
) -> None:
    _write(pdf, render_tickets(cards, login_url=login_url, title=title), written)
    if csv_out is not None:
        _write(csv_out, tickets_csv(cards, login_url=login_url), written)


def _note_login_url(login_url: str) -> None:
    if login_url == DEFAULT_LOGIN_URL:
        click.echo(
            f"note: the cards show the login address {login_url}; give --login-url (or set INFOLIT_LOGIN_URL) "
            "for the real one",
            err=True,
        )


@people_group.command("template")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--example", is_flag=True, help="Add three example rows after the header.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def template_command(file: Path, example: bool, force: bool) -> None:
    """Write an empty registration file FILE (.csv or .xlsx) to fill in, one row per student."""
    if file.suffix.lower() not in {".csv", ".xlsx"}:
        raise click.UsageError(f"{file}: use a .csv or .xlsx name")
    _refuse_existing([file], force)
    write_template(file, example=example)
    click.echo(f"wrote the registration template {file}" + (" (with example rows)" if example else ""))


@people_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--assessment", metavar="CODE", help="Check every grade against this assessment's target grades.")
@click.option(
    "--tickets-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PDF of the new students' ticket cards (default: FILE-tickets.pdf next to FILE, numbered if taken).",
)
@click.option(
    "--csv-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the tickets and PINs as CSV."
)
@_login_url_option
@_title_option
@click.option("--force", is_flag=True, help="Overwrite --tickets-out / --csv-out if they exist.")
def import_command(
    file: Path,
    assessment: str | None,
    tickets_out: Path | None,
    csv_out: Path | None,
    login_url: str,
    title: str | None,
    force: bool,
) -> None:
    """Register the schools, classes and students of FILE (.csv or .xlsx) and print their tickets.

    Everything is validated first: a file with problems is refused with every problem listed
    (row, column, message) and the database is left as it was. Areas, schools and classes are
    created or reused by code; students already registered are left unchanged, so importing the
    same file again changes nothing. New students get a random ticket and a six-digit PIN; the
    PINs are printed on the cards and are not stored in clear, so keep the PDF safe.
    """
    _refuse_existing([tickets_out, csv_out], force)
    pdf = tickets_out or _free_path(file.with_name(f"{file.stem}-tickets.pdf"))
    registration = read_registration(file)
    written: list[Path] = []
    try:
        with session_scope() as session, _hash_bar("hashing PINs") as bar:
            summary = register_students(session=session, rows=registration, assessment=assessment, progress=bar)
            audit.record(
                session,
                operator(),
                "registration.import",
                target=f"file:{file.name}",
                detail={
                    "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                    "students_created": summary.students_created,
                    "students_unchanged": summary.students_unchanged,
                    "schools_created": summary.schools_created,
                },
            )
            if summary.tickets:
                _write_cards(
                    summary.tickets,
                    pdf=pdf,
                    csv_out=csv_out,
                    login_url=login_url,
                    title=title or summary.assessment or _TITLE,
                    written=written,
                )
    except RegistrationError as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem}", err=True)
        if exc.more:
            click.echo(f"{file}: ...and {exc.more:,} more", err=True)
        n = exc.total
        raise click.ClickException(f"{n:,} problem{'s' if n != 1 else ''} in {file}; nothing was changed") from None
    except BaseException:
        for path in written:  # the registration was rolled back: its cards are void
            path.unlink(missing_ok=True)
        raise
    click.echo(f"registered {file}")
    for line in summary.lines():
        click.echo(f"  {line}")
    if summary.tickets:
        click.echo(f"tickets and PINs of {len(summary.tickets)} new students written to {pdf}")
        if csv_out is not None:
            click.echo(f"  and to {csv_out}")
        click.echo("keep them safe: PINs are stored only as hashes and cannot be printed again")
        _note_login_url(login_url)
    else:
        click.echo("no new students, no tickets written")
    if summary.unchanged:
        click.echo("tickets of registered students (without PINs): infolit people tickets --school CODE --out FILE.pdf")


@people_group.command("tickets")
@click.option("--school", "school_code", required=True, metavar="CODE", help="The school.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF to write.")
@click.option("--grade", type=click.IntRange(3, 12), help="Only this grade.")
@click.option("--class", "class_name", metavar="NAME", help="Only this class (e.g. 3班).")
@click.option(
    "--new-pins",
    is_flag=True,
    help="Issue new PINs (the old ones stop working) and print them; without it the PIN line is blank.",
)
@click.option("--csv-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the cards as CSV.")
@_login_url_option
@_title_option
@click.option("--force", is_flag=True, help="Overwrite --out / --csv-out if they exist.")
def tickets_command(
    school_code: str,
    out: Path,
    grade: int | None,
    class_name: str | None,
    new_pins: bool,
    csv_out: Path | None,
    login_url: str,
    title: str | None,
    force: bool,
) -> None:
    """Print the ticket cards of a school's students to a PDF (ten per A4 page, a page per class).

    PINs are not stored in clear, so reprinted cards have a blank PIN line unless --new-pins
    issues new ones (in the same transaction as the file is written).
    """
    _refuse_existing([out, csv_out], force)
    written: list[Path] = []
    try:
        with session_scope() as session, _hash_bar("hashing PINs") as bar:
            if new_pins:
                cards = reissue_pins(
                    session=session, school_code=school_code, grade=grade, class_name=class_name, progress=bar
                )
            else:
                cards = school_tickets(session=session, school_code=school_code, grade=grade, class_name=class_name)
            if not cards:
                raise click.ClickException(f"school {school_code} has no students that match")
            school = session.exec(select(School).where(School.code == school_code)).first()
            audit.record(
                session,
                operator(),
                "tickets.print",
                target=f"school:{school_code}" + (f"/class:{class_name}" if class_name else ""),
                scope_path=school.path if school is not None else "",
                detail={"cards": len(cards), "new_pins": len(cards) if new_pins else 0, "grade": grade},
            )
            _write_cards(cards, pdf=out, csv_out=csv_out, login_url=login_url, title=title or _TITLE, written=written)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from None
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    what = "with new PINs (the old PINs no longer work)" if new_pins else "without PINs"
    click.echo(f"wrote {len(cards)} ticket cards of school {school_code} to {out}, {what}")
    if csv_out is not None:
        click.echo(f"  and to {csv_out}")
    _note_login_url(login_url)


@people_group.command("list")
@click.option("--school", "school_code", required=True, metavar="CODE", help="The school.")
@click.option("--grade", type=click.IntRange(3, 12), help="Only this grade.")
@click.option("--class", "class_name", metavar="NAME", help="Only this class (e.g. 3班).")
def list_command(school_code: str, grade: int | None, class_name: str | None) -> None:
    """List a school's students by grade, class and code (tickets; PINs are never shown)."""
    try:
        with session_scope() as session:
            students = list_students(session=session, school_code=school_code, grade=grade, class_name=class_name)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from None
    if not students:
        click.echo("no students match")
        return
    header = ("student_code", "grade", "class", "gender", "ticket", "pin")
    rows = [
        (s.student_code, str(s.grade), s.class_name, s.gender, s.ticket, "set" if s.has_pin else "none")
        for s in students
    ]
    widths = [max(display_width(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        click.echo(
            "  ".join(cell + " " * (w - display_width(cell)) for cell, w in zip(r, widths, strict=True)).rstrip()
        )
    click.echo(f"{len(students)} student{'s' if len(students) != 1 else ''}")


@people_group.command("unlock")
@click.argument("ticket")
def unlock_command(ticket: str) -> None:
    """Let a student whose ticket had too many failed logins log in again at once."""
    from assess.exceptions import NotFound
    from assess.throttle import unlock_student

    try:
        with session_scope() as session:
            had = unlock_student(session=session, ticket=ticket)
            student = session.exec(select(Student).where(Student.ticket == ticket.strip())).first()
            audit.record(
                session,
                operator(),
                "student.unlock",
                target=f"student:{student.code}" if student is not None else "ticket",
                scope_path=student.path if student is not None else "",
                detail={"had_failures": had},
            )
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ticket {ticket.strip()}: {'unlocked' if had else 'had no failed logins'}; the student may log in now")
