"""The researcher console: calibration runs (start, live progress, results with plots) and the bank browser.

Pages under ``/console/research`` and ``/console/bank``, the same operations as JSON under
``/api/v1/staff/research``. A run is started here and runs as a background job (never inside the
request): the handler records it, commits, puts it on the queue and sends the browser to the
run's page, which polls its own board with htmx while the job runs (and reloads as a plain page
without JavaScript). Plots are drawn by :mod:`reports.charts` and inlined as SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody

from assess.accounts import audit
from assess.accounts.exceptions import OutOfScope
from assess.console.tree import assessments_for
from assess.exceptions import AssessError, NotFound
from assess.research.bank import SORTS, STATUSES, TYPES, BankFilter, browse_bank, item_page
from assess.research.bankedit import STATUS_STEPS
from assess.research.queue import JobQueue
from assess.research.runs import (
    ANCHORS,
    GROUPS,
    ITEM_SETS,
    MODELS,
    POLY_MODELS,
    ParameterLine,
    RunSpec,
    RunView,
    list_runs,
    run_parameters,
    run_view,
    start_run,
)
from reports.charts import chart_svg, draw_drift, draw_item_curves, draw_option_traces, draw_test_information
from web.controllers.console_common import go, render
from web.deps import DbSession, Now
from web.forms import field
from web.openapi import error_responses
from web.security import require_json
from web.staff import CurrentActor
from web.views import item_view

__all__ = ["ConsoleResearchController", "ResearchApiController"]

Form = URLEncodedBody[dict[str, Any]]
CHART_WIDTH = 640.0
"""Width of the console's curves in points (the SVG scales down with the page)."""
_FIELDS = ("name", "assessment", "items", "model", "poly_model", "anchors", "groups", "min_responses")
_CHOICES = {"items": ITEM_SETS, "model": MODELS, "poly_model": POLY_MODELS, "anchors": ANCHORS, "groups": GROUPS}


def _run_view(db: DbSession, run_id: int) -> RunView:
    try:
        return run_view(session=db, run_id=run_id)
    except NotFound as exc:  # a run that does not exist answers 404, like anything not found
        raise OutOfScope(str(exc)) from None


def _queue(request: Request[Any, Any, State]) -> JobQueue:
    queue: JobQueue = request.app.state.job_queue
    return queue


def _spec(values: dict[str, str]) -> RunSpec:
    try:
        least = int(values.get("min_responses") or 50)
    except ValueError:
        least = 0  # refused by the spec's check with its own message
    return RunSpec(
        name=values.get("name", ""),
        assessment=values.get("assessment", ""),
        items=values.get("items") or "all",
        model=values.get("model") or "declared",
        poly_model=values.get("poly_model") or "declared",
        anchors=values.get("anchors") or "none",
        groups=values.get("groups") or "grade",
        min_responses=least,
    )


def _start(request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, spec: RunSpec) -> RunView:
    """Record the run, commit, enqueue its job (the queue carries only the id of a committed row)."""
    run = start_run(session=db, actor=actor, spec=spec)
    audit.record(db, actor, "calibration.start", target=f"run:{run.id}", scope_path=actor.scope.path,
                 detail={"name": run.name, "assessment": spec.assessment})  # fmt: skip
    db.commit()
    _queue(request).enqueue(run.job_id)
    return _run_view(db, int(run.id or 0))


def options_svg(distractors: dict[str, Any] | None, label: str, ident: str) -> str:
    """The option trace plot of a stored distractor analysis (``""`` without one)."""
    if not distractors:
        return ""
    d = distractors
    chart = draw_option_traces(d["mean_ability"], d["shares"], d["labels"], d["key"], omitted=d["omitted"],
                               label=label, width=CHART_WIDTH)  # fmt: skip
    return chart_svg(chart, ident)


def _drift_svg(drift: dict[str, Any] | None) -> str:
    if not drift or not drift.get("items"):
        return ""
    items = [x for x in drift["items"] if x["b_base"] is not None and x["b_new"] is not None]
    chart = draw_drift([x["b_base"] for x in items], [x["b_new"] for x in items], [x["drifted"] for x in items],
                       [x["ident"] for x in items], base_label=f"“{drift['base']}”", width=CHART_WIDTH)  # fmt: skip
    return chart_svg(chart, "drift-plot")


