"""What every console controller shares: rendering with the user's menu, the assessment chosen, files, errors.

The console's refusals are the account errors of :mod:`assess.accounts.exceptions` (403 for a
role without the permission, 404 for anything outside one's scope, exactly as for something that
does not exist, 429 with ``Retry-After`` for a throttled login) plus the web's own: without a
live staff session a page goes to the staff login (an API call gets 401), and a user who must
change its one-time password goes to its account page. :func:`console_error` answers them as a
console page (or JSON for the staff API); anything else goes to the app's handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import FromQuery
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template

from assess.accounts.exceptions import AccountError, AccountInvalid, Forbidden, OutOfScope, StaffThrottled
from assess.accounts.roles import has_permission, role
from assess.accounts.scope import Actor
from assess.console.tree import assessments_for
from assess.exceptions import AdministrationRefused, AssessError, LoginFailed, RegistrationError
from assess.models import Area, Assessment, School
from web.controllers.errors import exception_handlers, handle
from web.controllers.pages import is_htmx, page
from web.deps import DbSession, Now
from web.exceptions import PasswordChangeDue, StaffNotSignedIn
from web.staff import STAFF_API_PREFIX

__all__ = [
    "Chosen",
    "ChosenAssessment",
    "attachment",
    "choose_assessment",
    "console_error",
    "console_exception_handlers",
    "go",
    "provide_chosen",
    "render",
]


@dataclass(frozen=True)
class NavItem:
    """One entry of the console menu."""

    href: str
    label: str
    current: bool


@dataclass(frozen=True)
class Me:
    """The signed-in user as the page header shows it."""

    username: str
    role_name: str
    scope_name: str
    nav: tuple[NavItem, ...]


def _scope_name(session: DbSession, actor: Actor) -> tuple[str, str]:
    """The name and code of the actor's node (empty for admins and researchers)."""
    if actor.scope.kind == "area":
        area = session.get(Area, actor.scope.node_id)
        return (area.name, area.code) if area is not None else ("", "")
    if actor.scope.kind == "school":
        school = session.get(School, actor.scope.node_id)
        return (school.name, school.code) if school is not None else ("", "")
    return "", ""


def me_of(session: DbSession, actor: Actor, path: str) -> Me:
    """The header's user and menu for ``actor`` on the page at ``path``."""
    name, code = _scope_name(session, actor)
    items: list[tuple[str, str]] = []
    if actor.scope.kind == "school":
        items.append((f"/console/schools/{code}", "本校"))
        items.append((f"/console/schools/{code}/monitor", "考场监控"))
    if has_permission(actor.role, "tree.view"):
        items.append(("/console/areas", "地区与学校"))
    if has_permission(actor.role, "assessments.manage"):
        items.append(("/console/assessments", "测评批次"))
    if has_permission(actor.role, "items.manage"):
        items.append(("/console/research", "参数标定"))
        items.append(("/console/bank", "题库"))
        items.append(("/console/research/scale", "量表与分数线"))
        items.append(("/console/data", "数据导出"))
    if has_permission(actor.role, "users.manage"):
        items.append(("/console/users", "账号管理"))
    if has_permission(actor.role, "audit.view"):
        items.append(("/console/audit", "审计日志"))
    items.append(("/console/account", "我的账号"))
    under = [href for href, _ in items if path == href or (path.startswith(href + "/") and href != "/console")]
    here = max(under, key=len, default="")  # the deepest entry the page lies under
    nav = tuple(NavItem(href, label, href == here) for href, label in items)
    return Me(actor.username, role(actor.role).name, name, nav)


def render(
    request: Request[Any, Any, State],
    name: str,
    context: dict[str, Any],
    *,
    session: DbSession | None = None,
    actor: Actor | None = None,
    status_code: int = 200,
    title: str = "",
) -> Template:
    """The console page ``name`` (``console/<name>.html``, or its fragment for htmx) with the header's user."""
    ctx = dict(context)
    ctx.setdefault("title", title or "管理平台")
    ctx["me"] = (
        me_of(session, actor, request.scope.get("path", "")) if session is not None and actor is not None else None
    )
    return page(request, f"console/{name}", ctx, status_code=status_code)


def go(request: Request[Any, Any, State], url: str) -> Response[Any]:
    """Send the browser to ``url`` (303, or a client redirect for htmx)."""
    return ClientRedirect(url) if is_htmx(request) else Redirect(url, status_code=303)


