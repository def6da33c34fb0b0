"""Account management and the audit log: admins manage every account, a bureau the school accounts under it.

Each action is one service call of :mod:`assess.accounts.users` (which checks the role, the scope
and audits it); a new or reset account's one-time password is shown once, on the page that made it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, URLEncodedBody

from assess.accounts import audit, users
from assess.accounts.exceptions import AccountInvalid, OutOfScope
from assess.accounts.roles import ROLE_CODES, ROLES, can_manage_role
from assess.sitting import format_local
from itembank.db import session_scope
from web.controllers.console_common import render
from web.deps import DbSession
from web.forms import field
from web.staff import CurrentActor

__all__ = ["ConsoleAdminController"]

Form = URLEncodedBody[dict[str, Any]]
ROLE_NAMES = {r.code: r.name for r in ROLES}


def _node_args(role_code: str, code: str) -> dict[str, str]:
    """The ``area_code`` / ``school_code`` argument for the node code typed in the form."""
    code = code.strip()
    if not code:
        return {}
    return {"school_code": code} if role_code == "school" else {"area_code": code}


class ConsoleAdminController(Controller):
    """Accounts and the audit log."""

    path = "/console"
    include_in_schema = False

    def _users(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        status_code: int = 200,
        **extra: Any,
    ) -> Response[Any]:
        listed = users.list_users(session=db, actor=actor)
        creatable = [code for code in ROLE_CODES if can_manage_role(actor.role, code)]
        form = extra.pop("form", None) or {"username": "", "display_name": "", "role": creatable[-1], "node": ""}
        context = {
            "users": listed,
            "role_names": ROLE_NAMES,
            "creatable": creatable,
            "form": form,
            "message": None,
            "error": None,
            **extra,
        }
        return render(request, "users", context, session=db, actor=actor, status_code=status_code, title="账号管理")

    @get("/users", sync_to_thread=False, opt={"access": "users.manage"})
    def users_page(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """The accounts the actor manages and the form to create one."""
        return self._users(request, db, actor)

    @post("/users", status_code=200, opt={"access": "users.manage"})
    async def create(self, request: Request[Any, Any, State], data: Form, actor: CurrentActor) -> Response[Any]:
        """Create an account; its one-time password is shown once (the argon2id hash runs off the event loop)."""
        role_code = field(data, "role")
        form = {k: field(data, k) for k in ("username", "display_name", "role", "node")}

        def make() -> users.NewUser | str:
            with session_scope(request.app.state.engine) as db:
                try:
                    made = users.create_user(
                        session=db,
                        actor=actor,
                        username=form["username"],
                        role_code=role_code,
                        display_name=form["display_name"],
                        **_node_args(role_code, form["node"]),
                    )
                except (AccountInvalid, OutOfScope) as exc:
                    return str(exc)
                return made

        made = await anyio.to_thread.run_sync(make, limiter=request.app.state.verify_slots)
        with session_scope(request.app.state.engine) as db:
            if isinstance(made, str):
                return self._users(request, db, actor, status_code=400, error=made, form=form)
            return render(
                request,
                "user_made",
                {"made": made, "heading": "账号已创建", "role_names": ROLE_NAMES},
                session=db,
                actor=actor,
                title="账号已创建",
            )

    @post("/users/{username:str}/disable", status_code=200, sync_to_thread=False, opt={"access": "users.manage"})
    def disable(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, username: FromPath[str]
    ) -> Response[Any]:
        """Disable an account: its sessions end at once."""
        try:
            done = users.disable_user(session=db, actor=actor, username=username)
        except AccountInvalid as exc:
            return self._users(request, db, actor, status_code=400, error=str(exc))
        return self._users(request, db, actor, message=f"已停用 {done.username}，其登录已全部退出。")

    @post("/users/{username:str}/enable", status_code=200, sync_to_thread=False, opt={"access": "users.manage"})
    def enable(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, username: FromPath[str]
    ) -> Response[Any]:
        """Enable a disabled account again."""
        done = users.enable_user(session=db, actor=actor, username=username)
        return self._users(request, db, actor, message=f"已启用 {done.username}。")

    @post("/users/{username:str}/reset", status_code=200, opt={"access": "users.manage"})
    async def reset(
        self, request: Request[Any, Any, State], actor: CurrentActor, username: FromPath[str]
    ) -> Response[Any]:
        """Give an account a new one-time password (shown once); its sessions end."""

        def reset() -> users.NewUser:
            with session_scope(request.app.state.engine) as db:
                return users.reset_password(session=db, actor=actor, username=username)

        made = await anyio.to_thread.run_sync(reset, limiter=request.app.state.verify_slots)
        with session_scope(request.app.state.engine) as db:
            return render(
                request,
                "user_made",
                {"made": made, "heading": "密码已重置", "role_names": ROLE_NAMES},
                session=db,
                actor=actor,
                title="密码已重置",
            )

    @get("/audit", sync_to_thread=False, opt={"access": "audit.view"})
    def audit_log(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        offset: FromQuery[int] = 0,
        action: FromQuery[str] = "",
    ) -> Response[Any]:
        """The audit log, newest first, 50 to a page, optionally one action."""
        page = audit.list_events(session=db, scope=actor.scope, action=action or None, offset=offset, limit=50)
        context = {"page": page, "actions": audit.ACTIONS, "action": action}
        return render(request, "audit", context, session=db, actor=actor, title="审计日志")


def beijing(value: datetime) -> str:
    """A timestamp as Beijing time with seconds (a template filter)."""
    return format_local(value) + value.strftime(":%S")
