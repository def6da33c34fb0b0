"""Rendering helpers shared by the HTML controllers and the error handlers.

One handler serves both the full page and, for an htmx request, only its fragment: page
``name`` is ``templates/<name>.html``, which includes ``templates/fragments/<name>.html``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie, State
from litestar.plugins.htmx import HTMXTemplate
from litestar.response import Template

from web.security import SESSION_COOKIE, SessionToken, TokenSigner, WebSettings

__all__ = ["clear_session_cookie", "is_htmx", "page", "session_cookie"]


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether the request wants a fragment (an htmx request that is not a history restore)."""
    details = getattr(request, "htmx", None)
    return bool(details) and not details.history_restore_request and not details.boosted  # type: ignore[union-attr]


def page(
    request: Request[Any, Any, Any],
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    push_url: str | None = None,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
) -> Template:
    """The page ``name`` in full, or its fragment for htmx (``push_url`` moves the address bar)."""
    context = dict(context or {})
    if is_htmx(request):
        return HTMXTemplate(
            template_name=f"fragments/{name}.html",
            context={**context, "fragment": True},
            status_code=status_code,
            push_url=push_url,
            cookies=cookies,
            headers=headers,
        )
    return Template(
        template_name=f"{name}.html",
        context={**context, "fragment": False},
        status_code=status_code,
        cookies=cookies,
        headers=headers,
    )


def session_cookie(request: Request[Any, Any, State], token: SessionToken) -> Cookie:
    """The session cookie holding ``token`` (HttpOnly, SameSite=Lax, Secure when configured)."""
    signer: TokenSigner = request.app.state.signer
    web: WebSettings = request.app.state.web
    minutes: int = request.app.state.settings.session_minutes
    return Cookie(
        key=SESSION_COOKIE,
        value=signer.sign(token),
        max_age=int(timedelta(minutes=minutes).total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
    )


def clear_session_cookie(request: Request[Any, Any, State]) -> Cookie:
    """A cookie that removes the session cookie."""
    web: WebSettings = request.app.state.web
    return Cookie(
        key=SESSION_COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax", secure=web.secure_cookies
    )
