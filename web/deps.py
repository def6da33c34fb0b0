"""Dependency providers of the web app, in one place (the controllers name them by key).

``db``
    A SQLModel session in one transaction per request: committed after the handler and its
    response were built, rolled back when anything raised, so a refused request changes nothing.
``token``
    The signed-in student's :class:`~web.security.SessionToken` from the session cookie, or
    ``None``.
``api_token``
    The same from an ``Authorization: Bearer ...`` header (the JSON API); missing or invalid is a 401.
``now``
    The server's clock (UTC); every deadline is judged by it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlmodel import Session

from assess.exceptions import NotSignedIn
from itembank.models import utcnow
from web.security import SESSION_COOKIE, SessionToken, TokenSigner

__all__ = [
    "ApiToken",
    "CurrentToken",
    "DbSession",
    "Now",
    "dependencies",
    "provide_api_token",
    "provide_db",
    "provide_now",
    "provide_token",
]


DbSession = NamedDependency[Session]
"""A handler parameter ``db: DbSession`` receives the request's database session."""
CurrentToken = NamedDependency[SessionToken | None]
"""``token: CurrentToken``: the session cookie's token, or ``None``."""
ApiToken = NamedDependency[SessionToken]
"""``api_token: ApiToken``: the bearer token of an API request."""
Now = NamedDependency[datetime]
"""``now: Now``: the server's clock."""


async def provide_db(state: State) -> AsyncGenerator[Session, None]:
    """A session in one transaction for the request (see the module docstring).

    An async generator although the session is synchronous: Litestar finishes a sync generator
    dependency in a worker thread, and that hop cost more than the whole fast path of an answer.
    The commit runs on the event loop, like the handlers' own database work.
    """
    with Session(state.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _remember(request: Request[object, object, State], token: SessionToken | None) -> SessionToken | None:
    if token is not None:
        request.scope["state"]["infolit.student"] = token.student_id  # for the request log
    return token


def provide_token(request: Request[object, object, State]) -> SessionToken | None:
    """The session cookie's token, or ``None`` when there is none or it is invalid or expired."""
    signer: TokenSigner = request.app.state.signer
    return _remember(request, signer.read(request.cookies.get(SESSION_COOKIE)))


def provide_api_token(request: Request[object, object, State]) -> SessionToken:
    """The bearer token of an API request (:class:`NotSignedIn` if missing or invalid)."""
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    signer: TokenSigner = request.app.state.signer
    token = signer.read(value.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise NotSignedIn("缺少有效的登录令牌（Authorization: Bearer ...），请重新登录")
    return _remember(request, token) or token


def provide_now() -> datetime:
    """The current time (UTC)."""
    return utcnow()


def dependencies() -> dict[str, Provide]:
    """The app-level dependency map."""
    return {
        "db": Provide(provide_db),
        "token": Provide(provide_token, sync_to_thread=False),
        "api_token": Provide(provide_api_token, sync_to_thread=False),
        "now": Provide(provide_now, sync_to_thread=False),
    }
