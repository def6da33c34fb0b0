"""Editing the item bank and taking data out: researchers' pages under ``/console``, JSON under ``/api/v1/staff``.

- An item's form (``/console/bank/new``, ``/console/bank/items/{code}/edit``), one part per item
  type (:mod:`web.item_forms`): "预览" validates and shows the draft as the student sees it,
  writing nothing; "保存" saves it (an answered version gets a new version, the page says so).
  Problems come back next to their fields, in Chinese (:mod:`web.item_text`).
- The status form on an item's page (``POST /console/bank/items/{code}/status``): allowed moves
  only, a refusal says why and changes nothing.
- An item file (``/console/bank/import``): upload, the report or the summary of what it would
  do, then confirm (:mod:`assess.research.bankimport`).
- The framework (``/console/bank/framework``): names and descriptions of dimensions and
  sub-indicators, grade bands' names; stored as a new version.
- Data out (``/console/data``): an assessment's responses (wide, in the ``infolit calibrate``
  format; long, one row per response) streamed as CSV, a calibration's parameters as CSV or JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, URLEncodedBody
from litestar.response import Stream

from assess.accounts import audit
from assess.accounts.exceptions import OutOfScope
from assess.console.tree import assessments_for
from assess.exceptions import BankEditRefused, NotFound
from assess.research import bankedit, bankimport, dataout
from itembank.exceptions import ValidationReport
from itembank.framework import FrameworkSpec
from itembank.framework_store import current_framework
from itembank.services import list_calibrations
from web.controllers.console_common import attachment, go, read_upload, render
from web.deps import DbSession, Now
from web.item_forms import ITEM_FORMS, MAX_OPTIONS, MAX_PARTS, document_from_form, form_values
from web.item_text import ChineseProblem, chinese_problems
from web.openapi import error_responses
from web.security import require_json
from web.staff import CurrentActor
from web.views import item_view

__all__ = ["BankApiController", "ConsoleBankController"]

Form = URLEncodedBody[dict[str, Any]]


def _missing(exc: NotFound) -> OutOfScope:
    return OutOfScope(str(exc))


def _form_dict(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "_csrf_token"}


def _framework_choices(spec: FrameworkSpec) -> dict[str, Any]:
    return {
        "indicators": [(i.code, f"{i.code} {i.name}") for d in spec.dimensions for i in d.indicators],
        "bands": [(b.code, b.name) for b in spec.grade_bands],
    }


@dataclass
class _ItemPage:
    """What the item form shows: the values, the type, the problems by field, a preview, a message."""

    values: dict[str, Any]
    type: str
    code: str | None = None
    problems: list[ChineseProblem] = field(default_factory=list)
    error: str = ""
    preview: Any = None


class ConsoleBankController(Controller):
    """Item forms, status changes, item-file imports, the framework and data out, as pages."""

    path = "/console"
    include_in_schema = False

    # ------------------------------------------------------------------------------ item form
    def _item_form(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, page: _ItemPage, status: int = 200
    ) -> Response[Any]:
        by_field: dict[str, list[ChineseProblem]] = {}
        for p in page.problems:
            by_field.setdefault(p.field, []).append(p)
        context = {
            "page": page,
            "form": page.values,
            "errors": by_field,
            "forms": ITEM_FORMS,
            "kind": ITEM_FORMS.get(page.type),
            "max_options": MAX_OPTIONS,
            "max_parts": MAX_PARTS,
            "view": item_view(page.preview) if page.preview is not None else None,
            **_framework_choices(current_framework(session=db)),
        }
        title = f"修改题目 {page.code}" if page.code else "新建题目"
        return render(request, "item_edit", context, session=db, actor=actor, title=title, status_code=status)

    def _submit(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, data: dict[str, Any],
        code: str | None,
    ) -> Response[Any]:  # fmt: skip
        form = _form_dict(data)
        item_type = str(form.get("type") or "single_choice")
        if code is not None:
            item_type = str(bankedit.item_document(session=db, code=code)["type"])
            form["code"] = code
        document = document_from_form(form, item_type)
        page = _ItemPage(form_values(document), item_type, code)
        try:
            if form.get("action") == "preview":
                spec = bankedit.check_item(session=db, document=document)
                page.preview = bankedit.draft_snapshot(session=db, spec=spec)
                return self._item_form(request, db, actor, page)
            saved = bankedit.save_item(session=db, actor=actor, document=document, code=code)
        except ValidationReport as report:
            db.rollback()
            page.problems = chinese_problems(report.problems)
            return self._item_form(request, db, actor, page, status=422)
        except BankEditRefused as exc:
            db.rollback()
            page.error = str(exc)
            return self._item_form(request, db, actor, page, status=400)
        return go(request, f"/console/bank/items/{quote(saved.code)}?saved={saved.outcome}")

    @get("/bank/new", sync_to_thread=False, opt={"access": "bank.edit"})
    def new_item(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        type: FromQuery[str] = "",  # noqa: A002
    ) -> Response[Any]:
        """The form of a new item (of the type chosen at its top)."""
        item_type = type if type in ITEM_FORMS else "single_choice"
        values = form_values({"type": item_type, "params": {"model": "2pl", "a": 1.0, "b": [0.0], "c": 0}})
        return self._item_form(request, db, actor, _ItemPage(values, item_type))

    @post("/bank/new", status_code=200, sync_to_thread=False, opt={"access": "bank.edit"})
    def create_item(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, data: Form
    ) -> Response[Any]:
        """Preview or save a new item."""
        return self._submit(request, db, actor, data, None)

    @get("/bank/items/{code:str}/edit", sync_to_thread=False, opt={"access": "bank.edit"})
    def edit_item(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str]
    ) -> Response[Any]:
        """The form of an item's current version."""
        try:
            document = bankedit.item_document(session=db, code=code)
        except NotFound as exc:
            raise _missing(exc) from None
        return self._item_form(request, db, actor, _ItemPage(form_values(document), str(document["type"]), code))

    @post("/bank/items/{code:str}/edit", status_code=200, sync_to_thread=False, opt={"access": "bank.edit"})
    def save_item(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str], data: Form
    ) -> Response[Any]:
        """Preview or save an edit (an answered version gets a new version)."""
        try:
            return self._submit(request, db, actor, data, code)
        except NotFound as exc:
            raise _missing(exc) from None

    @post("/bank/items/{code:str}/status", status_code=200, sync_to_thread=False, opt={"access": "bank.edit"})
    def change_status(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str], data: Form
    ) -> Response[Any]:
        """Move the item to another status; a refusal comes back with its reason, nothing changed."""
        wanted = str(data.get("status") or "")
        try:
            bankedit.change_status(session=db, actor=actor, code=code, status=wanted)
        except NotFound as exc:
            raise _missing(exc) from None
        except BankEditRefused as exc:
            db.rollback()
            context = {"code": code, "message": str(exc)}
            return render(request, "item_status", context, session=db, actor=actor, title="不能更改状态",
                          status_code=409)  # fmt: skip
        return go(request, f"/console/bank/items/{quote(code)}?saved=status")

    # ------------------------------------------------------------------------------ import
    def _import_page(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, status: int = 200, **context: Any
    ) -> Response[Any]:
        context.setdefault("plan", None)
        context.setdefault("error", "")
        context.setdefault("done", None)
        if context["plan"] is not None:
            context["problems"] = chinese_problems(context["plan"].problems)
        return render(request, "bank_import", context, session=db, actor=actor, title="导入题目", status_code=status)

    @get("/bank/import", sync_to_thread=False, opt={"access": "bank.edit"})
    def import_page(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """The upload form."""
        return self._import_page(request, db, actor)

    @post("/bank/import", status_code=200, opt={"access": "bank.edit"})
    async def import_upload(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        now: Now,
        data: MultipartBody[dict[str, Any]],
    ) -> Response[Any]:
        """Check an uploaded file: its report (nothing kept), or what it would do, with the confirm button."""
        content, filename = await read_upload(data)
        try:
            plan = bankimport.stage_import(session=db, actor=actor, filename=filename, content=content, now=now)
        except BankEditRefused as exc:
            return self._import_page(request, db, actor, status=400, error=str(exc))
        return self._import_page(request, db, actor, status=200 if plan.summary else 422, plan=plan)

    @post("/bank/import/confirm", status_code=200, sync_to_thread=False, opt={"access": "bank.edit"})
    def import_confirm(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, data: Form
    ) -> Response[Any]:
        """Import the staged file exactly as previewed; when the bank has moved on, show the new preview instead."""
        token, plan = str(data.get("token") or ""), str(data.get("plan") or "")
        try:
            done = bankimport.confirm_import(session=db, actor=actor, token=token, plan=plan, now=now)
        except (BankEditRefused, ValidationReport) as exc:
            db.rollback()
            fresh = None
            try:
                fresh = bankimport.staged_import(session=db, actor=actor, token=token, now=now)
            except BankEditRefused:
                pass
            message = str(exc) if isinstance(exc, BankEditRefused) else "文件现在通不过检查（题库在预览后有了变化）。"
            return self._import_page(request, db, actor, status=409, plan=fresh, error=message)
        return self._import_page(request, db, actor, done=done)

    # ------------------------------------------------------------------------------ framework
    @get("/bank/framework", sync_to_thread=False, opt={"access": "bank.edit"})
    def framework(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor) -> Response[Any]:
        """The framework's names and descriptions, as a form."""
        doc = bankedit.framework_document(session=db)
        return render(request, "framework", {"doc": doc, "problems": [], "error": ""}, session=db, actor=actor,
                      title="指标框架")  # fmt: skip

    @post("/bank/framework", status_code=200, sync_to_thread=False, opt={"access": "bank.edit"})
    def save_framework(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, data: Form
    ) -> Response[Any]:
        """Store the edited framework as a new version (refused when items would lose their sub-indicator)."""
        doc = framework_from_form(bankedit.framework_document(session=db), _form_dict(data))
        try:
            loaded = bankedit.edit_framework(session=db, actor=actor, document=doc)
        except ValidationReport as report:
            db.rollback()
            problems = [str(p) for p in chinese_problems(report.problems)]
            context = {"doc": doc, "problems": problems, "error": "框架没有保存："}
            return render(request, "framework", context, session=db, actor=actor, title="指标框架", status_code=400)
        except BankEditRefused as exc:
            db.rollback()
            context = {"doc": doc, "problems": [], "error": str(exc)}
            return render(request, "framework", context, session=db, actor=actor, title="指标框架", status_code=400)
        context = {"doc": loaded.framework.to_document(), "problems": [], "error": "",
                   "saved": f"已保存为第 {loaded.framework.version} 版，并设为当前框架。"}  # fmt: skip
        return render(request, "framework", context, session=db, actor=actor, title="指标框架")

    # ------------------------------------------------------------------------------ data out
    @get("/data", sync_to_thread=False, opt={"access": "research.export"})
    def data_page(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now
    ) -> Response[Any]:
        """The downloads: every assessment's responses, every calibration's parameters."""
        context = {"assessments": assessments_for(session=db, now=now), "calibrations": list_calibrations(session=db)}
        return render(request, "data", context, session=db, actor=actor, title="数据导出")

    @get("/data/assessments/{code:str}/{fmt:str}", sync_to_thread=False, opt={"access": "research.export"})
    def response_file(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str],
        fmt: FromPath[str],
    ) -> Response[Any]:  # fmt: skip
        """``wide.csv`` or ``long.csv``: the assessment's responses, streamed."""
        return _responses(request, db, actor, code, fmt.removesuffix(".csv"))

    @get("/data/calibrations/{code:str}/{fmt:str}", sync_to_thread=False, opt={"access": "research.export"})
    def parameter_file(
        self, db: DbSession, actor: CurrentActor, code: FromPath[str], fmt: FromPath[str]
    ) -> Response[Any]:
        """``parameters.csv`` or ``parameters.json``: the parameters, with SEs, of the calibration named ``code``."""
        return _parameters(db, actor, code, fmt.removeprefix("parameters."))


