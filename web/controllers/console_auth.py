"""Staff sign-in pages: login, the TOTP step, logout, and one's own account (password, sessions, TOTP).

The password and TOTP checks run in a worker thread (:func:`anyio.to_thread.run_sync`: an
argon2id verification takes tens of milliseconds), bounded by the app's verification slots. A
login sets the staff cookie (:mod:`web.staff`); a login that still needs its TOTP code sets it
too, on a session that is good for the TOTP page only.
"""

from __future__ import annotations

import base64
from typing import Any

import anyio.to_thread
import segno
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import URLEncodedBody

from assess.accounts import audit, totp, users
from assess.accounts.exceptions import AccountInvalid, StaffLoginFailed
from assess.accounts.login import give_second_factor, log_in
from assess.accounts.models import StaffUser
from assess.accounts.roles import TOTP_ROLES
from assess.accounts.sessions import resolve_session, revoke_session, revoke_user_sessions
from itembank.db import session_scope
from itembank.models import utcnow
from web.controllers.console_common import go, render
from web.deps import DbSession, Now
from web.forms import field
from web.staff import (
    STAFF_COOKIE,
    CurrentActor,
    clear_staff_cookie,
    client_of,
    current_actor,
    session_policy,
    staff_cookie,
)

__all__ = ["ConsoleAuthController"]

Form = URLEncodedBody[dict[str, Any]]


def _landing(step_must_change: bool) -> str:
    return "/console/account" if step_must_change else "/console"


