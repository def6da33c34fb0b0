"""Testing rounds in the console (admins and researchers): the list, the create form, open and close.

Each action is one service call of :mod:`assess.administration` (which checks the permission and
writes the audit event with the change). The forms are plain posts that work without JavaScript;
with htmx the open and close buttons swap only the list's card.
"""

from __future__ import annotations

from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, MultipartBody, URLEncodedBody

from assess import administration
from assess.assessment_file import AssessmentFileError, example_file
from assess.exceptions import AdministrationRefused
from itembank.db import session_scope
from web.controllers.console_common import read_upload, render
from web.deps import DbSession, Now
from web.forms import field
from web.staff import CurrentActor

__all__ = ["ConsoleAssessmentsController"]

_BEIJING_HINT = "北京时间，如 2026-05-22T17:00"


def _split(problem: str) -> tuple[str, str]:
    for sep in ("：", ": "):
        where, found, what = problem.partition(sep)
        if found and " " not in where.strip():
            return where, what
    return "", problem


def _until(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AdministrationRefused(f"关闭时间格式不对（{_BEIJING_HINT}）") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone(timedelta(hours=8)))).astimezone(UTC)


class ConsoleAssessmentsController(Controller):
    """``/console/assessments``: rounds."""

    path = "/console/assessments"
    include_in_schema = False

    def _page(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: datetime,
        status_code: int = 200,
        **extra: Any,
    ) -> Response[Any]:
        context = {
            "rounds": administration.list_assessments(session=db, actor=actor, now=now),
            "message": None,
            "error": None,
            "problems": None,
            "filename": "",
            "text": extra.pop("text", None) or example_file(now=now),
            **extra,
        }
        return render(
            request, "assessments", context, session=db, actor=actor, status_code=status_code, title="测评批次"
        )

    @get("/", sync_to_thread=False, opt={"access": "assessments.manage"})
    def page(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now) -> Response[Any]:
        """Every round with its window, state and sittings; the form to create one."""
        return self._page(request, db, actor, now)

    @post("/", status_code=200, opt={"access": "assessments.manage"})
    async def create(
        self,
        request: Request[Any, Any, State],
        actor: CurrentActor,
        now: Now,
        data: MultipartBody[dict[str, Any]],
    ) -> Response[Any]:
        """Create a round from the uploaded file (or the text typed in the form): every problem, or the new round."""
        content, filename = await read_upload(data)
        text = data.get("text")
        typed = text if isinstance(text, str) else ""
        if not content.strip() and typed.strip():
            content, filename = typed.encode("utf-8"), "表单.toml"

        def make() -> administration.AssessmentSummary | AssessmentFileError:
            with session_scope(request.app.state.engine) as db:
                try:
                    return administration.create_assessment(
                        session=db, actor=actor, content=content, filename=filename, now=now
                    )
                except AssessmentFileError as exc:
                    return exc

        made = await anyio.to_thread.run_sync(make)  # the bank check builds band banks: off the event loop
        with session_scope(request.app.state.engine) as db:
            if isinstance(made, AssessmentFileError):
                return self._page(
                    request,
                    db,
                    actor,
                    now,
                    status_code=422,
                    problems=[_split(p) for p in made.problems],
                    filename=filename,
                    text=typed or None,
                )
            return self._page(
                request, db, actor, now, message=f"已创建测评批次 {made.code}（{made.name}），{made.status_name}。"
            )

    @post("/{code:str}/open", status_code=200, sync_to_thread=False, opt={"access": "assessments.manage"})
    def open_round(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        code: FromPath[str],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Response[Any]:
        """Open a round's window now (and, if given, move its closing time)."""
        try:
            done = administration.open_assessment(
                session=db, actor=actor, code=code, now=now, until=_until(field(data, "until"))
            )
        except AdministrationRefused as exc:
            db.rollback()
            return self._page(request, db, actor, now, status_code=409, error=str(exc))
        return self._page(request, db, actor, now, message=f"测评 {done.code} 已开放。")

    @post("/{code:str}/close", status_code=200, opt={"access": "assessments.manage"})
    async def close_round(
        self, request: Request[Any, Any, State], actor: CurrentActor, now: Now, code: FromPath[str]
    ) -> Response[Any]:
        """Close a round's window now: its open sittings end and are scored on what they answered."""
        engine = request.app.state.engine
        executor: Executor = request.app.state.jobs

        def close() -> administration.Closed | AdministrationRefused:
            try:  # thousands of open sittings are scored in the background, not in this request
                return administration.close_assessment(
                    engine=engine, actor=actor, code=code, now=now, background=executor.submit
                )
            except AdministrationRefused as exc:
                return exc

        done = await anyio.to_thread.run_sync(close)  # scoring each open sitting: off the event loop
        with session_scope(engine) as db:
            if isinstance(done, AdministrationRefused):
                return self._page(request, db, actor, now, status_code=409, error=str(done))
            message = (
                f"测评 {done.assessment.code} 已关闭；{done.queued} 场未交卷的作答已停止，"
                "正在后台计分（刷新本页可查看）。"
                if done.queued
                else f"测评 {done.assessment.code} 已关闭；结束了 {done.expired} 场未交卷的作答，"
                f"其中 {done.assessed} 场达到最少题数并计分。"
            )
            return self._page(request, db, actor, now, message=message)
