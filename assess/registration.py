"""Bulk registration of schools, classes and students from a CSV or XLSX file, and their tickets.

A school (or a bureau for its schools) fills one row per student; the areas, schools and classes
the rows name are created on the way, or reused when their codes are already registered. The file
format and its readers are in :mod:`assess.people_file`, the row checks in
:mod:`assess.people_checks`, tickets and PINs in :mod:`assess.pins`; this module is the service
that ties them together, and the queries on registered students. Every public name of those
modules is importable from here too.

A code names one thing: the same area, school or student code on several rows must carry the same
name, parent and attributes, and a code already in the database must agree with what is stored.

Validate everything, then write
-------------------------------
:func:`register_students` checks every row first, against the other rows and the database, and
raises :class:`~assess.exceptions.RegistrationError` with the problems, each located as
``row 7, grade: ...`` (row 1 is the header), the same style as the item import: the first 50 in
file order, and how many more there are. Only a file without problems is written, in the caller's
one transaction. Importing the same file again changes nothing: existing areas, schools and classes
are reused and existing students are reported unchanged (a registered student whose grade, class
or gender differs from the file is a problem: registration never edits a student).

Tickets and PINs
----------------
Every new student gets a random ticket and six-digit PIN (:mod:`assess.pins`). **The PIN is never
stored in clear**: the plain PINs are returned once, in :attr:`RegistrationSummary.tickets`, so
the caller can print them on the ticket cards (:mod:`reports.tickets`) or write them to a file for
the school. After that they cannot be shown again; a lost PIN is replaced with
:func:`reissue_pins`, which invalidates the old one. Check a PIN with :func:`verify_pin`.

A PIN is stored as a keyed hash (HMAC-SHA256 under a server key held outside the database; the
threat model is in :mod:`assess.pins`), which costs microseconds: registering 50,000 students is
bound by reading, checking and writing them, not by hashing (``bench/register.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from assess.exceptions import RegistrationError
from assess.models import Area, Assessment, School, SchoolClass, Student
from assess.people_checks import (
    AreaDecl,
    ParsedRow,
    ProblemList,
    SchoolDecl,
    check_assessment,
    check_stored_areas,
    check_stored_schools,
    check_students,
    declare_areas,
    declare_schools,
    parse_row,
)
from assess.people_file import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    PEOPLE_LIMITS,
    RegistrationFile,
    RegistrationRow,
    parse_csv,
    parse_xlsx,
    read_registration,
    write_template,
)
from assess.pins import (
    PinHasher,
    Progress,
    chunks,
    hash_pins,
    new_pin,
    new_ticket,
    pin_hasher,
    ticket_is_well_formed,
    unique_tickets,
    verify_pin,
)
from itembank.db import bulk_insert
from itembank.exceptions import Problem
from itembank.models import utcnow

__all__ = [
    "COLUMNS",
    "PEOPLE_LIMITS",
    "PinHasher",
    "IssuedTicket",
    "RegistrationFile",
    "RegistrationPreview",
    "RegistrationRow",
    "RegistrationSummary",
    "StudentListing",
    "list_students",
    "new_pin",
    "new_ticket",
    "parse_csv",
    "parse_xlsx",
    "pin_hasher",
    "preview_registration",
    "read_registration",
    "register_students",
    "reissue_pins",
    "school_tickets",
    "ticket_is_well_formed",
    "verify_pin",
    "write_template",
]


# ============================================================================================ records


@dataclass(frozen=True)
class IssuedTicket:
    """A student's login card: where it sits, its ticket, and its PIN (only when just issued).

    ``pin`` is the plain PIN, present only in the result of the call that created it
    (:func:`register_students`, :func:`reissue_pins`); it is never stored, so
    :func:`school_tickets` gives ``None``.
    """

    student_code: str
    school_code: str
    school_name: str
    grade: int
    class_name: str
    ticket: str
    pin: str | None = None


@dataclass(frozen=True)
class RegistrationSummary:
    """What a registration created and what it found already there.

    ``tickets`` holds the new students' tickets with their plain PINs, in file order: the only
    time the PINs exist outside the students' hands. ``unchanged`` lists the codes of students
    that were registered already (left exactly as they were). ``assessment`` is the name of the
    assessment the grades were checked against, if one was given.
    """

    source: str
    areas_created: dict[str, int]
    areas_reused: int
    schools_created: int
    schools_reused: int
    classes_created: int
    classes_reused: int
    students_created: int
    students_unchanged: int
    tickets: tuple[IssuedTicket, ...] = ()
    unchanged: tuple[str, ...] = ()
    assessment: str | None = None

    def lines(self) -> list[str]:
        """The summary as short lines, for the CLI."""
        made = self.areas_created
        areas = ", ".join(
            _count(made.get(level, 0), word, plural)
            for level, word, plural in (("province", "province", "provinces"), ("city", "city", "cities"),
                                        ("county", "county", "counties"))
        )  # fmt: skip
        return [
            f"areas: {areas} created; {self.areas_reused} already registered",
            f"schools: {self.schools_created} created, {self.schools_reused} already registered",
            f"classes: {self.classes_created} created, {self.classes_reused} already registered",
            f"students: {self.students_created} created, {self.students_unchanged} unchanged (already registered)",
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _count(n: int, word: str, plural: str) -> str:
    return f"{n} {word if n == 1 else plural}"


@dataclass(frozen=True)
class StudentListing:
    """A registered student as a school administrator lists it (no PIN, no name)."""

    student_code: str
    grade: int
    class_name: str
    gender: str
    ticket: str
    has_pin: bool


# ============================================================================================ service
def register_students(
    *,
    session: Session,
    rows: RegistrationFile | Sequence[Mapping[str, object]],
    assessment: str | None = None,
    hasher: PinHasher | None = None,
    progress: Progress | None = None,
    require: Mapping[str, str] | None = None,
    issue_pins: bool = True,
) -> RegistrationSummary:
    """Validate a registration file completely, then create its areas, schools, classes and students.

    Parameters
    ----------
    session
        An open session; everything is written in its transaction (commit is the caller's, e.g.
        :func:`itembank.db.session_scope`). Nothing is written when a problem is found.
    rows
        A file read by :func:`read_registration` (its reading problems are reported with the
        rest), or mappings from column name to value, numbered as rows 2, 3, ...
    assessment
        Code of an assessment: every student's grade must be one it tests.
    hasher
        The PIN hasher (default :func:`pin_hasher`, the keyed hash).
    progress
        Called as PINs are hashed, with the number hashed so far and the total.
    require
        Column values every row must have (``{"school_code": "S001"}``): a school or a bureau
        registers only inside its own part of the tree, and a row outside it is a problem.
    issue_pins
        ``False`` registers the new students without a PIN (they cannot log in until their
        ticket cards are printed with :func:`reissue_pins`); the tickets are returned without PINs.

    Returns
    -------
    RegistrationSummary
        Counts, and the new students' tickets with their plain PINs (returned this once only).

    Raises
    ------
    RegistrationError
        With the problems of the file, each as ``row N, column: message`` (the first
        ``PEOPLE_LIMITS.max_problems`` in file order; ``more`` counts the rest).
    """
    file = rows if isinstance(rows, RegistrationFile) else RegistrationFile.from_records(rows)
    plan = _check(session, file, assessment, require or {})

    # ---- everything checked: draw the secrets before taking any write lock
    pins = [new_pin() for _ in plan.new_rows]
    tickets = unique_tickets(session, len(plan.new_rows))
    hashes = hash_pins(pins, hasher or pin_hasher(), progress) if issue_pins else [""] * len(pins)

    created, area_by_code = _write_areas(session, plan.areas, plan.stored_areas)
    school_by_code = _write_schools(session, plan.schools, plan.stored_schools, area_by_code)
    class_id, classes_created, classes_reused = _write_classes(session, plan.parsed, school_by_code)
    issued = _write_students(session, plan.new_rows, tickets, pins, hashes, school_by_code, class_id)
    if not issue_pins:
        issued = [replace(t, pin=None) for t in issued]
    return RegistrationSummary(
        source=file.source,
        areas_created=created,
        areas_reused=len(plan.stored_areas),
        schools_created=len(plan.schools) - len(plan.stored_schools),
        schools_reused=len(plan.stored_schools),
        classes_created=classes_created,
        classes_reused=classes_reused,
        students_created=len(issued),
        students_unchanged=len(plan.unchanged_rows),
        tickets=tuple(issued),
        unchanged=tuple(r.get("student_code") for r in plan.unchanged_rows),
        assessment=plan.assessment.name if plan.assessment is not None else None,
    )


@dataclass(frozen=True)
class _Plan:
    """A checked file: what it declares, what is stored already, and which students are new."""

    parsed: list[ParsedRow]
    areas: dict[str, AreaDecl]
    schools: dict[str, SchoolDecl]
    stored_areas: dict[str, Area]
    stored_schools: dict[str, School]
    new_rows: list[ParsedRow]
    unchanged_rows: list[ParsedRow]
    assessment: Assessment | None


def _refuse(problems: ProblemList) -> RegistrationError:
    return RegistrationError(problems.sorted(), more=problems.more)


@dataclass(frozen=True)
class RegistrationPreview:
    """What a registration file would do, checked completely but not written."""

    source: str
    rows: int
    students_new: int
    students_unchanged: int
    schools_new: int
    classes: int
    assessment: str | None


def preview_registration(
    *,
    session: Session,
    rows: RegistrationFile | Sequence[Mapping[str, object]],
    assessment: str | None = None,
    require: Mapping[str, str] | None = None,
) -> RegistrationPreview:
    """Every check of :func:`register_students`, and what it would create; nothing is written.

    Raises
    ------
    RegistrationError
        As :func:`register_students` would.
    """
    file = rows if isinstance(rows, RegistrationFile) else RegistrationFile.from_records(rows)
    plan = _check(session, file, assessment, require or {})
    classes = {(r.get("school_code"), r.get("grade"), r.get("class")) for r in plan.parsed}
    return RegistrationPreview(
        source=file.source,
        rows=len(plan.parsed),
        students_new=len(plan.new_rows),
        students_unchanged=len(plan.unchanged_rows),
        schools_new=len(plan.schools) - len(plan.stored_schools),
        classes=len(classes),
        assessment=plan.assessment.name if plan.assessment is not None else None,
    )


def _check_required(file: RegistrationFile, require: Mapping[str, str], problems: ProblemList) -> None:
    """Every row's cells in ``require``'s columns must hold the required values."""
    for r in file.rows:
        for column, value in require.items():
            cell = r.cells.get(column, "").strip()
            if cell != value:
                problems.add(r.row, column, f"{cell!r} is outside your part of the tree (only {value!r} is allowed)")


def _check(session: Session, file: RegistrationFile, assessment: str | None, require: Mapping[str, str]) -> _Plan:
    """Every check of the file, in and against the database; raise with the problems if any."""
    problems = ProblemList(PEOPLE_LIMITS.max_problems)
    for p in file.problems:
        problems.general(p)
    if file.problems and not file.rows:
        raise _refuse(problems)
    missing = [c for c in COLUMNS if c not in file.columns and c not in OPTIONAL_COLUMNS]
    if missing and not file.problems:
        for name in missing:
            problems.general(Problem("row 1", f"missing column {name!r}"))
    if missing:
        raise _refuse(problems)
    if not file.rows:
        problems.general(Problem("", "the file has a header but no student rows"))
        raise _refuse(problems)

    _check_required(file, require, problems)
    parsed = [parse_row(r, problems) for r in file.rows]
    areas = declare_areas(parsed, problems)
    schools = declare_schools(parsed, problems)
    stored_areas = check_stored_areas(session, areas, problems)
    stored_schools = check_stored_schools(session, schools, problems)
    new_rows, unchanged_rows = check_students(session, parsed, stored_schools, problems)
    tested_in = check_assessment(session, assessment, parsed, problems) if assessment is not None else None
    if problems.total:
        raise _refuse(problems)
    return _Plan(parsed, areas, schools, stored_areas, stored_schools, new_rows, unchanged_rows, tested_in)


def _write_areas(
    session: Session, areas: Mapping[str, AreaDecl], stored: Mapping[str, Area]
) -> tuple[dict[str, int], dict[str, Area]]:
    """Create the new areas level by level, so parents exist first; the counts and every area by code."""
    created = {"province": 0, "city": 0, "county": 0}
    area_by_code: dict[str, Area] = dict(stored)
    for level in ("province", "city", "county"):
        for decl in areas.values():
            if decl.level != level or decl.code in area_by_code:
                continue
            parent = area_by_code[decl.parent] if decl.parent is not None else None
            region = parent.region if parent is not None else (decl.region or "")
            area = Area(
                code=decl.code,
                name=decl.name or decl.code,
                level=level,
                region=region,
                parent_id=parent.id if parent is not None else None,
                path=f"{parent.path if parent is not None else '/'}{decl.code}/",
            )
            session.add(area)
            area_by_code[decl.code] = area
            created[level] += 1
        session.flush()
    return created, area_by_code


def _write_schools(
    session: Session,
    schools: Mapping[str, SchoolDecl],
    stored: Mapping[str, School],
    area_by_code: Mapping[str, Area],
) -> dict[str, School]:
    """Create the new schools under their counties; every school of the file by code."""
    school_by_code: dict[str, School] = dict(stored)
    for decl in schools.values():
        if decl.code in school_by_code:
            continue
        assert decl.county is not None and decl.name is not None and decl.locale is not None
        county = area_by_code[decl.county]
        school = School(
            code=decl.code,
            name=decl.name,
            locale=decl.locale,
            sector=decl.sector or "public",
            area_id=county.id,  # type: ignore[arg-type]
            path=f"{county.path}{decl.code}/",
        )
        session.add(school)
        school_by_code[decl.code] = school
    session.flush()
    return school_by_code


def _write_classes(
    session: Session, parsed: Sequence[ParsedRow], school_by_code: Mapping[str, School]
) -> tuple[dict[tuple[int, int, str], int], int, int]:
    """Create the classes (school, grade, name) the rows name; their ids, and created/reused counts."""
    wanted = {(r.get("school_code"), r.get("grade"), r.get("class")) for r in parsed}
    school_ids = sorted(int(s.id) for s in school_by_code.values() if s.id is not None)
    class_id: dict[tuple[int, int, str], int] = {}
    for chunk in chunks(school_ids):
        for c in session.exec(select(SchoolClass).where(col(SchoolClass.school_id).in_(chunk))).all():
            class_id[(c.school_id, c.grade, c.name)] = int(c.id)  # type: ignore[arg-type]
    reused = 0
    new_classes: list[SchoolClass] = []
    for school_code, grade, name in sorted(wanted):
        key = (int(school_by_code[school_code].id), int(grade), str(name))  # type: ignore[arg-type]
        if key in class_id:
            reused += 1
            continue
        klass = SchoolClass(school_id=key[0], grade=key[1], name=key[2])
        session.add(klass)
        new_classes.append(klass)
    session.flush()
    for klass in new_classes:
        class_id[(klass.school_id, klass.grade, klass.name)] = int(klass.id)  # type: ignore[arg-type]
    return class_id, len(new_classes), reused


def _write_students(
    session: Session,
    new_rows: Sequence[ParsedRow],
    tickets: Sequence[str],
    pins: Sequence[str],
    hashes: Sequence[str],
    school_by_code: Mapping[str, School],
    class_id: Mapping[tuple[int, int, str], int],
) -> list[IssuedTicket]:
    """Insert the new students (in bulk); their ticket cards with the plain PINs, in file order."""
    now = utcnow()
    student_rows: list[dict[str, Any]] = []
    issued: list[IssuedTicket] = []
    for r, ticket, pin, pin_hash in zip(new_rows, tickets, pins, hashes, strict=True):
        school = school_by_code[r.get("school_code")]
        sid = int(school.id)  # type: ignore[arg-type]
        student_rows.append(
            {
                "code": r.get("student_code"),
                "grade": r.get("grade"),
                "gender": r.get("gender"),
                "ticket": ticket,
                "school_id": sid,
                "class_id": class_id[(sid, r.get("grade"), r.get("class"))],
                "pin_hash": pin_hash,
                "path": school.path,
                "created_at": now,
            }
        )
        issued.append(
            IssuedTicket(
                student_code=r.get("student_code"),
                school_code=school.code,
                school_name=school.name,
                grade=r.get("grade"),
                class_name=r.get("class"),
                ticket=ticket,
                pin=pin,
            )
        )
    for chunk in chunks(student_rows):
        bulk_insert(session, Student.__table__, list(chunk))  # type: ignore[attr-defined]
    return issued


# ============================================================================================ queries
def _school(session: Session, school_code: str) -> School:
    school = session.exec(select(School).where(School.code == school_code)).first()
    if school is None:
        raise LookupError(f"school {school_code!r} is not registered")
    return school


def _students_of(
    session: Session, school: School, grade: int | None, class_name: str | None
) -> list[tuple[Student, str]]:
    query = (
        select(Student, SchoolClass.name)
        .join(SchoolClass, col(SchoolClass.id) == Student.class_id, isouter=True)
        .where(Student.school_id == school.id)
    )
    if grade is not None:
        query = query.where(Student.grade == grade)
    if class_name is not None:
        query = query.where(SchoolClass.name == class_name)
    rows = session.exec(query).all()
    return sorted(((s, n or "") for s, n in rows), key=lambda t: (t[0].grade, t[1], t[0].code))


def list_students(
    *, session: Session, school_code: str, grade: int | None = None, class_name: str | None = None
) -> list[StudentListing]:
    """The students of a school (optionally one grade or class), by grade, class and code.

    Raises ``LookupError`` when the school is not registered.
    """
    school = _school(session, school_code)
    return [
        StudentListing(s.code, s.grade, name, s.gender, s.ticket, bool(s.pin_hash))
        for s, name in _students_of(session, school, grade, class_name)
    ]


def school_tickets(
    *, session: Session, school_code: str, grade: int | None = None, class_name: str | None = None
) -> list[IssuedTicket]:
    """The ticket cards of a school's students, without PINs (they are not stored)."""
    school = _school(session, school_code)
    return [
        IssuedTicket(s.code, school.code, school.name, s.grade, name, s.ticket)
        for s, name in _students_of(session, school, grade, class_name)
    ]


