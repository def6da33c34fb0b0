"""The bureau console: the area tree, each node's profile and downloads, participation, the ZIP job.

Every handler looks its node up through :mod:`assess.console.tree` with the acting user's scope,
so a node outside it answers 404 (the same page as for a code that does not exist), and builds
profiles through the app's :class:`~web.profiles.ProfileSource`. Downloads and exports are
audited. The same pages serve admins and researchers (from the provinces down) and a school
user for its own school.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath

from assess.accounts import audit
from assess.accounts.exceptions import OutOfScope
from assess.accounts.roles import has_permission
from assess.console import jobs
from assess.console.results import RESULT_COLUMNS, result_rows
from assess.console.tree import Node, area_view, national_node, participation, school_node, schools_under
from itembank.tabular import csv_bytes
from web.controllers.console_common import Chosen, ChosenAssessment, attachment, go, render
from web.deps import DbSession
from web.profiles import FORMAT_LABELS, ProfileSource, zip_school_profiles
from web.staff import CurrentActor

__all__ = ["ConsoleTreeController"]


def _profiles(request: Request[Any, Any, State]) -> ProfileSource:
    source: ProfileSource = request.app.state.profiles
    return source


def _need(chosen: Chosen) -> int:
    if chosen.current is None:
        raise OutOfScope("还没有测评批次。")
    return int(chosen.current.id or 0)


class ConsoleTreeController(Controller):
    """Areas and schools: pages, downloads, participation, jobs."""

    path = "/console"
    include_in_schema = False

    @get("/", sync_to_thread=False, opt={"access": "console.home"})
    def home(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """Where a user starts: a school its school, everyone else the area tree."""
        if actor.scope.kind == "school":
            node, _ = school_node(session=db, actor=actor)
            return go(request, f"/console/schools/{node.code}")
        return go(request, "/console/areas")

    def _area_page(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: str | None,
        chosen: Chosen,
    ) -> Response[Any]:
        view = area_view(session=db, actor=actor, code=code)
        shown = None
        # the root of an unrestricted actor shows the nation's profile; an area its own
        node = view.node if view.node is not None else national_node(actor=actor) if code is None else None
        if node is not None and chosen.current is not None and has_permission(actor.role, "profiles.view"):
            shown = _profiles(request).build(session=db, assessment_id=_need(chosen), node=node)
            audit.record(db, actor, "report.view", target=f"area:{node.code}", scope_path=node.path)
        source = _profiles(request)
        context = {
            "view": view,
            "trail": view.trail,
            "top_link": actor.scope.kind == "all",
            "shown": shown,
            "profile_template": source.template,
            "formats": [(f, FORMAT_LABELS.get(f, f)) for f in source.formats],
            **chosen.context(),
        }
        title = view.node.name if view.node is not None else "全部地区"
        return render(request, "area", context, session=db, actor=actor, title=title)

    @get("/areas", sync_to_thread=False, opt={"access": "area.view"})
    def areas(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """The actor's own area (or all provinces, for admins and researchers)."""
        return self._area_page(request, db, actor, None, chosen)

    @get("/areas/{code:str}", sync_to_thread=False, opt={"access": "area.profile"})
    def area(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """An area: its profile, comparison of its child areas and schools, downloads."""
        return self._area_page(request, db, actor, code, chosen)

    @get("/areas/{code:str}/participation", sync_to_thread=False, opt={"access": "area.participation"})
    def area_participation(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Per school of the area: registered, started, in progress, finished, timed out, not started."""
        view = area_view(session=db, actor=actor, code=code)
        assert view.node is not None
        rows = participation(session=db, actor=actor, assessment_id=_need(chosen), path=view.node.path)
        context = {
            "node": view.node,
            "trail": view.trail,
            "top_link": actor.scope.kind == "all",
            "rows": rows,
            **chosen.context(),
        }
        return render(request, "participation", context, session=db, actor=actor, title=f"{view.node.name} 参测进度")

    def _download(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        node: Node,
        fmt: str,
        chosen: Chosen,
    ) -> Response[Any]:
        source = _profiles(request)
        if fmt not in source.formats:
            raise OutOfScope("没有这种下载格式。")
        shown = source.build(session=db, assessment_id=_need(chosen), node=node)
        content = source.render(shown, fmt)
        audit.record(
            db,
            actor,
            "report.download",
            target=f"{node.kind}:{node.code}",
            scope_path=node.path,
            detail={"format": fmt, "assessment": chosen.current.code if chosen.current else ""},
        )
        name = f"{node.code}_{node.name}_{chosen.current.code if chosen.current else ''}.{fmt}"
        return attachment(content, name, source.formats[fmt])

    @get("/national/download/{fmt:str}", sync_to_thread=False, opt={"access": "national.profile"})
    def national_download(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        fmt: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """The nation's profile as PDF, XLSX or CSV (admins and researchers: every other scope answers 404)."""
        return self._download(request, db, actor, national_node(actor=actor), fmt, chosen)

    @get("/areas/{code:str}/download/{fmt:str}", sync_to_thread=False, opt={"access": "area.profile"})
    def area_download(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        fmt: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """An area's profile as PDF, XLSX or CSV."""
        view = area_view(session=db, actor=actor, code=code)
        assert view.node is not None
        return self._download(request, db, actor, view.node, fmt, chosen)

    def _results(self, db: DbSession, actor: CurrentActor, node: Node, chosen: Chosen) -> Response[Any]:
        rows = result_rows(session=db, actor=actor, assessment_id=_need(chosen), path=node.path)
        audit.record(
            db,
            actor,
            "data.export",
            target=f"{node.kind}:{node.code}",
            scope_path=node.path,
            detail={"rows": len(rows), "pseudonymous": actor.scope.kind != "school"},
        )
        content = csv_bytes([RESULT_COLUMNS, *(r.values() for r in rows)])
        return attachment(content, f"{node.code}_results.csv", "text/csv; charset=utf-8")

    @get("/areas/{code:str}/results.csv", sync_to_thread=False, opt={"access": "area.results"})
    def area_results(
        self,
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Every student's result in the area, under a pseudonym (no code, no name), as CSV."""
        view = area_view(session=db, actor=actor, code=code)
        assert view.node is not None
        return self._results(db, actor, view.node, chosen)

    @post("/areas/{code:str}/profiles.zip", status_code=200, sync_to_thread=False, opt={"access": "area.zip"})
    def area_zip(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Start the job that puts every school profile of the area into one ZIP; go to its progress page."""
        view = area_view(session=db, actor=actor, code=code)
        assert view.node is not None
        schools = schools_under(session=db, path=view.node.path)
        token = jobs.start_job(
            session=db,
            actor=actor,
            kind="profiles_zip",
            target=f"area:{view.node.code}",
            scope_path=view.node.path,
            total=len(schools),
        )
        db.commit()  # the job row must exist before its worker writes progress
        executor: Executor = request.app.state.jobs
        executor.submit(
            zip_school_profiles,
            engine=request.app.state.engine,
            token=token,
            profiles=_profiles(request),
            assessment_id=_need(chosen),
            area=view.node,
            schools=schools,
        )
        return go(request, f"/console/jobs/{token}")

    @get("/jobs/{job_token:str}", sync_to_thread=False, opt={"access": "job.own"})
    def job(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, job_token: FromPath[str]
    ) -> Response[Any]:
        """A job's progress (the page polls it with htmx while it runs)."""
        state = jobs.job_state(session=db, actor=actor, token=job_token)
        return render(
            request, "job", {"job": state, "job_title": "生成全部学校报告"}, session=db, actor=actor, title="生成报告"
        )

    @get("/jobs/{job_token:str}/file", sync_to_thread=False, opt={"access": "job.own"})
    def job_file(self, db: DbSession, actor: CurrentActor, job_token: FromPath[str]) -> Response[Any]:
        """The file of one's finished job."""
        name, media_type, content = jobs.job_file(session=db, actor=actor, token=job_token)
        audit.record(
            db,
            actor,
            "report.download",
            target=f"job:{job_token[:8]}",
            scope_path=actor.scope.path,
            detail={"file": name},
        )
        return attachment(content, name, media_type)

    @get("/schools/{code:str}", sync_to_thread=False, opt={"access": "school.profile"})
    def school(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """A school's page: its profile and downloads (and, for those who run it, its administration)."""
        node, trail = school_node(session=db, actor=actor, code=code)
        shown = None
        if chosen.current is not None:
            shown = _profiles(request).build(session=db, assessment_id=_need(chosen), node=node)
            audit.record(db, actor, "report.view", target=f"school:{node.code}", scope_path=node.path)
        source = _profiles(request)
        context = {
            "node": node,
            "trail": trail,
            "top_link": actor.scope.kind == "all",
            "shown": shown,
            "profile_template": source.template,
            "formats": [(f, FORMAT_LABELS.get(f, f)) for f in source.formats],
            "manage": has_permission(actor.role, "registration.manage"),
            "monitor": has_permission(actor.role, "monitor.view"),
            **chosen.context(),
        }
        return render(request, "school", context, session=db, actor=actor, title=node.name)

    @get("/schools/{code:str}/download/{fmt:str}", sync_to_thread=False, opt={"access": "school.profile"})
    def school_download(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        fmt: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """A school's profile as PDF, XLSX or CSV."""
        node, _ = school_node(session=db, actor=actor, code=code)
        return self._download(request, db, actor, node, fmt, chosen)

    @get("/schools/{code:str}/results.csv", sync_to_thread=False, opt={"access": "school.profile"})
    def school_results(
        self,
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Every student's result in the school as CSV (student codes for the school itself, pseudonyms otherwise)."""
        node, _ = school_node(session=db, actor=actor, code=code)
        return self._results(db, actor, node, chosen)