def _results(db: DbSession, view: RunView, item: str | None) -> dict[str, Any]:
    """The results of a finished run: parameter table, the test curve, one item's curves and options, drift."""
    lines, params = run_parameters(session=db, run=view)
    if params is None:
        return {"lines": lines}
    chosen = next((k for k, x in enumerate(lines) if x.code == item), 0)
    line = lines[chosen]
    return {
        "lines": lines,
        "chosen": line.code,
        "chosen_line": line,
        "test_svg": chart_svg(draw_test_information(params, label=view.name, width=CHART_WIDTH), "tif"),
        "item_svg": chart_svg(draw_item_curves(params, chosen, label=line.code, width=CHART_WIDTH), "icc"),
        "option_svg": options_svg(line.distractors, line.code, "run-option-plot"),
        "drift_svg": _drift_svg(view.summary.get("drift")),
    }


class ConsoleResearchController(Controller):
    """Calibration runs and the bank browser, as pages."""

    path = "/console"
    include_in_schema = False

    def _home(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        form: dict[str, str] | None = None,
        error: str = "",
        status_code: int = 200,
    ) -> Response[Any]:
        context = {
            "runs": list_runs(session=db),
            "assessments": assessments_for(session=db, now=now),
            "form": form or {},
            "choices": _CHOICES,
            "error": error,
        }
        return render(request, "research", context, session=db, actor=actor, title="参数标定",
                      status_code=status_code)  # fmt: skip

    @get("/research", sync_to_thread=False, opt={"access": "research.view"})
    def research(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now
    ) -> Response[Any]:
        """The runs, newest first, and the form that starts one."""
        return self._home(request, db, actor, now)

    @post("/research/runs", status_code=200, sync_to_thread=False, opt={"access": "research.run"})
    def start(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, data: Form
    ) -> Response[Any]:
        """Start a run from the form; go to its page (a refused form comes back with the reason, nothing written)."""
        values = {k: field(data, k).strip() for k in _FIELDS}
        try:
            view = _start(request, db, actor, _spec(values))
        except AssessError as exc:
            db.rollback()
            return self._home(request, db, actor, now, form=values, error=str(exc), status_code=400)
        return go(request, f"/console/research/runs/{view.id}")

    @get("/research/runs/{run_id:int}", sync_to_thread=False, opt={"access": "research.view"})
    def run(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        run_id: FromPath[int],
        item: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """A run: its inputs, its live progress while it runs, then its results with the plots."""
        view = _run_view(db, run_id)
        context: dict[str, Any] = {"run": view, "lines": []}
        if view.status == "done":
            context.update(_results(db, view, item))
        return render(request, "run", context, session=db, actor=actor, title=f"标定 {view.name}")

    @get("/bank", sync_to_thread=False, opt={"access": "research.view"})
    def bank(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        dimension: FromQuery[str] = "",
        indicator: FromQuery[str] = "",
        band: FromQuery[str] = "",
        type: FromQuery[str] = "",  # noqa: A002 - the filter's name in the query string
        status: FromQuery[str] = "",
        sort: FromQuery[str] = "code",
        desc: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Response[Any]:
        """The bank: filter, sort, page (a GET form; htmx swaps the list as the filters change)."""
        wanted = BankFilter(dimension=dimension, indicator=indicator, band=band, type=type, status=status,
                            sort=sort, descending=desc == "1", page=page)  # fmt: skip
        found = browse_bank(session=db, wanted=wanted)
        context = {"bank": found, "wanted": wanted, "types": TYPES, "statuses": STATUSES, "sorts": SORTS}
        return render(request, "bank", context, session=db, actor=actor, title="题库")

    @get("/bank/items/{code:str}", sync_to_thread=False, opt={"access": "research.view"})
    def bank_item(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str]
    ) -> Response[Any]:
        """An item: its student view, versions, parameters by calibration, exposure, latest run's statistics."""
        try:
            shown = item_page(session=db, code=code)
        except NotFound as exc:
            raise OutOfScope(str(exc)) from None
        curves = ""
        if shown.parameters:
            newest = shown.parameters[0]
            chart = draw_item_curves(newest.as_params(shown.code), 0, label=shown.code, width=CHART_WIDTH)
            curves = chart_svg(chart, "item-curves")
        latest = shown.latest.stats if shown.latest is not None else {}
        context = {
            "item": shown,
            "view": item_view(shown.preview),
            "curves": curves,
            "options": options_svg(latest.get("distractors"), shown.code, "item-option-plot"),
            "types": TYPES,
            "statuses": STATUSES,
            "steps": STATUS_STEPS.get(shown.status, ()),
        }
        return render(request, "bank_item", context, session=db, actor=actor, title=f"题目 {shown.code}")


# ============================================================================================ JSON
@dataclass(frozen=True)
class RunRequestJson:
    """``POST /api/v1/staff/research/runs``: what to calibrate (the same choices as the console's form)."""

    name: str
    assessment: str
    items: str = "all"
    model: str = "declared"
    poly_model: str = "declared"
    anchors: str = "none"
    groups: str = "grade"
    min_responses: int = 50


@dataclass(frozen=True)
class ParameterJson:
    """One item's estimates (mirt's IRT metric) with SEs, and its classical statistics."""

    code: str
    version: int
    model: str
    anchored: bool
    a: float
    b: list[float]
    c: float
    se_a: float | None
    se_b: list[float | None]
    se_c: float | None
    n: int
    p_value: float | None
    item_rest: float | None
    omit_rate: float | None
    infit: float | None
    outfit: float | None
    misfit: bool
    dif: list[dict[str, Any]]


@dataclass(frozen=True)
class RunJson:
    """A calibration run: inputs, code version, job state and, once done, its summary and parameters."""

    id: int
    name: str
    assessment: str
    items: str
    model: str
    poly_model: str
    anchors: str
    groups: str
    min_responses: int
    code_version: str
    status: str
    percent: int
    message: str
    summary: dict[str, Any]
    parameters: list[ParameterJson]


def _json(view: RunView, lines: list[ParameterLine] | None = None) -> RunJson:
    params = [
        ParameterJson(
            x.code,
            x.version,
            x.model,
            x.anchored,
            x.a,
            list(x.b),
            x.c,
            x.se_a,
            list(x.se_b),
            x.se_c,
            x.n,
            x.p_value,
            x.item_rest,
            x.omit_rate,
            x.infit,
            x.outfit,
            x.misfit,
            [dict(d) for d in x.dif],
        )
        for x in lines or []
    ]
    return RunJson(view.id, view.name, view.assessment, view.items, view.model, view.poly_model, view.anchors,
                   view.groups, view.min_responses, view.code_version, view.status, view.percent, view.message,
                   view.summary, params)  # fmt: skip


_BEARER: list[SecurityRequirement] = [{"BearerToken": []}]


class ResearchApiController(Controller):
    """Calibration runs as JSON (bearer tokens of researchers and admins)."""

    path = "/api/v1/staff/research"
    tags = ["research"]

    @get("/runs", security=_BEARER, responses=error_responses(401, 403), sync_to_thread=False,
         opt={"access": "research.view"})  # fmt: skip
    def runs(self, db: DbSession) -> list[RunJson]:
        """The newest calibration runs (without their parameters)."""
        return [_json(v) for v in list_runs(session=db)]

    @post("/runs", status_code=202, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 415), sync_to_thread=False,
          opt={"access": "research.run"})  # fmt: skip
    def start(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, data: JSONBody[RunRequestJson]
    ) -> RunJson:
        """Start a calibration run as a background job; follow it at ``GET /runs/{id}``."""
        spec = RunSpec(name=data.name, assessment=data.assessment, items=data.items, model=data.model,
                       poly_model=data.poly_model, anchors=data.anchors, groups=data.groups,
                       min_responses=data.min_responses)  # fmt: skip
        return _json(_start(request, db, actor, spec))

    @get("/runs/{run_id:int}", security=_BEARER, responses=error_responses(401, 403, 404), sync_to_thread=False,
         opt={"access": "research.view"})  # fmt: skip
    def run(self, db: DbSession, run_id: FromPath[int]) -> RunJson:
        """A run; once done, with every item's parameters, SEs and classical statistics."""
        view = _run_view(db, run_id)
        lines, _ = run_parameters(session=db, run=view)
        return _json(view, lines)