def reissue_pins(
    *,
    session: Session,
    school_code: str,
    grade: int | None = None,
    class_name: str | None = None,
    student_code: str | None = None,
    missing_only: bool = False,
    hasher: PinHasher | None = None,
    progress: Progress | None = None,
) -> list[IssuedTicket]:
    """Give a school's students (optionally one grade, class or student) new PINs; the old ones stop working.

    ``missing_only`` gives PINs only to students who have none yet (registered without, see
    :func:`register_students`), so cards printed before stay good. Tickets stay the same. The
    new plain PINs are returned this once, like at registration.
    """
    school = _school(session, school_code)
    students = _students_of(session, school, grade, class_name)
    if student_code is not None:
        students = [(s, n) for s, n in students if s.code == student_code]
    if missing_only:
        students = [(s, n) for s, n in students if not s.pin_hash]
    pins = [new_pin() for _ in students]
    hashes = hash_pins(pins, hasher or pin_hasher(), progress)
    if students:
        session.exec(
            update(Student),
            params=[{"id": s.id, "pin_hash": h} for (s, _), h in zip(students, hashes, strict=True)],
        )
    return [
        IssuedTicket(s.code, school.code, school.name, s.grade, name, s.ticket, pin)
        for (s, name), pin in zip(students, pins, strict=True)
    ]
