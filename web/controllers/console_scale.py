"""The scale in the researcher console: its versions, bookmark standard-setting studies, described levels.

Pages under ``/console/research/scale``, the same operations as JSON under
``/api/v1/staff/research/scale`` and ``/api/v1/staff/research/standard-setting``. A study's page
shows its ordered item booklet, the form a panellist's bookmarks are entered with, a round's board
(each boundary's median bookmark, cut and spread; the impact; for htmx, ``?round=N`` answers the
board alone) and the described levels; a researcher adopts a round's cuts as a new scale version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody

from assess.accounts.exceptions import OutOfScope
from assess.console.tree import assessments_for
from assess.exceptions import AssessError, NotFound
from assess.standards.described import LevelDraft, draft_levels, save_described
from assess.standards.study import (
    ROUNDS,
    RoundResult,
    StudyView,
    adopt_round,
    create_study,
    list_studies,
    place_bookmarks,
    round_result,
    study_view,
)
from assess.standards.versions import (
    ScaleSettings,
    activate_version,
    active_scale,
    adopt_version,
    edited_settings,
    framework_bands,
    list_versions,
    scale_version,
)
from web.controllers.console_common import go, render
from web.deps import DbSession, Now
from web.forms import field
from web.openapi import error_responses
from web.security import require_json
from web.staff import CurrentActor

__all__ = ["ConsoleScaleController", "ScaleApiController"]

Form = URLEncodedBody[dict[str, Any]]
HOME = "/console/research/scale"


def _study(db: DbSession, study_id: int) -> StudyView:
    try:
        return study_view(session=db, study=study_id)
    except NotFound as exc:  # a study that does not exist answers 404, like anything not found
        raise OutOfScope(str(exc)) from None


def _version(db: DbSession, number: int) -> ScaleSettings:
    try:
        return scale_version(session=db, number=number)
    except NotFound as exc:
        raise OutOfScope(str(exc)) from None


def _round_of(view: StudyView, asked: int | None) -> int:
    if asked in ROUNDS:
        return int(asked or 1)
    return view.rounds[-1] if view.rounds else 1


def _board(db: DbSession, view: StudyView, number: int) -> tuple[RoundResult | None, str]:
    """A round's result, or ``None`` and why (no bookmark yet, medians not ascending)."""
    if number not in view.rounds:
        return None, ""
    try:
        return round_result(session=db, study=view.id, round=number), ""
    except AssessError as exc:
        return None, str(exc)


def _pages(form: dict[str, Any]) -> list[int]:
    try:
        return [int(field(form, f"page{k}")) for k in (1, 2, 3)]
    except ValueError:
        return []  # refused by the service with its own message


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _edited(db: DbSession, data: dict[str, Any]) -> dict[str, object]:
    """The settings the version form gives: every field; a band's cuts only where they were changed."""
    scale = active_scale(session=db)
    levels = [field(data, f"name{k}").strip() for k in range(len(scale.levels))]
    cuts: dict[str, list[str]] = {}
    for band in framework_bands(session=db):
        given = [field(data, f"cut-{band.code}-{k}").strip() for k in range(3)]
        if given != [f"{c:.1f}" for c in scale.band_cuts(band).cuts]:
            cuts[band.code] = given
    return {
        "name": field(data, "name"),
        "baseline_mean": field(data, "baseline_mean"),
        "baseline_sd": field(data, "baseline_sd"),
        "levels": levels,
        "pass_level": field(data, "pass_level"),
        "descriptions": {name: field(data, f"description{k}") for k, name in enumerate(levels) if name},
        "cuts": cuts,
    }


