"""The school console: registering students (upload, report, confirm), ticket cards, PINs, unlocking, the monitor.

A school user works on its own school; a bureau user (and an admin) may open the same pages for a
school in its scope. Every page names the school in its path and looks it up through the actor's
scope (:mod:`assess.console`), so another school answers 404.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, MultipartBody, URLEncodedBody

from assess.accounts.exceptions import AccountInvalid
from assess.console import roster
from assess.console.monitor import STATES, ThrottleRule, monitor_school
from assess.console.tree import school_node
from assess.exceptions import RegistrationError
from assess.people_file import write_template
from assess.sitting import format_local
from reports.tickets import render_tickets
from web.controllers.console_common import ChosenAssessment, attachment, go, read_upload, render
from web.deps import DbSession, Now
from web.forms import field
from web.registration_text import chinese_problem
from web.staff import CurrentActor

__all__ = ["ConsoleSchoolController"]

Form = URLEncodedBody[dict[str, Any]]


def _login_url(request: Request[Any, Any, State]) -> str:
    return os.environ.get("INFOLIT_LOGIN_URL") or f"{str(request.base_url).rstrip('/')}/login"


def _throttle(request: Request[Any, Any, State]) -> ThrottleRule:
    web = request.app.state.web
    return ThrottleRule(limit=web.login_max_failures, window_seconds=web.login_window_seconds)


class ConsoleSchoolController(Controller):
    """Pages that run a school."""

    path = "/console/schools/{code:str}"
    include_in_schema = False

    # ------------------------------------------------------------------------------ students
    def _students(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: str,
        message: str | None = None,
    ) -> Response[Any]:
        node, trail = school_node(session=db, actor=actor, code=code)
        students = roster.school_students(
            session=db, actor=actor, school_code=node.code, locked_after=_throttle(request).limit
        )
        return render(
            request,
            "students",
            {"node": node, "trail": trail, "top_link": False, "students": students, "message": message},
            session=db,
            actor=actor,
            title=f"{node.name} 学生名单",
        )

    @get("/students", sync_to_thread=False, opt={"access": "school.students"})
    def students(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str]
    ) -> Response[Any]:
        """The school's students, with their PIN state and the unlock and new-PIN buttons."""
        return self._students(request, db, actor, code)

    @post("/students/{student_id:int}/pin", status_code=200, sync_to_thread=False, opt={"access": "tickets.print"})
    def new_pin(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        student_id: FromPath[int],
    ) -> Response[Any]:
        """A new PIN for one student, shown this once."""
        node, _ = school_node(session=db, actor=actor, code=code)
        card = roster.reissue_student_pin(session=db, actor=actor, school_code=node.code, student_id=student_id)
        return render(
            request, "pin", {"node": node, "card": card, "q": ""}, session=db, actor=actor, title="新的 PIN 码"
        )

    @post("/students/{student_id:int}/unlock", status_code=200, sync_to_thread=False, opt={"access": "student.unlock"})
    def unlock(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        student_id: FromPath[int],
        data: Form,
    ) -> Response[Any]:
        """Unlock a student the login throttle holds; back to the page the button was on."""
        node, _ = school_node(session=db, actor=actor, code=code)
        roster.unlock_student_login(session=db, actor=actor, school_code=node.code, student_id=student_id)
        back = "monitor" if field(data, "back") == "monitor" else "students"
        return go(request, f"/console/schools/{node.code}/{back}")

    # ------------------------------------------------------------------------------ roster
    def _roster_page(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: str, q: str, **extra: Any
    ) -> Response[Any]:
        node, trail = school_node(session=db, actor=actor, code=code)
        context = {"node": node, "trail": trail, "top_link": False, "problems": None, "error": None, "q": q, **extra}
        status = 422 if context["problems"] else 400 if context["error"] else 200
        return render(request, "roster", context, session=db, actor=actor, status_code=status, title="登记学生")

    @get("/roster", sync_to_thread=False, opt={"access": "roster.manage"})
    def roster_page(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """The upload form and the template link."""
        return self._roster_page(request, db, actor, code, chosen.query)

    @get("/roster/template", sync_to_thread=False, opt={"access": "roster.manage"})
    def roster_template(self, db: DbSession, actor: CurrentActor, code: FromPath[str]) -> Response[Any]:
        """The registration template (XLSX, with a sheet describing each column)."""
        school_node(session=db, actor=actor, code=code)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "template.xlsx"
            write_template(path, example=True)
            content = path.read_bytes()
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return attachment(content, "学生登记模板.xlsx", media)

    @post("/roster", status_code=200, opt={"access": "roster.manage"})
    async def roster_upload(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        code: FromPath[str],
        data: MultipartBody[dict[str, Any]],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Check an uploaded file: the problem report (nothing written), or the preview to confirm."""
        content, filename = await read_upload(data)
        node, _ = school_node(session=db, actor=actor, code=code)
        try:  # a refused file stages nothing (the service raises before it writes)
            staged = roster.stage_roster(
                session=db,
                actor=actor,
                school_code=node.code,
                filename=filename,
                content=content,
                assessment=chosen.current.code if chosen.current else None,
                now=now,
            )
        except RegistrationError as exc:
            problems = [chinese_problem(p) for p in exc.problems]
            return self._roster_page(
                request,
                db,
                actor,
                code,
                chosen.query,
                problems=problems,
                total=exc.total,
                more=exc.more,
                filename=filename,
            )
        except AccountInvalid as exc:
            return self._roster_page(request, db, actor, code, chosen.query, error=str(exc))
        return go(request, f"/console/schools/{node.code}/roster/{staged.token}{chosen.query}")

    @get("/roster/{staged:str}", sync_to_thread=False, opt={"access": "roster.own"})
    def roster_preview(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        code: FromPath[str],
        staged: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """What a checked file will do, with the confirm button."""
        node, _ = school_node(session=db, actor=actor, code=code)
        found = roster.staged_preview(session=db, actor=actor, school_code=node.code, token=staged, now=now)
        q = chosen.query
        return render(
            request,
            "roster_preview",
            {"node": node, "staged": found, "q": q},
            session=db,
            actor=actor,
            title="确认登记",
        )

    @post("/roster/{staged:str}", status_code=200, sync_to_thread=False, opt={"access": "roster.own"})
    def roster_confirm(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        code: FromPath[str],
        staged: FromPath[str],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Register the checked file (its students get their PINs when their cards are printed)."""
        node, _ = school_node(session=db, actor=actor, code=code)
        summary = roster.confirm_roster(
            session=db,
            actor=actor,
            school_code=node.code,
            token=staged,
            assessment=chosen.current.code if chosen.current else None,
            now=now,
        )
        return render(
            request,
            "roster_done",
            {"node": node, "summary": summary, "q": chosen.query},
            session=db,
            actor=actor,
            title="登记完成",
        )

    # ------------------------------------------------------------------------------ tickets
    @get("/tickets", sync_to_thread=False, opt={"access": "tickets.print"})
    def tickets(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str]
    ) -> Response[Any]:
        """The classes, how many of their students have no PIN yet, and the print buttons."""
        node, trail = school_node(session=db, actor=actor, code=code)
        classes = roster.class_counts(session=db, actor=actor, school_code=node.code)
        return render(
            request,
            "tickets",
            {"node": node, "trail": trail, "top_link": False, "classes": classes},
            session=db,
            actor=actor,
            title="打印准考证",
        )

    @post("/tickets", status_code=200, sync_to_thread=False, opt={"access": "tickets.print"})
    def print_tickets(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str], data: Form
    ) -> Response[Any]:
        """The ticket cards of a class as PDF, with new PINs for those who need them (or all, to renew)."""
        node, _ = school_node(session=db, actor=actor, code=code)
        raw = field(data, "class_id")
        class_id = int(raw) if raw.isdigit() else None
        cards = roster.print_tickets(
            session=db, actor=actor, school_code=node.code, class_id=class_id, renew=field(data, "renew") == "1"
        )
        pdf = render_tickets(cards, login_url=_login_url(request))
        return attachment(pdf, f"{node.code}_准考证.pdf", "application/pdf")

    # ------------------------------------------------------------------------------ monitor
    @get("/monitor", sync_to_thread=False, opt={"access": "monitor.view"})
    def monitor(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        code: FromPath[str],
        chosen: ChosenAssessment,
        moved: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """The live monitor: per class, every student's state, item and time left (polled every 5 s)."""
        node, trail = school_node(session=db, actor=actor, code=code)
        classes = []
        if chosen.current is not None:
            classes = monitor_school(
                session=db,
                actor=actor,
                school_code=node.code,
                assessment_id=int(chosen.current.id or 0),
                now=now,
                throttle=_throttle(request),
            )
        message = f"已让学生 {moved} 的原设备失效：请学生在另一台设备上重新登录，从当前题目继续。" if moved else None
        context = {
            "node": node,
            "trail": trail,
            "top_link": False,
            "classes": classes,
            "states": STATES,
            "updated": format_local(now) + now.strftime(":%S"),
            "message": message,
            **chosen.context(),
        }
        return render(request, "monitor", context, session=db, actor=actor, title=f"{node.name} 考场监控")

    @post("/monitor/{student_id:int}/move", status_code=200, sync_to_thread=False, opt={"access": "monitor.view"})
    def move(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        code: FromPath[str],
        student_id: FromPath[int],
        chosen: ChosenAssessment,
    ) -> Response[Any]:
        """Release a student's sitting from its device, so the student can go on on another one."""
        node, _ = school_node(session=db, actor=actor, code=code)
        moved_code = roster.move_sitting(
            session=db,
            actor=actor,
            school_code=node.code,
            student_id=student_id,
            assessment_id=int(chosen.current.id or 0) if chosen.current else 0,
        )
        tail = f"&moved={moved_code}" if moved_code else ""
        return go(request, f"/console/schools/{node.code}/monitor{chosen.query or '?'}{tail}")
