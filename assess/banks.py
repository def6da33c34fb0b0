"""What a sitting is drawn from: the student's grade band, the band's engine bank, the blueprint.

The grade band of a grade comes from the framework in use (:func:`band_of_grade`), so a
province that loads a framework with its own bands (``3-5``, ``6-8``, ``9-12``) gets them end to
end: the items tagged with those bands, the blueprints stored per band, the cut scores of each.
An engine bank (:class:`BandBank`) is built once per calibration and band and kept per process
(it changes only when the calibration is published again); a blueprint is read per request by
the full path (:func:`blueprint_for`) and kept a minute by the fast path and the views
(:func:`spec_for`).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from assess.blueprints import BlueprintSpec, parse_blueprint
from assess.engine import EngineBank
from assess.exceptions import NotConfigured
from assess.models import BlueprintRow
from itembank.calibrations import item_params
from itembank.framework import GradeBandSpec
from itembank.framework_store import current_framework
from itembank.models import Calibration, Item, ItemParameter, ItemVersion

__all__ = [
    "BandBank",
    "band_of_grade",
    "blueprint_for",
    "exposure_bank",
    "forget_blueprints",
    "grade_band",
    "load_band_bank",
    "spec_for",
]


# ============================================================================================ bands
def grade_band(grade: int, *, session: Session) -> GradeBandSpec:
    """The grade band of the framework in use (the active one, else the default) that covers ``grade``.

    Raises
    ------
    NotConfigured
        No band of the framework covers the grade.
    """
    framework = current_framework(session=session)
    band = framework.band_for_grade(int(grade))
    if band is None:
        bands = ", ".join(f"{b.code} ({'/'.join(map(str, b.grades))})" for b in framework.grade_bands)
        raise NotConfigured(f"{int(grade)} 年级不在指标框架 {framework.code} 的任何年级段中（{bands}）")
    return band


def band_of_grade(grade: int, *, session: Session) -> str:
    """The code of the grade band that covers ``grade`` (see :func:`grade_band`)."""
    return grade_band(grade, session=session).code


# ============================================================================================ banks
@dataclass(frozen=True, eq=False)
class BandBank:
    """The engine bank of one calibration and grade band, with the item versions behind it.

    ``version_ids[j]`` and ``codes[j]`` belong to engine item ``j``; ``dimensions[j]`` is its
    dimension code (the content area).
    """

    calibration_id: int
    band: str
    engine: EngineBank
    version_ids: tuple[int, ...]
    codes: tuple[str, ...]
    dimensions: tuple[str, ...]

    @property
    def pilot_indices(self) -> npt.NDArray[np.intp]:
        """Engine indices of the pilot items (seeded unscored at fixed positions)."""
        cached: npt.NDArray[np.intp] | None = self.__dict__.get("_pilot_cache")
        if cached is None:
            cached = np.nonzero(self.engine.pilot)[0]
            object.__setattr__(self, "_pilot_cache", cached)
        return cached

    def index_of(self, version_id: int) -> int:
        """Engine index of an item version (``KeyError`` if it is not in this bank)."""
        return self._index[version_id]

    @property
    def _index(self) -> dict[int, int]:
        cached: dict[int, int] | None = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {v: j for j, v in enumerate(self.version_ids)}
            object.__setattr__(self, "_index_cache", cached)
        return cached


def load_band_bank(*, session: Session, calibration_id: int, band: str) -> BandBank:
    """Build (or take from the per-process cache) the engine bank for a calibration and band.

    Operational items with parameters in the calibration are selectable; items with status
    ``pilot`` are seeded unscored (their provisional parameters, if any, are never used to score).

    Raises
    ------
    NotConfigured
        The calibration does not exist, or has no calibrated item for the band.
    """
    stamp = session.exec(
        select(Calibration.published_at, Calibration.created_at).where(Calibration.id == calibration_id)
    ).first()
    if stamp is None:
        raise NotConfigured(f"校准 {calibration_id} 不存在")
    key = (session.get_bind().engine.url.render_as_string(), calibration_id, band, str(stamp))
    if key not in _BANK_CACHE:
        if len(_BANK_CACHE) > 32:
            _BANK_CACHE.clear()
        _BANK_CACHE[key] = _build_band_bank(session, calibration_id, band)
    return _BANK_CACHE[key]


_BANK_CACHE: dict[tuple[str, int, str, str], BandBank] = {}


@dataclass(frozen=True)
class _Placeholder:
    """Parameters for a pilot item without any: never selected by information, never scored."""

    model: str
    a: float
    b: tuple[float, ...]
    c: float

    @classmethod
    def for_max_score(cls, k: int) -> _Placeholder:
        return cls("2pl" if k == 1 else "gpcm", 1.0, tuple(float(i) - (k - 1) / 2 for i in range(k)), 0.0)


def _build_band_bank(session: Session, calibration_id: int, band: str) -> BandBank:
    rows = session.exec(
        select(Item, ItemVersion, ItemParameter)
        .join(
            ItemVersion,
            and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.number) == col(Item.current_version)),
        )
        .join(
            ItemParameter,
            and_(
                col(ItemParameter.item_version_id) == col(ItemVersion.id),
                col(ItemParameter.calibration_id) == calibration_id,
            ),
            isouter=True,
        )
        .where(col(Item.status).in_(["operational", "pilot"]))
        .order_by(Item.code)
    ).all()
    chosen = [
        (item, version, par)
        for item, version, par in rows
        if band in (item.grade_bands or []) and (par is not None or item.status == "pilot")
    ]
    if not chosen:
        raise NotConfigured(f"校准 {calibration_id} 中没有年级段 {band} 的已校准题目")
    codes = tuple(item.code for item, _, _ in chosen)
    params = item_params(
        codes, [par if par is not None else _Placeholder.for_max_score(v.max_score) for _, v, par in chosen]
    )
    dims = tuple(item.dimension for item, _, _ in chosen)
    code_set = set(codes)
    enemies = [(item.code, e) for item, _, _ in chosen for e in (item.enemies or []) if e in code_set]
    pilot = [item.code for item, _, _ in chosen if item.status == "pilot"]
    engine = EngineBank.build(params, dims, enemies=enemies, pilot=pilot, sub_areas=[i.indicator for i, _, _ in chosen])
    return BandBank(
        calibration_id=calibration_id,
        band=band,
        engine=engine,
        version_ids=tuple(int(v.id or 0) for _, v, _ in chosen),
        codes=codes,
        dimensions=dims,
    )


def exposure_bank(bank: BandBank, spec: BlueprintSpec) -> EngineBank:
    """The engine bank with the blueprint's Sympson-Hetter parameters (``spec.exposure``, by code).

    Made once per bank and spec (both are cached per process) and kept on the spec.
    """
    made: dict[int, tuple[EngineBank, EngineBank]] = spec.__dict__.setdefault("_exposure_banks", {})
    hit = made.get(id(bank.engine))
    if hit is None or hit[0] is not bank.engine:
        k = np.array([float(spec.exposure.get(code, 1.0)) for code in bank.codes])
        hit = (bank.engine, bank.engine.with_exposure(k))
        if len(made) > 8:
            made.clear()
        made[id(bank.engine)] = hit
    return hit[1]


# ============================================================================================ blueprints
def blueprint_for(*, session: Session, assessment_id: int, band: str) -> BlueprintSpec:
    """The validated blueprint of an assessment's grade band, read now.

    Raises
    ------
    NotConfigured
        The assessment has no blueprint for the band.
    """
    row = session.exec(
        select(BlueprintRow).where(BlueprintRow.assessment_id == assessment_id, BlueprintRow.grade_band == band)
    ).first()
    if row is None:
        raise NotConfigured(f"测评 {assessment_id} 没有年级段 {band} 的测评方案")
    return parse_blueprint(row.spec)


_SPEC_SECONDS = 60.0
_SPECS: weakref.WeakKeyDictionary[Engine, dict[tuple[int, str], tuple[float, BlueprintSpec]]] = (
    weakref.WeakKeyDictionary()
)


def spec_for(session: Session, assessment_id: int, band: str) -> BlueprintSpec:
    """An assessment's blueprint for a band, kept for a minute per process and database."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    specs = _SPECS.setdefault(engine, {})
    hit = specs.get((assessment_id, band))
    now = time.monotonic()
    if hit is not None and now - hit[0] < _SPEC_SECONDS:
        return hit[1]
    spec = blueprint_for(session=session, assessment_id=assessment_id, band=band)
    if len(specs) > 256:
        specs.clear()
    specs[(assessment_id, band)] = (now, spec)
    return spec


def forget_blueprints(session: Session) -> None:
    """Drop this process's cached blueprints of the session's database (after their specs changed)."""
    bind = session.get_bind()
    _SPECS.pop(bind.engine if isinstance(bind, Connection) else bind, None)