class ConsoleScaleController(Controller):
    """The scale's versions and the bookmark studies, as pages."""

    path = HOME
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
            "scale": active_scale(session=db),
            "bands": framework_bands(session=db),
            "versions": list_versions(session=db),
            "studies": list_studies(session=db),
            "assessments": assessments_for(session=db, now=now),
            "form": form or {},
            "error": error,
        }
        return render(request, "scale", context, session=db, actor=actor, title="量表与分数线", status_code=status_code)

    def _study_page(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        view: StudyView,
        number: int,
        error: str = "",
        status_code: int = 200,
    ) -> Response[Any]:
        result, why = _board(db, view, number)
        cuts = result.cuts if result else active_scale(session=db).band_cuts(view.band)
        drafts: list[LevelDraft] = draft_levels(session=db, study=view.id, cuts=cuts)
        context = {
            "study": view,
            "round": number,
            "rounds": ROUNDS,
            "result": result,
            "why": why,
            "drafts": drafts,
            "scale": active_scale(session=db),
            "error": error,
        }
        return render(
            request,
            "scale_study",
            context,
            session=db,
            actor=actor,
            title=f"标准设定 {view.name}",
            status_code=status_code,
        )

    @get("", sync_to_thread=False, opt={"access": "scale.view"})
    def home(self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now) -> Response[Any]:
        """The version in force (cuts of every band), every version, the studies and the form that starts one."""
        return self._home(request, db, actor, now)

    @post("/versions/{number:int}/activate", status_code=200, sync_to_thread=False, opt={"access": "scale.adopt"})
    def activate(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, number: FromPath[int]
    ) -> Response[Any]:
        """Put an earlier version back in force (recorded in the audit log)."""
        _version(db, number)
        activate_version(session=db, actor=actor, number=number)
        db.commit()
        return go(request, HOME)

    @post("/versions", status_code=200, sync_to_thread=False, opt={"access": "scale.adopt"})
    def edit(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, data: Form
    ) -> Response[Any]:
        """Adopt the version in force as edited in the form (a refused form comes back with the reason)."""
        try:
            edited = edited_settings(active_scale(session=db), _edited(db, data))
            adopt_version(session=db, actor=actor, settings=edited)
        except AssessError as exc:
            db.rollback()
            return self._home(request, db, actor, now, error=str(exc), status_code=400)
        db.commit()
        return go(request, HOME)

    @post("/studies", status_code=200, sync_to_thread=False, opt={"access": "scale.study"})
    def create(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, now: Now, data: Form
    ) -> Response[Any]:
        """Create a study from the form and go to it (a refused form comes back with the reason)."""
        values = {k: field(data, k).strip() for k in ("name", "band", "assessment", "calibration")}
        try:
            view = create_study(
                session=db,
                actor=actor,
                name=values["name"],
                band=values["band"],
                assessment=values["assessment"],
                calibration=values["calibration"],
            )
        except AssessError as exc:
            db.rollback()
            return self._home(request, db, actor, now, form=values, error=str(exc), status_code=400)
        db.commit()
        return go(request, f"{HOME}/studies/{view.id}")

    @get("/studies/{study_id:int}", sync_to_thread=False, opt={"access": "scale.view"})
    def study(
        self,
        request: Request[Any, Any, State],
        db: DbSession,
        actor: CurrentActor,
        study_id: FromPath[int],
        round: FromQuery[int | None] = None,
    ) -> Response[Any]:  # noqa: A002
        """A study: its booklet, the bookmark form, a round's board (the board alone for htmx), the levels."""
        view = _study(db, study_id)
        return self._study_page(request, db, actor, view, _round_of(view, round))

    @post("/studies/{study_id:int}/bookmarks", status_code=200, sync_to_thread=False, opt={"access": "scale.study"})
    def bookmarks(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, study_id: FromPath[int], data: Form
    ) -> Response[Any]:
        """Record a panellist's bookmarks of a round; back to the study at that round."""
        view = _study(db, study_id)
        number = _int(field(data, "round"), 1)
        return self._act(
            request, db, actor, view, number, f"{HOME}/studies/{view.id}?round={number}",
            lambda: place_bookmarks(session=db, actor=actor, study=view.id, round=number,
                                    panellist=field(data, "panellist"), pages=_pages(data)),
        )  # fmt: skip

    @post("/studies/{study_id:int}/described", status_code=200, sync_to_thread=False, opt={"access": "scale.study"})
    def described(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, study_id: FromPath[int], data: Form
    ) -> Response[Any]:
        """Save the researcher's descriptions of the levels with the study."""
        view = _study(db, study_id)
        number = _int(field(data, "round"), 1)
        texts = {name: field(data, f"level{k}") for k, name in enumerate(active_scale(session=db).levels)}
        return self._act(
            request, db, actor, view, number, f"{HOME}/studies/{view.id}?round={number}#levels",
            lambda: save_described(session=db, actor=actor, study=view.id, texts=texts),
        )  # fmt: skip

    @post("/studies/{study_id:int}/adopt", status_code=200, sync_to_thread=False, opt={"access": "scale.adopt"})
    def adopt(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, study_id: FromPath[int], data: Form
    ) -> Response[Any]:
        """Adopt a round's cuts as a new scale version; go to the scale page."""
        view = _study(db, study_id)
        number = _int(field(data, "round"), 0)
        return self._act(
            request, db, actor, view, number, HOME,
            lambda: adopt_round(session=db, actor=actor, study=view.id, round=number, name=field(data, "name")),
        )  # fmt: skip

    def _act(
        self, request: Request[Any, Any, State], db: DbSession, actor: CurrentActor, view: StudyView, number: int,
        to: str, act: Callable[[], object],
    ) -> Response[Any]:  # fmt: skip
        """Do a study's write and commit it, then go to ``to``; refused: roll back, the study page says why."""
        try:
            act()
        except AssessError as exc:
            db.rollback()
            return self._study_page(request, db, actor, view, _round_of(view, number), str(exc), 400)
        db.commit()
        return go(request, to)


