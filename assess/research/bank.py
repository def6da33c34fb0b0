"""The bank browser of the researcher console: filter, sort and page items; an item's page.

:func:`browse_bank` filters on the framework's dimension and sub-indicator, grade band, item type
and status (:class:`itembank.queries.ItemFilter`), sorts by code, difficulty or slope under the
operational calibration, status or last change, and returns one page. :func:`item_page` gives an
item's versions, the student's view of its current version, its parameters under every
calibration, newest first, its exposure in each assessment (the share of the sittings given it),
and its statistics in the newest calibration run that included it (classical statistics,
distractor analysis, infit/outfit and S-X2 fit, DIF, drift; :mod:`assess.research.diagnostics`).

Researchers see the whole bank (it is not part of the people tree: no scope applies). Answer
keys are shown to them; never to students (the preview renders only what a student sees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, func, select

from assess.exceptions import NotFound
from assess.models import Assessment, Response, TestSession
from assess.position import VersionSnapshot, snapshot_in
from assess.research.models import CalibrationRun
from itembank.framework_store import active_framework
from itembank.keys import natural_key
from itembank.models import Calibration, Item, ItemParameter, ItemVersion
from itembank.queries import ItemFilter
from itembank.services import bank_params
from itembank.types import REGISTRY
from scoring.params import ItemParams

__all__ = [
    "PAGE_SIZE",
    "SORTS",
    "STATUSES",
    "TYPES",
    "BankFilter",
    "BankPage",
    "BankRow",
    "Choice",
    "Exposure",
    "ItemPage",
    "RunStats",
    "ParameterVersion",
    "browse_bank",
    "item_page",
]

PAGE_SIZE = 25
"""Items per page."""
TYPES = {name: kind.label for name, kind in REGISTRY.items()}
"""Item types and their Chinese names (every type of :data:`itembank.types.REGISTRY`)."""
STATUSES = {"draft": "草稿", "pilot": "试测", "operational": "正式", "retired": "停用"}
SORTS = {
    "code": "题目编号",
    "b": "难度（现用参数）",
    "a": "区分度（现用参数）",
    "status": "状态",
    "updated": "最近修改",
}


@dataclass(frozen=True)
class Choice:
    """One option of a filter: its value and its label."""

    value: str
    label: str


@dataclass(frozen=True)
class BankFilter:
    """What the browser was asked for (an unknown value is treated as no filter, an unknown sort as ``code``)."""

    dimension: str = ""
    indicator: str = ""
    band: str = ""
    type: str = ""
    status: str = ""
    sort: str = "code"
    descending: bool = False
    page: int = 1


@dataclass(frozen=True)
class BankRow:
    """One item in the list."""

    code: str
    dimension: str
    indicator: str
    grade_bands: tuple[str, ...]
    type: str
    status: str
    version: int
    stem: str
    a: float | None
    b: float | None
    updated_at: datetime


@dataclass(frozen=True)
class BankPage:
    """A page of the browser: the rows, the counts, the choices of every filter."""

    rows: tuple[BankRow, ...]
    total: int
    page: int
    pages: int
    calibration: str
    dimensions: tuple[Choice, ...]
    indicators: tuple[Choice, ...]
    bands: tuple[Choice, ...]


def _location(params: ItemParams | None, code: str) -> tuple[float | None, float | None]:
    if params is None or code not in params.ids:
        return None, None
    j = params.index(code)
    b = params.b[j, : int(params.max_scores[j])]
    return float(params.a[j]), float(sum(b) / len(b))


def browse_bank(*, session: Session, wanted: BankFilter, page_size: int = PAGE_SIZE) -> BankPage:
    """One page of the bank as ``wanted`` filters and sorts it (``b`` of a polytomous item: its mean threshold)."""
    framework = active_framework(session=session)
    dimensions = tuple(Choice(d.code, f"{d.code} {d.name}") for d in framework.dimensions) if framework else ()
    indicators = (
        tuple(
            Choice(i.code, f"{i.code} {i.name}")
            for d in framework.dimensions
            for i in d.indicators
            if not wanted.dimension or d.code == wanted.dimension
        )  # fmt: skip
        if framework
        else ()
    )
    bands = tuple(Choice(b.code, b.name) for b in framework.grade_bands) if framework else ()

    def known(value: str, choices: tuple[Choice, ...] | dict[str, str]) -> str | None:
        values = choices.keys() if isinstance(choices, dict) else {c.value for c in choices}
        return value if value in values else None

    rows = ItemFilter(
        dimension=known(wanted.dimension, dimensions),
        indicator=known(wanted.indicator, indicators),
        band=known(wanted.band, bands),
        type=known(wanted.type, TYPES),
        status=known(wanted.status, STATUSES),
    ).rows(session)
    operational = _operational(session)
    params = _current_params(session, operational, [item.code for item, _, _ in rows])
    listed = []
    for item, version, _ in rows:
        a, b = _location(params, item.code)
        listed.append(BankRow(item.code, item.dimension, item.indicator, tuple(item.grade_bands), version.type,
                              item.status, item.current_version, version.stem, a, b, item.updated_at))  # fmt: skip
    sort = wanted.sort if wanted.sort in SORTS else "code"
    if sort == "code":
        listed.sort(key=lambda r: natural_key(r.code), reverse=wanted.descending)
    elif sort in ("a", "b"):
        present = [r for r in listed if getattr(r, sort) is not None]
        present.sort(key=lambda r: getattr(r, sort), reverse=wanted.descending)
        listed = present + [r for r in listed if getattr(r, sort) is None]  # items without parameters last
    elif sort == "status":
        order = list(STATUSES)
        listed.sort(key=lambda r: (order.index(r.status) if r.status in order else 9, natural_key(r.code)),
                    reverse=wanted.descending)  # fmt: skip
    else:
        listed.sort(key=lambda r: r.updated_at, reverse=not wanted.descending)
    pages = max(1, math.ceil(len(listed) / page_size))
    page = min(max(1, wanted.page), pages)
    shown = tuple(listed[(page - 1) * page_size : page * page_size])
    return BankPage(shown, len(listed), page, pages, operational or "", dimensions, indicators, bands)


def _operational(session: Session) -> str | None:
    row = session.exec(
        select(Calibration.name)
        .where(Calibration.status == "operational")
        .order_by(col(Calibration.published_at).desc(), col(Calibration.id).desc())
    ).first()
    return row or session.exec(select(Calibration.name).order_by(col(Calibration.id))).first()


def _current_params(session: Session, calibration: str | None, codes: list[str]) -> ItemParams | None:
    """Parameters of the current versions of ``codes`` that ``calibration`` has (the others are left out)."""
    if calibration is None or not codes:
        return None
    have = set(
        session.exec(
            select(Item.code)
            .join(ItemVersion, col(ItemVersion.item_id) == col(Item.id))
            .where(col(ItemVersion.number) == Item.current_version)
            .join(ItemParameter, col(ItemParameter.item_version_id) == col(ItemVersion.id))
            .join(Calibration, col(Calibration.id) == col(ItemParameter.calibration_id))
            .where(Calibration.name == calibration, col(Item.code).in_(codes))
        ).all()
    )  # fmt: skip
    wanted = [c for c in codes if c in have]
    return bank_params(session=session, codes=wanted, calibration=calibration) if wanted else None


@dataclass(frozen=True)
class ParameterVersion:
    """An item version's parameters in one calibration, with their SEs."""

    calibration: str
    calibration_status: str
    created_at: datetime
    version: int
    model: str
    a: float
    b: tuple[float, ...]
    c: float
    se_a: float | None
    se_b: tuple[float | None, ...]
    se_c: float | None

    def as_params(self, code: str) -> ItemParams:
        """These parameters as a one-item table (for its curves)."""
        return ItemParams(ids=(code,), models=(self.model,), a=np.array([self.a]), b=np.array([list(self.b)]),
                          c=np.array([self.c]))  # fmt: skip