def _qr(uri: str) -> str:
    """The ``otpauth://`` URI as an SVG QR code in a data URI (the CSP allows ``data:`` images)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


class ConsoleAuthController(Controller):
    """The staff login, logout and account pages."""

    path = "/console"
    include_in_schema = False

    @get("/login", sync_to_thread=False, opt={"access": "staff.login"})
    def login_page(self, request: Request[Any, Any, State]) -> Response[Any]:
        """The login form (a signed-in user goes straight to the console)."""
        if current_actor(request) is not None:
            return go(request, "/console")
        return render(request, "login", {"username": "", "error": None}, title="登录")

    @post("/login", status_code=200, opt={"access": "staff.login"})
    async def login(self, request: Request[Any, Any, State], data: Form, now: Now) -> Response[Any]:
        """Check username and password; sign in, or go on to the TOTP step."""
        state = request.app.state
        username = field(data, "username")
        try:
            step = await anyio.to_thread.run_sync(
                lambda: log_in(
                    engine=state.engine,
                    throttles=state.staff_throttles,
                    username=username,
                    password=field(data, "password"),
                    client=client_of(request),
                    now=now,
                    policy=session_policy(state.web),
                    user_agent=request.headers.get("user-agent", ""),
                ),
                limiter=state.verify_slots,
            )
        except StaffLoginFailed as exc:
            response: Response[Any] = render(
                request,
                "login",
                {"username": username.strip()[:64], "error": str(exc)},
                status_code=429 if hasattr(exc, "retry_after") else 401,
                title="登录",
            )
            if hasattr(exc, "retry_after"):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        response = go(
            request, "/console/login/totp" if step.needs_second_factor else _landing(step.must_change_password)
        )
        response.set_cookie(staff_cookie(request, step.token))
        return response

    def _pending(self, request: Request[Any, Any, State], db: DbSession) -> StaffUser | None:
        found = resolve_session(
            session=db,
            token=request.cookies.get(STAFF_COOKIE),
            now=utcnow(),
            policy=session_policy(request.app.state.web),
            pending_ok=True,
        )
        return found[1] if found is not None and found[0].second_factor_pending else None

    @get("/login/totp", sync_to_thread=False, opt={"access": "staff.login"})
    def totp_page(self, request: Request[Any, Any, State], db: DbSession) -> Response[Any]:
        """The TOTP form of a login waiting for its code."""
        user = self._pending(request, db)
        if user is None:
            return go(request, "/console/login")
        return render(request, "totp", {"username": user.username, "error": None}, title="动态验证码")

    @post("/login/totp", status_code=200, opt={"access": "staff.login"})
    async def totp_check(self, request: Request[Any, Any, State], data: Form, now: Now) -> Response[Any]:
        """Check the TOTP code; the session is then signed in."""
        state = request.app.state
        token = request.cookies.get(STAFF_COOKIE) or ""
        try:
            step = await anyio.to_thread.run_sync(
                lambda: give_second_factor(
                    engine=state.engine,
                    throttles=state.staff_throttles,
                    token=token,
                    code=field(data, "code"),
                    client=client_of(request),
                    now=now,
                    policy=session_policy(state.web),
                ),
            )
        except StaffLoginFailed as exc:
            with session_scope(state.engine) as db:
                user = self._pending(request, db)
            if user is None:
                return go(request, "/console/login")
            status = 429 if hasattr(exc, "retry_after") else 401
            return render(
                request, "totp", {"username": user.username, "error": str(exc)}, status_code=status, title="动态验证码"
            )
        return go(request, _landing(step.must_change_password))

    @post("/logout", status_code=200, sync_to_thread=False, opt={"access": "account.self"})
    def logout(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """End this session (in the database: the token is dead on every worker) and forget the cookie."""
        if actor.session_id is not None:
            revoke_session(session=db, session_id=actor.session_id)
        audit.record(db, actor, "logout", target=f"user:{actor.username}")
        response = go(request, "/console/login")
        response.set_cookie(clear_staff_cookie(request))
        return response

    def _account(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, **extra: Any
    ) -> Response[Any]:
        signed = current_actor(request)
        uid = int(actor.user_id or 0)
        context = {
            "must_change": bool(signed and signed[1]),
            "totp_allowed": actor.role in TOTP_ROLES,
            "totp_enabled": totp.totp_enabled(db, uid),
            "enrolment": None,
            "error": None,
            "message": None,
            **extra,
        }
        return render(
            request,
            "account",
            context,
            session=db,
            actor=actor,
            title="我的账号",
            status_code=400 if context["error"] else 200,
        )

    @get("/account", sync_to_thread=False, opt={"access": "account.self"})
    def account(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """One's own account: change the password, log out elsewhere, the second factor."""
        return self._account(request, db, actor)

    @post("/account/password", status_code=200, opt={"access": "account.self"})
    async def change_password(
        self, request: Request[Any, Any, State], data: Form, actor: CurrentActor
    ) -> Response[Any]:
        """Set a new password; every other session of the account ends."""
        engine = request.app.state.engine

        def change() -> str | None:
            with session_scope(engine) as db:
                try:
                    users.change_password(
                        session=db,
                        actor=actor,
                        current=field(data, "current"),
                        new=field(data, "new"),
                        keep_session_id=actor.session_id,
                    )
                except AccountInvalid as exc:
                    return str(exc)
            return None

        error = await anyio.to_thread.run_sync(change, limiter=request.app.state.verify_slots)
        with session_scope(engine) as db:
            if error is not None:
                return self._account(request, db, actor, error=error)
            request.scope["state"].pop("infolit.actor", None)  # no longer a one-time password
            return self._account(request, db, actor, message="新密码已保存；其他设备上的登录已退出。")

    @post("/account/logout-everywhere", status_code=200, sync_to_thread=False, opt={"access": "account.self"})
    def logout_everywhere(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """End every session of the account but this one."""
        ended = revoke_user_sessions(session=db, user_id=int(actor.user_id or 0), keep=actor.session_id)
        audit.record(db, actor, "logout.everywhere", target=f"user:{actor.username}", detail={"sessions": ended})
        return self._account(request, db, actor, message=f"已退出其他 {ended} 处登录。")

    @post("/account/totp", status_code=200, sync_to_thread=False, opt={"access": "account.self"})
    def totp_begin(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """Make a TOTP secret and show it (as a QR code and as text) for the authenticator app."""
        user = db.get(StaffUser, actor.user_id)
        assert user is not None
        try:
            enrol = totp.begin_enrolment(session=db, user=user)
        except AccountInvalid as exc:
            return self._account(request, db, actor, error=str(exc))
        return self._account(request, db, actor, enrolment={"secret": enrol.secret, "qr": _qr(enrol.uri)})

    @post("/account/totp/confirm", status_code=200, sync_to_thread=False, opt={"access": "account.self"})
    def totp_confirm(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, data: Form
    ) -> Response[Any]:
        """Turn the second factor on with a code from the app."""
        try:
            totp.confirm_enrolment(session=db, user_id=int(actor.user_id or 0), code=field(data, "code"))
        except (AccountInvalid, StaffLoginFailed) as exc:
            return self._account(request, db, actor, error=str(exc))
        audit.record(db, actor, "totp.enable", target=f"user:{actor.username}", scope_path=actor.scope.path)
        return self._account(request, db, actor, message="动态验证码已启用。")