# ============================================================================================ JSON
@dataclass(frozen=True)
class ScaleJson:
    """A scale version: baseline (``null``: the calibration's), levels, the 达标 level, cuts by band."""

    number: int
    name: str
    active: bool
    source: str
    baseline_mean: float | None
    baseline_sd: float | None
    levels: list[str]
    pass_level: str
    descriptions: dict[str, str]
    described: dict[str, dict[str, str]]
    cuts: dict[str, list[float]]


@dataclass(frozen=True)
class StudyRequestJson:
    """``POST .../standard-setting/studies``: a band's study; the impact assessment (its code)."""

    name: str
    band: str
    assessment: str
    calibration: str = ""


@dataclass(frozen=True)
class StudyJson:
    """A study and its ordered item booklet."""

    id: int
    name: str
    band: str
    calibration: str
    assessment: str
    rp: float
    rounds: list[int]
    adopted_version: int | None
    booklet: list[dict[str, Any]]


@dataclass(frozen=True)
class BookmarksJson:
    """One panellist's bookmarks of a round: three ascending pages (1-based), one per level boundary."""

    round: int
    panellist: str
    pages: list[int]


@dataclass(frozen=True)
class BoundaryJson:
    """A boundary of a round: the median bookmark, the cut (theta and scale) and the panel's spread."""

    boundary: int
    label: str
    pages: list[int]
    median_page: float
    theta: float
    scale_score: float
    sd_theta: float
    iqr_theta: float
    sd_scale: float
    iqr_scale: float


@dataclass(frozen=True)
class RoundJson:
    """A round's cuts and their impact (``impact``: level -> share; ``null`` without impact data)."""

    round: int
    cuts: list[float]
    boundaries: list[BoundaryJson]
    impact: dict[str, float] | None
    impact_n: int
    weighted: bool


@dataclass(frozen=True)
class LevelJson:
    """A level under a round's cuts (or those in force): range, pages, sub-indicators, draft, saved text."""

    level: str
    lower: float | None
    upper: float | None
    pages: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    draft: str
    text: str


@dataclass(frozen=True)
class DescribedJson:
    """``POST .../described``: the researcher's text of each level (level name -> text; empty clears)."""

    texts: dict[str, str]


@dataclass(frozen=True)
class AdoptJson:
    """``POST .../rounds/{number}/adopt``: the new version's name (optional)."""

    name: str = ""


def _scale_json(bands: Any, v: ScaleSettings) -> ScaleJson:
    cuts = {b.code: list(v.band_cuts(b).cuts) for b in bands}
    return ScaleJson(
        v.number,
        v.name,
        v.active,
        v.source,
        v.baseline_mean,
        v.baseline_sd,
        list(v.levels),
        v.pass_name,
        dict(v.descriptions),
        {b: dict(t) for b, t in v.described.items()},
        cuts,
    )


def _study_json(v: StudyView) -> StudyJson:
    return StudyJson(
        v.id,
        v.name,
        v.band,
        v.calibration,
        v.assessment,
        v.rp,
        list(v.rounds),
        v.adopted_version,
        [dict(p) for p in v.booklet],
    )


