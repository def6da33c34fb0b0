"""Staff sign-in on the web: the session cookie (or bearer token), the acting user, the login throttles.

A console page carries the staff session token in an HttpOnly, SameSite=Strict cookie
(:data:`STAFF_COOKIE`, ``Secure`` behind HTTPS), separate from a student's cookie; the staff JSON
API (``/api/v1/staff/...``) takes the same token only as ``Authorization: Bearer ...``, never
from a cookie, because the API is outside the CSRF check. The token is looked up in the database
on every request (:func:`assess.accounts.sessions.resolve_session`), so a revoked session, a
disabled user or a reset password takes effect at once on every worker.

:func:`current_actor` resolves the request's user once and keeps it in the request's scope, so
the access guard (:mod:`web.access`) and the handler's ``actor`` dependency share one lookup.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Empty, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from sqlmodel import Session

from assess.accounts.login import LoginThrottles, actor_of
from assess.accounts.scope import Actor
from assess.accounts.sessions import SessionPolicy, resolve_session
from itembank.models import utcnow
from web.exceptions import StaffNotSignedIn
from web.security import WebSettings

__all__ = [
    "STAFF_API_PREFIX",
    "CurrentActor",
    "STAFF_COOKIE",
    "clear_staff_cookie",
    "close_uploads",
    "client_of",
    "current_actor",
    "provide_actor",
    "session_policy",
    "staff_cookie",
    "staff_throttles",
]

STAFF_COOKIE = "infolit_staff"
"""Name of the cookie that holds a staff session token."""
STAFF_API_PREFIX = "/api/v1/staff"
"""Routes under this prefix take the token as a bearer header only."""
_KEY = "infolit.actor"

CurrentActor = NamedDependency[Actor]
"""A handler parameter ``actor: CurrentActor`` receives the signed-in staff user."""


def session_policy(web: WebSettings) -> SessionPolicy:
    """The staff session lifetimes of the web settings."""
    return SessionPolicy(hours=web.staff_session_hours, idle_minutes=web.staff_idle_minutes)


def staff_throttles(engine: Any, web: WebSettings) -> LoginThrottles:
    """The staff login throttles (per account, per address, per account's TOTP codes) over one window."""
    return LoginThrottles.create(
        engine=engine,
        per_user=web.staff_login_max_failures,
        per_client=web.login_max_failures_per_ip,
        per_totp=web.staff_login_max_failures,
        window_seconds=web.login_window_seconds,
    )


def client_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address (as uvicorn reports it; see ``FORWARDED_ALLOW_IPS`` behind a proxy)."""
    return connection.client.host if connection.client else "unknown"


def token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The staff token of a request: the bearer header on the staff API, the cookie everywhere else."""
    if connection.scope.get("path", "").startswith(STAFF_API_PREFIX):
        scheme, _, value = (connection.headers.get("authorization") or "").partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None
    return connection.cookies.get(STAFF_COOKIE)


def current_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[Actor, bool] | None:
    """The signed-in staff user of the request and whether its password must still be changed, or ``None``."""
    state = connection.scope.setdefault("state", {})
    if _KEY in state:
        cached: tuple[Actor, bool] | None = state[_KEY]
        return cached
    token = token_of(connection)
    found: tuple[Actor, bool] | None = None
    if token:
        app_state = connection.app.state
        with Session(app_state.engine, expire_on_commit=False) as session:
            live = resolve_session(session=session, token=token, now=utcnow(), policy=session_policy(app_state.web))
            if live is not None:
                row, user = live
                actor = actor_of(session, user, client=client_of(connection), session_id=row.id)
                found = (actor, user.must_change_password)
            session.commit()  # last_seen_at, when it moved on
    state[_KEY] = found
    if found is not None:
        state["infolit.staff"] = found[0].username  # for the request log
    return found


def provide_actor(request: Request[Any, Any, State]) -> Actor:
    """The ``actor`` dependency: the signed-in staff user (the guard has let only such requests in)."""
    signed = current_actor(request)
    if signed is None:
        raise StaffNotSignedIn("请先登录。")
    return signed[0]


def staff_cookie(request: Request[Any, Any, State], token: str) -> Cookie:
    """The staff session cookie (HttpOnly, SameSite=Strict, Secure when configured, for the console only)."""
    web: WebSettings = request.app.state.web
    return Cookie(
        key=STAFF_COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=web.secure_cookies,
        max_age=int(web.staff_session_hours * 3600),
    )


def clear_staff_cookie(request: Request[Any, Any, State]) -> Cookie:
    """A cookie that removes the staff session cookie."""
    web: WebSettings = request.app.state.web
    return Cookie(
        key=STAFF_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="strict", secure=web.secure_cookies
    )


def close_uploads(app: ASGIApp) -> ASGIApp:
    """Middleware: close every uploaded file of a request once it is answered.

    A multipart form is parsed before the handler runs (the CSRF check reads its token field), so
    a request refused on the way (no session, no permission) leaves its temporary files open
    until the garbage collector finds them. This closes them at once.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            form = ScopeState.from_scope(scope).form if scope["type"] == ScopeType.HTTP else Empty
            if isinstance(form, dict):
                for value in form.values():
                    for part in value if isinstance(value, list) else [value]:
                        if isinstance(part, UploadFile):
                            await part.close()

    return middleware
