"""The access matrix: who may use each route, as data, and the one guard that enforces it.

Every route handler names its rule in ``opt={"access": NAME}`` (or inherits it from its router or
controller); :data:`ACCESS` maps the name to a :class:`Rule`. The guard :func:`check_access` is
installed on the whole app, so a route without a rule is refused (fail closed: 403) rather than
open, and ``tests/web/test_access_matrix.py`` enumerates every route of the app and walks the
matrix role by role: a new route without a rule fails the suite.

A rule is a set of permissions (:data:`assess.accounts.roles.PERMISSIONS`; the roles that hold
all of them may pass) and a scope kind that says what the service does with the request's node:

``public``
    No staff sign-in (the student pages carry their own signed token; health, static files, the
    schema, the login pages).
``none``
    Nothing of the people tree is named in the request (the console home, one's own password).
``own``
    The actor's own things only (its jobs, its staged uploads): another user's answer 404.
``node``
    An area or school (or a student, a class) named in the path: the service looks it up inside
    the actor's scope and answers 404 outside it, exactly as for a node that does not exist; lists
    are filtered by scope in their queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from assess.accounts.exceptions import Forbidden
from assess.accounts.roles import PERMISSIONS, ROLES
from web.exceptions import PasswordChangeDue, StaffNotSignedIn

__all__ = ["ACCESS", "SCOPES", "Rule", "check_access", "rule_of"]

SCOPES = ("public", "none", "own", "node")
"""The scope kinds a rule may have (see the module docstring)."""


@dataclass(frozen=True)
class Rule:
    """Who may use a route: the permissions it takes (none: any signed-in staff user) and its scope kind."""

    scope: str
    permissions: tuple[str, ...] = ()
    description: str = ""
    before_password_change: bool = False  # usable while a one-time password must still be changed

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown scope kind {self.scope!r}")
        unknown = [p for p in self.permissions if p not in PERMISSIONS]
        if unknown:
            raise ValueError(f"unknown permission {unknown[0]!r}")

    @property
    def public(self) -> bool:
        """Whether the route needs no staff sign-in."""
        return self.scope == "public"

    def roles(self) -> frozenset[str]:
        """The roles that may use the route (empty for a public one: it takes no role)."""
        if self.public:
            return frozenset()
        return frozenset(r.code for r in ROLES if set(self.permissions) <= r.permissions)


def _r(scope: str, permissions: str, description: str, *, before_password_change: bool = False) -> Rule:
    return Rule(scope, tuple(p for p in permissions.split() if p), description, before_password_change)


ACCESS: dict[str, Rule] = {
    # ---- no staff sign-in
    "public": _r("public", "", "health, static files, the API schema"),
    "student": _r("public", "", "the student journey (its own signed ticket token)"),
    "staff.login": _r("public", "", "the staff login and second-factor pages"),
    # ---- every signed-in staff user, on its own account
    "console.home": _r("none", "", "the console's start page, who am I"),
    "account.self": _r("none", "", "one's own password, sessions and second factor", before_password_change=True),
    "job.own": _r("own", "", "the progress and file of one's own background job"),
    # ---- areas (bureaus, researchers, admins)
    "area.view": _r("node", "tree.view", "an area, its child areas and schools"),
    "area.profile": _r("node", "tree.view profiles.view", "an area's profile, its comparison table and downloads"),
    "area.participation": _r("node", "tree.view participation.view", "participation per school during a window"),
    "national.profile": _r(
        "none", "tree.view profiles.view", "the nation's profile and downloads (an unrestricted scope only: else 404)"
    ),
    "area.zip": _r("node", "tree.view profiles.view", "every school profile of an area as one ZIP (a job)"),
    "area.results": _r("node", "tree.view profiles.view", "an area's result rows under pseudonyms, as CSV"),
    # ---- a school's page (anyone who sees profiles, within scope)
    "school.profile": _r("node", "profiles.view", "a school's page, its profile and downloads, its result rows"),
    # ---- a school's administration
    "school.students": _r("node", "registration.manage", "a school's students"),
    "roster.manage": _r("node", "registration.manage", "upload, check and confirm a registration file"),
    "roster.own": _r("own", "registration.manage", "one's own staged registration file"),
    "tickets.print": _r("node", "registration.manage", "ticket cards with PINs, one student's new PIN"),
    "student.unlock": _r("node", "registration.manage", "unlock a student locked by the login throttle"),
    "monitor.view": _r("node", "monitor.view", "the live monitor of a test window, moving a sitting"),
    # ---- research (the item bank and calibrations belong to no node of the people tree)
    "research.view": _r("none", "items.manage", "calibration runs, their results and plots; the bank browser, an item"),
    "research.run": _r("none", "items.manage", "start a calibration run (a background job)"),
    "research.publish": _r(
        "none", "items.manage", "publish a calibration, undo a publication, start rescoring sittings (a background job)"
    ),
    "scale.view": _r("none", "items.manage", "the scale versions, bookmark studies, their rounds and described levels"),
    "scale.study": _r("none", "items.manage", "create a bookmark study, enter bookmarks, edit described levels"),
    "scale.adopt": _r("none", "items.manage", "adopt a round's cuts as a scale version, put a version back"),
    "bank.edit": _r(
        "none", "items.manage", "create and edit items, change their status, import item files, edit the framework"
    ),
    "research.export": _r("none", "items.manage", "anonymised responses and calibration parameters as files"),
    # ---- administration
    "users.manage": _r("node", "users.manage", "accounts: list, create, disable, enable, reset (bureaus: schools)"),
    "audit.view": _r("none", "audit.view", "the audit log"),
    "assessments.manage": _r(
        "none", "assessments.manage", "testing rounds: list, create from an assessment file, open and close windows"
    ),
}
"""Every route's rule, by the name its handler's ``opt["access"]`` gives."""


def _automatic_options(handler: BaseRouteHandler) -> bool:
    """Whether ``handler`` is the OPTIONS handler Litestar adds to every path (it answers 204 with ``Allow``)."""
    methods = getattr(handler, "http_methods", None)
    return methods == {"OPTIONS"} and getattr(handler.fn, "__name__", "") == "options_handler"


def rule_of(handler: BaseRouteHandler) -> tuple[str, Rule] | None:
    """The rule name and rule of a route handler (``None`` when it has none: a bug the tests catch).

    Litestar's automatic OPTIONS handlers (no body, only the ``Allow`` header) are public.
    """
    if _automatic_options(handler):
        return "public", ACCESS["public"]
    name = handler.opt.get("access")
    if not isinstance(name, str) or name not in ACCESS:
        return None
    return name, ACCESS[name]


async def check_access(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app's guard: the route's rule must exist and the signed-in staff user's role must pass it.

    A coroutine, so a public route (every student request) is decided on the event loop: Litestar
    runs a plain-function guard in a worker thread, and that hop cost more than the decision.
    A staff route's session is looked up in the database, in a worker thread as before.

    Raises
    ------
    PermissionDeniedException
        The route has no rule (a route is never open by omission).
    StaffNotSignedIn
        A staff route without a live staff session.
    PasswordChangeDue
        The user signed in with a one-time password and must choose its own first.
    Forbidden
        The user's role does not hold the route's permission (403).
    """
    found = rule_of(handler)
    if found is None:
        raise PermissionDeniedException("this route has no access rule")
    _, rule = found
    if rule.public:
        return
    await anyio.to_thread.run_sync(_check_staff, connection, rule)


def _check_staff(connection: ASGIConnection[Any, Any, Any, Any], rule: Rule) -> None:
    from web.staff import current_actor  # the guard runs per request; the module imports web.deps

    signed = current_actor(connection)
    if signed is None:
        raise StaffNotSignedIn("请先登录。")
    actor, must_change = signed
    if must_change and not rule.before_password_change:
        raise PasswordChangeDue("请先修改初始密码。")
    if actor.role not in rule.roles():
        raise Forbidden("你的账号没有这项操作的权限。")