def _round_json(r: RoundResult) -> RoundJson:
    bounds = [
        BoundaryJson(
            b.boundary,
            b.label,
            list(b.panel.pages),
            b.panel.median_page,
            b.panel.theta,
            b.scale_score,
            b.panel.sd,
            b.panel.iqr,
            b.scale_sd,
            b.scale_iqr,
        )
        for b in r.boundaries
    ]
    impact = dict(zip(r.impact.levels, r.impact.shares, strict=True)) if r.impact else None
    return RoundJson(
        r.round, list(r.cuts.cuts), bounds, impact, r.impact.n if r.impact else 0, bool(r.impact and r.impact.weighted)
    )


def _levels_json(drafts: list[LevelDraft]) -> list[LevelJson]:
    def bound(x: float) -> float | None:
        return None if x in (float("inf"), float("-inf")) else x

    return [
        LevelJson(
            d.level,
            bound(d.lower),
            bound(d.upper),
            [dict(p) for p in d.pages],
            [{"code": c, "name": n, "pages": k} for c, n, k in d.indicators],
            d.draft,
            d.text,
        )  # fmt: skip
        for d in drafts
    ]


def _levels(db: DbSession, view: StudyView, number: int | None) -> list[LevelDraft]:
    """The levels under round ``number``'s cuts, or under the cuts in force without a round."""
    if number is None:
        cuts = active_scale(session=db).band_cuts(view.band)
    else:
        cuts = round_result(session=db, study=view.id, round=number).cuts
    return draft_levels(session=db, study=view.id, cuts=cuts)


_BEARER: list[SecurityRequirement] = [{"BearerToken": []}]


