"""What part of the people tree a staff user may see, as SQL filters, and the acting user.

A :class:`Scope` is everything (admins, researchers), one area and what lies under it (a bureau),
or one school. Its methods return SQLAlchemy conditions for each table of the tree, to put into
a list query's ``WHERE``: a list is filtered in the service, by the database, never after the
fact. :func:`visible_area`, :func:`visible_school`, :func:`visible_student` fetch one thing and
raise :class:`~assess.accounts.exceptions.OutOfScope` (an HTTP 404) when it does not exist *or*
lies outside the scope, with the same message (which does not repeat the code asked for), so a
request cannot tell the two apart.

The tree's materialised paths make every condition one indexed prefix test
(``path LIKE '/44/4403/%'``); the prefix is escaped, so an area code with ``_`` or ``%`` in it
matches only itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, col, select

from assess.accounts.exceptions import Forbidden, OutOfScope
from assess.accounts.models import StaffUser
from assess.accounts.roles import has_permission
from assess.models import Area, School, SchoolClass, Student, TestSession

__all__ = ["Actor", "Scope", "visible_area", "visible_school", "visible_student"]


@dataclass(frozen=True)
class Scope:
    """A node of the people tree and everything under it (``kind`` ``all``, ``area`` or ``school``).

    Attributes
    ----------
    kind
        ``all`` (no restriction), ``area`` (a bureau's area and below) or ``school``.
    path
        The node's materialised path (``""`` for ``all``).
    node_id
        The area's or school's id (``None`` for ``all``).
    """

    kind: str = "all"
    path: str = ""
    node_id: int | None = None

    @classmethod
    def everything(cls) -> Scope:
        """No restriction (admins, researchers, the CLI)."""
        return cls()

    @classmethod
    def of_area(cls, area: Area) -> Scope:
        """An area and everything under it."""
        return cls("area", area.path, area.id)

    @classmethod
    def of_school(cls, school: School) -> Scope:
        """One school."""
        return cls("school", school.path, school.id)

    def covers(self, path: str) -> bool:
        """Whether a node with materialised ``path`` lies inside this scope."""
        return self.kind == "all" or path.startswith(self.path)

    def _under(self, column: Any) -> ColumnElement[bool]:
        if self.kind == "all":
            return true()
        return col(column).startswith(self.path, autoescape=True)

    def areas(self) -> ColumnElement[bool]:
        """Areas visible: all, the bureau's area and those under it; none for a school."""
        return false() if self.kind == "school" else self._under(Area.path)

    def schools(self) -> ColumnElement[bool]:
        """Schools visible."""
        if self.kind == "school":
            return col(School.id) == self.node_id
        return self._under(School.path)

    def students(self) -> ColumnElement[bool]:
        """Students visible (a student's ``path`` is its school's)."""
        if self.kind == "school":
            return col(Student.school_id) == self.node_id
        return self._under(Student.path)

    def classes(self) -> ColumnElement[bool]:
        """Classes visible."""
        if self.kind == "all":
            return true()
        return col(SchoolClass.school_id).in_(select(School.id).where(self.schools()))

    def sessions(self) -> ColumnElement[bool]:
        """Test sessions (sittings) visible: those of visible students."""
        if self.kind == "all":
            return true()
        return col(TestSession.student_id).in_(select(Student.id).where(self.students()))

    def users(self) -> ColumnElement[bool]:
        """Staff users whose own scope lies inside this one (a bureau: the accounts under its area)."""
        if self.kind == "all":
            return true()
        return col(StaffUser.scope_path).startswith(self.path, autoescape=True)


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in staff user or the command line, with role, scope and address.

    ``user_id`` is ``None`` for the command line (an operator with a shell on the server is
    trusted as an admin; the audit log records ``cli:<login name>``). ``session_id`` is the
    signed-in session the request came with (``None`` on the command line).
    """

    user_id: int | None
    username: str
    role: str
    scope: Scope
    client: str = ""
    session_id: int | None = None

    @classmethod
    def command_line(cls, login: str) -> Actor:
        """The operator at the command line: an admin with no restriction."""
        return cls(None, f"cli:{login}"[:64], "admin", Scope.everything(), "cli")

    def require(self, permission: str) -> None:
        """Raise :class:`Forbidden` unless the actor's role holds ``permission``."""
        if not has_permission(self.role, permission):
            raise Forbidden("你的账号没有这项操作的权限。")


_NOT_FOUND = "没有找到{what}（或不在你的管理范围内）。"


def visible_area(session: Session, scope: Scope, code: str) -> Area:
    """The area with ``code`` if it is inside ``scope`` (else :class:`OutOfScope`)."""
    area = session.exec(select(Area).where(col(Area.code) == code, scope.areas())).first()
    if area is None:
        raise OutOfScope(_NOT_FOUND.format(what="该地区"))
    return area


def visible_school(session: Session, scope: Scope, code: str) -> School:
    """The school with ``code`` if it is inside ``scope`` (else :class:`OutOfScope`)."""
    school = session.exec(select(School).where(col(School.code) == code, scope.schools())).first()
    if school is None:
        raise OutOfScope(_NOT_FOUND.format(what="该学校"))
    return school


def visible_student(session: Session, scope: Scope, student_id: int) -> Student:
    """The student with ``student_id`` if it is inside ``scope`` (else :class:`OutOfScope`)."""
    student = session.exec(select(Student).where(col(Student.id) == student_id, scope.students())).first()
    if student is None:
        raise OutOfScope(_NOT_FOUND.format(what="该学生"))
    return student