@dataclass(frozen=True)
class Chosen:
    """The assessments a page can show, the one chosen (``None`` when there is none) and its query string."""

    assessments: tuple[Assessment, ...]
    current: Assessment | None

    @property
    def query(self) -> str:
        """``?assessment=CODE`` for links that keep the choice (empty without one)."""
        return f"?assessment={quote(self.current.code)}" if self.current is not None else ""

    def context(self) -> dict[str, Any]:
        """The template variables of the choice: ``assessments``, ``current``, ``q``."""
        return {"assessments": self.assessments, "current": self.current, "q": self.query}


def choose_assessment(session: DbSession, code: str | None, now: datetime) -> Chosen:
    """The assessment ``code`` if it exists, else the open one (or the latest)."""
    found = tuple(assessments_for(session=session, now=now))
    current = next((a for a in found if a.code == code), None) if code else None
    return Chosen(found, current or (found[0] if found else None))


ChosenAssessment = NamedDependency[Chosen]
"""``chosen: ChosenAssessment``: the assessment the page shows (query parameter ``assessment``)."""


def provide_chosen(db: DbSession, now: Now, assessment: FromQuery[str | None] = None) -> Chosen:
    """The ``chosen`` dependency: :func:`choose_assessment` for the request's ``?assessment=CODE``."""
    return choose_assessment(db, assessment, now)


async def read_upload(data: dict[str, Any], name: str = "file") -> tuple[bytes, str]:
    """The bytes and file name of the upload ``name`` of a multipart form (empty when none); every part closed."""
    content, filename = b"", ""
    upload = data.get(name)
    if isinstance(upload, UploadFile):
        content, filename = await upload.read(), upload.filename or ""
    for part in data.values():  # close every part (a temporary file each)
        if isinstance(part, UploadFile):
            await part.close()
    return content, filename


def attachment(content: bytes, filename: str, media_type: str) -> Response[bytes]:
    """A file download (the name in RFC 5987 form, so a Chinese name survives)."""
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename) or "download"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


def _status(exc: Exception) -> int:
    if isinstance(exc, StaffThrottled):
        return 429
    if isinstance(exc, StaffNotSignedIn | LoginFailed):
        return 401
    if isinstance(exc, Forbidden | PermissionDeniedException):
        return 403
    if isinstance(exc, OutOfScope | NotFoundException):
        return 404
    if isinstance(exc, RegistrationError):
        return 422
    if isinstance(exc, AdministrationRefused):
        return 409
    if isinstance(exc, AccountInvalid | AccountError | AssessError):
        return 400
    return exc.status_code if isinstance(exc, HTTPException) else 500


def console_error(request: Request[Any, Any, State], exc: Exception) -> Response[Any]:
    """Answer a console or staff-API request's exception (see the module docstring)."""
    api = request.scope.get("path", "").startswith(STAFF_API_PREFIX)
    if isinstance(exc, PasswordChangeDue) and not api:
        return go(request, "/console/account")
    if isinstance(exc, StaffNotSignedIn) and not api:
        return go(request, "/console/login")
    status = _status(exc)
    if status >= 500 or (
        isinstance(exc, HTTPException) and not isinstance(exc, PermissionDeniedException | NotFoundException)
    ):
        return handle(request, exc)
    if isinstance(exc, PermissionDeniedException):
        message = (
            "页面已过期（安全校验没有通过），请刷新页面后再试。"
            if "CSRF" in str(exc.detail)
            else "你的账号没有这项操作的权限。"
        )
    elif isinstance(exc, NotFoundException):
        message = "没有这个页面。"
    else:
        message = str(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, StaffThrottled) else None
    if api:
        body: dict[str, Any] = {"status_code": status, "error": type(exc).__name__, "detail": message}
        problems = getattr(exc, "problems", None)
        if isinstance(problems, list):  # a file's problems (an assessment file): every one, not just the first
            body["problems"] = [str(p) for p in problems]
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)
    response = page(
        request,
        "console/error",
        {"status": status, "message": message, "me": None, "title": "提示"},
        status_code=status,
    )
    if headers:
        response.headers.update(headers)
    return response


def console_exception_handlers() -> dict[int | type[Exception], Any]:
    """The exception handlers of the console and staff-API routers: every key of the app's map, and more.

    Litestar merges the layers' maps and picks the closest class of an exception, so the router
    must name every class the app names (``NotSignedIn``...) for its own handler to win.
    """
    keys: list[int | type[Exception]] = [*exception_handlers(), Exception, HTTPException, AssessError, AccountError]
    return dict.fromkeys(keys, console_error)