@dataclass(frozen=True)
class Exposure:
    """How often an item was given in one assessment: sittings given it of all sittings."""

    assessment: str
    name: str
    given: int
    sittings: int

    @property
    def rate(self) -> float:
        """The share of the assessment's sittings that were given the item."""
        return self.given / self.sittings if self.sittings else 0.0


@dataclass(frozen=True)
class RunStats:
    """An item's statistics in the newest calibration run that included it (the run's stored entry)."""

    run_id: int
    run: str
    stats: dict[str, Any]

    @property
    def dif_flags(self) -> tuple[str, ...]:
        """The DIF comparisons of ETS class B or C."""
        return tuple(f"{d['label']} {d['ets']}" for d in self.stats.get("dif", ()) if d["ets"] in ("B", "C"))


@dataclass(frozen=True)
class ItemPage:
    """An item: metadata, its versions, the student's view of the current one, its parameters."""

    code: str
    dimension: str
    indicator: str
    grade_bands: tuple[str, ...]
    status: str
    type: str
    current_version: int
    versions: tuple[tuple[int, bool, datetime], ...]  # number, locked, created
    key: tuple[str, ...]
    preview: VersionSnapshot
    parameters: tuple[ParameterVersion, ...]
    exposure: tuple[Exposure, ...] = ()
    latest: RunStats | None = None


