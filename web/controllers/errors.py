"""Every refusal as a clear 4xx: a Chinese page (or htmx fragment) for students, JSON for the API.

The request's transaction was already rolled back when a handler here runs (the ``db``
dependency re-raises after its rollback), so a refused request has changed nothing. A refused
answer re-shows the item that is on screen now with the reason above it, so the student can go
on at once.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect

from assess import sitting
from assess.exceptions import (
    AnswerRejected,
    AssessError,
    LoginFailed,
    NotConfigured,
    NotSignedIn,
    SessionClosed,
    SessionNotFound,
    TakenOver,
    WindowClosed,
)
from itembank.db import session_scope
from itembank.exceptions import InvalidResponseError
from itembank.models import utcnow
from web.controllers.pages import clear_session_cookie, is_htmx, page
from web.exceptions import AnswerMissing, LoginThrottled
from web.logging import log_event
from web.security import SESSION_COOKIE
from web.views import sitting_view

__all__ = ["classify", "exception_handlers"]


def classify(exc: Exception) -> tuple[int, str]:
    """The status code and the student-facing message of an exception."""
    if isinstance(exc, NotSignedIn):
        return 401, str(exc) or "请先登录"
    if isinstance(exc, LoginThrottled):
        return 429, str(exc)
    if isinstance(exc, LoginFailed):
        return 401, str(exc)
    if isinstance(exc, WindowClosed):
        return 403, str(exc)
    if isinstance(exc, SessionNotFound):
        return 404, str(exc)
    if isinstance(exc, AnswerMissing):
        return 422, str(exc)
    if isinstance(exc, SessionClosed | AnswerRejected):
        return 409, str(exc)
    if isinstance(exc, NotConfigured):  # the assessment is set up wrong: nothing the student can fix
        return 409, f"这次测评还没有准备好（{exc}），请告诉老师。"
    if isinstance(exc, AssessError):
        return 400, str(exc)
    if isinstance(exc, InvalidResponseError):
        return 400, "提交的答案与这道题不符，请重新选择后再提交。"
    if isinstance(exc, ValidationException):
        return 400, "请求的格式不正确。"
    if isinstance(exc, PermissionDeniedException):
        return 403, "页面已过期（安全校验没有通过），请刷新页面后再试。"
    if isinstance(exc, NotFoundException):
        return 404, "没有这个页面。"
    if isinstance(exc, MethodNotAllowedException):
        return 405, "不支持这种请求方式。"
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    return 500, "服务器出了点问题，请稍后再试。已经提交的答案不会丢失。"


def _is_api(request: Request[Any, Any, Any]) -> bool:
    path = request.scope.get("path", "")
    return bool(path.startswith(("/api/", "/healthz", "/schema")))


def _json(request: Request[Any, Any, Any], exc: Exception, status: int, message: str) -> Response[Any]:
    body: dict[str, Any] = {"status_code": status, "error": type(exc).__name__, "detail": message}
    if isinstance(exc, InvalidResponseError):
        body["reason"] = str(exc)
    if isinstance(exc, ValidationException) and exc.extra:
        body["extra"] = exc.extra
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LoginThrottled) else None
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _current_item_page(
    request: Request[Any, Any, State], status: int, message: str, *, allow_skip: bool
) -> Response[Any] | None:
    """The item on screen now, with ``message`` above it (``None`` if there is none to show)."""
    token = request.app.state.signer.read(request.cookies.get(SESSION_COOKIE))
    if token is None:
        return None
    try:
        with session_scope(request.app.state.engine) as session:
            view = sitting_view(sitting.present(session=session, holder=token, now=utcnow()))
    except Exception:  # noqa: BLE001 - fall back to the plain error page
        return None
    if view.item is None:
        return None
    return page(request, "test", {"view": view, "error": message, "allow_skip": allow_skip}, status_code=status)


def _html(request: Request[Any, Any, State], exc: Exception, status: int, message: str) -> Response[Any]:
    if isinstance(exc, NotSignedIn):
        if is_htmx(request):
            return ClientRedirect("/login")
        return Redirect("/login", status_code=303)
    if isinstance(exc, AnswerRejected | InvalidResponseError) and request.scope.get("path") == "/test/answer":
        shown = _current_item_page(request, status, message, allow_skip=isinstance(exc, AnswerMissing))
        if shown is not None:
            return shown
    cookies = [clear_session_cookie(request)] if isinstance(exc, TakenOver) else None
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LoginThrottled) else None
    kind = "taken_over" if isinstance(exc, TakenOver) else "closed" if isinstance(exc, SessionClosed) else ""
    return page(
        request,
        "error",
        {"status": status, "message": message, "kind": kind},
        status_code=status,
        cookies=cookies,
        headers=headers,
    )


def handle(request: Request[Any, Any, State], exc: Exception) -> Response[Any]:
    """Answer an exception raised anywhere in a request."""
    status, message = classify(exc)
    if status >= 500:
        log_event("error", logging.ERROR, path=request.scope.get("path"), error=repr(exc), exc_info=exc)
    if _is_api(request):
        return _json(request, exc, status, message)
    return _html(request, exc, status, message)


def exception_handlers() -> dict[int | type[Exception], Any]:
    """The app-level exception handler map."""
    return {
        Exception: handle,
        HTTPException: handle,
        AssessError: handle,
        InvalidResponseError: handle,
        NotSignedIn: handle,
    }