class ScaleApiController(Controller):
    """The scale's versions and the bookmark studies as JSON (bearer tokens of researchers and admins)."""

    path = "/api/v1/staff/research"
    tags = ["research"]

    @get(
        "/scale",
        security=_BEARER,
        responses=error_responses(401, 403),
        sync_to_thread=False,
        opt={"access": "scale.view"},
    )
    def scale(self, db: DbSession) -> ScaleJson:
        """The version in force, with the cuts of every band of the framework."""
        return _scale_json(framework_bands(session=db), active_scale(session=db))

    @get(
        "/scale/versions",
        security=_BEARER,
        responses=error_responses(401, 403),
        sync_to_thread=False,
        opt={"access": "scale.view"},
    )
    def versions(self, db: DbSession) -> list[ScaleJson]:
        """Every version, newest first."""
        bands = framework_bands(session=db)
        return [_scale_json(bands, v) for v in list_versions(session=db)]

    @post(
        "/scale/versions",
        status_code=201,
        guards=[require_json],
        security=_BEARER,
        responses=error_responses(400, 401, 403, 415),
        sync_to_thread=False,
        opt={"access": "scale.adopt"},
    )
    def adopt_edited(self, db: DbSession, actor: CurrentActor, data: JSONBody[dict[str, Any]]) -> ScaleJson:
        """Adopt the version in force edited by the body as a new version.

        The body may set ``name``, ``note``, ``baseline_mean`` and ``baseline_sd`` (both ``null``: the
        calibration's), ``levels`` (four names), ``pass_level`` (the lowest 达标 level), ``descriptions``
        (level -> text) and ``cuts`` (band -> three ascending cuts); the rest is kept.
        """
        v = adopt_version(session=db, actor=actor, settings=edited_settings(active_scale(session=db), data))
        db.commit()
        return _scale_json(framework_bands(session=db), v)

    @post(
        "/scale/versions/{number:int}/activate",
        status_code=200,
        security=_BEARER,
        responses=error_responses(401, 403, 404),
        sync_to_thread=False,
        opt={"access": "scale.adopt"},
    )
    def activate(self, db: DbSession, actor: CurrentActor, number: FromPath[int]) -> ScaleJson:
        """Put an earlier version back in force (recorded in the audit log)."""
        _version(db, number)
        v = activate_version(session=db, actor=actor, number=number)
        db.commit()
        return _scale_json(framework_bands(session=db), v)

    @get(
        "/standard-setting/studies",
        security=_BEARER,
        responses=error_responses(401, 403),
        sync_to_thread=False,
        opt={"access": "scale.view"},
    )
    def studies(self, db: DbSession) -> list[StudyJson]:
        """Every study, newest first, with its booklet."""
        return [_study_json(v) for v in list_studies(session=db)]

    @post(
        "/standard-setting/studies",
        status_code=201,
        guards=[require_json],
        security=_BEARER,
        responses=error_responses(400, 401, 403, 415),
        sync_to_thread=False,
        opt={"access": "scale.study"},
    )
    def create(self, db: DbSession, actor: CurrentActor, data: JSONBody[StudyRequestJson]) -> StudyJson:
        """Create a band's study with its ordered item booklet (every score point by RP67 location)."""
        view = create_study(
            session=db,
            actor=actor,
            name=data.name,
            band=data.band,
            assessment=data.assessment,
            calibration=data.calibration,
        )
        db.commit()
        return _study_json(view)

    @get(
        "/standard-setting/studies/{study_id:int}",
        security=_BEARER,
        responses=error_responses(401, 403, 404),
        sync_to_thread=False,
        opt={"access": "scale.view"},
    )
    def study(self, db: DbSession, study_id: FromPath[int]) -> StudyJson:
        """A study and its booklet."""
        return _study_json(_study(db, study_id))

    @post(
        "/standard-setting/studies/{study_id:int}/bookmarks",
        status_code=200,
        guards=[require_json],
        security=_BEARER,
        responses=error_responses(400, 401, 403, 404, 415),
        sync_to_thread=False,
        opt={"access": "scale.study"},
    )
    def bookmarks(
        self, db: DbSession, actor: CurrentActor, study_id: FromPath[int], data: JSONBody[BookmarksJson]
    ) -> StudyJson:
        """Record (or replace) a panellist's bookmarks of a round."""
        view = _study(db, study_id)
        place_bookmarks(
            session=db, actor=actor, study=view.id, round=data.round, panellist=data.panellist, pages=list(data.pages)
        )
        db.commit()
        return _study_json(_study(db, study_id))

    @get(
        "/standard-setting/studies/{study_id:int}/rounds/{number:int}",
        security=_BEARER,
        responses=error_responses(400, 401, 403, 404),
        sync_to_thread=False,
        opt={"access": "scale.view"},
    )
    def round(self, db: DbSession, study_id: FromPath[int], number: FromPath[int]) -> RoundJson:
        """A round's cuts, each boundary's median bookmark and spread, and the impact."""
        view = _study(db, study_id)
        return _round_json(round_result(session=db, study=view.id, round=number))

    @get(
        "/standard-setting/studies/{study_id:int}/levels",
        security=_BEARER,
        responses=error_responses(400, 401, 403, 404),
        sync_to_thread=False,
        opt={"access": "scale.view"},
    )
    def levels(
        self,
        db: DbSession,
        study_id: FromPath[int],
        round: FromQuery[int | None] = None,  # noqa: A002
    ) -> list[LevelJson]:
        """The described levels: each level's pages and sub-indicators, the draft and the saved text."""
        return _levels_json(_levels(db, _study(db, study_id), round))

    @post(
        "/standard-setting/studies/{study_id:int}/described",
        status_code=200,
        guards=[require_json],
        security=_BEARER,
        responses=error_responses(400, 401, 403, 404, 415),
        sync_to_thread=False,
        opt={"access": "scale.study"},
    )
    def described(
        self, db: DbSession, actor: CurrentActor, study_id: FromPath[int], data: JSONBody[DescribedJson]
    ) -> list[LevelJson]:
        """Save the researcher's descriptions with the study (adopting a round saves them in the version)."""
        view = _study(db, study_id)
        save_described(session=db, actor=actor, study=view.id, texts=dict(data.texts))
        db.commit()
        return _levels_json(_levels(db, view, None))

    @post(
        "/standard-setting/studies/{study_id:int}/rounds/{number:int}/adopt",
        status_code=200,
        guards=[require_json],
        security=_BEARER,
        responses=error_responses(400, 401, 403, 404, 415),
        sync_to_thread=False,
        opt={"access": "scale.adopt"},
    )
    def adopt(
        self,
        db: DbSession,
        actor: CurrentActor,
        study_id: FromPath[int],
        number: FromPath[int],
        data: JSONBody[AdoptJson],
    ) -> ScaleJson:
        """Adopt a round's cuts as a new scale version (the band's cuts replaced, the others kept)."""
        view = _study(db, study_id)
        v = adopt_round(session=db, actor=actor, study=view.id, round=number, name=data.name)
        db.commit()
        return _scale_json(framework_bands(session=db), v)
