"""The staff JSON API (``/api/v1/staff/...``): the consoles' reading operations for other tools.

Sign in with ``POST /api/v1/staff/login`` (username, password; then ``/login/totp`` with the code
where the account has a second factor) and send the token it returns as
``Authorization: Bearer ...``. The token is a staff session like the console's (it expires, idles
out and is revoked the same way); cookies are never read here, since the API is outside the CSRF
check. Every answer is scoped exactly like the console: a node outside the caller's scope is a
404 with nothing of it in the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import FromPath, JSONBody

from assess import administration
from assess.accounts import audit, users
from assess.accounts.login import give_second_factor, log_in
from assess.accounts.models import StaffUserPublic
from assess.accounts.sessions import revoke_session
from assess.console.tree import AreaView, Node, Participation, area_view, national_node, participation, school_node
from itembank.db import session_scope
from reports.store import profile_to_dict
from web.controllers.console_common import ChosenAssessment
from web.deps import DbSession, Now
from web.openapi import error_responses
from web.profiles import Shown
from web.security import require_json
from web.staff import CurrentActor, client_of, session_policy, token_of

__all__ = ["StaffApiController"]


@dataclass(frozen=True)
class StaffLogin:
    """``POST /api/v1/staff/login`` body."""

    username: str
    password: str


@dataclass(frozen=True)
class TotpCode:
    """``POST /api/v1/staff/login/totp`` body (the pending token goes in the bearer header)."""

    code: str


@dataclass(frozen=True)
class SignedInJson:
    """A login step: the token to send as a bearer, and whether the TOTP code is still due."""

    token: str
    username: str
    role: str
    needs_second_factor: bool
    must_change_password: bool


@dataclass(frozen=True)
class MeJson:
    """Who the token belongs to and its scope (``kind`` all, area or school; the node's path)."""

    username: str
    role: str
    scope_kind: str
    scope_path: str


@dataclass(frozen=True)
class AssessmentFileIn:
    """``POST /api/v1/staff/assessments`` body: an assessment file's text (TOML, or JSON with a ``.json`` name)."""

    content: str
    filename: str = "assessment.toml"


@dataclass(frozen=True)
class OpenIn:
    """``POST /api/v1/staff/assessments/{code}/open`` body: optionally a new closing time (ISO 8601 with offset)."""

    until: datetime | None = None


@dataclass(frozen=True)
class ClosedJson:
    """What closing a window did: the round now, the sittings ended (of which assessed), any left open or queued."""

    assessment: administration.AssessmentSummary
    expired: int
    assessed: int
    running: int
    queued: int = 0  # more than 200 open sittings: scored in the background (their answers are closed)


_BEARER: list[SecurityRequirement] = [{"BearerToken": []}]
_REFUSED = error_responses(401, 404)


@dataclass(frozen=True)
class ProfileJson:
    """A node's profile (the fields of ``reports.profile.Profile``; withheld numbers are null), or why there is none."""

    profile: dict[str, Any] | None
    note: str | None


def _profile_json(shown: Shown) -> ProfileJson:
    return ProfileJson(None if shown.profile is None else profile_to_dict(shown.profile), shown.note)


def _viewed_profile(
    request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, chosen: ChosenAssessment, node: Node
) -> ProfileJson | None:
    """A node (already found within the caller's scope) as its profile in the chosen assessment, audited as viewed."""
    if chosen.current is None:
        return None
    audit.record(db, actor, "report.view", target=f"{node.kind}:{node.code}", scope_path=node.path)
    shown = request.app.state.profiles.build(session=db, assessment_id=int(chosen.current.id or 0), node=node)
    return _profile_json(shown)


def _signed(step: Any) -> SignedInJson:
    return SignedInJson(step.token, step.username, step.role, step.needs_second_factor, step.must_change_password)


class StaffApiController(Controller):
    """Staff endpoints as JSON."""

    path = "/api/v1/staff"
    tags = ["staff"]

    @post(
        "/login", status_code=200, guards=[require_json], responses=error_responses(400, 401, 415, 429),
        opt={"access": "staff.login"},
    )  # fmt: skip
    async def login(self, request: Request[Any, Any, State], data: JSONBody[StaffLogin], now: Now) -> SignedInJson:
        """Sign in with username and password; the answer's token is the bearer token."""
        state = request.app.state
        step = await anyio.to_thread.run_sync(
            lambda: log_in(
                engine=state.engine,
                throttles=state.staff_throttles,
                username=data.username,
                password=data.password,
                client=client_of(request),
                now=now,
                policy=session_policy(state.web),
                user_agent=request.headers.get("user-agent", ""),
            ),
            limiter=state.verify_slots,
        )
        return _signed(step)

    @post(
        "/login/totp", status_code=200, guards=[require_json], security=_BEARER,
        responses=error_responses(400, 401, 415, 429), opt={"access": "staff.login"},
    )  # fmt: skip
    async def totp(self, request: Request[Any, Any, State], data: JSONBody[TotpCode], now: Now) -> SignedInJson:
        """Give the TOTP code of a login that asked for it (its token as the bearer)."""
        state = request.app.state
        step = await anyio.to_thread.run_sync(
            lambda: give_second_factor(
                engine=state.engine,
                throttles=state.staff_throttles,
                token=token_of(request) or "",
                code=data.code,
                client=client_of(request),
                now=now,
                policy=session_policy(state.web),
            ),
        )
        return _signed(step)

    @post(
        "/logout",
        security=_BEARER,
        responses=_REFUSED,
        status_code=200,
        sync_to_thread=False,
        opt={"access": "account.self"},
    )
    def logout(self, db: DbSession, actor: CurrentActor) -> dict[str, bool]:
        """End this token's session."""
        if actor.session_id is not None:
            revoke_session(session=db, session_id=actor.session_id)
        audit.record(db, actor, "logout", target=f"user:{actor.username}")
        return {"ok": True}

    @get("/me", security=_BEARER, responses=_REFUSED, sync_to_thread=False, opt={"access": "console.home"})
    def me(self, actor: CurrentActor) -> MeJson:
        """The token's user and scope."""
        return MeJson(actor.username, actor.role, actor.scope.kind, actor.scope.path)

    @get("/areas/{code:str}", security=_BEARER, responses=_REFUSED, sync_to_thread=False, opt={"access": "area.view"})
    def area(self, db: DbSession, actor: CurrentActor, code: FromPath[str]) -> AreaView:
        """An area, the trail to it from the caller's node, its child areas and schools."""
        return area_view(session=db, actor=actor, code=code)

    @get(
        "/areas/{code:str}/participation",
        security=_BEARER,
        responses=_REFUSED,
        sync_to_thread=False,
        opt={"access": "area.participation"},
    )
    def area_participation(
        self,
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> list[Participation]:
        """Participation per school of the area in one assessment (the open one by default)."""
        view = area_view(session=db, actor=actor, code=code)
        assert view.node is not None
        if chosen.current is None:
            return []
        return participation(session=db, actor=actor, assessment_id=int(chosen.current.id or 0), path=view.node.path)

    @get(
        "/areas/{code:str}/profile",
        security=_BEARER,
        responses=_REFUSED,
        sync_to_thread=False,
        opt={"access": "area.profile"},
    )
    def area_profile(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> ProfileJson | None:
        """An area's profile (with its children compared) in one assessment."""
        view = area_view(session=db, actor=actor, code=code)
        assert view.node is not None
        return _viewed_profile(request, db, actor, chosen, view.node)

    @get(
        "/national/profile",
        security=_BEARER,
        responses=_REFUSED,
        sync_to_thread=False,
        opt={"access": "national.profile"},
    )
    def national_profile(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, chosen: ChosenAssessment
    ) -> ProfileJson | None:
        """The nation's profile in one assessment (admins and researchers; any narrower scope: 404)."""
        return _viewed_profile(request, db, actor, chosen, national_node(actor=actor))

    @get(
        "/schools/{code:str}/profile",
        security=_BEARER,
        responses=_REFUSED,
        sync_to_thread=False,
        opt={"access": "school.profile"},
    )
    def school_profile(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> ProfileJson | None:
        """A school's profile in one assessment."""
        node, _ = school_node(session=db, actor=actor, code=code)
        return _viewed_profile(request, db, actor, chosen, node)

    @get("/users", security=_BEARER, responses=_REFUSED, sync_to_thread=False, opt={"access": "users.manage"})
    def users_list(self, db: DbSession, actor: CurrentActor) -> list[StaffUserPublic]:
        """The accounts the caller manages."""
        return users.list_users(session=db, actor=actor)

    # ------------------------------------------------------------------------------ testing rounds
    @get(
        "/assessments", security=_BEARER, responses=error_responses(401, 403), sync_to_thread=False,
        opt={"access": "assessments.manage"},
    )  # fmt: skip
    def assessments(self, db: DbSession, actor: CurrentActor, now: Now) -> list[administration.AssessmentSummary]:
        """Every testing round: its window and state, each band's design, where its sittings stand."""
        return administration.list_assessments(session=db, actor=actor, now=now)

    @post(
        "/assessments", status_code=201, guards=[require_json], security=_BEARER,
        responses=error_responses(400, 401, 403, 415), opt={"access": "assessments.manage"},
    )  # fmt: skip
    async def assessment_create(
        self, request: Request[Any, Any, State], actor: CurrentActor, now: Now, data: JSONBody[AssessmentFileIn]
    ) -> administration.AssessmentSummary:
        """Create a round from an assessment file; a file with problems is a 400 listing every one, nothing written."""

        def make() -> administration.AssessmentSummary:
            with session_scope(request.app.state.engine) as db:
                return administration.create_assessment(
                    session=db,
                    actor=actor,
                    content=data.content.encode("utf-8", "surrogatepass"),
                    filename=data.filename,
                    now=now,
                )

        return await anyio.to_thread.run_sync(make)

    @post(
        "/assessments/{code:str}/open", status_code=200, guards=[require_json], security=_BEARER,
        responses=error_responses(400, 401, 403, 404, 409, 415), sync_to_thread=False,
        opt={"access": "assessments.manage"},
    )  # fmt: skip
    def assessment_open(
        self, db: DbSession, actor: CurrentActor, now: Now, code: FromPath[str], data: JSONBody[OpenIn]
    ) -> administration.AssessmentSummary:
        """Open a round's window now (``until``: and move its closing time), after checking it can be sat."""
        return administration.open_assessment(session=db, actor=actor, code=code, now=now, until=data.until)

    @post(
        "/assessments/{code:str}/close", status_code=200, security=_BEARER,
        responses=error_responses(401, 403, 404, 409), opt={"access": "assessments.manage"},
    )  # fmt: skip
    async def assessment_close(
        self, request: Request[Any, Any, State], actor: CurrentActor, now: Now, code: FromPath[str]
    ) -> ClosedJson:
        """Close a round's window now: its open sittings end, scored on what they answered."""
        engine, executor = request.app.state.engine, request.app.state.jobs
        done = await anyio.to_thread.run_sync(
            lambda: administration.close_assessment(
                engine=engine, actor=actor, code=code, now=now, background=executor.submit
            )
        )
        return ClosedJson(done.assessment, done.expired, done.assessed, done.running, done.queued)