def item_page(*, session: Session, code: str) -> ItemPage:
    """Item ``code``'s page (:class:`NotFound` if there is none)."""
    item = session.exec(select(Item).where(Item.code == code)).first()
    if item is None:
        raise NotFound("题库里没有这道题。")
    versions = session.exec(
        select(ItemVersion).where(ItemVersion.item_id == item.id).order_by(col(ItemVersion.number))
    ).all()
    current = next(v for v in versions if v.number == item.current_version)
    rows = session.exec(
        select(ItemParameter, Calibration, ItemVersion.number)
        .join(Calibration, col(Calibration.id) == col(ItemParameter.calibration_id))
        .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
        .where(ItemVersion.item_id == item.id)
        .order_by(col(Calibration.created_at).desc(), col(Calibration.id).desc())
    ).all()
    parameters = tuple(
        ParameterVersion(
            cal.name,
            cal.status,
            cal.created_at,
            number,
            p.model,
            p.a,
            tuple(p.b),
            p.c,
            p.se_a,
            tuple(p.se_b or ()),
            p.se_c,
        )  # fmt: skip
        for p, cal, number in rows
    )
    return ItemPage(
        code=item.code,
        dimension=item.dimension,
        indicator=item.indicator,
        grade_bands=tuple(item.grade_bands),
        status=item.status,
        type=current.type,
        current_version=item.current_version,
        versions=tuple((v.number, v.locked, v.created_at) for v in versions),
        key=tuple(current.key or ()),
        preview=snapshot_in(session, int(current.id or 0)),
        parameters=parameters,
        exposure=_exposure(session, int(item.id or 0)),
        latest=_latest_run(session, item.code),
    )


def _exposure(session: Session, item_id: int) -> tuple[Exposure, ...]:
    """Per assessment that gave the item (any version): sittings given it, and all its sittings; newest first."""
    given = session.exec(
        select(TestSession.assessment_id, func.count(func.distinct(Response.session_id)))
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .join(ItemVersion, col(ItemVersion.id) == col(Response.item_version_id))
        .where(ItemVersion.item_id == item_id)
        .group_by(col(TestSession.assessment_id))
    ).all()
    if not given:
        return ()
    counts = dict(given)
    totals = dict(
        session.exec(
            select(TestSession.assessment_id, func.count())
            .where(col(TestSession.assessment_id).in_(list(counts)))
            .group_by(col(TestSession.assessment_id))
        ).all()
    )
    rows = session.exec(
        select(Assessment).where(col(Assessment.id).in_(list(counts))).order_by(col(Assessment.opens_at).desc())
    ).all()
    return tuple(
        Exposure(a.code, a.name, int(counts[int(a.id or 0)]), int(totals.get(int(a.id or 0), 0))) for a in rows
    )


def _latest_run(session: Session, code: str) -> RunStats | None:
    """The item's entry in the newest finished calibration run that included it."""
    runs = session.exec(
        select(CalibrationRun)
        .where(col(CalibrationRun.calibration_id).is_not(None))
        .order_by(col(CalibrationRun.id).desc())
    ).all()
    for run in runs:
        for entry in run.item_stats:
            if entry.get("code") == code:
                return RunStats(int(run.id or 0), run.name, dict(entry))
    return None
