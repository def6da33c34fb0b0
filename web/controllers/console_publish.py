"""Publishing calibrations in the researcher console: review, publish, the history, undo, rescoring.

Pages under ``/console/research`` (reached from a finished run's page), the same operations as
JSON under ``/api/v1/staff/research``. Publishing and undoing run in the request, in one
transaction (:mod:`assess.research.publish`: the exposure recalibration it includes takes a few
seconds); rescoring every ended sitting of a round is a background job on the research queue
(:mod:`assess.research.rescore`), followed on its own page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import FromPath, JSONBody, URLEncodedBody

from assess.accounts import audit
from assess.accounts.exceptions import OutOfScope
from assess.console.tree import assessments_for
from assess.exceptions import AssessError, NotFound
from assess.research.publish import (
    PublicationView,
    PublishPlan,
    list_publications,
    plan_publication,
    publish_calibration,
    undo_publication,
)
from assess.research.queue import JobQueue, JobView, job_view
from assess.research.rescore import RESCORE, start_rescore
from itembank.calibrations import list_calibrations
from web.controllers.console_common import go, render
from web.deps import DbSession, Now
from web.forms import field
from web.openapi import error_responses
from web.security import require_json
from web.staff import CurrentActor

__all__ = ["ConsolePublishController", "PublishApiController"]

Form = URLEncodedBody[dict[str, Any]]
_BEARER: list[SecurityRequirement] = [{"BearerToken": []}]


def _queue(request: Request[Any, Any, State]) -> JobQueue:
    queue: JobQueue = request.app.state.job_queue
    return queue


def _plan(db: DbSession, name: str, now: Any) -> tuple[PublishPlan | None, str]:
    """The review of ``name``, or the reason it cannot be published (an unknown name answers 404)."""
    try:
        return plan_publication(session=db, calibration=name, now=now), ""
    except NotFound as exc:
        raise OutOfScope(str(exc)) from None
    except AssessError as exc:
        return None, str(exc)


def _rescore_job(db: DbSession, job_id: int) -> JobView:
    try:
        job = job_view(session=db, job_id=job_id)
    except KeyError:
        raise OutOfScope("没有找到该重新评分任务。") from None
    if job.kind != RESCORE:
        raise OutOfScope("没有找到该重新评分任务。")
    return job


def _enqueue_rescore(
    request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, calibration: str, assessment: str | None
) -> int:
    job_id = start_rescore(session=db, actor=actor, calibration=calibration, assessment=assessment)
    audit.record(db, actor, "job.start", target=f"job:{job_id}",
                 detail={"kind": RESCORE, "calibration": calibration, "assessment": assessment})  # fmt: skip
    db.commit()
    _queue(request).enqueue(job_id)
    return job_id


class ConsolePublishController(Controller):
    """Publishing, its history and undo, rescoring: pages."""

    path = "/console/research"
    include_in_schema = False

    def _review(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        name: str,
        now: Any,
        error: str = "",
        status_code: int = 200,
    ) -> Response[Any]:
        plan, refused = _plan(db, name, now)
        context = {"name": name, "plan": plan, "refused": refused, "error": error}
        return render(request, "publish", context, session=db, actor=actor, title=f"发布标定 {name}",
                      status_code=status_code)  # fmt: skip

    @get("/calibrations/{name:str}/publish", sync_to_thread=False, opt={"access": "research.view"})
    def review(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, name: FromPath[str]
    ) -> Response[Any]:
        """What publishing the calibration would do: the linking constants, the rounds that move, the exposure."""
        return self._review(request, db, actor, name, now)

    @post("/calibrations/{name:str}/publish", status_code=200, sync_to_thread=False,
          opt={"access": "research.publish"})  # fmt: skip
    def publish(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, name: FromPath[str]
    ) -> Response[Any]:
        """Publish (one transaction); go to the history. A refusal comes back on the review page, nothing written."""
        try:
            publish_calibration(session=db, actor=actor, calibration=name, now=now)
            db.commit()
        except NotFound as exc:
            db.rollback()
            raise OutOfScope(str(exc)) from None
        except AssessError as exc:
            db.rollback()
            return self._review(request, db, actor, name, now, error=str(exc), status_code=400)
        return go(request, "/console/research/publications")

    def _history(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Any,
        error: str = "",
        status_code: int = 200,
    ) -> Response[Any]:
        context = {
            "publications": list_publications(session=db),
            "calibrations": [c for c in list_calibrations(session=db) if c.status in ("operational", "superseded")],
            "assessments": assessments_for(session=db, now=now),
            "error": error,
        }
        return render(request, "publications", context, session=db, actor=actor, title="发布记录",
                      status_code=status_code)  # fmt: skip

    @get("/publications", sync_to_thread=False, opt={"access": "research.view"})
    def publications(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now
    ) -> Response[Any]:
        """The publication history (who, when, constants, what moved), undo, and rescoring."""
        return self._history(request, db, actor, now)

    @post("/publications/undo", status_code=200, sync_to_thread=False, opt={"access": "research.publish"})
    def undo(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now) -> Response[Any]:
        """Undo the newest publication in force (撤销发布); a refusal comes back with the reason."""
        try:
            undo_publication(session=db, actor=actor, now=now)
            db.commit()
        except AssessError as exc:
            db.rollback()
            return self._history(request, db, actor, now, error=str(exc), status_code=400)
        return go(request, "/console/research/publications")

    @post("/rescores", status_code=200, sync_to_thread=False, opt={"access": "research.publish"})
    def rescore(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, data: Form
    ) -> Response[Any]:
        """Start rescoring a round (or every round) under a calibration as a background job; go to its page."""
        calibration = field(data, "calibration").strip()
        assessment = field(data, "assessment").strip() or None
        try:
            job_id = _enqueue_rescore(request, db, actor, calibration, assessment)
        except AssessError as exc:
            db.rollback()
            return self._history(request, db, actor, now, error=str(exc), status_code=400)
        return go(request, f"/console/research/rescores/{job_id}")

    @get("/rescores/{job_id:int}", sync_to_thread=False, opt={"access": "research.view"})
    def rescore_job(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, job_id: FromPath[int]
    ) -> Response[Any]:
        """A rescoring job: live progress, then what changed (its log)."""
        job = _rescore_job(db, job_id)
        return render(request, "rescore", {"job": job}, session=db, actor=actor, title="重新评分")


# ============================================================================================ JSON
@dataclass(frozen=True)
class PlanJson:
    """What publishing a calibration would do: the Stocking-Lord constants, the rounds that move or stay."""

    calibration: str
    previous: str | None
    linked: bool
    method: str
    A: float | None  # noqa: N815 - the constants' names in the literature
    B: float | None  # noqa: N815
    n_common: int
    criterion: float | None
    common: list[str]
    moves: list[str]
    kept: list[dict[str, str]]
    exposure: list[dict[str, str]]


@dataclass(frozen=True)
class PublicationJson:
    """A publication: the constants, what moved, the exposure recalibrated, who and when, undone or not."""

    id: int
    calibration: str
    previous: str | None
    status: str
    linked: bool
    method: str
    A: float | None  # noqa: N815
    B: float | None  # noqa: N815
    n_common: int
    criterion: float | None
    moved: list[str]
    kept: list[dict[str, str]]
    exposure: list[dict[str, Any]]
    published_by: str
    published_at: str
    undone_by: str
    undone_at: str | None
    can_undo: bool


@dataclass(frozen=True)
class RescoreRequestJson:
    """``POST /api/v1/staff/research/rescores``: the calibration, and the round (default: every ended round)."""

    calibration: str
    assessment: str | None = None


@dataclass(frozen=True)
class RescoreJson:
    """A rescoring job: its state, progress and log."""

    id: int
    status: str
    percent: int
    message: str
    log: str


def _plan_json(p: PublishPlan) -> PlanJson:
    return PlanJson(p.calibration, p.previous, p.linked, p.method, p.slope, p.intercept, p.n_common, p.criterion,
                    list(p.common), list(p.moves), [{"assessment": k.code, "reason": k.reason} for k in p.kept],
                    [{"assessment": a, "band": b} for a, b in p.exposure])  # fmt: skip


def _publication_json(v: PublicationView) -> PublicationJson:
    return PublicationJson(
        v.id, v.calibration, v.previous, v.status, v.linked, v.method, v.slope, v.intercept, v.n_common, v.criterion,
        list(v.moved), [{"assessment": k.code, "reason": k.reason} for k in v.kept],
        [{"assessment": e.assessment, "band": e.band, "items": e.items, "controlled": e.controlled,
          "lowest": e.lowest} for e in v.exposure],
        v.published_by, v.published_at.isoformat(), v.undone_by,
        v.undone_at.isoformat() if v.undone_at is not None else None, v.can_undo,
    )  # fmt: skip


def _rescore_json(job: JobView) -> RescoreJson:
    return RescoreJson(job.id, job.status, job.percent, job.message, job.log)


class PublishApiController(Controller):
    """Publishing, its history and undo, rescoring, as JSON (bearer tokens of researchers and admins)."""

    path = "/api/v1/staff/research"
    tags = ["research"]

    @get("/calibrations/{name:str}/publication-plan", security=_BEARER, responses=error_responses(400, 401, 403, 404),
         sync_to_thread=False, opt={"access": "research.view"})  # fmt: skip
    def plan(self, db: DbSession, now: Now, name: FromPath[str]) -> PlanJson:
        """What publishing the calibration would do (nothing is written); 400 with the reason if it cannot be."""
        try:
            return _plan_json(plan_publication(session=db, calibration=name, now=now))
        except NotFound as exc:
            raise OutOfScope(str(exc)) from None

    @post("/calibrations/{name:str}/publish", status_code=200, security=_BEARER,
          responses=error_responses(400, 401, 403, 404), sync_to_thread=False,
          opt={"access": "research.publish"})  # fmt: skip
    def publish(self, db: DbSession, actor: CurrentActor, now: Now, name: FromPath[str]) -> PublicationJson:
        """Publish a draft calibration: linked, open rounds moved, their exposure recalibrated (one transaction)."""
        try:
            view = publish_calibration(session=db, actor=actor, calibration=name, now=now)
        except NotFound as exc:
            raise OutOfScope(str(exc)) from None
        db.commit()
        return _publication_json(view)

    @get("/publications", security=_BEARER, responses=error_responses(401, 403), sync_to_thread=False,
         opt={"access": "research.view"})  # fmt: skip
    def publications(self, db: DbSession) -> list[PublicationJson]:
        """The publication history, newest first."""
        return [_publication_json(v) for v in list_publications(session=db)]

    @post("/publications/undo", status_code=200, security=_BEARER, responses=error_responses(400, 401, 403),
          sync_to_thread=False, opt={"access": "research.publish"})  # fmt: skip
    def undo(self, db: DbSession, actor: CurrentActor, now: Now) -> PublicationJson:
        """Undo the newest publication in force: the previous parameters, statuses and exposure, exactly."""
        view = undo_publication(session=db, actor=actor, now=now)
        db.commit()
        return _publication_json(view)

    @post("/rescores", status_code=202, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 404, 415), sync_to_thread=False,
          opt={"access": "research.publish"})  # fmt: skip
    def rescore(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, data: JSONBody[RescoreRequestJson]
    ) -> RescoreJson:
        """Rescore ended sittings under a calibration as a background job; follow it at ``GET /rescores/{id}``."""
        try:
            job_id = _enqueue_rescore(request, db, actor, data.calibration, data.assessment)
        except NotFound as exc:
            raise OutOfScope(str(exc)) from None
        return _rescore_json(_rescore_job(db, job_id))

    @get("/rescores/{job_id:int}", security=_BEARER, responses=error_responses(401, 403, 404), sync_to_thread=False,
         opt={"access": "research.view"})  # fmt: skip
    def rescore_job(self, db: DbSession, job_id: FromPath[int]) -> RescoreJson:
        """A rescoring job."""
        return _rescore_json(_rescore_job(db, job_id))
