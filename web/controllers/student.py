"""The student's pages: login, instructions, practice, one item per screen, finish.

Each handler serves the full page, or for an htmx request only the fragment that goes into
``<main>``. Without JavaScript every form posts normally and the answer is followed by a redirect
to the full page (post/redirect/get), so a reload never sends an answer twice.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import URLEncodedBody
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template

from assess import sitting
from assess.exceptions import AnswerRejected, AssessError, LoginFailed, LoginThrottled, NotSignedIn
from itembank.db import session_scope
from itembank.exceptions import InvalidResponseError
from web import auth
from web.controllers.errors import classify
from web.controllers.pages import clear_session_cookie, is_htmx, page, session_cookie
from web.deps import CurrentToken, DbSession, Now, provide_now, provide_token
from web.forms import answer_from_form, field, item_from_form, latency_from_form, search_from_form
from web.logging import log_event
from web.security import SessionToken
from web.views import PRACTICE, practice_feedback, sitting_view

__all__ = ["StudentController"]

Form = URLEncodedBody[dict[str, Any]]

_LANDING = {"not_started": "/instructions", "in_progress": "/test", "finished": "/finish", "expired": "/finish"}


def _go(request: Request[Any, Any, State], url: str) -> Response[Any]:
    """Send the browser to ``url`` (a client redirect for htmx, 303 otherwise)."""
    return ClientRedirect(url) if is_htmx(request) else Redirect(url, status_code=303)


class StudentController(Controller):
    """HTML pages of the student journey."""

    include_in_schema = False

    @get("/", sync_to_thread=False)
    def home(self, db: DbSession, token: CurrentToken, now: Now) -> Redirect:
        """Send the student to where the sitting stands (the login page when signed out)."""
        if token is None:
            return Redirect("/login")
        shown = sitting.present(session=db, holder=token, now=now)
        return Redirect(_LANDING.get(shown.status, "/instructions"))

    @get("/login", sync_to_thread=False)
    def login_page(self, request: Request[Any, Any, State]) -> Template:
        """The login form: test ticket and PIN."""
        return page(request, "login", {"ticket": "", "error": None})

    @post("/login", status_code=200)
    async def login(self, request: Request[Any, Any, State], data: Form, now: Now) -> Response[Any]:
        """Check ticket and PIN; on success set the session cookie and go on."""
        ticket = field(data, "ticket")
        client = request.client.host if request.client else "unknown"
        state = request.app.state
        try:
            result = await auth.login(
                engine=state.engine,
                ticket=ticket,
                pin=field(data, "pin"),
                client=client,
                guard=state.login_guard,
                now=now,
                limiter=state.verify_slots,
                via="page",
            )
        except AssessError as exc:
            status = classify(exc)[0]
            if not isinstance(exc, LoginFailed):  # auth.login logs its own refusals
                log_event("login_refused", reason=type(exc).__name__, status=status, client=client, via="page")
            headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LoginThrottled) else None
            return page(
                request,
                "login",
                {"ticket": auth.normalise_ticket(ticket)[:32], "error": str(exc)},
                status_code=status,
                headers=headers,
            )
        token = SessionToken(
            result.student_id,
            result.assessment_id,
            result.device,
            result.test_session_id,
            int(now.timestamp()) + state.settings.session_minutes * 60,
        )
        log_event("login", student=result.student_id, assessment=result.assessment_id, status=result.status)
        response = _go(request, _LANDING.get(result.status, "/instructions"))
        response.set_cookie(session_cookie(request, token))
        return response

    @post("/logout", status_code=200, sync_to_thread=False)
    def logout(self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken, now: Now) -> Response[Any]:
        """Sign out of this browser: the token is refused from now on, even a copy (the answers stay)."""
        if token is not None:
            sitting.sign_out(session=db, holder=token, expires_at=token.expires_at, now=now)
        response = _go(request, "/login")
        response.set_cookie(clear_session_cookie(request))
        return response

    @get("/instructions", sync_to_thread=False)
    def instructions(self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken, now: Now) -> Template:
        """How the test works, the time limit, and that an answer cannot be changed."""
        shown = sitting.present(session=db, holder=_signed_in(token), now=now)
        return page(request, "instructions", {"view": sitting_view(shown), "assessment": shown.assessment_name})

    @get("/practice", sync_to_thread=False)
    def practice(self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken) -> Template:
        """The unscored practice item."""
        sitting.check_signed_in(session=db, holder=_signed_in(token))
        return page(request, "practice", {"item": PRACTICE, "feedback": None, "chosen": None})

    @post("/practice", status_code=200, sync_to_thread=False)
    def practice_answer(
        self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken, data: Form
    ) -> Template:
        """Feedback on the practice item (nothing is stored)."""
        sitting.check_signed_in(session=db, holder=_signed_in(token))
        chosen = field(data, "answer") or None
        feedback = practice_feedback(chosen)
        return page(request, "practice", {"item": PRACTICE, "feedback": feedback, "chosen": chosen})

    @post("/start", status_code=200, sync_to_thread=False)
    def start(self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken, now: Now) -> Response[Any]:
        """Start the timed test (or continue it) and show the first item."""
        token = _signed_in(token)
        shown = sitting.start(session=db, holder=token, now=now)
        view = sitting_view(shown)
        cookie = session_cookie(
            request,
            SessionToken(token.student_id, token.assessment_id, token.device, shown.test_session_id, token.expires_at),
        )
        if view.status != "in_progress":
            response = _go(request, "/finish")
            response.set_cookie(cookie)
            return response
        if is_htmx(request):
            return page(request, "test", {"view": view, "error": None}, push_url="/test", cookies=[cookie])
        redirect = Redirect("/test", status_code=303)
        redirect.set_cookie(cookie)
        return redirect

    @get("/test", sync_to_thread=False)
    def test(self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken, now: Now) -> Response[Any]:
        """The item on screen now: the same one after a reload, a lost connection or a new login."""
        view = sitting_view(sitting.present(session=db, holder=_signed_in(token), now=now))
        if view.status == "not_started":
            return _go(request, "/instructions")
        if view.item is None:
            if is_htmx(request):
                return page(request, "finish", {"view": view}, push_url="/finish")
            return Redirect("/finish", status_code=303)
        return page(request, "test", {"view": view, "error": None})

    @post("/test/answer", status_code=200, sync_to_thread=False)
    def answer(self, request: Request[Any, Any, State], data: Form) -> Response[Any]:
        """Store the answer to the item on screen; show the next item (htmx) or redirect to it."""
        # the hottest page takes no dependency (see web.controllers.api.ApiController.answer)
        token, now = _signed_in(provide_token(request)), provide_now()
        engine = request.app.state.engine
        item_id = item_from_form(data)
        if data.get("search") == "1":  # 搜索 on a simulated search page: show its results, store nothing
            return self._search(request, token, now, item_id, data)
        try:
            value = answer_from_form(engine=engine, item_id=item_id, form=data)
        except (InvalidResponseError, AnswerRejected):
            sitting.check_presented(engine=engine, holder=token, item_id=item_id)  # another item: 409, not 400
            raise
        shown = sitting.answer(
            engine=engine, holder=token, item_id=item_id, value=value, now=now, latency_ms=latency_from_form(data)
        )
        view = sitting_view(shown)
        if not is_htmx(request):
            return Redirect("/test" if view.item is not None else "/finish", status_code=303)
        if view.item is None:
            return page(request, "finish", {"view": view}, push_url="/finish")
        return page(request, "test", {"view": view, "error": None})

    def _search(
        self, request: Request[Any, Any, State], token: SessionToken, now: Any, item_id: int, data: Form
    ) -> Response[Any]:
        engine = request.app.state.engine
        try:
            search = search_from_form(engine=engine, item_id=item_id, form=data)
        except (InvalidResponseError, AnswerRejected):
            sitting.check_presented(engine=engine, holder=token, item_id=item_id)
            raise
        sitting.check_presented(engine=engine, holder=token, item_id=item_id)
        with session_scope(engine) as session:
            view = sitting_view(sitting.present(session=session, holder=token, now=now))
        if view.item is None:
            return _go(request, "/finish")
        return page(request, "test", {"view": view, "error": None, "search": search})

    @get("/test/time", sync_to_thread=False)
    def time_left(self, db: DbSession, token: CurrentToken, now: Now) -> dict[str, Any]:
        """The server's remaining time, for the page's countdown to re-sync."""
        shown = sitting.present(session=db, holder=_signed_in(token), now=now)
        return {"status": shown.status, "remaining_seconds": shown.remaining_seconds}

    @get("/finish", sync_to_thread=False)
    def finish(self, request: Request[Any, Any, State], db: DbSession, token: CurrentToken, now: Now) -> Response[Any]:
        """The end of the test, with an encouraging level description when the blueprint allows."""
        view = sitting_view(sitting.present(session=db, holder=_signed_in(token), now=now))
        if view.status == "in_progress":
            return _go(request, "/test")
        if view.status == "not_started":
            return _go(request, "/instructions")
        return page(request, "finish", {"view": view})


def _signed_in(token: SessionToken | None) -> SessionToken:
    """The session cookie's token (:class:`NotSignedIn` without one)."""
    if token is None:
        raise NotSignedIn("请先登录")
    return token
