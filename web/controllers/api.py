"""The JSON API of the student journey (``/api/v1``), for other front ends; see ``/schema``.

``POST /login`` returns a bearer token; ``POST /start`` starts (or resumes) the timed sitting;
``GET /item`` returns what is on screen now; ``POST /answer`` stores the answer to that item and
returns the next; ``POST /finish`` hands the test in; ``POST /logout`` revokes the token. Every
response about the sitting is a :class:`~web.views.TestView`: the item as sanitised HTML
fragments with the option values to send back, never a key, rubric, parameter or score. Errors are JSON
``{"status_code", "error", "detail"}`` with a 4xx status, and a refused request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import JSONBody

from assess import sitting
from assess.exceptions import AssessError, LoginFailed
from itembank.db import session_scope
from web import auth
from web.deps import ApiToken, DbSession, Now, provide_api_token, provide_now
from web.logging import log_event
from web.openapi import error_responses
from web.security import SessionToken, refuse_cross_site, require_json
from web.views import TestView, sitting_view

__all__ = ["AnswerIn", "ApiController", "LoginIn", "LoginOut", "StartOut"]

_BEARER: list[SecurityRequirement] = [{"BearerToken": []}]


@dataclass(frozen=True)
class LoginIn:
    """A login: the test ticket (准考证号) and the PIN the school handed out."""

    ticket: str
    pin: str


@dataclass(frozen=True)
class LoginOut:
    """A successful login: the bearer token and where the sitting stands."""

    token: str
    status: str
    assessment: str
    sitting: TestView


@dataclass(frozen=True)
class StartOut:
    """The started sitting and a refreshed token that names it (either token keeps working)."""

    token: str
    sitting: TestView


@dataclass(frozen=True)
class AnswerIn:
    """An answer to the item on screen.

    ``answer`` is the option value for single choice (``"B"``) and true/false (``"T"``/``"F"``),
    the list of values for multiple response (``["A", "C"]``), one value (or ``null``) per part
    for a partial-credit task (``["A", null, "C"]``), every step key in order for ordering
    (``["C", "A", "B"]``), the chosen region keys for hotspot (``["R1", "R3"]``), an object for
    matching (``{"A": "1", "B": "2"}``) and inline choice (``{"1": "B"}``), the typed text for
    entry (``"20"``), ``{"query", "chosen", "opened", "searches"}`` for a search page, or ``null``
    to skip the item. Anything that does not fit the item on
    screen is refused (422) and nothing is stored.
    """

    item_id: int
    answer: str | list[str | None] | dict[str, Any] | None = None
    latency_ms: int | None = None


class ApiController(Controller):
    """JSON endpoints of the student journey."""

    path = "/api/v1"
    tags = ["student"]
    guards = [refuse_cross_site]  # noqa: RUF012 - Litestar's layer attribute
    request_max_body_size = 65_536  # a login or an answer is a few hundred bytes

    @post("/login", status_code=200, guards=[require_json], responses=error_responses(400, 401, 403, 409, 415, 429))
    async def login(self, request: Request[Any, Any, State], data: JSONBody[LoginIn], now: Now) -> LoginOut:
        """Log in with ticket and PIN; a sitting in progress on another device moves to this one."""
        state = request.app.state
        client = request.client.host if request.client else "unknown"
        try:
            result = await auth.login(
                engine=state.engine,
                ticket=data.ticket,
                pin=data.pin,
                client=client,
                guard=state.login_guard,
                now=now,
                limiter=state.verify_slots,
                via="api",
            )
        except AssessError as exc:
            if not isinstance(exc, LoginFailed):  # auth.login logs its own refusals
                log_event("login_refused", reason=type(exc).__name__, client=client, via="api")
            raise
        token = SessionToken(
            result.student_id,
            result.assessment_id,
            result.device,
            result.test_session_id,
            int(now.timestamp()) + state.settings.session_minutes * 60,
        )
        log_event("login", student=result.student_id, assessment=result.assessment_id, status=result.status, api=True)
        shown = result.position  # known at login (nothing to read again), else read now
        if shown is None:
            with session_scope(state.engine) as db:
                shown = sitting.present(session=db, holder=token, now=now)
        return LoginOut(state.signer.sign(token), shown.status, shown.assessment_name, sitting_view(shown))

    @post("/start", status_code=200, security=_BEARER, sync_to_thread=False, responses=error_responses(401, 403, 409))
    def start(self, request: Request[Any, Any, State], db: DbSession, api_token: ApiToken, now: Now) -> StartOut:
        """Start the timed sitting (or return it as it stands)."""
        shown = sitting.start(session=db, holder=api_token, now=now)
        token = SessionToken(
            api_token.student_id, api_token.assessment_id, api_token.device, shown.test_session_id, api_token.expires_at
        )
        return StartOut(request.app.state.signer.sign(token), sitting_view(shown))

    @get("/item", security=_BEARER, sync_to_thread=False, responses=error_responses(401, 409))
    def item(self, db: DbSession, api_token: ApiToken, now: Now) -> TestView:
        """The item on screen now (the same after a lost connection), with the time left."""
        return sitting_view(sitting.present(session=db, holder=api_token, now=now))

    @post(
        "/answer",
        status_code=200,
        security=_BEARER,
        sync_to_thread=False,
        guards=[require_json],
        responses=error_responses(400, 401, 404, 409, 415, 422),
    )
    def answer(self, request: Request[Any, Any, State], data: JSONBody[AnswerIn]) -> TestView:
        """Answer the item on screen; returns the next item, or the finished sitting.

        Sending the same answer again is harmless (it returns where the sitting stands now).
        """
        # the hottest route takes no dependency: Litestar's dependency machinery (a task group
        # for several, a cleanup group for a generator) costs more than the answer's fast path,
        # and sitting.answer opens the transaction it needs itself
        api_token, now = provide_api_token(request), provide_now()
        latency = data.latency_ms if data.latency_ms is not None and 0 <= data.latency_ms <= 86_400_000 else None
        shown = sitting.answer(
            engine=request.app.state.engine,
            holder=api_token,
            item_id=data.item_id,
            value=data.answer,
            now=now,
            latency_ms=latency,
        )
        return sitting_view(shown)

    @post("/logout", status_code=204, security=_BEARER, sync_to_thread=False, responses=error_responses(401))
    def logout(self, db: DbSession, api_token: ApiToken, now: Now) -> None:
        """Sign out: this token (and any copy of it) is refused from now on; the answers stay."""
        sitting.sign_out(session=db, holder=api_token, expires_at=api_token.expires_at, now=now)

    @post("/finish", status_code=200, security=_BEARER, sync_to_thread=False, responses=error_responses(401, 404, 409))
    def finish(self, db: DbSession, api_token: ApiToken, now: Now) -> TestView:
        """Hand the test in now (items not reached stay unanswered) and return the result."""
        return sitting_view(sitting.finish(session=db, holder=api_token, now=now))