def framework_from_form(doc: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """The framework document with the form's names and descriptions, less the sub-indicators it removes."""
    out = dict(doc)
    out["dimensions"] = []
    for i, dim in enumerate(doc.get("dimensions") or []):
        d = dict(dim, name=str(form.get(f"dim{i}_name", dim.get("name", ""))).strip(),
                 description=str(form.get(f"dim{i}_description", dim.get("description", ""))).strip())  # fmt: skip
        d["indicators"] = [
            dict(ind, name=str(form.get(f"ind{i}_{j}_name", ind.get("name", ""))).strip(),
                 description=str(form.get(f"ind{i}_{j}_description", ind.get("description", ""))).strip())
            for j, ind in enumerate(dim.get("indicators") or [])
            if not form.get(f"ind{i}_{j}_remove")
        ]  # fmt: skip
        out["dimensions"].append(d)
    out["grade_bands"] = [
        dict(band, name=str(form.get(f"band{k}_name", band.get("name", ""))).strip())
        for k, band in enumerate(doc.get("grade_bands") or [])
    ]
    return out


def _responses(
    request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: str, kind: str
) -> Response[Any]:
    if kind not in ("wide", "long"):
        raise OutOfScope("没有这种数据文件（可选：wide.csv、long.csv）。")
    try:
        source = dataout.assessment_source(session=db, code=code)
    except NotFound as exc:
        raise _missing(exc) from None
    audit.record(db, actor, "data.export", target=f"assessment:{code}", detail={"file": f"responses-{kind}"})
    db.commit()
    chunks: Iterator[str] = dataout.stream_responses(engine=request.app.state.engine, source=source, kind=kind)
    filename = f"{code}_responses_{kind}.csv"
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    return Stream((c.encode("utf-8") for c in chunks), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": disposition})  # fmt: skip


def _parameters(db: DbSession, actor: CurrentActor, name: str, fmt: str) -> Response[Any]:
    if fmt not in ("csv", "json"):
        raise OutOfScope("没有这种参数文件（可选：parameters.csv、parameters.json）。")
    try:
        text = (dataout.parameters_json if fmt == "json" else dataout.parameters_csv)(session=db, name=name)
    except NotFound as exc:
        raise _missing(exc) from None
    audit.record(db, actor, "data.export", target=f"calibration:{name}", detail={"file": f"parameters-{fmt}"})
    db.commit()
    media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    return attachment(text.encode("utf-8"), f"{name}_parameters.{fmt}", media)


# ============================================================================================ JSON
@dataclass(frozen=True)
class StatusJson:
    """``POST /api/v1/staff/bank/items/{code}/status``: the status to move to."""

    status: str


@dataclass(frozen=True)
class SavedJson:
    """What a save or a status change did, and the item's current version and status."""

    code: str
    outcome: str
    version: int
    status: str


_BEARER: list[SecurityRequirement] = [{"BearerToken": []}]


def _refused(exc: ValidationReport) -> BankEditRefused:
    """A report of an item's problems as a refusal the API answers with 400 and every problem."""
    return BankEditRefused(f"{exc.total} problem(s) in the item; nothing was written", [str(p) for p in exc.problems])


@dataclass(frozen=True)
class ImportJson:
    """``POST /api/v1/staff/bank/imports``: an item file's name (its extension says the format) and its text.

    An XLSX workbook is not text: upload it in the console.
    """

    filename: str
    content: str


@dataclass(frozen=True)
class ImportPlanJson:
    """What an item file would do (nothing written yet), or its problems; confirm with ``token`` and ``plan``."""

    filename: str
    problems: list[str]
    total_problems: int
    token: str
    plan: str
    created: list[str]
    updated: list[str]
    new_versions: list[str]
    unchanged: list[str]


@dataclass(frozen=True)
class ConfirmJson:
    """``POST /api/v1/staff/bank/imports/{token}``: the plan the preview gave."""

    plan: str


def _plan_json(plan: bankimport.ImportPlan) -> ImportPlanJson:
    s = plan.summary
    return ImportPlanJson(plan.filename, [str(p) for p in plan.problems], plan.total, plan.token, plan.plan,
                          list(s.created) if s else [], list(s.updated) if s else [],
                          list(s.new_versions) if s else [], list(s.unchanged) if s else [])  # fmt: skip


class BankApiController(Controller):
    """Item edits and data out as JSON and files (bearer tokens of researchers and admins)."""

    path = "/api/v1/staff"
    tags = ["bank"]

    def _saved(self, db: DbSession, code: str, outcome: str) -> SavedJson:
        status, version = bankedit.item_state(session=db, code=code)
        return SavedJson(code, outcome, version, status)

    def _save(self, db: DbSession, actor: CurrentActor, data: dict[str, Any], code: str | None) -> SavedJson:
        """Create (``code`` ``None``) or edit an item; 404 for no such item, 400 with every problem of a bad one."""
        try:
            saved = bankedit.save_item(session=db, actor=actor, document=data, code=code)
        except NotFound as exc:
            raise _missing(exc) from None
        except ValidationReport as exc:
            raise _refused(exc) from None
        return self._saved(db, saved.code, saved.outcome)

    @post("/bank/items", status_code=201, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 415), sync_to_thread=False, opt={"access": "bank.edit"})  # fmt: skip
    def create(self, db: DbSession, actor: CurrentActor, data: JSONBody[dict[str, Any]]) -> SavedJson:
        """Create an item from a document in the canonical JSON format (a draft); the problems when it breaks a rule."""
        return self._save(db, actor, data, None)

    @post("/bank/items/{code:str}", status_code=200, guards=[require_json], security=_BEARER,
         responses=error_responses(400, 401, 403, 404, 415), sync_to_thread=False,
         opt={"access": "bank.edit"})  # fmt: skip
    def update(
        self, db: DbSession, actor: CurrentActor, code: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> SavedJson:
        """Replace an item's content and metadata (code and status kept); an answered version gets a new version."""
        return self._save(db, actor, data, code)

    @post("/bank/items/{code:str}/status", status_code=200, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 404, 415), sync_to_thread=False,
          opt={"access": "bank.edit"})  # fmt: skip
    def status(self, db: DbSession, actor: CurrentActor, code: FromPath[str], data: JSONBody[StatusJson]) -> SavedJson:
        """Move an item to another status (allowed moves only; a refusal says why)."""
        try:
            bankedit.change_status(session=db, actor=actor, code=code, status=data.status)
        except NotFound as exc:
            raise _missing(exc) from None
        return self._saved(db, code, "status")

    @post("/bank/imports", status_code=200, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 415), sync_to_thread=False, opt={"access": "bank.edit"})  # fmt: skip
    def stage(self, db: DbSession, actor: CurrentActor, now: Now, data: JSONBody[ImportJson]) -> ImportPlanJson:
        """Check an item file (JSON or CSV text): its problems, or what it would do and the token to confirm it."""
        content = data.content.encode("utf-8")
        return _plan_json(bankimport.stage_import(session=db, actor=actor, filename=data.filename, content=content,
                                                  now=now))  # fmt: skip

    @post("/bank/imports/{code:str}", status_code=200, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 415), sync_to_thread=False, opt={"access": "bank.edit"})  # fmt: skip
    def confirm(
        self, db: DbSession, actor: CurrentActor, now: Now, code: FromPath[str], data: JSONBody[ConfirmJson]
    ) -> ImportPlanJson:
        """Import the file staged under token ``code`` exactly as previewed (refused when the bank has moved on)."""
        try:
            done = bankimport.confirm_import(session=db, actor=actor, token=code, plan=data.plan, now=now)
        except ValidationReport as exc:
            db.rollback()
            raise _refused(exc) from None
        except BankEditRefused:
            db.rollback()
            raise
        return _plan_json(bankimport.ImportPlan("", summary=done))

    @get("/bank/framework", security=_BEARER, responses=error_responses(401, 403), sync_to_thread=False,
         opt={"access": "bank.edit"})  # fmt: skip
    def framework(self, db: DbSession) -> dict[str, Any]:
        """The active framework as its document (the shape of the framework file)."""
        return bankedit.framework_document(session=db)

    @post("/bank/framework", status_code=200, guards=[require_json], security=_BEARER,
          responses=error_responses(400, 401, 403, 415), sync_to_thread=False, opt={"access": "bank.edit"})  # fmt: skip
    def edit_framework(self, db: DbSession, actor: CurrentActor, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """Store an edited framework document as the next version (refused when items would lose their place)."""
        try:
            loaded = bankedit.edit_framework(session=db, actor=actor, document=data)
        except ValidationReport as exc:
            raise BankEditRefused(str(exc).splitlines()[0], [str(p) for p in exc.problems]) from None
        return loaded.framework.to_document()

    @get("/data/assessments/{code:str}/responses", security=_BEARER, responses=error_responses(401, 403, 404),
         sync_to_thread=False, opt={"access": "research.export"})  # fmt: skip
    def response_file(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, code: FromPath[str],
        format: FromQuery[str] = "wide",  # noqa: A002 - the parameter's name in the query string
    ) -> Response[Any]:  # fmt: skip
        """An assessment's anonymised responses as CSV: ``format=wide`` (``infolit calibrate``'s input) or ``long``."""
        return _responses(request, db, actor, code, format)

    @get("/data/calibrations/{code:str}/parameters", security=_BEARER, responses=error_responses(401, 403, 404),
         sync_to_thread=False, opt={"access": "research.export"})  # fmt: skip
    def parameter_file(
        self, db: DbSession, actor: CurrentActor, code: FromPath[str],
        format: FromQuery[str] = "json",  # noqa: A002 - the parameter's name in the query string
    ) -> Response[Any]:  # fmt: skip
        """Calibration ``code``'s parameters with SEs: ``format=json`` (the canonical JSON) or ``csv``."""
        return _parameters(db, actor, code, format)
